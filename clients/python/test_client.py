"""Runs the Python client against a real `trawl serve` process on data/sample.

    TRAWL_BIN=target/debug/trawl python3 -m unittest clients/python/test_client.py

(crates/trawl-cli/tests/serve_python_client.rs runs this with the freshly built binary.)
Standard library only.
"""

import math
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SAMPLE = os.path.join(ROOT, "data", "sample")
QRELS = os.path.join(SAMPLE, "qrels", "test.tsv")
sys.path.insert(0, HERE)

from trawl_client import TrawlClient, TrawlError  # noqa: E402
import verl_reward  # noqa: E402


def read_qrels(path):
    qrels = {}
    with open(path, encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            q, d, g = line.rstrip("\n").split("\t")
            qrels.setdefault(q, {})[d] = int(g)
    return qrels


def ndcg_at(doc_ids, judged, k):
    """nDCG@k as trec_eval's ndcg_cut: gains = grades, log2(rank + 1) discount."""
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(doc_ids[:k]) if judged.get(d, 0) > 0)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = os.environ.get("TRAWL_BIN", os.path.join(ROOT, "target", "debug", "trawl"))
        cls.tmp = tempfile.TemporaryDirectory()
        kb = os.path.join(cls.tmp.name, "kb")
        subprocess.run([binary, "kb", "build", SAMPLE, "--out", kb], check=True, capture_output=True)
        cls.proc = subprocess.Popen(
            [binary, "serve", kb, "--labels", QRELS, "--addr", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = cls.proc.stdout.readline()
        if not line.startswith("listening on "):
            cls.proc.kill()
            raise RuntimeError(f"server did not start: {line!r} {cls.proc.stderr.read()}")
        cls.url = line.split("listening on ", 1)[1].strip()
        cls.client = TrawlClient(cls.url)
        cls.qrels = read_qrels(QRELS)
        cls.queries = {}
        import json
        with open(os.path.join(SAMPLE, "queries.jsonl"), encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    q = json.loads(line)
                    cls.queries[q["_id"]] = q["text"]

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        try:
            cls.proc.wait(timeout=20)
        finally:
            cls.proc.stdout.close()
            cls.proc.stderr.close()
            cls.tmp.cleanup()
        # Graceful shutdown on SIGTERM exits 0.
        assert cls.proc.returncode == 0, cls.proc.returncode

    def test_health_lists_retrievers_and_documents(self):
        h = self.client.health()
        self.assertEqual(h["status"], "ok")
        self.assertIn("bm25", h["retrievers"])
        with open(os.path.join(SAMPLE, "corpus.jsonl"), encoding="utf-8") as f:
            self.assertEqual(h["num_docs"], sum(1 for line in f if line.strip()))

    def test_search_returns_ranked_hits_with_titles(self):
        hits = self.client.search(self.queries["q1"], k=3)
        self.assertLessEqual(len(hits), 3)
        self.assertGreater(len(hits), 0)
        scores = [h["score"] for h in hits]
        self.assertEqual(scores, sorted(scores, reverse=True))
        self.assertTrue(all(isinstance(h["title"], str) for h in hits))
        self.assertIn(hits[0]["id"], self.qrels["q1"])

    def test_union_and_intersection_follow_the_rewrites(self):
        rewrites = [self.queries["q1"], self.queries["q2"]]
        union = self.client.retrieve_batch([rewrites], k=10, mode="union")[0]
        inter = self.client.retrieve_batch([rewrites], k=10, mode="intersection")[0]
        per = [set(h["id"] for h in q["hits"]) for q in union["per_query"]]
        self.assertEqual(len(per), 2)
        union_ids = set(h["id"] for h in union["hits"])
        self.assertEqual(union_ids, (per[0] | per[1]) if len(per[0] | per[1]) <= 10 else union_ids)
        self.assertTrue(union_ids <= per[0] | per[1])
        self.assertTrue(set(h["id"] for h in inter["hits"]) <= per[0] & per[1])

    def test_rewards_equal_an_independent_ndcg(self):
        items = [{"uid": uid, "queries": [self.queries[uid]]} for uid in sorted(self.qrels) if uid in self.queries]
        self.assertGreater(len(items), 0)
        results = self.client.compute_rewards(items, k=10, metric="ndcg@10")
        for item, r in zip(items, results):
            self.assertIsNone(r["error"])
            want = ndcg_at(r["doc_ids"], self.qrels[item["uid"]], 10)
            self.assertAlmostEqual(r["reward"], want, places=9, msg=item["uid"])
            self.assertEqual(r["per_query"], [r["reward"]])
        self.assertGreater(max(r["reward"] for r in results), 0.0)

    def test_single_mode_reward_is_the_mean_of_rewrites(self):
        r = self.client.compute_rewards(
            [{"uid": "q1", "queries": [self.queries["q1"], "completely unrelated words"]}],
            k=10, mode="single", metric="recall@10")[0]
        self.assertAlmostEqual(r["reward"], sum(r["per_query"]) / 2)

    def test_unknown_uid_is_an_error_not_zero(self):
        r = self.client.compute_rewards([{"uid": "no-such-uid", "queries": ["x"]}])[0]
        self.assertIsNone(r["reward"])
        self.assertIn("unknown uid", r["error"])

    def test_bad_k_raises_with_the_field(self):
        with self.assertRaises(TrawlError) as ctx:
            self.client.search("x", k=0)
        self.assertEqual((ctx.exception.status, ctx.exception.field), (400, "k"))

    def test_verl_compute_score_matches_the_reward_endpoint(self):
        os.environ["TRAWL_URL"] = self.url
        q = self.queries["q1"]
        got = verl_reward.compute_score("sample", f"<query>{q}</query>", "q1", {})
        want = self.client.compute_rewards([{"uid": "q1", "queries": [q]}])[0]["reward"]
        self.assertAlmostEqual(got, want)
        relevant = [d for d, g in self.qrels["q1"].items() if g > 0]
        by_ids = verl_reward.compute_score("sample", q, relevant, {"metric": "recall@10"})
        self.assertGreaterEqual(by_ids, 0.0)
        self.assertLessEqual(by_ids, 1.0)
        with self.assertRaises(ValueError):
            verl_reward.compute_score("sample", q, "no-such-uid", {})

    def test_stats_count_requests(self):
        self.client.search("trawl", k=1)
        s = self.client.stats()
        self.assertGreaterEqual(s["requests"], 1)
        self.assertIn("p99", s["latency_ms"])


if __name__ == "__main__":
    unittest.main()
