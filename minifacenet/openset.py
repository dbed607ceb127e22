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
from dataclasses import dataclass, fields
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
from .recipe import Recipe

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
# the board's order: NormFace (m = 0, the margin heads' normalised head) is the margin heads' control
SCOREBOARD_ORDER = (COURSE[0], "normface", *COURSE[1:])
# the heads compared with NormFace as well as softmax: those whose class names a margin control
MARGIN_HEADS = tuple(name for name, cls in losses.LOSSES.items() if cls.margin_control == "normface")
MIN_REFERENCE_SEEDS = 3
RANK_KEY, RANK_NAME = "tar@far=0.01", "TAR@FAR=1%"  # the measure a board ranks by, highest first
REFERENCE_FILE = Path(__file__).with_name("scoreboard_reference.json")


def runs_dir() -> Path:
    """Where live scoreboard rows are kept: ``$MINIFACENET_RUNS``, else ``~/.cache/minifacenet``."""
    return Path(os.environ.get("MINIFACENET_RUNS", "~/.cache/minifacenet")).expanduser()


def run_setting(
    *, train_images: int, epochs: int, network: Mapping, recipe: Mapping, seed, dim: int, **extra
) -> dict:
    """The fingerprint of how a live row was trained: data, epochs, network, recipe, seed, dim.

    Two live rows are compared only when their settings are equal, so that the difference
    between them is the loss and nothing else. ``seed`` is an int (or a list of them for a row
    that is a mean over seeds or folds); ``extra`` holds anything else that decided the run
    (e.g. ``folds``). JSON-normalised (tuples become lists), so a row read back compares equal.
    """
    setting = {
        "train_images": int(train_images),
        "epochs": int(epochs),
        "network": dict(network),
        "recipe": dict(recipe),
        "seed": seed,
        "dim": int(dim),
        **extra,
    }
    return json.loads(json.dumps(setting, sort_keys=True))


def trained_setting(model: nn.Module, *, train_images: int) -> dict:
    """The :func:`run_setting` of a model trained by :func:`minifacenet.train.fit` on ``train_images`` images.

    The epochs, the recipe (:class:`~minifacenet.recipe.Recipe`'s fields of the run's
    ``TrainConfig``) and the seed come from ``model.train_config``, the network from
    ``model.config``: the fingerprint says what was run, not what was meant.
    """
    config = getattr(model, "train_config", None)
    if config is None or not hasattr(model, "config"):
        raise ValueError(
            "the model was not trained by minifacenet.train.fit: build its setting with run_setting(...)"
        )
    recipe = {f.name: getattr(config, f.name) for f in fields(Recipe) if f.name != "epochs"}
    return run_setting(
        train_images=train_images,
        epochs=config.epochs,
        network=model.config,
        recipe=recipe,
        seed=config.seed,
        dim=model.config["embedding_dim"],
    )


def setting_key(setting: Mapping | None) -> str | None:
    """A hashable form of a setting (None: a row without one, comparable with nothing)."""
    return None if setting is None else json.dumps(setting, sort_keys=True)


def describe_setting(setting: Mapping) -> str:
    """One line: ``2-D, 20000 training images, 6 epochs, seed 0, network {...}, recipe {...}``."""
    known = ("dim", "train_images", "epochs", "seed", "network", "recipe")
    rest = ", ".join(f"{key} {json.dumps(value)}" for key, value in setting.items() if key not in known)
    line = (
        f"{setting['dim']}-D, {setting['train_images']} training images, {setting['epochs']} epochs, "
        f"seed {setting['seed']}, network {json.dumps(setting['network'], sort_keys=True)}, "
        f"recipe {json.dumps(setting['recipe'], sort_keys=True)}"
    )
    return line + (f", {rest}" if rest else "")


def controls_of(loss: str) -> tuple[str, ...]:
    """The live rows a loss is compared with: softmax, and its class's ``margin_control`` if it names one."""
    if loss == "softmax":
        return ()
    cls = losses.LOSSES.get(loss)
    control = cls.margin_control if cls is not None else None
    return ("softmax", control) if control else ("softmax",)


