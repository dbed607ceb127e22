"""The course recipe: one way of training, shared by every loss in every comparison.

A comparison of two heads is fair only if nothing but the head differs. Every table, every
scoreboard row, every notebook and the CLI default read their optimiser settings from here,
so no head gets a learning rate of its own (the MNIST tables once trained softmax at 3e-3 and
the margin heads at 0.01, and most of the heads' lead was that learning rate).

The optimiser is AdamW with a one-cycle learning-rate schedule (a 15 % warm-up, then cosine
decay) over every step of the run; :func:`minifacenet.train.fit` builds both from a recipe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Recipe:
    """Optimiser, learning rate, schedule, epochs and batch: everything but the loss."""

    lr: float  # the one-cycle schedule's peak learning rate, the same for every loss
    epochs: int
    batch_size: int
    weight_decay: float = 5e-4  # AdamW's decoupled weight decay
    lr_warmup_pct: float = 0.15  # one-cycle: the share of steps over which the lr rises to its peak
    max_shift: int = 2  # augmentation: random shifts of up to this many pixels

    def train_settings(self) -> dict:
        """The keyword arguments of :func:`minifacenet.train.fit` this recipe decides."""
        return asdict(self)


# Digits (MNIST and digit pairs): every loss, every table, the notebooks and the CLI default.
COURSE_RECIPE = Recipe(lr=0.01, epochs=6, batch_size=256)

# Faces (Olivetti, 280 training photos a fold): more epochs of smaller batches, one lr for every loss.
FACES_RECIPE = Recipe(lr=3e-3, epochs=40, batch_size=60)


@dataclass(frozen=True)
class LessonRun:
    """The live run behind every lesson's scoreboard row: a default ``EmbeddingNet(dim)``
    trained on the first ``train_images`` seen-digit (0-6) training images for ``epochs`` under
    :data:`COURSE_RECIPE`.

    Every notebook trains its scoreboard row this way, so rows of different notebooks share
    one setting and are paired by construction (:meth:`minifacenet.openset.Scoreboard.add`
    compares a row only with controls trained in the same setting and with the same seed).
    """

    train_images: int  # seen_images[:train_images] of the training split
    test_images: int  # the first test_images of the MNIST test set; its 7, 8, 9 are scored
    epochs: int
    dim: int  # the embedding dimension: 2, the one every lesson draws

    def train_settings(self) -> dict:
        """The keyword arguments of :func:`minifacenet.train.fit`: the course recipe, this many epochs."""
        return {**COURSE_RECIPE.train_settings(), "epochs": self.epochs}


# The lessons' live run, full mode and fast mode (MINIFACENET_FAST=1, CI): pick with
# LESSON_RUN["fast" if FAST else "full"].
LESSON_RUN = {
    "full": LessonRun(train_images=12000, test_images=6000, epochs=COURSE_RECIPE.epochs, dim=2),
    "fast": LessonRun(train_images=4000, test_images=2000, epochs=2, dim=2),
}
