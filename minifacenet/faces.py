"""Open-set face recognition on the Olivetti faces: every loss, people it never saw.

The protocol:

1. :func:`open_set_splits` splits the 40 *people* (not the images) into folds: train on
   30 identities, test on the 10 others, so every test face belongs to a stranger.
2. :func:`train_face_model` trains an :class:`~minifacenet.models.EmbeddingNet` with one
   loss on the training people (relabelled 0..29), with light augmentation (:func:`augmenter`).
3. :func:`evaluate_fold` embeds the strangers and measures verification, recognition and
   clustering (:mod:`minifacenet.openset`), each loss by the measure it trains for (cosine,
   or Euclidean distance for contrastive), plus the angle statistics.
4. :func:`compare_losses` repeats 2-3 for every loss and fold.

The tables (mean over folds, and each loss minus softmax on the same fold) are made by
``scripts/faces_table.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_curve
from sklearn.model_selection import RepeatedKFold
from torch import nn
from torchvision.transforms import v2

from . import openset, train
from .data import olivetti
from .losses import Loss, build_loss
from .metrics import angle_statistics, equal_error_rate, gallery_split, knn_accuracy
from .models import EmbeddingNet
from .recipe import FACES_RECIPE
from .train import embed, fit

# The seven losses of the comparison, in the order they were invented (roughly).
FACE_LOSSES = ("softmax", "normface", "contrastive", "triplet", "sphereface", "cosface", "arcface")

# Each loss's settings for 128-D embeddings and 30 training people (see docs/faces.md).
FACE_LOSS_SETTINGS: dict[str, dict] = {
    "softmax": {},
    "normface": {"s": 16.0},
    # margin 5, not MNIST's 1: with 1 the training people's classes ended barely apart (docs/faces.md
    # has the margins tried, two folds each)
    "contrastive": {"margin": 5.0},
    "triplet": {"margin": 0.2, "mining": "semi-hard"},
    "sphereface": {"m": 4, "lamb_min": 5.0},
    "cosface": {"s": 16.0, "m": 0.35},
    "arcface": {"s": 16.0, "m": 0.5},
}
# verification: TAR at these FARs (10 strangers give 4950 pairs, 4500 of them impostors)
FACE_FAR = (0.001, 0.01, 0.1)


@dataclass
class FaceConfig:
    """Everything that decides one training run on faces."""

    embedding_dim: int = 128
    resolution: int = 32  # faces are 64x64; 32x32 keeps a run to seconds on a CPU
    widths: tuple[int, int, int] = (16, 32, 64)  # EmbeddingNet's conv widths
    epochs: int = FACES_RECIPE.epochs
    # heads: 5 batches of 60 per epoch; pair/triplet: 12 people x 5 images
    batch_size: int = FACES_RECIPE.batch_size
    classes_per_batch: int = 12
    lr: float = FACES_RECIPE.lr  # the same for every loss (minifacenet.recipe)
    warmup_fraction: float = 0.2  # the margin ramps up from 0 over this share of the steps
    max_shift: int = FACES_RECIPE.max_shift  # random shift of up to this many pixels (edges repeated)
    flip: bool = True  # random horizontal flip

    def steps(self, num_images: int) -> int:
        """Optimizer steps of a whole run on ``num_images`` images."""
        return self.epochs * max(1, num_images // self.batch_size)


@dataclass
class OpenSetSplit:
    """One fold: indices of the training and test images; the two sets of people are disjoint."""

    fold: int
    train_index: torch.Tensor  # [N_train] image indices
    test_index: torch.Tensor  # [N_test]
    train_identities: list[int]
    test_identities: list[int]


@dataclass
class FoldResult:
    """One loss on one fold: the scalar scores and what the plots need."""

    loss: str
    fold: int
    scores: dict[str, float]
    roc: dict[str, np.ndarray]
    test_embeddings: torch.Tensor  # [N_test, D]
    test_labels: torch.Tensor  # [N_test] original identities
    test_index: torch.Tensor  # [N_test] indices into the full image set
    threshold: float  # the EER threshold on the similarity (cosine, or minus the Euclidean distance)
    history: dict = field(default_factory=dict)
    metric: str = "cosine"  # what the pairs were scored by: the loss's metric


# --------------------------------------------------------------------------- data
def load_faces(*, resolution: int = 32, root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Olivetti faces ``[400, 1, resolution, resolution]`` in [0, 1] and identities ``[400]``."""
    if not 8 <= resolution <= 64:
        raise ValueError(f"resolution must be between 8 and 64 pixels, got {resolution} (try 32)")
    images, labels = olivetti(root=root)
    if resolution != 64:
        # area averaging: each output pixel is the mean of the input pixels it covers
        images = F.interpolate(images, size=(resolution, resolution), mode="area")
    return images, labels


