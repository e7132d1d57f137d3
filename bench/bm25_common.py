"""Helpers shared by the BM25 benchmarks: child processes with their own peak memory, BEIR
loading, and a trec_eval-style nDCG@10 that does not depend on trawl."""
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (what Pyserini and trawl use).
LUCENE_STOPWORDS = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
]


def shared_data(relative):
    roots = [os.environ.get("TRAWL_SHARED_DATA")] + [str(p / "shared" / "data") for p in [ROOT, *ROOT.parents]]
    for r in roots:
        if r and (Path(r) / relative).exists():
            return Path(r) / relative
    sys.exit(f"shared data {relative} not found (set TRAWL_SHARED_DATA)")


def measured(cmd, env=None, cwd=None):
    """Runs cmd and returns (stdout, wall seconds, peak RSS MiB of this child and its children).

    Uses /usr/bin/time -v, which reports the maximum resident set size of the command."""
    full = ["/usr/bin/time", "-v"] + [str(c) for c in cmd]
    start = time.perf_counter()
    p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    wall = time.perf_counter() - start
    err = p.stderr.decode(errors="replace")
    if p.returncode != 0:
        sys.stderr.write(err[-4000:])
        raise RuntimeError(f"{cmd[0]} failed with exit code {p.returncode}")
    peak_kib = 0
    for line in err.splitlines():
        if "Maximum resident set size" in line:
            peak_kib = int(line.split(":")[1])
    return p.stdout.decode(), wall, peak_kib / 1024.0


def load_beir(d):
    corpus = []
    with open(d / "corpus.jsonl") as f:
        for line in f:
            if line.strip():
                o = json.loads(line)
                corpus.append((str(o["_id"]), o.get("title", "") or "", o.get("text", "") or ""))
    queries = {}
    with open(d / "queries.jsonl") as f:
        for line in f:
            if line.strip():
                o = json.loads(line)
                queries[str(o["_id"])] = o["text"]
    qrels = {}
    with open(d / "qrels" / "test.tsv") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].lstrip("-").isdigit():
                continue
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    qids = sorted(q for q in qrels if q in queries)
    return corpus, [(q, queries[q]) for q in qids], qrels


def ndcg10(run, qrels):
    """Mean nDCG@10 over the judged queries, trec_eval style (ties: score desc, docid desc)."""
    total = 0.0
    for qid, judged in qrels.items():
        docs = sorted(run.get(qid, {}).items(), key=lambda x: (x[1], x[0]), reverse=True)[:10]
        dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, (d, _) in enumerate(docs) if judged.get(d, 0) > 0)
        ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        total += dcg / idcg if idcg > 0 else 0.0
    return total / len(qrels)


def read_trec_run(path):
    run = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 6:
                run.setdefault(p[0], {})[p[2]] = float(p[4])
    return run


def write_trec_run(path, results, tag):
    with open(path, "w") as f:
        for qid, hits in results.items():
            for rank, (doc, score) in enumerate(hits, 1):
                f.write(f"{qid} Q0 {doc} {rank} {score:.6f} {tag}\n")
