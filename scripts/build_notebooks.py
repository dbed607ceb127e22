"""Build ``notebooks/*.ipynb`` from their jupytext sources and execute them, keeping outputs.

    python scripts/build_notebooks.py            # every notebook, full mode (what a student runs)
    python scripts/build_notebooks.py 04 05      # only notebooks whose name starts with 04 or 05
    python scripts/build_notebooks.py --fast     # fast mode (MINIFACENET_FAST=1), as CI runs them
    python scripts/build_notebooks.py --no-run   # convert only, no execution
    python scripts/build_notebooks.py --text-only 05   # prose edits: keep the stored outputs
    python scripts/build_notebooks.py --times    # run times (fast, full) and reading times (no build)
    python scripts/build_notebooks.py --measure --fast 04   # record the run time; keep the stored notebook

Sources live in ``notebooks/src/NN_name.py`` (percent format); the notebooks are paired
with them (``jupytext.formats``), so saving in JupyterLab with jupytext updates both.
Widget state is not stored (it is large and meaningless without a kernel); static figures
are stored as PNG so GitHub shows them. Progress bars are off during builds (``TQDM_DISABLE``)
and any that slip through are dropped: a stored bar is frozen at whatever it showed. Prints
each notebook's run time and any page problem (:func:`page_problems`: stderr, progress bars,
plotly figures without a PNG beside them), which tests/test_notebooks.py also checks.

Run times: every executed build records its wall time (fast or full mode, with the date and the machine's
CPU count and load) in ``docs/notebook_run_times.json``; ``--times`` prints them beside the budget, a full
run of at most ``FULL_BUDGET_S`` seconds on a 2-core CPU (Colab's free runtime). The navigation lines and the
README's notebook table are rewritten after every build (``scripts/notebook_links.py``).

Scoreboard: the notebooks add rows to the course scoreboard, kept in ``$MINIFACENET_RUNS``. A build
points that at its own folder, ``runs/notebooks-full`` (``-fast``, ``-measure``), never the user's cache
nor the tests'. Each notebook starts from the scoreboard the notebook before it left in a build (a copy
kept in ``runs/notebooks-full-after/NN_name``; the first starts empty), so its stored scoreboard holds
what a student meets there: rows of the notebooks before it, none from later ones or other runs.

Reading time (``--times``): the *core path* of a lesson is every cell before the first
heading that says "Going further"; its prose words and code lines (no blanks, no comments)
are what a teacher walks through in class (docs/notebook_times.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
GOING_FURTHER = re.compile(r"^#+ .*going further", re.IGNORECASE | re.MULTILINE)
PROGRESS_BAR = re.compile(r"\d+%\|")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WORDS_PER_MINUTE = 200  # an assumed reading pace, not a measurement
RUN_TIMES = ROOT / "docs" / "notebook_run_times.json"
FULL_BUDGET_S = 180  # a full run on a 2-core CPU (Colab's free runtime has two)


def convert(source: Path) -> nbformat.NotebookNode:
    """A notebook from its percent-format source, with kernelspec and pairing metadata."""
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["jupytext"] = {"formats": "ipynb,src//py:percent"}
    nb.metadata.pop("widgets", None)
    return nb


def kernel_cpu_seconds() -> float:
    """CPU seconds (user + system) of this process's finished children: the kernels, once shut down."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def log_cell(cell, cell_index: int, **_) -> None:
    """Say which cell finished, so a build that stalls shows where."""
    print(f"  cell {cell_index} done", file=sys.stderr, flush=True)


def build_runs_dir(*, fast: bool, measure: bool = False) -> Path:
    """The build's own scoreboard folder (see the module docstring); ``--measure`` runs keep theirs
    apart, so that they never change what a later build's scoreboard shows."""
    name = "notebooks-measure" if measure else "notebooks-fast" if fast else "notebooks-full"
    return ROOT / "runs" / name


def snapshot_dir(runs_dir: Path, source: Path) -> Path:
    return runs_dir.with_name(runs_dir.name + "-after") / source.stem


def scoreboard_as_before(runs_dir: Path, every: list[Path], source: Path) -> None:
    """Give ``source`` the scoreboard a student meets there: the rows left by the notebooks before it
    (the snapshot taken after the previous one was built), none from later notebooks."""
    shutil.rmtree(runs_dir, ignore_errors=True)
    previous = every[: every.index(source)]
    if not previous:
        return
    snapshot = snapshot_dir(runs_dir, previous[-1])
    if snapshot.exists():
        shutil.copytree(snapshot, runs_dir)
    else:
        print(f"{source.stem}: no scoreboard left by {previous[-1].stem} (build it first); starting empty",
              flush=True)


def snapshot_scoreboard(runs_dir: Path, source: Path) -> None:
    """Keep the scoreboard as ``source`` left it, for a later build of the next notebook."""
    snapshot = snapshot_dir(runs_dir, source)
    shutil.rmtree(snapshot, ignore_errors=True)
    if runs_dir.exists():
        shutil.copytree(runs_dir, snapshot)
    else:
        snapshot.mkdir(parents=True)


