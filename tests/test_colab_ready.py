"""Every notebook opens in Colab and works there, checked without any network.

- The first markdown cell carries the "Open in Colab" badge pointing at this repository
  (``minifacenet.project.colab_url``).
- The setup cell installs ``minifacenet.project.pip_spec()`` only when ``google.colab`` imports:
  it is executed here with ``subprocess.run`` recorded instead of run, once as on a laptop and
  once with a stand-in ``google.colab`` module.
- No notebook uses ipympl (broken in Colab) or a plotly ``FigureWidget`` directly, and stored
  outputs use only core ipywidgets; the margin explorer, built as in Colab, is made of core
  widgets only and sends static plotly HTML.
- ``scripts/colab_badges.py`` leaves current notebooks alone and is idempotent.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest

from minifacenet.project import colab_url, pip_spec

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
BADGE_URL = re.compile(
    r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\(([^)]+)\)"
)
# Widget model modules Colab renders: the core ipywidgets packages.
CORE_WIDGET_MODULES = {"@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output"}
IPYMPL_SOURCE = re.compile(
    r"%matplotlib\s+(widget|ipympl)|\bipympl\b|matplotlib\.use\([\"'](module://)?ipympl"
)
FIGURE_WIDGET_SOURCE = re.compile(r"\bFigureWidget\s*\(")


# ------------------------------------------------------------------------------- checks
def badge_problems(notebook) -> list[str]:
    """The first markdown cell must hold the badge whose address is colab_url(<file name>)."""
    name = Path(notebook.metadata.get("_path", "")).name
    markdown = [cell for cell in notebook.cells if cell.cell_type == "markdown"]
    if not markdown or notebook.cells[0].cell_type != "markdown":
        return ["the first cell is not markdown (title + badge)"]
    urls = BADGE_URL.findall(markdown[0].source)
    if urls != [colab_url(name)]:
        return [f"first markdown cell's Colab badge {urls} != [{colab_url(name)!r}]"]
    return []


def setup_cells(notebook) -> list[str]:
    """Sources of the code cells that mention google.colab (the setup cell)."""
    return [
        cell.source for cell in notebook.cells if cell.cell_type == "code" and "google.colab" in cell.source
    ]


def run_setup_cell(source: str, *, monkeypatch, in_colab: bool) -> list[list[str]]:
    """Execute a setup cell with subprocess.run recorded; return the commands it would run."""
    commands: list[list[str]] = []

    def record(command, *args, **kwargs):
        commands.append([str(part) for part in command])
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", record)
    monkeypatch.setattr(subprocess, "check_call", record)
    fake_colab(monkeypatch) if in_colab else no_colab(monkeypatch)
    exec(compile(source, "<setup cell>", "exec"), {"__name__": "__main__"})
    return commands


def fake_colab(monkeypatch) -> None:
    """Make ``import google.colab`` (and importlib's find_spec) succeed, as in Colab."""
    google = types.ModuleType("google")
    google.__path__ = []
    google.__spec__ = importlib.machinery.ModuleSpec("google", None, is_package=True)
    colab = types.ModuleType("google.colab")
    colab.__spec__ = importlib.machinery.ModuleSpec("google.colab", None)
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)


def no_colab(monkeypatch) -> None:
    """Make ``import google.colab`` fail, as on a laptop (whatever else is installed)."""
    monkeypatch.setitem(sys.modules, "google.colab", None)


def widget_problems(notebook) -> list[str]:
    """ipympl or a bare FigureWidget in a source; non-core widgets in stored widget state."""
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        if IPYMPL_SOURCE.search(cell.source):
            problems.append(f"cell {index} uses ipympl, which is broken in Colab")
        if FIGURE_WIDGET_SOURCE.search(cell.source):
            problems.append(f"cell {index} builds a plotly FigureWidget, which Colab does not display")
    state = notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    modules = {model.get("model_module") for model in state.get("state", {}).values()}
    problems += [f"stored widget state uses {module}" for module in sorted(modules - CORE_WIDGET_MODULES)]
    return problems


def read(path: Path):
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["_path"] = str(path)
    return notebook


