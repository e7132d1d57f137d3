#!/usr/bin/env bash
# Encodes BEIR scifact and nfcorpus (corpus and queries) with all-MiniLM-L6-v2 once, into .npy
# files that the ANN tests (crates/trawl-vector/tests) and bench/ann.sh read.
#   bench/ann_vectors.sh [OUT_DIR]   (default: $TRAWL_ANN_VECTORS or target/ann-vectors, where the tests look)
#   ANN_DATASETS="scifact" encodes only those (default: scifact nfcorpus; the tests need scifact).
# Needs: a built trawl (TRAWL_BIN, default target/release/trawl or $CARGO_TARGET_DIR), the model
# (TRAWL_TEST_MODEL, default models/all-MiniLM-L6-v2) and the BEIR data (TRAWL_SHARED_DATA,
# default ../shared/data). About 5 minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out=${1:-${TRAWL_ANN_VECTORS:-$root/target/ann-vectors}}
data=${TRAWL_SHARED_DATA:-$root/../shared/data}
model=${TRAWL_TEST_MODEL:-$root/models/all-MiniLM-L6-v2}
target=${CARGO_TARGET_DIR:-$root/target}
bin=${TRAWL_BIN:-$target/release/trawl}
[ -x "$bin" ] || bin=$target/debug/trawl
mkdir -p "$out"
for ds in ${ANN_DATASETS:-scifact nfcorpus}; do
  [ -s "$out/$ds-docs.npy" ] || "$bin" encode "$model" "$data/beir/$ds" --out "$out/$ds-docs.npy"
  [ -s "$out/$ds-queries.npy" ] || "$bin" encode "$model" "$data/beir/$ds" --queries --out "$out/$ds-queries.npy"
done
ls -l "$out"
