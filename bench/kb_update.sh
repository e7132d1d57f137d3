#!/usr/bin/env bash
# Live updates at scale: `trawl kb add` of 1% new documents (a tenth of them replacing) to the
# 1M-document generated KB of bench/bm25_scale.sh, against the full `kb build`, then `kb compact`;
# prints the median add / build ratio (goal: under 5%). Details: bench/kb_update.py.
# Usage: bench/kb_update.sh [--size 1000000] [--fraction 0.01] [--repeats 3] [--corpus DIR] [--work DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
"$here/setup.sh" bm25-scale
(cd "$root" && cargo build --release -q -p trawl-cli --no-default-features)
exec "$here/.venv/bin/python" "$here/kb_update.py" --trawl "${CARGO_TARGET_DIR:-$root/target}/release/trawl" "$@"
