"""trawl: retrieval for RAG from Python.

- Evaluation: ``RelevanceEvaluator`` (pytrec_eval's API and numbers: ``import trawl as
  pytrec_eval``) and ``evaluate`` (BEIR-style metrics on dicts or TREC/BEIR files).
- Knowledge bases: ``KB.build(docs, path, bm25=True, dense=model)``, ``KB.open(path)``,
  ``kb.search(query, k, retriever="bm25"|"dense"|"hybrid")`` -> ``Hit`` objects,
  ``kb.search_batch(queries, k)`` -> numpy (scores, ordinals), ``kb.ids(ordinals)``.
- RL rewards: ``Retriever(kb).retrieve_batch(query_rewrites, k, mode="union"|"intersection"|
  "single")`` and ``DocumentDataset(labels).compute_rewards_batch(uids, doc_ids, method, k)``.
- RAG: ``RetrievalManager(retriever_type, knowledge_base_path).retrieve(query, top_k)``.
- Embeddings: ``Encoder(model).encode(texts)`` -> float32 numpy array.
- Training: ``mine_negatives(data, out, retriever="bm25")`` and ``train(model, data, out, ...)``
  (the ``trawl mine-negatives`` / ``trawl train`` commands, same options) -> summary dicts.

Heavy calls release the GIL and run on all cores. trawl's errors are ``trawl.Error`` subclasses
(``trawl.ParseError`` for bad file contents), ``FileNotFoundError``, ``TypeError`` or
``ValueError``, with trawl's messages (file, line, what was expected).
"""

import collections
import math
import os

from . import _trawl
from ._measures import supported_measures, supported_nicknames, to_trec_eval
from ._trawl import (
    KB,
    DocumentDataset,
    Error,
    Hit,
    KnowledgeBaseError,
    ModelError,
    ParseError,
    Retriever,
    TrainError,
    evaluate,
)

if _trawl.HAS_DENSE:
    from ._trawl import Encoder

if _trawl.HAS_TRAIN:
    from ._trawl import mine_negatives, train

__version__ = "0.1.0"

__all__ = [
    "KB",
    "DocumentDataset",
    "Encoder",
    "Error",
    "Hit",
    "KnowledgeBaseError",
    "ModelError",
    "RetrievalManager",
    "Retriever",
    "ParseError",
    "RelevanceEvaluator",
    "TrainError",
    "compute_aggregated_measure",
    "evaluate",
    "mine_negatives",
    "parse_qrel",
    "parse_run",
    "supported_measures",
    "supported_nicknames",
    "train",
]


class RelevanceEvaluator(_trawl._RelevanceEvaluator):
    """trec_eval's measures for a run given as ``{query_id: {doc_id: score}}``, exactly as
    pytrec_eval computes them.

    ``query_relevance``: ``{query_id: {doc_id: grade}}`` (int grades; negative = in the pool but
    unjudged). ``measures``: names as pytrec_eval takes them (``{'map', 'ndcg'}``,
    ``{'ndcg_cut.10,20', 'P'}``, ``{'P_5', 'recall_100'}``, ``{'official'}``).
    ``relevance_level``: the lowest grade that counts as relevant (trec_eval ``-l``).
    ``judged_docs_only_flag``: drop unjudged documents from the ranking first (trec_eval ``-J``).
    """

    def __new__(cls, query_relevance, measures, relevance_level=1, judged_docs_only_flag=False):
        return super().__new__(
            cls, query_relevance, to_trec_eval(measures), relevance_level, judged_docs_only_flag
        )

    def __init__(self, query_relevance, measures, relevance_level=1, judged_docs_only_flag=False):
        pass

    def evaluate(self, scores):
        """``{query_id: {measure: value}}`` for the queries of ``scores`` that have judgements
        (e.g. ``{'q1': {'map': 0.25, 'ndcg_cut_10': 0.24}}``). Scores must be finite numbers."""
        return super().evaluate(scores)


def compute_aggregated_measure(measure, values):
    """Aggregate per-query values as trec_eval's summary line does: sums for ``num_*``, the
    geometric mean for ``gm_*`` (per-query values are logs), the mean otherwise."""
    values = list(values)
    if measure.startswith("num_"):
        return float(sum(values))
    if measure.startswith("gm_"):
        return math.exp(sum(values) / len(values))
    return sum(values) / len(values)


def _lines(f):
    """The lines of a path (str or os.PathLike), or ``f`` itself (an open file, a list)."""
    if isinstance(f, (str, os.PathLike)):
        with open(f) as fh:
            return fh.read().splitlines()
    return f


def parse_run(f_run):
    """``{query_id: {doc_id: score}}`` from the lines of a TREC run (``qid Q0 doc rank score
    tag``), or from its path."""
    run = collections.defaultdict(dict)
    for n, line in enumerate(_lines(f_run), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 6:
            raise ParseError(f"run line {n}: expected 6 columns `qid Q0 docid rank score tag`, "
                             f"found {len(fields)}")
        qid, _, doc, _, score, _ = fields
        if doc in run[qid]:
            raise ParseError(f"run line {n}: document {doc!r} appears twice for query {qid!r}")
        run[qid][doc] = float(score)
    return run


def parse_qrel(f_qrel):
    """``{query_id: {doc_id: grade}}`` from the lines of a TREC qrels file (``qid 0 doc grade``),
    or from its path."""
    qrel = collections.defaultdict(dict)
    for n, line in enumerate(_lines(f_qrel), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 4:
            raise ParseError(f"qrels line {n}: expected 4 columns `qid 0 docid relevance`, "
                             f"found {len(fields)}")
        qid, _, doc, grade = fields
        if doc in qrel[qid]:
            raise ParseError(f"qrels line {n}: document {doc!r} judged twice for query {qid!r}")
        qrel[qid][doc] = int(grade)
    return qrel


class RetrievalManager:
    """Retrieval for RAG data loaders: ``retrieve(query, top_k)`` returns ``Hit`` objects
    (``.id .score .title .text .metadata .to_dict()``), best first.

    ``retriever_type``: ``bm25``, ``dense`` or ``hybrid``; ``knowledge_base_path``: a KB built
    with ``trawl.KB.build`` or ``trawl kb build``; ``model``: the query encoder for dense/hybrid
    (default: the model recorded in the KB).
    """

    def __init__(self, retriever_type="bm25", knowledge_base_path=None, model=None, top_k=5):
        if knowledge_base_path is None:
            raise TypeError("RetrievalManager needs knowledge_base_path (a trawl KB directory)")
        self.retriever_type = retriever_type
        self.top_k = top_k
        self.model = model
        self.kb = KB.open(knowledge_base_path)
        if retriever_type not in self.kb.retrievers:
            raise KnowledgeBaseError(
                f"{knowledge_base_path}: retriever {retriever_type!r} is not available "
                f"(this KB supports {', '.join(self.kb.retrievers)})"
            )
        # Open the retriever (and load its model) now, not on the first query.
        self.kb.search("warm up", k=1, retriever=retriever_type, model=model)

    def retrieve(self, query, top_k=None):
        """The ``top_k`` best documents for ``query``."""
        return self.kb.search(query, k=top_k or self.top_k, retriever=self.retriever_type,
                              model=self.model)

    def retrieve_batch(self, queries, top_k=None):
        """``retrieve`` for many queries (one batch call)."""
        return self.kb.search_many(queries, k=top_k or self.top_k,
                                   retriever=self.retriever_type, model=self.model)
