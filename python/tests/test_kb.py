"""trawl.KB: build (from files and dicts), open, search, search_batch; errors."""

import numpy as np
import pytest

import trawl
from conftest import SAMPLE


def test_search_returns_hits_with_fields(sample_kb):
    hits = sample_kb.search("cone-shaped net towed along the seabed", k=3)
    assert len(hits) == 3
    top = hits[0]
    assert top.id == "fish-01" and top.title == "Bottom trawling"
    assert top.text.startswith("A bottom trawl is a cone-shaped net")
    assert top.metadata == {"topic": "fish"}
    assert top.to_dict() == {"id": "fish-01", "score": top.score, "title": "Bottom trawling",
                             "text": top.text, "metadata": {"topic": "fish"}}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_batch_matches_search(sample_kb):
    queries = ["bottom trawl net", "herring mackerel sonar", "zzzz qqqq"]
    scores, ordinals = sample_kb.search_batch(queries, k=5)
    assert scores.dtype == np.float32 and ordinals.dtype == np.int64
    assert scores.shape == ordinals.shape == (3, 5)
    for q, srow, orow in zip(queries, scores, ordinals):
        hits = sample_kb.search(q, k=5)
        assert [h.ordinal for h in hits] == [o for o in orow if o >= 0]
        assert [h.id for h in hits] == [i for i in sample_kb.ids(orow) if i is not None]
        np.testing.assert_array_equal(srow[: len(hits)], np.array([h.score for h in hits], np.float32))
    assert (ordinals[2] == -1).all() and np.isneginf(scores[2]).all()
    assert sample_kb.search_many(queries, k=5)[0][0].id == sample_kb.search(queries[0], k=5)[0].id


def test_build_from_dicts_and_reopen(tmp_path):
    docs = [{"id": "a", "title": "Cats", "text": "Cats purr and sleep.", "year": 2020},
            {"_id": "b", "title": "Dogs", "contents": "Dogs bark at cats."}]
    kb = trawl.KB.build(docs, tmp_path / "kb")
    assert len(kb) == 2 and kb.retrievers == ["bm25"]
    assert kb.search("purring cat")[0].id == "a"
    again = trawl.KB.open(tmp_path / "kb")
    assert again.get("a").metadata == {"year": 2020}
    assert again.get("b").text == "Dogs bark at cats."
    assert again.get("zzz") is None
    with pytest.raises(trawl.KnowledgeBaseError, match="already holds a knowledge base"):
        trawl.KB.build(docs, tmp_path / "kb")
    trawl.KB.build(docs[:1], tmp_path / "kb", overwrite=True)
    assert len(trawl.KB.open(tmp_path / "kb")) == 1


def test_bad_inputs(tmp_path, sample_kb):
    with pytest.raises(FileNotFoundError):
        trawl.KB.open(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("hello")
    with pytest.raises(trawl.KnowledgeBaseError, match="is not a trawl knowledge base"):
        trawl.KB.open(tmp_path / "plain")
    with pytest.raises(ValueError, match="duplicate document id"):
        trawl.KB.build([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], tmp_path / "dup")
    with pytest.raises(ValueError, match="has no id"):
        trawl.KB.build([{"text": "x"}], tmp_path / "noid")
    with pytest.raises(TypeError, match="must be a dict"):
        trawl.KB.build(["just text"], tmp_path / "str")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "a", "text": "ok"}\n{"_id": "b", "text": \n')
    with pytest.raises(trawl.ParseError, match="bad.jsonl:2"):
        trawl.KB.build(bad, tmp_path / "badkb")
    assert not (tmp_path / "badkb").exists()  # nothing half-written
    with pytest.raises(FileNotFoundError):
        trawl.KB.build(tmp_path / "nope.jsonl", tmp_path / "x")
    with pytest.raises(TypeError, match="list of str"):
        sample_kb.search_batch("one query as a str")
    with pytest.raises(ValueError, match="k must be"):
        sample_kb.search("fish", k=0)
    with pytest.raises(trawl.KnowledgeBaseError):
        sample_kb.search("fish", retriever="dense")
    with pytest.raises(ValueError, match="not a retriever"):
        sample_kb.search("fish", retriever="tfidf")


def test_scifact_bm25_matches_pyserini(shared_data, scifact_kb):
    from conftest import read_beir_qrels, read_queries

    qrels = read_beir_qrels(shared_data / "beir" / "scifact" / "qrels" / "test.tsv")
    queries = read_queries(shared_data / "beir" / "scifact" / "queries.jsonl")
    qids = sorted(qrels)
    scores, ordinals = scifact_kb.search_batch([queries[q] for q in qids], k=100)
    ids = scifact_kb.ids(ordinals)
    run = {q: {d: float(s) for d, s in zip(row_ids, row) if d is not None}
           for q, row_ids, row in zip(qids, ids, scores)}
    res = trawl.evaluate(qrels, run, ["ndcg@10", "recall@100"])
    # Pyserini BM25 flat on scifact: nDCG@10 0.6789, Recall@100 0.9253.
    assert round(res["nDCG@10"], 4) == 0.6789
    assert round(res["Recall@100"], 4) == 0.9253
