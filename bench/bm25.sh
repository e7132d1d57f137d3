#!/usr/bin/env bash
# BM25 benchmark: trawl vs bm25s (numpy, numba) vs Pyserini 0.22.1 on BEIR scifact and nfcorpus,
# in one run, same machine, same settings (Lucene BM25 k1=0.9 b=0.4, English stopwords, stemming).
# Usage: bench/bm25.sh [--datasets scifact,nfcorpus] [--repeats 3] [--skip pyserini,...]
# Needs ../shared/data/beir/{scifact,nfcorpus} (or TRAWL_SHARED_DATA) and Java 17 for Pyserini.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
"$here/setup.sh" bm25
(cd "$root" && cargo build --release -q -p trawl-cli --no-default-features)
exec "$here/.venv/bin/python" "$here/bm25.py" --trawl "${CARGO_TARGET_DIR:-$root/target}/release/trawl" "$@"
