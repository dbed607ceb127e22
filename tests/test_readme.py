"""The README is the front door: the code it shows is the library's real code."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from minifacenet import losses

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
# a block introduced by <!-- source: NAME --> shows losses.NAME (NAME may be Class.method)
SOURCE_BLOCK = re.compile(r"<!-- source: (?P<name>[\w.]+) -->\n```python\n(?P<code>.*?)```", re.S)
IMPORT = re.compile(r"^from (minifacenet[\w.]*) import (.+)$", re.M)


def shown_sources() -> list[tuple[str, str]]:
    return [(m["name"], m["code"]) for m in SOURCE_BLOCK.finditer(README)]


def test_readme_shows_the_code_of_margin_hooks():
    names = [name for name, _ in shown_sources()]
    assert "CosFace.formula" in names, "the README should show CosFace's formula as it is in losses.py"


@pytest.mark.parametrize("name, code", shown_sources(), ids=[n for n, _ in shown_sources()])
def test_shown_code_is_the_real_code(name: str, code: str):
    target = losses
    for part in name.split("."):
        target = getattr(target, part)
    assert code == inspect.getsource(target), (
        f"README's block for losses.{name} differs from minifacenet/losses.py: paste the current code"
    )


@pytest.mark.parametrize("module, names", IMPORT.findall(README))
def test_readme_imports_exist(module: str, names: str):
    imported = importlib.import_module(module)
    for name in (n.strip() for n in names.split(",")):
        assert hasattr(imported, name), f"README imports {name} from {module}, which has no such name"
