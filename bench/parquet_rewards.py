"""Parquet read/write throughput for a 1M-row rewards table (uid, reward, error): trawl-parquet
(the rewards_io example) vs pyarrow, same values, same snappy compression, in one run.

With --trawl BIN --beir DIR (a BEIR folder, e.g. scifact): also `trawl reward` rows/s on a parquet
rollouts file (uid, a list of 4 rewrites, an unused prompt column) written by pyarrow, read,
scored (BM25, union, nDCG@10) and written back as parquet, end to end.

Usage: python bench/parquet_rewards.py --example PATH/rewards_io [--rows 1000000] [--repeat 3]
       [--trawl PATH/trawl --beir DIR [--reward-rows 20000]]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--example", required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--trawl", help="the trawl binary, for the `trawl reward` figure")
    ap.add_argument("--beir", help="a BEIR folder (corpus, queries, qrels/test.tsv) for the KB")
    ap.add_argument("--reward-rows", type=int, default=20_000)
    ap.add_argument("--skip-io", action="store_true", help="only the `trawl reward` figure")
    args = ap.parse_args()
    if args.trawl and args.beir:
        reward_bench(args)
    if args.skip_io:
        return
    n = args.rows
    with tempfile.TemporaryDirectory() as tmp:
        trawl_file = os.path.join(tmp, "trawl.parquet")
        t = json.loads(subprocess.run([args.example, trawl_file, str(n), str(args.repeat)],
                                      check=True, capture_output=True, text=True).stdout)
        table = pa.table({
            "uid": pa.array([f"q{i}" for i in range(n)], pa.string()),
            "reward": pa.array([(i % 1000) / 1000 for i in range(n)], pa.float64()),
            "error": pa.array([None] * n, pa.string()),
        })
        path = os.path.join(tmp, "pyarrow.parquet")
        writes, reads = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            pq.write_table(table, path, compression="snappy")
            writes.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            back = pq.read_table(path, columns=["uid", "reward"])
            # Materialise Python values, as trawl materialises its values.
            uids, rewards = back.column("uid").to_pylist(), back.column("reward").to_pylist()
            reads.append(time.perf_counter() - t0)
        py_write, py_read = statistics.median(writes), statistics.median(reads)
        assert abs(sum(rewards) - t["reward_sum"]) < 1e-6 * n, "the two files hold different values"
        # Cross-read: pyarrow reads trawl's file, and its values match.
        cross = pq.read_table(trawl_file)
        assert cross.num_rows == n and cross.column("uid")[5].as_py() == "q5"
        print(f"{n} rows; file size trawl {t['bytes'] / 1e6:.1f} MB, pyarrow {os.path.getsize(path) / 1e6:.1f} MB")
        print(f"write: trawl {t['write_s']:.3f} s ({n / t['write_s'] / 1e6:.2f} M rows/s), "
              f"pyarrow {py_write:.3f} s; trawl/pyarrow throughput {py_write / t['write_s']:.2f}x")
        print(f"read (uid, reward to values): trawl {t['read_s']:.3f} s ({n / t['read_s'] / 1e6:.2f} M rows/s), "
              f"pyarrow {py_read:.3f} s; trawl/pyarrow throughput {py_read / t['read_s']:.2f}x")


def reward_bench(args):
    """`trawl reward` over a parquet rollouts file: rows/s end to end (read, retrieve, score, write)."""
    with tempfile.TemporaryDirectory() as tmp:
        kb = os.path.join(tmp, "kb")
        subprocess.run([args.trawl, "kb", "build", args.beir, "--out", kb], check=True,
                       capture_output=True)
        labels = os.path.join(args.beir, "qrels", "test.tsv")
        uids = sorted({line.split("\t")[0] for line in open(labels).read().splitlines()[1:] if line})
        texts = {}
        for line in open(os.path.join(args.beir, "queries.jsonl")):
            q = json.loads(line)
            texts[q["_id"]] = q["text"]
        uids = [u for u in uids if u in texts]
        n = args.reward_rows
        rows_uid, rows_rewrites = [], []
        for i in range(n):
            # Rewrites that differ from row to row (retrieval dedups identical texts within a
            # batch, which real rollouts rarely repeat): rotations and cuts that vary with i.
            u = uids[i % len(uids)]
            words = texts[u].split()
            r = (i // len(uids)) % len(words)
            rot = words[r:] + words[:r]
            cut = max(1, len(words) - 1 - r % max(1, len(words) - 1))
            rows_uid.append(u)
            rows_rewrites.append([" ".join(rot), " ".join(reversed(rot)), " ".join(rot[:cut]),
                                  " ".join(w for j, w in enumerate(words) if j != r)])
        data = os.path.join(tmp, "rollouts.parquet")
        pq.write_table(pa.table({
            "uid": pa.array(rows_uid, pa.string()),
            "rewrites": pa.array(rows_rewrites, pa.list_(pa.string())),
            "prompt": pa.array(["a prompt the reward does not read " * 8] * n, pa.string()),
        }), data, compression="snappy")
        out = os.path.join(tmp, "rewards.parquet")
        per_s, secs = [], []
        for _ in range(args.repeat):
            r = subprocess.run([args.trawl, "reward", "--kb", kb, "--labels", labels, "--data", data,
                                "--column", "rewrites", "--mode", "union", "--out", out, "--json"],
                               check=True, capture_output=True, text=True)
            v = json.loads(r.stdout)
            per_s.append(v["rows_per_s"])
            secs.append(v["seconds"])
        back = pq.read_table(out)
        assert back.num_rows == n and back.column("uid").to_pylist() == rows_uid
        print(f"trawl reward: {n} rows x 4 rewrites (BM25, union, nDCG@10) over {len(uids)} labelled "
              f"queries, parquet in and out: {statistics.median(per_s):.0f} rows/s end to end "
              f"(median of {args.repeat}, {statistics.median(secs):.2f} s; mean reward "
              f"{v['mean_reward']:.4f}), {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
