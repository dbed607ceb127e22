"""Colab's versions of the widget stack, from tests/colab_versions.json, for the `colab` CI job.

    python scripts/colab_pins.py          # print pip pins: ipywidgets==7.7.1 ...
    python scripts/colab_pins.py --check  # print what imports; exit 1 unless it is Colab's versions
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

VERSIONS = Path(__file__).resolve().parent.parent / "tests" / "colab_versions.json"
# Pinned in the second venv. torch, torchvision, scikit-learn and IPython come from the main venv
# (IPython 7.34 does not work with the main venv's ipykernel 7).
PINNED = ("ipywidgets", "widgetsnbextension", "jupyterlab-widgets", "anywidget", "plotly", "matplotlib",
          "numpy", "pillow", "tqdm")  # fmt: skip


def pins() -> dict[str, str]:
    packages = json.loads(VERSIONS.read_text())["packages"]
    return {name: packages[name] for name in PINNED}


def check() -> int:
    import ipywidgets

    print(f"colab stack: ipywidgets {ipywidgets.__version__} from {Path(ipywidgets.__file__).parent}")
    wrong = {name: (importlib.metadata.version(name), version) for name, version in pins().items()
             if importlib.metadata.version(name) != version}  # fmt: skip
    for name, (found, wanted) in wrong.items():
        print(f"  {name} {found} imports, Colab has {wanted}")
    return 1 if wrong or ipywidgets.__version__ != pins()["ipywidgets"] else 0


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(check())
    print(" ".join(f"{name}=={version}" for name, version in pins().items()))
