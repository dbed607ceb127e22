"""Small conversions shared by the modules: to NumPy, and onto the unit sphere."""

from __future__ import annotations

import numpy as np
import torch


def to_numpy(values, *, dtype=None) -> np.ndarray:
    """A NumPy array of ``values`` (tensor: detached, on the CPU; anything else: ``np.asarray``)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=dtype)


def unit(vectors, *, axis: int = -1, dtype=None) -> np.ndarray:
    """``vectors`` scaled to length 1 along ``axis``: x / max(|x|, 1e-12) (zero vectors stay zero)."""
    values = to_numpy(vectors, dtype=dtype)
    # |x| along the axis, floored so a zero vector is divided by a tiny number, not by 0
    norm = np.linalg.norm(values, axis=axis, keepdims=True).clip(1e-12)
    return values / norm
