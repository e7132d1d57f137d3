#!/usr/bin/env python3
"""Scale run: for each size, a KB of real-embedding-derived vectors gets each approximate index
from `trawl kb index` (a child process: wall time, peak RSS from wait4), its size on disk, and
a batch of query vectors searched through it (`trawl search --vectors`: queries/s, recall@10
against exact numpy search, the search child's peak RSS); `trawl kb plan` predicts each figure
and is printed beside it, with its projection to 8.8M documents.

  bench/ann_scale.py --trawl BIN --work DIR DOCS.npy QUERIES.npy --sizes 100000 1000000
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np


def run_rss(cmd):
    """Runs a child; (stdout, seconds, its peak RSS in bytes). The peak is the child's own
    VmHWM, polled: wait4's ru_maxrss would include this Python process's RSS, which a forked
    child carries into exec."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        peak = 0
        while p.poll() is None:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]) * 1024)
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
            time.sleep(0.01)
        secs = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{err.read()}")
        return out.read(), secs, peak


def du(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def write_flat_faiss(path, x):
    """A FAISS IndexFlatIP file (faiss/impl/index_write.cpp: header, then the codes vector)."""
    n, d = x.shape
    with open(path, "wb") as f:
        f.write(b"IxFI")
        f.write(np.int32(d).tobytes() + np.int64(n).tobytes())
        f.write(np.int64(1 << 20).tobytes() + np.int64(1 << 20).tobytes())
        f.write(np.uint8(1).tobytes() + np.int32(0).tobytes())  # trained; METRIC_INNER_PRODUCT
        f.write(np.uint64(x.size).tobytes())  # READXBVECTOR: a count of 4-byte units
        f.write(np.ascontiguousarray(x, dtype=np.float32).tobytes())


def mib(b):
    return f"{b / 2**20:,.0f} MiB"


def ratio(pred, meas):
    return f"{pred / meas:.2f}" if meas else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("docs")
    ap.add_argument("queries")
    ap.add_argument("--trawl", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--indexes", nargs="+", default=["hnsw:16", "ivfpq:1024,48"])
    ap.add_argument("--ef", type=int, default=64)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--nprobe", type=int, default=16)
    ap.add_argument("--project", type=float, default=8.8e6)
    ap.add_argument("--keep", action="store_true", help="keep each size's KB with its index (for re-runs)")
    ap.add_argument("--reuse", action="store_true", help="search a kept KB instead of building its index again")
    ap.add_argument("--reward-batch", type=int, default=1024,
                    help="an RL step's searches (256 prompts x 4 rewrites): timed as one `--vectors` batch")
    ap.add_argument("--encode-model", help="also time encoding that many real query texts with this model")
    ap.add_argument("--query-texts", help="queries.jsonl the texts come from (BEIR layout)")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    all_docs = np.load(a.docs, mmap_mode="r")
    queries = np.ascontiguousarray(np.load(a.queries).astype(np.float32))
    dim = all_docs.shape[1]
    qpath = os.path.join(a.work, "queries.npy")
    np.save(qpath, queries)
    batch = os.path.join(a.work, "reward-batch.npy")
    np.save(batch, np.resize(queries, (a.reward_batch, dim)))
    encode_s = None
    if a.encode_model and a.query_texts:
        texts = [json.loads(l)["text"] for l in open(a.query_texts, encoding="utf-8")]
        tpath = os.path.join(a.work, "reward-batch-queries.jsonl")
        with open(tpath, "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"_id": f"q{i}", "text": texts[i % len(texts)]}) + "\n"
                         for i in range(a.reward_batch))
        out, _, _ = run_rss([a.trawl, "encode", a.encode_model, tpath, "--out",
                             os.path.join(a.work, "reward-batch-encoded.npy"), "--json"])
        encode_s = json.loads(out.strip().splitlines()[-1])["encode_seconds"]
    rows, batches = [], []
    for n in a.sizes:
        if n > len(all_docs):
            print(f"skipping {n}: only {len(all_docs)} vectors in {a.docs}")
            continue
        x = np.ascontiguousarray(all_docs[:n], dtype=np.float32)
        exact = np.concatenate([np.argsort(-(queries[i:i + 100] @ x.T), axis=1)[:, :10]
                                for i in range(0, len(queries), 100)])
        base = os.path.join(a.work, f"kb-{n}")
        if not os.path.exists(base):
            src = os.path.join(a.work, f"src-{n}")
            os.makedirs(src, exist_ok=True)
            write_flat_faiss(os.path.join(src, "flat.faiss"), x)
            with open(os.path.join(src, "ids.txt"), "w") as f:
                f.writelines(f"d{i}\n" for i in range(n))
            with open(os.path.join(src, "corpus.jsonl"), "w") as f:
                f.writelines(json.dumps({"_id": f"d{i}", "text": f"d{i}"}) + "\n" for i in range(n))
            run_rss([a.trawl, "kb", "import-faiss", os.path.join(src, "flat.faiss"), "--ids",
                     os.path.join(src, "ids.txt"), "--docs", os.path.join(src, "corpus.jsonl"),
                     "--out", base])
            shutil.rmtree(src)
        for spec in a.indexes:
            kind, _, nums = spec.partition(":")
            nums = [int(v) for v in nums.split(",")] if nums else []
            plan = lambda docs: json.loads(run_rss([
                a.trawl, "kb", "plan", "--docs", str(int(docs)), "--dim", str(dim), "--index", spec,
                "--ef", str(a.ef), "--nprobe", str(a.nprobe), "--ef-construction",
                str(a.ef_construction), "--json"])[0])
            pred, proj = plan(n), plan(a.project)
            kb = os.path.join(a.work, f"kb-{n}-{kind}")
            if a.reuse and os.path.isdir(os.path.join(kb, "ann", kind)):
                build_s, build_rss = float("nan"), 0  # kept from an earlier run: not rebuilt
            else:
                shutil.rmtree(kb, ignore_errors=True)
                shutil.copytree(base, kb)
                cmd = [a.trawl, "kb", "index", kb, "--type", kind, "--name", kind]
                if kind == "hnsw":
                    cmd += ["--m", str(nums[0] if nums else 16), "--ef-construction", str(a.ef_construction)]
                if kind in ("ivf", "ivfpq") and nums:
                    cmd += ["--nlist", str(nums[0])]
                if kind == "ivfpq":
                    cmd += ["--m", str(nums[1])]
                _, build_s, build_rss = run_rss(cmd)
            disk = du(os.path.join(kb, "ann", kind))
            search = [a.trawl, "search", kb, "--index", kind, "--ef", str(a.ef), "--nprobe",
                      str(a.nprobe), "-k", "10", "--json", "--vectors"]
            out, _, serve_rss = run_rss(search + [qpath])
            qps = len(queries) / max(json.loads(out)["search_seconds"], 1e-9)
            # The reward batch: the same queries tiled to one RL step's searches, timed by trawl
            # around the search alone (opening a 1M-vector KB verifies gigabytes of checksums,
            # which a warm server has done once).
            batch_out, _, _ = run_rss(search + [batch])
            batch_s = json.loads(batch_out)["search_seconds"]
            got = [[int(h["id"][1:]) for h in r["hits"]] for r in json.loads(out)["results"]]
            recall = np.mean([len(set(g) & set(e)) / 10 for g, e in zip(got, exact.tolist())])
            rows.append((n, spec, pred, proj, build_s, build_rss, disk, serve_rss, qps, recall))
            batches.append((n, spec, batch_s, recall))
            print(f"{n} {spec}: build {build_s:.1f}s, peak {mib(build_rss)}, disk {mib(disk)}, "
                  f"{qps:.0f} q/s, recall@10 {recall:.3f}, {a.reward_batch}-query batch {batch_s:.3f}s", flush=True)
            if not a.keep:
                shutil.rmtree(kb)
    threads = rows[0][2]["calibration"]["threads"] if rows else 0
    print(f"\nANN scale: {dim}-d vectors, k 10, ef {a.ef} (construction {a.ef_construction}), nprobe {a.nprobe}, {threads} threads;"
          f" predicted (trawl kb plan) beside measured, ratio = predicted/measured")
    head = (f"{'docs':>9} {'index':<14} {'build s':>8} {'pred':>8} {'peak MiB':>9} {'pred':>7} {'ratio':>5}"
            f" {'disk MiB':>9} {'pred':>7} {'ratio':>5} {'serve MiB':>9} {'pred':>7} {'q/s':>7} {'pred':>7}"
            f" {'recall@10':>9}")
    print(head)
    for n, spec, p, _, bs, br, disk, sr, qps, rec in rows:
        print(f"{n:>9,} {spec:<14} {bs:>8.1f} {p['build_s']:>8.1f} {br / 2**20:>9,.0f}"
              f" {p['build_peak_bytes'] / 2**20:>7,.0f} {ratio(p['build_peak_bytes'], br):>5}"
              f" {disk / 2**20:>9,.1f} {p['disk_bytes']['index'] / 2**20:>7,.1f}"
              f" {ratio(p['disk_bytes']['index'], disk):>5} {sr / 2**20:>9,.0f}"
              f" {p['serve_bytes'] / 2**20:>7,.0f} {qps:>7,.0f} {p['queries_per_s']:>7,.0f} {rec:>9.3f}")
    print(f"\nreward batch: {a.reward_batch} query vectors, k 10, the search alone as `trawl search --vectors --json` times it"
          f" (goal at 1M: under 0.25 s at recall@10 >= 0.9 on 2 cores)")
    for n, spec, bs, rec in batches:
        print(f"  {n:>9,} {spec:<14} {bs:.3f} s  recall@10 {rec:.3f}")
    if encode_s is not None:
        print(f"  encoding the {a.reward_batch} query texts (scifact queries, `trawl encode` {os.path.basename(a.encode_model)}):"
              f" {encode_s:.3f} s, the larger cost of a dense /reward step")
    print(f"\nprojection to {a.project:,.0f} documents (trawl kb plan):")
    for n, spec, _, pj, *_ in rows:
        if n != rows[-1][0]:
            continue
        print(f"  {spec:<14} build {pj['build_s'] / 3600:.1f} h, peak {pj['build_peak_bytes'] / 2**30:.1f} GiB,"
              f" index {pj['disk_bytes']['index'] / 2**30:.2f} GiB + vectors {pj['disk_bytes']['vectors'] / 2**30:.1f} GiB,"
              f" serve {pj['serve_bytes'] / 2**30:.2f} GiB, {pj['queries_per_s']:.0f} q/s")


if __name__ == "__main__":
    main()
