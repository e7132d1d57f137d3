#!/usr/bin/env bash
# The trawl Python package against pytrec_eval and bm25s, side by side (see bench/python_bench.py).
# Builds the wheel into bench/.venv (with the eval and bm25 peers of bench/setup.sh, and the dense
# ones, PyTorch included, when the rewards benchmark runs) and runs.
# Usage: bench/python.sh [--repeats N] [--queries N --docs N] [--only eval|search|rewards|import]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/setup.sh" eval bm25
case " $* " in *" --only "*) [[ " $* " == *" --only rewards "* ]] && "$here/setup.sh" dense ;; *) "$here/setup.sh" dense ;; esac
venv="$here/.venv"
"$venv/bin/python" -m pip install -q maturin
"$venv/bin/maturin" build --release --manifest-path "$here/../python/Cargo.toml" -o "$here/out/wheels"
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps "$here"/out/wheels/trawl-*.whl
ls -l "$here"/out/wheels/trawl-*.whl | awk '{printf "wheel: %s, %.1f MB\n", $NF, $5/1e6}'
exec "$venv/bin/python" "$here/python_bench.py" "$@"
