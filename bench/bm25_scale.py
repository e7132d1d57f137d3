"""BM25 at scale: trawl (pruned and exhaustive) vs bm25s (numba) in one run. Run via
bench/bm25_scale.sh.

The corpus is generated (numpy, seed 13), shaped like MS MARCO passages: a vocabulary of 300k
synthetic words with Zipfian frequencies (s = 1.1), document lengths Poisson(56) (at least 5).
Queries (2000 by default) have 2-10 words drawn with the corpus's own term frequencies, leaving
out its 20 most frequent words, which stand for the stopwords that both systems remove. A random
qrels file lets `trawl beir` run the queries (its metrics are meaningless here; only timings,
memory and the equality of the pruned and exhaustive runs matter).

Measured per size: build time and peak memory (`trawl kb build`, JSON parsing and the document
store included; bm25s: tokenize + index, corpus loading excluded), the BM25 index size on disk
(bm25s: its saved index), and queries/s at k=10 and k=1000 with 1 and 2 threads (median of
--repeats; trawl: `trawl beir --json`'s search time, RAYON_NUM_THREADS threads; bm25s:
`retrieve(n_threads=...)` after a warm-up call that JIT-compiles, query tokenization included as
in bench/bm25.py). The runs are interleaved: each repeat runs every configuration of trawl
(a process per run) and of bm25s (one worker process holding its index, asked for one timed
search at a time), in an order rotated from repeat to repeat, so a load that changes during the
run on the shared machine weighs on both sides alike. trawl's pruned and exhaustive runs are
compared line by line (ids, scores): the benchmark fails if they differ. Both timings cover the same work: query analysis and
search, no process start, index loading or output (trawl's index is memory-mapped, bm25s's
loaded into memory before the clock starts); trawl also maps the hits to document ids.
With --reuse-kb both sides search the indexes a previous run saved in the work folder
(trawl's KB, bm25s's index), so no build figures are printed.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bm25_common import LUCENE_STOPWORDS, ROOT, measured  # noqa: E402

VOCAB = 300_000
ZIPF_S = 1.1
MEAN_LEN = 56
SEED = 13
SKIP_TOP = 20
SYLLABLES = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"]  # 85 syllables
KS = (10, 1000)
THREADS = (1, 2)


def word(rank):
    parts = []
    r = rank
    while True:
        parts.append(SYLLABLES[r % len(SYLLABLES)])
        r //= len(SYLLABLES)
        if r == 0:
            break
    return "".join(parts) + "x"  # a consonant ending keeps the stemmer from merging words


def generate(dest, n_docs, n_queries):
    if (dest / "qrels" / "test.tsv").exists():
        return
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "qrels").mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    words = np.array([word(r) for r in range(VOCAB)], dtype=object)
    p = 1.0 / np.arange(1, VOCAB + 1) ** ZIPF_S
    p /= p.sum()
    cdf = np.cumsum(p)
    with open(tmp / "corpus.jsonl", "w") as f:
        chunk = 50_000
        for start in range(0, n_docs, chunk):
            m = min(chunk, n_docs - start)
            lengths = np.maximum(rng.poisson(MEAN_LEN, m), 5)
            toks = np.searchsorted(cdf, rng.random(lengths.sum()))
            toks = np.minimum(toks, VOCAB - 1)
            ends = np.cumsum(lengths)
            lines = []
            prev = 0
            for i, e in enumerate(ends):
                text = " ".join(words[toks[prev:e]])
                prev = e
                lines.append(f'{{"_id": "d{start + i}", "title": "", "text": "{text}"}}\n')
            f.write("".join(lines))
    with open(tmp / "queries.jsonl", "w") as fq, open(tmp / "qrels" / "test.tsv", "w") as fr:
        fr.write("query-id\tcorpus-id\tscore\n")
        for q in range(n_queries):
            n = int(rng.integers(2, 11))
            toks = np.searchsorted(cdf, rng.uniform(cdf[SKIP_TOP - 1], 1.0, n))
            toks = np.minimum(toks, VOCAB - 1)
            fq.write(json.dumps({"_id": f"q{q}", "text": " ".join(words[toks])}) + "\n")
            fr.write(f"q{q}\td{int(rng.integers(0, n_docs))}\t1\n")
    tmp.rename(dest)


def du(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


# ---------------------------------------------------------------- bm25s (child process)

def worker_bm25s(data_dir, index_out, build_only=False, reuse=False):
    import bm25s
    import Stemmer

    queries = []
    with open(Path(data_dir) / "queries.jsonl") as f:
        for line in f:
            queries.append(json.loads(line)["text"])
    stemmer = Stemmer.Stemmer("english")
    if reuse:
        # The index a previous run saved (--reuse-kb): searches only, no build figures.
        retriever = bm25s.BM25.load(index_out, backend="numba", show_progress=False)
        index_s = float("nan")
    else:
        texts = []
        with open(Path(data_dir) / "corpus.jsonl") as f:
            for line in f:
                o = json.loads(line)
                texts.append(f"{o['title']} {o['text']}")
        t0 = time.perf_counter()
        tokens = bm25s.tokenize(texts, stopwords=LUCENE_STOPWORDS, stemmer=stemmer, show_progress=False)
        del texts
        retriever = bm25s.BM25(method="lucene", k1=0.9, b=0.4, backend="numba")
        retriever.index(tokens, show_progress=False)
        index_s = time.perf_counter() - t0
        del tokens
        retriever.save(index_out)
    # Ready: the driver then asks for one timed search at a time ("K THREADS" lines), between
    # trawl's runs, so that both sides see the same load on the shared machine.
    print(json.dumps({"index_s": index_s, "index_bytes": du(index_out)}), flush=True)
    if build_only:
        return
    warm = set()
    for line in sys.stdin:
        k, threads = (int(x) for x in line.split())

        def search():
            qt = bm25s.tokenize(queries, stopwords=LUCENE_STOPWORDS, stemmer=stemmer, show_progress=False)
            return retriever.retrieve(qt, k=k, n_threads=threads, show_progress=False,
                                      backend_selection="numba")
        if (k, threads) not in warm:
            search()  # JIT compilation and warm-up, not counted
            warm.add((k, threads))
        t0 = time.perf_counter()
        search()
        print(json.dumps({"qps": len(queries) / (time.perf_counter() - t0)}), flush=True)


# ---------------------------------------------------------------- driver

def trawl_search(trawl, data, kb, k, threads, exhaustive, run_out):
    cmd = [trawl, "beir", data, "--kb-dir", kb, "-k", str(k), "--json", "--run-out", run_out]
    if exhaustive:
        cmd.append("--exhaustive")
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out, _, mib = measured(cmd, env=env)
    j = json.loads(out)
    if not j["kb_reused"]:
        raise RuntimeError("trawl beir rebuilt the KB instead of reusing it")
    return j["timings"]["queries_per_s"], mib


def read_reply(peer, err):
    """The next JSON object the bm25s worker prints (other lines, if any, are passed over)."""
    for line in peer.stdout:
        if line.startswith("{"):
            return json.loads(line)
    err.seek(0)
    sys.stderr.write(err.read()[-4000:])
    raise RuntimeError("the bm25s worker failed")


def run_size(a, n, work):
    data = work / f"corpus-{n}-q{a.queries}"
    print(f"[{n} docs] generating (once) ...", file=sys.stderr, flush=True)
    generate(data, n, a.queries)
    kb = work / f"kb-{n}"
    if a.reuse_kb and (kb / "manifest.json").exists():
        build_s, build_mib = float("nan"), float("nan")  # searches only: no build figures
    else:
        print(f"[{n} docs] trawl: building ...", file=sys.stderr, flush=True)
        cmd = [a.trawl, "kb", "build", data, "--out", kb, "--force"]
        if a.memory_budget:
            cmd += ["--memory-budget", a.memory_budget]
        _, build_s, build_mib = measured(cmd)
    manifest = json.loads((kb / "manifest.json").read_text())
    row = {"docs": n, "queries": a.queries, "terms": manifest["bm25"]["num_terms"],
           "trawl_build_s": build_s, "trawl_build_mib": build_mib,
           "trawl_index_mib": du(kb / "bm25") / 2**20, "trawl_qps": {}, "search_mib": 0.0}
    runs = work / f"runs-{n}"
    runs.mkdir(exist_ok=True)
    peer = None
    if "bm25s" not in a.skip:
        print(f"[{n} docs] bm25s (numba): {'loading' if a.reuse_kb else 'building'} ...",
              file=sys.stderr, flush=True)
        # bm25s's saved index is kept beside trawl's KB, for --reuse-kb (its build takes 4-20
        # min at 1M documents on the 2-core machine).
        saved = work / f"bm25s-{n}"
        reuse = a.reuse_kb and (saved / "params.index.json").exists()
        tmp = Path(tempfile.mkdtemp(prefix="bm25s-index-", dir=work))
        index_dir = saved if reuse else tmp / "index"
        flags = (["--build-only"] if a.build_only else []) + (["--reuse-index"] if reuse else [])
        err = open(tmp / "stderr", "w+")
        # /usr/bin/time -v reports the worker's peak memory on its stderr when it exits.
        peer = subprocess.Popen(["/usr/bin/time", "-v", sys.executable, __file__, "--worker", data,
                                 str(index_dir)] + flags,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
        b = read_reply(peer, err)
        row.update({"bm25s_build_s": b["index_s"], "bm25s_index_mib": b["index_bytes"] / 2**20,
                    "bm25s_qps": {}})
    # Interleaved: each repeat runs every configuration of both systems once, the three runs
    # of a configuration (trawl pruned, trawl exhaustive, bm25s) in an order rotated from
    # repeat to repeat: the run that follows a bm25s run measured up to 9% slower than the same
    # search run second, whichever it was, so no side keeps that place.
    qps = {}
    for rep in range(0 if a.build_only else a.repeats):
        for k in KS:
            for threads in THREADS:
                jobs = ["pruned", "exhaustive"] + (["bm25s"] if peer else [])
                jobs = jobs[rep % len(jobs):] + jobs[:rep % len(jobs)]
                for job in jobs:
                    if job == "bm25s":
                        print(f"[{n} docs] repeat {rep + 1}: bm25s k={k} threads={threads} ...",
                              file=sys.stderr, flush=True)
                        peer.stdin.write(f"{k} {threads}\n")
                        peer.stdin.flush()
                        qps.setdefault(f"bm25s/{k}/{threads}", []).append(read_reply(peer, err)["qps"])
                        continue
                    run_out = runs / f"{job}-k{k}-t{threads}.run"
                    print(f"[{n} docs] repeat {rep + 1}: trawl {job} k={k} threads={threads} ...",
                          file=sys.stderr, flush=True)
                    q, mib = trawl_search(a.trawl, data, kb, k, threads, job == "exhaustive", run_out)
                    qps.setdefault(f"trawl/{job}/{k}/{threads}", []).append(q)
                    row["search_mib"] = max(row["search_mib"], mib)
                if rep == 0:
                    pruned = (runs / f"pruned-k{k}-t{threads}.run").read_text()
                    exhaustive = (runs / f"exhaustive-k{k}-t{threads}.run").read_text()
                    if pruned != exhaustive:
                        raise RuntimeError(f"{n} docs, k={k}: the pruned run differs from the "
                                           f"exhaustive run ({runs})")
    for key, values in qps.items():
        system, rest = key.split("/", 1)
        row["trawl_qps" if system == "trawl" else "bm25s_qps"][rest] = statistics.median(values)
    row["pruned_equals_exhaustive"] = not a.build_only
    if peer:
        peer.stdin.close()
        if peer.wait() != 0:
            raise RuntimeError("the bm25s worker failed")
        err.seek(0)
        peak_kib = max([int(line.split(":")[1]) for line in err.read().splitlines()
                        if "Maximum resident set size" in line] or [0])
        err.close()
        row["bm25s_peak_mib"] = peak_kib / 1024.0
        if not reuse:
            shutil.rmtree(saved, ignore_errors=True)
            index_dir.rename(saved)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(row), file=sys.stderr)
    return row


def print_report(rows):
    for r in rows:
        print(f"\n== {r['docs']} documents, {r['terms']} terms, {r['queries']} queries (2-10 words) ==")
        has_peer = "bm25s_qps" in r
        print(f"{'':<22} {'build s':>8} {'build MiB':>9} {'index MiB':>9}")
        print(f"{'trawl':<22} {r['trawl_build_s']:>8.1f} {r['trawl_build_mib']:>9.0f} {r['trawl_index_mib']:>9.0f}")
        if has_peer:
            print(f"{'bm25s (numba)':<22} {r['bm25s_build_s']:>8.1f} {r['bm25s_peak_mib']:>9.0f} "
                  f"{r['bm25s_index_mib']:>9.0f}")
        if not r["trawl_qps"]:
            print(f"(build only: trawl peak includes JSON parsing and the document store; "
                  f"index trawl / bm25s: {r['trawl_index_mib'] / r['bm25s_index_mib']:.2f}x)"
                  if has_peer else "(build only)")
            continue
        print(f"\n{'queries/s':<22} " + " ".join(f"{f'k={k} t={t}':>12}" for k in KS for t in THREADS))
        lines = [("trawl pruned", lambda k, t: r["trawl_qps"][f"pruned/{k}/{t}"]),
                 ("trawl exhaustive", lambda k, t: r["trawl_qps"][f"exhaustive/{k}/{t}"])]
        if has_peer:
            lines.append(("bm25s (numba)", lambda k, t: r["bm25s_qps"][f"{k}/{t}"]))
        for name, f in lines:
            print(f"{name:<22} " + " ".join(f"{f(k, t):>12.0f}" for k in KS for t in THREADS))
        print(f"{'pruned / exhaustive':<22} " + " ".join(
            f"{r['trawl_qps'][f'pruned/{k}/{t}'] / r['trawl_qps'][f'exhaustive/{k}/{t}']:>11.1f}x"
            for k in KS for t in THREADS))
        if has_peer:
            print(f"{'pruned / bm25s':<22} " + " ".join(
                f"{r['trawl_qps'][f'pruned/{k}/{t}'] / r['bm25s_qps'][f'{k}/{t}']:>11.1f}x"
                for k in KS for t in THREADS))
        print(f"(trawl search peak {r['search_mib']:.0f} MiB incl. reading the queries and opening the KB; "
              f"pruned and exhaustive runs identical: {r['pruned_equals_exhaustive']})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trawl")
    ap.add_argument("--sizes", default="1000000")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--work", default=str(ROOT / "bench" / "out" / "scale"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip", default="", help="bm25s: trawl only")
    ap.add_argument("--json-out")
    ap.add_argument("--reuse-kb", action="store_true",
                    help="search the KB (and bm25s's index) a previous run built (same binary's format) "
                         "instead of rebuilding them")
    ap.add_argument("--worker", nargs=2)
    ap.add_argument("--reuse-index", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--build-only", action="store_true",
                    help="build figures only (time, peak memory, index size): no searches")
    ap.add_argument("--memory-budget", default="",
                    help="trawl kb build --memory-budget SIZE (default: trawl's, 2G)")
    a = ap.parse_args()
    if a.worker:
        worker_bm25s(a.worker[0], a.worker[1], a.build_only, a.reuse_index)
        return
    if not a.trawl:
        sys.exit("--trawl PATH is required")
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = [run_size(a, int(s), work) for s in a.sizes.split(",")]
    print_report(rows)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
