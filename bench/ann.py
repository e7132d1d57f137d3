#!/usr/bin/env python3
"""Approximate search: trawl vs faiss-cpu (HNSW, IVF-Flat, IVF-PQ) and hnswlib, same vectors,
same queries, same ground truth (exact inner product), in one run. Prints recall@10 vs
queries/second per knob (by wall-clock, and by on-CPU time: on one thread the latter ignores time
slices lost to other processes), build time, memory, index size, queries/second at recall 0.90,
0.95 and 0.99, and the trawl/peer ratios: medians over --rounds runs of every engine.

  bench/ann.py DOCS.npy QUERIES.npy --trawl-bench BIN [--threads 1 2] [--nlist N] [--pq-m M] [--rounds 3]
"""
import argparse, contextlib, json, os, subprocess, sys, tempfile, time

import numpy as np
import psutil


def recall(truth, got):
    return float(np.mean([len(set(t) & set(g)) / len(t) for t, g in zip(truth, got)]))


def rss():
    return psutil.Process().memory_info().rss


def timed_batch(fn, reps=3):
    """Best of `reps` runs by wall-clock and by on-CPU time of the process (as trawl's side)."""
    best, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(reps):
        c = time.process_time()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best, best_cpu, out


def blas_threads(n):
    """Caps every BLAS/OpenMP pool in this process at n threads while FAISS runs (its coarse
    quantiser calls BLAS), when threadpoolctl is there."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n)


def faiss_runs(docs, queries, truth, threads, nlist, pq_m, hnsw_m):
    import faiss
    faiss.omp_set_num_threads(threads)
    n, d = docs.shape
    rows = []

    def emit(index, knob, build_s, mem, disk, search):
        secs, cpu, ids = timed_batch(search)
        rows.append(dict(engine="faiss", index=index, threads=threads, knob=knob,
                         recall=recall(truth, ids), qps=len(queries) / secs,
                         cpu_qps=len(queries) / cpu, build_s=build_s,
                         memory_bytes=mem, disk_bytes=disk))

    m0 = rss(); t = time.perf_counter()
    h = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
    h.hnsw.efConstruction = 200
    h.add(docs)
    bs = time.perf_counter() - t; mem = rss() - m0
    disk = len(faiss.serialize_index(h))
    for ef in [10, 16, 24, 32, 48, 64, 96, 128, 256]:
        h.hnsw.efSearch = ef
        emit("hnsw", f"ef={ef}", bs, mem, disk, lambda: h.search(queries, 10)[1])
    for name in ["ivf", "ivfpq"]:
        m0 = rss(); t = time.perf_counter()
        q = faiss.IndexFlatL2(d)
        if name == "ivf":
            ix = faiss.IndexIVFFlat(q, d, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            ix = faiss.IndexIVFPQ(q, d, nlist, pq_m, 8, faiss.METRIC_INNER_PRODUCT)
        ix.cp.seed = 0
        ix.train(docs); ix.add(docs)
        bs = time.perf_counter() - t; mem = rss() - m0
        disk = len(faiss.serialize_index(ix))
        for p in [1, 2, 4, 8, 16, 32, 64]:
            if p > nlist:
                continue
            ix.nprobe = p
            emit(name, f"nprobe={p}", bs, mem, disk, lambda: ix.search(queries, 10)[1])
    return rows


def hnswlib_runs(docs, queries, truth, threads, hnsw_m):
    import hnswlib
    n, d = docs.shape
    rows = []
    m0 = rss(); t = time.perf_counter()
    p = hnswlib.Index(space="ip", dim=d)
    p.init_index(max_elements=n, ef_construction=200, M=hnsw_m, random_seed=0)
    p.set_num_threads(threads)
    p.add_items(docs, np.arange(n))
    bs = time.perf_counter() - t; mem = rss() - m0
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "h.bin"); p.save_index(f); disk = os.path.getsize(f)
    for ef in [10, 16, 24, 32, 48, 64, 96, 128, 256]:
        p.set_ef(max(ef, 10))
        secs, cpu, (ids, _) = timed_batch(lambda: p.knn_query(queries, k=10, num_threads=threads))
        rows.append(dict(engine="hnswlib", index="hnsw", threads=threads, knob=f"ef={ef}",
                         recall=recall(truth, ids), qps=len(queries) / secs,
                         cpu_qps=len(queries) / cpu, build_s=bs,
                         memory_bytes=mem, disk_bytes=disk))
    return rows


def median_rows(raw):
    """One row per (engine, index, threads, knob): the median over rounds of qps, recall (a
    parallel build differs from round to round), build time and memory."""
    groups = {}
    for r in raw:
        groups.setdefault((r["engine"], r["index"], r["threads"], r["knob"]), []).append(r)
    out = []
    for rs in groups.values():
        row = dict(rs[0])
        for f in ["qps", "cpu_qps", "recall", "build_s", "memory_bytes"]:
            row[f] = float(np.median([r[f] for r in rs]))
        row["rounds"] = len(rs)
        out.append(row)
    return out


def qps_at(rows, target, key="qps"):
    ok = [r[key] for r in rows if r["recall"] >= target]
    return max(ok) if ok else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("docs"); ap.add_argument("queries")
    ap.add_argument("--trawl-bench", required=True)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--nlist", type=int); ap.add_argument("--pq-m", type=int)
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3,
                    help="run every engine this many times; report medians (default 3)")
    ap.add_argument("--json", help="write every row here")
    a = ap.parse_args()
    docs = np.ascontiguousarray(np.load(a.docs).astype(np.float32))
    queries = np.ascontiguousarray(np.load(a.queries).astype(np.float32))
    n, d = docs.shape
    nlist = a.nlist or max(1, int(np.sqrt(n)))
    pq_m = a.pq_m or d // 8
    truth = np.argsort(-(queries @ docs.T), axis=1, kind="stable")[:, :10]
    # Every round runs every engine at every thread count, one after the other; each figure is
    # then the median over rounds of its best-of-3 batch time, so a burst of load from other
    # processes during one engine's turn does not decide a ratio.
    raw = []
    for rnd in range(a.rounds):
        for th in a.threads:
            out = subprocess.run([a.trawl_bench, a.docs, a.queries, str(th), str(nlist), str(pq_m), str(a.hnsw_m)],
                                 check=True, capture_output=True, text=True)
            raw += [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
            with blas_threads(th):
                raw += faiss_runs(docs, queries, truth, th, nlist, pq_m, a.hnsw_m)
            raw += hnswlib_runs(docs, queries, truth, th, a.hnsw_m)
    rows = median_rows(raw)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(raw, f, indent=1)
    print(f"# {n} x {d} docs, {len(queries)} queries, k=10, nlist {nlist}, PQ m {pq_m} x 8 bits, HNSW M {a.hnsw_m} efC 200; "
          f"medians of {a.rounds} rounds (each the best of 3 batches)")
    print(f"{'engine':8} {'index':6} {'thr':>3} {'knob':11} {'recall':>7} {'qps':>9} {'cpu_qps':>9} {'build_s':>8} {'mem_MB':>7} {'disk_MB':>7}")
    for r in rows:
        print(f"{r['engine']:8} {r['index']:6} {r['threads']:>3} {r['knob']:11} {r['recall']:7.4f} {r['qps']:9.0f} {r['cpu_qps']:9.0f} "
              f"{r['build_s']:8.2f} {r['memory_bytes']/1e6:7.1f} {r['disk_bytes']/1e6:7.1f}")
    print("\n# queries/second at recall@10 >= target (best knob), and trawl / peer")
    for th in a.threads:
        for index, peers in [("hnsw", ["hnswlib", "faiss"]), ("ivf", ["faiss"]), ("ivfpq", ["faiss"])]:
            sel = lambda e: [r for r in rows if r["engine"] == e and r["index"] == index and r["threads"] == th]
            # On one thread, also by on-CPU time: time slices lost to other processes on a
            # shared machine then count for nobody.
            for key, label in [("qps", ""), ("cpu_qps", " cpu")][: 2 if th == 1 else 1]:
                for target in [0.90, 0.95, 0.99]:
                    t = qps_at(sel("trawl"), target, key)
                    parts = [f"trawl {t:.0f}" if t else "trawl -"]
                    for p in peers:
                        q = qps_at(sel(p), target, key)
                        ratio = f"{t / q:.2f}x" if t and q else "-"
                        parts.append(f"{p} {q:.0f} (ratio {ratio})" if q else f"{p} -")
                    print(f"{index:6} threads {th}{label} recall {target:.2f}: " + ", ".join(parts))
        # Same-knob recall and speed of the IVF indexes (the issue asks for IVF-PQ recall within
        # 0.01 of FAISS's at equal nlist/m/nprobe).
        for index in ["ivf", "ivfpq"]:
            for r in [r for r in rows if r["engine"] == "trawl" and r["index"] == index and r["threads"] == th]:
                f = [x for x in rows if x["engine"] == "faiss" and x["index"] == index and x["threads"] == th and x["knob"] == r["knob"]]
                if f:
                    print(f"{index:6} threads {th} {r['knob']:10}: recall trawl {r['recall']:.4f} faiss {f[0]['recall']:.4f} "
                          f"(diff {r['recall'] - f[0]['recall']:+.4f}), qps ratio {r['qps'] / f[0]['qps']:.2f}x"
                          + (f", cpu {r['cpu_qps'] / f[0]['cpu_qps']:.2f}x" if th == 1 else ""))
    for th in a.threads:
        for e in ["trawl", "hnswlib", "faiss"]:
            b = [r for r in rows if r["engine"] == e and r["index"] == "hnsw" and r["threads"] == th]
            if b:
                print(f"hnsw build threads {th}: {e} {b[0]['build_s']:.2f}s, memory {b[0]['memory_bytes']/1e6:.1f} MB, disk {b[0]['disk_bytes']/1e6:.1f} MB")


if __name__ == "__main__":
    main()
