"""The open-set protocol of the course: train on some digits, measure on digits never seen.

Face recognition is open-set: the people met at test time were not in training. On MNIST
the same question is asked with digits: every lesson and the CLI train on
:data:`SEEN_DIGITS` and measure the embedding on :data:`UNSEEN_DIGITS` of the test set.

- :func:`split_by_class` -- seen part (labels remapped to 0..len(seen)-1 for a head) and
  unseen part (original labels);
- :func:`openset_report` -- on the unseen images: verification (ROC AUC, EER, TAR@FAR,
  10-fold accuracy), 1-NN recognition against a small gallery, clustering (NMI, ARI);
- :func:`loss_metric` -- the measure a loss trains for, which is the one it is scored by;
- :func:`paired_differences` -- each loss minus a baseline on the same seed or fold
  (:func:`format_gap` writes one);
- :class:`Scoreboard` -- one open-set row per lesson, growing through the course.

The curves and thresholds are :mod:`minifacenet.metrics`'s; this module picks the scores.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, roc_auc_score, roc_curve
from sklearn.metrics.pairwise import cosine_similarity, euclidean_distances
from sklearn.preprocessing import normalize
from torch import nn

from . import losses
from .metrics import (
    checked_arrays,
    equal_error_rate,
    gallery_split,
    knn_accuracy,
    tar_at_far,
    threshold_accuracy,
)

SEEN_DIGITS = (0, 1, 2, 3, 4, 5, 6)
UNSEEN_DIGITS = (7, 8, 9)
METRICS = ("cosine", "euclidean")
OPENSET_FAR = (0.01, 0.001)


# --------------------------------------------------------------------------- the split
@dataclass
class ClassSplit:
    """Images of the seen classes (labels 0..len(seen)-1) and of the unseen ones (labels kept)."""

    seen_images: torch.Tensor  # [N_seen, C, H, W]
    seen_labels: torch.Tensor  # [N_seen] in 0..len(seen_classes)-1
    unseen_images: torch.Tensor  # [N_unseen, C, H, W]
    unseen_labels: torch.Tensor  # [N_unseen] original labels
    seen_classes: tuple[int, ...]  # seen_classes[k] is the original label of class k


def split_by_class(images: torch.Tensor, labels: torch.Tensor, *, unseen=UNSEEN_DIGITS) -> ClassSplit:
    """Split by class: the unseen classes out, the others relabelled in order (7, 8, 9 out: 0..6 stay).

    The classes are 0..max(labels); seen_classes = those not in ``unseen``, so a subset that
    happens to miss a digit is mapped as the full set is. seen_labels[i] = k where
    seen_classes[k] = labels[i].
    """
    labels = checked_class_labels(labels, len(images))
    unseen_set = class_numbers(unseen)
    num_classes = int(labels.max()) + 1
    seen_classes = tuple(c for c in range(num_classes) if c not in unseen_set)
    if not seen_classes or not unseen_set or not unseen_set <= set(range(num_classes)):
        raise ValueError(
            f"unseen classes {sorted(unseen_set)} must be some, not all nor none, of the classes "
            f"0..{num_classes - 1} (try 7 8 9)"
        )
    # [N] True where the image's class is held out
    held_out = torch.isin(labels, torch.tensor(sorted(unseen_set), dtype=labels.dtype))
    # remap: position of each seen label in the sorted seen classes
    seen_labels = torch.searchsorted(torch.tensor(seen_classes, dtype=labels.dtype), labels[~held_out])
    return ClassSplit(images[~held_out], seen_labels, images[held_out], labels[held_out], seen_classes)


def checked_class_labels(labels, count: int) -> torch.Tensor:
    """``labels`` as an integer tensor ``[count]`` of class numbers >= 0; a ValueError otherwise."""
    labels = torch.as_tensor(labels)
    if labels.ndim != 1 or len(labels) != count or count == 0:
        raise ValueError(f"need one label per image, and at least one: got {tuple(labels.shape)} for {count}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integer class numbers, got {labels.dtype}: convert with .long()")
    if int(labels.min()) < 0:
        raise ValueError(f"labels must be class numbers >= 0, got {int(labels.min())}: relabel the data")
    return labels


def class_numbers(classes) -> set[int]:
    """The unseen classes as integers; 7.9 or "7" is a ValueError, not silently 7."""
    given = [c.item() if isinstance(c, torch.Tensor) else c for c in classes]
    if not all(isinstance(c, Integral) and not isinstance(c, bool) for c in given):
        raise ValueError(f"unseen classes must be whole class numbers, got {given} (e.g. (7, 8, 9))")
    return {int(c) for c in given}


# --------------------------------------------------------------------------- which measure
def loss_metric(loss: nn.Module) -> str:
    """The similarity a loss trains for, so the one it is scored by: the loss's own ``metric``
    (``"cosine"`` for the heads and the normalised triplet, ``"euclidean"`` for contrastive)."""
    return loss.metric


# --------------------------------------------------------------------------- the report
def similarity_matrix(embeddings: np.ndarray, *, metric: str) -> np.ndarray:
    """``[N, N]`` similarities, higher = more alike: cos(x_i, x_j), or -|x_i - x_j| for Euclidean."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: choose one of {', '.join(METRICS)}")
    if metric == "cosine":
        return cosine_similarity(embeddings)
    return -euclidean_distances(embeddings)


