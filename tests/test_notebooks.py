"""The notebooks: each source in notebooks/src is built, small, and opens the same way.

Executing the notebooks is nbval's job (``pytest --nbval-lax notebooks``); these tests only
read files, so they take well under a second.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted((NOTEBOOKS / "src").glob("[0-9]*.py"))
MAX_BYTES = 2_000_000
FAST_SWITCH = 'FAST = os.environ.get("MINIFACENET_FAST") == "1"'
TEMPLATE = NOTEBOOKS / "src" / "_template.py"
CORE_WORDS = 1100  # prose of a lesson's core path; about 15 minutes in class with its cells
_spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
build_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_notebooks)


def built(source: Path) -> Path:
    return NOTEBOOKS / f"{source.stem}.ipynb"


def read(source: Path) -> nbformat.NotebookNode:
    path = built(source)
    if not path.exists():
        build = f"python scripts/build_notebooks.py {source.stem[:2]}"
        pytest.fail(f"{path.name} is missing: build it with `{build}`")
    return nbformat.read(path, as_version=4)


def cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in nb.cells]


def test_there_are_notebook_sources():
    assert SOURCES, "no notebooks/src/NN_name.py sources found"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_built_notebook_matches_its_source(source: Path):
    nb = read(source)
    expected = cells(jupytext.read(source))
    actual = cells(nb)
    assert len(actual) == len(expected), (
        f"{built(source).name} has {len(actual)} cells, its source {len(expected)}: rebuild it "
        f"with `python scripts/build_notebooks.py {source.stem[:2]}`"
    )
    for number, (got, want) in enumerate(zip(actual, expected, strict=True)):
        assert got == want, f"{built(source).name} cell {number} differs from {source.name}: rebuild it"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_is_small_and_has_a_kernelspec(source: Path):
    nb = read(source)
    size = built(source).stat().st_size
    name = built(source).name
    assert size <= MAX_BYTES, f"{name} is {size / 1e6:.2f} MB (> 2 MB): use fewer or smaller figures"
    assert nb.metadata.get("kernelspec", {}).get("name"), f"{built(source).name} has no kernelspec metadata"
    assert "widgets" not in nb.metadata, f"{built(source).name} stores widget state: rebuild it"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_opens_the_same_way(source: Path):
    nb = read(source)
    title, setup, knobs = nb.cells[:3]
    number = source.stem[:2]
    # 1. title and learning goals (the Colab badge: test_colab_ready.py's test_notebook_has_colab_badge)
    assert title.cell_type == "markdown"
    assert title.source.startswith(f"# {number} · "), f"title must start with '# {number} · '"
    assert "**What you will learn**" in title.source
    # 2. the setup cell: the template's (test_setup_cell_is_the_templates), run as in Colab by
    # test_colab_ready.py's test_setup_cell_installs_package_only_in_colab
    assert setup.cell_type == "code"
    # 3. the fast-mode switch and seeds
    assert knobs.cell_type == "code"
    assert FAST_SWITCH in knobs.source, f"the third cell needs the fast-mode switch: {FAST_SWITCH}"
    assert "seed_everything(" in knobs.source


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_setup_cell_is_the_templates(source: Path):
    """One shared opening: the setup cell (Colab install, figure style, plotly renderer) is the template's."""
    template = jupytext.read(TEMPLATE).cells[1].source
    assert jupytext.read(source).cells[1].source == template, (
        f"{source.name}: the setup cell differs from notebooks/src/_template.py; copy the template's"
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_core_path_ends_with_what_to_remember(source: Path):
    """Exercises with solutions; 'What to remember' closes the core path (before any "Going further")."""
    nb = jupytext.read(source)
    markdown = [cell.source for cell in nb.cells if cell.cell_type == "markdown"]
    solutions = [text for text in markdown if "<summary>Solution</summary>" in text]
    assert solutions, "exercises need solutions in collapsed <details> cells"
    core = [cell.source for cell in build_notebooks.core_cells(nb) if cell.cell_type == "markdown"]
    where = "the last markdown cell" if len(core) == len(markdown) else "the cell before 'Going further'"
    assert "what to remember" in core[-1].lower(), f"{where} should be 'What to remember'"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_core_path_fits_a_lesson(source: Path):
    words = build_notebooks.reading_time(source)["words"]
    assert words <= CORE_WORDS, (
        f"{source.name}: {words} words of prose before 'Going further' (> {CORE_WORDS}); move deep-dives "
        "after 'What to remember' under a '## Going further' heading"
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_stored_page_is_clean(source: Path):
    """What GitHub shows: no stderr, no frozen progress bar, every plotly figure with a PNG in its cell."""
    problems = build_notebooks.page_problems(read(source))
    assert not problems, f"{built(source).name}: " + "; ".join(problems) + ": rebuild it"


def test_page_problems_are_found():
    """The page check itself, on a made-up notebook with one of each problem."""
    bar = nbformat.v4.new_output("display_data", data={
        "text/plain": "epochs:   0%|          | 0/4 [00:00<?, ?it/s]",
        build_notebooks.WIDGET_VIEW: {"model_id": "x"},
    })
    stderr = nbformat.v4.new_output("stream", name="stderr", text="UserWarning: something")
    plotly = nbformat.v4.new_output("display_data", data={"application/vnd.plotly.v1+json": {}})
    png = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"})
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(outputs=[bar]),
        nbformat.v4.new_code_cell(outputs=[stderr]),
        nbformat.v4.new_code_cell(outputs=[plotly]),
        nbformat.v4.new_code_cell(outputs=[plotly, png]),
    ])
    problems = build_notebooks.page_problems(nb)
    assert [problem.split(":")[0] for problem in problems] == ["cell 0", "cell 1", "cell 2"]
    build_notebooks.strip_widget_state(nb)
    assert nb.cells[0].outputs == [], "the build drops stored progress bars"
