"""environment.yml (conda) lists the same dependencies as pyproject.toml (pip)."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# conda-forge package name -> PyPI name, where they differ
CONDA_TO_PYPI = {"pytorch": "torch"}
# conda-only entries that are not Python dependencies of the package
CONDA_TOOLS = {"python", "pip"}

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser under its PyPI name
    tomllib = pytest.importorskip("tomli")
yaml = pytest.importorskip("yaml", reason="PyYAML (installed with jupyterlab) reads environment.yml")


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def requirement_set(lines) -> set[tuple[str, str]]:
    """(canonical name, version specifier) for each requirement line."""
    parsed = [Requirement(line) for line in lines]
    return {(canonicalize_name(CONDA_TO_PYPI.get(r.name, r.name)), str(r.specifier)) for r in parsed}


def conda_and_pip_entries() -> tuple[list[str], list[str]]:
    dependencies = environment()["dependencies"]
    conda = [d for d in dependencies if isinstance(d, str)]
    pip = [line for d in dependencies if isinstance(d, dict) for line in d["pip"]]
    return conda, pip


def test_environment_header():
    env = environment()
    assert env["name"] == "minifacenet"
    assert env["channels"] == ["conda-forge"]
    conda, pip = conda_and_pip_entries()
    assert "pip" in conda
    python = next(d for d in conda if d.startswith("python="))
    # the conda Python satisfies pyproject's requires-python
    assert SpecifierSet(pyproject()["project"]["requires-python"]).contains(python.split("=", 1)[1])
    assert "-e ." in pip  # the package itself


def test_environment_lists_the_pyproject_dependencies():
    project = pyproject()["project"]
    expected = requirement_set([*project["dependencies"], *project["optional-dependencies"]["dev"]])
    conda, pip = conda_and_pip_entries()
    conda_packages = [d for d in conda if d.split("=")[0] not in CONDA_TOOLS]
    pip_packages = [line for line in pip if not line.startswith("-")]
    listed = requirement_set([*conda_packages, *pip_packages])
    only_env, only_pyproject = sorted(listed - expected), sorted(expected - listed)
    assert listed == expected, (
        f"only in environment.yml: {only_env}; only in pyproject.toml: {only_pyproject}"
    )
