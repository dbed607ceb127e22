"""The explorer's second mode: 2-D MNIST models trained at each margin, cached on disk.

Each model trains on the seen digits (all but ``unseen``) and is kept with the embeddings of
the unseen digits' test images, the strangers, so the explorer can score the open set
(:func:`trained_report`) beside the violations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import mnist
from ..geometry import Margin
from ..losses import LOSSES, build_loss
from ..models import EmbeddingNet
from ..openset import openset_report, split_by_class
from ..train import embed, fit

# Bump when the training recipe changes (net, init, fit defaults), so no stale model is shown.
# 2: class weights of normalised heads start spread evenly (losses.spread_directions).
# 3: digits 7, 8, 9 held out as strangers, their test images embedded beside the seen digits.
RECIPE_VERSION = 3
UNSEEN = (7, 8, 9)
STRANGER_IMAGES = 600  # test images of the unseen digits embedded per model


@dataclass
class TrainedModel:
    """One model trained at one margin: the seen digits' ``embeddings`` ``[N, 2]``, ``labels``
    ``[N]``, class ``weight`` ``[C, 2]``, and the strangers' ``strangers`` ``[K, 2]`` with their
    digits ``stranger_labels`` ``[K]`` (both None in a file without them)."""

    embeddings: np.ndarray
    labels: np.ndarray
    weight: np.ndarray
    strangers: np.ndarray | None = None
    stranger_labels: np.ndarray | None = None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {key: value for key, value in vars(self).items() if value is not None}
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> TrainedModel:
        with np.load(path) as saved:
            return cls(**{key: saved[key] for key in saved.files})


def cache_folder() -> Path:
    """Where trained embeddings are cached: ``$MINIFACENET_CACHE/explorer`` or ~/.cache/minifacenet."""
    return Path(os.environ.get("MINIFACENET_CACHE", "~/.cache/minifacenet")).expanduser() / "explorer"


def trained_path(*, loss: str, m: float, s: float, limit: int, epochs: int, seed: int, folder=None) -> Path:
    """The cache file of one trained setting (named with the recipe version)."""
    folder = Path(folder).expanduser() if folder is not None else cache_folder()
    return folder / f"v{RECIPE_VERSION}-{loss}-m{m:.3f}-s{s:g}-n{limit}-e{epochs}-seed{seed}.npz"


def trained_embeddings(*, loss: str, m: float, s: float = 10.0, limit: int = 2000, epochs: int = 4,
                       seed: int = 0, folder=None, progress: bool = False) -> TrainedModel:  # fmt: skip
    """A 2-D EmbeddingNet trained on MNIST's seen digits (all but :data:`UNSEEN`) at this margin.

    Trained once per setting on the first ``limit`` seen training digits (margin warmed up over
    the first half), then read from ``folder`` (default :func:`cache_folder`).
    """
    path = trained_path(loss=loss, m=m, s=s, limit=limit, epochs=epochs, seed=seed, folder=folder)
    if path.exists():
        return TrainedModel.load(path)
    seen = split_by_class(*mnist(train=True), unseen=UNSEEN)
    images, labels = seen.seen_images[:limit], seen.seen_labels[:limit]
    test = split_by_class(*mnist(train=False), unseen=UNSEEN)
    model = EmbeddingNet(embedding_dim=2)
    head = build_loss(loss, embedding_dim=2, num_classes=len(seen.seen_classes),
                      **Margin(loss=loss, m=m, s=s).head_arguments())  # fmt: skip
    fit(model, head, images, labels, epochs=epochs, batch_size=min(128, limit), margin_warmup=0.5, seed=seed,
        progress=progress)  # fmt: skip
    result = TrainedModel(
        embeddings=embed(model, images).double().numpy(),
        labels=labels.numpy(),
        weight=head.weight.detach().double().numpy(),
        strangers=embed(model, test.unseen_images[:STRANGER_IMAGES]).double().numpy(),
        stranger_labels=test.unseen_labels[:STRANGER_IMAGES].numpy(),
    )
    result.save(path)
    return result


def trained_report(model: TrainedModel, loss: str) -> dict | None:
    """The strangers' open-set report (:func:`~minifacenet.openset.openset_report`, scored by the
    loss's own metric), or None for a model saved without strangers."""
    if model.strangers is None or model.stranger_labels is None:
        return None
    return openset_report(model.strangers, model.stranger_labels, metric=LOSSES[loss].metric)
