"""A small, fast CNN that maps an image to a point in R^D (D = 2, 3, 128, ...)."""

from __future__ import annotations

import torch
from torch import nn


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 convs, each -> batch norm -> PReLU; the first has stride 2 and halves H and W.

    A strided convolution downsamples like a conv + 2x2 max-pool but computes a quarter of
    the outputs, so the second (stride 1) conv comes cheap (docs/ holds the timings and the
    accuracy the extra depth buys).
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.PReLU(out_channels),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.PReLU(out_channels),
    )


class EmbeddingNet(nn.Module):
    """Image ``[N, C, H, W]`` -> embedding ``[N, embedding_dim]``.

    Three conv blocks (28 -> 14 -> 7 -> 4 pixels), adaptive pooling to 3x3 (so 28x28 digits and 64x64 faces
    share the design), a hidden layer, and a final linear layer with **no** activation and
    no normalisation: a ReLU there would confine 2-D features to one quadrant, and a batch
    norm would change the geometry the losses act on.
    """

    def __init__(
        self,
        embedding_dim: int = 2,
        in_channels: int = 1,
        *,
        widths: tuple[int, int, int] = (16, 32, 64),
        hidden: int = 128,
    ):
        super().__init__()
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        if in_channels < 1 or hidden < 1 or len(widths) < 1 or min(widths) < 1:
            raise ValueError(
                f"in_channels, hidden and every width must be >= 1 (widths not empty), got "
                f"in_channels={in_channels}, widths={tuple(widths)}, hidden={hidden}"
            )
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
        # channels-last memory suits CPU convolutions
        self.to(memory_format=torch.channels_last)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # [N, C, H, W] in channels-last memory (same values, faster convolutions on the CPU)
        images = images.contiguous(memory_format=torch.channels_last)
        # [N, C, H, W] -> [N, widths[-1], 3, 3] -> [N, embedding_dim]
        return self.head(self.pool(self.features(self.input_norm(images))))
