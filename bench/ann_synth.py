#!/usr/bin/env python3
"""A large embedding-like set made from real vectors: each output row mixes two random real
rows (weights from a seeded Beta) plus Gaussian noise, then is L2-normalised. Queries are made
the same way from rows held out of the document mixtures (never a document's source row).

  bench/ann_synth.py --n 1000000 --out PREFIX REAL1.npy [REAL2.npy ...]
writes PREFIX-docs.npy and PREFIX-queries.npy (1,000 queries by default).
"""
import argparse

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("real", nargs="+")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--noise", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    real = np.concatenate([np.load(p).astype(np.float32) for p in a.real])
    perm = rng.permutation(len(real))
    held, base = real[perm[: len(real) // 10]], real[perm[len(real) // 10:]]

    def mix(src, n):
        out = np.empty((n, src.shape[1]), dtype=np.float32)
        for s in range(0, n, 100_000):
            m = min(100_000, n - s)
            i, j = rng.integers(0, len(src), m), rng.integers(0, len(src), m)
            w = rng.beta(2.0, 2.0, m).astype(np.float32)[:, None]
            v = w * src[i] + (1 - w) * src[j] + rng.normal(0, a.noise, (m, src.shape[1])).astype(np.float32)
            out[s:s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out

    np.save(f"{a.out}-docs.npy", mix(base, a.n))
    np.save(f"{a.out}-queries.npy", mix(held, a.queries))


if __name__ == "__main__":
    main()
