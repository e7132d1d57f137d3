#!/usr/bin/env python3
"""Writes grad_reference.json: PyTorch's MultipleNegativesRankingLoss gradients for
all-MiniLM-L6-v2 on a fixed batch, dropout off (the reference for tests/reference_gradients.rs).

Usage (repository root, after scripts/get-model.sh and bench/setup.sh train):
    bench/.venv/bin/python crates/trawl-train/tests/data/make_grad_reference.py
"""
import json
import os

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer, losses

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))

QUERIES = ["what causes cancer", "how do vaccines work", "effects of sleep on memory"]
POSITIVES = [
    "Mutations in oncogenes and tumour suppressor genes drive uncontrolled cell growth.",
    "Vaccines train the immune system by exposing it to antigens without causing disease.",
    "Sleep consolidates memories: hippocampal replay during slow-wave sleep strengthens recall.",
]
NEGATIVES = [
    "Tumour imaging with MRI improves staging of solid cancers.",
    "The immune system of insects lacks antibodies.",
    "Caffeine intake delays sleep onset in adolescents.",
]


def main():
    torch.manual_seed(0)
    model = SentenceTransformer(os.path.join(ROOT, "models", "all-MiniLM-L6-v2"), device="cpu")
    model.eval()  # dropout off; gradients still flow
    model.to(torch.float64)
    loss_fn = losses.MultipleNegativesRankingLoss(model)  # scale 20, cosine
    feats = [model.tokenize(t) for t in (QUERIES, POSITIVES, NEGATIVES)]
    loss = loss_fn(feats, labels=None)
    loss.backward()
    bert = model[0].auto_model
    grads = {}
    for name, p in bert.named_parameters():
        if p.grad is None:
            continue
        g = p.grad.detach().flatten()
        grads[name] = {"norm": float(g.norm()), "sum": float(g.sum()), "head": [float(x) for x in g[:8]]}
    out = {
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "dtype": "float64",
        "queries": QUERIES,
        "positives": POSITIVES,
        "negatives": NEGATIVES,
        "scale": 20.0,
        "loss": float(loss),
        "grads": grads,
    }
    with open(os.path.join(HERE, "grad_reference.json"), "w") as f:
        json.dump(out, f)
    print(f"loss {float(loss):.6f}, {len(grads)} tensors with gradients")


if __name__ == "__main__":
    main()
