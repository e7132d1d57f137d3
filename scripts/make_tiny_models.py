#!/usr/bin/env python3
"""Builds the tiny random encoders trawl-embed's architecture tests run (no PyTorch in CI: the
folders and their reference outputs are committed under crates/trawl-embed/tests/fixtures/).

Each model has hidden size 32, 2 layers, 4 heads and initializer_range 0.3 (transformers' default
0.02 makes every output nearly the same vector), a tokenizer trained here on a few sentences, and is
saved as a sentence-transformers folder (Transformer, Pooling[, Normalize]) with reference.json:
sentence-transformers' embeddings of TEXTS (batch 4: padding, truncation at max_seq_length 24 and
mixed lengths in each batch). The cross-encoders (BERT, XLM-R, DistilBERT) hold CrossEncoder.predict
scores of PAIRS instead; tiny-qwen3 (a decoder: GQA, RoPE, last-token pooling, a query prompt) holds
encode_document / encode_query vectors, padded on the left and on the right (see build_qwen3).

Usage (a venv with torch, transformers, sentence-transformers):
    bench/.venv/bin/python scripts/make_tiny_models.py [--only NAME] [--out crates/trawl-embed/tests/fixtures]
"""
import argparse
import json
import os
import shutil
import tempfile

import sentence_transformers
import torch
import transformers
from safetensors.torch import load_file, save_file
from sentence_transformers import CrossEncoder, SentenceTransformer, models
from tokenizers import Tokenizer, decoders, models as tmodels, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

CORPUS = [
    "the cat sat on the mat",
    "a quick brown fox jumps over the lazy dog",
    "dense retrieval embeds queries and passages",
    "BM25 counts terms and weighs rare ones higher",
    "what is the boiling point of water at sea level",
    "Proteins fold into shapes that decide what they do",
    "rain fell on the hills and the rivers rose",
    "who wrote the book about the whale",
]

TEXTS = [
    "the cat sat",
    "",
    "what is dense retrieval and why does it embed queries and passages into one space for search",
    "BM25",
    "Proteins fold; the rivers rose! 東京 🧬 café",
    "a quick brown fox jumps over the lazy dog and the cat sat on the mat while rain fell on the hills and the rivers rose again and again",
    "who wrote the book",
    "THE CAT SAT ON THE MAT",
    "water",
    "rain fell on the hills",
]

# (query, passage) pairs for the cross-encoders: pairs longer than MAX_SEQ tokens in all (the
# passage alone, the query alone, both), empty sides, and short pairs, mixed in each batch of 4.
PAIRS = [
    ("what is dense retrieval", "dense retrieval embeds queries and passages"),
    ("cat", "the cat sat on the mat"),
    ("who wrote the book about the whale", "a quick brown fox jumps over the lazy dog and the cat sat on the mat while rain fell on the hills and the rivers rose again"),
    ("BM25", ""),
    ("", "water"),
    ("what is the boiling point of water at sea level and why does it change on the hills when rain fell and the rivers rose", "water boils"),
    ("Proteins fold; 東京 🧬 café", "Proteins fold into shapes that decide what they do"),
    ("rain fell on the hills and the rivers rose and the cat sat on the mat", "a quick brown fox jumps over the lazy dog while BM25 counts terms and weighs rare ones higher"),
    ("THE CAT", "THE CAT SAT ON THE MAT"),
    ("rivers", "rain fell on the hills and the rivers rose"),
]

MAX_SEQ = 24
COMMON = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              initializer_range=0.3, max_position_embeddings=64)


def bpe_tokenizer():
    """Byte-level BPE with RoBERTa's specials: <s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=4."""
    tok = Tokenizer(tmodels.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=False)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", mask_token="<mask>", cls_token="<s>", sep_token="</s>")
    return fast


