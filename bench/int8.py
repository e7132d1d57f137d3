#!/usr/bin/env python3
"""int8 encoding benchmark, one run: trawl f32, trawl --quantize int8, sentence-transformers f32
(PyTorch CPU) and ONNX Runtime's dynamically quantised all-MiniLM-L6-v2 (per-channel int8
weights, MatMul only: the settings that kept quality; ORT's defaults lost too much).

Run through bench/int8.sh (builds the release binary). Every system encodes the same N scifact
passages ("title text") with the same batch size and max length on the same number of threads,
each in its own process, in R alternating rounds; medians are reported. Then each encodes the
whole scifact corpus and the test queries once for nDCG@10 (exact inner-product search in numpy,
scored by pytrec_eval) and mean cosine to trawl f32's vectors.
The ONNX model is exported (torch.onnx, legacy exporter) and quantised (onnxruntime.quantization
.quantize_dynamic, per_channel=True, op_types_to_quantize=['MatMul']) into bench/out/ once.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAWL = os.environ.get("TRAWL_BIN", os.path.join(ROOT, "target", "bench-int8", "trawl"))
MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
if not os.path.exists(MODEL):
    MODEL = os.path.join(os.path.dirname(ROOT), "main", "models", "all-MiniLM-L6-v2")
SYSTEMS = ["trawl f32", "trawl int8", "ST f32", "ORT int8"]


def run_child(cmd, env):
    p = subprocess.run(cmd, capture_output=True, env=env)
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr.decode()[-3000:]}")
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


def read_texts(path):
    return [json.loads(l)["text"] for l in open(path, encoding="utf-8")]


def st_child(args):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    texts = read_texts(args.input)
    model = SentenceTransformer(args.model, device="cpu")
    model.max_seq_length = args.max_seq_len
    model.encode(texts[: args.batch_size], batch_size=args.batch_size)  # warm-up
    t = time.perf_counter()
    emb = model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True)
    secs = time.perf_counter() - t
    np.save(args.out, emb.astype(np.float32))
    print(json.dumps({"encode_seconds": secs}))


def onnx_int8_path(model_dir, out_dir):
    """Exports the model to ONNX and quantises it dynamically (cached in out_dir)."""
    fp32 = os.path.join(out_dir, "minilm-fp32.onnx")
    int8 = os.path.join(out_dir, "minilm-int8-per-channel-matmul.onnx")
    if os.path.exists(int8):
        return int8
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    enc = tok(["a first sentence", "and a second, longer one"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "seq"}
    class Encoder(torch.nn.Module):  # keyword arguments: transformers 5's forward has others first
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state

    with torch.no_grad():
        torch.onnx.export(Encoder(model), tuple(enc[n] for n in names), fp32, input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17,
                          dynamo=False)
    quantize_dynamic(fp32, int8, per_channel=True, op_types_to_quantize=["MatMul"],
                     weight_type=QuantType.QInt8)
    return int8


def ort_child(args):
    import onnxruntime as ort
    from transformers import AutoTokenizer

    texts = read_texts(args.input)
    tok = AutoTokenizer.from_pretrained(args.model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])

    def encode(batch_texts):
        # Longest first, as sentence-transformers does, so each batch pads little.
        order = sorted(range(len(batch_texts)), key=lambda i: -len(batch_texts[i]))
        out = np.zeros((len(batch_texts), 384), dtype=np.float32)
        for s in range(0, len(order), args.batch_size):
            idx = order[s : s + args.batch_size]
            enc = tok([batch_texts[i] for i in idx], padding=True, truncation=True,
                      max_length=args.max_seq_len, return_tensors="np")
            feed = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
            hidden = sess.run(None, feed)[0]
            mask = feed["attention_mask"][:, :, None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[idx] = pooled
        return out

    encode(texts[: args.batch_size])  # warm-up
    t = time.perf_counter()
    emb = encode(texts)
    secs = time.perf_counter() - t
    np.save(args.out, emb)
    print(json.dumps({"encode_seconds": secs}))


def encode_cmd(system, args, inp, out, onnx):
    me = [sys.executable, os.path.abspath(__file__)]
    common = ["--batch-size", str(args.batch_size), "--max-seq-len", str(args.max_seq_len)]
    if system.startswith("trawl"):
        q = ["--quantize", "int8"] if system == "trawl int8" else []
        return [TRAWL, "encode", args.model, inp, "--out", out, "--json"] + common + q
    child = ["--child", "st" if system == "ST f32" else "ort", "--input", inp, "--out", out, "--model", args.model,
             "--threads", str(args.threads), "--onnx", onnx or ""]
    return me + child + common


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for _id, text in rows:
            f.write(json.dumps({"_id": _id, "text": text}) + "\n")


def ndcg10(qids, dids, q, d, qrels):
    import pytrec_eval

    scores = q @ d.T
    top = np.argsort(-scores, axis=1)[:, :100]
    run = {qid: {dids[j]: float(scores[i, j]) for j in top[i]} for i, qid in enumerate(qids)}
    ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"})
    per = ev.evaluate(run)
    return float(np.mean([per[qid]["ndcg_cut_10"] if qid in per else 0.0 for qid in qids]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scifact", default=os.path.join(os.path.dirname(ROOT), "shared", "data", "beir", "scifact"))
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--passages", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-seq-len", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="alternating encode rounds")
    ap.add_argument("--skip-ndcg", action="store_true", help="speed and cosine only")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", choices=["st", "ort"])
    ap.add_argument("--input")
    ap.add_argument("--out")
    ap.add_argument("--onnx")
    args = ap.parse_args()
    if args.child == "st":
        return st_child(args)
    if args.child == "ort":
        return ort_child(args)

    out_dir = os.path.join(ROOT, "bench", "out")
    os.makedirs(out_dir, exist_ok=True)
    onnx = onnx_int8_path(args.model, out_dir)
    work = tempfile.mkdtemp(prefix="trawl-int8-")
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    docs = [json.loads(l) for l in open(os.path.join(args.scifact, "corpus.jsonl"), encoding="utf-8")]
    corpus = [(d["_id"], (d.get("title", "") + " " + d["text"]).strip()) for d in docs]
    sample_path = os.path.join(work, "sample.jsonl")
    write_jsonl(sample_path, corpus[: args.passages])

    rates = {s: [] for s in SYSTEMS}
    for r in range(args.repeats):
        for s in SYSTEMS:
            t = run_child(encode_cmd(s, args, sample_path, os.path.join(work, f"{s}.npy".replace(" ", "_")), onnx), env)
            rates[s].append(args.passages / t["encode_seconds"])
        print(f"  round {r + 1}: " + ", ".join(f"{s} {rates[s][-1]:.1f}/s" for s in SYSTEMS), file=sys.stderr)
    vecs = {s: np.load(os.path.join(work, f"{s}.npy".replace(" ", "_"))) for s in SYSTEMS}

    def mean_cos(a, b):
        return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).mean())

    med = {s: statistics.median(v) for s, v in rates.items()}
    res = {"passages": args.passages, "batch_size": args.batch_size, "max_seq_len": args.max_seq_len,
           "threads": args.threads, "repeats": args.repeats, "load_average": os.getloadavg(), "systems": {}}
    for s in SYSTEMS:
        res["systems"][s] = {
            "passages_per_s": med[s], "per_round": rates[s],
            "mean_cosine_to_trawl_f32": mean_cos(vecs[s], vecs["trawl f32"]),
            "mean_cosine_to_st_f32": mean_cos(vecs[s], vecs["ST f32"]),
        }
    res["ratios"] = {
        "trawl int8 / ST f32": med["trawl int8"] / med["ST f32"],
        "trawl int8 / ORT int8": med["trawl int8"] / med["ORT int8"],
        "trawl int8 / trawl f32": med["trawl int8"] / med["trawl f32"],
        "ORT int8 / ST f32": med["ORT int8"] / med["ST f32"],
        "per round trawl int8 / ORT int8": [a / b for a, b in zip(rates["trawl int8"], rates["ORT int8"])],
        "per round trawl int8 / ST f32": [a / b for a, b in zip(rates["trawl int8"], rates["ST f32"])],
    }

    if not args.skip_ndcg:
        qrels = {}
        for line in open(os.path.join(args.scifact, "qrels", "test.tsv"), encoding="utf-8").read().splitlines()[1:]:
            qid, did, rel = line.split("\t")
            qrels.setdefault(qid, {})[did] = int(rel)
        queries = [json.loads(l) for l in open(os.path.join(args.scifact, "queries.jsonl"), encoding="utf-8")]
        queries = [(q["_id"], q["text"]) for q in queries if q["_id"] in qrels]
        cpath, qpath = os.path.join(work, "corpus.jsonl"), os.path.join(work, "queries.jsonl")
        write_jsonl(cpath, corpus)
        write_jsonl(qpath, queries)
        full = {}
        for s in SYSTEMS:
            print(f"  {s}: encoding the scifact corpus ({len(corpus)}) and {len(queries)} queries ...", file=sys.stderr)
            d_out, q_out = os.path.join(work, "full_d.npy"), os.path.join(work, "full_q.npy")
            run_child(encode_cmd(s, args, cpath, d_out, onnx), env)
            run_child(encode_cmd(s, args, qpath, q_out, onnx), env)
            full[s] = (np.load(d_out), np.load(q_out))
            res["systems"][s]["scifact_ndcg@10"] = ndcg10([q for q, _ in queries], [d for d, _ in corpus],
                                                          full[s][1], full[s][0], qrels)
        for s in SYSTEMS:
            res["systems"][s]["scifact_corpus_mean_cosine_to_trawl_f32"] = mean_cos(full[s][0], full["trawl f32"][0])

    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(f"int8 benchmark: scifact, all-MiniLM-L6-v2, {args.passages} passages, batch {args.batch_size}, "
          f"max_seq_len {args.max_seq_len}, {args.threads} threads, median of {args.repeats} alternating rounds, "
          f"load average {' '.join(f'{x:.2f}' for x in res['load_average'])}")
    print(f"{'system':<12} {'passages/s':>11} {'cos to f32':>11} {'cos to ST':>10} {'nDCG@10':>8}")
    for s in SYSTEMS:
        r = res["systems"][s]
        nd = r.get("scifact_ndcg@10")
        print(f"{s:<12} {r['passages_per_s']:>11.1f} {r['mean_cosine_to_trawl_f32']:>11.4f} "
              f"{r['mean_cosine_to_st_f32']:>10.4f} {'' if nd is None else f'{nd:.4f}':>8}")
    ra = res["ratios"]
    print(f"trawl int8 / ST f32:   {ra['trawl int8 / ST f32']:.2f}x (goal >= 2)")
    print(f"trawl int8 / ORT int8: {ra['trawl int8 / ORT int8']:.2f}x (goal >= 1.0)")
    print(f"trawl int8 / trawl f32: {ra['trawl int8 / trawl f32']:.2f}x; ORT int8 / ST f32: {ra['ORT int8 / ST f32']:.2f}x")
    if not args.skip_ndcg:
        d = res["systems"]["trawl int8"]["scifact_ndcg@10"] - res["systems"]["trawl f32"]["scifact_ndcg@10"]
        print(f"scifact nDCG@10 trawl int8 - trawl f32: {d:+.4f} (goal within 0.005); "
              f"corpus mean cosine int8 to f32: {res['systems']['trawl int8']['scifact_corpus_mean_cosine_to_trawl_f32']:.4f}")


if __name__ == "__main__":
    main()
