"""Live updates at scale: `trawl kb add` of 1% new documents to a KB built from the generated
MS MARCO-shaped corpus of bench/bm25_scale.py, against the full build, in one run. Run via
bench/kb_update.sh.

Steps on one corpus (default 1M documents): `trawl kb build` (timed, peak memory), then
--repeats batches of 1% of the corpus each added with `trawl kb add` (a tenth of each batch
replaces existing ids, the rest are new; texts are drawn from the corpus), then `trawl kb
compact`. Reported: build seconds, the median add seconds and its ratio to the build (the goal:
under 5%), the compaction seconds, and the content hash trail (`trawl kb info --generations`).
The KB after the adds is checked against the hash of its compacted form (equal by definition of
a compaction that keeps the live documents).
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bm25_common import ROOT, measured  # noqa: E402
from bm25_scale import generate  # noqa: E402


def batch(corpus_lines, n_docs, size, round_no, out):
    """`size` documents: a tenth replace ids d<...>, the rest are new ids; texts from the corpus."""
    step = max(1, len(corpus_lines) // size)
    with open(out, "w") as f:
        for i in range(size):
            o = json.loads(corpus_lines[(i * step + round_no * 7919) % len(corpus_lines)])
            if i % 10 == 0:
                o["_id"] = f"d{(i * 104729 + round_no) % n_docs}"
            else:
                o["_id"] = f"new{round_no}-{i}"
            f.write(json.dumps(o) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trawl", required=True)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--fraction", type=float, default=0.01)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", default=str(ROOT / "bench" / "out" / "scale"))
    ap.add_argument("--corpus", help="a corpus folder made by bench/bm25_scale.py (reused as is)")
    ap.add_argument("--json-out")
    a = ap.parse_args()

    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    data = Path(a.corpus) if a.corpus else work / f"corpus-{a.size}-q2000"
    if not a.corpus:
        generate(data, a.size, 2000)
    kb = work / f"kb-update-{a.size}"
    with open(data / "corpus.jsonl") as f:
        lines = f.readlines()
    n_docs = len(lines)

    _, build_s, build_mib = measured([a.trawl, "kb", "build", data, "--out", kb, "--force"])
    size = max(1, int(n_docs * a.fraction))
    adds = []
    for r in range(a.repeats):
        b = work / f"add-{r}.jsonl"
        batch(lines, n_docs, size, r, b)
        out, secs, mib = measured([a.trawl, "kb", "add", kb, b])
        adds.append((secs, mib, out.strip()))
    del lines
    segmented = json.loads(measured([a.trawl, "kb", "info", kb])[0])
    _, compact_s, compact_mib = measured([a.trawl, "kb", "compact", kb])
    compacted = json.loads(measured([a.trawl, "kb", "info", kb])[0])
    trail = measured([a.trawl, "kb", "info", kb, "--generations"])[0]
    if segmented["content_hash"] != compacted["content_hash"]:
        sys.exit("FAIL: compaction changed the content hash")

    add_s = statistics.median(s for s, _, _ in adds)
    ratio = add_s / build_s
    print(f"corpus: {n_docs} documents; batches of {size} ({a.fraction:.1%}, a tenth replacing)")
    print(f"kb build    {build_s:8.2f} s   peak {build_mib:7.0f} MiB")
    for i, (s, mib, _) in enumerate(adds):
        print(f"kb add #{i + 1}   {s:8.2f} s   peak {mib:7.0f} MiB")
    print(f"kb compact  {compact_s:8.2f} s   peak {compact_mib:7.0f} MiB")
    print(f"median add / build: {ratio:.2%} (goal: under 5%) -> {'ok' if ratio < 0.05 else 'MISSED'}")
    print("generations:\n" + trail)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps({
            "num_docs": n_docs, "batch": size, "build_s": build_s, "build_peak_mib": build_mib,
            "add_s": [s for s, _, _ in adds], "add_peak_mib": [m for _, m, _ in adds],
            "median_add_over_build": ratio, "compact_s": compact_s,
            "content_hash": compacted["content_hash"],
        }, indent=2) + "\n")


if __name__ == "__main__":
    main()
