#!/usr/bin/env bash
# ANCE-style negatives refresh on scifact: the README's recipe (BM25-mined triplets, batch 32, one
# hard negative, max_seq_len 128) for MAX_STEPS steps without and with `--refresh-negatives-every
# EVERY` (mining from a KB of the scifact corpus, range 10-100, cosine margin 0.05, as the BM25
# triplets were mined), then scifact test nDCG@10 / Recall@100 of both with `trawl beir --retriever
# dense`, and the cost of a refresh (encode + mine, from train_log.jsonl) against the median step.
#   bench/refresh.sh [MAX_STEPS (20)] [EVERY (10)]
# TRAWL_BIN (default: a release build), TRAWL_TEST_MODEL (all-MiniLM-L6-v2), TRAWL_SHARED_DATA,
# WORK (scratch folder; default a new temporary one, kept, printed at the end).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
max_steps=${1:-20}; every=${2:-10}
data=${TRAWL_SHARED_DATA:-$root/../shared/data}
scifact="$data/beir/scifact"
model=${TRAWL_TEST_MODEL:-$root/models/all-MiniLM-L6-v2}
if [ -z "${TRAWL_BIN:-}" ]; then
  (cd "$root" && cargo build --release -q -p trawl-cli)
  TRAWL_BIN="${CARGO_TARGET_DIR:-$root/target}/release/trawl"
fi
T=$TRAWL_BIN
work=${WORK:-$(mktemp -d)}; mkdir -p "$work"
[ -f "$work/train.jsonl" ] || "$T" mine-negatives "$scifact" --split train --retriever bm25 --num 5 \
  --range 10-100 --margin 0.05 --out "$work/train.jsonl" 2> /dev/null
[ -f "$work/kb/manifest.json" ] || "$T" kb build "$scifact" --out "$work/kb" > /dev/null 2>&1
recipe=(--data "$work/train.jsonl" --max-steps "$max_steps" --batch-size 32 --max-negatives 1
        --max-seq-len 128 --json)
for name in plain refresh; do
  [ -f "$work/$name/config.json" ] && continue
  extra=(); [ "$name" = refresh ] && extra=(--refresh-negatives-every "$every" --kb "$work/kb"
    --refresh-range 10-100 --refresh-margin 0.05)
  echo "training $name ($(uptime | sed 's/.*load average/load average/'))" >&2
  "$T" train --model "$model" --out "$work/$name" "${recipe[@]}" "${extra[@]}" > "$work/$name.train.json"
done
for name in base plain refresh; do
  dir="$work/$name"; [ "$name" = base ] && dir=$model
  [ -f "$work/$name.beir.json" ] || "$T" beir "$scifact" --retriever dense --model "$dir" \
    --kb-dir "$work/kb-$name" --json > "$work/$name.beir.json" 2> /dev/null
done
python3 - "$work" "$every" <<'PY'
import json, statistics, sys
work, every = sys.argv[1], sys.argv[2]
def log(name):
    return [json.loads(l) for l in open(f"{work}/{name}.run/train_log.jsonl")]
def beir(name):
    m = json.load(open(f"{work}/{name}.beir.json"))["metrics"]
    return m["ndcg@10"], m["recall@100"]
print(f"{'model':<34} {'nDCG@10':>8} {'R@100':>8}")
for name, label in [("base", "all-MiniLM-L6-v2"), ("plain", "fine-tuned, BM25 negatives"),
                    ("refresh", f"fine-tuned, refresh every {every}")]:
    n, r = beir(name)
    print(f"{label:<34} {n:8.4f} {r:8.4f}")
for name in ["plain", "refresh"]:
    steps = [r["seconds"] for r in log(name) if r["event"] == "step"]
    print(f"{name}: {len(steps)} steps, median {statistics.median(steps):.2f} s/step")
steps = statistics.median(r["seconds"] for r in log("refresh") if r["event"] == "step")
for r in (r for r in log("refresh") if r["event"] == "refresh"):
    print(f"refresh at step {r['step']}: {r['documents']} documents + {r['queries']} queries encoded in "
          f"{r['encode_seconds']:.1f} s, mined in {r['mine_seconds']:.2f} s: "
          f"{r['seconds'] / steps:.1f} training steps")
print(f"work folder: {work}")
PY
