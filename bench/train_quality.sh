#!/usr/bin/env bash
# Fine-tuning quality: trawl vs sentence-transformers, same recipe, same triplets (see bench/train_quality.py).
# Usage: bench/train_quality.sh [--epochs 3] [--max-steps N] [--keep DIR] [--trawl-bin PATH]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/bench/setup.sh" train
exec "$root/bench/.venv/bin/python" "$root/bench/train_quality.py" "$@"