def check_reference_row(row: Mapping, *, where) -> dict:
    """A reference row with ``ranked``: a mean over >= 3 seeds, or explicitly marked by ``seeds_note``.

    A single seed can be any seed's luck (seed 0 is softmax's worst on MNIST), so a row with
    fewer seeds is refused unless it says so (``"seeds_note": "single run"``); then it is shown,
    not ranked.
    """
    seeds = list(row.get("seeds") or [])
    if len(seeds) < MIN_REFERENCE_SEEDS and not row.get("seeds_note"):
        raise ValueError(
            f"{where}: the reference row {row.get('loss')} {row.get('dim')}-D has {len(seeds)} seed(s) "
            f"{seeds}: a reference row is a mean over >= {MIN_REFERENCE_SEEDS} seeds. Write it from "
            "every seed's run with `python scripts/results_table.py --reference FILE`, or mark it "
            '(e.g. "seeds_note": "single run") to show it unranked'
        )
    return {**row, "seeds": seeds, "ranked": len(seeds) >= MIN_REFERENCE_SEEDS}


def rank_rows(rows: list[dict], *, group) -> None:
    """Set ``rank`` (1 = highest :data:`RANK_KEY`) among the rows of each ``group(row)``; None: not ranked."""
    groups: dict = {}
    for row in rows:
        row["rank"] = None
        if group(row) is not None:
            groups.setdefault(group(row), []).append(row)
    for members in groups.values():
        ordered = sorted(members, key=lambda r: -(r["scores"] or {}).get(RANK_KEY, -math.inf))
        for position, row in enumerate(ordered, start=1):
            row["rank"] = position


def pair_live_rows(rows: list[dict]) -> list[dict]:
    """Each live row with ``comparable``, ``gaps`` and ``rank``, against controls of the *same* setting.

    gap = score(row) - score(control), for each of :data:`GAP_KEYS`, where the control
    (:func:`controls_of`) was trained with an equal setting (same data, epochs, network,
    recipe, seed, dim). A row is ``comparable`` when its softmax control exists; only
    comparable rows are ranked, and only among rows of their own setting.
    """
    by_setting = {(setting_key(r.get("setting")), r["loss"]): r for r in rows}
    paired = []
    for row in rows:
        key = setting_key(row.get("setting"))
        controls = {c: by_setting.get((key, c)) for c in controls_of(row["loss"])} if key else {}
        gaps = {
            name: {
                k: row["scores"].get(k, math.nan) - control["scores"].get(k, math.nan) for k, _ in GAP_KEYS
            }
            for name, control in controls.items()
            if control is not None
        }
        comparable = key is not None and (row["loss"] == "softmax" or "softmax" in gaps)
        paired.append({**row, "source": "live", "gaps": gaps, "comparable": comparable})
    rank_rows(paired, group=lambda r: setting_key(r["setting"]) if r["comparable"] else None)
    return paired


def format_range(
    scores: Mapping, low: Mapping, high: Mapping, *, key: str, factor: float, decimals: int
) -> str:
    """``mean [min, max]`` of one measure of a reference row (just the mean when min = max)."""
    mean = format_value(scores.get(key), factor=factor, decimals=decimals)
    if key not in low or low[key] == high.get(key):
        return mean
    ends = [format_value(side.get(key), factor=factor, decimals=decimals) for side in (low, high)]
    return f"{mean} [{ends[0]}, {ends[1]}]"


def format_row_gaps(row: Mapping, control: str) -> str:
    """A live row's gap to ``control`` in points (``TAR@FAR=1% +1.2, AUC -0.3``), or why there is none."""
    if control not in controls_of(row["loss"]):
        return ""
    if control not in row["gaps"]:
        return "no control"
    gap = row["gaps"][control]
    return ", ".join(f"{name} {100 * gap[key]:+.1f}" for key, name in GAP_KEYS)


