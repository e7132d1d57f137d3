#!/usr/bin/env bash
# Parquet rewards-file throughput, trawl-parquet vs pyarrow (1M rows by default).
# Usage: bench/parquet_rewards.sh [--rows N] [--repeat R]; VENV (default /work/venv-prep or
# bench/.venv-parquet) gets pyarrow.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${VENV:-$here/.venv-parquet}"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q pyarrow; }
(cd "$root" && cargo build --release -q -p trawl-parquet --example rewards_io)
exec "$venv/bin/python" "$here/parquet_rewards.py" --example "${CARGO_TARGET_DIR:-$root/target}/release/examples/rewards_io" "$@"
