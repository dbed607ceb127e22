#!/usr/bin/env bash
# Set up a virtual environment and run a job:  bash scripts/dev.sh lab | test | bench
set -euo pipefail
cd "$(dirname "$0")/.."
job="${1:-lab}"
venv="${MINIFACENET_VENV:-.venv}"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
if ! python -c "import minifacenet, nbval, playwright, pytorch_metric_learning" 2>/dev/null \
   || [ pyproject.toml -nt "$venv/.installed" ]; then
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e ".[dev]"
  touch "$venv/.installed"
fi

case "$job" in
  lab)
    exec jupyter lab notebooks/
    ;;
  test)
    ruff check .
    # fast mode: notebooks shrink data and epochs; nbval runs every cell
    MINIFACENET_FAST=1 python -m pytest --nbval-lax --durations=15 tests notebooks "${@:2}"
    ;;
  bench)
    for b in benchmarks/bench_*.py; do python "$b"; done
    ;;
  *)
    echo "usage: bash scripts/dev.sh lab|test|bench" >&2
    exit 2
    ;;
esac
