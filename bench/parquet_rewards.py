"""Parquet read/write throughput for a 1M-row rewards table (uid, reward, error): trawl-parquet
(the rewards_io example) vs pyarrow, same values, same snappy compression, in one run.

Usage: python bench/parquet_rewards.py --example PATH/rewards_io [--rows 1000000] [--repeat 3]
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
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()
