"""A small CNN that maps an image to a point in R^D (D = 2, 3, 128, ...)."""

from __future__ import annotations

import torch
from torch import nn


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 conv -> batch norm -> PReLU -> 2x2 max-pool (halves H and W)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.PReLU(out_channels),
        nn.MaxPool2d(2),
    )


class EmbeddingNet(nn.Module):
    """Image ``[N, C, H, W]`` -> embedding ``[N, embedding_dim]``.

    Three conv blocks, adaptive pooling to 3x3 (so 28x28 digits and 64x64 faces share
    the design), a hidden layer, and a final linear layer with **no** activation: a ReLU
    there would confine 2-D features to one quadrant.
    """

    def __init__(
        self,
        embedding_dim: int = 2,
        in_channels: int = 1,
        *,
        widths: tuple[int, int, int] = (32, 64, 128),
        hidden: int = 128,
    ):
        super().__init__()
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        self.embedding_dim = embedding_dim
        self.config = {
            "embedding_dim": embedding_dim,
            "in_channels": in_channels,
            "widths": tuple(widths),
            "hidden": hidden,
        }
        # Normalise raw pixels in the model, so every dataset can hand over [0, 1] images.
        self.input_norm = nn.BatchNorm2d(in_channels)
        channels = [in_channels, *widths]
        blocks = [conv_block(a, b) for a, b in zip(channels, channels[1:], strict=False)]
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(3)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(widths[-1] * 9, hidden),
            nn.BatchNorm1d(hidden),
            nn.PReLU(hidden),
            nn.Linear(hidden, embedding_dim),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # [N, C, H, W] -> [N, widths[-1], 3, 3] -> [N, embedding_dim]
        return self.head(self.pool(self.features(self.input_norm(images))))