def format_reference_gaps(row: Mapping, control: str) -> str:
    """A reference row's paired gap to ``control`` over the seeds both ran:
    ``TAR@FAR=1% +0.8 [-5.1, +5.4] (2/3 seeds)``; empty when there is none."""
    gaps = (row.get("paired") or {}).get(control)
    if control not in controls_of(row["loss"]) or not gaps:
        return ""
    first = gaps[GAP_KEYS[0][0]]
    cells = [f"{name} {format_gap(gaps[key])}" for key, name in GAP_KEYS if key in gaps]
    return ", ".join(cells) + f" ({first['wins']}/{first['pairs']} seeds better)"


class Scoreboard:
    """The open-set table of the course, with two kinds of rows that are never ranked together.

    - *reference* rows (``reference``, written by ``scripts/results_table.py --reference``):
      CLI runs on every seen training image under the course recipe, each measure the mean
      [min, max] over >= 3 seeds (:func:`check_reference_row`), ranked within a dimension;
    - *live* rows (:meth:`add`), measured here and kept in ``runs_dir()/scoreboard_<name>.json``
      so that the next notebook sees them, each with its :func:`run_setting`. A live row is
      compared only with controls trained in an equal setting (:func:`pair_live_rows`: its
      paired gap); without a softmax control it is "not comparable" and not ranked.

    No number is filled in and no seed is picked: every row says its seeds.
    """

    def __init__(
        self,
        name: str = "mnist",
        *,
        order: Iterable[str] = SCOREBOARD_ORDER,
        cache_dir=None,
        reference=REFERENCE_FILE,
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

    def add(self, loss: str, report: Mapping, *, setting: Mapping, note: str = "") -> dict:
        """Keep ``report`` (from :func:`openset_report`) as the live row of ``loss`` trained in ``setting``.

        ``setting`` is the run's fingerprint (:func:`trained_setting` or :func:`run_setting`);
        the number of images scored is added to it. A row of the same loss and setting is replaced.
        """
        if loss not in self.order and loss not in losses.LOSSES:
            raise ValueError(f"unknown loss {loss!r} for this scoreboard: one of {', '.join(losses.LOSSES)}")
        setting = run_setting(**{**setting, "scored_images": report.get("images")})
        row = {
            "loss": loss,
            "dim": setting["dim"],
            "seed": setting["seed"],
            "setting": setting,
            "scores": dict(report),
            "note": note,
            "time": time.time(),
        }
        same = (loss, setting_key(setting))
        rows = [r for r in self.live_rows() if (r["loss"], setting_key(r.get("setting"))) != same] + [row]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(rows, indent=1, allow_nan=False))
        return row

    def clear(self) -> None:
        """Forget the live rows (the reference rows stay)."""
        self.path.unlink(missing_ok=True)

    def shown(self, *, upto: str | None) -> tuple[str, ...]:
        """The losses up to ``upto`` (inclusive) in :meth:`rank` order; all of them for None."""
        ranked = sorted({*self.order, *(r["loss"] for r in self.live_rows())}, key=self.rank)
        return tuple(ranked[: ranked.index(upto) + 1] if upto else ranked)

    def rank(self, loss: str) -> int:
        """A loss's place in the table: the course order, then any other loss in library order."""
        if loss in self.order:
            return self.order.index(loss)
        names = list(losses.LOSSES)
        return len(self.order) + (names.index(loss) if loss in names else len(names))

    def references(self, *, upto: str | None = None) -> list[dict]:
        """Reference rows in course order, checked (:func:`check_reference_row`), ranked per dimension."""
        where = self.reference_path
        rows = [
            {**check_reference_row(r, where=where), "source": "reference"}
            for r in self.reference_rows()
            if r["loss"] in self.shown(upto=upto)
        ]
        rank_rows(rows, group=lambda r: r["dim"] if r["ranked"] else None)
        return sorted(rows, key=lambda r: (r["dim"], self.rank(r["loss"])))

    def live(self, *, upto: str | None = None) -> list[dict]:
        """Live rows paired with their controls (:func:`pair_live_rows`), by setting, in course order."""
        shown = self.shown(upto=upto)
        rows = [r for r in pair_live_rows(self.live_rows()) if r["loss"] in shown]
        first_seen = {}
        for row in rows:
            first_seen.setdefault(setting_key(row.get("setting")), len(first_seen))
        return sorted(
            rows, key=lambda r: (first_seen[setting_key(r.get("setting"))], self.rank(r["loss"]))
        )

    def rows(self, *, upto: str | None = None) -> list[dict]:
        """The reference rows, then the live rows (``source`` says which)."""
        return self.references(upto=upto) + self.live(upto=upto)

    def markdown(self, *, upto: str | None = None, columns=REPORT_COLUMNS) -> str:
        """The reference table (if any) and the live table, each with the rules it follows."""
        references = self.references(upto=upto)
        parts = [reference_markdown(references, columns=columns)] if references else []
        parts.append(live_markdown(self.live(upto=upto), columns=columns))
        return "\n\n".join(parts)


