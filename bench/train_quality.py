#!/usr/bin/env python3
"""Fine-tuning quality: does `trawl train` reach sentence-transformers' quality on the same recipe?

Usage (from the repository root, after scripts/get-model.sh, cargo build --release -p trawl-cli and
bench/setup.sh train):
    bench/train_quality.sh [--epochs 3] [--max-steps N] [--keep DIR] [--trawl-bin PATH]

One run:
  1. mines BM25 hard negatives for scifact's train split with `trawl mine-negatives` (the README's
     command: --num 5 --range 10-100 --margin 0.05);
  2. keeps one (query, positive, first negative) triplet per mined line that has a negative, and
     gives the same triplets to both trainers (JSONL for trawl, a datasets.Dataset for ST);
  3. trains all-MiniLM-L6-v2 with sentence-transformers (CPU): MultipleNegativesRankingLoss (scale
     20), AdamW lr 2e-5, 10% linear warmup, weight decay 0.01, batch 32 (no-duplicates batch
     sampler, last partial batch dropped), max_seq_length 128, seed 42;
  4. trains the same base model with `trawl train` and the same settings (--max-negatives 1, no
     evaluation during training);
  5. evaluates the base model and both trained models with the same evaluator,
     `trawl beir scifact --retriever dense` (test split), so only the trainer differs;
  6. prints nDCG@10, Recall@100, median seconds per optimizer step (first step excluded) and the
     training-loop wall time of each, then the trawl/ST step-time ratio and the nDCG@10 gap.
The machine is shared: quote the ratio, not absolute times. Exits non-zero if any step fails.
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


def log(msg):
    print(f"[train_quality {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, what, log_path=None):
    """Runs cmd; returns its stdout. On failure prints the tail of its output and exits 1."""
    log(f"{what}: {' '.join(cmd)}")
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if log_path:
        with open(log_path, "w", encoding="utf-8") as f:
            f.write(res.stdout + "\n--- stderr ---\n" + res.stderr)
    if res.returncode != 0:
        tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-30:])
        print(f"FAIL: {what} exited with {res.returncode}:\n{tail}", file=sys.stderr)
        sys.exit(1)
    log(f"{what}: done in {wall:.0f} s")
    return res.stdout, wall


def build_triplets(mined_path, out_path):
    """One (query, positive, first negative) per mined line with a negative; writes trawl's JSONL."""
    lines = [json.loads(l) for l in open(mined_path, encoding="utf-8") if l.strip()]
    triplets = [(d["query"], d["positive"], d["negatives"][0]) for d in lines if d.get("negatives")]
    with open(out_path, "w", encoding="utf-8") as f:
        for q, p, n in triplets:
            f.write(json.dumps({"query": q, "positive": p, "negatives": [n]}) + "\n")
    return len(lines), triplets


def median_steps(secs):
    s = secs[1:] if len(secs) > 1 else secs
    return statistics.median(s) if s else float("nan")


def train_sentence_transformers(model_dir, triplets, out_dir, run_dir, epochs, max_steps, batch, max_len):
    import torch
    import transformers
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    try:
        from sentence_transformers.sentence_transformer import losses
        from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
        from sentence_transformers.sentence_transformer.training_args import (
            BatchSamplers, SentenceTransformerTrainingArguments)
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers import losses
        from sentence_transformers.trainer import SentenceTransformerTrainer
        from sentence_transformers.training_args import BatchSamplers, SentenceTransformerTrainingArguments
    from transformers import TrainerCallback

    torch.manual_seed(42)
    model = SentenceTransformer(model_dir, device="cpu")
    model.max_seq_length = max_len
    ds = Dataset.from_dict({"anchor": [t[0] for t in triplets], "positive": [t[1] for t in triplets],
                            "negative": [t[2] for t in triplets]})
    times = []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.t)
            if state.global_step == 1 or state.global_step % 10 == 0:
                log(f"ST step {state.global_step}/{state.max_steps}: {times[-1]:.2f} s")

    # Transformers v5 deprecates warmup_ratio in favour of a float warmup_steps (same meaning).
    if int(transformers.__version__.split(".")[0]) >= 5:
        warmup = {"warmup_steps": 0.1}
    else:
        warmup = {"warmup_ratio": 0.1}
    args = SentenceTransformerTrainingArguments(
        output_dir=run_dir, num_train_epochs=epochs, max_steps=max_steps if max_steps else -1,
        per_device_train_batch_size=batch, learning_rate=2e-5, weight_decay=0.01, seed=42,
        use_cpu=True, save_strategy="no", report_to=[], dataloader_drop_last=True, logging_steps=10,
        disable_tqdm=True, batch_sampler=BatchSamplers.NO_DUPLICATES, **warmup,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                         loss=losses.MultipleNegativesRankingLoss(model), callbacks=[Timer()])
    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0
    model.save(out_dir)
    total = trainer.state.max_steps
    info = {"steps": trainer.state.global_step, "warmup_steps": args.get_warmup_steps(total),
            "sampler": str(args.batch_sampler)}
    return times, wall, info


