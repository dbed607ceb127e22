"""Pure compute behind the margin explorer: margin conditions, arcs, caps, violations, bounds.

Every margin here comes from the training heads in :mod:`minifacenet.losses`: a head is built
for the chosen loss, ``m`` and ``s``, and its :meth:`~minifacenet.losses.MarginHead.target_cosine`
hook is called. The explorer and the training losses therefore cannot disagree.

The margin condition for a sample of class y against class j is "the training logit of y
(margin applied) beats the logit of j". For the normalised heads the common scale s cancels,
and for SphereFace the common feature norm ``|x|`` cancels, so on cosines it reads

    f(cos theta_y) > cos theta_j   for every j != y,

with f the head's ``target_cosine`` (SphereFace with lambda = 0: f = psi).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import torch

from . import losses as L

# The losses the explorer can show, in the order of the selector.
EXPLORER_LOSSES = ("normface", "sphereface", "cosface", "arcface", "combined")


def _to_numpy(x) -> np.ndarray:
    return x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, float)


def head_params(
    loss: str, *, m: float, s: float = 10.0, easy_margin: bool = False, m1: float = 1.0, m3: float = 0.2
) -> dict:
    """The head's keyword arguments for one position of the explorer's sliders.

    ``m`` is the slider value: CosFace's and ArcFace's m, SphereFace's integer m (rounded,
    at least 1) and the combined margin's additive angular m2 (with fixed ``m1``, ``m3``).
    """
    if loss not in EXPLORER_LOSSES:
        raise ValueError(
            f"unknown loss {loss!r} for the explorer: choose one of {', '.join(EXPLORER_LOSSES)}"
        )
    if loss == "normface":
        return {"s": s}
    if loss == "sphereface":
        return {"m": max(1, int(round(m)))}
    if loss == "cosface":
        return {"s": s, "m": m}
    if loss == "arcface":
        return {"s": s, "m": m, "easy_margin": easy_margin}
    return {"s": s, "m1": m1, "m2": m, "m3": m3}


def make_head(
    loss: str, *, m: float, s: float = 10.0, weight=None, num_classes: int = 2, **extra
) -> L.MarginHead:
    """A training head for ``loss`` at (m, s), float64, SphereFace with lambda = 0.

    ``weight`` ``[C, D]`` (optional) is copied into the head; ``extra`` goes to
    :func:`head_params` (``easy_margin``, ``m1``, ``m3``).
    """
    weight = None if weight is None else torch.as_tensor(_to_numpy(weight))
    shape = (num_classes, 2) if weight is None else tuple(weight.shape)
    head = L.HEADS[loss](shape[1], shape[0], **head_params(loss, m=m, s=s, **extra)).double()
    if isinstance(head, L.SphereFace):
        head.lamb = 0.0  # pure A-Softmax: the margin the annealing converges towards
    if weight is not None:
        with torch.no_grad():
            head.weight.copy_(weight)
    return head


@contextlib.contextmanager
def small_tensors():
    """No autograd and one intra-op thread: for the explorer's small, latency-bound tensors
    a thread pool only adds overhead (and stalls badly on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            yield
    finally:
        torch.set_num_threads(threads)


def margin_target(head: L.MarginHead, cos) -> np.ndarray:
    """f(cos theta): the head's training target on any array of cosines (its margin as it
    trains, warm-up blend included where the head has one: ``training_target``)."""
    with small_tensors():
        cos = torch.as_tensor(np.asarray(cos, dtype=np.float64))
        return getattr(head, "training_target", head.target_cosine)(cos).numpy()


def unit(x, *, axis: int = -1) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero)."""
    x = _to_numpy(x)
    return x / np.linalg.norm(x, axis=axis, keepdims=True).clip(1e-12)


@dataclass
class CosineCache:
    """Cosines computed once per set of embeddings; a slider move only re-applies f.

    ``target`` ``[N]`` is cos theta_y, ``rival`` ``[N]`` is max over j != y of cos theta_j.
    """

    cos: np.ndarray  # [N, C]
    labels: np.ndarray  # [N]
    target: np.ndarray  # [N]
    rival: np.ndarray  # [N]

    @classmethod
    def build(cls, embeddings, labels, weight) -> CosineCache:
        labels = _to_numpy(labels).astype(np.int64)
        weight = _to_numpy(weight)
        check_inputs(_to_numpy(embeddings), labels, weight)
        # [N, D] @ [D, C] on unit vectors
        cos = np.clip(unit(embeddings) @ unit(weight).T, -1.0, 1.0)
        rows = np.arange(len(labels))
        target = cos[rows, labels]
        # the best other class: mask the target column with -inf before the max
        others = cos.copy()
        others[rows, labels] = -np.inf
        return cls(cos=cos, labels=labels, target=target, rival=others.max(axis=1))

    def violations(self, head: L.MarginHead) -> np.ndarray:
        """Boolean ``[N]``: the sample fails f(cos theta_y) > max_j cos theta_j."""
        return ~(margin_target(head, self.target) > self.rival)


def check_inputs(embeddings: np.ndarray, labels: np.ndarray, weight: np.ndarray) -> None:
    """Shapes must agree: embeddings ``[N, D]``, labels ``[N]`` in [0, C), weight ``[C, D]``."""
    if embeddings.ndim != 2 or weight.ndim != 2 or embeddings.shape[1] != weight.shape[1]:
        raise ValueError(
            f"embeddings [N, D] and class weights [C, D] must share D; got {embeddings.shape} and "
            f"{weight.shape}. Pass head.weight of the head trained on these embeddings."
        )
    if labels.shape != (len(embeddings),):
        raise ValueError(f"labels must have shape [{len(embeddings)}], got {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(weight)):
        raise ValueError(f"labels must lie in [0, {len(weight)}) to index the {len(weight)} class weights")


def violation_mask(
    embeddings, labels, weight, *, loss: str, m: float, s: float = 10.0, **extra
) -> np.ndarray:
    """Samples that violate the margin of ``loss`` at (m, s): boolean ``[N]``."""
    head = make_head(loss, m=m, s=s, weight=weight, **extra)
    return CosineCache.build(embeddings, labels, weight).violations(head)


# --------------------------------------------------------------------------- regions
def region_labels(directions, weight, head: L.MarginHead) -> np.ndarray:
    """For unit directions ``[P, D]``: the class whose margin region holds each, else -1.

    A direction lies in class y's region when f(cos theta_y) > cos theta_j for all j != y.
    At most one class can qualify, since f(c) <= c for every margin head.
    """
    cos = unit(directions) @ unit(weight).T  # [P, C]
    # f applied to every column: [P, C]
    shifted = margin_target(head, cos)
    # beats[p, y, j]: class y with margin beats class j at direction p; [P, C, C]
    beats = shifted[:, :, None] > cos[:, None, :]
    # a class need not beat itself
    beats |= np.eye(cos.shape[1], dtype=bool)[None]
    inside = beats.all(axis=2)  # [P, C]
    return np.where(inside.any(1), inside.argmax(1), -1)


def circle_points(phi) -> np.ndarray:
    """Angles ``[P]`` -> unit vectors ``[P, 2]``."""
    phi = np.asarray(phi, dtype=np.float64)
    return np.stack([np.cos(phi), np.sin(phi)], axis=-1)


def margin_arcs(weight, head: L.MarginHead, *, resolution: int = 1024, steps: int = 45) -> list:
    """2-D: for each class, the arcs ``(start, end)`` (radians, end > start) of its margin region.

    The circle is sampled at ``resolution`` angles and at each class direction, then each
    change of region is located by bisection (``steps`` halvings of a grid step) with the
    head's own margin condition. An arc that does not contain its class direction and is
    narrower than a grid step could be missed.
    """
    weight = _to_numpy(weight)
    if weight.shape[1] != 2:
        raise ValueError(f"margin arcs need 2-D class weights, got D = {weight.shape[1]}; use plot_sphere")
    centres = np.arctan2(weight[:, 1], weight[:, 0])  # [C]
    start = centres[0]  # begin inside class 0's Voronoi cell
    # a uniform grid plus every class direction, so an arc narrower than a grid step is not lost
    uniform = np.linspace(0.0, 2 * math.pi, resolution, endpoint=False)
    phi = start + np.unique(np.concatenate([uniform, (centres - start) % (2 * math.pi)]))
    region = region_labels(circle_points(phi), weight, head)
    arcs = [[] for _ in range(len(weight))]
    edges = np.nonzero(region != np.roll(region, -1))[0]  # change between k and k + 1
    if len(edges) == 0:
        if region[0] >= 0:
            arcs[region[0]].append((start, start + 2 * math.pi))
        return arcs
    lo, hi = phi[edges], np.append(phi, start + 2 * math.pi)[edges + 1]
    before, after = region[edges], region[(edges + 1) % len(phi)]
    crossing = _bisect(weight, head, lo, hi, before, steps)
    for k in range(len(edges)):
        # an arc of class `after` opens at crossing k and closes at the next crossing
        if after[k] >= 0:
            close = crossing[(k + 1) % len(edges)]
            close = close + 2 * math.pi if close <= crossing[k] else close
            arcs[after[k]].append((float(crossing[k]), float(close)))
    return arcs


def _bisect(weight, head, lo, hi, before, steps: int) -> np.ndarray:
    """Angles where the region changes from ``before``, one per interval ``[lo, hi]``."""
    lo, hi = lo.copy(), hi.copy()
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        same = region_labels(circle_points(mid), weight, head) == before
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def arc_lengths(arcs: list) -> np.ndarray:
    """Total angle covered by each class's arcs: ``[C]``."""
    return np.array([sum(end - start for start, end in class_arcs) for class_arcs in arcs])


