"""Write the Colab badge and the Colab install line into every notebook and the README.

The repository address lives in one place, ``minifacenet/project.py``; edit it, then run
``python scripts/colab_badges.py``. Notebooks keep their outputs; only those lines change.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from minifacenet.project import colab_badge, pip_spec  # noqa: E402

BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
PIP = re.compile(r"minifacenet @ git\+https://github\.com/[^\"'\s]+")
README_ROW = re.compile(r"(\| \[`(\d\d_\w+)`\]\(notebooks/\2\.ipynb\) \|[^\n]*?)" + BADGE.pattern)


def stamp_notebook(path: Path) -> bool:
    """Set the badge (first markdown cell) and the pip line (setup cell); True if changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        new = BADGE.sub(colab_badge(path.name), cell.source)
        new = PIP.sub(pip_spec(), new) if cell.cell_type == "code" else new
        if cell.cell_type == "markdown" and "Open In Colab" not in new and cell is nb.cells[0]:
            new = new.replace("\n", f"\n\n{colab_badge(path.name)}\n", 1)
        changed |= new != cell.source
        cell.source = new
    if changed:
        nbformat.write(nb, path)
    return changed


def stamp_readme(path: Path) -> bool:
    text = path.read_text()
    new = README_ROW.sub(lambda m: m.group(1) + colab_badge(m.group(2) + ".ipynb"), text)
    if new != text:
        path.write_text(new)
    return new != text


def stamp_source(path: Path) -> bool:
    """The same two lines in a notebook's jupytext source (``notebooks/src/*.py``)."""
    text = path.read_text()
    new = PIP.sub(pip_spec(), BADGE.sub(colab_badge(path.stem + ".ipynb"), text))
    if new != text:
        path.write_text(new)
    return new != text


def main() -> int:
    changed = [p.name for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if stamp_notebook(p)]
    changed += [p.name for p in sorted((ROOT / "notebooks" / "src").glob("[0-9]*.py")) if stamp_source(p)]
    if stamp_readme(ROOT / "README.md"):
        changed.append("README.md")
    print("updated: " + (", ".join(changed) if changed else "nothing (already current)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
