"""trawl.Retriever (rewrite modes), trawl.DocumentDataset rewards (checked against pytrec_eval)
and the in-process verl reward function."""

import importlib.util
import math
from pathlib import Path

import pytest
import pytrec_eval

import trawl
from conftest import REPO, SAMPLE, read_beir_qrels


def test_rewrite_modes(sample_kb):
    r = trawl.Retriever(sample_kb)
    a, b = "bottom trawl net seabed", "herring mackerel midwater"
    single, union, inter = (r.retrieve_batch([[a, b]], k=10, mode=m)[0]
                            for m in ("single", "union", "intersection"))
    ids_a = [h.id for h in sample_kb.search(a, k=10)]
    ids_b = [h.id for h in sample_kb.search(b, k=10)]
    assert single == ids_a
    assert set(inter) == set(ids_a) & set(ids_b)
    assert set(union) <= set(ids_a) | set(ids_b) and len(union) == min(10, len(set(ids_a) | set(ids_b)))
    # A plain str is an item with one rewrite.
    assert r.retrieve_batch([a], k=10)[0] == ids_a
    scored = r.retrieve_batch([[a]], k=3, return_scores=True)[0]
    assert [d for d, _ in scored] == ids_a[:3]
    with pytest.raises(ValueError, match="not a mode"):
        r.retrieve_batch([[a]], mode="both")
    with pytest.raises(ValueError, match="no query text"):
        r.retrieve_batch([[]])
    with pytest.raises(TypeError):
        r.retrieve_batch(a)


def reference_reward(judged, ranking, measure):
    run = {"q": {d: float(len(ranking) - i) for i, d in enumerate(ranking)}}
    return pytrec_eval.RelevanceEvaluator({"q": judged}, {measure}).evaluate(run)["q"][measure.replace(".", "_")]


def test_rewards_equal_pytrec_eval():
    labels = {"u1": {"a": 2, "b": 1, "z": 0}, "u2": ["c"], "u3": {"x": 1}}
    ds = trawl.DocumentDataset(labels)
    rankings = [["b", "q", "a", "c"], ["d", "c"], ["y"]]
    uids = ["u1", "u2", "u3"]
    ndcg = ds.compute_rewards_batch(uids, rankings, method="ndcg", k=3)
    recall = ds.compute_rewards_batch(uids, rankings, method="recall", k=3)
    hit = ds.compute_rewards_batch(uids, rankings, method="hit", k=1)
    for i, (u, ranking) in enumerate(zip(uids, rankings)):
        judged = labels[u] if isinstance(labels[u], dict) else {d: 1 for d in labels[u]}
        assert ndcg[i] == pytest.approx(reference_reward(judged, ranking, "ndcg_cut.3"), abs=1e-12)
        assert recall[i] == pytest.approx(reference_reward(judged, ranking, "recall.3"), abs=1e-12)
    assert hit == [1.0, 0.0, 0.0]
    with pytest.raises(KeyError, match="unknown uid"):
        ds.compute_rewards_batch(["nobody"], [["a"]])
    with pytest.raises(ValueError, match="unknown metric"):
        ds.compute_rewards_batch(["u1"], [["a"]], method="bleu")
    with pytest.raises(ValueError, match="differ in length"):
        ds.compute_rewards_batch(["u1", "u2"], [["a"]])


def test_labels_from_qrels_file_and_retrieval_rewards(sample_kb):
    qrels_path = SAMPLE / "qrels" / "test.tsv"
    ds = trawl.DocumentDataset(qrels_path)
    qrels = read_beir_qrels(qrels_path)
    assert len(ds) == len(qrels)
    uid = sorted(qrels)[0]
    docs = trawl.Retriever(sample_kb).retrieve_batch([["trawling damage to the seabed"]], k=10)
    (reward,) = ds.compute_rewards_batch([uid], docs, method="ndcg", k=10)
    assert reward == pytest.approx(reference_reward(qrels[uid], docs[0], "ndcg_cut.10"), abs=1e-12)
    with pytest.raises(FileNotFoundError):
        trawl.DocumentDataset(SAMPLE / "missing.tsv")


def load_verl_module():
    path = REPO / "clients" / "python" / "verl_reward_inprocess.py"
    spec = importlib.util.spec_from_file_location("verl_reward_inprocess", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_verl_compute_score_in_process(monkeypatch, sample_kb):
    monkeypatch.setenv("TRAWL_KB", str(sample_kb.path))
    monkeypatch.setenv("TRAWL_LABELS", str(SAMPLE / "qrels" / "test.tsv"))
    verl = load_verl_module()
    qrels = read_beir_qrels(SAMPLE / "qrels" / "test.tsv")
    uid = sorted(qrels)[0]
    out = "<think>...</think><answer><query>trawling damage seabed</query><query>bottom trawl</query></answer>"
    score = verl.compute_score("sample", out, uid, {"mode": "union", "metric": "ndcg@10"})
    docs = trawl.Retriever(sample_kb).retrieve_batch([["trawling damage seabed", "bottom trawl"]], k=10,
                                                     mode="union")
    assert score == pytest.approx(reference_reward(qrels[uid], docs[0], "ndcg_cut.10"), abs=1e-12)
    # Relevant ids given directly, no labels file needed.
    top = docs[0][0]
    assert verl.compute_score("sample", "bottom trawl\ntrawling damage seabed", [top],
                              {"mode": "union", "metric": "hit@1"}) == 1.0
    with pytest.raises(KeyError):
        verl.compute_score("sample", "query", "no-such-uid")