def pair_similarities(x: np.ndarray, y: np.ndarray, *, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Every unordered pair i < j: its similarity by ``metric`` and whether it is one class; ``[P]`` each."""
    # P = N (N - 1) / 2 pairs: the upper triangle without the diagonal
    i, j = np.triu_indices(len(y), k=1)
    return similarity_matrix(x, metric=metric)[i, j], y[i] == y[j]


def open_verification(
    x: np.ndarray, y: np.ndarray, *, metric: str, far_targets=OPENSET_FAR, seed: int = 0
) -> dict[str, float]:
    """Every pair of unseen images: "same class?" by thresholding the similarity.

    AUC, EER, ``tar@far=<far>`` for each of ``far_targets``
    (:func:`~minifacenet.metrics.tar_at_far`) and the 10-fold balanced accuracy
    (:func:`~minifacenet.metrics.threshold_accuracy`).
    """
    scores, same = pair_similarities(x, y, metric=metric)
    fpr, tpr, thresholds = roc_curve(same, scores)
    accuracy, accuracy_std, _ = threshold_accuracy(scores, same, num_folds=10, seed=seed)
    return {
        "auc": float(roc_auc_score(same, scores)),
        "eer": equal_error_rate(fpr, tpr, thresholds)[0],
        **{f"tar@far={far:g}": tar_at_far(fpr, tpr, far) for far in far_targets},
        "verification_accuracy": accuracy,
        "verification_accuracy_std": accuracy_std,
    }


def open_clustering(x: np.ndarray, y: np.ndarray, *, metric: str, seed: int = 0) -> dict[str, float]:
    """k-means with k = number of unseen classes, on unit vectors for cosine, raw for Euclidean.

    NMI = I(Y; K) / mean(H(Y), H(K)) and ARI (chance-corrected Rand index) against the labels.
    """
    points = normalize(x) if metric == "cosine" else x
    clusters = KMeans(len(np.unique(y)), n_init=10, random_state=seed).fit_predict(points)
    return {
        "nmi": float(normalized_mutual_info_score(y, clusters)),
        "ari": float(adjusted_rand_score(y, clusters)),
    }


def openset_report(embeddings, labels, *, metric: str, gallery_per_class: int = 5, seed: int = 0) -> dict:
    """The open-set row of one embedding, on images of classes it never trained on.

    ``metric`` ("cosine" or "euclidean", see :func:`loss_metric`) scores every measure and is
    stated in the result. Returns a flat JSON-able dict: ``metric``, ``classes``, ``images``,
    ``auc``, ``eer``, ``tar@far=0.01``, ``tar@far=0.001``, ``verification_accuracy`` (+ ``_std``),
    ``gallery_accuracy`` (rank-1 against ``gallery_per_class`` images per class, the rest
    probes), ``nmi``, ``ari``.
    """
    x, y = checked_arrays(embeddings, labels)
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: choose one of {', '.join(METRICS)}")
    gallery, probes = gallery_split(y, gallery_per_class=gallery_per_class, seed=seed)
    return {
        "metric": metric,
        "classes": [int(c) for c in np.unique(y)],
        "images": len(y),
        **open_verification(x, y, metric=metric, seed=seed),
        "gallery_per_class": gallery_per_class,
        "gallery_accuracy": knn_accuracy(x[gallery], y[gallery], x[probes], y[probes], k=1, metric=metric),
        **open_clustering(x, y, metric=metric, seed=seed),
    }


# (key, header, factor, decimals): the columns of every open-set table
REPORT_COLUMNS = (
    ("auc", "AUC (%)", 100, 1),
    ("eer", "EER (%)", 100, 1),
    ("tar@far=0.01", "TAR@FAR=1% (%)", 100, 1),
    ("tar@far=0.001", "TAR@FAR=0.1% (%)", 100, 1),
    ("verification_accuracy", "verif. acc. (%)", 100, 1),
    ("gallery_accuracy", "1-NN gallery (%)", 100, 1),
    ("nmi", "NMI", 1, 3),
    ("ari", "ARI", 1, 3),
)


def format_value(value, *, factor: float = 1, decimals: int = 1) -> str:
    """``factor * value`` with ``decimals``, or ``–`` for a value not measured (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{factor * value:.{decimals}f}"


def format_report(report: Mapping) -> str:
    """One line: ``unseen classes 7 8 9 (2995 images), cosine: AUC 97.1, ..., ARI 0.801`` (% but NMI, ARI)."""
    cells = [
        f"{header.split(' (')[0]} {format_value(report.get(key), factor=factor, decimals=decimals)}"
        for key, header, factor, decimals in REPORT_COLUMNS
    ]
    classes = " ".join(str(c) for c in report.get("classes", []))
    head = f"unseen classes {classes} ({report.get('images')} images), {report['metric']}"
    return head + ": " + ", ".join(cells)


# --------------------------------------------------------------------------- paired differences
def paired_differences(
    scores: Mapping[str, Mapping[Hashable, float]], *, baseline: str
) -> dict[str, dict[str, float]]:
    """Each loss minus ``baseline`` on the *same* seed or fold, over the pairs both have.

    gap_k = score[loss][k] - score[baseline][k];  returns ``{loss: {"mean", "min", "max",
    "wins", "pairs"}}`` (``wins``: pairs with gap_k > 0). Seeds and folds differ in
    difficulty, which inflates each loss's own spread; the difference on the same seed or
    fold cancels it, so a gap whose min and max share a sign is a difference that held
    every time.
    """
    if baseline not in scores:
        raise ValueError(f"no {baseline!r} scores to compare with: include it")
    gaps = {}
    for loss_name, by_pair in scores.items():
        shared = [k for k in by_pair if k in scores[baseline]]
        if not shared:
            continue
        # [pairs] differences on the seeds/folds both ran
        diff = np.array([by_pair[k] - scores[baseline][k] for k in shared], dtype=np.float64)
        gaps[loss_name] = {
            "mean": float(diff.mean()),
            "min": float(diff.min()),
            "max": float(diff.max()),
            "wins": int((diff > 0).sum()),
            "pairs": len(diff),
        }
    return gaps


# (key, name): the scores whose paired gaps the results tables show, TAR@FAR=1 % first
GAP_KEYS = (("tar@far=0.01", "TAR@FAR=1%"), ("auc", "AUC"))


def format_gap(gap: Mapping) -> str:
    """A :func:`paired_differences` gap in points, ``+1.2 [-0.3, +2.5]``; a single pair shows just the gap."""
    mean = f"{100 * gap['mean']:+.1f}"
    return mean if gap["pairs"] == 1 else f"{mean} [{100 * gap['min']:+.1f}, {100 * gap['max']:+.1f}]"


# --------------------------------------------------------------------------- the scoreboard
COURSE = ("softmax", "contrastive", "triplet", "sphereface", "cosface", "arcface")
REFERENCE_FILE = Path(__file__).with_name("scoreboard_reference.json")


def runs_dir() -> Path:
    """Where live scoreboard rows are kept: ``$MINIFACENET_RUNS``, else ``~/.cache/minifacenet``."""
    return Path(os.environ.get("MINIFACENET_RUNS", "~/.cache/minifacenet")).expanduser()


class Scoreboard:
    """The open-set table of the course: one row per (loss, dim), in the order of the lessons.

    Rows measured here (:meth:`add`) are *live*, kept in ``runs_dir()/scoreboard_<name>.json``
    so that the next notebook sees them. A lesson not run here shows its *reference* row from
    ``reference`` (measured with the CLI; a value not yet measured shows as ``–``), and the
    table says which is which. No number is ever filled in.
    """

    def __init__(
        self, name: str = "mnist", *, order: Iterable[str] = COURSE, cache_dir=None, reference=REFERENCE_FILE
    ):
        self.name, self.order = name, tuple(order)
        self.path = Path(cache_dir or runs_dir()) / f"scoreboard_{name}.json"
        self.reference_path = None if reference is None else Path(reference)

    def live_rows(self) -> list[dict]:
        """The rows measured on this machine, oldest first; a damaged file is a ValueError naming it."""
        if not self.path.exists():
            return []
        try:
            rows = json.loads(self.path.read_text())
        except (ValueError, UnicodeDecodeError) as error:
            rows = error
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and {"loss", "dim"} <= set(r) for r in rows
        ):
            raise ValueError(
                f"the scoreboard file {self.path} is damaged (not a list of rows: {str(rows)[:60]}): "
                "delete it (or call Scoreboard.clear()) and the live rows are measured again"
            )
        return rows

    def reference_rows(self) -> list[dict]:
        """This board's rows of the committed reference file (``scores`` may be None)."""
        if self.reference_path is None or not self.reference_path.exists():
            return []
        return json.loads(self.reference_path.read_text()).get(self.name, [])

    def add(self, loss: str, report: Mapping, *, dim: int, note: str = "") -> dict:
        """Keep ``report`` (from :func:`openset_report`) as the live row of ``loss`` in ``dim``-D."""
        if loss not in self.order and loss not in losses.LOSSES:
            raise ValueError(f"unknown loss {loss!r} for this scoreboard: one of {', '.join(losses.LOSSES)}")
        row = {"loss": loss, "dim": int(dim), "scores": dict(report), "note": note, "time": time.time()}
        rows = [r for r in self.live_rows() if (r["loss"], r["dim"]) != (loss, int(dim))] + [row]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(rows, indent=1, allow_nan=False))
        return row

    def clear(self) -> None:
        """Forget the live rows (the reference rows stay)."""
        self.path.unlink(missing_ok=True)

    def rows(self, *, upto: str | None = None) -> list[dict]:
        """Rows in course order up to ``upto`` (inclusive); each with ``source`` "live" or
        "reference"; a (loss, dim) measured live hides its reference row."""
        ranked = sorted({*self.order, *(r["loss"] for r in self.live_rows())}, key=self.rank)
        losses_shown = ranked[: ranked.index(upto) + 1] if upto else ranked
        live = [{**r, "source": "live"} for r in self.live_rows()]
        measured = {(r["loss"], r["dim"]) for r in live}
        reference = [
            {**r, "source": "reference"}
            for r in self.reference_rows()
            if (r["loss"], r["dim"]) not in measured
        ]
        chosen = [r for r in live + reference if r["loss"] in losses_shown]
        return sorted(chosen, key=lambda r: (self.rank(r["loss"]), r["dim"], r["source"]))

    def rank(self, loss: str) -> int:
        """A loss's place in the table: the course order, then any other loss in library order."""
        if loss in self.order:
            return self.order.index(loss)
        names = list(losses.LOSSES)
        return len(self.order) + (names.index(loss) if loss in names else len(names))

    def markdown(self, *, upto: str | None = None, columns=REPORT_COLUMNS) -> str:
        """The table, one row per (loss, dim); "source" says live (measured here) or reference (CLI)."""
        lines = ["| loss | dim | metric | " + " | ".join(c[1] for c in columns) + " | source |"]
        lines.append("|---|---:|---|" + "---:|" * len(columns) + "---|")
        for row in self.rows(upto=upto):
            scores = row.get("scores") or {}
            cells = [
                format_value(scores.get(key), factor=factor, decimals=decimals)
                for key, _, factor, decimals in columns
            ]
            source = "live (this machine)" if row["source"] == "live" else "reference (CLI)"
            metric = scores.get("metric", row.get("metric", "–"))
            lines.append(
                f"| {row['loss']} | {row['dim']} | {metric} | " + " | ".join(cells) + f" | {source} |"
            )
        if any(row["source"] == "reference" for row in self.rows(upto=upto)):
            note = "Reference rows: full-data CLI runs, 10 epochs (docs/results.md has each command)."
            lines.append("\n" + note)
        return "\n".join(lines)
