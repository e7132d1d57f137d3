#!/usr/bin/env bash
# all-mpnet-base-v2: trawl vs sentence-transformers + FAISS (scifact nDCG@10, must agree within
# 0.003) and encoding speed (same passages, batch and max length), in one run (see bench/mpnet.py).
# Usage: bench/mpnet.sh [--only ndcg|speed|train] [--train-steps N] [--path-steps K] [--docs N] [--max-seq-len L] [--passages 64] [--repeats 3]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
"$here/setup.sh" dense
[ -f "$root/models/all-mpnet-base-v2/model.safetensors" ] || "$root/scripts/get-model.sh" mpnet
# The target dir may be shared: copy the binary so a concurrent build cannot swap it mid-run.
if [ -z "${TRAWL_BIN:-}" ]; then
  (cd "$root" && cargo build --release -q -p trawl-cli && mkdir -p target/bench-mpnet \
    && cp target/release/trawl target/bench-mpnet/)
  export TRAWL_BIN="$root/target/bench-mpnet/trawl"
fi
exec "$here/.venv/bin/python" "$here/mpnet.py" "$@"
