"""minifacenet.fast: each fast path equals its plain version in value and gradient."""

from __future__ import annotations

import pytest
import torch

from minifacenet import losses


def small_triplet_batch(seed: int, *, n: int = 12, dim: int = 3, classes: int = 3):
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    labels = torch.randint(classes, (n,), generator=generator)
    return embeddings, labels


@pytest.mark.parametrize("mining", ["semi-hard", "batch-all"])
@pytest.mark.parametrize("seed", range(4))
def test_the_fast_triplet_mean_equals_the_listed_triplets(mining, seed):
    embeddings, labels = small_triplet_batch(seed, n=16)
    loss_fn = losses.TripletLoss(0.4, mining)
    fast_input = embeddings.clone().requires_grad_()
    listed_input = embeddings.clone().requires_grad_()
    fast = loss_fn(fast_input, labels)  # semi-hard and batch-all take fast.triplet_mean_over_valid
    dist = loss_fn.distances(listed_input)
    listed = loss_fn.listed_loss(dist, *loss_fn.mine(listed_input, labels, distances=dist), listed_input)
    fast.backward()
    listed.backward()
    assert listed.item() > 0
    torch.testing.assert_close(fast, listed, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast_input.grad, listed_input.grad, rtol=1e-9, atol=1e-12)
