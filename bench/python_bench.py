"""Benchmark: the trawl Python package against the Python tools it replaces, side by side in one
run (run with bench/python.sh).

  eval     trawl.RelevanceEvaluator vs pytrec_eval.RelevanceEvaluator, dict in / dict out, on a
           seeded synthetic run of 10,000 queries x 1,000 docs (as bench/eval.py's) with
           {ndcg_cut.10, recall.100, recip_rank, map}; the outputs are checked equal. Runs
           interleaved (trawl, pytrec_eval, trawl, ...; at least 7 pairs): medians and the spread
           of the per-pair ratios.
  search   trawl KB.search_batch (BM25, k=100) vs bm25s.retrieve (method="lucene", k1=0.9, b=0.4,
           Lucene stopwords, Snowball stemmer, fastest backend installed) on scifact's test queries;
           query tokenisation counted on both sides.
  rewards  256 items x 4 rewrites, union mode, nDCG@10 rewards: trawl Retriever.retrieve_batch +
           DocumentDataset.compute_rewards_batch vs retrieving the 1,024 texts with the Python tools
           + RRF union + nDCG@10 in Python (the code RL reward functions carry today): BM25 against
           bm25s; dense (all-MiniLM-L6-v2, TRAWL_TEST_MODEL) against sentence-transformers + FAISS
           exact search, when bench/setup.sh dense installed them (corpus embeddings not timed).
  import   `import trawl` time (fresh interpreter, median) and the installed extension's size.
Medians of --repeats; the machine is shared and noisy, so the ratios are the point.
"""

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bm25_common import LUCENE_STOPWORDS  # noqa: E402


