"""trawl.mine_negatives and trawl.train: the `trawl mine-negatives` / `trawl train` commands
in-process, on scifact and the real all-MiniLM-L6-v2 model."""

import json
import math
import os
import shutil
import subprocess

import numpy as np
import pytest

import trawl
from conftest import read_beir_qrels

pytestmark = pytest.mark.skipif(not trawl._trawl.HAS_TRAIN, reason="wheel built without train")

KEYS = {"query", "positive", "negatives", "query_id", "positive_id", "negative_ids"}


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def mined(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("mined") / "train.jsonl"
    summary = trawl.mine_negatives(shared_data / "beir" / "scifact", out, retriever="bm25",
                                   num=3, range="2-50")
    return summary, out


def test_mine_negatives_bm25_scifact(mined, shared_data):
    summary, out = mined
    qrels = read_beir_qrels(shared_data / "beir" / "scifact" / "qrels" / "train.tsv")
    pairs = sum(1 for docs in qrels.values() for g in docs.values() if g > 0)
    lines = read_jsonl(out)
    # One line per judged (query, positive) pair of the train split.
    assert summary["out"] == str(out)
    assert summary["lines"] == len(lines) == pairs == 919
    assert summary["negatives"] == sum(len(x["negatives"]) for x in lines)
    assert summary["lines_with_negatives"] == sum(1 for x in lines if x["negatives"])
    assert summary["lines_with_negatives"] > 0.95 * pairs
    for x in lines:
        assert set(x) == KEYS
        assert qrels[x["query_id"]][x["positive_id"]] > 0
        assert len(x["negatives"]) == len(x["negative_ids"]) <= 3
        # Negatives are never judged relevant for their query, nor repeated.
        assert not set(x["negative_ids"]) & {d for d, g in qrels[x["query_id"]].items() if g > 0}
        assert len(set(x["negative_ids"])) == len(x["negative_ids"])
        assert x["query"] and x["positive"] and all(x["negatives"])


def test_mine_negatives_deterministic_and_same_as_cli(mined, shared_data, tmp_path):
    _, out = mined
    again = tmp_path / "again.jsonl"
    trawl.mine_negatives(str(shared_data / "beir" / "scifact"), str(again), num=3, range=(2, 50))
    assert again.read_bytes() == out.read_bytes()
    # With a trawl binary at hand (TRAWL_BIN or on PATH), the CLI writes the same bytes.
    cli = os.environ.get("TRAWL_BIN") or shutil.which("trawl")
    if not cli:
        pytest.skip("no trawl CLI binary (set TRAWL_BIN) to compare with")
    by_cli = tmp_path / "cli.jsonl"
    subprocess.run([cli, "mine-negatives", str(shared_data / "beir" / "scifact"), "--num", "3",
                    "--range", "2-50", "--out", str(by_cli), "--json"], check=True,
                   capture_output=True)
    assert by_cli.read_bytes() == out.read_bytes()


def test_mine_negatives_bad_options(shared_data, tmp_path):
    scifact = shared_data / "beir" / "scifact"
    out = tmp_path / "x.jsonl"
    with pytest.raises(ValueError, match="range"):
        trawl.mine_negatives(scifact, out, range="50-2")
    with pytest.raises(ValueError, match="strategy"):
        trawl.mine_negatives(scifact, out, strategy="hardest")
    with pytest.raises(ValueError, match="retriever"):
        trawl.mine_negatives(scifact, out, retriever="splade")
    with pytest.raises(FileNotFoundError):
        trawl.mine_negatives(tmp_path / "no-such-data.jsonl", out)
    assert not out.exists()


def test_train_tiny_run(mined, model_dir, tmp_path):
    _, train_file = mined
    tiny = tmp_path / "tiny.jsonl"
    tiny.write_text("".join(line for line in open(train_file).readlines()[:16]))
    out = tmp_path / "model"
    result = trawl.train(str(model_dir), tiny, out, batch_size=8, max_seq_len=32, max_steps=2,
                         lr=1e-4, warmup_ratio=0.0)
    assert result["out"] == str(out) and result["run_dir"] == str(out) + ".run"
    assert result["steps"] == 2 and math.isfinite(result["last_loss"])
    log = result["log"]
    assert [r["event"] for r in log] == ["start", "step", "step", "end"]
    assert [r["step"] for r in log if r["event"] == "step"] == [1, 2]
    assert all(math.isfinite(r["loss"]) and r["loss"] > 0 for r in log if r["event"] == "step")
    assert log[0]["examples"] == 16 and log[0]["total_steps"] == 2
    # The log returned is the run's train_log.jsonl.
    assert read_jsonl(out.parent / "model.run" / "train_log.jsonl") == log
    # The output is a model folder trawl.Encoder loads; training moved its embeddings.
    texts = ["Vitamin D deficiency and bone density.", "A trawl net on the seabed."]
    emb = trawl.Encoder(str(out), max_seq_len=32).encode(texts)
    assert emb.shape == (2, 384) and emb.dtype == np.float32 and np.isfinite(emb).all()
    base = trawl.Encoder(str(model_dir), max_seq_len=32).encode(texts)
    assert np.abs(emb - base).max() > 1e-5
    # A second run into the same output replaces the model trawl wrote there; it runs without
    # the GIL (this thread keeps running Python meanwhile).
    import threading
    import time

    done = {}
    worker = threading.Thread(target=lambda: done.setdefault("r", trawl.train(
        str(model_dir), tiny, out, batch_size=8, max_seq_len=32, max_steps=1)))
    worker.start()
    ticks, start = 0, time.monotonic()
    while worker.is_alive():
        sum(range(1000))
        ticks += 1
    worker.join()
    elapsed = time.monotonic() - start
    again = done["r"]
    assert again["steps"] == 1 and [r["event"] for r in again["log"]] == ["start", "step", "end"]
    assert elapsed < 1 or ticks > 100


def test_train_bad_options(mined, model_dir, tmp_path):
    _, train_file = mined
    out = tmp_path / "model"
    with pytest.raises(ValueError, match="batch size must be at least 2"):
        trawl.train(str(model_dir), train_file, out, batch_size=1, max_steps=1)
    with pytest.raises(ValueError, match="scale or temperature"):
        trawl.train(str(model_dir), train_file, out, scale=20.0, temperature=0.05)
    with pytest.raises(ValueError, match="temperature"):
        trawl.train(str(model_dir), train_file, out, temperature=-1.0)
    with pytest.raises(ValueError, match="metric"):
        trawl.train(str(model_dir), train_file, out, metric="ndcg@x")
    with pytest.raises(ValueError, match="projection"):
        trawl.train(str(model_dir), train_file, out, freeze_base=True)
    with pytest.raises(FileNotFoundError):
        trawl.train(str(model_dir), tmp_path / "no-such.jsonl", out, max_steps=1)
    with pytest.raises(FileNotFoundError):
        trawl.train(str(tmp_path / "no-such-model"), train_file, out, max_steps=1)
    assert not out.exists()
    # An output folder trawl did not write is never replaced.
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="did not write"):
        trawl.train(str(model_dir), train_file, foreign, max_steps=1, force=True)
    assert (foreign / "notes.txt").read_text() == "keep me"
