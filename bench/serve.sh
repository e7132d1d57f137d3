#!/usr/bin/env bash
# Load test: `trawl serve` vs FastAPI + bm25s / sentence-transformers + FAISS flat (Search-R1's
# retrieval-server stack) on BEIR scifact, reward requests of 256 items x 4 rewrites, 1..64
# concurrent clients, loopback only, bounded (--max-seconds, default 1500).
# Usage: bench/serve.sh [--retrievers bm25,dense] [--clients 1,4,16,64] [--dense-clients 1,4,16]
#                       [--per-client 2] [--max-seconds 1500]
# Needs ../shared/data/beir/scifact and models/all-MiniLM-L6-v2 (scripts/get-model.sh).
# Builds the scifact KB (BM25 + MiniLM vectors) once into target/bench-serve/kb-scifact.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
"$here/setup.sh" serve dense bm25
target="${CARGO_TARGET_DIR:-$root/target}"
model="${TRAWL_BENCH_MODEL:-$root/models/all-MiniLM-L6-v2}"
scifact="$("$here/.venv/bin/python" -c "import sys; sys.path.insert(0, '$here'); from bm25_common import shared_data; print(shared_data('beir/scifact'))")"
(cd "$root" && cargo build --release -q -p trawl-cli --features dense \
   && cargo build --release -q -p trawl-retrieve --features dense --example hybrid_beir --example export_vectors)
kb="$target/bench-serve/kb-scifact"
mkdir -p "$target/bench-serve"
# Builds the KB with vectors if needed and prints hybrid vs single nDCG@10 on the way.
"$target/release/examples/hybrid_beir" "$scifact" "$model" "$kb"
# The peer's FAISS index gets the same document vectors (sentence-transformers-equal, see
# trawl-embed's reference test), so no time goes into encoding the corpus twice.
"$target/release/examples/export_vectors" "$kb" "$target/bench-serve/scifact-$(basename "$model").npy"
exec "$here/.venv/bin/python" "$here/serve_load.py" --trawl "$target/release/trawl" --kb "$kb" --model "$model" "$@"
