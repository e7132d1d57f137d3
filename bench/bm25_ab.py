"""Two trawl binaries side by side on BEIR BM25 search time (e.g. this branch vs main's build):
`trawl beir DATA --retriever bm25 -k K --json` runs interleaved A, B, A, B, ... and the median
search time of each, with the ratio (A's queries/s over B's). Each binary gets its own KB folder
(built once, untimed), so index formats may differ.

Usage: python3 bench/bm25_ab.py --a BIN_A --b BIN_B [--data DIR ...] [--ks 10 1000]
       [--repeats 7] [--threads 1]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path


def search_s(binary, data, kb, k, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run(
        [binary, "beir", str(data), "--retriever", "bm25", "-k", str(k), "--kb-dir", str(kb), "--json"],
        check=True, capture_output=True, text=True, env=env,
    ).stdout
    report = json.loads(out)
    return report["timings"]["search_s"], report["metrics"]


def main():
    shared = Path(os.environ.get("TRAWL_SHARED_DATA", "/work/shared/data"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--data", nargs="+", default=[shared / "beir" / "scifact", shared / "beir" / "nfcorpus"])
    ap.add_argument("--ks", nargs="+", type=int, default=[10, 1000])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for data in map(Path, args.data):
            kbs = {name: Path(tmp) / f"{data.name}-{name}" for name in "ab"}
            for name, binary in (("a", args.a), ("b", args.b)):
                search_s(binary, data, kbs[name], 10, args.threads)  # builds the KB
            for k in args.ks:
                times = {"a": [], "b": []}
                metrics = {}
                for _ in range(args.repeats):
                    for name, binary in (("a", args.a), ("b", args.b)):
                        t, m = search_s(binary, data, kbs[name], k, args.threads)
                        times[name].append(t)
                        metrics[name] = m
                same = metrics["a"] == metrics["b"]
                ma, mb = statistics.median(times["a"]), statistics.median(times["b"])
                print(
                    f"{data.name} k={k} threads={args.threads}: A {ma * 1e3:.2f} ms, B {mb * 1e3:.2f} ms "
                    f"(medians of {args.repeats}); A/B speed {mb / ma:.2f}x; metrics equal: {same}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
