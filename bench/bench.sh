#!/usr/bin/env bash
# `trawl bench` against the same experiment scripted in Python (bench/bench_peer.py: Pyserini
# (PEER_BM25=bm25s: bm25s), optionally sentence-transformers + FAISS, pytrec_eval, scipy), same
# datasets, same run; prints
# both wall times (from the raw BEIR folders to the table, KBs/indexes built from scratch) and
# the ratio. trawl's KB cache is put in a scratch copy of each dataset (symlinked files), so the
# first trawl run is cold; a second, warm run (cached KBs) is printed too.
#   bench/bench.sh [DATASETS (default scifact,nfcorpus)] [DENSE_MODEL]
# PEER_PY: a Python with the peers (default: bench/.venv via bench/setup.sh eval bm25 [dense]).
# TRAWL_BIN: the trawl binary (default: a release build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
data=${TRAWL_SHARED_DATA:-$root/../shared/data}
sets=${1:-scifact,nfcorpus}
model=${2:-}
if [ -z "${PEER_PY:-}" ]; then
  "$here/setup.sh" eval bm25 ${model:+dense}
  PEER_PY="$here/.venv/bin/python"
fi
if [ -z "${TRAWL_BIN:-}" ]; then
  (cd "$root" && cargo build --release -q -p trawl-cli)
  TRAWL_BIN="${CARGO_TARGET_DIR:-$root/target}/release/trawl"
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
dirs=()
for s in ${sets//,/ }; do
  mkdir -p "$work/data/$s"
  for f in corpus.jsonl queries.jsonl qrels; do ln -s "$(realpath "$data/beir/$s/$f")" "$work/data/$s/$f"; done
  dirs+=("$work/data/$s")
done
list=$(IFS=,; echo "${dirs[*]}")
systems=(--system bm25); [ -n "$model" ] && systems+=(--system "dense:$model")
t0=$(date +%s.%N)
"$TRAWL_BIN" bench --datasets "$list" "${systems[@]}" --out "$work/trawl" > "$work/trawl.txt" 2>/dev/null
t1=$(date +%s.%N)
"$TRAWL_BIN" bench --datasets "$list" "${systems[@]}" --out "$work/trawl" > /dev/null 2>&1
t2=$(date +%s.%N)
"$PEER_PY" "$here/bench_peer.py" --datasets "$list" ${model:+--dense-model "$model"} \
  --bm25 "${PEER_BM25:-pyserini}" --out "$work/peer" > "$work/peer.txt"
t3=$(date +%s.%N)
cat "$work/trawl.txt"; cat "$work/peer.txt"
python3 - "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:])
cold, warm, peer = t1 - t0, t2 - t1, t3 - t2
print(f"wall time, raw data to table: trawl bench {cold:.1f} s cold ({warm:.1f} s with cached KBs), "
      f"Python peer {peer:.1f} s; peer / trawl = {peer / cold:.2f}x cold, {peer / warm:.2f}x warm")
PY
