#!/usr/bin/env bash
# The README's training recipe on scifact without and with the isotropy regulariser, then for the
# base and both fine-tuned models: embedding statistics of the scifact corpus (a seeded sample of
# 2,000 documents; alignment over the test qrels' pairs) and scifact test nDCG@10 / Recall@100
# (`trawl beir --retriever dense`), side by side. No validation hold-out: both runs train on all
# mined triplets and keep the last checkpoint.
#   bench/isotropy.sh [WEIGHT (0.1)] [KIND (covariance)] [EPOCHS (3)] [MAX_STEPS (all)]
# TRAWL_BIN (default: a release build), TRAWL_TEST_MODEL (all-MiniLM-L6-v2), TRAWL_SHARED_DATA,
# WORK (scratch folder; default a new temporary one, kept, printed at the end).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
weight=${1:-0.1}; kind=${2:-covariance}; epochs=${3:-3}; max_steps=${4:-}
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
recipe=(--data "$work/train.jsonl" --epochs "$epochs" --batch-size 32 --max-negatives 1
        --max-seq-len 128 --json ${max_steps:+--max-steps "$max_steps"})
for name in tuned isotropic; do
  [ -f "$work/$name/config.json" ] && continue
  extra=(); [ "$name" = isotropic ] && extra=(--isotropy-weight "$weight" --isotropy-kind "$kind")
  "$T" train --model "$model" --out "$work/$name" "${recipe[@]}" "${extra[@]}" > "$work/$name.train.json"
done
for name in base tuned isotropic; do
  dir="$work/$name"; [ "$name" = base ] && dir=$model
  "$T" embeddings stats "$dir" --corpus "$scifact" --sample 2000 --label "$name" \
    --out "$work/$name.stats.json" > /dev/null 2>&1
  "$T" beir "$scifact" --retriever dense --model "$dir" --kb-dir "$work/kb-$name" --json \
    > "$work/$name.beir.json" 2> /dev/null
done
python3 - "$work" "$weight" "$kind" <<'PY'
import json, sys
work, weight, kind = sys.argv[1:]
print(f"| model | scifact nDCG@10 | Recall@100 | mean cosine | effective rank | IsoScore | uniformity | alignment |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for name, label in [("base", "all-MiniLM-L6-v2"), ("tuned", "fine-tuned"),
                    ("isotropic", f"fine-tuned + isotropy ({kind}, weight {weight})")]:
    s = json.load(open(f"{work}/{name}.stats.json"))["stats"]
    m = json.load(open(f"{work}/{name}.beir.json"))["metrics"]
    print(f"| {label} | {m['ndcg@10']:.4f} | {m['recall@100']:.4f} | {s['mean_pairwise_cosine']:.4f} | "
          f"{s['effective_rank']:.1f} | {s['isoscore']:.4f} | {s['uniformity']:.4f} | {s['alignment']:.4f} |")
for name in ["tuned", "isotropic"]:
    t = json.load(open(f"{work}/{name}.train.json"))
    print(f"{name}: {t['steps']} steps in {t['seconds']:.0f} s, last loss {t['last_loss']:.4f}")
print(f"(files in {work})")
PY
