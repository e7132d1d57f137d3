#!/usr/bin/env bash
# Conversations/s of `trawl rag-data` over N generated conversations (the seeded example set,
# 5,000 documents, one to three user turns each, a retrieval message before every user turn):
# BM25 top-5, BM25 multi-hop (3 hops x 3), and hybrid top-5 when DENSE_MODEL is set (the KB then
# gets that model's vectors). Median of 3 runs each. trawl side only: no peer tool writes this
# format. Usage: bench/rag_data.sh [N=10000] [TRAWL=target/release/trawl]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
n="${1:-10000}"
target="${CARGO_TARGET_DIR:-$root/target}"
trawl="${2:-$target/release/trawl}"
work="$target/bench-rag-data"
mkdir -p "$work"
[ -x "$trawl" ] || (cd "$root" && cargo build --release -q -p trawl-cli)
model=()
[ -n "${DENSE_MODEL:-}" ] && model=(--model "$DENSE_MODEL")
"$trawl" rag-data --example "$work/ex" --num-docs 5000 --num-conversations "$n" "${model[@]}" >/dev/null
turns=$(grep -o '"role":"user"' "$work/ex/conversations.jsonl" | wc -l)
echo "rag-data: $n conversations ($turns user turns), 5000 documents, $(nproc) cores"
median() { sort -g | sed -n 2p; }
run() {
  local name="$1"; shift
  for _ in 1 2 3; do
    "$trawl" rag-data --kb "$work/ex/kb" --conversations "$work/ex/conversations.jsonl" \
      --out "$work/out.jsonl" "$@" | grep -o '([0-9.]* conversations/s' | tr -d '('
  done | awk '{print $1}' | median | xargs printf "  %-28s %8.0f conversations/s\n" "$name"
}
run "bm25 top-5" --retriever bm25 --top-k 5
run "bm25 multi-hop 3x3" --retriever bm25 --max-hops 3 --top-k-per-hop 3
if [ -n "${DENSE_MODEL:-}" ]; then
  run "hybrid top-5" --retriever hybrid --top-k 5
fi