# ------------------------------------------------------------------------------- per notebook
def test_there_are_notebooks_to_check() -> None:
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_has_colab_badge(path: Path) -> None:
    assert badge_problems(read(path)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_setup_cell_installs_package_only_in_colab(path: Path, monkeypatch) -> None:
    cells = setup_cells(read(path))
    assert len(cells) == 1, f"expected one setup cell that checks for google.colab, found {len(cells)}"
    assert run_setup_cell(cells[0], monkeypatch=monkeypatch, in_colab=False) == []
    commands = run_setup_cell(cells[0], monkeypatch=monkeypatch, in_colab=True)
    installs = [command for command in commands if "pip" in command and "install" in command]
    assert len(installs) == 1 and installs[0][-1] == pip_spec(), f"Colab would run {commands}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_widgets_work_in_colab(path: Path) -> None:
    assert widget_problems(read(path)) == []


# ------------------------------------------------------------------------------- the checks can fail
def template_notebook(tmp_path: Path) -> Path:
    """The notebook template, converted as the build script does, saved as 99_template.ipynb."""
    jupytext = pytest.importorskip("jupytext")
    notebook = jupytext.read(ROOT / "notebooks" / "src" / "_template.py")
    notebook.cells[0].source = notebook.cells[0].source.replace("NN_name.ipynb", "99_template.ipynb")
    path = tmp_path / "99_template.ipynb"
    nbformat.write(notebook, path)
    return path


def test_template_passes_and_broken_copies_fail(tmp_path: Path, monkeypatch) -> None:
    good = read(template_notebook(tmp_path))
    assert badge_problems(good) == [] and widget_problems(good) == []
    assert run_setup_cell(setup_cells(good)[0], monkeypatch=monkeypatch, in_colab=True)[0][-1] == pip_spec()

    no_badge = read(template_notebook(tmp_path))
    no_badge.cells[0].source = BADGE_URL.sub("", no_badge.cells[0].source)
    assert badge_problems(no_badge)
    unguarded = setup_cells(good)[0].replace("if IN_COLAB:", "if True:")
    assert run_setup_cell(unguarded, monkeypatch=monkeypatch, in_colab=False) != []
    good.cells.append(nbformat.v4.new_code_cell("%matplotlib widget"))
    good.cells.append(nbformat.v4.new_code_cell("import plotly.graph_objects as go\ngo.FigureWidget()"))
    assert len(widget_problems(good)) == 2


# ------------------------------------------------------------------------------- the explorer in Colab
def widget_tree(widget) -> list:
    """``widget`` and every widget below it (children of boxes)."""
    return [widget] + [leaf for child in getattr(widget, "children", ()) for leaf in widget_tree(child)]


def test_explorer_uses_core_widgets_and_matplotlib_in_colab(monkeypatch) -> None:
    widgets = pytest.importorskip("minifacenet.widgets")
    no_colab(monkeypatch)
    assert not widgets.in_colab()
    fake_colab(monkeypatch)
    assert widgets.in_colab()
    assert widgets.choose_renderer("auto", 2) == "matplotlib"
    assert widgets.choose_renderer("auto", 3) == "plotly-static"

    explorer = widgets.MarginExplorer()
    assert explorer.renderer_name == "matplotlib"
    modules = {leaf._model_module for leaf in widget_tree(explorer)}
    assert modules <= CORE_WIDGET_MODULES, f"non-core widgets in the 2-D explorer: {modules}"
    assert explorer.view.figure.canvas.__class__.__name__ == "FigureCanvasAgg"


def test_3d_explorer_sends_static_plotly_in_colab(monkeypatch) -> None:
    widgets = pytest.importorskip("minifacenet.widgets")
    fake_colab(monkeypatch)
    rng = np.random.default_rng(0)
    # 3 classes on the unit sphere's axes, 60 points around them: [60, 3]
    weight = np.eye(3)
    labels = np.repeat(np.arange(3), 20)
    embeddings = weight[labels] + 0.2 * rng.standard_normal((60, 3))
    explorer = widgets.MarginExplorer(embeddings=embeddings, labels=labels, weight=weight)
    assert explorer.renderer_name == "plotly-static"
    modules = {leaf._model_module for leaf in widget_tree(explorer)}
    assert modules <= CORE_WIDGET_MODULES, f"non-core widgets in the 3-D explorer: {modules}"
    bundle = explorer.view.widget.outputs[0]["data"]
    assert "text/html" in bundle, f"Colab renders plotly as HTML; got {sorted(bundle)}"


# ------------------------------------------------------------------------------- the badge script
def load_module(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copy_for_badges(destination: Path) -> Path:
    """What scripts/colab_badges.py rewrites, copied: notebooks (with sources) and the README."""
    shutil.copytree(ROOT / "notebooks", destination / "notebooks", ignore=shutil.ignore_patterns(".ipynb_*"))
    shutil.copy2(ROOT / "README.md", destination / "README.md")
    return destination


def run_badges(script: types.ModuleType, capsys) -> str:
    """Run the script's main() on the copy (in-process: a subprocess per run costs seconds)."""
    capsys.readouterr()
    assert script.main() == 0
    return capsys.readouterr().out.strip()


def snapshot(root: Path) -> dict[str, bytes]:
    files = [root / "README.md", *(root / "notebooks").rglob("*.ipynb"), *(root / "notebooks").rglob("*.py")]
    return {str(path.relative_to(root)): path.read_bytes() for path in files}


def test_badge_script_keeps_current_notebooks_and_is_idempotent(tmp_path: Path, monkeypatch, capsys) -> None:
    root = copy_for_badges(tmp_path)
    script = load_module(ROOT / "scripts" / "colab_badges.py", "colab_badges_under_test")
    monkeypatch.setattr(script, "ROOT", root)
    before = snapshot(root)
    assert run_badges(script, capsys) == "updated: nothing (already current)"
    assert snapshot(root) == before

    # Move the repository: every badge and pip line follows, and a second run changes nothing.
    project_source = (ROOT / "minifacenet" / "project.py").read_text()
    moved = tmp_path / "moved_project.py"
    moved.write_text(re.sub(r'GITHUB_REPO = "[^"]*"', 'GITHUB_REPO = "someone-else/fork"', project_source))
    project = load_module(moved, "moved_project")
    monkeypatch.setattr(script, "colab_badge", project.colab_badge)
    monkeypatch.setattr(script, "pip_spec", project.pip_spec)
    assert run_badges(script, capsys).startswith("updated:") and snapshot(root) != before
    after_move = snapshot(root)
    assert run_badges(script, capsys) == "updated: nothing (already current)"
    assert snapshot(root) == after_move
    for path in (root / "notebooks").glob("[0-9]*.ipynb"):
        text = path.read_text()
        assert "colab.research.google.com/github/someone-else/fork/blob/" in text, path.name
        assert "git+https://github.com/someone-else/fork@" in text, path.name
