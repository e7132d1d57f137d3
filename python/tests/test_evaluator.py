"""trawl.RelevanceEvaluator returns exactly pytrec_eval's per-query dicts (pytrec_eval-terrier is
the reference), and trawl.evaluate agrees with it on dicts and files."""

import math
import random

import pytest
import pytrec_eval

import trawl
from conftest import SAMPLE, read_beir_qrels

MEASURE_SETS = [
    {"all_trec"},
    {"map", "ndcg"},
    {"ndcg_cut.10,20", "P"},
    {"P_5", "recall_100", "ndcg_cut_10", "recip_rank", "map_cut_100"},
    {"official"},
    {"set"},
    {"iprec_at_recall.0.25,0.5", "Rprec_mult.0.5,2", "success.1,3"},
]


def random_case(seed, num_queries=60, num_docs=80, max_judged=25, max_retrieved=60):
    rng = random.Random(seed)
    qrels, run = {}, {}
    for i in range(num_queries):
        docs = [f"d{j}" for j in range(num_docs)]
        judged = rng.sample(docs, rng.randint(1, max_judged))
        qrels[f"q{i}"] = {d: rng.choice([-1, 0, 0, 1, 1, 2, 3]) for d in judged}
        # Rounded scores make ties, which both must break by doc id.
        # 1 + x*1e-9: distinct doubles that are one float (trec_eval 9 ranks on floats).
        run[f"q{i}"] = {d: rng.choice([rng.random(), round(rng.random(), 1), float(rng.randint(0, 3)),
                                       1.0 + rng.random() * 1e-9])
                        for d in rng.sample(docs, rng.randint(1, max_retrieved))}
    run["unjudged-query"] = {"d1": 1.0}
    return qrels, run


def assert_same(expected, got):
    assert expected.keys() == got.keys()
    for q in expected:
        assert expected[q].keys() == got[q].keys(), q
        for m, v in expected[q].items():
            w = got[q][m]
            # NaN (e.g. precision of an empty ranking under -J) must be NaN on both sides.
            assert v == w or (math.isnan(v) and math.isnan(w)), (q, m, v, w)


@pytest.mark.parametrize("measures", MEASURE_SETS, ids=lambda m: ",".join(sorted(m)))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_runs_equal_pytrec_eval(measures, seed):
    qrels, run = random_case(seed)
    for level, judged_only in [(1, False), (2, False), (1, True)]:
        expected = pytrec_eval.RelevanceEvaluator(qrels, measures, level, judged_only).evaluate(run)
        got = trawl.RelevanceEvaluator(qrels, measures, level, judged_only).evaluate(run)
        assert_same(expected, got)