def execute(nb: nbformat.NotebookNode, *, fast: bool, timeout: int, runs_dir: Path) -> float:
    """Run every cell in a fresh kernel inside notebooks/, its scoreboard in ``runs_dir``
    (:func:`build_runs_dir`); return the seconds it took.

    The kernel's CPU seconds are left in ``execute.cpu_seconds``: on a loaded machine the wall time is an
    upper bound, and the CPU time (one torch thread) is what an idle 2-core CPU would take.
    """
    names = ("MINIFACENET_FAST", "MPLBACKEND", "TQDM_DISABLE", "MINIFACENET_RUNS")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["MINIFACENET_FAST"] = "1" if fast else "0"
    os.environ["MINIFACENET_RUNS"] = str(runs_dir)
    # a progress bar stored in a page is frozen at its last frame
    os.environ["TQDM_DISABLE"] = "1"
    # always the inline backend: an inherited MPLBACKEND=Agg would silently drop every figure
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        start, cpu_start = time.perf_counter(), kernel_cpu_seconds()
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOKS)}},
                                on_cell_executed=log_cell)  # fmt: skip
        client.execute()
        wall = time.perf_counter() - start
        execute.cpu_seconds = kernel_cpu_seconds() - cpu_start  # the kernel is shut down and reaped by now
        return wall
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def keep_outputs(nb: nbformat.NotebookNode, target: Path) -> None:
    """Copy the outputs of ``target`` into ``nb`` when no code cell changed (prose-only edits)."""
    old = nbformat.read(target, as_version=4)
    new_code = [c for c in nb.cells if c.cell_type == "code"]
    old_code = [c for c in old.cells if c.cell_type == "code"]
    if [c.source for c in new_code] != [c.source for c in old_code]:
        raise SystemExit(f"{target.name}: code changed since the last run; build it without --text-only")
    for new, stored in zip(new_code, old_code, strict=True):
        new.outputs, new.execution_count = stored.outputs, stored.execution_count
        new.id = stored.get("id", new.get("id"))
    nb.metadata = old.metadata


def is_progress_bar(output: dict) -> bool:
    """A tqdm bar: a widget view whose text shows 'NN%|'."""
    data = output.get("data", {})
    return WIDGET_VIEW in data and bool(PROGRESS_BAR.search("".join(data.get("text/plain", ""))))


def page_problems(nb: nbformat.NotebookNode) -> list[str]:
    """What a stored page must not show: stderr, progress bars, plotly figures without a PNG in their cell."""
    problems = []
    for number, cell in enumerate(nb.cells):
        kinds = set()
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                problems.append(f"cell {number}: stderr output: {''.join(output.get('text', ''))[:80]!r}")
            if is_progress_bar(output):
                problems.append(f"cell {number}: a progress bar")
            kinds |= set(output.get("data", {}))
        if any("plotly" in kind for kind in kinds) and "image/png" not in kinds:
            problems.append(f"cell {number}: a plotly figure without a PNG (GitHub shows nothing)")
    return problems


def strip_widget_state(nb: nbformat.NotebookNode) -> None:
    """No widget state and no progress bars: both are meaningless without a kernel."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if "outputs" in cell:
            cell.outputs = [output for output in cell.outputs if not is_progress_bar(output)]


def core_cells(nb: nbformat.NotebookNode) -> list:
    """The cells of the lesson's core path: everything before the first "Going further" heading."""
    for number, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and GOING_FURTHER.search(cell.source):
            return nb.cells[:number]
    return list(nb.cells)


def reading_time(source: Path) -> dict:
    """Prose words and code lines (no blanks, no comments) of a source's core path."""
    nb = jupytext.read(source)
    cells = core_cells(nb)
    words = sum(len(cell.source.split()) for cell in cells if cell.cell_type == "markdown")
    lines = [line.strip() for cell in cells if cell.cell_type == "code" for line in cell.source.splitlines()]
    code = sum(1 for line in lines if line and not line.startswith("#"))
    total = sum(len(cell.source.split()) for cell in nb.cells if cell.cell_type == "markdown")
    return {"words": words, "code_lines": code, "all_words": total, "minutes": words / WORDS_PER_MINUTE}


def times_table(sources: list[Path]) -> str:
    """The reading-time table of docs/notebook_times.md, in Markdown."""
    rows = ["| notebook | core prose (words) | core code (lines) | reading at "
            f"{WORDS_PER_MINUTE} words/min | all prose, Going further included (words) |",
            "|---|---|---|---|---|"]
    for source in sources:
        time = reading_time(source)
        rows.append(f"| {source.stem} | {time['words']} | {time['code_lines']} | {time['minutes']:.1f} min "
                    f"| {time['all_words']} |")
    return "\n".join(rows)


def record_run_time(name: str, mode: str, seconds: float, cpu_seconds: float | None = None) -> None:
    """Keep the latest measured wall time (and kernel CPU time) of ``name`` in ``mode`` ("fast" or "full")."""
    times = json.loads(RUN_TIMES.read_text()) if RUN_TIMES.exists() else {}
    times.setdefault(name, {})[mode] = {
        "seconds": round(seconds, 1),
        "cpu_seconds": None if cpu_seconds is None else round(cpu_seconds, 1),
        "date": datetime.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "load": round(os.getloadavg()[0], 1),
    }
    RUN_TIMES.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")


