"""trawl.Encoder and dense/hybrid KBs with the real all-MiniLM-L6-v2 model."""

import shutil

import numpy as np
import pytest

import trawl
from conftest import SAMPLE

pytestmark = pytest.mark.skipif(not trawl._trawl.HAS_DENSE, reason="wheel built without dense")


@pytest.fixture(scope="module")
def encoder(model_dir):
    return trawl.Encoder(str(model_dir))


@pytest.fixture(scope="module")
def dense_kb(model_dir, tmp_path_factory):
    return trawl.KB.build(SAMPLE / "corpus.jsonl", tmp_path_factory.mktemp("dense") / "kb",
                          bm25=True, dense=str(model_dir))


def test_encode_shape_dtype_norm(encoder):
    texts = ["A bottom trawl is towed along the seabed.", "Herring swim in schools.", ""]
    emb = encoder.encode(texts)
    assert emb.dtype == np.float32 and emb.shape == (3, 384) and encoder.dim == 384
    np.testing.assert_allclose(np.linalg.norm(emb[:2], axis=1), 1.0, rtol=1e-5)
    raw = encoder.encode(texts, normalize=False, batch_size=2)
    np.testing.assert_allclose(raw[:2] / np.linalg.norm(raw[:2], axis=1, keepdims=True), emb[:2],
                               atol=1e-6)
    # Similar sentences are closer than unrelated ones.
    a, b, c = encoder.encode(["fishing nets drag the sea floor", "trawl nets scrape the seabed",
                              "the stock market fell today"])
    assert a @ b > a @ c + 0.2


def test_encode_matches_sentence_transformers_reference(encoder):
    # crates/trawl-embed/tests/data holds sentence-transformers' own embeddings of reference texts.
    import json
    from conftest import REPO

    ref = REPO / "crates" / "trawl-embed" / "tests" / "data" / "minilm_reference.json"
    data = json.loads(ref.read_text())
    texts = [item["text"] for item in data["items"]]
    expected = np.array([item["embedding"] for item in data["items"]], dtype=np.float32)
    got = encoder.encode(texts, normalize=False)
    norms = np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    cos = (got * expected).sum(1)[norms > 0] / norms[norms > 0]
    assert len(cos) >= 30 and cos.min() >= 0.9999


def test_dense_and_hybrid_search(dense_kb, encoder):
    assert dense_kb.retrievers == ["bm25", "dense", "hybrid"]
    q = "nets that scrape the sea floor"
    dense = dense_kb.search(q, k=5, retriever="dense")
    # Dense scores are cosine similarities of the query and document embeddings.
    qv = encoder.encode([q])[0]
    doc = dense_kb.get(dense[0].id)
    dv = encoder.encode([f"{doc.title} {doc.text}"])[0]
    assert dense[0].score == pytest.approx(float(qv @ dv), abs=1e-4)
    scores, ordinals = dense_kb.search_batch([q], k=5, retriever="dense")
    assert list(ordinals[0]) == [h.ordinal for h in dense]
    hybrid = dense_kb.search(q, k=5, retriever="hybrid")
    assert len(hybrid) == 5
    r = trawl.Retriever(dense_kb, retriever="dense")
    assert r.retrieve_batch([[q]], k=5, mode="single")[0] == [h.id for h in dense]


def test_retrieval_manager(dense_kb):
    for kind in ("bm25", "dense", "hybrid"):
        rm = trawl.RetrievalManager(retriever_type=kind, knowledge_base_path=str(dense_kb.path))
        docs = rm.retrieve("bottom trawling", top_k=3)
        assert len(docs) == 3 and docs[0].score >= docs[-1].score
        assert set(docs[0].to_dict()) == {"id", "score", "title", "text", "metadata"}
        assert [d.id for d in rm.retrieve_batch(["bottom trawling"], top_k=3)[0]] == [d.id for d in docs]


def test_model_errors(tmp_path, model_dir):
    with pytest.raises(FileNotFoundError, match="not found"):
        trawl.Encoder(str(tmp_path / "no-such-model"))
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises((FileNotFoundError, trawl.ModelError), match="tokenizer"):
        trawl.Encoder(str(broken))
    with pytest.raises(FileNotFoundError):
        trawl.KB.build(SAMPLE / "corpus.jsonl", tmp_path / "kb", dense=str(tmp_path / "no-such-model"))
    assert not (tmp_path / "kb").exists()
    with pytest.raises(TypeError):
        trawl.Encoder(str(model_dir)).encode("a str, not a list")
