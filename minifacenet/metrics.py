"""Evaluation of embeddings: classification, recognition, verification, clustering, angles.

Everything open-set is measured on embeddings of people the network never saw:

- :func:`verification` -- "same person?" for every pair, scored by cosine similarity:
  ROC, AUC, EER, TAR at fixed FAR, and best-threshold accuracy (the LFW protocol);
- :func:`recognition` -- "who is it?" by nearest neighbour (leave-one-out, and gallery/probe);
- :func:`clustering` -- "how many people, and which photos go together?" (NMI, ARI);
- :func:`angle_statistics` -- the angles of ArcFace's Table 3 (W-EC, W-Inter, Intra, Inter).

The heavy lifting is scikit-learn's; these functions only build the pairs and read the curves.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    balanced_accuracy_score,
    normalized_mutual_info_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier

from .checks import is_number
from .tensors import to_numpy, unit

FAR_TARGETS = (0.001, 0.01, 0.1)


def accuracy(predictions, labels) -> float:
    """Fraction of ``predictions`` equal to ``labels``."""
    predicted, truth = to_numpy(predictions).ravel(), to_numpy(labels).ravel()
    if len(predicted) != len(truth) or len(truth) == 0:
        raise ValueError(
            f"{len(predicted)} predictions for {len(truth)} labels: need one per label, and at least one"
        )
    return float((predicted == truth).mean())


def knn_accuracy(
    gallery, gallery_labels, probes, probe_labels, *, k: int = 1, metric: str = "euclidean"
) -> float:
    """Accuracy of k-nearest-neighbour recognition of ``probes`` against a ``gallery``."""
    gallery, probes = _finite(gallery, "gallery"), _finite(probes, "probes")
    knn = KNeighborsClassifier(n_neighbors=k, metric=metric)
    knn.fit(gallery, to_numpy(gallery_labels))
    return accuracy(knn.predict(probes), probe_labels)


# --------------------------------------------------------------------------- checks
def _finite(embeddings, name: str = "embeddings") -> np.ndarray:
    """As a float64 array; a ValueError if any value is NaN or inf."""
    x = to_numpy(embeddings, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contain NaN or inf: the network diverged; retrain or lower the lr")
    return x


def _check_rate(far: float) -> float:
    """A false-accept rate: a number in [0, 1]."""
    if not (is_number(far) and 0.0 <= far <= 1.0):
        raise ValueError(f"a false-accept rate must be a number in [0, 1], got {far!r} (e.g. 0.01 for 1 %)")
    return float(far)


def _check_scores(scores: np.ndarray, same: np.ndarray) -> None:
    """Pair scores that a threshold can act on: finite, one per pair flag, and not all equal."""
    if len(scores) != len(same) or not np.isfinite(scores).all():
        raise ValueError(f"need one finite score per pair flag: got {len(scores)} scores, {len(same)} flags")
    if len(scores) < 2:
        raise ValueError(f"{len(scores)} pair(s): a threshold needs at least 2 pairs (3 images); add images")
    if scores.min() == scores.max():
        raise ValueError(
            f"every pair has the same similarity ({scores[0]:.3f}): the embeddings all point one way "
            "(a collapsed network), so no threshold separates people; retrain"
        )


def checked_arrays(embeddings, labels) -> tuple[np.ndarray, np.ndarray]:
    """Float64 ``[N, D]`` and ``[N]`` arrays, finite, of >= 2 classes; a ValueError names what is wrong."""
    x, y = _finite(embeddings), to_numpy(labels).ravel()
    if x.ndim != 2:
        raise ValueError(f"embeddings must be 2-D [N, D], got shape {x.shape}")
    if len(x) != len(y):
        raise ValueError(f"{len(x)} embeddings but {len(y)} labels: pass one label per embedding")
    if len(np.unique(y)) < 2:
        raise ValueError("need at least two identities (classes) to measure anything open-set")
    return x, y


# --------------------------------------------------------------------------- verification
def pair_scores(embeddings, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every unordered pair ``i < j``: cosine similarity, same-identity flag, and ``[P, 2]`` indices.

    score(i, j) = <x_i, x_j> / (|x_i| |x_j|)
    """
    x, y = checked_arrays(embeddings, labels)
    # [N, N] cosine similarities; keep the upper triangle without the diagonal: P = N (N - 1) / 2
    similarity = cosine_similarity(x)
    i, j = np.triu_indices(len(y), k=1)
    return similarity[i, j], y[i] == y[j], np.stack([i, j], axis=1)


