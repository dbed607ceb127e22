"""Open-set face recognition on the Olivetti faces: every loss, people it never saw.

The protocol:

1. :func:`open_set_splits` splits the 40 *people* (not the images) into folds: train on
   30 identities, test on the 10 others, so every test face belongs to a stranger.
2. :func:`train_face_model` trains an :class:`~minifacenet.models.EmbeddingNet` with one
   loss on the training people (relabelled 0..29), with light augmentation (:func:`augmenter`).
3. :func:`evaluate_fold` embeds the strangers and measures verification, recognition and
   clustering (:mod:`minifacenet.metrics`) plus the angle statistics.
4. :func:`compare_losses` repeats 2-3 for every loss and fold; :func:`summarise` and
   :func:`markdown_table` turn the folds into the mean +- std table of the README.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import RepeatedKFold
from torch import nn
from torchvision.transforms import v2

from . import data as D
from . import losses as L
from . import metrics as M
from . import train
from .models import EmbeddingNet
from .train import embed, fit

# The seven losses of the comparison, in the order they were invented (roughly).
FACE_LOSSES = ("softmax", "normface", "contrastive", "triplet", "sphereface", "cosface", "arcface")

# Each loss's settings for 128-D embeddings and 30 training people (see docs/faces.md).
LOSS_PARAMS: dict[str, dict] = {
    "softmax": {},
    "normface": {"s": 16.0},
    "contrastive": {"margin": 1.0},
    "triplet": {"margin": 0.2, "mining": "semi-hard"},
    "sphereface": {"m": 4, "lamb_min": 5.0},
    "cosface": {"s": 16.0, "m": 0.35},
    "arcface": {"s": 16.0, "m": 0.5},
}


@dataclass
class FaceConfig:
    """Everything that decides one training run on faces."""

    embedding_dim: int = 128
    resolution: int = 32  # faces are 64x64; 32x32 keeps a run to seconds on a CPU
    widths: tuple[int, int, int] = (16, 32, 64)  # EmbeddingNet's conv widths
    epochs: int = 40
    batch_size: int = 60  # heads: 5 batches of 60 per epoch; pair/triplet: 12 people x 5 images
    classes_per_batch: int = 12
    lr: float = 3e-3
    warmup_fraction: float = 0.2  # the margin ramps up from 0 over this share of the steps
    max_shift: int = 2  # random shift of up to this many pixels
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
    threshold: float  # the EER threshold on cosine similarity
    history: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- data
def load_faces(*, resolution: int = 32, root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Olivetti faces ``[400, 1, resolution, resolution]`` in [0, 1] and identities ``[400]``."""
    if not 8 <= resolution <= 64:
        raise ValueError(f"resolution must be between 8 and 64 pixels, got {resolution} (try 32)")
    images, labels = D.olivetti(root=root)
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
    num_folds = len(identities) // max(num_unseen, 1)
    if num_unseen < 2 or num_folds < 2:
        raise ValueError(
            f"num_unseen={num_unseen} with {len(identities)} people gives {num_folds} folds: "
            f"need >= 2 unseen people and >= 2 folds (try num_unseen={len(identities) // 4})"
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
def loss_params(loss_name: str, *, total_steps: int, params: dict | None = None) -> dict:
    """The loss's settings: :data:`LOSS_PARAMS`, then ``params`` on top.

    SphereFace's lambda schedule is stretched to the run: unless ``lamb_gamma`` is given, it
    is chosen so that lambda reaches ``lamb_min`` at 40 % of the steps (the official 0.12
    assumes tens of thousands of iterations).
    """
    if loss_name not in LOSS_PARAMS:
        raise ValueError(f"unknown loss {loss_name!r}: choose one of {', '.join(FACE_LOSSES)}")
    chosen = {**LOSS_PARAMS[loss_name], **(params or {})}
    if loss_name == "sphereface" and "lamb_gamma" not in chosen:
        base, floor = chosen.get("lamb_base", 1000.0), chosen.get("lamb_min", 5.0)
        # base / (1 + gamma * t) = floor at t = 0.4 * total_steps
        chosen["lamb_gamma"] = (base / floor - 1.0) / max(1.0, 0.4 * total_steps)
    return chosen


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
    total_steps = config.steps(len(targets))
    torch.manual_seed(seed)  # the same initial network for every loss on a fold
    model = EmbeddingNet(config.embedding_dim, images.shape[1], widths=config.widths)
    chosen = loss_params(loss_name, total_steps=total_steps, params=params)
    loss = L.build_loss(
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
        margin_warmup=int(config.warmup_fraction * total_steps),
        seed=seed,
        augment=augmenter(max_shift=config.max_shift, flip=config.flip),
        device=device,
        progress=progress,
    )
    return model, loss, history


# --------------------------------------------------------------------------- evaluation
def evaluate_fold(
    model: nn.Module, loss: nn.Module | None, images: torch.Tensor, labels: torch.Tensor, split: OpenSetSplit
) -> FoldResult:
    """Scores of a trained model on one fold's unseen people (and angles on its training people).

    ``scores`` holds ``auc``, ``eer``, ``tar@far=...`` for each FAR of
    :data:`~minifacenet.metrics.FAR_TARGETS`, ``accuracy`` (10-fold threshold),
    ``knn_accuracy``, ``gallery_accuracy``, ``kmeans_nmi``/``_ari``, ``agglomerative_nmi``/``_ari``,
    the unseen people's ``intra``/``inter`` angles and the training people's ``train_*`` angles
    (``train_w_ec``, ``train_w_inter`` are NaN for contrastive, triplet and ``loss=None``: no W).
    """
    test_embeddings = embed(model, images[split.test_index])  # [N_test, D]
    test_labels = labels[split.test_index]
    verified = M.verification(test_embeddings, test_labels)
    scores = {key: verified[key] for key in ("auc", "eer", "accuracy")}
    scores.update({f"tar@far={far:g}": tar for far, tar in verified["tar_at_far"].items()})
    scores.update(M.recognition(test_embeddings, test_labels))
    scores.update(M.clustering(test_embeddings, test_labels))
    scores.update(M.angle_statistics(test_embeddings, test_labels))
    # angles between the training people's embeddings and the head's class weights
    train_embeddings = embed(model, images[split.train_index])
    weight = loss.weight.detach().cpu() if isinstance(loss, L.MarginHead) else None
    train_angles = M.angle_statistics(train_embeddings, relabel(labels[split.train_index]), weight=weight)
    scores.update({f"train_{key}": value for key, value in train_angles.items()})
    return FoldResult(
        loss="",
        fold=split.fold,
        scores=scores,
        roc={key: verified["roc"][key] for key in ("fpr", "tpr")},
        test_embeddings=test_embeddings,
        test_labels=test_labels,
        test_index=split.test_index,
        threshold=verified["eer_threshold"],
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
    """Every loss on every split; ``params`` maps a loss name to settings on top of :data:`LOSS_PARAMS`."""
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
                log(describe(result))
    return results


def describe(result: FoldResult) -> str:
    """One line per run: the headline scores and the time taken."""
    s = result.scores
    return (
        f"fold {result.fold} {result.loss:12s} AUC {s['auc']:.3f}  EER {s['eer']:.3f}  "
        f"TAR@FAR=1% {s['tar@far=0.01']:.3f}  1-NN {s['knn_accuracy']:.3f}  ({s['seconds']:.0f} s)"
    )


# --------------------------------------------------------------------------- tables
# (key in FoldResult.scores, column header, factor, decimals): the README table's columns
TABLE_COLUMNS = (
    ("auc", "AUC (%)", 100, 1),
    ("eer", "EER (%)", 100, 1),
    ("tar@far=0.01", "TAR@FAR=1% (%)", 100, 1),
    ("tar@far=0.1", "TAR@FAR=10% (%)", 100, 1),
    ("accuracy", "verif. acc. (%)", 100, 1),
    ("knn_accuracy", "1-NN acc. (%)", 100, 1),
    ("kmeans_nmi", "NMI (k-means)", 1, 3),
)
# ArcFace's Table 3 angles (degrees) on the training people and on the unseen people
ANGLE_COLUMNS = (
    ("train_w_ec", "W-EC (train)", 1, 1),
    ("train_w_inter", "W-Inter (train)", 1, 1),
    ("train_intra", "Intra (train)", 1, 1),
    ("train_inter", "Inter (train)", 1, 1),
    ("intra", "Intra (unseen)", 1, 1),
    ("inter", "Inter (unseen)", 1, 1),
)


def summarise(results: Iterable[FoldResult]) -> dict[str, dict[str, tuple[float, float]]]:
    """``{loss: {score: (mean, std over folds)}}``, losses in the order first seen.

    NaN scores (angles that need class weights) give NaN means.
    """
    grouped: dict[str, list[dict]] = {}
    for result in results:
        grouped.setdefault(result.loss, []).append(result.scores)
    summary = {}
    for loss_name, folds in grouped.items():
        keys = folds[0].keys()
        # population std (ddof=0) over the folds, as numpy's default
        summary[loss_name] = {
            k: (float(np.mean([f[k] for f in folds])), float(np.std([f[k] for f in folds]))) for k in keys
        }
    return summary


def markdown_table(summary: dict[str, dict[str, tuple[float, float]]], *, columns=TABLE_COLUMNS) -> str:
    """A markdown table, one row per loss, each cell ``mean ± std`` (``–`` where undefined)."""
    lines = ["| loss | " + " | ".join(column[1] for column in columns) + " |"]
    lines.append("|---|" + "---:|" * len(columns))
    for loss_name, scores in summary.items():
        cells = []
        for key, _, factor, decimals in columns:
            mean, std = scores[key]
            cells.append(
                "–" if np.isnan(mean) else f"{factor * mean:.{decimals}f} ± {factor * std:.{decimals}f}"
            )
        lines.append(f"| {loss_name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_gaps(
    results: Iterable[FoldResult], *, key: str = "tar@far=0.01", baseline: str = "softmax"
) -> dict:
    """Each loss minus ``baseline`` on the *same* fold: ``{loss: (mean gap, std of gap, wins, folds)}``.

    Folds differ in difficulty (some strangers look alike), which inflates each loss's own std;
    the per-fold difference cancels that, because every loss meets the same people.
    """
    per_fold: dict[str, dict[int, float]] = {}
    for result in results:
        per_fold.setdefault(result.loss, {})[result.fold] = result.scores[key]
    if baseline not in per_fold:
        raise ValueError(f"no {baseline!r} results to compare with: include it in the losses")
    gaps = {}
    for loss_name, scores in per_fold.items():
        # [folds] differences on the folds both losses ran
        diff = np.array([scores[k] - per_fold[baseline][k] for k in scores if k in per_fold[baseline]])
        gaps[loss_name] = (float(diff.mean()), float(diff.std()), int((diff > 0).sum()), len(diff))
    return gaps


def config_dict(config: FaceConfig) -> dict:
    """A config as plain JSON-able values."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


# --------------------------------------------------------------------------- figures
FAR_GRID = np.logspace(-3, 0, 61)  # FAR from 0.1 % to 100 %, for averaging ROC curves


def mean_roc(results: Iterable[FoldResult], *, grid: np.ndarray = FAR_GRID) -> dict[str, np.ndarray]:
    """``{loss: [folds, len(grid)]}``: each fold's TAR interpolated at the FARs of ``grid``."""
    curves: dict[str, list[np.ndarray]] = {}
    for result in results:
        # the ROC is monotone in FAR, so linear interpolation between its points is safe
        curves.setdefault(result.loss, []).append(np.interp(grid, result.roc["fpr"], result.roc["tpr"]))
    return {loss_name: np.stack(tars) for loss_name, tars in curves.items()}


def plot_roc(
    curves: dict[str, np.ndarray], *, grid: np.ndarray = FAR_GRID, ax=None, title: str | None = None
):
    """Overlaid ROC curves (log FAR): mean over folds, +-1 std band; ``curves`` from :func:`mean_roc`."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    for loss_name, tars in curves.items():
        mean, std = tars.mean(0), tars.std(0)
        (line,) = ax.plot(grid, mean, label=loss_name, lw=1.6)
        ax.fill_between(grid, mean - std, mean + std, color=line.get_color(), alpha=0.12, lw=0)
    ax.axvline(0.01, color="0.5", ls=":", lw=1)
    ax.set(xscale="log", xlim=(grid[0], 1), ylim=(0, 1.01), xlabel="FAR (false accept rate)")
    ax.set(ylabel="TAR (true accept rate)", title=title or "Verification on unseen people")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return ax.figure


def plot_pairs(images: torch.Tensor, pairs: list[tuple[int, int, float]], *, title: str, axes_row=None):
    """Image pairs side by side, each titled with its cosine similarity."""
    import matplotlib.pyplot as plt

    if axes_row is None:
        _, axes_row = plt.subplots(1, max(len(pairs), 1), figsize=(2.0 * max(len(pairs), 1), 1.4))
    axes_row = np.atleast_1d(axes_row)
    for ax in axes_row:
        ax.axis("off")
    for ax, (i, j, score) in zip(axes_row, pairs, strict=False):
        # [1, H, W] + [1, H, W] -> one [H, 2W] picture
        ax.imshow(torch.cat([images[i, 0], images[j, 0]], dim=1).cpu(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"cos {score:.2f}", fontsize=8)
    axes_row[0].figure.suptitle(title, fontsize=10)
    return axes_row[0].figure


def plot_features(embeddings, labels, *, weight=None, ax=None, title: str | None = None):
    """2-D features as they are, or 3-D features projected onto the unit sphere (``ax`` must then
    be a 3-D axes); class weights, if given, drawn as lines from the origin."""
    import matplotlib.pyplot as plt

    x, y = M._numpy(embeddings), M._numpy(labels)
    dim = x.shape[1]
    if dim not in (2, 3):
        raise ValueError(
            f"plot_features draws 2-D or 3-D features, got {dim}-D: train with embedding_dim=2 or 3"
        )
    if ax is None:
        ax = plt.figure(figsize=(4, 4)).add_subplot(projection="3d" if dim == 3 else None)
    colors = plt.get_cmap("tab10")(y % 10)
    points = x if dim == 2 else M._unit(x)
    reach = np.abs(points).max() * 1.1
    ax.scatter(*points.T, c=colors, s=6, alpha=0.8, linewidths=0)
    if weight is not None:
        w = M._unit(np.asarray(M._numpy(weight), dtype=np.float64)) * reach
        for c, direction in enumerate(w):
            ax.plot(*np.stack([np.zeros(dim), direction]).T, color=plt.get_cmap("tab10")(c % 10), lw=1.2)
    if dim == 2:
        ax.set_aspect("equal")
        ax.axhline(0, color="0.85", lw=0.5, zorder=0)
        ax.axvline(0, color="0.85", lw=0.5, zorder=0)
    else:
        ax.set(xlim=(-0.8, 0.8), ylim=(-0.8, 0.8), zlim=(-0.8, 0.8))  # the unit sphere, filling the box
        ax.set_box_aspect((1, 1, 1), zoom=1.2)
        ax.set_axis_off()
    ax.set_title(title or "", fontsize=9)
    return ax.figure
