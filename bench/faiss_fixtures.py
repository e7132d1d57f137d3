#!/usr/bin/env python3
"""Writes the FAISS fixture indexes trawl's import tests read, with faiss-cpu's own top-10 answers.

Usage: bench/faiss_fixtures.py [OUT_DIR]   (default crates/trawl-vector/tests/data/faiss)
Needs numpy and faiss-cpu (bench/setup.sh ann). Seeded: the same faiss-cpu writes the same data.

Vectors: 600 x 16, a seeded mixture of 20 Gaussian clusters, L2-normalised (like sentence
embeddings); 100 held-out queries from the same mixture. For each index: the .faiss file and
<name>.expected.json = {"file", "metric", "nprobe"|"ef", "k", "ids": [[...]], "distances": [[...]]}.
Also writes the KB-import fixtures: corpus.jsonl, id_mapping.pkl (list, protocol 4),
id_mapping_dict.pkl (dict position -> id, protocol 2), labels.pkl (qid -> list of doc ids),
labels_graded.pkl (qid -> {doc id: grade}, protocol 5), labels_set.pkl (qid -> set, protocol 3).
"""
import json
import os
import pickle
import sys

import faiss
import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "crates", "trawl-vector", "tests", "data", "faiss")
os.makedirs(out, exist_ok=True)
faiss.omp_set_num_threads(1)
rng = np.random.default_rng(13)
d, n, nq, k = 16, 600, 100, 10
centers = rng.normal(size=(20, d)).astype("float32")


def sample(m):
    x = centers[rng.integers(0, 20, m)] + 0.35 * rng.normal(size=(m, d)).astype("float32")
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype("float32")


xb, xq = sample(n), sample(nq)
np.save(os.path.join(out, "queries.npy"), xq)
IP, L2 = faiss.METRIC_INNER_PRODUCT, faiss.METRIC_L2


def ivf(metric, pq_m=None):
    quantizer = faiss.IndexFlatIP(d) if metric == IP else faiss.IndexFlatL2(d)
    if pq_m is None:
        index = faiss.IndexIVFFlat(quantizer, d, 16, metric)
    else:
        index = faiss.IndexIVFPQ(quantizer, d, 16, pq_m, 8, metric)
        index.cp.min_points_per_centroid = 1  # 600 points for 256 codes: quiet the warning
    index.train(xb)  # the Python wrapper keeps `quantizer` alive with the index
    return index


def hnsw(metric):
    index = faiss.IndexHNSWFlat(d, 8, metric)
    index.hnsw.efConstruction = 40
    return index


def sq8():
    index = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, L2)
    index.train(xb)
    return index


fixtures = [
    ("flat_ip", faiss.IndexFlatIP(d), {}),
    ("flat_l2", faiss.IndexFlatL2(d), {}),
    ("sq8_l2", sq8(), {}),
    ("ivfflat_ip", ivf(IP), {"nprobe": 4}),
    ("ivfpq_l2", ivf(L2, 8), {"nprobe": 4}),
    ("ivfpq_ip", ivf(IP, 8), {"nprobe": 4}),
    ("hnsw_ip", hnsw(IP), {"ef": 32}),
    ("hnsw_l2", hnsw(L2), {"ef": 32}),
]
for name, index, knobs in fixtures:
    index.add(xb)
    if "nprobe" in knobs:
        index.nprobe = knobs["nprobe"]
    if "ef" in knobs:
        index.hnsw.efSearch = knobs["ef"]
    path = os.path.join(out, name + ".faiss")
    faiss.write_index(index, path)
    # Search the index as read back, like any user of the file would.
    back = faiss.read_index(path)
    if "nprobe" in knobs:
        back.nprobe = knobs["nprobe"]
    if "ef" in knobs:
        back.hnsw.efSearch = knobs["ef"]
    dist, ids = back.search(xq, k)
    rec = {"file": name + ".faiss", "metric": "ip" if index.metric_type == IP else "l2", "k": k,
           **knobs, "ids": ids.tolist(), "distances": [[round(float(v), 6) for v in row] for row in dist]}
    with open(os.path.join(out, name + ".expected.json"), "w") as f:
        json.dump(rec, f)
    print(f"{name}: {os.path.getsize(path)} bytes")

# KB-import fixtures: doc ids in index order, a tiny corpus, and labels as RL code keeps them.
doc_ids = [f"doc{i:04d}" for i in range(n)]
with open(os.path.join(out, "corpus.jsonl"), "w") as f:
    for i in reversed(range(n)):  # not in index order: the import must reorder by the mapping
        f.write(json.dumps({"_id": doc_ids[i], "title": "", "text": f"p{i}"}) + "\n")
with open(os.path.join(out, "id_mapping.pkl"), "wb") as f:
    pickle.dump(doc_ids, f, protocol=4)
with open(os.path.join(out, "id_mapping_dict.pkl"), "wb") as f:
    pickle.dump({i: doc_ids[i] for i in range(n)}, f, protocol=2)
exact = faiss.IndexFlatIP(d)
exact.add(xb)
_, top = exact.search(xq, 3)
labels = {f"q{j}": [doc_ids[t] for t in top[j][:2]] for j in range(nq)}
with open(os.path.join(out, "labels.pkl"), "wb") as f:
    pickle.dump(labels, f, protocol=4)
with open(os.path.join(out, "labels_set.pkl"), "wb") as f:
    pickle.dump({q: set(v) for q, v in labels.items()}, f, protocol=3)
with open(os.path.join(out, "labels_graded.pkl"), "wb") as f:
    pickle.dump({q: {v[0]: 2, v[1]: 1} for q, v in labels.items()}, f, protocol=5)
print("total", sum(os.path.getsize(os.path.join(out, p)) for p in os.listdir(out)), "bytes")
