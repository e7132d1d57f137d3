#!/usr/bin/env bash
# `trawl prep wiki` throughput on a generated dump (plain XML and .bz2), in MB/s of input.
# Usage: bench/wiki_prep.sh [--mb 200] [--repeat 3] [--work DIR]   (standard-library Python only)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
(cd "$root" && cargo build --release -q -p trawl-cli --no-default-features)
exec python3 "$here/wiki_prep.py" --trawl "${CARGO_TARGET_DIR:-$root/target}/release/trawl" "$@"