def reference_markdown(rows: list[dict], *, columns=REPORT_COLUMNS) -> str:
    """The reference rows: mean [min, max] over seeds; the rank within a dimension, or why none."""
    lines = [
        f"**Reference** (CLI runs on every seen training image, the course recipe; mean [min, max] over "
        f"the seeds; ranked by mean {RANK_NAME} within a dimension, rows of >= {MIN_REFERENCE_SEEDS} "
        "seeds only)",
        "",
        "| rank | loss | dim | seeds | metric | "
        + " | ".join(c[1] for c in columns)
        + " | vs softmax, same seeds | vs normface, same seeds |",
        "|---:|---|---:|---|---|" + "---:|" * len(columns) + "---|---|",
    ]
    for row in rows:
        scores, low, high = row.get("scores") or {}, row.get("min") or {}, row.get("max") or {}
        cells = [
            format_range(scores, low, high, key=key, factor=factor, decimals=decimals)
            for key, _, factor, decimals in columns
        ]
        rank = row["rank"] if row["rank"] is not None else f"not ranked ({row.get('seeds_note', '')})"
        seeds = " ".join(str(s) for s in row["seeds"]) or "–"
        metric = scores.get("metric", row.get("metric", "–"))
        gaps = [format_reference_gaps(row, control) for control in ("softmax", "normface")]
        lines.append(
            f"| {rank} | {row['loss']} | {row['dim']} | {seeds} | {metric} | "
            + " | ".join(cells + gaps)
            + " |"
        )
    return "\n".join(lines)


def live_markdown(rows: list[dict], *, columns=REPORT_COLUMNS) -> str:
    """The live rows, setting by setting: rank and paired gaps to the controls of the same setting."""
    head = (
        "**Live** (measured on this machine; a row is compared only with a control trained in the same "
        "setting and seed: its gap in points; without a softmax control it is not comparable, not ranked)"
    )
    if not rows:
        return head + "\n\nNo live rows yet."
    labels = {}
    for row in rows:
        labels.setdefault(setting_key(row.get("setting")), chr(ord("A") + len(labels)))
    lines = [
        head,
        "",
        "| rank | loss | setting | metric | "
        + " | ".join(c[1] for c in columns)
        + " | vs softmax | vs normface | note |",
        "|---:|---|---|---|" + "---:|" * len(columns) + "---|---|---|",
    ]
    for row in rows:
        scores = row["scores"]
        cells = [format_value(scores.get(key), factor=f, decimals=d) for key, _, f, d in columns]
        rank = row["rank"] if row["comparable"] else "not comparable"
        gaps = [format_row_gaps(row, control) for control in ("softmax", "normface")]
        label = labels[setting_key(row.get("setting"))] if row.get("setting") else "none"
        lines.append(
            f"| {rank} | {row['loss']} | {label} | {scores.get('metric', '–')} | "
            + " | ".join(cells + gaps + [row.get("note", "")])
            + " |"
        )
    lines.append("")
    for key, label in labels.items():
        if key is not None:
            lines.append(f"- setting {label}: {describe_setting(json.loads(key))}")
    return "\n".join(lines)
