#!/usr/bin/env bash
# Builds the trawl wheel with maturin, installs it into a FRESH virtualenv (as a user would) with
# pytest, pytrec-eval-terrier (the reference) and numpy, and runs python/tests.
# Env: TRAWL_SHARED_DATA / TRAWL_TEST_MODEL (see tests/conftest.py), CARGO_TARGET_DIR (default
# python/target), TRAWL_PY_WORK (scratch folder; default a new temporary one).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${TRAWL_PY_WORK:-$(mktemp -d)}"
rm -rf "$work/venv" "$work/wheels"
python3 -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install -q maturin pytest pytrec-eval-terrier numpy
start=$(date +%s)
"$work/venv/bin/maturin" build --release --manifest-path "$here/Cargo.toml" -o "$work/wheels"
wheel="$(ls "$work"/wheels/trawl-*.whl)"
echo "trawl wheel: $(basename "$wheel"), $(du -k "$wheel" | cut -f1) KiB, built in $(( $(date +%s) - start )) s"
"$py" -m pip install -q "$wheel"
"$py" -X importtime -c "import trawl" 2>&1 | tail -1 | awk -F'|' '{printf "import trawl: %.1f ms\n", $2/1000}'
# From the tests folder, so the source folder python/trawl cannot shadow the installed package.
cd "$here/tests"
"$py" -m pytest -q -p no:cacheprovider
