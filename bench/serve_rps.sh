#!/usr/bin/env bash
# Requests/s of `trawl serve` (BM25, scifact) for single-query /search and one-item /reward,
# N keep-alive clients for D seconds each, cache off (every request retrieves), with the
# server's RSS: the figures of issue 11's load test. trawl side only (no peer).
# Usage: bench/serve_rps.sh [CLIENTS=64] [SECONDS=60] [TRAWL=target/release/trawl]
# DENSE_MODEL=models/all-MiniLM-L6-v2 serves dense retrieval instead (a KB with vectors; TRAWL
# must then be built with the default features: cargo build --release -p trawl-cli).
# Needs TRAWL_SHARED_DATA (or ../shared/data) with beir/scifact. Loopback only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
clients="${1:-64}"
seconds="${2:-60}"
target="${CARGO_TARGET_DIR:-$root/target}"
trawl="${3:-$target/release/trawl}"
data="${TRAWL_SHARED_DATA:-$root/../shared/data}/beir/scifact"
work="$target/bench-serve-rps"
mkdir -p "$work"
[ -x "$trawl" ] || (cd "$root" && cargo build --release -q -p trawl-cli --no-default-features)
rustc -O --edition 2021 "$here/serve_rps.rs" -o "$work/serve_rps"
if [ -n "${DENSE_MODEL:-}" ]; then
  kb="$work/kb-scifact-dense"; retriever=(--default-retriever dense)
  "$trawl" kb info "$kb" >/dev/null 2>&1 || "$trawl" kb build "$data" --out "$kb" --bm25 --dense "$DENSE_MODEL" --force >/dev/null
else
  kb="$work/kb-scifact-bm25"; retriever=()
  "$trawl" kb info "$kb" >/dev/null 2>&1 || "$trawl" kb build "$data" --out "$kb" --force >/dev/null
fi
# One body per line: every scifact test query, as /search and as a one-item /reward.
python3 - "$data" "$work" <<'PY'
import json, sys
data, work = sys.argv[1], sys.argv[2]
queries = {}
for line in open(f"{data}/queries.jsonl"):
    q = json.loads(line); queries[q["_id"]] = q["text"]
uids = []
for line in list(open(f"{data}/qrels/test.tsv"))[1:]:
    u = line.split("\t")[0]
    if u in queries and u not in uids: uids.append(u)
with open(f"{work}/search.jsonl", "w") as f:
    for u in uids: f.write(json.dumps({"query": queries[u], "k": 10}) + "\n")
with open(f"{work}/reward.jsonl", "w") as f:
    for u in uids: f.write(json.dumps({"items": [{"uid": u, "queries": [queries[u]]}], "metric": "ndcg@10"}) + "\n")
PY
# An older trawl without --cache-mib: TRAWL_CACHE_OFF="--cache-size 0".
"$trawl" serve "$kb" --labels "$data/qrels/test.tsv" --addr 127.0.0.1:0 ${TRAWL_CACHE_OFF:---cache-mib 0} "${retriever[@]}" \
  > "$work/serve.out" 2> "$work/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
addr="$(sed -n 's|listening on http://||p' "$work/serve.out")"
rss() { awk -v k="$1:" '$1 == k {print int($2 / 1024)}' "/proc/$pid/status"; }
echo "| endpoint | clients | s | req/s | p50 ms | p99 ms | non-200 | io errors | RSS after MiB | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for ep in search reward; do
  out="$("$work/serve_rps" "$addr" "/$ep" "$work/$ep.jsonl" "$clients" "$seconds")"
  python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(f\"| /$ep | {r['clients']} | {r['seconds']} | {r['req_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['non_200']} | {r['io_errors']} | $(rss VmRSS) | $(rss VmHWM) |\")" "$out"
done
kill -TERM $pid; wait $pid || true
