"""A verl custom reward function backed by `trawl serve`.

verl config:
    custom_reward_function:
      path: clients/python/verl_reward.py
      name: compute_score

The policy rewrites a query; the reward is the retrieval quality of the rewrite(s) against the
labels of the original query. Settings come from the environment:
    TRAWL_URL        server address (default http://127.0.0.1:8080)
    TRAWL_METRIC     ndcg@10 (default), recall@K, hit@K, mrr@K, precision@K
    TRAWL_K          retrieval depth (default 10)
    TRAWL_MODE       single (default), union or intersection
    TRAWL_RETRIEVER  bm25, dense, hybrid (default: the server's default)

solution_str holds the rewrite(s): one per line, or inside <query>...</query> tags (the last
<answer>...</answer> block is used when present). ground_truth is the query uid (a string), or
the relevant doc ids (a list), or doc id -> grade (a dict).
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from trawl_client import TrawlClient  # noqa: E402

_QUERY_TAG = re.compile(r"<query>(.*?)</query>", re.S)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S)
_client = None


def _get_client():
    global _client
    url = os.environ.get("TRAWL_URL", "http://127.0.0.1:8080")
    if _client is None or _client.base_url != url.rstrip("/"):
        _client = TrawlClient(url)
    return _client


def extract_rewrites(solution_str):
    """The query texts in a policy output (at least one; an empty output gives [""])."""
    text = solution_str or ""
    answers = _ANSWER_TAG.findall(text)
    if answers:
        text = answers[-1]
    tagged = [q.strip() for q in _QUERY_TAG.findall(text) if q.strip()]
    if tagged:
        return tagged
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines or [text.strip()]


def _item(rewrites, ground_truth):
    item = {"queries": rewrites}
    if isinstance(ground_truth, dict) and "uid" in ground_truth:
        item["uid"] = str(ground_truth["uid"])
    elif isinstance(ground_truth, dict):
        item["relevant"] = {str(d): int(g) for d, g in ground_truth.items()}
    elif isinstance(ground_truth, (list, tuple)):
        item["relevant"] = [str(d) for d in ground_truth]
    else:
        item["uid"] = str(ground_truth)
    return item


def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    """Reward of the rewrite(s) in solution_str; raises when the uid is unknown or the server
    answers an error, so a misconfigured run fails loudly instead of training on zeros."""
    extra_info = extra_info or {}
    client = _get_client()
    result = client.compute_rewards(
        [_item(extract_rewrites(solution_str), ground_truth)],
        k=int(extra_info.get("k", os.environ.get("TRAWL_K", 10))),
        mode=extra_info.get("mode", os.environ.get("TRAWL_MODE", "single")),
        metric=extra_info.get("metric", os.environ.get("TRAWL_METRIC", "ndcg@10")),
        retriever=extra_info.get("retriever", os.environ.get("TRAWL_RETRIEVER")),
    )[0]
    if result["error"] is not None:
        raise ValueError(f"trawl reward for {data_source!r}: {result['error']}")
    return float(result["reward"])
