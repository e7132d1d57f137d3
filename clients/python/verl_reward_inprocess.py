"""A verl custom reward function that runs trawl in the trainer's process (no server): the
`trawl` Python package (pip install ./python) retrieves with the policy's rewrite(s) and scores
the ranking against the labels of the original query.

verl config:
    custom_reward_function:
      path: clients/python/verl_reward_inprocess.py
      name: compute_score

Settings come from the environment (or extra_info, which wins):
    TRAWL_KB         the knowledge base directory (trawl kb build / trawl.KB.build); required
    TRAWL_LABELS     qrels (TREC or BEIR TSV) or labels JSON, for uid ground truths
    TRAWL_METRIC     ndcg@10 (default), recall@K, hit@K, mrr@K, precision@K
    TRAWL_K          retrieval depth (default 10)
    TRAWL_MODE       single (default), union or intersection
    TRAWL_RETRIEVER  bm25 (default), dense, hybrid

solution_str and ground_truth are read as by verl_reward.py (the HTTP version): rewrites one per
line or in <query> tags (inside the last <answer> block when present); ground_truth is the query
uid, or the relevant doc ids (a list), or doc id -> grade (a dict). An unknown uid raises KeyError,
so a misconfigured run fails loudly instead of training on zeros.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import trawl  # noqa: E402
from verl_reward import extract_rewrites  # noqa: E402

_cache = {}


def _setting(extra_info, key, env, default=None):
    return extra_info.get(key, os.environ.get(env, default))


def _retriever(kb_path, name):
    key = ("retriever", kb_path, name)
    if key not in _cache:
        if kb_path is None:
            raise ValueError("set TRAWL_KB (or extra_info['kb']) to a trawl knowledge base directory")
        kb = _cache.get(("kb", kb_path)) or trawl.KB.open(kb_path)
        _cache[("kb", kb_path)] = kb
        _cache[key] = trawl.Retriever(kb, retriever=name)
    return _cache[key]


def _dataset(labels_path):
    key = ("labels", labels_path)
    if key not in _cache:
        if labels_path is None:
            raise ValueError("a uid ground truth needs TRAWL_LABELS (or extra_info['labels'])")
        _cache[key] = trawl.DocumentDataset(labels_path)
    return _cache[key]


def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    """Reward of the rewrite(s) in solution_str against ground_truth (see the module docs)."""
    extra_info = extra_info or {}
    metric = str(_setting(extra_info, "metric", "TRAWL_METRIC", "ndcg@10")).lower()
    method, _, cutoff = metric.partition("@")
    k = int(_setting(extra_info, "k", "TRAWL_K", 10))
    retriever = _retriever(_setting(extra_info, "kb", "TRAWL_KB"),
                           _setting(extra_info, "retriever", "TRAWL_RETRIEVER", "bm25"))
    docs = retriever.retrieve_batch([extract_rewrites(solution_str)], k=max(k, int(cutoff or k)),
                                    mode=_setting(extra_info, "mode", "TRAWL_MODE", "single"))
    if isinstance(ground_truth, dict) and "uid" in ground_truth:
        ground_truth = str(ground_truth["uid"])
    if isinstance(ground_truth, (list, tuple, dict)):
        dataset, uid = trawl.DocumentDataset({"item": ground_truth}), "item"
    else:
        dataset, uid = _dataset(_setting(extra_info, "labels", "TRAWL_LABELS")), str(ground_truth)
    (reward,) = dataset.compute_rewards_batch([uid], docs, method=method, k=int(cutoff or k))
    return float(reward)
