#!/usr/bin/env python3
"""Cross-encoder reranking: trawl vs sentence-transformers' CrossEncoder.predict, side by side.

The first --queries scifact test queries (sorted ids) with BM25's top --depth from `trawl beir`;
both rerank the same (query, "title text") pairs with the same model: trawl with `trawl rerank`,
the peer with CrossEncoder.predict (batch 32, PyTorch CPU). Prints pairs/s of each (median of
--repeats alternating rounds, the peer timed around predict only, trawl around its reranking only, both after
loading), the ratio, the largest score difference between the two, and nDCG@10 of the BM25 run
and of each reranked run (scored by `trawl eval`).

The model: --model DIR, else a randomly initialised cross-encoder of ms-marco-MiniLM-L-6-v2's
shape made by scripts/make_tiny_models.py (no cross-encoder is packaged on PyPI; speed does not
depend on the weights, and score equality is checked on it all the same).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def sh(*cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out.stdout


def read_run(path):
    run = {}
    with open(path) as f:
        for line in f:
            q, _, d, _, s, _ = line.split()
            run.setdefault(q, []).append((d, float(s)))
    return run


def ndcg10(trawl, qrels, run):
    out = json.loads(sh(trawl, "eval", "--qrels", qrels, "--run", run, "--metrics", "ndcg@10", "--json"))

    def find(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k.lower() == "ndcg@10" and isinstance(x, (int, float)):
                    return x
                r = find(x)
                if r is not None:
                    return r
        return None

    return find(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "beir", "scifact"))
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--model")
    ap.add_argument("--trawl", default=os.path.join(ROOT, "target", "bench-rerank", "trawl"))
    ap.add_argument("--work", default=os.path.join(ROOT, "target", "bench-rerank"))
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    model = a.model or os.path.join(a.work, "minilm-cross-encoder")
    if not os.path.exists(os.path.join(model, "config.json")):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_tiny_models.py"),
                        "--minilm-cross-encoder", model], check=True)
    qrels = os.path.join(a.data, "qrels", "test.tsv")
    full = os.path.join(a.work, "bm25.trec")
    sh(a.trawl, "beir", a.data, "-k", str(a.depth), "--run-out", full, "--kb-dir", os.path.join(a.work, "kb"))
    bm25 = read_run(full)
    qids = sorted(bm25)[: a.queries]
    sub = os.path.join(a.work, "bm25-sub.trec")
    with open(sub, "w") as f:
        for q in qids:
            for r, (d, s) in enumerate(bm25[q]):
                f.write(f"{q} Q0 {d} {r + 1} {s} bm25\n")

    out_trawl = os.path.join(a.work, "trawl.trec")

    def trawl_round():
        text = sh(a.trawl, "rerank", "--run", sub, "--model", model, "--data", a.data, "--rerank-depth",
                  str(a.depth), "-k", str(a.depth), "--batch-size", str(a.batch_size), "--out", out_trawl)
        m = re.search(r"\((\d+) pairs\) with .* in ([\d.]+) s", text)
        return int(m.group(1)) / float(m.group(2))

    import torch
    from sentence_transformers import CrossEncoder
    queries = {}
    with open(os.path.join(a.data, "queries.jsonl")) as f:
        for line in f:
            o = json.loads(line)
            queries[o["_id"]] = o["text"]
    need = {d for q in qids for d, _ in bm25[q][: a.depth]}
    corpus = {}
    with open(os.path.join(a.data, "corpus.jsonl")) as f:
        for line in f:
            o = json.loads(line)
            if o["_id"] in need:
                corpus[o["_id"]] = (o.get("title", "") + " " + o.get("text", "")).strip()
    keys = [(q, d) for q in qids for d, _ in bm25[q][: a.depth]]
    pairs = [(queries[q], corpus[d]) for q, d in keys]
    ce = CrossEncoder(model, device="cpu")
    ce.predict(pairs[:64], batch_size=a.batch_size)  # warm-up
    # Rounds alternate trawl and the peer, so a change in the shared machine's load falls on both.
    trawl_rates, peer_rates = [], []
    for _ in range(a.repeats):
        trawl_rates.append(trawl_round())
        t = time.perf_counter()
        scores = ce.predict(pairs, batch_size=a.batch_size, convert_to_numpy=True)
        peer_rates.append(len(pairs) / (time.perf_counter() - t))
        print(f"  round: trawl {trawl_rates[-1]:.2f} pairs/s, peer {peer_rates[-1]:.2f} pairs/s, "
              f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    out_peer = os.path.join(a.work, "peer.trec")
    by_q = {}
    for (q, d), s in zip(keys, scores):
        by_q.setdefault(q, []).append((d, float(s)))
    with open(out_peer, "w") as f:
        for q in qids:
            for r, (d, s) in enumerate(sorted(by_q[q], key=lambda x: -x[1])):
                f.write(f"{q} Q0 {d} {r + 1} {s:.9g} ce\n")
    ours = {(q, d): s for q, docs in read_run(out_trawl).items() for d, s in docs}
    diff = max(abs(ours[k] - float(s)) for k, s in zip(keys, scores))

    t, p = statistics.median(trawl_rates), statistics.median(peer_rates)
    print(f"reranking {len(qids)} scifact queries x BM25 top {a.depth} = {len(pairs)} pairs, model {model}")
    print(f"  torch {torch.__version__}, {torch.get_num_threads()} threads; batch {a.batch_size}; median of {a.repeats}"
          f" alternating rounds; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"  trawl rerank              {t:8.1f} pairs/s  (runs: {', '.join(f'{x:.1f}' for x in trawl_rates)})")
    print(f"  CrossEncoder.predict      {p:8.1f} pairs/s  (runs: {', '.join(f'{x:.1f}' for x in peer_rates)})")
    print(f"  ratio trawl / peer        {t / p:8.2f}x")
    print(f"  max |score diff|          {diff:.2e}")
    print(f"  nDCG@10 BM25 {ndcg10(a.trawl, qrels, sub):.4f} -> trawl {ndcg10(a.trawl, qrels, out_trawl):.4f}, "
          f"peer {ndcg10(a.trawl, qrels, out_peer):.4f}")


if __name__ == "__main__":
    main()
