"""minifacenet.checks: the input checks, and the fast finite test against its definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from minifacenet import checks


def test_the_finite_check_equals_its_reference():
    big = torch.finfo(torch.float32).max
    cases = [
        torch.randn(50, 3),
        torch.tensor([[1.0, float("nan")]]),
        torch.tensor([[float("inf"), 1.0]]),
        torch.tensor([[float("inf"), -float("inf")]]),
        torch.tensor([[big, big]]),  # the sum overflows, every entry is finite
        torch.zeros(0, 2),
    ]
    for values in cases:
        assert checks.all_finite(values) == checks.all_finite_reference(values), values


@pytest.mark.parametrize(
    ("value", "number"),
    [(1, True), (0.5, True), (np.float32(2.0), True), (np.int64(3), True), (True, False),
     (math.nan, False), (math.inf, False), ("1", False)],
)  # fmt: skip
def test_is_number_takes_finite_reals_but_not_bools(value, number):
    assert checks.is_number(value) is number


def test_a_margin_is_checked_against_its_range_and_kind():
    assert checks.check_margin(0.3, "CosFace m", (-0.5, 2.0)) == 0.3
    assert checks.check_margin(-0.5, "CosFace m", (-0.5, 2.0)) == -0.5
    with pytest.raises(ValueError, match="CosFace m must be >= -0.5"):
        checks.check_margin(-0.6, "CosFace m", (-0.5, 2.0))
    with pytest.raises(ValueError, match="must be < 2"):
        checks.check_margin(2.0, "CosFace m", (-0.5, 2.0))
    assert checks.check_margin(3.0, "SphereFace m", (1, 7), integer=True) == 3
    with pytest.raises(ValueError, match=r"integer in 1\.\.6"):
        checks.check_margin(2.5, "SphereFace m", (1, 7), integer=True)
