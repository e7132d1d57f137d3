#!/usr/bin/env python3
"""trawl vs sentence-transformers (encoding) and vs FAISS IndexFlatIP (exact search), one run.

Run through bench/dense.sh (sets up bench/.venv, the model and the release binaries).
Encoding: the same N scifact passages ("title text"), same model, batch size and max length,
both on 2 CPU threads (torch.set_num_threads(2); trawl's rayon pool = 2). Each side runs in its
own process (peak RSS per process); R alternating rounds, medians reported.
Search: all scifact test queries against the full corpus embeddings (and the corpus tiled to
~100k vectors), top-k inner product, trawl FlatIndex vs faiss.IndexFlatIP with 2 threads.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Copies made by bench/dense.sh (the shared target dir may be rebuilt by others mid-run).
TRAWL = os.environ.get("TRAWL_BIN", os.path.join(ROOT, "target", "bench-dense", "trawl"))
FLAT = os.environ.get("TRAWL_FLAT_SEARCH_BIN", os.path.join(ROOT, "target", "bench-dense", "flat_search"))
MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")


def run_child(cmd, env=None):
    """Runs cmd with its own peak RSS measured through wait4."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{err.decode()[-3000:]}")
    return out.decode(), wall, ru.ru_maxrss / 1024.0


def st_encode_child(args):
    """Child mode: encode with sentence-transformers, save .npy, print JSON timing."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    texts = [json.loads(l)["text"] for l in open(args.input, encoding="utf-8")]
    model = SentenceTransformer(args.model, device="cpu")
    model.max_seq_length = args.max_seq_len
    model.encode(texts[: args.batch_size], batch_size=args.batch_size)  # warm-up
    t = time.perf_counter()
    emb = model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True)
    secs = time.perf_counter() - t
    np.save(args.out, emb.astype(np.float32))
    print(json.dumps({"encode_seconds": secs, "n": len(texts)}))


def faiss_child(args):
    import faiss

    faiss.omp_set_num_threads(args.threads)
    corpus = np.load(args.corpus).astype(np.float32)
    corpus = np.ascontiguousarray(np.tile(corpus, (args.tile, 1)))
    queries = np.ascontiguousarray(np.load(args.queries).astype(np.float32))
    index = faiss.IndexFlatIP(corpus.shape[1])
    index.add(corpus)
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        scores, ids = index.search(queries, args.k)
        times.append(time.perf_counter() - t)
    np.save(args.out, ids)
    times.sort()
    print(json.dumps({"median_s": times[len(times) // 2], "min_s": times[0], "docs": corpus.shape[0]}))


def passages_of(scifact):
    docs = [json.loads(l) for l in open(os.path.join(scifact, "corpus.jsonl"), encoding="utf-8")]
    return docs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scifact", default=os.path.join(os.path.dirname(ROOT), "shared", "data", "beir", "scifact"))
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--passages", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-seq-len", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="alternating encode rounds")
    ap.add_argument("--search-repeats", type=int, default=20)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--tile", type=int, default=20, help="corpus copies for the large search row")
    ap.add_argument("--skip-encode", action="store_true")
    ap.add_argument("--json", action="store_true")
    # child modes
    ap.add_argument("--child", choices=["st", "faiss"])
    ap.add_argument("--input")
    ap.add_argument("--out")
    ap.add_argument("--corpus")
    ap.add_argument("--queries")
    args = ap.parse_args()
    if args.child == "st":
        return st_encode_child(args)
    if args.child == "faiss":
        return faiss_child(args)

    os.makedirs(os.path.join(ROOT, "bench", "out"), exist_ok=True)
    work = tempfile.mkdtemp(prefix="trawl-dense-")
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    docs = passages_of(args.scifact)
    sample = docs[: args.passages]
    sample_path = os.path.join(work, "sample.jsonl")
    with open(sample_path, "w", encoding="utf-8") as f:
        for d in sample:
            text = (d.get("title", "") + " " + d["text"]).strip()
            f.write(json.dumps({"_id": d["_id"], "text": text}) + "\n")

    results = {"passages": len(sample), "batch_size": args.batch_size, "max_seq_len": args.max_seq_len, "threads": args.threads}
    me = [sys.executable, os.path.abspath(__file__)]
    if not args.skip_encode:
        trawl_pps, st_pps, trawl_mem, st_mem = [], [], [], []
        for r in range(args.repeats):
            out, wall, rss = run_child(
                [TRAWL, "encode", args.model, sample_path, "--out", os.path.join(work, "trawl.npy"), "--batch-size",
                 str(args.batch_size), "--max-seq-len", str(args.max_seq_len), "--json"], env)
            t = json.loads(out.strip().splitlines()[-1])
            trawl_pps.append(len(sample) / t["encode_seconds"])
            trawl_mem.append(rss)
            out, wall, rss = run_child(
                me + ["--child", "st", "--input", sample_path, "--out", os.path.join(work, "st.npy"), "--model", args.model,
                      "--batch-size", str(args.batch_size), "--max-seq-len", str(args.max_seq_len), "--threads", str(args.threads)], env)
            s = json.loads(out.strip().splitlines()[-1])
            st_pps.append(len(sample) / s["encode_seconds"])
            st_mem.append(rss)
            print(f"  round {r + 1}: trawl {trawl_pps[-1]:.1f} passages/s, sentence-transformers {st_pps[-1]:.1f} passages/s",
                  file=sys.stderr)
        a = np.load(os.path.join(work, "trawl.npy"))
        b = np.load(os.path.join(work, "st.npy"))
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        results["encode"] = {
            "trawl_passages_per_s": statistics.median(trawl_pps),
            "st_passages_per_s": statistics.median(st_pps),
            "ratio": statistics.median(trawl_pps) / statistics.median(st_pps),
            "ratios_per_round": [x / y for x, y in zip(trawl_pps, st_pps)],
            "trawl_peak_rss_mib": max(trawl_mem),
            "st_peak_rss_mib": max(st_mem),
            "numpy_loads_trawl_npy": list(a.shape) == [len(sample), b.shape[1]] and a.dtype == np.float32,
            "min_cosine_vs_st": float(cos.min()),
            "mean_cosine_vs_st": float(cos.mean()),
        }

    # Search: the whole corpus and the test queries, embedded once by trawl (cached).
    corpus_npy = os.path.join(ROOT, "bench", "out", "scifact_corpus_minilm.npy")
    queries_npy = os.path.join(ROOT, "bench", "out", "scifact_test_queries_minilm.npy")
    if not os.path.exists(corpus_npy):
        print("  embedding the full scifact corpus with trawl (cached in bench/out) ...", file=sys.stderr)
        run_child([TRAWL, "encode", args.model, args.scifact, "--out", corpus_npy], env)
    if not os.path.exists(queries_npy):
        test_ids = {l.split("\t")[0] for l in open(os.path.join(args.scifact, "qrels", "test.tsv"), encoding="utf-8").read().splitlines()[1:]}
        qpath = os.path.join(work, "queries.jsonl")
        with open(qpath, "w", encoding="utf-8") as f:
            for l in open(os.path.join(args.scifact, "queries.jsonl"), encoding="utf-8"):
                q = json.loads(l)
                if q["_id"] in test_ids:
                    f.write(json.dumps({"_id": q["_id"], "text": q["text"]}) + "\n")
        run_child([TRAWL, "encode", args.model, qpath, "--queries", "--out", queries_npy], env)
    nq = np.load(queries_npy).shape[0]
    results["search"] = []
    for tile in [1, args.tile]:
        hits_path = os.path.join(work, f"trawl_hits_{tile}.tsv")
        out, _, trawl_rss = run_child([FLAT, corpus_npy, queries_npy, str(args.k), str(args.search_repeats), "--tile", str(tile),
                                       "--out", hits_path], env)
        t = json.loads(out.strip().splitlines()[-1])
        faiss_ids = os.path.join(work, f"faiss_{tile}.npy")
        out, _, faiss_rss = run_child(me + ["--child", "faiss", "--corpus", corpus_npy, "--queries", queries_npy, "--k", str(args.k),
                                            "--repeats", str(args.search_repeats), "--tile", str(tile), "--out", faiss_ids,
                                            "--threads", str(args.threads)], env)
        f = json.loads(out.strip().splitlines()[-1])
        ours = [[] for _ in range(nq)]
        for line in open(hits_path):
            qi, doc, _ = line.split("\t")
            ours[int(qi)].append(int(doc))
        theirs = np.load(faiss_ids)
        n_docs = t["docs"] // tile
        same10 = np.mean([set(d % n_docs for d in ours[i][:10]) == set(int(d) % n_docs for d in theirs[i][:10]) for i in range(nq)])
        results["search"].append({
            "docs": t["docs"], "queries": nq, "k": args.k,
            "trawl_queries_per_s": nq / t["median_s"], "faiss_queries_per_s": nq / f["median_s"],
            "ratio": f["median_s"] / t["median_s"],
            "trawl_peak_rss_mib": trawl_rss, "faiss_peak_rss_mib": faiss_rss,
            "top10_same_docs_fraction": float(same10),
        })

    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"dense benchmark (scifact, all-MiniLM-L6-v2, {args.threads} threads, batch {args.batch_size}, max_seq_len {args.max_seq_len})")
    if "encode" in results:
        e = results["encode"]
        print(f"\nencoding {len(sample)} passages, median of {args.repeats} rounds")
        print(f"  {'':24}{'passages/s':>12}{'peak RSS MiB':>14}")
        print(f"  {'trawl':24}{e['trawl_passages_per_s']:>12.1f}{e['trawl_peak_rss_mib']:>14.0f}")
        print(f"  {'sentence-transformers':24}{e['st_passages_per_s']:>12.1f}{e['st_peak_rss_mib']:>14.0f}")
        print(f"  ratio trawl/st: {e['ratio']:.2f}  (per round: {', '.join(f'{r:.2f}' for r in e['ratios_per_round'])})")
        print(f"  cosine vs sentence-transformers: min {e['min_cosine_vs_st']:.6f}, mean {e['mean_cosine_vs_st']:.7f}; "
              f"numpy loads trawl's .npy: {e['numpy_loads_trawl_npy']}")
    for s in results["search"]:
        print(f"\nexact search: {s['queries']} queries x {s['docs']} docs, top-{s['k']}, median of {args.search_repeats}")
        print(f"  {'':24}{'queries/s':>12}{'peak RSS MiB':>14}")
        print(f"  {'trawl FlatIndex':24}{s['trawl_queries_per_s']:>12.0f}{s['trawl_peak_rss_mib']:>14.0f}")
        print(f"  {'faiss IndexFlatIP':24}{s['faiss_queries_per_s']:>12.0f}{s['faiss_peak_rss_mib']:>14.0f}")
        print(f"  ratio trawl/faiss (speed): {s['ratio']:.2f}; same top-10 docs: {100 * s['top10_same_docs_fraction']:.1f}% of queries")


if __name__ == "__main__":
    main()
