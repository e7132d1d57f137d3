#!/usr/bin/env python3
"""Scalar quantisation side by side: trawl's sq8 flat index and HNSW over f32 / f16 / sq8
vectors against faiss-cpu's IndexScalarQuantizer(QT_8bit), IndexHNSWSQ(QT_8bit) and
IndexHNSWFlat on the same vectors and queries, ground truth = exact inner product. Prints
recall@10, queries/second (best of 5 batches), memory, and the trawl / FAISS ratios.

  bench/sq.py DOCS.npy QUERIES.npy --trawl-bench BIN [--threads 1 2] [--hnsw-m 16]
"""
import argparse, json, subprocess, time

import numpy as np


def recall(truth, got):
    return float(np.mean([len(set(t) & set(g)) / len(t) for t, g in zip(truth, got)]))


def best_of(fn, reps=5):
    best, out = float("inf"), None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def faiss_runs(docs, queries, truth, threads, m):
    import faiss
    faiss.omp_set_num_threads(threads)
    n, d = docs.shape
    rows = []

    def emit(index, knob, build_s, ix):
        secs, (_, ids) = best_of(lambda: ix.search(queries, 10))
        # Bytes the index holds: its serialised form (vectors/codes, links, ranges).
        rows.append(dict(engine="faiss", index=index, threads=threads, knob=knob,
                         recall=recall(truth, ids), qps=len(queries) / secs, build_s=build_s,
                         memory_bytes=len(faiss.serialize_index(ix))))

    ip = faiss.METRIC_INNER_PRODUCT
    f = faiss.IndexFlatIP(d); f.add(docs)
    emit("flat", "-", 0.0, f)
    t = time.perf_counter()
    sq = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, ip)
    sq.train(docs); sq.add(docs)
    emit("sq8", "-", time.perf_counter() - t, sq)
    for r in [20, 50, 100]:
        ref = faiss.IndexRefineFlat(sq, faiss.swig_ptr(docs))
        ref.k_factor = r / 10
        emit("sq8+refine", f"refine={r}", 0.0, ref)
    for name, make in [("hnsw-f32", lambda: faiss.IndexHNSWFlat(d, m, ip)),
                       ("hnsw-sq8", lambda: faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, m, ip)),
                       ("hnsw-f16", lambda: faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_fp16, m, ip))]:
        t = time.perf_counter()
        h = make(); h.hnsw.efConstruction = 200
        h.train(docs); h.add(docs)
        bs = time.perf_counter() - t
        for ef in [16, 32, 64, 128, 256]:
            h.hnsw.efSearch = ef
            emit(name, f"ef={ef}", bs, h)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("docs"); ap.add_argument("queries")
    ap.add_argument("--trawl-bench", required=True)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--json")
    a = ap.parse_args()
    docs = np.ascontiguousarray(np.load(a.docs).astype(np.float32))
    queries = np.ascontiguousarray(np.load(a.queries).astype(np.float32))
    n, d = docs.shape
    truth = np.argsort(-(queries @ docs.T), axis=1, kind="stable")[:, :10]
    rows = []
    for th in a.threads:
        out = subprocess.run([a.trawl_bench, a.docs, a.queries, str(th), str(a.hnsw_m)],
                             check=True, capture_output=True, text=True)
        rows += [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
        rows += faiss_runs(docs, queries, truth, th, a.hnsw_m)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    print(f"# {n} x {d} docs, {len(queries)} queries, k=10, HNSW M {a.hnsw_m} efC 200")
    print(f"{'engine':6} {'index':11} {'thr':>3} {'knob':10} {'recall':>7} {'qps':>9} {'build_s':>8} {'mem_MB':>8}")
    for r in rows:
        print(f"{r['engine']:6} {r['index']:11} {r['threads']:>3} {r['knob']:10} {r['recall']:7.4f} "
              f"{r['qps']:9.0f} {r['build_s']:8.2f} {r['memory_bytes']/1e6:8.2f}")
    print("\n# trawl / faiss at the same index and knob: recall difference, queries/s ratio, memory ratio")
    for r in [r for r in rows if r["engine"] == "trawl"]:
        f = [x for x in rows if x["engine"] == "faiss" and x["index"] == r["index"]
             and x["threads"] == r["threads"] and x["knob"] == r["knob"]]
        if f:
            f = f[0]
            print(f"{r['index']:11} threads {r['threads']} {r['knob']:10}: recall {r['recall']:.4f} vs {f['recall']:.4f} "
                  f"({r['recall'] - f['recall']:+.4f}), qps {r['qps'] / f['qps']:.2f}x, "
                  f"memory {r['memory_bytes'] / f['memory_bytes']:.3f}x")


if __name__ == "__main__":
    main()
