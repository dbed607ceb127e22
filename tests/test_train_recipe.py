"""The training recipe's pieces: random-shift augmentation and its use by ``fit``."""

from __future__ import annotations

import pytest
import torch

from minifacenet.losses import Softmax
from minifacenet.models import EmbeddingNet
from minifacenet.train import TrainConfig, fit, random_shift


def test_zero_shift_is_identity():
    images = torch.rand(5, 1, 8, 8)
    assert random_shift(images, max_shift=0) is images


def test_negative_shift_is_rejected():
    with pytest.raises(ValueError, match="max_shift"):
        random_shift(torch.rand(2, 1, 8, 8), max_shift=-1)


def test_each_image_is_a_shifted_copy_of_itself():
    # distinct values everywhere, so a shifted copy can be found by brute force
    images = torch.arange(4 * 2 * 6 * 6, dtype=torch.float32).view(4, 2, 6, 6) + 1
    out = random_shift(images, max_shift=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for n in range(4):
        matches = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(out[n], padded[n, :, dy : dy + 6, dx : dx + 6])
        ]
        assert len(matches) == 1


def test_shifts_differ_between_images():
    images = torch.ones(64, 1, 6, 6)
    out = random_shift(images, max_shift=1, generator=torch.Generator().manual_seed(0))
    # the zero border lands in different places, so the images are not all equal
    assert len({tuple(o.flatten().tolist()) for o in out}) > 1


def test_fit_with_shift_is_seeded_and_runs():
    torch.manual_seed(0)
    images, labels = torch.rand(96, 1, 28, 28), torch.arange(96) % 3
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model, head = EmbeddingNet(2), Softmax(2, 3)
        history = fit(
            model,
            head,
            images,
            labels,
            config=TrainConfig(epochs=1, batch_size=32, max_shift=2),
            progress=False,
        )
        runs.append(history["loss"][0])
    assert runs[0] == pytest.approx(runs[1])
