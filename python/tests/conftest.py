"""Where the tests find real data and the real model.

- BEIR data: $TRAWL_SHARED_DATA, else ../shared/data beside the repository root.
- The model: $TRAWL_TEST_MODEL, else models/all-MiniLM-L6-v2 in the repository.
With TRAWL_REQUIRE_SHARED=1 / TRAWL_REQUIRE_MODEL=1 (CI) a missing one fails instead of skipping.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"


def _shared_dir():
    env = os.environ.get("TRAWL_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _missing(what, flag):
    if os.environ.get(flag) == "1":
        pytest.fail(f"{what} is missing and {flag}=1")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="session")
def shared_data():
    d = _shared_dir()
    if not (d / "beir" / "scifact" / "corpus.jsonl").exists():
        _missing(f"BEIR data ({d}/beir/scifact)", "TRAWL_REQUIRE_SHARED")
    return d


@pytest.fixture(scope="session")
def model_dir():
    env = os.environ.get("TRAWL_TEST_MODEL")
    d = Path(env) if env else REPO / "models" / "all-MiniLM-L6-v2"
    if not (d / "model.safetensors").exists():
        _missing(f"the all-MiniLM-L6-v2 model ({d})", "TRAWL_REQUIRE_MODEL")
    return d


@pytest.fixture(scope="session")
def sample_kb(tmp_path_factory):
    import trawl

    return trawl.KB.build(SAMPLE / "corpus.jsonl", tmp_path_factory.mktemp("kb") / "sample")


@pytest.fixture(scope="session")
def scifact_kb(shared_data, tmp_path_factory):
    import trawl

    return trawl.KB.build(shared_data / "beir" / "scifact", tmp_path_factory.mktemp("kb") / "scifact")


def read_queries(path):
    import json

    with open(path) as f:
        return {q["_id"]: q["text"] for q in map(json.loads, f)}


def read_beir_qrels(path):
    qrels = {}
    with open(path) as f:
        next(f)
        for line in f:
            q, d, g = line.split("\t")
            qrels.setdefault(q, {})[d] = int(g)
    return qrels
