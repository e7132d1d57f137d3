#!/usr/bin/env bash
# Fine-tuning benchmark: trawl vs sentence-transformers, same data, same run (see bench/train.py).
# Usage: bench/train.sh [--steps N] [--batch-size B] [--max-seq-len L]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/bench/setup.sh" train
cargo build --release -q -p trawl-train --example train_bench --manifest-path "$root/Cargo.toml"
exec "$root/bench/.venv/bin/python" "$root/bench/train.py" "$@"
