#!/usr/bin/env python3
"""Fine-tuning step time: trawl (packed CPU kernels) vs sentence-transformers (PyTorch, CPU), same run.

Usage (from the repository root, after scripts/get-model.sh and bench/setup.sh train):
    bench/train.sh [--steps 5] [--batch-size 32] [--max-seq-len 128]

Both sides train all-MiniLM-L6-v2 with MultipleNegativesRankingLoss (scale 20), AdamW lr 2e-5,
10% linear warmup, on the same (query, positive) pairs from scifact's train split, and report the
median seconds per optimizer step (the first step is excluded as warm-up when there are more than
2). The script then loads the folder trawl saved in sentence-transformers and checks that both
give the same embeddings. The machine is shared: quote the ratio, not absolute times.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def scifact_pairs(scifact, out_path):
    corpus = {}
    for line in open(os.path.join(scifact, "corpus.jsonl"), encoding="utf-8"):
        d = json.loads(line)
        corpus[d["_id"]] = (d.get("title", "") + " " + d["text"]).strip()
    queries = {json.loads(l)["_id"]: json.loads(l)["text"] for l in open(os.path.join(scifact, "queries.jsonl"), encoding="utf-8")}
    pairs = []
    for i, line in enumerate(open(os.path.join(scifact, "qrels", "train.tsv"), encoding="utf-8")):
        if i == 0:
            continue
        q, d, s = line.rstrip("\n").split("\t")
        if int(s) > 0:
            pairs.append((queries[q], corpus[d]))
    with open(out_path, "w", encoding="utf-8") as f:
        for q, p in pairs:
            f.write(json.dumps({"query": q, "positive": p}) + "\n")
    return pairs


def median_steps(secs):
    s = secs[1:] if len(secs) > 2 else secs
    return statistics.median(s)


def run_sentence_transformers(model_dir, pairs, steps, batch, max_len):
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    try:
        from sentence_transformers.sentence_transformer import losses
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers import losses
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments
    from transformers import TrainerCallback

    torch.manual_seed(42)
    model = SentenceTransformer(model_dir, device="cpu")
    model.max_seq_length = max_len
    ds = Dataset.from_dict({"anchor": [q for q, _ in pairs], "positive": [p for _, p in pairs]})
    times = []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.t)

    with tempfile.TemporaryDirectory() as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp, max_steps=steps, per_device_train_batch_size=batch, learning_rate=2e-5,
            warmup_ratio=0.1, weight_decay=0.01, logging_steps=1, save_strategy="no", report_to=[],
            use_cpu=True, seed=42, dataloader_drop_last=True,
        )
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                             loss=losses.MultipleNegativesRankingLoss(model), callbacks=[Timer()])
        trainer.train()
    return times


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(root, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--scifact", default=os.path.join(os.path.dirname(root), "shared", "data", "beir", "scifact"))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-seq-len", type=int, default=128)
    ap.add_argument("--trawl-bin", default=os.path.join(root, "target", "release", "examples", "train_bench"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "pairs.jsonl")
        pairs = scifact_pairs(args.scifact, data)
        out = os.path.join(tmp, "trawl-trained")
        res = subprocess.run([args.trawl_bin, args.model, data, out, str(args.steps), str(args.batch_size), str(args.max_seq_len)],
                             check=True, capture_output=True, text=True)
        trawl = json.loads(res.stdout.strip().splitlines()[-1])
        st_times = run_sentence_transformers(args.model, pairs, args.steps, args.batch_size, args.max_seq_len)

        from sentence_transformers import SentenceTransformer
        ref = json.load(open(out + ".embeddings.json"))
        st_model = SentenceTransformer(out, device="cpu")
        vecs = st_model.encode(ref["texts"], convert_to_numpy=True)
        diff = max(abs(float(a) - float(b)) for v, r in zip(vecs, ref["embeddings"]) for a, b in zip(v, r))

    t_trawl, t_st = median_steps(trawl["step_seconds"]), median_steps(st_times)
    print(f"MNRL fine-tuning, all-MiniLM-L6-v2, batch {args.batch_size}, max_seq_len {args.max_seq_len}, {args.steps} steps")
    print(f"{'':28}{'s/step (median)':>16}")
    print(f"{'trawl (packed CPU)':28}{t_trawl:>16.2f}")
    print(f"{'sentence-transformers (CPU)':28}{t_st:>16.2f}")
    print(f"ratio trawl/sentence-transformers: {t_trawl / t_st:.2f}x (lower is better for trawl)")
    print(f"trawl-saved folder loaded in sentence-transformers: max |embedding diff| vs trawl = {diff:.2e}")
    if diff > 1e-4:
        print("FAIL: sentence-transformers does not reproduce trawl's embeddings of the saved folder", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
