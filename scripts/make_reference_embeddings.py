#!/usr/bin/env python3
"""Writes the sentence-transformers reference embeddings that trawl-embed's model test compares against.

Usage (from the repository root, after scripts/get-model.sh and bench/setup.sh dense):
    bench/.venv/bin/python scripts/make_reference_embeddings.py \
        [--model models/all-MiniLM-L6-v2] [--scifact ../shared/data/beir/scifact] \
        [--out crates/trawl-embed/tests/data/minilm_reference.json]
all-mpnet-base-v2 (scripts/get-model.sh mpnet):
    ... --model models/all-mpnet-base-v2 --out crates/trawl-embed/tests/data/mpnet_reference.json

The sample is fixed: 20 scifact passages (every 250th document, plus the 4 longest so truncation at
max_seq_length is exercised), 10 queries (every 100th), and a few edge cases (empty string, odd unicode).
Passages are "title text" joined with a space and stripped, as BEIR's SentenceBERT wrapper does.
"""
import argparse
import json
import os

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

EDGE_CASES = [
    "",
    "   ",
    "Ünïcödé façade — naïve café; 東京 の 研究; emoji 🧬🔬; zero\u200bwidth; rtl עברית",
    "A" * 3000,
]


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(root, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--scifact", default=os.path.join(os.path.dirname(root), "shared", "data", "beir", "scifact"))
    ap.add_argument("--out", default=os.path.join(root, "crates", "trawl-embed", "tests", "data", "minilm_reference.json"))
    args = ap.parse_args()

    docs = [json.loads(l) for l in open(os.path.join(args.scifact, "corpus.jsonl"), encoding="utf-8")]
    passages = [(d.get("title", "") + " " + d["text"]).strip() for d in docs]
    picked = list(range(0, len(passages), 250))[:16]
    longest = sorted(range(len(passages)), key=lambda i: -len(passages[i]))[:4]
    passages = [passages[i] for i in picked + longest]
    queries = [json.loads(l)["text"] for l in open(os.path.join(args.scifact, "queries.jsonl"), encoding="utf-8")]
    queries = queries[::100][:10]

    torch.manual_seed(0)
    model = SentenceTransformer(args.model, device="cpu")
    items = [("passage", t) for t in passages] + [("query", t) for t in queries] + [("edge", t) for t in EDGE_CASES]
    vecs = model.encode([t for _, t in items], batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    out = {
        "model": "sentence-transformers/" + os.path.basename(os.path.normpath(args.model)),
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "max_seq_length": model.max_seq_length,
        "items": [
            {"kind": k, "text": t, "embedding": [float(f"{x:.7g}") for x in v]}
            for (k, t), v in zip(items, vecs)
        ],
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    print(f"wrote {len(items)} reference embeddings ({vecs.shape[1]}-d) to {args.out}")


if __name__ == "__main__":
    main()
