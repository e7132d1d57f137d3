#!/usr/bin/env bash
# Cross-encoder reranking benchmark: trawl rerank vs sentence-transformers' CrossEncoder.predict on
# the same BM25 top-100 scifact run, in one run: pairs/s, ratio, score agreement, nDCG@10.
# Usage: bench/rerank.sh [--queries 20] [--depth 100] [--repeats 3] [--model DIR]  (see bench/rerank.py -h)
# PEER_PYTHON: a Python with torch + sentence-transformers (default: bench/.venv after setup.sh dense).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
if [ -z "${PEER_PYTHON:-}" ]; then
  "$here/setup.sh" dense
  PEER_PYTHON="$here/.venv/bin/python"
fi
# The target dir is shared: copy the binary so a concurrent build cannot swap it mid-run.
(cd "$root" && cargo build --release -q -p trawl-cli \
  && mkdir -p target/bench-rerank && cp "${CARGO_TARGET_DIR:-target}/release/trawl" target/bench-rerank/)
exec "$PEER_PYTHON" "$here/rerank.py" "$@"
