"""BM25: trawl vs bm25s (numpy, numba) vs Pyserini, in one run. Run via bench/bm25.sh.

Each system runs in its own child process so that its peak memory (max RSS, /usr/bin/time -v)
is its own. Index time: from the corpus file to a searchable index (trawl: `trawl kb build`,
reading JSONL included; bm25s: tokenize + index, JSON loading excluded; Pyserini: the
pyserini.index.lucene command, JVM start included, JSON conversion excluded). Search: all test
queries at k=1000 with 2 threads, median of --repeats runs (bm25s numba: after a warm-up call
that compiles; Pyserini: JVM already started). nDCG@10 of every run is computed here by the
same Python code, independent of trawl.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bm25_common import LUCENE_STOPWORDS, load_beir, measured, ndcg10, read_trec_run, shared_data, write_trec_run  # noqa: E402

K = 1000
THREADS = 2


# ---------------------------------------------------------------- workers (child processes)

def worker_bm25s(dataset_dir, backend, repeats, run_out):
    import bm25s
    import Stemmer

    corpus, queries, _ = load_beir(Path(dataset_dir))
    texts = [f"{t} {x}" for _, t, x in corpus]
    ids = [d for d, _, _ in corpus]
    stemmer = Stemmer.Stemmer("english")
    t0 = time.perf_counter()
    tokens = bm25s.tokenize(texts, stopwords=LUCENE_STOPWORDS, stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25(method="lucene", k1=0.9, b=0.4, backend=backend)
    retriever.index(tokens, show_progress=False)
    index_s = time.perf_counter() - t0
    qtexts = [q for _, q in queries]
    k = min(K, len(ids))

    def search():
        qt = bm25s.tokenize(qtexts, stopwords=LUCENE_STOPWORDS, stemmer=stemmer, show_progress=False)
        return retriever.retrieve(qt, k=k, n_threads=THREADS, show_progress=False,
                                  backend_selection=backend)

    if backend == "numba":
        search()  # JIT compilation, not counted
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        docs, scores = search()
        times.append(time.perf_counter() - t0)
    results = {qid: [(ids[int(d)], float(s)) for d, s in zip(docs[i], scores[i])]
               for i, (qid, _) in enumerate(queries)}
    write_trec_run(run_out, results, f"bm25s-{backend}")
    return {"index_s": index_s, "search_s": statistics.median(times), "num_queries": len(queries)}


def worker_pyserini_search(index_dir, dataset_dir, repeats, run_out):
    from pyserini.search.lucene import LuceneSearcher

    _, queries, _ = load_beir(Path(dataset_dir))
    searcher = LuceneSearcher(index_dir)
    searcher.set_bm25(0.9, 0.4)
    qids = [q for q, _ in queries]
    qtexts = [t for _, t in queries]
    searcher.batch_search(qtexts[:8], qids[:8], k=K, threads=THREADS)  # JIT warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        hits = searcher.batch_search(qtexts, qids, k=K, threads=THREADS)
        times.append(time.perf_counter() - t0)
    results = {q: [(h.docid, h.score) for h in hits[q]] for q in qids}
    write_trec_run(run_out, results, "pyserini")
    return {"search_s": statistics.median(times), "num_queries": len(queries)}


# ---------------------------------------------------------------- driver

def run_trawl(trawl, dataset_dir, work, repeats):
    kb = work / "trawl-kb"
    out, build_s, build_mem = measured([trawl, "kb", "build", dataset_dir, "--out", kb, "--force"])
    run_path = work / "trawl.run"
    search, mems = [], [build_mem]
    for _ in range(repeats):
        out, _, mem = measured([trawl, "beir", dataset_dir, "--retriever", "bm25", "--kb-dir", kb,
                                "-k", str(K), "--json", "--run-out", run_path])
        j = json.loads(out)
        if not j["kb_reused"]:
            raise RuntimeError("trawl beir rebuilt the KB instead of reusing it")
        search.append(j["timings"]["search_s"])
        mems.append(mem)
    return {"index_s": build_s, "search_s": statistics.median(search), "peak_mib": max(mems),
            "num_queries": j["num_queries"], "run": run_path}


def run_worker(args, work):
    out, _, mem = measured([sys.executable, __file__, "--worker"] + [str(a) for a in args])
    res = json.loads(out.strip().splitlines()[-1])
    res["peak_mib"] = mem
    return res


def run_pyserini(dataset_dir, work, repeats):
    from bm25_common import load_beir as lb
    corpus, _, _ = lb(Path(dataset_dir))
    coll = work / "pyserini-collection"
    coll.mkdir(exist_ok=True)
    with open(coll / "docs.jsonl", "w") as f:
        for d, t, x in corpus:
            f.write(json.dumps({"id": d, "contents": f"{t} {x}"}) + "\n")
    index = work / "pyserini-index"
    _, index_s, index_mem = measured([sys.executable, "-m", "pyserini.index.lucene", "--collection", "JsonCollection",
                                      "--input", coll, "--index", index, "--generator",
                                      "DefaultLuceneDocumentGenerator", "--threads", str(THREADS)])
    run_path = work / "pyserini.run"
    res = run_worker(["pyserini", index, dataset_dir, repeats, run_path], work)
    res["index_s"] = index_s
    res["peak_mib"] = max(res["peak_mib"], index_mem)
    res["run"] = run_path
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trawl", required=False)
    ap.add_argument("--datasets", default="scifact,nfcorpus")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma list of: bm25s-numpy,bm25s-numba,pyserini")
    ap.add_argument("--worker", nargs="+")
    ap.add_argument("--json-out")
    a = ap.parse_args()
    if a.worker:
        kind = a.worker[0]
        if kind == "bm25s":
            res = worker_bm25s(a.worker[1], a.worker[2], int(a.worker[3]), a.worker[4])
        else:
            res = worker_pyserini_search(a.worker[1], a.worker[2], int(a.worker[3]), a.worker[4])
        print(json.dumps(res))
        return
    skip = set(filter(None, a.skip.split(",")))
    report = {}
    for name in a.datasets.split(","):
        d = shared_data(f"beir/{name}")
        _, _, qrels = load_beir(d)
        with tempfile.TemporaryDirectory(prefix=f"trawl-bench-{name}-") as tmp:
            work = Path(tmp)
            rows = {}
            print(f"[{name}] trawl ...", file=sys.stderr, flush=True)
            rows["trawl"] = run_trawl(a.trawl, d, work, a.repeats)
            for backend in ("numpy", "numba"):
                label = f"bm25s-{backend}"
                if label in skip:
                    continue
                print(f"[{name}] {label} ...", file=sys.stderr, flush=True)
                run_path = work / f"{label}.run"
                rows[label] = run_worker(["bm25s", d, backend, a.repeats, run_path], work)
                rows[label]["run"] = run_path
            if "pyserini" not in skip:
                print(f"[{name}] pyserini ...", file=sys.stderr, flush=True)
                rows["pyserini"] = run_pyserini(d, work, a.repeats)
            for r in rows.values():
                r["qps"] = r["num_queries"] / r["search_s"]
                r["ndcg@10"] = ndcg10(read_trec_run(r.pop("run")), qrels)
        report[name] = rows
        print_table(name, rows)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(report, indent=2))


def print_table(name, rows):
    t = rows["trawl"]
    print(f"\n== {name}: {t['num_queries']} test queries, k={K}, {THREADS} threads ==")
    print(f"{'system':<14} {'index s':>9} {'queries/s':>11} {'peak MiB':>9} {'nDCG@10':>8}   "
          f"{'trawl qps x':>11} {'index x':>8} {'mem ratio':>9}")
    for sys_name, r in rows.items():
        if sys_name == "trawl":
            ratios = ""
        else:
            ratios = (f"{t['qps'] / r['qps']:>10.1f}x {r['index_s'] / t['index_s']:>7.1f}x "
                      f"{t['peak_mib'] / r['peak_mib']:>9.2f}")
        print(f"{sys_name:<14} {r['index_s']:>9.2f} {r['qps']:>11.0f} {r['peak_mib']:>9.0f} "
              f"{r['ndcg@10']:>8.4f}   {ratios}")
    print("(trawl qps x: trawl queries/s / peer's; index x: peer index s / trawl's; "
          "mem ratio: trawl peak / peer peak, < 1 means trawl uses less)")


if __name__ == "__main__":
    main()
