"""Every notebook opens in Colab and works there, checked without any network.

- The first markdown cell carries the "Open in Colab" badge pointing at this repository
  (``minifacenet.project.colab_url``).
- The setup cell installs ``minifacenet.project.pip_spec()`` only when ``google.colab`` imports:
  it is executed here with ``subprocess.run`` recorded instead of run, once as on a laptop and
  once with a stand-in ``google.colab`` module.
- No notebook uses ipympl (broken in Colab) or a plotly ``FigureWidget`` directly, no ``interact``
  function returns a figure (drawn twice, stacked in Colab), and stored outputs use only core
  ipywidgets; the margin explorer, built as in Colab, is made of core widgets only and holds no
  plotly at all, in 2-D and 3-D (its sphere is drawn with matplotlib into an ``Image``).
- Every floor in ``[project].dependencies`` is met by Colab's own versions
  (``tests/colab_versions.json``), so installing minifacenet there upgrades nothing.
- ``scripts/colab_badges.py`` leaves current notebooks alone and is idempotent.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

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
# interact(lambda ...: plot(...)) returns the figure: drawn twice, and stacked in Colab (colabtools#3711)
INTERACT_RETURNS_SOURCE = re.compile(r"\binteract(ive)?\s*\(\s*lambda\b")
COLAB_VERSIONS = ROOT / "tests" / "colab_versions.json"


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


def interact_problems(notebook) -> list[str]:
    """interact(lambda ...) returns the function's figure: drawn twice, stacked in Colab."""
    return [
        f"cell {index}: interact with a lambda returns the figure; call plt.show() and return None"
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and INTERACT_RETURNS_SOURCE.search(cell.source)
    ]


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


SOURCES = sorted((ROOT / "notebooks" / "src").glob("[0-9]*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=[path.stem for path in SOURCES])
def test_interact_cells_draw_once_in_colab(path: Path) -> None:
    jupytext = pytest.importorskip("jupytext")
    assert interact_problems(jupytext.read(path)) == []


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
    assert interact_problems(good) == []
    good.cells.append(nbformat.v4.new_code_cell("interact(lambda m: plot(m), m=FloatSlider())"))
    assert len(interact_problems(good)) == 1


# ------------------------------------------------------------------------------- the explorer in Colab
def widget_tree(widget) -> list:
    """``widget`` and every widget below it (children of boxes)."""
    return [widget] + [leaf for child in getattr(widget, "children", ()) for leaf in widget_tree(child)]


def widget_json(widget) -> str:
    """Every trait a widget sends to the frontend, as JSON text (bytes left out)."""
    state = widget.get_state()
    return json.dumps(
        {key: value for key, value in state.items() if not isinstance(value, bytes | memoryview)}, default=str
    )


def assert_colab_safe(explorer) -> None:
    """Core widgets only, no plotly anywhere in what is sent, a JPEG in the figure's Image."""
    leaves = widget_tree(explorer)
    modules = {leaf._model_module for leaf in leaves}
    assert modules <= CORE_WIDGET_MODULES, f"non-core widgets in the explorer: {modules}"
    names = {type(leaf).__name__ for leaf in leaves}
    assert "Output" not in names and not any("Figure" in name for name in names), names
    assert not any("plotly" in widget_json(leaf).lower() for leaf in leaves)
    assert explorer.image in leaves and explorer.image.value[:2] == b"\xff\xd8"  # JPEG


def test_explorer_in_colab_2d_is_core_widgets_and_an_image(monkeypatch) -> None:
    widgets = pytest.importorskip("minifacenet.explorer")
    no_colab(monkeypatch)
    assert not widgets.in_colab()
    fake_colab(monkeypatch)
    assert widgets.in_colab()
    assert widgets.choose_renderer("auto", 2) == "matplotlib"
    assert widgets.choose_renderer("auto", 3) == "matplotlib"
    with pytest.raises(ValueError, match="Colab"):
        widgets.choose_renderer("plotly", 3)
    explorer = widgets.MarginExplorer()
    assert explorer.renderer_name == "matplotlib"
    assert_colab_safe(explorer)


def test_explorer_in_colab_3d_draws_the_sphere_with_matplotlib(monkeypatch) -> None:
    widgets = pytest.importorskip("minifacenet.explorer")
    fake_colab(monkeypatch)
    rng = np.random.default_rng(0)
    # 3 classes on the unit sphere's axes, 60 points around them: [60, 3]
    weight = np.eye(3)
    labels = np.repeat(np.arange(3), 20)
    embeddings = weight[labels] + 0.2 * rng.standard_normal((60, 3))
    strangers = rng.standard_normal((10, 3))
    explorer = widgets.MarginExplorer(
        embeddings=embeddings, labels=labels, weight=weight, strangers=strangers
    )
    assert explorer.renderer_name == "matplotlib"
    assert explorer.azimuth.layout.display is None and explorer.elevation.layout.display is None
    assert_colab_safe(explorer)
    before = explorer.image.value
    explorer.elevation.value = 60
    assert explorer.image.value != before
    assert_colab_safe(explorer)


# ------------------------------------------------------------------------------- Colab's versions
def colab_versions() -> dict[str, Version]:
    data = json.loads(COLAB_VERSIONS.read_text())
    assert data["source"] and data["snapshot"], "say where and when the versions were read"
    return {canonicalize_name(name): Version(version) for name, version in data["packages"].items()}


def runtime_requirements() -> list[str]:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def unmet(requirements: list[str], versions: dict[str, Version]) -> list[str]:
    """Requirements that Colab's versions do not satisfy (or that Colab does not ship)."""
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        version = versions.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name}: not in {COLAB_VERSIONS.name}; add Colab's version")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{text}: Colab has {version}; installing would change Colab's copy")
    return problems


def test_every_runtime_floor_is_met_by_colab() -> None:
    assert unmet(runtime_requirements(), colab_versions()) == []


def test_the_floor_check_can_fail() -> None:
    versions = colab_versions()
    assert versions["ipywidgets"] == Version("7.7.1")
    assert unmet(["ipywidgets>=8.0"], versions) and unmet(["not-on-colab>=1"], versions)
    assert unmet(["ipywidgets>=7.7"], versions) == []


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
