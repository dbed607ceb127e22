"""Colab's versions, from tests/colab_versions.json, for the `colab` CI job (scripts/dev.sh colab).

    python scripts/colab_pins.py          # print pip pins: ipywidgets==7.7.1 ... torchvision==0.26.0
    python scripts/colab_pins.py --check  # print what imports; exit 1 unless it is Colab's versions
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

VERSIONS = Path(__file__).resolve().parent.parent / "tests" / "colab_versions.json"
# Pinned in the second venv, so that no newer API can slip into the course unnoticed. IPython, ipykernel,
# pytest, nbval and the rest come from the main venv (IPython 7.34 does not work with its ipykernel 7).
PINNED = ("ipywidgets", "widgetsnbextension", "jupyterlab-widgets", "anywidget", "plotly", "matplotlib",
          "numpy", "scikit-learn", "pillow", "tqdm")  # fmt: skip
TORCH = ("torch", "torchvision")  # installed without their CUDA libraries: torch loads the main venv's


def pins(names: tuple[str, ...] = PINNED + TORCH) -> dict[str, str]:
    packages = json.loads(VERSIONS.read_text())["packages"]
    return {name: packages[name] for name in names}


def check() -> int:
    import ipywidgets

    print(f"colab stack: ipywidgets {ipywidgets.__version__} from {Path(ipywidgets.__file__).parent}")
    # a local tag does not count: torch 2.11.0+cpu is Colab's torch 2.11.0
    wrong = {name: (importlib.metadata.version(name), version) for name, version in pins().items()
             if importlib.metadata.version(name).split("+")[0] != version}  # fmt: skip
    for name, (found, wanted) in wrong.items():
        print(f"  {name} {found} imports, Colab has {wanted}")
    return 1 if wrong or ipywidgets.__version__ != pins()["ipywidgets"] else 0


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(check())
    print(" ".join(f"{name}=={version}" for name, version in pins().items()))
