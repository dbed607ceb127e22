"""The notebooks: each source in notebooks/src is built, small, and opens the same way.

Executing the notebooks is nbval's job (``pytest --nbval-lax notebooks``); these tests only
read files, so they take well under a second.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted((NOTEBOOKS / "src").glob("[0-9]*.py"))
MAX_BYTES = 2_000_000
# the third cell opens with the switch a student flips, both run times measured (docs/notebook_times.md) ...
FAST_LINE = re.compile(
    r"^FAST = (True|False)  # True: [^\n]*about [\d.]+ min[^\n]*; False: [^\n]*about [\d.]+ min"
)
# ... which CI (MINIFACENET_FAST=1) and the build script (0 or 1) override; the seed the asserts survive
FAST_OVERRIDE = 'FAST = {"1": True, "0": False}.get(os.environ.get("MINIFACENET_FAST"), FAST)'
SEED_LINE = 'SEED = int(os.environ.get("MINIFACENET_SEED", "0"))'
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
    # 3. the fast-mode switch, visible at the top, and the seed
    assert knobs.cell_type == "code"
    assert FAST_LINE.match(knobs.source), (
        "the third cell must open with `FAST = False  # True: ..., about N min; False: ..., about M min`"
    )
    assert FAST_OVERRIDE in knobs.source, f"the third cell needs the CI override: {FAST_OVERRIDE}"
    assert SEED_LINE in knobs.source and "seed_everything(SEED)" in knobs.source


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_cell_follows_fast_and_seed(source: Path):
    """Only the third cell reads the environment; every training run takes the notebook's SEED."""
    code = [cell.source for cell in jupytext.read(source).cells if cell.cell_type == "code"]
    later = "\n".join(code[2:])
    assert "MINIFACENET_FAST" not in later and "seed_everything(0)" not in later, (
        f"{source.name}: read FAST and SEED from the third cell"
    )
    assert "lr=1e-2" not in later, f"{source.name}: the course recipe's lr is fit's default (recipe.py)"


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


_links_spec = importlib.util.spec_from_file_location("notebook_links", ROOT / "scripts" / "notebook_links.py")
notebook_links = importlib.util.module_from_spec(_links_spec)
_links_spec.loader.exec_module(notebook_links)


def test_navigation_and_readme_table_are_current():
    """Previous/Next lines and the README's table follow the file list (scripts/notebook_links.py)."""
    stale = [str(path.relative_to(ROOT)) for path in notebook_links.updates()]
    assert not stale, f"stale links in {stale}: run `python scripts/notebook_links.py`"


def test_inserting_a_notebook_needs_no_hand_edit(tmp_path: Path, monkeypatch):
    """A notebook inserted as 05 renumbers the rest: links and README rows follow, descriptions kept."""
    src = tmp_path / "notebooks" / "src"
    src.mkdir(parents=True)
    for source in SOURCES:
        number, name = source.stem.split("_", 1)
        new_number = int(number) + (int(number) >= 5)
        text = source.read_text().replace(f"# # {number} · ", f"# # {new_number:02d} · ", 1)
        (src / f"{new_number:02d}_{name}.py").write_text(text)
    title = "# %% [markdown]\n# # 05 · Margins in a nutshell: a test\n#\n# text\n"
    (src / "05_nutshell.py").write_text(title)
    (tmp_path / "README.md").write_text((ROOT / "README.md").read_text())
    monkeypatch.setattr(notebook_links, "ROOT", tmp_path)
    monkeypatch.setattr(notebook_links, "SOURCES_DIR", src)
    monkeypatch.setattr(notebook_links, "README", tmp_path / "README.md")
    assert notebook_links.main([]) == 0 and not notebook_links.updates(), "not idempotent"
    assert "Previous: [04 · CosFace](04_cosface.ipynb) · Next: [06 · ArcFace](06_arcface.ipynb)" in (
        src / "05_nutshell.py"
    ).read_text()
    last = (src / "09_margin_playground.py").read_text()
    assert "Previous: [08 · Faces](08_faces.ipynb) · Next: back to [00 · " in last
    readme = (tmp_path / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| [`")]
    assert [row.split("`")[1] for row in rows] == [path.stem for path in sorted(src.glob("[0-9]*.py"))]
    assert "Open-set faces" in rows[8] and "Margins in a nutshell: a test" in rows[5]