def train_trawl(trawl_bin, model_dir, data, out_dir, epochs, max_steps, batch, max_len, tmp):
    run_dir = out_dir + ".run"
    for d in (out_dir, run_dir):  # train_log.jsonl is appended to: start clean
        shutil.rmtree(d, ignore_errors=True)
    cmd = [trawl_bin, "train", "--model", model_dir, "--data", data, "--out", out_dir,
           "--epochs", str(epochs), "--batch-size", str(batch), "--max-negatives", "1",
           "--max-seq-len", str(max_len), "--lr", "2e-5", "--warmup-ratio", "0.1",
           "--weight-decay", "0.01", "--seed", "42", "--json"]
    if max_steps:
        cmd += ["--max-steps", str(max_steps)]
    _, proc_wall = run(cmd, "trawl train", os.path.join(tmp, "trawl-train.log"))
    events = [json.loads(l) for l in open(os.path.join(run_dir, "train_log.jsonl"), encoding="utf-8") if l.strip()]
    times = [e["seconds"] for e in events if e.get("event") == "step"]
    end = [e for e in events if e.get("event") == "end"]
    start = [e for e in events if e.get("event") == "start"]
    wall = end[-1]["seconds"] if end else proc_wall
    total = start[-1]["total_steps"] if start else len(times)
    return times, wall, {"steps": len(times), "warmup_steps": round(total * 0.1), "process_wall": proc_wall}


