#!/usr/bin/env bash
# Set up a virtual environment and run a job:  bash scripts/dev.sh lab | test | colab | bench
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
  colab)
    # Colab's versions (tests/colab_versions.json: the widget stack, torch 2.11, torchvision 0.26,
    # NumPy 2.1.3, scikit-learn 1.6.1, matplotlib...) in a second venv that borrows everything else
    # (pytest, nbval, ipykernel, scipy) from the main one through a .pth file placed after its own
    # packages, so its pinned versions win. The first install takes minutes (docs/notebook_times.md).
    # Library tests, widget tests and notebooks 03, 05, 08 (fast mode) run there.
    # No browser test: JupyterLab 4 cannot render a 7.7.1 kernel's widgets (docs/testing.md).
    colab_venv="${MINIFACENET_COLAB_VENV:-.venv-colab}"
    main_site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    [ -x "$colab_venv/bin/python" ] || python -m venv "$colab_venv"
    colab_site="$("$colab_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    pins="$(python scripts/colab_pins.py)"
    if [ tests/colab_versions.json -nt "$colab_venv/.installed" ]; then
      # Only the pinned packages, without their dependencies: torch 2.11 and torchvision 0.26 take about
      # 1.5 GB here, and torch finds the CUDA 13 libraries it loads at import (unused on a CPU) in the main
      # venv through the .pth file. With its own copies they would add 3.4 GB, which once filled CI's disk.
      # (The .pth is written after the install, so that pip does not see the main venv's packages.)
      rm -f "$colab_site/zz_main_venv.pth"
      # shellcheck disable=SC2086
      "$colab_venv/bin/python" -m pip install --quiet --no-cache-dir --no-deps $pins ipython_genutils tenacity
      touch "$colab_venv/.installed"
    fi
    echo "$main_site" > "$colab_site/zz_main_venv.pth"
    "$colab_venv/bin/python" scripts/colab_pins.py --check
    MINIFACENET_FAST=1 PYTHONPATH="$PWD" "$colab_venv/bin/python" -m pytest --nbval-lax -p no:cacheprovider \
      tests/test_losses.py tests/test_models.py tests/test_train.py tests/test_metrics.py tests/test_openset.py \
      tests/test_explorer.py tests/test_geometry.py tests/test_viz.py tests/test_colab_ready.py \
      notebooks/03_sphereface.ipynb notebooks/05_arcface.ipynb notebooks/08_margin_playground.ipynb "${@:2}"
    ;;
  bench)
    for b in benchmarks/bench_*.py; do python "$b"; done
    ;;
  *)
    echo "usage: bash scripts/dev.sh lab|test|colab|bench" >&2
    exit 2
    ;;
esac
