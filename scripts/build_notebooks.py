"""Build ``notebooks/*.ipynb`` from their jupytext sources and execute them, keeping outputs.

    python scripts/build_notebooks.py            # every notebook, full mode (what a student runs)
    python scripts/build_notebooks.py 04 05      # only notebooks whose name starts with 04 or 05
    python scripts/build_notebooks.py --fast     # fast mode (MINIFACENET_FAST=1), as CI runs them
    python scripts/build_notebooks.py --no-run   # convert only, no execution
    python scripts/build_notebooks.py --text-only 05   # prose edits: keep the stored outputs

Sources live in ``notebooks/src/NN_name.py`` (percent format); the notebooks are paired
with them (``jupytext.formats``), so saving in JupyterLab with jupytext updates both.
Widget state is not stored (it is large and meaningless without a kernel); static figures
are stored as PNG so GitHub shows them. Prints each notebook's run time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def convert(source: Path) -> nbformat.NotebookNode:
    """A notebook from its percent-format source, with kernelspec and pairing metadata."""
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["jupytext"] = {"formats": "ipynb,src//py:percent"}
    nb.metadata.pop("widgets", None)
    return nb


def execute(nb: nbformat.NotebookNode, *, fast: bool, timeout: int) -> float:
    """Run every cell in a fresh kernel inside notebooks/; return the seconds it took."""
    env_fast, env_backend = os.environ.get("MINIFACENET_FAST"), os.environ.get("MPLBACKEND")
    os.environ["MINIFACENET_FAST"] = "1" if fast else "0"
    # always the inline backend: an inherited MPLBACKEND=Agg would silently drop every figure
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        start = time.perf_counter()
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOKS)}})
        client.execute()
        return time.perf_counter() - start
    finally:
        for name, value in (("MINIFACENET_FAST", env_fast), ("MPLBACKEND", env_backend)):
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


def strip_widget_state(nb: nbformat.NotebookNode) -> None:
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("prefixes", nargs="*", help="only notebooks whose name starts with these")
    parser.add_argument("--fast", action="store_true", help="execute in fast mode")
    parser.add_argument("--no-run", action="store_true", help="convert without executing")
    parser.add_argument("--text-only", action="store_true", help="markdown edits only: keep outputs")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    sources = sorted((NOTEBOOKS / "src").glob("[0-9]*.py"))
    sources = [s for s in sources if not args.prefixes or s.stem.startswith(tuple(args.prefixes))]
    if not sources:
        parser.error(f"no notebook sources match {args.prefixes} in {NOTEBOOKS / 'src'}")
    for source in sources:
        nb = convert(source)
        target = NOTEBOOKS / f"{source.stem}.ipynb"
        if args.text_only:
            keep_outputs(nb, target)
        run = not (args.no_run or args.text_only)
        seconds = execute(nb, fast=args.fast, timeout=args.timeout) if run else 0.0
        strip_widget_state(nb)
        nbformat.write(nb, target)
        mode = "fast" if args.fast else "full"
        mode = "text only" if args.text_only else ("not run" if args.no_run else mode)
        print(f"{target.name}: {mode} {seconds:.1f} s, {target.stat().st_size / 1e6:.2f} MB", flush=True)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "colab_badges.py")], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
