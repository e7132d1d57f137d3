#!/usr/bin/env bash
# BM25 scale benchmark (trawl only): a seeded generated corpus with a Zipfian vocabulary and
# ~60 tokens per document, at 100k and 1M documents. Reports build time, index size on disk,
# peak memory while building and while searching, and queries/second (1000 queries, k=1000).
# Usage: bench/bm25_scale.sh [--sizes 100000,1000000] [--work DIR]
# Data is generated under bench/out/scale (git-ignored) and reused on later runs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
"$here/setup.sh" bm25
(cd "$root" && cargo build --release -q -p trawl-cli --no-default-features)
exec "$here/.venv/bin/python" "$here/bm25_scale.py" --trawl "${CARGO_TARGET_DIR:-$root/target}/release/trawl" "$@"
