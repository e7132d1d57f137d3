"""Load test: `trawl serve` vs the Python stack (FastAPI + bm25s / sentence-transformers + FAISS
flat, see serve_peer.py) on BEIR scifact, in one run. Run via bench/serve.sh.

Workload: POST /reward with 256 items x 4 rewrites (the test query, a word dropped, the words
shuffled, a word from another query added; seeded per request so both servers get identical
bodies and texts rarely repeat), k=10, mode single, nDCG@10. trawl runs with its LRU cache off
(--cache-mib 0) so the two servers do the same work. For each retriever and each number of
concurrent clients, every client sends --per-client requests over a kept-alive connection.
Reports requests/s, items/s, p50/p99 latency, server RSS (min/peak, sampled every 0.2 s, series
in target/bench-serve/rss.csv), errors, the agreement of rewards, and the items/s ratio.
Loopback only; bounded by --max-seconds.
"""
import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bm25_common import load_beir, shared_data  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "bench-serve"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def make_body(queries, request_no, items, rewrites, retriever):
    rng = random.Random(request_no)
    vocab = [w for _, q in queries for w in q.split()]
    out = []
    for _ in range(items):
        uid, text = rng.choice(queries)
        words = text.split()
        variants = [text]
        if len(words) > 1:
            w = list(words)
            del w[rng.randrange(len(w))]
            variants.append(" ".join(w))
        else:
            variants.append(text + " " + rng.choice(vocab))
        w = list(words)
        rng.shuffle(w)
        variants.append(" ".join(w))
        variants.append(text + " " + rng.choice(vocab))
        out.append({"uid": uid, "queries": variants[:rewrites]})
    return json.dumps({"items": out, "k": 10, "mode": "single", "metric": "ndcg@10", "retriever": retriever}).encode()


