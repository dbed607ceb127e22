"""The margin geometry, kept importable from here: it lives in :mod:`minifacenet.explorer.margins`.

Every function takes a :class:`~minifacenet.explorer.margins.Margin` or a training head (read
through its class name, ``m`` and ``s``); :func:`make_head` builds such a head.
"""

from __future__ import annotations

import torch

from . import losses
from .explorer.margins import (
    EXPLORER_LOSSES,
    CosineCache,
    Margin,
    arc_lengths,
    binary_regions,
    check_inputs,
    circle_points,
    cosface_margin_upper_bound,
    head_arguments,
    margin_arcs,
    margin_gaps,
    probability_around_circle,
    region_labels,
    scale_lower_bound,
    sphere_grid,
    sphere_regions,
    synthetic_2d,
    target_cosine,
    violation_mask,
)
from .tensors import unit

__all__ = [
    "EXPLORER_LOSSES", "CosineCache", "Margin", "arc_lengths", "binary_regions", "check_inputs",
    "circle_points", "cosface_margin_upper_bound", "head_arguments", "make_head", "margin_arcs",
    "margin_gaps", "probability_around_circle", "region_labels", "scale_lower_bound", "sphere_grid",
    "sphere_regions", "synthetic_2d", "target_cosine", "unit", "violation_mask",
]  # fmt: skip


def make_head(loss: str, *, m: float, s: float = 10.0, weight=None, num_classes: int = 2, **extra):
    """A training head for ``loss`` at (m, s) (``extra``: ``easy_margin``, ``m1``, ``m3``),
    holding ``weight`` ``[C, D]`` if given. The geometry reads only its loss, m and s."""
    weight = None if weight is None else torch.as_tensor(unit(weight))
    shape = (num_classes, 2) if weight is None else tuple(weight.shape)
    head = losses.HEADS[loss](shape[1], shape[0], **head_arguments(loss, m=m, s=s, **extra))
    if weight is not None:
        with torch.no_grad():
            head.weight.copy_(weight)
    return head