def bert_tokenizer(fast):
    """The WordPiece tokenizer as a `BertTokenizer` (the class real BERT folders name): unlike a
    generic tokenizer it gives the model token_type_ids, so a pair's second text is type 1."""
    return transformers.BertTokenizerFast(tokenizer_object=fast.backend_tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                          cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def wordpiece_tokenizer():
    """BERT-style WordPiece, lowercasing: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4."""
    tok = Tokenizer(tmodels.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=200, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")


def build(name, config, tokenizer, pooling, normalize, dtype, out_root):
    torch.manual_seed(sum(map(ord, name)))
    model = transformers.AutoModel.from_config(config).eval()
    if dtype != torch.float32:
        # Weights exactly representable in the stored dtype: the f32 reference then equals what
        # a reader of the f16/bf16 file computes.
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(dtype).to(torch.float32))
    with tempfile.TemporaryDirectory() as hf:
        model.save_pretrained(hf)
        tokenizer.save_pretrained(hf)
        word = models.Transformer(hf, max_seq_length=MAX_SEQ)
        mods = [word, models.Pooling(word.get_word_embedding_dimension(), pooling_mode=pooling)]
        if normalize:
            mods.append(models.Normalize())
        st = SentenceTransformer(modules=mods, device="cpu")
        dest = os.path.join(out_root, name)
        shutil.rmtree(dest, ignore_errors=True)
        st.save(dest)
    vecs = st.encode(TEXTS, batch_size=4, convert_to_numpy=True)
    weights = os.path.join(dest, "model.safetensors")
    if dtype != torch.float32:
        save_file({k: v.to(dtype) for k, v in load_file(weights).items()}, weights, metadata={"format": "pt"})
    for junk in ["README.md"]:
        if os.path.exists(os.path.join(dest, junk)):
            os.remove(os.path.join(dest, junk))
    ref = {
        "model_type": config.model_type,
        "dtype": str(dtype).replace("torch.", ""),
        "pooling": pooling,
        "normalize": normalize,
        "max_seq_length": MAX_SEQ,
        "batch_size": 4,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "texts": TEXTS,
        "embeddings": [[float(f"{x:.9g}") for x in v] for v in vecs],
    }
    with open(os.path.join(dest, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False)
    print(f"{name}: {config.model_type} {ref['dtype']} {pooling} -> {dest}")


def build_cross_encoder(name, config, tokenizer, activation, out_root):
    """A sequence-classification model with one label saved by CrossEncoder, and CrossEncoder's
    predict scores of PAIRS (batch 4) as reference.json. `activation`: None keeps CrossEncoder's
    default for one label (Sigmoid); a module is saved into the folder's config."""
    torch.manual_seed(sum(map(ord, name)))
    config.num_labels = 1
    model = transformers.AutoModelForSequenceClassification.from_config(config).eval()
    dest = os.path.join(out_root, name)
    with tempfile.TemporaryDirectory() as hf:
        model.save_pretrained(hf)
        tokenizer.save_pretrained(hf)
        ce = CrossEncoder(hf, max_length=MAX_SEQ, device="cpu", activation_fn=activation)
        shutil.rmtree(dest, ignore_errors=True)
        ce.save(dest)
    # Scores from the saved folder: what a user loading it gets.
    ce = CrossEncoder(dest, device="cpu")
    scores = ce.predict(PAIRS, batch_size=4, convert_to_numpy=True)
    logits = ce.predict(PAIRS, batch_size=4, convert_to_numpy=True, activation_fn=torch.nn.Identity())
    token_types = "token_type_ids" in ce.preprocess(PAIRS[:1])
    for junk in ["README.md"]:
        if os.path.exists(os.path.join(dest, junk)):
            os.remove(os.path.join(dest, junk))
    ref = {
        "architecture": type(ce.model).__name__ if hasattr(ce, "model") else config.architectures,
        "activation": type(ce.activation_fn).__name__,
        "token_type_ids": token_types,
        "max_length": MAX_SEQ,
        "batch_size": 4,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "pairs": PAIRS,
        "scores": [float(f"{x:.9g}") for x in scores],
        "logits": [float(f"{x:.9g}") for x in logits],
    }
    with open(os.path.join(dest, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False)
    print(f"{name}: {config.model_type} cross-encoder, {ref['activation']} -> {dest}")


QWEN3_PROMPT = "Instruct: Given a question, find passages that answer it\nQuery:"
QWEN3_MAX_SEQ = 32


def qwen3_tokenizer():
    """Byte-level BPE as Qwen3-Embedding's: <|endoftext|>=0 (its pad token, appended to every
    text by the post-processor, where last-token pooling reads), <|im_start|>=1, <|im_end|>=2
    (eos); pads on the left."""
    tok = Tokenizer(tmodels.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(CORPUS + [QWEN3_PROMPT], trainers.BpeTrainer(
        vocab_size=800, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.TemplateProcessing(single="$A <|endoftext|>", pair="$A <|endoftext|> $B:1 <|endoftext|>:1",
                                                       special_tokens=[("<|endoftext|>", 0)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   padding_side="left")


def build_qwen3(name, out_root):
    """A tiny random Qwen3 (grouped-query attention: 4 query heads share 2 key/value heads; q/k
    norms and layer norms perturbed from their all-ones initialisation) saved as
    Qwen3-Embedding's folder is laid out: Transformer, last-token Pooling, Normalize, and a query
    prompt in config_sentence_transformers.json. reference.json holds sentence-transformers'
    encode_document (no prompt) and encode_query (the prompt) of TEXTS in batches of 4, padded on
    the left as the tokenizer says, and encode_document again padded on the right."""
    torch.manual_seed(sum(map(ord, name)))
    tokenizer = qwen3_tokenizer()
    config = transformers.Qwen3Config(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, head_dim=8, intermediate_size=64, max_position_embeddings=64,
                                      initializer_range=0.3, rope_theta=10000.0, pad_token_id=0, eos_token_id=2)
    model = transformers.AutoModel.from_config(config).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.add_(0.3 * torch.randn_like(p))
            # bf16-exact weights (the file is bf16, like Qwen3-Embedding's).
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    dest = os.path.join(out_root, name)
    with tempfile.TemporaryDirectory() as hf:
        model.save_pretrained(hf)
        tokenizer.save_pretrained(hf)
        word = models.Transformer(hf, max_seq_length=QWEN3_MAX_SEQ)
        mods = [word, models.Pooling(word.get_word_embedding_dimension(), pooling_mode="lasttoken"), models.Normalize()]
        st = SentenceTransformer(modules=mods, device="cpu", prompts={"query": QWEN3_PROMPT, "document": ""})
        shutil.rmtree(dest, ignore_errors=True)
        st.save(dest)
    st = SentenceTransformer(dest, device="cpu")
    assert st.tokenizer.padding_side == "left", st.tokenizer.padding_side
    docs = st.encode_document(TEXTS, batch_size=4, convert_to_numpy=True)
    queries = st.encode_query(TEXTS, batch_size=4, convert_to_numpy=True)
    lengths = [len(st.tokenize([t])["input_ids"][0]) for t in TEXTS]
    query_lengths = [len(st.tokenize([QWEN3_PROMPT + t])["input_ids"][0]) for t in TEXTS]
    st.tokenizer.padding_side = "right"
    docs_right = st.encode_document(TEXTS, batch_size=4, convert_to_numpy=True)
    weights = os.path.join(dest, "model.safetensors")
    save_file({k: v.to(torch.bfloat16) for k, v in load_file(weights).items()}, weights, metadata={"format": "pt"})
    for junk in ["README.md", "chat_template.jinja"]:
        if os.path.exists(os.path.join(dest, junk)):
            os.remove(os.path.join(dest, junk))
    rows = lambda vecs: [[float(f"{x:.9g}") for x in v] for v in vecs]
    ref = {
        "model_type": config.model_type,
        "dtype": "bfloat16",
        "pooling": "lasttoken",
        "normalize": True,
        "max_seq_length": QWEN3_MAX_SEQ,
        "batch_size": 4,
        "query_prompt": QWEN3_PROMPT,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "texts": TEXTS,
        "token_counts": lengths,
        "query_token_counts": query_lengths,
        "embeddings": rows(docs),
        "query_embeddings": rows(queries),
        "embeddings_right_padding": rows(docs_right),
    }
    with open(os.path.join(dest, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False)
    print(f"{name}: qwen3 bf16 lasttoken, token counts {lengths}, query {query_lengths} -> {dest}")


def minilm_cross_encoder(tokenizer_dir, dest):
    """A randomly initialised cross-encoder of cross-encoder/ms-marco-MiniLM-L-6-v2's shape (BERT,
    hidden 384, 6 layers, 12 heads, max length 512) with a real WordPiece tokenizer, for the
    reranking speed benchmark (bench/rerank.sh): no such model is packaged on PyPI, and speed
    does not depend on the weights' values."""
    torch.manual_seed(0)
    tok = transformers.AutoTokenizer.from_pretrained(tokenizer_dir)
    config = transformers.BertConfig(vocab_size=len(tok), hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                                     intermediate_size=1536, max_position_embeddings=512, num_labels=1)
    model = transformers.AutoModelForSequenceClassification.from_config(config).eval()
    with tempfile.TemporaryDirectory() as hf:
        model.save_pretrained(hf)
        tok.save_pretrained(hf)
        ce = CrossEncoder(hf, max_length=512, device="cpu")
        shutil.rmtree(dest, ignore_errors=True)
        ce.save(dest)
    print(f"random MiniLM-sized cross-encoder -> {dest}")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(root, "crates", "trawl-embed", "tests", "fixtures"))
    ap.add_argument("--minilm-cross-encoder", metavar="DIR",
                    help="only write a random MiniLM-sized cross-encoder to DIR (tokenizer from --tokenizer)")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="only (re)build these fixtures (e.g. tiny-qwen3)")
    ap.add_argument("--tokenizer", default=os.path.join(root, "models", "all-MiniLM-L6-v2"))
    args = ap.parse_args()
    if args.minilm_cross_encoder:
        minilm_cross_encoder(args.tokenizer, args.minilm_cross_encoder)
        return
    os.makedirs(args.out, exist_ok=True)
    wanted = lambda name: not args.only or name in args.only
    want = lambda name, *a: wanted(name) and build(name, *a)
    want_ce = lambda name, *a: wanted(name) and build_cross_encoder(name, *a)
    bpe, wp = bpe_tokenizer(), wordpiece_tokenizer()
    v_bpe, v_wp = len(bpe), len(wp)
    want("tiny-mpnet", transformers.MPNetConfig(vocab_size=v_bpe, pad_token_id=1, **COMMON),
          bpe, "mean", True, torch.float32, args.out)
    want("tiny-roberta", transformers.RobertaConfig(vocab_size=v_bpe, pad_token_id=1, type_vocab_size=1, **COMMON),
          bpe, "cls", False, torch.float32, args.out)
    want("tiny-xlm-roberta", transformers.XLMRobertaConfig(vocab_size=v_bpe, pad_token_id=1, type_vocab_size=1, **COMMON),
          bpe, "mean", True, torch.bfloat16, args.out)
    want("tiny-distilbert", transformers.DistilBertConfig(vocab_size=v_wp, dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                                                           initializer_range=0.3, max_position_embeddings=64, pad_token_id=0),
          wp, "max", False, torch.float16, args.out)
    want_ce("tiny-bert-cross-encoder", transformers.BertConfig(vocab_size=v_wp, pad_token_id=0, **COMMON),
                        bert_tokenizer(wp), None, args.out)
    want_ce("tiny-xlm-roberta-cross-encoder",
                        transformers.XLMRobertaConfig(vocab_size=v_bpe, pad_token_id=1, type_vocab_size=1, **COMMON),
                        bpe, torch.nn.Identity(), args.out)
    want_ce("tiny-distilbert-cross-encoder",
            transformers.DistilBertConfig(vocab_size=v_wp, dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                                          initializer_range=0.3, max_position_embeddings=64, pad_token_id=0),
            wp, None, args.out)
    if wanted("tiny-qwen3"):
        build_qwen3("tiny-qwen3", args.out)


if __name__ == "__main__":
    main()
