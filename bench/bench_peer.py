"""The Python peer of `trawl bench`: the same experiment scripted with Pyserini 0.22 (BM25
k1=0.9 b=0.4, Lucene's English analyzer; the index built by the pyserini.index.lucene command,
JVM start included) or with --bm25 bm25s (Lucene variant, Lucene's stopwords, Snowball
stemming), optionally
sentence-transformers + FAISS IndexFlatIP (dense), pytrec_eval (metrics) and scipy (paired
t-test against the first system), writing run files, per-query metrics, latency percentiles and a
Markdown table. Run via bench/bench.sh, which times both sides in the same run.

Protocol as trawl bench's: from the raw BEIR folder to the table, queries answered one at a time
(each query's latency measured), k=1000, every test query with a text.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bm25_common import LUCENE_STOPWORDS, load_beir, write_trec_run  # noqa: E402

K = 1000
MEASURES = {"ndcg_cut_10": "nDCG@10", "recall_100": "Recall@100", "recip_rank": "MRR@10", "map_cut_100": "MAP@100"}


def pyserini_system(corpus, work):
    import subprocess

    from pyserini.search.lucene import LuceneSearcher

    coll, index = work / "collection", work / "index"
    coll.mkdir(parents=True, exist_ok=True)
    with open(coll / "docs.jsonl", "w") as f:
        for d, t, x in corpus:
            f.write(json.dumps({"id": d, "contents": f"{t} {x}"}) + "\n")
    subprocess.run([sys.executable, "-m", "pyserini.index.lucene", "--collection", "JsonCollection",
                    "--input", str(coll), "--index", str(index), "--generator",
                    "DefaultLuceneDocumentGenerator", "--threads", "2"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    searcher = LuceneSearcher(str(index))
    searcher.set_bm25(0.9, 0.4)
    k = min(K, len(corpus))

    def search(text):
        return [(h.docid, h.score) for h in searcher.search(text, k=k)]
    return search


def bm25s_system(corpus):
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    ids = [d for d, _, _ in corpus]
    tokens = bm25s.tokenize([f"{t} {x}" for _, t, x in corpus], stopwords=LUCENE_STOPWORDS,
                            stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25(method="lucene", k1=0.9, b=0.4)
    retriever.index(tokens, show_progress=False)
    k = min(K, len(ids))

    def search(text):
        qt = bm25s.tokenize([text], stopwords=LUCENE_STOPWORDS, stemmer=stemmer, show_progress=False)
        docs, scores = retriever.retrieve(qt, k=k, show_progress=False, n_threads=1)
        return [(ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0])]
    return search


def dense_system(corpus, model_dir):
    import faiss
    import numpy as np
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu")
    ids = [d for d, _, _ in corpus]
    emb = model.encode([f"{t} {x}".strip() for _, t, x in corpus], batch_size=32,
                       normalize_embeddings=True, convert_to_numpy=True)
    index = faiss.IndexFlatIP(emb.shape[1])
    index.add(emb.astype(np.float32))
    k = min(K, len(ids))

    def search(text):
        q = model.encode([text], normalize_embeddings=True, convert_to_numpy=True)
        scores, docs = index.search(q.astype(np.float32), k)
        return [(ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if d >= 0]
    return search


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", required=True)
    ap.add_argument("--dense-model")
    ap.add_argument("--bm25", choices=["pyserini", "bm25s"], default="pyserini")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    import pytrec_eval
    from scipy import stats

    out = Path(a.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    table = {}
    for d in a.datasets.split(","):
        d = Path(d)
        corpus, queries, qrels = load_beir(d)
        qrels = {q: j for q, j in qrels.items() if q in dict(queries)}
        if a.bm25 == "pyserini":
            systems = [("bm25", lambda: pyserini_system(corpus, out / "pyserini" / d.name))]
        else:
            systems = [("bm25", lambda: bm25s_system(corpus))]
        if a.dense_model:
            systems.append(("dense", lambda: dense_system(corpus, a.dense_model)))
        evaluator = pytrec_eval.RelevanceEvaluator(qrels, set(MEASURES))
        per_query = {}
        for name, make in systems:
            t0 = time.perf_counter()
            search = make()
            index_s = time.perf_counter() - t0
            for _, text in queries[:4]:
                search(text)  # warm-up, as trawl bench
            run, lat = {}, []
            for qid, text in queries:
                t0 = time.perf_counter()
                hits = search(text)
                lat.append((time.perf_counter() - t0) * 1e3)
                run[qid] = dict(hits)
            write_trec_run(out / "runs" / f"{d.name}-{name}.trec", {q: list(h.items()) for q, h in run.items()}, name)
            res = evaluator.evaluate(run)
            per_query[name] = res
            means = {MEASURES[m]: statistics.fmean(v[m] for v in res.values()) for m in MEASURES}
            qs = statistics.quantiles(lat, n=100, method="inclusive")
            table[(d.name, name)] = means["nDCG@10"]
            print(json.dumps({"dataset": d.name, "system": name, **means, "index_s": round(index_s, 3),
                              "p50_ms": round(qs[49], 3), "p95_ms": round(qs[94], 3), "p99_ms": round(qs[98], 3)}))
        if len(systems) > 1:
            qids = sorted(per_query["bm25"])
            base = [per_query["bm25"][q]["ndcg_cut_10"] for q in qids]
            for name, _ in systems[1:]:
                other = [per_query[name].get(q, {}).get("ndcg_cut_10", 0.0) for q in qids]
                print(json.dumps({"dataset": d.name, "system": name, "p_ttest_vs_bm25": stats.ttest_rel(other, base).pvalue}))
    names = sorted({s for _, s in table})
    dsets = list(dict.fromkeys(d for d, _ in table))
    md = "| system | " + " | ".join(dsets) + " |\n|---|" + "---:|" * len(dsets) + "\n"
    for s in names:
        md += f"| {s} | " + " | ".join(f"{table[(d, s)]:.4f}" for d in dsets) + " |\n"
    (out / "table.md").write_text(md)
    print(md, end="")
    print(f"peer total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