def evaluate(trawl_bin, scifact, model_dir, kb_dir, name, tmp):
    """nDCG@10 and Recall@100 of `trawl beir --retriever dense`, or (None, error text) on failure."""
    shutil.rmtree(kb_dir, ignore_errors=True)
    cmd = [trawl_bin, "beir", scifact, "--retriever", "dense", "--model", model_dir, "--kb-dir", kb_dir, "--json"]
    log(f"evaluate {name}: {' '.join(cmd)}")
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    with open(os.path.join(tmp, f"beir-{name}.log"), "w", encoding="utf-8") as f:
        f.write(res.stdout + "\n--- stderr ---\n" + res.stderr)
    if res.returncode != 0:
        err = "\n".join(res.stderr.strip().splitlines()[-15:])
        print(f"FAIL: trawl beir on the {name} model exited with {res.returncode}:\n{err}", file=sys.stderr)
        return None, err
    out = json.loads(res.stdout)
    m = {k.lower(): v for k, v in out["metrics"].items()}
    log(f"evaluate {name}: done in {time.perf_counter() - t0:.0f} s: {m}")
    return (m["ndcg@10"], m["recall@100"]), None


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(root, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--scifact", default=os.path.join(os.path.dirname(root), "shared", "data", "beir", "scifact"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=None, help="stop both trainers after N optimizer steps (smoke test)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-seq-len", type=int, default=128)
    ap.add_argument("--trawl-bin", default=os.path.join(root, "target", "release", "trawl"))
    ap.add_argument("--keep", default=None, help="keep data, models and logs in DIR instead of a temporary folder")
    args = ap.parse_args()
    model_dir = os.path.abspath(args.model)
    if not os.path.isfile(args.trawl_bin):
        sys.exit(f"no trawl binary at {args.trawl_bin}: cargo build --release -p trawl-cli")

    if args.keep:
        tmp = os.path.abspath(args.keep)
        os.makedirs(tmp, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="trawl-train-quality-")
    try:
        failed = main_in(args, model_dir, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed else 0)


def main_in(args, model_dir, tmp):
    t_all = time.perf_counter()
    # 1. Hard negatives, exactly as the README mines them.
    mined = os.path.join(tmp, "train.jsonl")
    run([args.trawl_bin, "mine-negatives", args.scifact, "--split", "train", "--retriever", "bm25", "--num", "5",
         "--range", "10-100", "--margin", "0.05", "--out", mined], "mine-negatives")

    # 2. One shared set of triplets.
    data = os.path.join(tmp, "triplets.jsonl")
    n_lines, triplets = build_triplets(mined, data)
    print(f"mined {n_lines} (query, positive) lines; {len(triplets)} have a hard negative and form the shared "
          f"training set ({n_lines - len(triplets)} without one dropped for both trainers)", flush=True)

    # 3. sentence-transformers.
    log("training sentence-transformers")
    st_out = os.path.join(tmp, "st-model")
    st_times, st_wall, st_info = train_sentence_transformers(
        model_dir, triplets, st_out, os.path.join(tmp, "st-run"), args.epochs, args.max_steps,
        args.batch_size, args.max_seq_len)
    log(f"ST: {st_info['steps']} steps in {st_wall:.0f} s (sampler {st_info['sampler']})")

    # 4. trawl.
    trawl_out = os.path.join(tmp, "trawl-model")
    tr_times, tr_wall, tr_info = train_trawl(args.trawl_bin, model_dir, data, trawl_out, args.epochs,
                                             args.max_steps, args.batch_size, args.max_seq_len, tmp)
    log(f"trawl: {tr_info['steps']} steps in {tr_wall:.0f} s")

    # 5. Same evaluator for all three.
    results, errors = {}, {}
    for name, d in (("base", model_dir), ("sentence-transformers", st_out), ("trawl", trawl_out)):
        results[name], errors[name] = evaluate(args.trawl_bin, args.scifact, d, os.path.join(tmp, f"kb-{name}"), name, tmp)

    with open(os.path.join(tmp, "step_seconds.json"), "w", encoding="utf-8") as f:
        json.dump({"sentence-transformers": st_times, "trawl": tr_times}, f)

    # 6. Table.
    def fmt(v, spec):
        return "failed" if v is None else format(v, spec)

    rows = [("base (all-MiniLM-L6-v2)", results["base"], None, None, None),
            ("sentence-transformers", results["sentence-transformers"], median_steps(st_times), st_wall, st_info["steps"]),
            ("trawl", results["trawl"], median_steps(tr_times), tr_wall, tr_info["steps"])]
    print()
    print(f"scifact test, dense retrieval evaluated by `trawl beir`; trained on {len(triplets)} shared triplets, "
          f"{args.epochs} epochs" + (f", max {args.max_steps} steps" if args.max_steps else "")
          + f", batch {args.batch_size}, max_seq_len {args.max_seq_len}")
    print(f"{'model':26}{'nDCG@10':>9}{'Recall@100':>12}{'steps':>7}{'s/step':>9}{'train s':>9}")
    for name, r, sps, wall, steps in rows:
        nd = fmt(r[0] if r else None, ".4f")
        rc = fmt(r[1] if r else None, ".4f")
        print(f"{name:26}{nd:>9}{rc:>12}{fmt(steps, 'd') if steps is not None else '-':>7}"
              f"{fmt(sps, '.2f') if sps is not None else '-':>9}{fmt(wall, '.0f') if wall is not None else '-':>9}")
    print(f"s/step: median over optimizer steps, first step excluded; train s: training loop only "
          f"(trawl process incl. model load: {tr_info['process_wall']:.0f} s). Warmup steps: "
          f"ST {st_info['warmup_steps']}, trawl {tr_info['warmup_steps']}.")
    if tr_info["steps"] != st_info["steps"]:
        print(f"note: step counts differ (ST drops the last partial batch of each epoch; trawl "
              f"{'keeps it' if tr_info['steps'] > st_info['steps'] else 'took fewer steps'}).")
    ratio = median_steps(tr_times) / median_steps(st_times)
    print(f"ratio trawl/sentence-transformers s/step: {ratio:.2f}x (lower is better for trawl)")
    if results["trawl"] and results["sentence-transformers"]:
        d_nd = results["trawl"][0] - results["sentence-transformers"][0]
        d_rc = results["trawl"][1] - results["sentence-transformers"][1]
        print(f"nDCG@10 trawl - sentence-transformers: {d_nd:+.4f} (Recall@100 {d_rc:+.4f})")
    if results["base"]:
        for name in ("sentence-transformers", "trawl"):
            if results[name]:
                print(f"nDCG@10 gain over base, {name}: {results[name][0] - results['base'][0]:+.4f}")
    print(f"total wall time: {time.perf_counter() - t_all:.0f} s" + (f"; files kept in {tmp}" if args.keep else ""))
    for name, err in errors.items():
        if err:
            print(f"FAIL: evaluating the {name} model failed (see above)", file=sys.stderr)
    return any(errors.values())


if __name__ == "__main__":
    main()
