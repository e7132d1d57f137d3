#!/usr/bin/env bash
# Parquet rewards-file throughput, trawl-parquet vs pyarrow (1M rows by default).
# With a BEIR scifact folder (BEIR=DIR, or $TRAWL_SHARED_DATA/beir/scifact when present) also
# `trawl reward` rows/s on a parquet rollouts file, end to end.
# Usage: bench/parquet_rewards.sh [--rows N] [--repeat R] [--reward-rows N]; VENV (default
# bench/.venv-parquet) gets pyarrow.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${VENV:-$here/.venv-parquet}"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q pyarrow; }
target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --release -q -p trawl-parquet --example rewards_io)
beir="${BEIR:-${TRAWL_SHARED_DATA:-$root/data}/beir/scifact}"
reward=()
if [ -f "$beir/corpus.jsonl" ]; then
  (cd "$root" && cargo build --release -q -p trawl-cli --no-default-features)
  reward=(--trawl "$target/release/trawl" --beir "$beir")
fi
exec "$venv/bin/python" "$here/parquet_rewards.py" --example "$target/release/examples/rewards_io" "${reward[@]}" "$@"
