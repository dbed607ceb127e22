"""EmbeddingNet: output shapes for both image sizes, and a linear (sign-free) last layer."""

from __future__ import annotations

import pytest
import torch

from minifacenet.models import EmbeddingNet


@pytest.mark.parametrize("size", [28, 64])
@pytest.mark.parametrize("embedding_dim", [2, 3, 128])
def test_output_shape(embedding_dim, size):
    torch.manual_seed(0)
    model = EmbeddingNet(embedding_dim)
    images = torch.rand(4, 1, size, size)
    assert model(images).shape == (4, embedding_dim)  # train mode
    model.eval()
    with torch.no_grad():
        assert model(images[:1]).shape == (1, embedding_dim)  # eval mode, a batch of one


def test_several_input_channels():
    model = EmbeddingNet(3, in_channels=3)
    assert model(torch.rand(2, 3, 28, 28)).shape == (2, 3)


def test_bad_embedding_dim():
    with pytest.raises(ValueError, match="embedding_dim"):
        EmbeddingNet(0)


@pytest.mark.parametrize("embedding_dim", [2, 3, 128])
def test_embeddings_take_both_signs_in_every_coordinate(mnist_subset, embedding_dim):
    # a ReLU (or any non-negative activation) at the end would confine features to one orthant.
    # Train mode: an untrained net in eval mode (default BN statistics) maps all digits close together.
    images, _ = mnist_subset
    torch.manual_seed(0)
    model = EmbeddingNet(embedding_dim).train()
    with torch.no_grad():
        embeddings = model(images[:128])  # [128, D]
    assert (embeddings.min(dim=0).values < 0).all()
    assert (embeddings.max(dim=0).values > 0).all()
