#!/usr/bin/env bash
# BM25 at scale: trawl (pruned and exhaustive) vs bm25s (numba) on a seeded generated corpus shaped
# like MS MARCO passages (Zipfian vocabulary, ~56 tokens each) with 2-10 word queries. Reports build
# time, peak memory, index size, queries/s at k=10 and k=1000 with 1 and 2 threads, and the ratios;
# fails if trawl's pruned and exhaustive runs differ. Details: bench/bm25_scale.py.
# Usage: bench/bm25_scale.sh [--sizes 1000000] [--queries 2000] [--repeats 3] [--skip bm25s] [--work DIR]
#        [--reuse-kb] (search the KB and bm25s index of a previous run: no build figures)
#        [--build-only] (build time, peak memory and index size only) [--memory-budget SIZE]
#   e.g. the 8.8M build: bench/bm25_scale.sh --sizes 8800000 --build-only --skip bm25s --work DIR
# Data is generated under bench/out/scale (git-ignored) and reused on later runs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
"$here/setup.sh" bm25-scale
(cd "$root" && cargo build --release -q -p trawl-cli --no-default-features)
exec "$here/.venv/bin/python" "$here/bm25_scale.py" --trawl "${CARGO_TARGET_DIR:-$root/target}/release/trawl" "$@"