def equal_error_rate(fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray) -> tuple[float, float]:
    """EER from a ROC: the rate where FAR = FRR (FRR = 1 - TAR), linearly interpolated.

    Walks the ROC to the first point where FRR <= FAR and interpolates between it and the
    point before; returns ``(eer, threshold at that first point)``.
    """
    # gap = FRR - FAR falls from 1 (reject all) to -1 (accept all) along the ROC
    gap = (1.0 - tpr) - fpr
    k = int(np.argmax(gap <= 0))
    if k == 0:
        return float(fpr[0]), float(thresholds[0])
    # the fraction t of the way from point k-1 to point k where the gap is zero
    t = gap[k - 1] / (gap[k - 1] - gap[k])
    return float(fpr[k - 1] + t * (fpr[k] - fpr[k - 1])), float(thresholds[k])


def tar_at_far(fpr: np.ndarray, tpr: np.ndarray, far: float) -> float:
    """TAR at FAR = ``far``: the highest true-accept rate of any threshold whose FAR <= ``far``.

    No interpolation: the value is reached by an actual threshold on these pairs.
    """
    return float(tpr[fpr <= _check_rate(far)].max())


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold that maximises balanced accuracy (TAR + TRR) / 2 on these pairs.

    Of the best ROC threshold (the lowest score accepted) and the next lower score, the
    midpoint: an unseen pair scoring in between is not rejected just for being new.
    """
    fpr, tpr, thresholds = roc_curve(same, scores, drop_intermediate=False)
    # balanced accuracy of "same if score >= threshold" at each ROC threshold
    best = int(np.argmax((tpr + 1.0 - fpr) / 2.0))
    if best == 0 or best + 1 == len(thresholds):
        return float(thresholds[best])
    return float((thresholds[best] + thresholds[best + 1]) / 2.0)


def threshold_accuracy(scores, same, *, num_folds: int = 10, seed: int = 0) -> tuple[float, float, float]:
    """LFW protocol: pick the threshold on k-1 folds of pairs, score the held-out fold.

    Returns ``(mean accuracy, std over folds, mean threshold)``. Accuracy is *balanced*,
    (TAR + TRR) / 2, which equals plain accuracy on LFW's 50/50 pairs; all pairs of a
    set are mostly negatives, so plain accuracy would reward rejecting everything.
    """
    scores, same = np.asarray(scores, dtype=np.float64), np.asarray(same, dtype=bool)
    _check_scores(scores, same)
    positives = int(same.sum())
    if min(positives, len(same) - positives) < num_folds:
        raise ValueError(
            f"{num_folds}-fold threshold selection needs >= {num_folds} positive and negative pairs, "
            f"got {positives} and {len(same) - positives}: use fewer folds or more images"
        )
    folds = StratifiedKFold(n_splits=num_folds, shuffle=True, random_state=seed)
    results = []
    for train, test in folds.split(scores, same):
        threshold = best_threshold(scores[train], same[train])
        results.append((balanced_accuracy_score(same[test], scores[test] >= threshold), threshold))
    acc, thresholds = np.array(results).T
    return float(acc.mean()), float(acc.std()), float(thresholds.mean())


def verification(embeddings, labels, *, far_targets=FAR_TARGETS, num_folds: int = 10, seed: int = 0) -> dict:
    """Face verification over all pairs, cosine similarity as the score.

    Returns ``auc``; ``eer`` and ``eer_threshold``; ``tar_at_far`` ``{FAR: TAR}`` for each
    of ``far_targets`` (see :func:`tar_at_far`); ``accuracy``, ``accuracy_std`` and
    ``threshold`` from :func:`threshold_accuracy`; ``roc`` ``{"fpr", "tpr", "thresholds"}``
    for plotting; the pair counts ``positives`` and ``negatives``.
    """
    far_targets = [_check_rate(far) for far in far_targets]
    scores, same, _ = pair_scores(embeddings, labels)
    if same.all() or not same.any():
        raise ValueError("need both same-identity and different-identity pairs: give >= 2 images per person")
    _check_scores(scores, same)
    fpr, tpr, thresholds = roc_curve(same, scores)
    eer, eer_threshold = equal_error_rate(fpr, tpr, thresholds)
    acc, acc_std, threshold = threshold_accuracy(scores, same, num_folds=num_folds, seed=seed)
    return {
        "auc": float(roc_auc_score(same, scores)),
        "eer": eer,
        "eer_threshold": eer_threshold,
        "tar_at_far": {far: tar_at_far(fpr, tpr, far) for far in far_targets},
        "accuracy": acc,
        "accuracy_std": acc_std,
        "threshold": threshold,
        "roc": {"fpr": fpr, "tpr": tpr, "thresholds": thresholds},
        "positives": int(same.sum()),
        "negatives": int((~same).sum()),
    }


def hardest_pairs(embeddings, labels, *, threshold: float, count: int = 5) -> dict:
    """The worst mistakes at ``threshold``: ``false_accepts`` (different people, highest score)
    and ``false_rejects`` (same person, lowest score), each ``[(i, j, score), ...]``."""
    if not (is_number(threshold) and np.isfinite(threshold)):
        raise ValueError(f"threshold must be a finite cosine similarity, got {threshold!r}")
    if not isinstance(count, numbers.Integral) or isinstance(count, bool) or count < 0:
        raise ValueError(f"count must be a whole number >= 0 of pairs to list, got {count!r}")
    scores, same, pairs = pair_scores(embeddings, labels)
    # false accepts: different people scored as same, most similar first
    accepts = np.flatnonzero(~same & (scores >= threshold))
    accepts = accepts[np.argsort(-scores[accepts])][:count]
    # false rejects: same person scored as different, least similar first
    rejects = np.flatnonzero(same & (scores < threshold))
    rejects = rejects[np.argsort(scores[rejects])][:count]

    def listed(index):
        return [(int(pairs[p, 0]), int(pairs[p, 1]), float(scores[p])) for p in index]

    return {"false_accepts": listed(accepts), "false_rejects": listed(rejects)}


# --------------------------------------------------------------------------- recognition
def recognition(embeddings, labels, *, gallery_per_class: int = 1, seed: int = 0) -> dict:
    """Closed-world identification among the given people, cosine nearest neighbour.

    ``knn_accuracy``: leave-one-out 1-NN, each image against all the others.
    ``gallery_accuracy``: ``gallery_per_class`` random images per person enrolled as the
    gallery, every other image a probe matched to its nearest gallery image (rank-1).
    """
    x, y = checked_arrays(embeddings, labels)
    # [N, N] similarities; an image must not match itself
    similarity = cosine_similarity(x)
    np.fill_diagonal(similarity, -np.inf)
    knn = accuracy(y[similarity.argmax(1)], y)
    gallery, probes = gallery_split(y, gallery_per_class=gallery_per_class, seed=seed)
    rank_one = knn_accuracy(x[gallery], y[gallery], x[probes], y[probes], k=1, metric="cosine")
    return {"knn_accuracy": knn, "gallery_accuracy": rank_one}


def gallery_split(labels, *, gallery_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(gallery, probes)`` sorted indices: ``gallery_per_class`` random images of each identity
    enrolled, every other image a probe (each identity keeps at least one)."""
    y = to_numpy(labels).ravel()
    rng = np.random.default_rng(seed)
    picks = []
    for identity in np.unique(y):
        members = np.flatnonzero(y == identity)
        if len(members) <= gallery_per_class:
            raise ValueError(
                f"identity {identity} has {len(members)} images: need more than gallery_per_class="
                f"{gallery_per_class} so that it also has a probe"
            )
        picks.append(rng.choice(members, gallery_per_class, replace=False))
    gallery = np.sort(np.concatenate(picks))
    return gallery, np.setdiff1d(np.arange(len(y)), gallery)


