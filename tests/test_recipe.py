"""The one course recipe: every loss in the table script, the CLI default and ``fit`` read it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from minifacenet import cli, losses
from minifacenet.recipe import COURSE_RECIPE, FACES_RECIPE
from minifacenet.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
RECIPE_FLAGS = ("--lr", "--epochs", "--batch-size", "--shift", "--warmup")


def table_rows() -> dict[str, str]:
    """``{row name: CLI flags}`` from ``train_table.sh --list``."""
    listed = subprocess.run(
        ["bash", str(ROOT / "scripts" / "train_table.sh"), "--list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split(": python -m minifacenet train ", 1) for line in listed.splitlines())


def test_fit_defaults_are_the_course_recipe():
    config = TrainConfig()
    for field, value in COURSE_RECIPE.train_settings().items():
        assert getattr(config, field) == value, field


def test_the_cli_defaults_are_the_course_recipe():
    args = cli.build_parser().parse_args(["train"])
    assert (args.lr, args.epochs, args.batch_size, args.shift) == (
        COURSE_RECIPE.lr,
        COURSE_RECIPE.epochs,
        COURSE_RECIPE.batch_size,
        COURSE_RECIPE.max_shift,
    )


def test_no_table_row_sets_a_recipe_flag_of_its_own():
    rows = table_rows()
    offending = {name: flags for name, flags in rows.items() if any(f in flags.split() for f in RECIPE_FLAGS)}
    assert not offending, f"rows that override the course recipe: {offending}"


def test_the_table_has_every_loss_in_every_dimension_with_three_seeds():
    rows = table_rows()
    for loss in losses.LOSS_NAMES:
        if loss == "combined":
            continue
        for dim in (2, 3, 32):
            seeds = {s for name in rows if (s := re.fullmatch(rf"open-{dim}d-{loss}-seed(\d+)", name))}
            assert len(seeds) == 3, (loss, dim)


def test_every_table_row_parses_and_builds_its_loss():
    parser = cli.build_parser()
    for name, flags in table_rows().items():
        args = parser.parse_args(["train", *flags.split(), "--out", "/tmp/unused"])
        assert args.lr == COURSE_RECIPE.lr and args.epochs == COURSE_RECIPE.epochs, name
        cli.check_args(args)


@pytest.mark.parametrize("recipe", [COURSE_RECIPE, FACES_RECIPE])
def test_a_recipe_is_frozen(recipe):
    with pytest.raises(AttributeError):
        recipe.lr = 1.0
