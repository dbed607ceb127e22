"""Adding a loss is one class and its test: a margin head defined here alone, with its facts,
is taken by the CLI's --margin, the explorer and the scoreboard with no other change."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from minifacenet import cli, losses, openset
from minifacenet.explorer import MarginExplorer
from minifacenet.geometry import Margin, explorer_losses, synthetic_2d, target_curves


@pytest.fixture
def half_cosface():
    """A new margin head: target cosine ``cos(theta) - m / 2``; registered while the test runs."""

    class HalfCosFace(losses.MarginHead):
        """Half a CosFace margin: target logit ``s * (cos(theta) - m / 2)``, ``0 <= m < 1``."""

        name = "halfcos"
        label = "HalfCos"
        takes_scale = True
        margin_arg, margin_range = "m", (0.0, 1.0)
        formula_args = ("m",)
        margin_control = "normface"

        def __init__(self, embedding_dim: int, num_classes: int, *, s: float = 10.0, m: float = 0.2):
            super().__init__(embedding_dim, num_classes, s=s)
            self.m = self.check_margin(m)

        def config(self) -> dict:
            return {**super().config(), "m": self.m}

        @staticmethod
        def formula(cos: torch.Tensor, *, m: float) -> torch.Tensor:
            return cos - m / 2

    yield HalfCosFace
    del losses.LOSSES[HalfCosFace.name]


def test_the_new_head_trains_like_any_other(half_cosface):
    head = losses.build_loss("halfcos", embedding_dim=2, num_classes=3, m=0.4)
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    with torch.no_grad():
        head.weight.copy_(weight)
    x, y = torch.tensor([[math.cos(0.3), math.sin(0.3)]]), torch.tensor([0])
    cos = weight @ x[0]
    expected = torch.nn.functional.cross_entropy(10.0 * cos.scatter(0, y, cos[:1] - 0.2)[None], y)
    torch.testing.assert_close(head(x, y), expected)


def test_the_cli_takes_its_margin_and_scale_and_refuses_mining(half_cosface, tmp_path):
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--loss", "halfcos", "--margin", "0.3", "--scale", "12",
                              "--out", str(tmp_path / "run")])  # fmt: skip
    cli.check_args(args)
    assert cli.loss_arguments_from_flags(args) == {"m": 0.3, "s": 12.0}
    bad = parser.parse_args(["train", "--loss", "halfcos", "--margin", "1.5", "--out", str(tmp_path / "run")])
    with pytest.raises(ValueError, match=r"HalfCos m must be < 1"):
        cli.check_args(bad)
    mining = parser.parse_args(["train", "--loss", "halfcos", "--mining", "batch-hard"])
    with pytest.raises(ValueError, match="--mining does nothing for --loss halfcos"):
        cli.loss_arguments_from_flags(mining)


def test_the_explorer_offers_it_and_counts_with_its_formula(half_cosface):
    assert "halfcos" in explorer_losses()
    embeddings, labels, weight = synthetic_2d(num_classes=5, per_class=30, spread=0.3, seed=1)
    explorer = MarginExplorer(weight=weight, embeddings=embeddings, labels=labels, loss="halfcos", m=0.3)
    assert "halfcos" in explorer.loss.options and explorer.m_slider.min == 0.0
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cos = unit @ (weight / np.linalg.norm(weight, axis=1, keepdims=True)).T
    rows = np.arange(len(labels))
    target, cos[rows, labels] = cos[rows, labels].copy(), -np.inf
    assert explorer.violations == int((~(target - 0.15 > cos.max(1))).sum()) > 0
    assert explorer.violations_label.value.startswith("<b>HalfCos m=0.30")
    curves = target_curves(m=0.3, names=("halfcos",), theta=np.array([0.0, math.pi / 2]))
    np.testing.assert_allclose(curves["halfcos"], [0.85, -0.15], atol=1e-12)
    assert Margin(loss="halfcos", m=0.3).head_arguments() == {"s": 10.0, "m": 0.3}


def test_the_scoreboard_takes_its_row(half_cosface, tmp_path):
    board = openset.Scoreboard(cache_dir=tmp_path, reference=None)
    report = {"metric": half_cosface.metric, "auc": 0.9, "tar@far=0.01": 0.5}
    setting = openset.run_setting(train_images=100, epochs=1, network={}, recipe={}, seed=0, dim=2)
    board.add("halfcos", report, setting=setting, note="test")
    rows = board.rows()
    assert [row["loss"] for row in rows] == ["halfcos"] and "| halfcos | A | cosine |" in board.markdown()
    assert board.rows(upto="halfcos") == rows


def test_its_controls_come_from_its_class(half_cosface):
    # a lesson row or a table compares it with softmax and with the control its class names
    assert openset.controls_of("halfcos") == ("softmax", "normface")
    assert openset.controls_of("combined") == ("softmax",)  # names none
    assert openset.controls_of("softmax") == ()
