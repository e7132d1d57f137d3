#!/usr/bin/env bash
# ANN at scale, one command: build time, peak memory, disk, queries/s and recall@10 of HNSW and
# IVF-PQ indexes added to a KB by `trawl kb index`, at 100k and 1M documents, with the
# capacity planner's prediction (`trawl kb plan`) beside each measured value and its projection
# to 8.8M documents (MS MARCO passages).
#   bench/ann_scale.sh [SIZES...]        (default: 100000 1000000)
# Vectors: bench/ann_synth.py's 1M x 384 set mixed from the real MiniLM embeddings of scifact
# and nfcorpus (bench/ann_vectors.sh), with held-out queries. Env: TRAWL_BIN (a built trawl;
# default: cargo build --profile $TRAWL_BENCH_PROFILE, release), ANN_SCALE_WORK (scratch,
# default target/ann-scale; needs ~6 GB at 1M), ANN_SCALE_INDEXES (default "hnsw:16 ivfpq:1024,48"),
# ANN_SCALE_EF / ANN_SCALE_NPROBE (search knobs, default 64 / 16). Also times the 1,024-query reward
# batch (an RL step: 256 prompts x 4 rewrites) and the MiniLM encoding of 1,024 query texts.
# ANN_SCALE_ARGS: more bench/ann_scale.py flags, e.g. "--keep" then "--keep --reuse" to search again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
sizes=${*:-100000 1000000}
vec=${TRAWL_ANN_VECTORS:-$root/target/ann-vectors}
work=${ANN_SCALE_WORK:-$root/target/ann-scale}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
if [ -z "${TRAWL_BIN:-}" ]; then
  profile=${TRAWL_BENCH_PROFILE:-release}
  (cd "$root" && cargo build -q --profile "$profile" -p trawl-cli)
  dir=$profile; [ "$profile" = dev ] && dir=debug
  TRAWL_BIN="$CARGO_TARGET_DIR/$dir/trawl"
fi
py=${ANN_SCALE_PYTHON:-}
if [ -z "$py" ]; then "$here/setup.sh" ann; py="$here/.venv/bin/python"; fi
TRAWL_BIN="$TRAWL_BIN" "$here/ann_vectors.sh" "$vec" >/dev/null
max=0; for s in $sizes; do [ "$s" -gt "$max" ] && max=$s; done
synth="$vec/synth-$max"
[ -s "$synth-docs.npy" ] || "$py" "$here/ann_synth.py" --n "$max" --out "$synth" \
  "$vec/scifact-docs.npy" "$vec/nfcorpus-docs.npy"
# shellcheck disable=SC2086
# The reward batch's query texts are encoded beside its search when the model and scifact are here.
enc=()
model="$root/models/all-MiniLM-L6-v2"; texts="$root/../shared/data/beir/scifact/queries.jsonl"
[ -f "$model/config.json" ] && [ -f "$texts" ] && enc=(--encode-model "$model" --query-texts "$texts")
"$py" "$here/ann_scale.py" "$synth-docs.npy" "$synth-queries.npy" --trawl "$TRAWL_BIN" \
  --work "$work" --sizes $sizes --indexes ${ANN_SCALE_INDEXES:-hnsw:16 ivfpq:1024,48} \
  --ef-construction "${ANN_SCALE_EF_CONSTRUCTION:-200}" --ef "${ANN_SCALE_EF:-64}" \
  --nprobe "${ANN_SCALE_NPROBE:-16}" "${enc[@]}" ${ANN_SCALE_ARGS:-}