@pytest.mark.parametrize("seed", [4, 5])
def test_long_judged_rankings_and_int_scores_equal_pytrec_eval(seed):
    # Up to 300 judged documents retrieved per query: trawl sorts such a ranking whole instead of
    # counting each judged document's rank (the path of short judged lists, above). Int scores
    # (read through Python's number protocol) rank as the floats they equal.
    qrels, run = random_case(seed, num_queries=20, num_docs=400, max_judged=300, max_retrieved=350)
    rng = random.Random(seed)
    for docs in run.values():
        for d in rng.sample(sorted(docs), len(docs) // 4):
            docs[d] = rng.randint(0, 3)
    assert max(len(set(qrels[q]) & set(run[q])) for q in qrels) > 100
    for level, judged_only in [(1, False), (2, True)]:
        measures = {"all_trec"}
        expected = pytrec_eval.RelevanceEvaluator(qrels, measures, level, judged_only).evaluate(run)
        got = trawl.RelevanceEvaluator(qrels, measures, level, judged_only).evaluate(run)
        assert_same(expected, got)


def test_big_runs_keep_the_run_order():
    # Big enough for several batches evaluated on worker threads; the dict comes back in order.
    qrels, run = random_case(6, num_queries=600, num_docs=300, max_retrieved=250)
    got = trawl.RelevanceEvaluator(qrels, {"map", "P.5"}).evaluate(run)
    assert list(got) == [q for q in run if q in qrels]
    assert_same(pytrec_eval.RelevanceEvaluator(qrels, {"map", "P.5"}).evaluate(run), got)


@pytest.mark.parametrize("dataset", ["scifact", "nfcorpus"])
def test_beir_qrels_equal_pytrec_eval(shared_data, dataset):
    qrels = read_beir_qrels(shared_data / "beir" / dataset / "qrels" / "test.tsv")
    rng = random.Random(7)
    pool = sorted({d for docs in qrels.values() for d in docs})
    run = {q: {d: rng.random() for d in rng.sample(pool, 100) + list(judged)[:3]}
           for q, judged in qrels.items()}
    expected = pytrec_eval.RelevanceEvaluator(qrels, {"all_trec"}).evaluate(run)
    got = trawl.RelevanceEvaluator(qrels, {"all_trec"}).evaluate(run)
    assert len(got) == len(qrels)
    assert_same(expected, got)


def test_bm25_run_on_scifact_equals_pytrec_eval(shared_data, scifact_kb):
    from conftest import read_queries

    qrels = read_beir_qrels(shared_data / "beir" / "scifact" / "qrels" / "test.tsv")
    queries = read_queries(shared_data / "beir" / "scifact" / "queries.jsonl")
    qids = sorted(qrels)
    scores, ordinals = scifact_kb.search_batch([queries[q] for q in qids], k=100)
    run = {q: {scifact_kb.ids(int(o)): float(s) for s, o in zip(srow, orow) if o >= 0}
           for q, srow, orow in zip(qids, scores, ordinals)}
    measures = {"ndcg_cut.10", "recall.100", "map", "recip_rank", "P.5"}
    expected = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    assert_same(expected, trawl.RelevanceEvaluator(qrels, measures).evaluate(run))
    # And the headline number: Pyserini's BM25 flat scifact nDCG@10 is 0.6789 (README).
    mean = sum(v["ndcg_cut_10"] for v in expected.values()) / len(expected)
    assert round(mean, 4) == 0.6789


def test_measure_keys_and_aggregation():
    qrels, run = random_case(5)
    res = trawl.RelevanceEvaluator(qrels, {"ndcg_cut.10,20", "P"}).evaluate(run)
    assert set(next(iter(res.values()))) == {"ndcg_cut_10", "ndcg_cut_20", "P_5", "P_10", "P_15",
                                             "P_20", "P_30", "P_100", "P_200", "P_500", "P_1000"}
    values = [v["ndcg_cut_10"] for v in res.values()]
    assert trawl.compute_aggregated_measure("ndcg_cut_10", values) == pytest.approx(
        pytrec_eval.compute_aggregated_measure("ndcg_cut_10", values))
    assert trawl.compute_aggregated_measure("num_ret", [1.0, 2.0]) == 3.0


def test_empty_run_gives_empty_dict():
    assert trawl.RelevanceEvaluator({"q": {"d": 1}}, {"map"}).evaluate({}) == {}


def test_bad_input_raises_python_errors():
    qrels = {"q1": {"d1": 1}}
    with pytest.raises(TypeError, match="dict"):
        trawl.RelevanceEvaluator([("q1", "d1", 1)], {"map"})
    with pytest.raises(TypeError, match="str"):
        trawl.RelevanceEvaluator({1: {"d1": 1}}, {"map"})
    with pytest.raises(TypeError, match="int relevance grade"):
        trawl.RelevanceEvaluator({"q1": {"d1": "high"}}, {"map"})
    ev = trawl.RelevanceEvaluator(qrels, {"map"})
    with pytest.raises(ValueError, match="finite"):
        ev.evaluate({"q1": {"d1": float("nan")}})
    with pytest.raises(TypeError, match="float score"):
        ev.evaluate({"q1": {"d1": "1.0"}})
    with pytest.raises(TypeError, match="must be a str"):
        ev.evaluate({"q1": {7: 1.0}})
    with pytest.raises(TypeError, match="dict"):
        ev.evaluate({"q1": [("d1", 1.0)]})
    with pytest.raises(ValueError, match="unsupported measure"):
        trawl.RelevanceEvaluator(qrels, {"nDCG@10"})
    with pytest.raises(ValueError, match="unsupported measure 'all_prefs'"):
        trawl.RelevanceEvaluator(qrels, {"all_prefs"})
    with pytest.raises(ValueError, match="duplicate cutoffs"):
        trawl.RelevanceEvaluator(qrels, {"P.5,05"})
    with pytest.raises(TypeError):
        trawl.RelevanceEvaluator(qrels, "map")


def test_evaluate_dicts_and_files_agree_with_pytrec_eval(tmp_path):
    qrels_path = SAMPLE / "qrels" / "test.tsv"
    run_path = SAMPLE / "run.trec"
    qrels = read_beir_qrels(qrels_path)
    run = trawl.parse_run(run_path)
    from_files = trawl.evaluate(qrels_path, run_path, ["ndcg@10", "recall@100", "mrr@10", "map"])
    from_dicts = trawl.evaluate(qrels, run, ["ndcg@10", "recall@100", "mrr@10", "map"])
    assert from_files == from_dicts
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100", "map"}).evaluate(run)
    n = len(ref)
    assert from_files["nDCG@10"] == pytest.approx(sum(v["ndcg_cut_10"] for v in ref.values()) / n, abs=1e-12)
    assert from_files["Recall@100"] == pytest.approx(sum(v["recall_100"] for v in ref.values()) / n, abs=1e-12)
    per_query = trawl.evaluate(qrels_path, run_path, ["ndcg@10"], per_query=True)
    assert {q: v["nDCG@10"] for q, v in per_query.items()} == pytest.approx(
        {q: v["ndcg_cut_10"] for q, v in ref.items()}, abs=1e-12)


def test_evaluate_file_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "run.trec"
    bad.write_text("q1 Q0 d1 1 1.0 x\nq1 Q0 d2 2\n")
    with pytest.raises(trawl.ParseError, match=r"run.trec:2: expected 6 columns"):
        trawl.evaluate(SAMPLE / "qrels" / "test.tsv", bad)
    with pytest.raises(FileNotFoundError, match="nope.trec"):
        trawl.evaluate(SAMPLE / "qrels" / "test.tsv", tmp_path / "nope.trec")
    with pytest.raises(ValueError, match="unknown metric"):
        trawl.evaluate(SAMPLE / "qrels" / "test.tsv", SAMPLE / "run.trec", ["ndcg@x"])


def test_import_trawl_as_pytrec_eval():
    import trawl as pe

    assert pe.supported_measures >= set(pytrec_eval.supported_measures)
    assert pe.supported_nicknames["official"] == set(pytrec_eval.supported_nicknames["official"])
