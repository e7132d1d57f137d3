#!/usr/bin/env bash
# int8 encoding benchmark: trawl f32, trawl --quantize int8, sentence-transformers f32 and ONNX
# Runtime's dynamically quantised MiniLM (per-channel, MatMul only), in one run: passages/s,
# ratios, mean cosine to f32 and scifact nDCG@10 for each.
# Usage: bench/int8.sh [--passages 1000] [--repeats 3] [--threads 2] [--skip-ndcg]  (see bench/int8.py -h)
# Needs bench/.venv with torch, sentence-transformers, onnxruntime, onnx, pytrec_eval (setup.sh dense;
# `bench/.venv/bin/pip install onnx` for the export). TRAWL_BIN: use this trawl instead of building one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
if [ ! -x "$here/.venv/bin/python" ]; then
  "$here/setup.sh" dense
fi
"$here/.venv/bin/python" -c "import onnx" 2>/dev/null || "$here/.venv/bin/pip" install -q onnx
if [ -z "${TRAWL_BIN:-}" ]; then
  # The target dir may be shared: copy the binary so a concurrent build cannot swap it mid-run.
  (cd "$root" && cargo build --release -q -p trawl-cli \
    && mkdir -p target/bench-int8 && cp "${CARGO_TARGET_DIR:-target}/release/trawl" target/bench-int8/)
fi
exec "$here/.venv/bin/python" "$here/int8.py" "$@"
