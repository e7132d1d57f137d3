"""BM25 at scale, trawl only. Run via bench/bm25_scale.sh.

The corpus is generated (numpy, seed 13): a vocabulary of 300k synthetic words with Zipfian
frequencies (s = 1.1), document lengths Poisson(60), 1000 queries of 2-6 words drawn from the same
distribution without its 20 most frequent words, and a random qrels file so that `trawl beir`
can run the queries (the metrics are meaningless; only timings and memory matter here).
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bm25_common import ROOT, measured  # noqa: E402

VOCAB = 300_000
ZIPF_S = 1.1
MEAN_LEN = 60
NUM_QUERIES = 1000
SEED = 13
SYLLABLES = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"]  # 85 syllables


def word(rank):
    parts = []
    r = rank
    while True:
        parts.append(SYLLABLES[r % len(SYLLABLES)])
        r //= len(SYLLABLES)
        if r == 0:
            break
    return "".join(parts) + "x"  # a consonant ending keeps the stemmer from merging words


def generate(dest, n_docs):
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
        for q in range(NUM_QUERIES):
            n = int(rng.integers(2, 7))
            toks = np.searchsorted(cdf, rng.uniform(cdf[19], 1.0, n))
            toks = np.minimum(toks, VOCAB - 1)
            fq.write(json.dumps({"_id": f"q{q}", "text": " ".join(words[toks])}) + "\n")
            fr.write(f"q{q}\td{int(rng.integers(0, n_docs))}\t1\n")
    tmp.rename(dest)


def du(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trawl", required=True)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--work", default=str(ROOT / "bench" / "out" / "scale"))
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in [int(s) for s in a.sizes.split(",")]:
        data = work / f"corpus-{n}"
        print(f"[{n} docs] generating (once) ...", file=sys.stderr, flush=True)
        generate(data, n)
        kb = work / f"kb-{n}"
        print(f"[{n} docs] building ...", file=sys.stderr, flush=True)
        _, build_s, build_mib = measured([a.trawl, "kb", "build", data, "--out", kb, "--force"])
        manifest = json.loads((kb / "manifest.json").read_text())
        index_bytes = du(kb / "bm25")
        total_bytes = du(kb)
        res = {}
        for k in (10, 1000):
            qps, mem = [], []
            for _ in range(a.repeats):
                out, _, mib = measured([a.trawl, "beir", data, "--kb-dir", kb, "-k", str(k), "--json"])
                j = json.loads(out)
                qps.append(j["timings"]["queries_per_s"])
                mem.append(mib)
            res[k] = (float(np.median(qps)), max(mem))
        row = {
            "docs": n, "build_s": build_s, "build_peak_mib": build_mib,
            "terms": manifest["bm25"]["num_terms"],
            "bm25_index_mib": index_bytes / 2**20, "kb_mib": total_bytes / 2**20,
            "corpus_mib": (data / "corpus.jsonl").stat().st_size / 2**20,
            "qps_k10": res[10][0], "qps_k1000": res[1000][0], "search_peak_mib": res[1000][1],
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    print(f"\n{'docs':>9} {'build s':>8} {'docs/s':>9} {'build MiB':>9} {'terms':>8} {'corpus MiB':>10} "
          f"{'bm25 MiB':>9} {'KB MiB':>8} {'qps k=10':>9} {'qps k=1000':>10} {'search MiB':>10}")
    for r in rows:
        print(f"{r['docs']:>9} {r['build_s']:>8.1f} {r['docs'] / r['build_s']:>9.0f} {r['build_peak_mib']:>9.0f} "
              f"{r['terms']:>8} {r['corpus_mib']:>10.0f} {r['bm25_index_mib']:>9.0f} {r['kb_mib']:>8.0f} "
              f"{r['qps_k10']:>9.0f} {r['qps_k1000']:>10.0f} {r['search_peak_mib']:>10.0f}")
    print("(build s: `trawl kb build` wall time incl. JSON parsing and the document store; search MiB: peak RSS "
          "of `trawl beir` incl. reading 1000 queries, opening (verifying) the KB, evaluation; 2 threads)")


if __name__ == "__main__":
    main()
