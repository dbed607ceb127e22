"""The shared small conversions: to NumPy and onto the unit sphere."""

from __future__ import annotations

import numpy as np
import torch

from minifacenet.tensors import to_numpy, unit


def test_to_numpy_detaches_tensors_and_passes_arrays_through():
    values = torch.tensor([[1.0, 2.0]], requires_grad=True)
    out = to_numpy(values * 2)
    assert isinstance(out, np.ndarray) and out.tolist() == [[2.0, 4.0]]
    assert to_numpy([1, 2], dtype=np.float64).dtype == np.float64
    array = np.arange(3)
    assert to_numpy(array) is array


def test_unit_scales_rows_to_length_one_and_keeps_zero_rows():
    vectors = torch.tensor([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
    out = unit(vectors)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]])
    np.testing.assert_allclose(unit(np.array([[3.0], [4.0]]), axis=0), [[0.6], [0.8]])
