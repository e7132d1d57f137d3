"""A client for `trawl serve` using only the Python standard library (urllib + json).

    from trawl_client import TrawlClient
    client = TrawlClient("http://127.0.0.1:8080")
    client.search("how does trawling damage the seabed", k=5)
    client.retrieve_batch([["rewrite 1", "rewrite 2"]], k=10, mode="union")
    client.compute_rewards([{"uid": "q1", "queries": ["rewrite 1"]}], k=10, metric="ndcg@10")
"""

import json
import urllib.error
import urllib.request

__all__ = ["TrawlClient", "TrawlError"]


class TrawlError(Exception):
    """An error answer from the server: HTTP status, message and offending field."""

    def __init__(self, status, message, field=None):
        super().__init__(f"HTTP {status}: {message}" + (f" (field: {field})" if field else ""))
        self.status = status
        self.message = message
        self.field = field


class TrawlClient:
    """Talks JSON to a trawl retrieval service."""

    def __init__(self, base_url="http://127.0.0.1:8080", timeout=60.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _request(self, method, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", errors="replace")
            try:
                err = json.loads(body)
                raise TrawlError(e.code, err.get("error", body), err.get("field")) from None
            except ValueError:
                raise TrawlError(e.code, body) from None

    @staticmethod
    def _items(items):
        """Accepts ["q", ...], [["rw1", "rw2"], ...] or [{"queries": [...]}, ...]."""
        out = []
        for item in items:
            if isinstance(item, str):
                out.append({"queries": [item]})
            elif isinstance(item, dict):
                out.append(item)
            else:
                out.append({"queries": list(item)})
        return out

    def health(self):
        return self._request("GET", "/health")

    def stats(self):
        return self._request("GET", "/stats")

    def search(self, query, k=10, retriever=None):
        """Top-k hits for one query: a list of {"id", "score", "title"}."""
        payload = {"query": query, "k": k}
        if retriever:
            payload["retriever"] = retriever
        return self._request("POST", "/search", payload)["hits"]

    def retrieve_batch(self, items, k=10, mode="single", retriever=None, fuse=None):
        """One result per item: {"hits": [...], "per_query": [{"hits": [...]}, ...]}.

        items: query strings, lists of rewrites, or {"queries": [...]} dicts.
        mode: "single", "union" or "intersection"; fuse: "rrf" (default) or "max_score".
        """
        payload = {"items": self._items(items), "k": k, "mode": mode}
        if retriever:
            payload["retriever"] = retriever
        if fuse:
            payload["fuse"] = fuse
        return self._request("POST", "/retrieve_batch", payload)["results"]

    def compute_rewards(self, items, k=10, mode="single", metric="ndcg@10", retriever=None, fuse=None,
                        diversity=None):
        """One result per item: {"uid", "reward", "per_query", "doc_ids", "error"}.

        items: dicts with "queries" and a "uid" (looked up in the server's labels) or
        "relevant" (doc ids, or doc id -> grade). A per-item problem (an unknown uid) comes back
        as reward None with "error" set; it is never a silent 0.
        diversity: e.g. {"method": "embedding", "threshold": 0.5, "combine": "darling"} adds a
        "diversity" entry to each result ({"classes", "num_classes", "diversity", "rewards",
        "reward"}: the rewrites' equivalence classes and DARLING-style combined rewards); the
        server must hold a KB with an embedding model.
        """
        payload = {"items": self._items(items), "k": k, "mode": mode, "metric": metric}
        if diversity:
            payload["diversity"] = diversity
        if retriever:
            payload["retriever"] = retriever
        if fuse:
            payload["fuse"] = fuse
        return self._request("POST", "/reward", payload)["results"]
