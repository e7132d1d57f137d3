#!/usr/bin/env bash
# Makes (or reuses) bench/.venv with the Python peers the benchmarks compare trawl against.
# Usage: bench/setup.sh [group ...]   groups: eval bm25 bm25-scale dense serve train ann (default: all but ann)
# Idempotent: a group already installed is skipped (a stamp file per group).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip() { "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"; }
groups=("$@"); [ ${#groups[@]} -gt 0 ] || groups=(eval bm25 dense serve train)
for g in "${groups[@]}"; do
  stamp="$venv/.installed-$g"
  [ -f "$stamp" ] && continue
  echo "bench/setup.sh: installing peers for '$g' into $venv" >&2
  case "$g" in
    eval) pip numpy pytrec-eval-terrier ranx ;;
    bm25) pip numpy scipy bm25s PyStemmer numba rank-bm25 psutil onnxruntime
          pip pyjnius && pip --no-deps pyserini==0.22.1 ;;
    bm25-scale) pip numpy bm25s PyStemmer numba ;;
    dense) pip numpy sentence-transformers faiss-cpu hnswlib psutil ;;
    serve) pip fastapi uvicorn httpx psutil ;;
    train) pip sentence-transformers datasets accelerate ;;
    ann) pip numpy faiss-cpu hnswlib psutil ;;
    *) echo "unknown group: $g" >&2; exit 2 ;;
  esac
  touch "$stamp"
done
