"""What helps strangers? One digit-pairs experiment: train a loss, score both kinds of strangers.

Every run uses the course recipe (:mod:`minifacenet.recipe`) and, for one seed, the same
batches and the same initial network whatever the loss, so the difference between two
losses on one seed is a *paired* difference: the loss is the only thing that changed.
"""

from __future__ import annotations

import time

from .losses import build_loss
from .metrics import accuracy
from .models import EmbeddingNet
from .openset import loss_metric, openset_report
from .pairs import DigitPairs
from .train import embed, fit, predict, seed_everything

STRANGER_KINDS = ("familiar", "new_parts")


def score_strangers(model, loss, data: DigitPairs, *, seed: int = 0, device: str = "auto") -> dict:
    """``{kind: open-set report}`` for both kinds of strangers, scored by the loss's own measure."""
    reports = {}
    for kind in STRANGER_KINDS:
        strangers = getattr(data, kind)
        embeddings = embed(model, strangers.images, device=device)
        reports[kind] = openset_report(embeddings, strangers.labels, metric=loss_metric(loss), seed=seed)
    return reports


def run_experiment(
    loss_name: str,
    data: DigitPairs,
    *,
    dim: int = 32,
    seed: int = 0,
    device: str = "auto",
    **loss_arguments,
) -> dict:
    """Train ``loss_name`` on ``data.train`` under the course recipe; closed-set accuracy and strangers.

    Returns a JSON-able dict: the setting (loss, its arguments, classes, dim, seed, images),
    ``closed_set`` (accuracy on the training classes' test images), ``strangers`` (both reports)
    and ``seconds`` of training.
    """
    num_classes = len(data.classes)
    seed_everything(seed)  # the same initial network for every loss with this seed
    model = EmbeddingNet(dim)
    loss = build_loss(loss_name, embedding_dim=dim, num_classes=num_classes, **loss_arguments)
    start = time.perf_counter()
    fit(model, loss, data.train.images, data.train.labels, seed=seed, device=device, progress=False)
    seconds = time.perf_counter() - start
    closed = accuracy(predict(loss.cpu(), embed(model, data.test.images, device=device)), data.test.labels)
    return {
        "loss": loss_name,
        "arguments": loss_arguments,
        "classes": num_classes,
        "dim": dim,
        "seed": seed,
        "train_images": len(data.train.labels),
        "closed_set": closed,
        "strangers": score_strangers(model, loss, data, seed=seed, device=device),
        "seconds": seconds,
    }