class Server:
    def __init__(self, name, cmd, port=None, parse_port=False):
        self.name = name
        self.log = open(OUT / f"{name}.stderr.log", "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        if parse_port:
            line = self.proc.stdout.readline()
            if not line.startswith("listening on http://"):
                raise RuntimeError(f"{name} did not start: {line!r}")
            self.port = int(line.strip().rsplit(":", 1)[1])
        else:
            self.port = port
        deadline = time.time() + 1800
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{name} did not become healthy (see {OUT / (name + '.stderr.log')})")
            time.sleep(0.5)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_level(server, bodies, clients, per_client, rss_log, label):
    """Every client sends per_client requests on its own connection; returns the measurements."""
    latencies, errors, item_errors, results = [], [0], [0], {}
    lock = threading.Lock()
    stop = threading.Event()
    samples = []

    def sample():
        while not stop.is_set():
            v = rss_mib(server.proc.pid)
            samples.append(v)
            rss_log.append((label, time.time(), v))
            time.sleep(0.2)

    def client(c):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        for r in range(per_client):
            n = c * per_client + r
            body = bodies[n % len(bodies)]
            t = time.perf_counter()
            try:
                conn.request("POST", "/reward", body=body, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                ok = resp.status == 200
            except OSError:
                ok, data = False, b""
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
            took = time.perf_counter() - t
            with lock:
                latencies.append(took)
                if not ok:
                    errors[0] += 1
                else:
                    res = json.loads(data)["results"]
                    item_errors[0] += sum(1 for x in res if x["error"] is not None)
                    results.setdefault(n % len(bodies), [x["reward"] for x in res])
        conn.close()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    n = len(latencies)
    lat = sorted(latencies)
    return {
        "requests": n,
        "rps": n / wall,
        "p50": statistics.median(lat) * 1000,
        "p99": lat[min(n - 1, int(0.99 * n))] * 1000,
        "rss_min": min(samples) if samples else rss_mib(server.proc.pid),
        "rss_peak": max(samples) if samples else rss_mib(server.proc.pid),
        "errors": errors[0] + item_errors[0],
        "results": results,
        "wall": wall,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trawl", required=True)
    ap.add_argument("--kb", required=True, help="scifact KB (with vectors for dense)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--retrievers", default="bm25,dense")
    ap.add_argument("--clients", default="1,4,16,64")
    ap.add_argument("--dense-clients", default="1,4,16")
    ap.add_argument("--per-client", type=int, default=2)
    ap.add_argument("--dense-per-client", type=int, default=1)
    ap.add_argument("--items", type=int, default=256)
    ap.add_argument("--rewrites", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=1500)
    a = ap.parse_args()
    start = time.time()
    dataset = shared_data("beir/scifact")
    _, queries, qrels = load_beir(dataset)
    OUT.mkdir(parents=True, exist_ok=True)
    rss_log = []
    rows = []
    print(f"scifact: reward requests of {a.items} items x {a.rewrites} rewrites, k=10, nDCG@10, "
          f"{a.per_client} (dense: {a.dense_per_client}) requests per client, loopback, {os.cpu_count()} CPUs", flush=True)
    for retriever in a.retrievers.split(","):
        levels = [int(c) for c in (a.clients if retriever == "bm25" else a.dense_clients).split(",")]
        per_client = a.per_client if retriever == "bm25" else a.dense_per_client
        n_bodies = max(levels) * per_client
        bodies = [make_body(queries, i, a.items, a.rewrites, retriever) for i in range(n_bodies)]
        per_server = {}
        for name in ["trawl", "python"]:
            if time.time() - start > a.max_seconds:
                print(f"stopping: --max-seconds {a.max_seconds} reached", flush=True)
                break
            if name == "trawl":
                model = ["--model", a.model] if retriever != "bm25" else []
                srv = Server("trawl", [a.trawl, "serve", a.kb, "--labels", str(dataset / "qrels" / "test.tsv"),
                                       "--addr", "127.0.0.1:0", "--cache-mib", "0",
                                       "--max-batch", "4096"] + model, parse_port=True)
            else:
                port = free_port()
                srv = Server("python", [sys.executable, str(Path(__file__).with_name("serve_peer.py")),
                                        "--dataset", str(dataset), "--retriever", retriever, "--model", a.model,
                                        "--cache", str(OUT / f"scifact-{Path(a.model).name}.npy"), "--port", str(port)],
                             port=port)
            try:
                # Warm-up request (model load, page cache), not measured.
                run_level(srv, bodies[:1], 1, 1, [], "warmup")
                for c in levels:
                    if time.time() - start > a.max_seconds:
                        print(f"stopping: --max-seconds {a.max_seconds} reached", flush=True)
                        break
                    m = run_level(srv, bodies, c, per_client, rss_log, f"{retriever}/{name}/{c}")
                    per_server[(name, c)] = m
                    rows.append((retriever, c, name, m))
                    print(f"  {retriever:<5} {name:<6} {c:>3} clients: {m['rps']:7.2f} req/s "
                          f"{m['rps'] * a.items:9.0f} items/s  p50 {m['p50']:8.1f} ms  p99 {m['p99']:8.1f} ms  "
                          f"RSS {m['rss_min']:.0f}-{m['rss_peak']:.0f} MiB  errors {m['errors']}", flush=True)
            finally:
                srv.stop()
        # Equal results: rewards of the same request bodies from both servers.
        agree = total = 0
        mt, mp = [], []
        for c in levels:
            t, p = per_server.get(("trawl", c)), per_server.get(("python", c))
            if not t or not p:
                continue
            for n, rewards in t["results"].items():
                if n in p["results"]:
                    for x, y in zip(rewards, p["results"][n]):
                        if x is None or y is None:
                            continue
                        total += 1
                        agree += abs(x - y) < 1e-4
                        mt.append(x)
                        mp.append(y)
        if total:
            print(f"  {retriever}: rewards equal (|diff| < 1e-4) on {agree}/{total} items "
                  f"({100.0 * agree / total:.1f}%); mean reward trawl {statistics.mean(mt):.4f}, "
                  f"python {statistics.mean(mp):.4f}", flush=True)
    with open(OUT / "rss.csv", "w") as f:
        f.write("level,time,rss_mib\n")
        for label, t, v in rss_log:
            f.write(f"{label},{t - start:.2f},{v:.1f}\n")
    print()
    print(f"{'retriever':<9} {'clients':>7} {'trawl items/s':>14} {'python items/s':>15} {'ratio':>7} "
          f"{'trawl p50/p99 ms':>18} {'python p50/p99 ms':>19} {'trawl RSS':>10} {'python RSS':>11} {'errors':>7}")
    by = {(r, c, n): m for r, c, n, m in rows}
    for (r, c, n), m in sorted(by.items()):
        if n != "trawl":
            continue
        p = by.get((r, c, "python"))
        ti = m["rps"] * a.items
        pi = p["rps"] * a.items if p else float("nan")
        ratio = ti / pi if p else float("nan")
        pl = f"{p['p50']:.0f}/{p['p99']:.0f}" if p else "-"
        prss = f"{p['rss_peak']:.0f} MiB" if p else "-"
        errs = m["errors"] + (p["errors"] if p else 0)
        print(f"{r:<9} {c:>7} {ti:>14.0f} {pi:>15.0f} {ratio:>6.1f}x {m['p50']:>8.0f}/{m['p99']:<9.0f} "
              f"{pl:>19} {m['rss_peak']:>6.0f} MiB {prss:>11} {errs:>7}")
    print(f"\nRSS series: {OUT / 'rss.csv'}; total {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