# --------------------------------------------------------------------------- clustering
def clustering(embeddings, labels, *, num_clusters: int | None = None, seed: int = 0) -> dict:
    """Cluster the L2-normalised embeddings and compare with the identities.

    k-means (10 restarts) and agglomerative clustering (Ward linkage; on the unit sphere
    |a - b|^2 = 2 - 2 cos, so this is cosine clustering). ``num_clusters`` defaults to the
    number of identities. Returns ``{kmeans,agglomerative}_{nmi,ari}``.
    """
    x, y = checked_arrays(embeddings, labels)
    num_clusters = num_clusters or len(np.unique(y))
    x = unit(x)
    found = {
        "kmeans": KMeans(num_clusters, n_init=10, random_state=seed).fit_predict(x),
        "agglomerative": AgglomerativeClustering(num_clusters, linkage="ward").fit_predict(x),
    }
    scores = {}
    for name, clusters in found.items():
        scores[f"{name}_nmi"] = float(normalized_mutual_info_score(y, clusters))
        scores[f"{name}_ari"] = float(adjusted_rand_score(y, clusters))
    return scores


# --------------------------------------------------------------------------- angles
def _angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles in degrees between the rows of ``a`` ``[M, D]`` and ``b`` ``[K, D]``: ``[M, K]``."""
    return np.degrees(np.arccos(np.clip(unit(a) @ unit(b).T, -1.0, 1.0)))


def _min_angle_to_others(vectors: np.ndarray) -> np.ndarray:
    """For each row, the smallest angle (degrees) to any *other* row: ``[K]``."""
    angles = _angles(vectors, vectors)
    np.fill_diagonal(angles, np.inf)
    return angles.min(1)


def angle_statistics(embeddings, labels, *, weight=None) -> dict:
    """ArcFace's Table 3 angle statistics, in degrees.

    With x^_i = x_i / |x_i| and the embedding centre of class c, c_c = mean of x^_i over
    its samples (a direction; its length does not matter):

    - ``intra``   (Intra1)  = mean over samples i of angle(x_i, c_{y_i})
    - ``inter``   (Inter1)  = mean over classes c of min_{c' != c} angle(c_c, c_c')
    - ``w_ec``    (W-EC)    = mean over classes c of angle(W_c, c_c)
    - ``w_inter`` (W-Inter) = mean over classes c of min_{c' != c} angle(W_c, W_c')

    ``weight`` ``[C, D]`` is a head's class weights, row c for label c (labels must lie in
    ``[0, C)``); without it (contrastive, triplet, unseen people) W-EC and W-Inter are NaN.
    """
    x, y = checked_arrays(embeddings, labels)
    classes = np.unique(y)
    # [C, D] class centres of the normalised embeddings
    centres = np.stack([unit(x[y == c]).mean(0) for c in classes])
    # angle of each sample to its own class centre: [N]
    own_centre = centres[np.searchsorted(classes, y)]
    intra = np.degrees(np.arccos(np.clip((unit(x) * unit(own_centre)).sum(1), -1.0, 1.0)))
    stats = {"intra": float(intra.mean()), "inter": float(_min_angle_to_others(centres).mean())}
    stats["w_ec"], stats["w_inter"] = float("nan"), float("nan")
    if weight is not None:
        w = to_numpy(weight, dtype=np.float64)
        if w.ndim != 2 or w.shape[1] != x.shape[1] or classes.min() < 0 or classes.max() >= len(w):
            raise ValueError(
                f"weight must be [C, {x.shape[1]}] with labels in [0, C); got shape {w.shape} and "
                f"labels {classes.min()}..{classes.max()}: pass the head trained on these labels"
            )
        if not (np.isfinite(w).all() and (w != 0).any(axis=1).all()):
            raise ValueError(
                "weight rows must be finite and not all zero (a zero row has no angle): pass the head"
            )
        stats["w_ec"] = float(np.diag(_angles(w[classes], centres)).mean())
        stats["w_inter"] = float(_min_angle_to_others(w).mean())
    return stats
