#!/usr/bin/env bash
# Scalar quantisation (sq8) and f16/sq8 HNSW storage: trawl vs faiss-cpu, side by side, one command.
#   bench/sq.sh [scifact|nfcorpus] [--threads 1 2] [more bench/sq.py flags]
# Vectors: the MiniLM embeddings bench/ann_vectors.sh makes (TRAWL_ANN_VECTORS, default target/ann-vectors).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
set_name=${1:-scifact}; shift || true
vec=${TRAWL_ANN_VECTORS:-$root/target/ann-vectors}
"$here/setup.sh" ann
py="$here/.venv/bin/python"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build -q --release -p trawl-vector --example sq_bench)
"$here/ann_vectors.sh" "$vec" >/dev/null
uptime
"$py" "$here/sq.py" "$vec/$set_name-docs.npy" "$vec/$set_name-queries.npy" \
  --trawl-bench "$CARGO_TARGET_DIR/release/examples/sq_bench" "$@"
