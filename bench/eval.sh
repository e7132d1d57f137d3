#!/usr/bin/env bash
# trawl eval vs pytrec_eval vs ranx, end to end from files (see bench/eval.py). Usage: bench/eval.sh [--repeats N ...]
set -euo pipefail; cd "$(dirname "$0")/.." && bench/setup.sh eval && cargo build --release -q -p trawl-cli --no-default-features && exec bench/.venv/bin/python bench/eval.py "$@"
