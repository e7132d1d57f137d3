"""Benchmark: `trawl eval` against pytrec_eval and ranx, end to end from files on disk.

Run with `bench/eval.sh` (installs the Python peers, builds trawl in release mode, runs this).

Datasets
  synthetic   seeded run of 10,000 queries x 1,000 docs (10M lines) + graded qrels (~20 per query)
  nfcorpus    BEIR nfcorpus test qrels (323 queries) with a real BM25 top-1000 run made by
              `trawl beir` (falls back to a seeded synthetic 1000-doc run per query if that fails)

Each tool reads the qrels and the run from disk and computes nDCG@10, Recall@100, MRR@10 and MAP:
  trawl        `trawl eval --metrics ndcg@10,recall@100,mrr@10,map --json` (a subprocess, all cores)
  pytrec_eval  parse both files in Python, RelevanceEvaluator({ndcg_cut.10, recall.100,
               recip_rank, map}).evaluate(run) (pytrec_eval has no MRR@10; recip_rank is the
               same work) and the means
  ranx         Qrels.from_file + Run.from_file + evaluate(["ndcg@10","recall@100","mrr@10","map"])
               (numba is warmed up on a small input first, so JIT compilation is not timed)
Times are medians of --repeats runs (default 3) on this noisy shared machine; the ratios are the
point. Both wall-clock and CPU seconds (user + system, all threads; for trawl the child process)
are printed: on a loaded machine the wall ratio swings with the load, the CPU ratio much less. Afterwards the per-query numbers are checked: trawl vs pytrec_eval to 1e-6 (MRR@10 against
pytrec_eval's recip_rank on the run cut to 10 documents) and trawl's means vs ranx's.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TRAWL = ROOT / "target" / "release" / "trawl"
SHARED = ROOT.parent / "shared" / "data"
METRICS = "ndcg@10,recall@100,mrr@10,map"
PYTREC_MEASURES = {"ndcg_cut.10", "recall.100", "recip_rank", "map"}
RANX_METRICS = ["ndcg@10", "recall@100", "mrr@10", "map"]


def write_synthetic(dir_: Path, n_queries: int, n_docs: int, seed: int):
    """A seeded run (random scores, 9 decimals so ties are rare) and qrels that judge ~10
    retrieved and ~10 unretrieved documents per query with grades 0-3."""
    run_path = dir_ / f"synthetic-{n_queries}x{n_docs}-s{seed}.run"
    qrels_path = dir_ / f"synthetic-{n_queries}x{n_docs}-s{seed}.qrels"
    if run_path.exists() and qrels_path.exists():
        return qrels_path, run_path
    rng = np.random.default_rng(seed)
    universe = 2_000_000
    with open(run_path.with_suffix(".tmp"), "w") as run_f, open(qrels_path, "w") as qrels_f:
        for q in range(n_queries):
            qid = f"q{q}"
            ids = np.unique(rng.integers(0, universe, n_docs + n_docs // 5))[:n_docs]
            rng.shuffle(ids)
            scores = np.sort(rng.random(len(ids)) * 20.0)[::-1]
            run_f.write(
                "".join(
                    f"{qid} Q0 d{d} {r + 1} {s:.9f} synth\n"
                    for r, (d, s) in enumerate(zip(ids.tolist(), scores.tolist()))
                )
            )
            judged_pos = rng.choice(len(ids), 10, replace=False)
            grades = rng.integers(0, 4, 10)
            extra = rng.integers(universe, universe + 1_000_000, 10)
            lines = [f"{qid} 0 d{ids[p]} {g}\n" for p, g in zip(judged_pos.tolist(), grades.tolist())]
            lines += [f"{qid} 0 d{e} {1 + (e % 3)}\n" for e in np.unique(extra).tolist()]
            qrels_f.write("".join(lines))
    os.replace(run_path.with_suffix(".tmp"), run_path)
    return qrels_path, run_path


def beir_qrels_to_trec(src: Path, dst: Path):
    """BEIR TSV qrels -> TREC qrels, so all three tools read the same file format."""
    with open(src) as f, open(dst, "w") as out:
        next(f)
        for line in f:
            q, d, g = line.split()
            out.write(f"{q} 0 {d} {g}\n")


def nfcorpus_files(dir_: Path, seed: int):
    data = SHARED / "beir" / "nfcorpus"
    if not data.exists():
        return None
    qrels_path = dir_ / "nfcorpus-test.qrels"
    if not qrels_path.exists():
        beir_qrels_to_trec(data / "qrels" / "test.tsv", qrels_path)
    run_path = dir_ / "nfcorpus-bm25.run"
    if run_path.exists():
        return qrels_path, run_path, "BM25 (trawl beir)"
    cmd = [str(TRAWL), "beir", str(data), "--run-out", str(run_path), "--kb-dir", str(dir_ / "kb-nfcorpus"), "-k", "1000"]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=1800)
        return qrels_path, run_path, "BM25 (trawl beir)"
    except Exception as e:  # noqa: BLE001 - fall back to a synthetic run, say so
        print(f"note: `trawl beir` failed ({e}); using a synthetic nfcorpus run", file=sys.stderr)
    rng = np.random.default_rng(seed)
    judged = {}
    with open(qrels_path) as f:
        for line in f:
            q, _, d, g = line.split()
            judged.setdefault(q, []).append(d)
    synth = dir_ / "nfcorpus-synthetic.run"
    with open(synth, "w") as out:
        for q, docs in judged.items():
            pool = [f"neg{i}" for i in rng.integers(0, 3_000_000, 1100)]
            pool = list(dict.fromkeys(docs[: rng.integers(0, len(docs) + 1)] + pool))[:1000]
            scores = np.sort(rng.random(len(pool)) * 30.0)[::-1]
            rng.shuffle(pool)
            out.write("".join(f"{q} Q0 {d} {r + 1} {s:.9f} synth\n" for r, (d, s) in enumerate(zip(pool, scores.tolist()))))
    return qrels_path, synth, "synthetic 1000/query"


# --- the three tools, each end to end from files ------------------------------------------


def run_trawl(qrels, run, per_query=False):
    cmd = [str(TRAWL), "eval", "--qrels", str(qrels), "--run", str(run), "--metrics", METRICS, "--json"]
    if per_query:
        cmd.append("--per-query")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def read_qrels_py(path):
    qrels = {}
    with open(path) as f:
        for line in f:
            q, _, d, g = line.split()
            qrels.setdefault(q, {})[d] = int(g)
    return qrels


def read_run_py(path, cut=None):
    run = {}
    with open(path) as f:
        for line in f:
            q, _, d, _, s, _ = line.split()
            run.setdefault(q, {})[d] = float(s)
    if cut:
        # trec_eval's order: score descending, ties by docid descending.
        run = {q: dict(sorted(docs.items(), key=lambda x: (x[1], x[0]), reverse=True)[:cut]) for q, docs in run.items()}
    return run


def run_pytrec(qrels_path, run_path):
    import pytrec_eval

    qrels = read_qrels_py(qrels_path)
    run = read_run_py(run_path)
    per_query = pytrec_eval.RelevanceEvaluator(qrels, PYTREC_MEASURES).evaluate(run)
    n = len(per_query)
    means = {m: sum(v[m] for v in per_query.values()) / n for m in ["ndcg_cut_10", "recall_100", "recip_rank", "map"]}
    return means, per_query


def run_ranx(qrels_path, run_path):
    from ranx import Qrels, Run, evaluate

    qrels = Qrels.from_file(str(qrels_path), kind="trec")
    run = Run.from_file(str(run_path), kind="trec")
    # make_comparable: ranx refuses runs whose query set differs from the qrels otherwise.
    return evaluate(qrels, run, RANX_METRICS, make_comparable=True)


def cpu_now():
    """CPU seconds (user + system) of this process and its finished children, all threads."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, repeats):
    """Median wall seconds and median CPU seconds of `repeats` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        c0, t0 = cpu_now(), time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu_now() - c0)
    return statistics.median(walls), statistics.median(cpus), result


def check_agreement(name, qrels_path, run_path, pytrec_per_query, ranx_means):
    """trawl per query vs pytrec_eval (1e-6); trawl means vs ranx. Returns the worst differences."""
    import pytrec_eval

    ours = run_trawl(qrels_path, run_path, per_query=True)
    cut10 = pytrec_eval.RelevanceEvaluator(read_qrels_py(qrels_path), {"recip_rank"}).evaluate(read_run_py(run_path, cut=10))
    pairs = {"nDCG@10": "ndcg_cut_10", "Recall@100": "recall_100", "MAP": "map"}
    worst = 0.0
    missing = set(pytrec_per_query) ^ set(ours["per_query"])
    assert not missing, f"{name}: query sets differ: {sorted(missing)[:5]}"
    for q, vals in ours["per_query"].items():
        for m, pm in pairs.items():
            worst = max(worst, abs(vals[m] - pytrec_per_query[q][pm]))
        worst = max(worst, abs(vals["MRR@10"] - cut10[q]["recip_rank"]))
    ranx_worst = max(abs(ours["metrics"][m] - ranx_means[r]) for m, r in zip(["nDCG@10", "Recall@100", "MRR@10", "MAP"], RANX_METRICS))
    ok = worst <= 1e-6
    print(f"  agreement: max |trawl - pytrec_eval| per query = {worst:.2e} ({'OK' if ok else 'MISMATCH'}, tolerance 1e-6); "
          f"max |trawl - ranx| of means = {ranx_worst:.2e} (informational: ranx scores qrels queries missing from the run as 0)")
    return ok


def bench(name, qrels_path, run_path, repeats):
    lines = sum(1 for _ in open(run_path))
    print(f"\n== {name}: {lines:,} run lines, {os.path.getsize(run_path) / 1e6:.0f} MB ==")
    t_trawl, c_trawl, ours = timed(lambda: run_trawl(qrels_path, run_path), repeats)
    print(f"  trawl        {t_trawl:8.3f} s wall {c_trawl:8.3f} s cpu   {ours['metrics']}")
    t_ranx, c_ranx, ranx_means = timed(lambda: run_ranx(qrels_path, run_path), repeats)
    print(f"  ranx         {t_ranx:8.3f} s wall {c_ranx:8.3f} s cpu   {ranx_means}")
    t_py, c_py, (py_means, py_per_query) = timed(lambda: run_pytrec(qrels_path, run_path), repeats)
    print(f"  pytrec_eval  {t_py:8.3f} s wall {c_py:8.3f} s cpu   {py_means}")
    ok = check_agreement(name, qrels_path, run_path, py_per_query, ranx_means)
    print(f"  ratio (wall): trawl is {t_py / t_trawl:.1f}x faster than pytrec_eval, {t_ranx / t_trawl:.1f}x faster than ranx")
    return name, (t_trawl, t_py, t_ranx), (c_trawl, c_py, c_ranx), ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--docs", type=int, default=1_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--workdir", default=os.environ.get("TRAWL_BENCH_DIR", "/tmp/trawl-bench-eval"))
    args = ap.parse_args()
    if not TRAWL.exists():
        sys.exit(f"{TRAWL} not found: build it with `cargo build --release -p trawl-cli --no-default-features`")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; files in {work}; median of {args.repeats}")

    t0 = time.perf_counter()
    syn = write_synthetic(work, args.queries, args.docs, args.seed)
    print(f"synthetic data ready in {time.perf_counter() - t0:.1f} s")
    nf = nfcorpus_files(work, args.seed)

    # Warm ranx's numba JIT cache on a small input so compilation is not in the timings.
    small_q, small_r = write_synthetic(work, 50, 100, args.seed)
    run_ranx(small_q, small_r)

    results = []
    if nf:
        results.append(bench(f"nfcorpus test, {nf[2]}", nf[0], nf[1], args.repeats))
    results.append(bench(f"synthetic {args.queries}x{args.docs}", syn[0], syn[1], args.repeats))

    print(f"\nsummary (medians, end to end from files; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"{'dataset':<34} {'':>5} {'trawl':>8} {'pytrec_eval':>12} {'ranx':>8} {'vs pytrec':>10} {'vs ranx':>8}  agree")
    for name, walls, cpus, ok in results:
        for label, (tt, tp, tr) in (("wall", walls), ("cpu", cpus)):
            print(f"{name:<34} {label:>5} {tt:8.3f} {tp:12.3f} {tr:8.3f} {tp / tt:9.1f}x {tr / tt:7.1f}x  {'yes' if ok else 'NO'}")
    if not all(r[3] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
