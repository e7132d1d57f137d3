"""The Python peer of `trawl serve` for bench/serve.sh: a FastAPI app with the same POST /reward
contract, built the way Search-R1's retrieval_server.py is (one uvicorn worker, a synchronous
endpoint, FAISS IndexFlatIP over sentence-transformers embeddings for dense; bm25s for BM25,
Lucene k1=0.9 b=0.4 with Lucene's English stopwords and the Snowball English stemmer), and a
trec_eval-style nDCG@k in Python for the reward.

    python serve_peer.py --dataset DIR --retriever bm25|dense [--model DIR] --port N
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bm25_common import LUCENE_STOPWORDS, load_beir  # noqa: E402


class Item(BaseModel):
    uid: str
    queries: list[str]


class RewardRequest(BaseModel):
    items: list[Item]
    k: int = 10
    mode: str = "single"
    metric: str = "ndcg@10"
    retriever: str | None = None


def ndcg_at(doc_ids, judged, k):
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(doc_ids[:k]) if judged.get(d, 0) > 0)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


class Bm25:
    def __init__(self, corpus):
        import bm25s
        import Stemmer

        self.bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        texts = [f"{t} {x}".strip() for _, t, x in corpus]
        tokens = bm25s.tokenize(texts, stopwords=LUCENE_STOPWORDS, stemmer=self.stemmer, show_progress=False)
        self.index = bm25s.BM25(method="lucene", k1=0.9, b=0.4)
        self.index.index(tokens, show_progress=False)

    def search(self, texts, k):
        qt = self.bm25s.tokenize(texts, stopwords=LUCENE_STOPWORDS, stemmer=self.stemmer, show_progress=False)
        docs, scores = self.index.retrieve(qt, k=k, show_progress=False, n_threads=0)
        return docs, scores


class Dense:
    def __init__(self, corpus, model, cache):
        import faiss
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model, device="cpu")
        if cache and os.path.exists(cache):
            emb = np.load(cache)
        else:
            texts = [f"{t} {x}".strip() for _, t, x in corpus]
            emb = self.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
            if cache:
                os.makedirs(os.path.dirname(cache), exist_ok=True)
                np.save(cache, emb)
        self.index = faiss.IndexFlatIP(emb.shape[1])
        self.index.add(emb.astype(np.float32))

    def search(self, texts, k):
        q = self.model.encode(texts, batch_size=512, normalize_embeddings=True, convert_to_numpy=True)
        scores, docs = self.index.search(q.astype(np.float32), k)
        return docs, scores


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--retriever", choices=["bm25", "dense"], required=True)
    ap.add_argument("--model")
    ap.add_argument("--cache", help=".npy of document vectors: loaded when present, else written")
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    from pathlib import Path

    corpus, _, qrels = load_beir(Path(a.dataset))
    ids = [d for d, _, _ in corpus]
    t = time.perf_counter()
    engine = Bm25(corpus) if a.retriever == "bm25" else Dense(corpus, a.model, a.cache)
    print(f"peer {a.retriever} ready in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    app = FastAPI()

    @app.get("/health")
    def health():
        return {"status": "ok", "retrievers": [a.retriever]}

    @app.post("/reward")
    def reward(req: RewardRequest):
        k = int(req.metric.split("@")[1])
        texts = [q for it in req.items for q in it.queries]
        docs, scores = engine.search(texts, req.k)
        out, pos = [], 0
        for it in req.items:
            judged = qrels.get(it.uid)
            if judged is None:
                out.append({"uid": it.uid, "reward": None, "per_query": [], "doc_ids": [], "error": f"unknown uid {it.uid}"})
                pos += len(it.queries)
                continue
            per_query, first = [], None
            for j in range(len(it.queries)):
                ranked = sorted(zip(scores[pos + j].tolist(), (ids[d] for d in docs[pos + j])), key=lambda x: (x[0], x[1]), reverse=True)
                ranking = [d for _, d in ranked]
                first = first or ranking
                per_query.append(ndcg_at(ranking, judged, k))
            pos += len(it.queries)
            out.append({"uid": it.uid, "reward": sum(per_query) / len(per_query), "per_query": per_query, "doc_ids": first, "error": None})
        return {"metric": req.metric, "results": out}

    uvicorn.run(app, host="127.0.0.1", port=a.port, log_level="warning", workers=1)


if __name__ == "__main__":
    main()
