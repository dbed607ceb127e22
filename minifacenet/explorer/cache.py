"""The explorer's second mode: embeddings of 2-D MNIST models trained at each margin, cached on disk."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data import mnist
from ..losses import build_loss
from ..models import EmbeddingNet
from ..train import embed, fit
from .margins import head_arguments

# Bump when the training recipe changes (net, init, fit defaults), so no stale model is shown.
# 2: class weights of normalised heads start spread evenly (losses.spread_directions).
RECIPE_VERSION = 2


def cache_folder() -> Path:
    """Where trained embeddings are cached: ``$MINIFACENET_CACHE/explorer`` or ~/.cache/minifacenet."""
    return Path(os.environ.get("MINIFACENET_CACHE", "~/.cache/minifacenet")).expanduser() / "explorer"


def trained_path(*, loss: str, m: float, s: float, limit: int, epochs: int, seed: int, folder=None) -> Path:
    """The cache file of one trained setting (named with the recipe version)."""
    folder = Path(folder).expanduser() if folder is not None else cache_folder()
    return folder / f"v{RECIPE_VERSION}-{loss}-m{m:.3f}-s{s:g}-n{limit}-e{epochs}-seed{seed}.npz"


def trained_embeddings(
    *,
    loss: str,
    m: float,
    s: float = 10.0,
    limit: int = 2000,
    epochs: int = 4,
    seed: int = 0,
    folder=None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(embeddings, labels, weight) of a 2-D EmbeddingNet trained on MNIST at this margin.

    Trained once per setting on the first ``limit`` training digits (margin warmed up over
    the first half), then read from ``folder`` (default :func:`cache_folder`).
    """
    path = trained_path(loss=loss, m=m, s=s, limit=limit, epochs=epochs, seed=seed, folder=folder)
    if path.exists():
        with np.load(path) as saved:
            return saved["embeddings"], saved["labels"], saved["weight"]
    images, labels = mnist(train=True)
    images, labels = images[:limit], labels[:limit]
    model = EmbeddingNet(embedding_dim=2)
    head = build_loss(loss, embedding_dim=2, num_classes=10, **head_arguments(loss, m=m, s=s))
    batch_size = min(128, limit)
    fit(model, head, images, labels, epochs=epochs, batch_size=batch_size, margin_warmup=0.5, seed=seed,
        progress=progress)  # fmt: skip
    result = (embed(model, images).double().numpy(), labels.numpy(), head.weight.detach().double().numpy())
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, embeddings=result[0], labels=result[1], weight=result[2])
    return result