def open_set_splits(
    labels, *, num_unseen: int = 10, num_repeats: int = 1, seed: int = 0
) -> list[OpenSetSplit]:
    """Split the *identities* into K = n_people // num_unseen folds, ``num_repeats`` times.

    Fold k tests on its ``num_unseen`` people and trains on all the others; within a repeat
    every person is unseen exactly once. Repeats reshuffle the people (scikit-learn's
    ``RepeatedKFold`` over the identity list).
    """
    labels = torch.as_tensor(labels)
    identities = labels.unique()
    people = len(identities)
    num_folds = people // max(num_unseen, 1)
    # every fold must hold exactly num_unseen people (15 of 40 would give folds of 20)
    if num_unseen < 2 or num_folds < 2 or people % num_unseen:
        usable = [n for n in range(2, people // 2 + 1) if people % n == 0]
        raise ValueError(
            f"num_unseen={num_unseen} with {people} people: each of >= 2 folds must hold exactly "
            f"num_unseen >= 2 people; use one of {usable or 'none: need at least 4 people'}"
        )
    folds = RepeatedKFold(n_splits=num_folds, n_repeats=num_repeats, random_state=seed)
    splits = []
    for fold, (train_ids, test_ids) in enumerate(folds.split(identities.numpy())):
        test_mask = torch.isin(labels, identities[test_ids])
        splits.append(
            OpenSetSplit(
                fold=fold,
                train_index=torch.nonzero(~test_mask).flatten(),
                test_index=torch.nonzero(test_mask).flatten(),
                train_identities=identities[train_ids].tolist(),
                test_identities=identities[test_ids].tolist(),
            )
        )
    return splits


def relabel(labels: torch.Tensor) -> torch.Tensor:
    """Identities -> consecutive class indices 0..C-1 (a head needs labels in [0, C))."""
    return torch.unique(labels, return_inverse=True)[1]


def augmenter(*, max_shift: int = 2, flip: bool = True) -> Callable[[torch.Tensor], torch.Tensor]:
    """A batch augmentation ``[B, C, H, W] -> [B, C, H, W]``, drawn independently per image:
    a horizontal flip with probability 1/2 and a shift of up to ``max_shift`` pixels each way
    (pad by repeating the border, then crop back to H x W at a random place).

    torchvision's v2 transforms draw *one* flip or crop for a whole batch, and calling them
    image by image costs more than the training step; so torchvision flips and pads the
    batch, and the per-image choice is one ``where`` and one gather.
    """
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0 pixels, got {max_shift}")

    def augment(images: torch.Tensor) -> torch.Tensor:
        if flip:
            # a coin per image [B, 1, 1, 1]: flipped copy where heads, original where tails
            heads = torch.rand(len(images), 1, 1, 1, device=images.device) < 0.5
            images = torch.where(heads, v2.functional.horizontal_flip(images), images)
        return random_shift(images, max_shift=max_shift) if max_shift else images

    return augment


def random_shift(images: torch.Tensor, *, max_shift: int) -> torch.Tensor:
    """Shift each image by its own random (dy, dx) in [-max_shift, max_shift], edges repeated."""
    return train.random_shift(images, max_shift=max_shift, edge=True)


# --------------------------------------------------------------------------- training
def face_loss_settings(loss_name: str, *, overrides: dict | None = None) -> dict:
    """The loss's keyword arguments on faces: :data:`FACE_LOSS_SETTINGS`, then ``overrides`` on top."""
    if loss_name not in FACE_LOSS_SETTINGS:
        raise ValueError(f"unknown loss {loss_name!r}: choose one of {', '.join(FACE_LOSSES)}")
    return {**FACE_LOSS_SETTINGS[loss_name], **(overrides or {})}


def warmup_for(loss: Loss, config: FaceConfig) -> float:
    """The warm-up fraction on faces: the margin fades in over ``config.warmup_fraction`` of the
    steps, or over the loss's own ``default_warmup`` where that is longer (SphereFace's lambda
    annealing, 0.5)."""
    return max(config.warmup_fraction, loss.default_warmup)


def train_face_model(
    loss_name: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    config: FaceConfig | None = None,
    params: dict | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: bool = False,
) -> tuple[EmbeddingNet, nn.Module, dict]:
    """Train a fresh network with ``loss_name`` on these faces; return ``(model, loss, history)``.

    ``labels`` are identities; they are relabelled to 0..C-1 for the head (C people).
    """
    config = config or FaceConfig()
    targets = relabel(labels)
    torch.manual_seed(seed)  # the same initial network for every loss on a fold
    model = EmbeddingNet(config.embedding_dim, images.shape[1], widths=config.widths)
    chosen = face_loss_settings(loss_name, overrides=params)
    loss = build_loss(
        loss_name, embedding_dim=config.embedding_dim, num_classes=int(targets.max()) + 1, **chosen
    )
    history = fit(
        model,
        loss,
        images,
        targets,
        epochs=config.epochs,
        batch_size=config.batch_size,
        classes_per_batch=config.classes_per_batch,
        lr=config.lr,
        weight_decay=FACES_RECIPE.weight_decay,
        max_shift=0,  # the augmenter below shifts, repeating the edges
        margin_warmup=warmup_for(loss, config),
        seed=seed,
        augment=augmenter(max_shift=config.max_shift, flip=config.flip),
        device=device,
        progress=progress,
    )
    return model, loss, history


# --------------------------------------------------------------------------- evaluation
def fold_scores(embeddings: torch.Tensor, labels: torch.Tensor, *, metric: str) -> tuple[dict, dict, float]:
    """The unseen people's scores by ``metric``, their ROC ``{"fpr", "tpr"}``, and the EER threshold.

    Verification of every pair (:func:`~minifacenet.openset.open_verification`, TAR at each
    FAR of :data:`FACE_FAR`), 1-NN recognition leave-one-out (``knn_accuracy``) and against a
    gallery of one image per person (``gallery_accuracy``), k-means ``nmi`` and ``ari``.
    """
    x, y = embeddings.double().numpy(), labels.numpy()
    scores = openset.open_verification(x, y, metric=metric, far_targets=FACE_FAR)
    pair_scores, same = openset.pair_similarities(x, y, metric=metric)
    fpr, tpr, thresholds = roc_curve(same, pair_scores)
    # [N, N] similarities; an image must not match itself
    similarity = openset.similarity_matrix(x, metric=metric)
    np.fill_diagonal(similarity, -np.inf)
    scores["knn_accuracy"] = float((y[similarity.argmax(1)] == y).mean())
    gallery, probes = gallery_split(y, gallery_per_class=1)
    scores["gallery_accuracy"] = knn_accuracy(x[gallery], y[gallery], x[probes], y[probes], metric=metric)
    scores.update(openset.open_clustering(x, y, metric=metric))
    return scores, {"fpr": fpr, "tpr": tpr}, equal_error_rate(fpr, tpr, thresholds)[1]


def evaluate_fold(
    model: nn.Module, loss: Loss | None, images: torch.Tensor, labels: torch.Tensor, split: OpenSetSplit
) -> FoldResult:
    """Scores of a trained model on one fold's unseen people (and angles on its training people).

    Each loss is scored by the measure it trains for (its ``metric``;
    the untrained network, ``loss=None``, by cosine). ``scores`` holds :func:`fold_scores`'s,
    the unseen people's ``intra``/``inter`` angles and the training people's ``train_*`` angles
    (``train_w_ec``, ``train_w_inter`` are NaN for contrastive, triplet and ``loss=None``: no W).
    """
    metric = "cosine" if loss is None else loss.metric
    test_embeddings = embed(model, images[split.test_index])  # [N_test, D]
    test_labels = labels[split.test_index]
    scores, roc, threshold = fold_scores(test_embeddings, test_labels, metric=metric)
    scores.update(angle_statistics(test_embeddings, test_labels))
    # angles between the training people's embeddings and the head's class weights
    train_embeddings = embed(model, images[split.train_index])
    weight = loss.weight.detach().cpu() if loss is not None and loss.classifies else None
    train_angles = angle_statistics(train_embeddings, relabel(labels[split.train_index]), weight=weight)
    scores.update({f"train_{key}": value for key, value in train_angles.items()})
    return FoldResult(
        loss="",
        fold=split.fold,
        scores=scores,
        roc=roc,
        test_embeddings=test_embeddings,
        test_labels=test_labels,
        test_index=split.test_index,
        threshold=threshold,
        metric=metric,
    )


def untrained_fold(
    images: torch.Tensor, labels: torch.Tensor, split: OpenSetSplit, *, config: FaceConfig | None = None
) -> FoldResult:
    """The baseline row: the same network with random weights, never trained.

    Whatever a loss scores above this is what training on *other* people taught the network.
    """
    config = config or FaceConfig()
    start = time.perf_counter()
    torch.manual_seed(split.fold)  # the initial network the losses start from on this fold
    model = EmbeddingNet(config.embedding_dim, images.shape[1], widths=config.widths)
    result = evaluate_fold(model, None, images, labels, split)
    result.loss = "untrained"
    result.scores["seconds"] = time.perf_counter() - start
    return result


def run_fold(
    loss_name: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    split: OpenSetSplit,
    *,
    config: FaceConfig | None = None,
    params: dict | None = None,
    device: str = "auto",
) -> FoldResult:
    """Train ``loss_name`` on the split's training people, evaluate on its unseen people."""
    start = time.perf_counter()
    index = split.train_index
    model, loss, history = train_face_model(
        loss_name, images[index], labels[index], config=config, params=params, seed=split.fold, device=device
    )
    result = evaluate_fold(model, loss, images, labels, split)
    result.loss, result.history = loss_name, history
    result.scores["seconds"] = time.perf_counter() - start
    return result


def compare_losses(
    images: torch.Tensor,
    labels: torch.Tensor,
    splits: Iterable[OpenSetSplit],
    *,
    losses: Iterable[str] = FACE_LOSSES,
    config: FaceConfig | None = None,
    params: dict[str, dict] | None = None,
    device: str = "auto",
    log: Callable[[str], None] | None = print,
) -> list[FoldResult]:
    """Every loss on every split; ``params`` maps a loss name to keyword arguments on top of
    :data:`FACE_LOSS_SETTINGS`."""
    results = []
    for split in list(splits):
        for loss_name in losses:
            result = run_fold(
                loss_name,
                images,
                labels,
                split,
                config=config,
                params=(params or {}).get(loss_name),
                device=device,
            )
            results.append(result)
            if log is not None:
                log(format_result(result))
    return results


def format_result(result: FoldResult) -> str:
    """One line per run: the headline scores and the time taken."""
    s = result.scores
    return (
        f"fold {result.fold} {result.loss:12s} AUC {s['auc']:.3f}  EER {s['eer']:.3f}  "
        f"TAR@FAR=1% {s['tar@far=0.01']:.3f}  1-NN leave-one-out {s['knn_accuracy']:.3f}  "
        f"({s['seconds']:.0f} s)"
    )
