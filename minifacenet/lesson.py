"""The lessons' scoreboard rows, all trained one way: :data:`~minifacenet.recipe.LESSON_RUN`.

A notebook teaches its loss with whatever runs its pictures need; its row of the scoreboard is
trained here instead, under the lesson run: the same training images, epochs, network, course
recipe and seed for every loss. So the rows of different notebooks share one setting by
construction, and :class:`~minifacenet.openset.Scoreboard` pairs each with its controls
(softmax, and NormFace for a margin head), training a missing control in the same setting.
"""

from __future__ import annotations

import functools

import torch

from . import losses, openset
from .data import mnist
from .models import EmbeddingNet
from .recipe import LessonRun
from .train import embed, fit, seed_everything

# the controls' own settings when a lesson trains them (NormFace: the table's s = 16)
CONTROL_SETTINGS = {"softmax": {}, "normface": {"s": 16.0}}


@functools.lru_cache(maxsize=2)
def lesson_data(*, train_images: int, test_images: int) -> tuple[torch.Tensor, ...]:
    """``(seen training images [N, 1, 28, 28], their labels 0..6, unseen test images, labels 7..9)``."""
    train = openset.split_by_class(*mnist(train=True))
    test_images_all, test_labels_all = mnist(train=False)
    test = openset.split_by_class(test_images_all[:test_images], test_labels_all[:test_images])
    return (
        train.seen_images[:train_images],
        train.seen_labels[:train_images],
        test.unseen_images,
        test.unseen_labels,
    )


def train_lesson_run(loss_name: str, *, run: LessonRun, seed: int = 0, **loss_settings) -> tuple[dict, dict]:
    """Train ``loss_name`` (with ``loss_settings``) under ``run`` and ``seed``: ``(report, setting)``.

    The network starts from the same weights for every loss and the head's weights do not
    depend on what ran before (each drawn right after ``seed_everything(seed)``), and every
    loss sees the same batches (``fit(seed=seed)``): one setting, one run. The report is
    :func:`~minifacenet.openset.openset_report` on the unseen digits, by the loss's own measure.
    """
    images, labels, unseen_images, unseen_labels = lesson_data(
        train_images=run.train_images, test_images=run.test_images
    )
    num_classes = int(labels.max()) + 1
    seed_everything(seed)
    model = EmbeddingNet(run.dim)  # the same initial network for every loss
    seed_everything(seed)  # and the head's initial weights whatever ran before
    loss = losses.build_loss(loss_name, embedding_dim=run.dim, num_classes=num_classes, **loss_settings)
    fit(
        model,
        loss,
        images,
        labels,
        **run.train_settings(),
        classes_per_batch=min(num_classes, 10),
        seed=seed,
        progress=False,
    )
    metric = openset.loss_metric(loss)
    report = openset.openset_report(embed(model, unseen_images), unseen_labels, metric=metric)
    return report, openset.trained_setting(model, train_images=len(labels))


def add_lesson_row(
    board: openset.Scoreboard,
    loss_name: str,
    *,
    run: LessonRun,
    seed: int = 0,
    controls: bool = True,
    note: str = "",
    **loss_settings,
) -> dict:
    """Train ``loss_name`` under ``run`` and add its live row to ``board``; return the row.

    With ``controls``, each of its controls (:func:`~minifacenet.openset.controls_of`) that the
    board lacks *in this very setting* is trained too (:data:`CONTROL_SETTINGS`), so the row
    has its paired gap whichever notebook ran first.
    """
    report, setting = train_lesson_run(loss_name, run=run, seed=seed, **loss_settings)
    row = board.add(loss_name, report, setting=setting, note=note)
    if controls:
        present = {r["loss"] for r in board.live_rows() if r.get("setting") == row["setting"]}
        for control in openset.controls_of(loss_name):
            if control not in present:
                settings = CONTROL_SETTINGS[control]
                control_report, _ = train_lesson_run(control, run=run, seed=seed, **settings)
                board.add(control, control_report, setting=setting, note=f"control, {settings or 'defaults'}")
    return row