def sphere_grid(*, rows: int = 60, cols: int = 120) -> np.ndarray:
    """A latitude-longitude grid of unit vectors ``[rows, cols, 3]`` for surfaces."""
    polar = np.linspace(0.0, math.pi, rows)[:, None]
    azimuth = np.linspace(0.0, 2 * math.pi, cols)[None, :]
    return np.stack(
        np.broadcast_arrays(np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)),
        axis=-1,
    )


# --------------------------------------------------------------------------- binary case
def binary_regions(head: L.MarginHead, theta1, theta2) -> np.ndarray:
    """In the (theta1, theta2) plane of a two-class problem: 1, 2, or 0 (the margin gap).

    Class 1 wins with margin where f(cos theta1) > cos theta2, class 2 where
    f(cos theta2) > cos theta1; neither holds inside the margin region.
    """
    c1, c2 = np.cos(np.asarray(theta1, float)), np.cos(np.asarray(theta2, float))
    c1, c2 = np.broadcast_arrays(c1, c2)
    first = margin_target(head, c1) > c2
    second = margin_target(head, c2) > c1
    return np.where(first, 1, np.where(second, 2, 0))


# --------------------------------------------------------------------------- what s does
def probability_around_circle(weight, head: L.MarginHead, phi, *, target_class: int = 0) -> np.ndarray:
    """Softmax probability of ``target_class`` for a unit 2-D feature at each angle in ``phi``.

    Uses the head's training logits (margin applied at the target), so s sharpens the curve.
    For SphereFace the feature norm is 1 here (the logit scale is |x|).
    """
    with small_tensors():
        directions = torch.as_tensor(circle_points(phi))  # [P, 2]
        labels = torch.full((len(directions),), target_class, dtype=torch.long)
        logits = head.double().logits(directions, labels)  # [P, C]
        return torch.softmax(logits, dim=1)[:, target_class].numpy()