def run_times_table(sources: list[Path]) -> str:
    """The measured run times, fast and full, against the full-run budget."""
    times = json.loads(RUN_TIMES.read_text()) if RUN_TIMES.exists() else {}
    rows = ["| notebook | fast | full | full CPU ≤ budget | measured (date, CPUs, load) |",
            "|---|---|---|---|---|"]
    for source in sources:
        runs = times.get(source.stem, {})
        cell = {mode: (f"{runs[mode]['seconds']:.0f} s wall, {runs[mode].get('cpu_seconds') or 0:.0f} s CPU"
                       if mode in runs else "not measured") for mode in ("fast", "full")}
        full = runs.get("full", {}).get("cpu_seconds") or runs.get("full", {}).get("seconds")
        over = f"**no** (> {FULL_BUDGET_S} s)"
        within = "—" if full is None else ("yes" if full <= FULL_BUDGET_S else over)
        when = "; ".join(f"{mode} {run['date']}, {run['cpus']} CPUs, load {run['load']}"
                         for mode, run in runs.items())
        rows.append(f"| {source.stem} | {cell['fast']} | {cell['full']} | {within} | {when} |")
    return "\n".join(rows)


ATTEMPTS = 3


def execute_with_retry(source: Path, nb, *, fast: bool, timeout: int, runs_dir: Path):
    """Execute; again from a fresh kernel (up to ``ATTEMPTS`` in all) if a cell times out. A kernel
    sometimes goes idle while the client still waits for the cell's reply (seen in 01 and 02 with
    ipykernel 6 and 7; the same notebook then runs through in a fresh kernel): the per-cell timeout
    turns that hang into a retry, not a lost build."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return nb, execute(nb, fast=fast, timeout=timeout, runs_dir=runs_dir)
        except CellTimeoutError as error:
            if attempt == ATTEMPTS:
                raise
            print(f"{source.stem}: a cell timed out ({str(error).splitlines()[0]}); again", flush=True)
            nb = convert(source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("prefixes", nargs="*", help="only notebooks whose name starts with these")
    parser.add_argument("--fast", action="store_true", help="execute in fast mode")
    parser.add_argument("--no-run", action="store_true", help="convert without executing")
    parser.add_argument("--text-only", action="store_true", help="markdown edits only: keep outputs")
    parser.add_argument("--timeout", type=int, default=150, help="seconds per cell (then a retry)")
    parser.add_argument("--times", action="store_true", help="print the run and reading times; build nothing")
    parser.add_argument("--measure", action="store_true", help="execute, record the run time, write nothing")
    args = parser.parse_args(argv)
    sources = sorted((NOTEBOOKS / "src").glob("[0-9]*.py"))
    sources = [s for s in sources if not args.prefixes or s.stem.startswith(tuple(args.prefixes))]
    if not sources:
        parser.error(f"no notebook sources match {args.prefixes} in {NOTEBOOKS / 'src'}")
    if args.times:
        print("Run times: wall (kernel start included) and the kernel's CPU time, one torch thread: what an\n"
              f"idle 2-core CPU takes. Full-run budget {FULL_BUDGET_S} s.\n")
        print(run_times_table(sources))
        print("\nReading times:\n")
        print(times_table(sources))
        return 0
    every = sorted((NOTEBOOKS / "src").glob("[0-9]*.py"))
    for source in sources:
        nb = convert(source)
        target = NOTEBOOKS / f"{source.stem}.ipynb"
        if args.text_only:
            keep_outputs(nb, target)
        run = not (args.no_run or args.text_only)
        seconds = 0.0
        if run:
            runs_dir = build_runs_dir(fast=args.fast, measure=args.measure)
            scoreboard_as_before(runs_dir, every, source)
            nb, seconds = execute_with_retry(source, nb, fast=args.fast, timeout=args.timeout,
                                             runs_dir=runs_dir)
            snapshot_scoreboard(runs_dir, source)
        if run:
            record_run_time(source.stem, "fast" if args.fast else "full", seconds, execute.cpu_seconds)
        if args.measure:
            mode = "fast" if args.fast else "full"
            print(f"{source.stem}: {mode} {seconds:.1f} s wall, {execute.cpu_seconds:.1f} s kernel CPU "
                  "(measured, not written)", flush=True)
            continue
        strip_widget_state(nb)
        nbformat.write(nb, target)
        mode = "fast" if args.fast else "full"
        mode = "text only" if args.text_only else ("not run" if args.no_run else mode)
        print(f"{target.name}: {mode} {seconds:.1f} s, {target.stat().st_size / 1e6:.2f} MB", flush=True)
        for problem in page_problems(nb):
            print(f"  {target.name}: {problem}", flush=True)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "notebook_links.py")], check=True)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "colab_badges.py")], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
