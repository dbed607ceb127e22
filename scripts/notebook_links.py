"""Write every notebook's Previous/Next line and the README's notebook table from the files in notebooks/src.

    python scripts/notebook_links.py          # rewrite what is stale: sources, built notebooks, README
    python scripts/notebook_links.py --check  # list what is stale; exit 1 if anything is

The order is the file names' (``NN_name.py``); a notebook's short name is its title (``# NN · Title``) up to
the first colon, comma or parenthesis. Adding, removing or renumbering a notebook therefore needs no hand
edit: rename the files, run this script (the build script runs it too). The README keeps each row's
description by the notebook's name without its number (``faces`` for ``06_faces``), so a renumbered
notebook keeps its description; a new one starts with its title, to be edited in the README. Outputs of
the built notebooks are kept: only their title cell changes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCES_DIR = ROOT / "notebooks" / "src"
README = ROOT / "README.md"
sys.path.insert(0, str(ROOT))
from minifacenet.project import colab_badge  # noqa: E402

TITLE = re.compile(r"^# # (\d\d) · (.+)$", re.MULTILINE)  # in the percent-format source
NAV = re.compile(r"^(Previous: .*|Next: .*)$", re.MULTILINE)
TABLE_HEADER = "| notebook | what it teaches | Colab |\n|---|---|---|\n"
ROW = re.compile(r"^\| \[`(\d\d)_(\w+)`\]\(notebooks/\1_\2\.ipynb\) \| (.*) \| [^|\n]* \|$", re.MULTILINE)


def sources() -> list[Path]:
    return sorted(SOURCES_DIR.glob("[0-9][0-9]_*.py"))


def title(source: Path) -> tuple[str, str]:
    """(number, full title) from the source's first markdown heading."""
    match = TITLE.search(source.read_text())
    if not match:
        raise SystemExit(f"{source.name}: no '# NN · Title' heading")
    return match.group(1), match.group(2).strip()


def short_name(source: Path) -> str:
    number, full = title(source)
    return f"{number} · {re.split(r'[:,(]', full)[0].strip()}"


def link(source: Path) -> str:
    return f"[{short_name(source)}]({source.stem}.ipynb)"


def navigation(index: int, files: list[Path]) -> str:
    """The Previous/Next line of the notebook at ``index``; the last one points back to the first."""
    parts = []
    if index > 0:
        parts.append(f"Previous: {link(files[index - 1])}")
    if index < len(files) - 1:
        parts.append(f"Next: {link(files[index + 1])}")
    elif len(files) > 1:
        parts.append(f"Next: back to {link(files[0])}")
    return " · ".join(parts)


def with_navigation(markdown: str, line: str) -> str:
    """A title cell's markdown with its navigation line replaced (or appended)."""
    if NAV.search(markdown):
        return NAV.sub(lambda _: line, markdown, count=1)
    return markdown.rstrip("\n") + f"\n\n{line}"


def stamp_source(source: Path, line: str) -> str:
    """The source's text with the title cell's navigation line set (percent format: '# ' before each line)."""
    text = source.read_text()
    head, separator, rest = text.partition("\n# %%\n")  # the title cell, then the rest
    lines = [row[2:] if row.startswith("# ") else row.lstrip("#") for row in head.splitlines()[1:]]
    new = with_navigation("\n".join(lines), line)
    cell = "# %% [markdown]\n" + "\n".join(f"# {row}" if row else "#" for row in new.splitlines())
    return cell + "\n" + separator + rest if separator else cell + "\n"


def readme_table(files: list[Path], text: str) -> str:
    """The README's notebook table: every source in order, descriptions kept by name."""
    described = {match.group(2): match.group(3) for match in ROW.finditer(text)}
    rows = []
    for source in files:
        name = source.stem.split("_", 1)[1]
        what = described.get(name, title(source)[1])
        badge = colab_badge(source.stem + ".ipynb")
        rows.append(f"| [`{source.stem}`](notebooks/{source.stem}.ipynb) | {what} | {badge} |")
    return TABLE_HEADER + "\n".join(rows) + "\n"


def new_readme(files: list[Path]) -> str:
    text = README.read_text()
    start = text.index(TABLE_HEADER)
    end = start + len(TABLE_HEADER)
    while end < len(text) and text.startswith("| [`", end):
        end = text.index("\n", end) + 1
    return text[:start] + readme_table(files, text) + text[end:]


def updates() -> dict[Path, object]:
    """Every file whose links are stale, with its new content (text, or a notebook)."""
    files = sources()
    changed: dict[Path, object] = {}
    for index, source in enumerate(files):
        line = navigation(index, files)
        text = stamp_source(source, line)
        if text != source.read_text():
            changed[source] = text
        built = ROOT / "notebooks" / f"{source.stem}.ipynb"
        if built.exists():
            nb = nbformat.read(built, as_version=4)
            new = with_navigation(nb.cells[0].source, line)
            if new != nb.cells[0].source:
                nb.cells[0].source = new
                changed[built] = nb
    readme = new_readme(files)
    if readme != README.read_text():
        changed[README] = readme
    return changed


def main(argv: list[str]) -> int:
    changed = updates()
    names = ", ".join(str(path.relative_to(ROOT)) for path in changed) or "nothing"
    if "--check" in argv:
        print(f"stale links: {names}")
        return 1 if changed else 0
    for path, content in changed.items():
        if isinstance(content, str):
            path.write_text(content)
        else:
            nbformat.write(content, path)
    print(f"updated: {names}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
