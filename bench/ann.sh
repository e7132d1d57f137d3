#!/usr/bin/env bash
# Approximate vector search: trawl vs faiss-cpu and hnswlib, side by side, one command.
#   bench/ann.sh [scifact|nfcorpus|synth] [--threads 1 2] [more bench/ann.py flags]
# Real data: the MiniLM embeddings of BEIR scifact / nfcorpus (bench/ann_vectors.sh makes them
# once). synth: bench/ann_synth.py mixes real vectors into SYNTH_N (default 1,000,000) x 384
# vectors with held-out queries (set SYNTH_N smaller on a shared machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
set_name=${1:-scifact}; shift || true
vec=${TRAWL_ANN_VECTORS:-$root/target/ann-vectors}
"$here/setup.sh" ann
py="$here/.venv/bin/python"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
profile=${TRAWL_BENCH_PROFILE:-release}
(cd "$root" && cargo build -q --profile "$profile" -p trawl-vector --example ann_bench)
dir=$profile; [ "$profile" = dev ] && dir=debug
bin="$CARGO_TARGET_DIR/$dir/examples/ann_bench"
"$here/ann_vectors.sh" "$vec" >/dev/null
case "$set_name" in
  scifact|nfcorpus) docs="$vec/$set_name-docs.npy"; queries="$vec/$set_name-queries.npy" ;;
  synth)
    n=${SYNTH_N:-1000000}
    docs="$vec/synth-$n-docs.npy"; queries="$vec/synth-$n-queries.npy"
    [ -s "$docs" ] || "$py" "$here/ann_synth.py" --n "$n" --out "$vec/synth-$n" \
      "$vec/scifact-docs.npy" "$vec/nfcorpus-docs.npy" ;;
  *) echo "unknown set $set_name (scifact, nfcorpus, synth)" >&2; exit 2 ;;
esac
"$py" "$here/ann.py" "$docs" "$queries" --trawl-bench "$bin" "$@"