def shared_data():
    env = os.environ.get("TRAWL_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def median_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def interleaved(fn, peer, repeats):
    """fn and peer timed alternately (fn, peer, fn, ...), so load from other processes falls on
    both alike. Returns both medians, each pair's ratio peer/fn, and both last outputs."""
    times, peer_times, out, peer_out = [], [], None, None
    for _ in range(repeats):
        out = None  # the last output freed before the next run, on both sides
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        peer_out = None
        t0 = time.perf_counter()
        peer_out = peer()
        peer_times.append(time.perf_counter() - t0)
    ratios = sorted(p / t for t, p in zip(times, peer_times))
    return statistics.median(times), statistics.median(peer_times), ratios, out, peer_out


def report(name, trawl_s, peer_name, peer_s, unit=""):
    print(f"{name:<44} trawl {trawl_s:8.3f} s   {peer_name} {peer_s:8.3f} s   ratio {peer_s / trawl_s:6.1f}x{unit}",
          flush=True)


def synthetic(n_queries, n_docs, seed=0):
    rng = np.random.default_rng(seed)
    universe = 2_000_000
    run, qrels = {}, {}
    for q in range(n_queries):
        ids = np.unique(rng.integers(0, universe, n_docs + n_docs // 5))[:n_docs]
        rng.shuffle(ids)
        scores = np.round(np.sort(rng.random(len(ids)) * 20.0)[::-1], 9)
        names = [f"d{d}" for d in ids.tolist()]
        run[f"q{q}"] = dict(zip(names, scores.tolist()))
        judged = rng.choice(len(ids), 10, replace=False)
        grades = rng.integers(0, 4, 10)
        qrels[f"q{q}"] = {names[p]: int(g) for p, g in zip(judged.tolist(), grades.tolist())}
        for e in np.unique(rng.integers(universe, universe + 1_000_000, 10)).tolist():
            qrels[f"q{q}"][f"d{e}"] = 1 + e % 3
    return qrels, run


def bench_eval(args):
    import pytrec_eval
    import trawl

    t0 = time.perf_counter()
    qrels, run = synthetic(args.queries, args.docs)
    print(f"eval: synthetic run {args.queries} x {args.docs} made in {time.perf_counter() - t0:.1f} s", flush=True)
    measures = {"ndcg_cut.10", "recall.100", "recip_rank", "map"}
    repeats = max(args.repeats, 7)
    t_ev, p_ev, ratios, t_res, p_res = interleaved(
        lambda: trawl.RelevanceEvaluator(qrels, measures).evaluate(run),
        lambda: pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run), repeats)
    report(f"RelevanceEvaluator.evaluate {args.queries}x{args.docs}", t_ev, "pytrec_eval", p_ev,
           f"   (outputs equal: {t_res == p_res})")
    print(f"  {repeats} interleaved pairs: median ratio {statistics.median(ratios):.1f}x, "
          f"range {ratios[0]:.1f}-{ratios[-1]:.1f}x", flush=True)
    if t_res != p_res:
        sys.exit("trawl and pytrec_eval disagree")


def load_scifact():
    d = shared_data() / "beir" / "scifact"
    with open(d / "corpus.jsonl") as f:
        corpus = [json.loads(line) for line in f]
    with open(d / "queries.jsonl") as f:
        queries = {q["_id"]: q["text"] for q in map(json.loads, f)}
    qrels = {}
    with open(d / "qrels" / "test.tsv") as f:
        next(f)
        for line in f:
            q, doc, g = line.split("\t")
            qrels.setdefault(q, {})[doc] = int(g)
    return d, corpus, queries, qrels


def bm25s_index(corpus):
    import bm25s
    import Stemmer

    try:
        import numba  # noqa: F401
        backend = "numba"
    except ImportError:
        backend = "numpy"
    stemmer = Stemmer.Stemmer("english")
    tokens = bm25s.tokenize([f"{d.get('title', '')} {d['text']}" for d in corpus], stopwords=LUCENE_STOPWORDS,
                            stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25(method="lucene", k1=0.9, b=0.4, backend=backend)
    retriever.index(tokens, show_progress=False)

    def search(texts, k):
        qt = bm25s.tokenize(texts, stopwords=LUCENE_STOPWORDS, stemmer=stemmer, show_progress=False)
        return retriever.retrieve(qt, k=k, n_threads=2, show_progress=False, backend_selection=backend)

    search(["warm up the jit"], 10)
    return search, backend


def model_dir():
    env = os.environ.get("TRAWL_TEST_MODEL")
    return Path(env) if env else ROOT / "models" / "all-MiniLM-L6-v2"


def bench_search(args):
    import trawl

    d, corpus, queries, qrels = load_scifact()
    kb = trawl.KB.build(d, Path(args.tmp) / "scifact", overwrite=True)
    search, backend = bm25s_index(corpus)
    ids = [doc["_id"] for doc in corpus]
    texts = [queries[q] for q in sorted(qrels)]
    t_s, (scores, ords) = median_time(lambda: kb.search_batch(texts, k=100), args.repeats)
    p_s, (docs, _) = median_time(lambda: search(texts, 100), args.repeats)
    overlap = np.mean([len(set(kb.ids(o)) & {ids[i] for i in p}) / 100 for o, p in zip(ords[:, :100], docs)])
    report(f"search_batch BM25 k=100, {len(texts)} scifact queries", t_s, f"bm25s-{backend}", p_s,
           f"   (top-100 overlap {overlap:.3f}, median of {args.repeats})")


def reward_items(queries, qrels):
    """256 items x 4 rewrites: the query plus three rewrites made by dropping words (seeded)."""
    rng = random.Random(0)
    uids = [rng.choice(sorted(qrels)) for _ in range(256)]
    items = []
    for u in uids:
        words = queries[u].split()
        items.append([queries[u]] + [" ".join(w for w in words if rng.random() > 0.3) or words[0]
                                     for _ in range(3)])
    return uids, items


def python_rewards(uids, qrels, ranked):
    """What RL reward code carries today: RRF union of each item's 4 rankings (k=60), then nDCG@10
    against the item's qrels. `ranked`: the doc ids retrieved per text, items' texts in order."""
    out = []
    for i, u in enumerate(uids):
        fused = {}
        for r in range(4):
            for rank, doc in enumerate(ranked[4 * i + r]):
                fused[doc] = fused.get(doc, 0.0) + 1.0 / (60 + rank + 1)
        ranking = sorted(fused, key=lambda x: (-fused[x], x))[:10]
        judged = qrels[u]
        dcg = sum(judged.get(doc, 0) / math.log2(r + 2) for r, doc in enumerate(ranking))
        ideal = sorted(judged.values(), reverse=True)[:10]
        idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
        out.append(dcg / idcg if idcg > 0 else 0.0)
    return out


def bench_rewards(args):
    """Retriever.retrieve_batch + DocumentDataset.compute_rewards_batch (256 items x 4 rewrites,
    union, nDCG@10) against the same done with the Python tools: bm25s for BM25;
    sentence-transformers + FAISS (exact inner product) for dense, when installed."""
    import trawl

    d, corpus, queries, qrels = load_scifact()
    ids = [doc["_id"] for doc in corpus]
    uids, items = reward_items(queries, qrels)
    flat = [t for item in items for t in item]
    dataset = trawl.DocumentDataset(qrels)

    def trawl_rewards(retriever):
        ranked = retriever.retrieve_batch(items, k=10, mode="union")
        return dataset.compute_rewards_batch(uids, ranked, method="ndcg", k=10)

    kb = trawl.KB.build(d, Path(args.tmp) / "scifact", overwrite=True)
    search, backend = bm25s_index(corpus)

    def bm25s_rewards():
        docs, _ = search(flat, 10)
        return python_rewards(uids, qrels, [[ids[int(x)] for x in row] for row in docs])

    t_r, tr = median_time(lambda: trawl_rewards(trawl.Retriever(kb)), args.repeats)
    p_r, pr = median_time(bm25s_rewards, args.repeats)
    report("retrieve_batch+rewards 256x4 BM25 union", t_r, f"bm25s-{backend}+python", p_r,
           f"   (mean nDCG@10 {np.mean(tr):.4f} vs {np.mean(pr):.4f})")

    try:
        import faiss
        from sentence_transformers import SentenceTransformer
    except ImportError:
        print("dense rewards: skipped (bench/setup.sh dense installs sentence-transformers and faiss-cpu)")
        return
    model = model_dir()
    if not model.is_dir():
        print(f"dense rewards: skipped ({model} is missing; set TRAWL_TEST_MODEL)")
        return
    # Corpus embeddings are made once per side and kept (not timed): the KB's vectors, and the
    # peer's sentence-transformers embeddings in an exact FAISS index.
    kb_path = Path(args.tmp) / "scifact-dense"
    try:
        dense_kb = trawl.KB.open(kb_path)
    except (trawl.Error, FileNotFoundError):
        dense_kb = trawl.KB.build(d, kb_path, dense=str(model), overwrite=True)
    st = SentenceTransformer(str(model), device="cpu")
    cache = Path(args.tmp) / "scifact-st.npy"
    if cache.exists():
        emb = np.load(cache)
    else:
        emb = st.encode([f"{doc.get('title', '')} {doc['text']}".strip() for doc in corpus], batch_size=32,
                        normalize_embeddings=True, convert_to_numpy=True)
        np.save(cache, emb)
    index = faiss.IndexFlatIP(emb.shape[1])
    index.add(np.ascontiguousarray(emb, dtype=np.float32))

    def st_faiss_rewards():
        q = st.encode(flat, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        _, rows = index.search(np.ascontiguousarray(q, dtype=np.float32), 10)
        return python_rewards(uids, qrels, [[ids[int(x)] for x in row] for row in rows])

    dense = trawl.Retriever(dense_kb, retriever="dense")
    t_d, td = median_time(lambda: trawl_rewards(dense), args.repeats)
    p_d, pd = median_time(st_faiss_rewards, args.repeats)
    report("retrieve_batch+rewards 256x4 dense union", t_d, "sentence-transformers+faiss+python", p_d,
           f"   (mean nDCG@10 {np.mean(td):.4f} vs {np.mean(pd):.4f})")


def bench_import(args):
    import trawl

    times = []
    for _ in range(max(args.repeats, 5)):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import trawl"],
                             capture_output=True, text=True, check=True).stderr.strip().splitlines()
        times.append(int(out[-1].split("|")[1]) / 1000)
    ext = next(Path(trawl.__file__).parent.glob("_trawl*.so"))
    print(f"import trawl: {statistics.median(times):.1f} ms (median of {len(times)}; numpy loads on the first array)   "
          f"extension {ext.stat().st_size / 1e6:.1f} MB", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--docs", type=int, default=1_000)
    ap.add_argument("--only", choices=["eval", "search", "rewards", "import"])
    ap.add_argument("--tmp", default=str(ROOT / "bench" / "out" / "python"))
    args = ap.parse_args()
    Path(args.tmp).mkdir(parents=True, exist_ok=True)
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f} (a shared machine: ratios, not seconds)")
    if args.only in (None, "import"):
        bench_import(args)
    if args.only in (None, "search"):
        bench_search(args)
    if args.only in (None, "rewards"):
        bench_rewards(args)
    if args.only in (None, "eval"):
        bench_eval(args)


if __name__ == "__main__":
    main()
