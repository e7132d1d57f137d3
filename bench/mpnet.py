#!/usr/bin/env python3
"""all-mpnet-base-v2: trawl vs sentence-transformers, retrieval quality and encoding speed, one run.

Usage (from the repository root, after scripts/get-model.sh mpnet, bench/setup.sh dense and a
release build of trawl-cli):
    bench/mpnet.sh [--only ndcg|speed|train] [--docs N] [--max-seq-len L] [--passages 64] [--repeats 3]

1. nDCG@10 on scifact test. The reference: sentence-transformers encodes the corpus ("title text",
   as BEIR's SentenceBERT wrapper joins them) and the test queries (batch 32, the model's
   max_seq_length unless --max-seq-len), FAISS IndexFlatIP finds the top 100 of each query,
   pytrec_eval scores nDCG@10 (the folder's Normalize module makes inner product the cosine).
   Beside it: `trawl beir DIR --retriever dense --model M` on the same collection. The two must
   agree within 0.003 (exit 1 otherwise).
   `--docs N` evaluates on a subset: every document judged for a test query plus seeded random
   others up to N (written as a BEIR folder under the work dir); both sides see the same subset,
   so the agreement check holds, but the figure is not scifact's (the output says so). Default:
   the whole corpus (5,183 documents: over an hour per side on two loaded cores).
   `--max-seq-len L` truncates both sides at L tokens (a copy of the folder whose
   sentence_bert_config.json says L, read by both).
3. Fine-tuning (--only train, or with the others): `trawl mine-negatives` on scifact's train split
   (the README's recipe), `trawl train` of all-mpnet-base-v2 on the (query, positive, one hard
   negative) triplets (--train-max-seq-len, --train-batch, one epoch or --train-steps, lr 2e-5,
   10% warmup), then `trawl beir` on the base and the fine-tuned model over the same collection
   (the base's KB of step 1 is reused). Prints both nDCG@10, the training time and seconds per
   step, and checks that sentence-transformers loads the saved folder unchanged (its embeddings
   of a few passages against `trawl encode`'s, cosine >= 0.9999). --path-steps K first trains K
   steps on the packed CPU path and K with --autograd and prints their seconds per step.
2. Encoding speed: the same --passages scifact passages, batch size and max length, `trawl
   encode` and sentence-transformers (PyTorch CPU, bench/dense.py's child) each in its own
   process on --threads threads, alternating --repeats rounds; medians, their ratio, the
   per-round ratios and the load average before and after.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from dense import run_child  # noqa: E402  (one child runner for the dense benchmarks)


def log(msg):
    print(f"[mpnet {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_avg():
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def test_qrels(scifact):
    qrels = {}
    with open(os.path.join(scifact, "qrels", "test.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            q, d, r = line.rstrip("\n").split("\t")
            qrels.setdefault(q, {})[d] = int(r)
    return qrels


def collection(args, work):
    """The BEIR folder both sides evaluate on: scifact, or the --docs subset written under work."""
    if not args.docs:
        return args.scifact, "scifact test (whole corpus)"
    docs = read_jsonl(os.path.join(args.scifact, "corpus.jsonl"))
    qrels = test_qrels(args.scifact)
    judged = {d for rel in qrels.values() for d in rel}
    others = [d["_id"] for d in docs if d["_id"] not in judged]
    random.Random(args.seed).shuffle(others)
    keep = judged | set(others[: max(0, args.docs - len(judged))])
    out = os.path.join(work, f"scifact-subset-{len(keep)}")
    os.makedirs(os.path.join(out, "qrels"), exist_ok=True)
    with open(os.path.join(out, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for d in docs:
            if d["_id"] in keep:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    with open(os.path.join(out, "queries.jsonl"), "w", encoding="utf-8") as f:
        for q in read_jsonl(os.path.join(args.scifact, "queries.jsonl")):
            if q["_id"] in qrels:
                f.write(json.dumps(q, ensure_ascii=False) + "\n")
    with open(os.path.join(out, "qrels", "test.tsv"), "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q, rel in qrels.items():
            for d, r in rel.items():
                f.write(f"{q}\t{d}\t{r}\n")
    return out, (f"scifact test on a {len(keep)}-document subset ({len(judged)} judged + "
                 f"{len(keep) - len(judged)} random, seed {args.seed}); not comparable to whole-corpus figures")


def model_folder(args, work):
    """The model, or a copy truncating at --max-seq-len (links to every file but the length)."""
    if not args.max_seq_len:
        return args.model
    out = os.path.join(work, f"{os.path.basename(os.path.normpath(args.model))}-len{args.max_seq_len}")
    if not os.path.isdir(out):
        os.makedirs(out)
        for name in os.listdir(args.model):
            if name != "sentence_bert_config.json":
                os.symlink(os.path.join(os.path.abspath(args.model), name), os.path.join(out, name))
        cfg = json.load(open(os.path.join(args.model, "sentence_bert_config.json"), encoding="utf-8"))
        cfg["max_seq_length"] = args.max_seq_len
        json.dump(cfg, open(os.path.join(out, "sentence_bert_config.json"), "w", encoding="utf-8"))
    return out


def st_ndcg_child(args):
    """Child mode: sentence-transformers + FAISS IndexFlatIP + pytrec_eval on one BEIR folder."""
    import faiss
    import pytrec_eval
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    docs = read_jsonl(os.path.join(args.data, "corpus.jsonl"))
    qrels = test_qrels(args.data)
    queries = [q for q in read_jsonl(os.path.join(args.data, "queries.jsonl")) if q["_id"] in qrels]
    model = SentenceTransformer(args.model, device="cpu")
    t = time.perf_counter()
    d = model.encode([(x.get("title", "") + " " + x["text"]).strip() for x in docs], batch_size=32,
                     convert_to_numpy=True)
    q = model.encode([x["text"] for x in queries], batch_size=32, convert_to_numpy=True)
    secs = time.perf_counter() - t
    index = faiss.IndexFlatIP(d.shape[1])
    index.add(np.ascontiguousarray(d, dtype=np.float32))
    scores, ids = index.search(np.ascontiguousarray(q, dtype=np.float32), 100)
    run = {qq["_id"]: {docs[j]["_id"]: float(s) for s, j in zip(srow, irow) if j >= 0}
           for qq, srow, irow in zip(queries, scores, ids)}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    ndcg = statistics.mean(v["ndcg_cut_10"] for v in per_query.values())
    print(json.dumps({"ndcg@10": ndcg, "queries": len(per_query), "docs": len(docs),
                      "max_seq_length": model.max_seq_length, "encode_seconds": secs}))


def ndcg(args, work, env):
    data, what = collection(args, work)
    model = model_folder(args, work)
    log(f"nDCG: {what}; model {model}; {load_avg()}")
    out, st_wall, _ = run_child([sys.executable, os.path.abspath(__file__), "--child", "st-ndcg", "--data", data,
                                 "--model", model, "--threads", str(args.threads)], env)
    st = json.loads(out.strip().splitlines()[-1])
    log(f"sentence-transformers + FAISS: nDCG@10 {st['ndcg@10']:.4f} ({st_wall:.0f} s); {load_avg()}")
    kb = os.path.join(work, "kb-" + os.path.basename(data) + "-" + os.path.basename(model))
    tr, tr_wall = trawl_beir(args, data, model, kb, env, rebuild=True)
    log(f"trawl beir: nDCG@10 {tr['ndcg@10']:.4f} ({tr_wall:.0f} s); {load_avg()}")
    diff = tr["ndcg@10"] - st["ndcg@10"]
    ok = abs(diff) <= 0.003
    print(f"nDCG@10, {what}, all-mpnet-base-v2, max_seq_length {st['max_seq_length']}, "
          f"{st['queries']} queries, {st['docs']} documents")
    print(f"  sentence-transformers + FAISS IndexFlatIP + pytrec_eval  {st['ndcg@10']:.4f}  ({st_wall:.0f} s)")
    print(f"  trawl beir --retriever dense                             {tr['ndcg@10']:.4f}  ({tr_wall:.0f} s)")
    print(f"  difference {diff:+.4f} (bar: within 0.003): {'OK' if ok else 'FAIL'}")
    return ok


def trawl_beir(args, data, model, kb, env, rebuild):
    cmd = [args.trawl_bin, "beir", data, "--retriever", "dense", "--model", model, "--kb-dir", kb, "--json"]
    out, wall, _ = run_child(cmd + (["--rebuild"] if rebuild else []), env)
    return {k.lower(): v for k, v in json.loads(out)["metrics"].items()}, wall


def train_run(args, model, data, out, env, extra):
    """`trawl train`; returns (seconds per step after the first, training wall time, steps)."""
    import shutil
    for d in (out, out + ".run"):
        shutil.rmtree(d, ignore_errors=True)
    cmd = [args.trawl_bin, "train", "--model", model, "--data", data, "--out", out, "--epochs", "1",
           "--batch-size", str(args.train_batch), "--max-negatives", "1", "--max-seq-len", str(args.train_max_seq_len),
           "--lr", "2e-5", "--warmup-ratio", "0.1", "--weight-decay", "0.01", "--seed", "42", "--json"] + extra
    run_child(cmd, env)
    events = read_jsonl(os.path.join(out + ".run", "train_log.jsonl"))
    steps = [e["seconds"] for e in events if e.get("event") == "step"]
    end = [e for e in events if e.get("event") == "end"]
    per = statistics.median(steps[1:] if len(steps) > 1 else steps)
    return per, (end[-1]["seconds"] if end else sum(steps)), len(steps)


def train(args, work, env):
    data, what = collection(args, work)
    model = model_folder(args, work)
    mined = os.path.join(work, "train-mined.jsonl")
    run_child([args.trawl_bin, "mine-negatives", args.scifact, "--split", "train", "--retriever", "bm25", "--num", "5",
               "--range", "10-100", "--margin", "0.05", "--out", mined], env)
    if args.path_steps:
        rows = []
        for name, extra in (("packed CPU", []), ("candle autograd", ["--autograd"])):
            per, _, n = train_run(args, model, mined, os.path.join(work, "path-trial"), env,
                                  ["--max-steps", str(args.path_steps)] + extra)
            rows.append((name, per, n))
            log(f"{name}: {per:.1f} s/step ({n} steps); {load_avg()}")
        print(f"training path, all-mpnet-base-v2, batch {args.train_batch} triplets, max length {args.train_max_seq_len}: "
              + "; ".join(f"{n} {p:.1f} s/step" for n, p, _ in rows)
              + f"; autograd/packed {rows[1][1] / rows[0][1]:.2f}x; {load_avg()}")
    tuned = os.path.join(work, "mpnet-scifact")
    extra = ["--max-steps", str(args.train_steps)] if args.train_steps else []
    log(f"training: {' '.join(extra) or 'one epoch'}; {load_avg()}")
    per, wall, steps = train_run(args, model, mined, tuned, env, extra)
    log(f"trained {steps} steps in {wall:.0f} s; {load_avg()}")
    # sentence-transformers loads the saved folder unchanged and agrees with trawl encode.
    sample = os.path.join(work, "check-passages.jsonl")
    with open(sample, "w", encoding="utf-8") as f:
        for d in read_jsonl(os.path.join(args.scifact, "corpus.jsonl"))[:8]:
            f.write(json.dumps({"_id": d["_id"], "text": (d.get("title", "") + " " + d["text"]).strip()}) + "\n")
    run_child([args.trawl_bin, "encode", tuned, sample, "--out", os.path.join(work, "tuned-trawl.npy")], env)
    run_child([sys.executable, os.path.join(HERE, "dense.py"), "--child", "st", "--input", sample, "--out",
               os.path.join(work, "tuned-st.npy"), "--model", tuned, "--batch-size", "8", "--max-seq-len",
               # The saved folder's own truncation (the model's 384, or --max-seq-len), as trawl reads it.
               str(json.load(open(os.path.join(tuned, "sentence_bert_config.json")))["max_seq_length"]),
               "--threads", str(args.threads)], env)
    a, b = np.load(os.path.join(work, "tuned-trawl.npy")), np.load(os.path.join(work, "tuned-st.npy"))
    cos = float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())
    kb_base = os.path.join(work, "kb-" + os.path.basename(data) + "-" + os.path.basename(model))
    base, _ = trawl_beir(args, data, model, kb_base, env, rebuild=False)
    tuned_m, _ = trawl_beir(args, data, tuned, os.path.join(work, "kb-tuned"), env, rebuild=True)
    gain = tuned_m["ndcg@10"] - base["ndcg@10"]
    print(f"fine-tuning all-mpnet-base-v2 with trawl train on scifact train ({steps} steps of {args.train_batch} "
          f"(query, positive, hard negative) triplets, max length {args.train_max_seq_len}, lr 2e-5): "
          f"{wall:.0f} s, {per:.1f} s/step; {load_avg()}")
    print(f"  {what}, trawl beir --retriever dense:")
    print(f"  base        nDCG@10 {base['ndcg@10']:.4f}  Recall@100 {base['recall@100']:.4f}")
    print(f"  fine-tuned  nDCG@10 {tuned_m['ndcg@10']:.4f}  Recall@100 {tuned_m['recall@100']:.4f}  ({gain:+.4f})")
    print(f"  sentence-transformers loads the saved folder: min cosine vs trawl encode {cos:.6f} "
          f"({'OK' if cos >= 0.9999 else 'FAIL'})")
    return gain > 0 and cos >= 0.9999


def speed(args, work, env):
    docs = read_jsonl(os.path.join(args.scifact, "corpus.jsonl"))[: args.passages]
    sample = os.path.join(work, f"passages-{len(docs)}.jsonl")
    with open(sample, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"_id": d["_id"], "text": (d.get("title", "") + " " + d["text"]).strip()}) + "\n")
    length = args.max_seq_len or json.load(open(os.path.join(args.model, "sentence_bert_config.json")))["max_seq_length"]
    before = load_avg()
    dense = [sys.executable, os.path.join(HERE, "dense.py")]
    trawl_pps, st_pps = [], []
    for r in range(args.repeats):
        out, _, _ = run_child([args.trawl_bin, "encode", args.model, sample, "--out", os.path.join(work, "trawl.npy"),
                               "--batch-size", str(args.batch_size), "--max-seq-len", str(length), "--json"], env)
        trawl_pps.append(len(docs) / json.loads(out.strip().splitlines()[-1])["encode_seconds"])
        out, _, _ = run_child(dense + ["--child", "st", "--input", sample, "--out", os.path.join(work, "st.npy"),
                                       "--model", args.model, "--batch-size", str(args.batch_size),
                                       "--max-seq-len", str(length), "--threads", str(args.threads)], env)
        st_pps.append(len(docs) / json.loads(out.strip().splitlines()[-1])["encode_seconds"])
        log(f"round {r + 1}: trawl {trawl_pps[-1]:.2f} passages/s, sentence-transformers {st_pps[-1]:.2f} passages/s")
    a, b = np.load(os.path.join(work, "trawl.npy")), np.load(os.path.join(work, "st.npy"))
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    tm, sm = statistics.median(trawl_pps), statistics.median(st_pps)
    print(f"encoding, all-mpnet-base-v2: {len(docs)} scifact passages, batch {args.batch_size}, max length {length}, "
          f"{args.threads} threads, {args.repeats} alternating rounds")
    print(f"  trawl encode (fused CPU)           {tm:8.2f} passages/s (median)")
    print(f"  sentence-transformers (PyTorch)    {sm:8.2f} passages/s (median)")
    print(f"  ratio trawl/ST {tm / sm:.2f}x (per round: {', '.join(f'{x / y:.2f}' for x, y in zip(trawl_pps, st_pps))}; "
          f"goal >= 1.0x); min cosine trawl vs ST {cos.min():.6f}")
    print(f"  {before} (before), {load_avg()} (after)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scifact", default=os.path.join(os.path.dirname(ROOT), "shared", "data", "beir", "scifact"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "all-mpnet-base-v2"))
    ap.add_argument("--trawl-bin", default=os.environ.get("TRAWL_BIN", os.path.join(ROOT, "target", "release", "trawl")))
    ap.add_argument("--only", choices=["ndcg", "speed", "train"])
    ap.add_argument("--train-steps", type=int, default=0, help="stop fine-tuning after N steps (0: one epoch)")
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--train-max-seq-len", type=int, default=128)
    ap.add_argument("--path-steps", type=int, default=0, help="compare packed and autograd over N steps first")
    ap.add_argument("--docs", type=int, default=0, help="evaluate on a subset of this many documents (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-seq-len", type=int, default=0, help="truncation for both sides (0: the model's)")
    ap.add_argument("--passages", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", default=None, help="keep subsets, KBs and vectors here (default: a temp dir)")
    ap.add_argument("--child", choices=["st-ndcg"])
    ap.add_argument("--data")
    args = ap.parse_args()
    if args.child == "st-ndcg":
        return st_ndcg_child(args)
    args.model = os.path.abspath(args.model)
    for path, what in ((args.trawl_bin, "cargo build --release -p trawl-cli"),
                       (os.path.join(args.model, "config.json"), "scripts/get-model.sh mpnet")):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: run {what}")
    import tempfile
    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="trawl-mpnet-")
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    ok = True
    if args.only in (None, "ndcg"):
        ok = ndcg(args, work, env)
    if args.only in (None, "speed"):
        speed(args, work, env)
    if args.only in (None, "train"):
        ok = train(args, work, env) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