def scale_lower_bound(num_classes: int, target_probability: float = 0.9) -> float:
    """NormFace/CosFace: s >= (C - 1)/C * ln((C - 1) P / (1 - P)) to reach probability P."""
    if not 0.0 < target_probability < 1.0 or num_classes < 2:
        raise ValueError(f"need 0 < P < 1 and C >= 2, got P = {target_probability}, C = {num_classes}")
    c, p = num_classes, target_probability
    return (c - 1) / c * math.log((c - 1) * p / (1 - p))


def cosface_margin_upper_bound(num_classes: int) -> float:
    """CosFace with 2-D features: m <= 1 - cos(2 pi / C) (C = 10 gives 0.19)."""
    if num_classes < 2:
        raise ValueError(f"need at least 2 classes, got {num_classes}")
    return 1.0 - math.cos(2 * math.pi / num_classes)


# --------------------------------------------------------------------------- toy data
def synthetic_2d(
    *, num_classes: int = 8, per_class: int = 100, seed: int = 0, spread: float = 0.12
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A small 2-D example: (embeddings ``[N, 2]``, labels ``[N]``, weight ``[C, 2]``).

    Class weights sit at unevenly spaced angles (so CosFace's arcs differ in size), samples
    scatter around them in angle (normal, ``spread`` radians) and radius (log-normal).
    """
    rng = np.random.default_rng(seed)
    even = np.linspace(0, 2 * math.pi, num_classes, endpoint=False)
    angles = even + rng.uniform(-0.3, 0.3, num_classes) * (2 * math.pi / num_classes)
    labels = np.repeat(np.arange(num_classes), per_class)
    phi = angles[labels] + rng.normal(0.0, spread, len(labels))
    radius = rng.lognormal(1.0, 0.35, len(labels))
    return radius[:, None] * circle_points(phi), labels, circle_points(angles)
