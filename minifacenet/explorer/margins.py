"""Slider state -> arrays: violations, margin arcs and caps, target-logit and probability curves.

One position of the explorer's controls is a :class:`Margin` (loss, m, s, m1, m3, easy_margin).
Every margin is applied through the library's public curve :func:`minifacenet.losses.target_logit_curve`
(at s = 1: the margin function f on cosines), so the explorer and the training heads cannot disagree.

The margin condition for a sample of class y against class j is "the training logit of y
(margin applied) beats the logit of j". For the normalised heads the common scale s cancels,
and for SphereFace the common feature norm ``|x|`` cancels, so on cosines it reads

    f(cos theta_y) > cos theta_j   for every j != y,

with f the target cosine of the loss (SphereFace: psi, the limit its annealing converges to).

Nothing here draws; :mod:`minifacenet.explorer.views` draws the arrays computed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from .. import losses
from ..tensors import to_numpy, unit

# The losses the explorer can show, in the order of the selector.
EXPLORER_LOSSES = ("normface", "sphereface", "cosface", "arcface", "combined")
# The curves of the target-logit panel.
CURVE_NAMES = ("normface", "sphereface", "cosface", "arcface", "arcface-naive", "arcface-easy", "combined")
# SphereFace's integer margin in the explorer (the lesson uses 1..4; 6 shows the trend).
SPHEREFACE_MARGINS = (1, 6)
# The angle grid of the target-logit curves: theta in [0, pi], [361].
CURVE_THETA = np.linspace(0.0, math.pi, 361)


@dataclass(frozen=True)
class Margin:
    """One position of the controls. ``m`` is CosFace's/ArcFace's m, SphereFace's integer m
    and the combined margin's m2 (with ``m1``, ``m3``); ``easy_margin`` acts on ArcFace."""

    loss: str = "arcface"
    m: float = 0.2
    s: float = 10.0
    m1: float = 1.0
    m3: float = 0.2
    easy_margin: bool = False

    def __post_init__(self):
        if self.loss not in EXPLORER_LOSSES:
            raise ValueError(
                f"unknown loss {self.loss!r} for the explorer: choose one of {', '.join(EXPLORER_LOSSES)}"
                + (" (softmax has no margin to explore; use normface)" if self.loss == "softmax" else "")
            )
        for name in ("m", "s", "m1", "m3"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float, np.number)) and math.isfinite(value)):
                raise ValueError(f"explorer {name} must be a finite number, got {value!r}")
        low, high = SPHEREFACE_MARGINS
        if self.loss == "sphereface" and not low <= round(self.m) <= high:
            raise ValueError(f"SphereFace's m must be an integer in [{low}, {high}], got {self.m}")

    @property
    def shape(self) -> Margin:
        """The margin without its scale: what decides violations, arcs and caps."""
        return replace(self, s=1.0)

    def head_arguments(self, *, s: float | None = None) -> dict:
        """The head's keyword arguments (``s`` overrides the scale)."""
        return head_arguments(self.loss, m=self.m, s=self.s if s is None else s, easy_margin=self.easy_margin,
                           m1=self.m1, m3=self.m3)  # fmt: skip

    @classmethod
    def of_head(cls, head, **overrides) -> Margin:
        """The margin of a training head, read from its class name, ``m``, ``s`` (and m1..m3)."""
        loss = "combined" if type(head).__name__ == "CombinedMargin" else type(head).__name__.lower()
        if loss not in EXPLORER_LOSSES:
            raise ValueError(
                f"the explorer shows margin heads ({', '.join(EXPLORER_LOSSES)}); got {type(head).__name__}"
                + (
                    ": softmax has no margin, pass loss='normface' to view its features"
                    if loss == "softmax"
                    else ""
                )  # fmt: skip
            )
        found = {"loss": loss, "s": float(getattr(head, "s", 10.0)) if loss != "sphereface" else 10.0}
        found["m"] = float(getattr(head, "m2" if loss == "combined" else "m", 0.0))
        found.update({key: getattr(head, key) for key in ("m1", "m3", "easy_margin") if hasattr(head, key)})
        return cls(**{**found, **overrides})


def as_margin(margin_or_head) -> Margin:
    """A :class:`Margin` as it is, or the margin of a training head."""
    return margin_or_head if isinstance(margin_or_head, Margin) else Margin.of_head(margin_or_head)


def head_arguments(
    loss: str, *, m: float, s: float = 10.0, easy_margin: bool = False, m1: float = 1.0, m3: float = 0.2
) -> dict:
    """The head's keyword arguments for one position of the explorer's sliders."""
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


def target_cosine(margin, cos) -> np.ndarray:
    """f(cos theta) of ``margin`` (a :class:`Margin` or a head) on any array of cosines.

    f(c) = target_logit_curve(loss, arccos c) at s = 1 (SphereFace: psi at feature norm 1).
    """
    margin = as_margin(margin)
    theta = np.arccos(np.clip(np.asarray(cos, dtype=np.float64), -1.0, 1.0))
    return _curve(margin.loss, theta, margin.head_arguments(s=1.0))


def _curve(loss: str, theta: np.ndarray, params: dict) -> np.ndarray:
    """target_logit_curve on numpy angles, no autograd, without touching torch's thread count."""
    with torch.no_grad():
        return losses.target_logit_curve(loss, torch.as_tensor(theta), **params).numpy()


def check_inputs(embeddings: np.ndarray, labels: np.ndarray, weight: np.ndarray) -> None:
    """Embeddings ``[N, D]`` and class weights ``[C, D]`` finite, C >= 2, labels ``[N]`` in [0, C)."""
    if embeddings.ndim != 2 or weight.ndim != 2 or embeddings.shape[1] != weight.shape[1]:
        raise ValueError(
            f"embeddings [N, D] and class weights [C, D] must share D; got {embeddings.shape} and "
            f"{weight.shape}. Pass head.weight of the head trained on these embeddings."
        )
    if len(weight) < 2:
        raise ValueError(f"a margin needs at least 2 classes; the class weights have {len(weight)} row(s)")
    for name, array in (("embeddings", embeddings), ("class weights", weight)):
        bad = ~np.isfinite(array).all(axis=1)
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} of {len(array)} {name} hold NaN or inf "
                f"(first at row {int(bad.argmax())}): "
                "the training diverged or the data are corrupt; a margin cannot be checked on them"
            )
    if labels.shape != (len(embeddings),):
        raise ValueError(f"labels must have shape [{len(embeddings)}], got {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(weight)):
        raise ValueError(f"labels must lie in [0, {len(weight)}) to index the {len(weight)} class weights")


@dataclass
class CosineCache:
    """Cosines computed once per set of embeddings; a slider move only re-applies f.

    ``target`` ``[N]`` is cos theta_y, ``rival`` ``[N]`` is max over j != y of cos theta_j.
    """

    labels: np.ndarray  # [N]
    target: np.ndarray  # [N]
    rival: np.ndarray  # [N]

    @classmethod
    def build(cls, embeddings, labels, weight) -> CosineCache:
        labels, weight, embeddings = (
            to_numpy(labels).astype(np.int64),
            to_numpy(weight, dtype=np.float64),
            to_numpy(embeddings, dtype=np.float64),
        )
        check_inputs(embeddings, labels, weight)
        # [N, D] @ [D, C] on unit vectors
        cos = np.clip(unit(embeddings) @ unit(weight).T, -1.0, 1.0)
        rows = np.arange(len(labels))
        target = cos[rows, labels]
        # the best other class: mask the target column with -inf before the max
        cos[rows, labels] = -np.inf
        return cls(labels=labels, target=target, rival=cos.max(axis=1))

    def violations(self, margin) -> np.ndarray:
        """Boolean ``[N]``: the sample fails f(cos theta_y) > max_j cos theta_j."""
        return ~(target_cosine(margin, self.target) > self.rival)


def violation_mask(
    embeddings, labels, weight, *, loss: str, m: float, s: float = 10.0, **extra
) -> np.ndarray:
    """Samples that violate the margin of ``loss`` at (m, s): boolean ``[N]``."""
    return CosineCache.build(embeddings, labels, weight).violations(Margin(loss=loss, m=m, s=s, **extra))


def margin_name(margin) -> str:
    """The loss with its margin, e.g. ``ArcFace m=0.20``."""
    margin = as_margin(margin)
    names = {"normface": "normalised softmax", "sphereface": "SphereFace", "cosface": "CosFace",
             "arcface": "ArcFace", "combined": "combined"}  # fmt: skip
    if margin.loss == "combined":
        setting = f"(m1={margin.m1:g}, m2={margin.m:.2f}, m3={margin.m3:g})"
    elif margin.loss == "sphereface":
        setting = f"m={round(margin.m)}"
    else:
        setting = f"s={margin.s:g}" if margin.loss == "normface" else f"m={margin.m:.2f}"
    return f"{names[margin.loss]} {setting}"


def describe(margin, count: int, total: int) -> str:
    """One line: the loss with its margin, and how many samples violate it."""
    return f"{margin_name(margin)}: {count} of {total} samples violate the margin"


# --------------------------------------------------------------------------- regions
def region_labels(directions, weight, margin) -> np.ndarray:
    """For unit directions ``[P, D]``: the class whose margin region holds each, else -1.

    A direction lies in class y's region when f(cos theta_y) > cos theta_j for all j != y.
    At most one class can qualify, since f(c) <= c for every margin.
    """
    cos = unit(directions, dtype=np.float64) @ unit(weight, dtype=np.float64).T  # [P, C]
    # f applied to every column: [P, C]
    shifted = target_cosine(margin, cos)
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


def margin_arcs(weight, margin, *, resolution: int = 1024, steps: int = 45) -> list:
    """2-D: for each class, the arcs ``(start, end)`` (radians, end > start) of its margin region.

    The circle is sampled at ``resolution`` angles and at each class direction, then each
    change of region is located by bisection (``steps`` halvings of a grid step). An arc
    that does not contain its class direction and is narrower than a grid step could be missed.
    """
    weight, margin = to_numpy(weight, dtype=np.float64), as_margin(margin)
    if weight.shape[1] != 2:
        raise ValueError(f"margin arcs need 2-D class weights, got D = {weight.shape[1]}; use sphere_regions")
    centres = np.arctan2(weight[:, 1], weight[:, 0])  # [C]
    start = centres[0]  # begin inside class 0's Voronoi cell
    # a uniform grid plus every class direction, so an arc narrower than a grid step is not lost
    uniform = np.linspace(0.0, 2 * math.pi, resolution, endpoint=False)
    phi = start + np.unique(np.concatenate([uniform, (centres - start) % (2 * math.pi)]))
    region = region_labels(circle_points(phi), weight, margin)
    arcs = [[] for _ in range(len(weight))]
    edges = np.nonzero(region != np.roll(region, -1))[0]  # change between k and k + 1
    if len(edges) == 0:
        if region[0] >= 0:
            arcs[region[0]].append((start, start + 2 * math.pi))
        return arcs
    lo, hi = phi[edges], np.append(phi, start + 2 * math.pi)[edges + 1]
    before, after = region[edges], region[(edges + 1) % len(phi)]
    crossing = _bisect(weight, margin, lo, hi, before, steps)
    for k in range(len(edges)):
        # an arc of class `after` opens at crossing k and closes at the next crossing
        if after[k] >= 0:
            close = crossing[(k + 1) % len(edges)]
            close = close + 2 * math.pi if close <= crossing[k] else close
            arcs[after[k]].append((float(crossing[k]), float(close)))
    return arcs


def _bisect(weight, margin, lo, hi, before, steps: int) -> np.ndarray:
    """Angles where the region changes from ``before``, one per interval ``[lo, hi]``."""
    lo, hi = lo.copy(), hi.copy()
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        same = region_labels(circle_points(mid), weight, margin) == before
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def arc_lengths(arcs: list) -> np.ndarray:
    """Total angle covered by each class's arcs: ``[C]``."""
    return np.array([sum(end - start for start, end in class_arcs) for class_arcs in arcs])


def margin_gaps(arcs: list) -> list:
    """The angles no class's margin arc covers: ``[(start, end), ...]``."""
    spans = sorted((s, e) for class_arcs in arcs for s, e in class_arcs)
    if not spans:
        return [(0.0, 2 * math.pi)]
    gaps = []
    for (_, end), (start, _) in zip(spans, spans[1:] + [(spans[0][0] + 2 * math.pi, 0.0)], strict=True):
        if start - end > 1e-9:
            gaps.append((end, start))
    return gaps


def arc_polyline(arcs: list, *, radius: float, step: float = 0.01) -> np.ndarray:
    """Arcs ``[(start, end), ...]`` -> one ``[P, 2]`` polyline, NaN rows between arcs."""
    pieces = []
    for start, end in arcs:
        phi = np.linspace(start, end, max(2, int((end - start) / step)))
        pieces += [radius * circle_points(phi), np.full((1, 2), np.nan)]
    return np.concatenate(pieces) if pieces else np.full((1, 2), np.nan)


def sector(start: float, end: float, *, radius: float, step: float = 0.02) -> np.ndarray:
    """A pie slice from the origin: polygon vertices ``[P, 2]``."""
    phi = np.linspace(start, end, max(2, int((end - start) / step)))
    return np.concatenate([[[0.0, 0.0]], radius * circle_points(phi)])


def sphere_grid(*, rows: int = 60, cols: int = 120) -> np.ndarray:
    """A latitude-longitude grid of unit vectors ``[rows, cols, 3]`` for surfaces."""
    polar = np.linspace(0.0, math.pi, rows)[:, None]
    azimuth = np.linspace(0.0, 2 * math.pi, cols)[None, :]
    return np.stack(
        np.broadcast_arrays(np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)),
        axis=-1,
    )


def sphere_regions(weight, margin, grid: np.ndarray) -> np.ndarray:
    """3-D margin caps: for each grid point ``[rows, cols]``, its class, or -1 in a gap."""
    return region_labels(grid.reshape(-1, grid.shape[-1]), weight, margin).reshape(grid.shape[:-1])


def binary_regions(margin, theta1, theta2) -> np.ndarray:
    """In the (theta1, theta2) plane of a two-class problem: 1, 2, or 0 (the margin gap).

    Class 1 wins with margin where f(cos theta1) > cos theta2, class 2 where
    f(cos theta2) > cos theta1; neither holds inside the margin region.
    """
    c1, c2 = np.broadcast_arrays(np.cos(np.asarray(theta1, float)), np.cos(np.asarray(theta2, float)))
    first = target_cosine(margin, c1) > c2
    second = target_cosine(margin, c2) > c1
    return np.where(first, 1, np.where(second, 2, 0))


# --------------------------------------------------------------------------- curves
def curve_margins(margin) -> tuple[float, int]:
    """(angular m, SphereFace m) of the target-logit panel: the slider's m where it applies,
    else ArcFace's 0.2 or SphereFace's 4 (SphereFace's integer m is no angle for the others)."""
    margin = as_margin(margin)
    if margin.loss == "sphereface":
        return 0.2, int(round(margin.m))
    return margin.m, 4


def target_curves(*, m: float, sphereface_m: int = 4, m1: float = 1.0, m3: float = 0.2,
                  theta=CURVE_THETA, names=CURVE_NAMES) -> dict:  # fmt: skip
    """Target logit / s against theta ``[P]`` for each named curve: ``{name: [P]}``.

    ``arcface-naive`` is the unfixed cos(theta + m), shown to explain why heads need the fix.
    """
    theta = np.asarray(theta, dtype=np.float64)
    params = {
        "normface": ("normface", {"s": 1.0}),
        "sphereface": ("sphereface", {"m": int(sphereface_m)}),
        "cosface": ("cosface", {"s": 1.0, "m": m}),
        "arcface": ("arcface", {"s": 1.0, "m": m}),
        "arcface-easy": ("arcface", {"s": 1.0, "m": m, "easy_margin": True}),
        "combined": ("combined", {"s": 1.0, "m1": m1, "m2": m, "m3": m3}),
    }
    curves = {}
    for name in names:
        if name == "softmax":
            curves[name] = np.cos(theta)
        elif name == "arcface-naive":
            curves[name] = np.cos(theta + m)
        else:
            curves[name] = _curve(params[name][0], theta, params[name][1])
    return curves


def probability_around_circle(weight, margin, phi, *, target_class: int = 0) -> np.ndarray:
    """Softmax probability of ``target_class`` for a unit 2-D feature at each angle in ``phi``.

    Training logits: s cos theta_j for j != y, s f(cos theta_y) for the target (SphereFace:
    s = |x| = 1). So s sharpens the curve. Neither ``weight`` nor any head is changed.
    """
    margin = as_margin(margin)
    scale = 1.0 if margin.loss == "sphereface" else margin.s
    cos = circle_points(phi) @ unit(weight, dtype=np.float64).T  # [P, C]
    logits = scale * cos
    logits[:, target_class] = scale * target_cosine(margin, cos[:, target_class])
    # softmax over classes, stabilised: [P, C]
    logits -= logits.max(axis=1, keepdims=True)
    probability = np.exp(logits)
    return probability[:, target_class] / probability.sum(axis=1)


def probability_curves(weight, margin, phi, *, s_min: float) -> dict:
    """p(class 0) around the circle: at the margin, at the same s without margin, at s = s_min."""
    margin = as_margin(margin)
    no_margin = replace(margin, m=1.0 if margin.loss == "sphereface" else 0.0, m3=0.0)
    return {
        "current": probability_around_circle(weight, margin, phi),
        "no_margin": probability_around_circle(weight, no_margin, phi),
        "at_bound": probability_around_circle(weight, replace(margin, s=s_min), phi),
    }


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


# --------------------------------------------------------------------------- one data set, one frame
def subsample(count: int, max_points: int, *, seed: int = 0) -> np.ndarray:
    """Indices of at most ``max_points`` of ``count`` items (all of them, in order, if few)."""
    if count <= max_points:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, max_points, replace=False))


@dataclass
class Scene:
    """What stays fixed while the sliders move: the cosines and the points to draw.

    ``shown`` ``[M]`` indexes the drawn subset of the N samples; ``points`` ``[M, D]`` are
    their unit directions, ``raw`` ``[M, D]`` the embeddings as the network gave them;
    ``strangers`` ``[K, D]`` unit directions of samples of classes never trained on (or None).
    """

    cache: CosineCache
    weight: np.ndarray  # [C, D], unit rows
    shown: np.ndarray  # [M]
    points: np.ndarray  # [M, D]
    raw: np.ndarray  # [M, D]
    point_labels: np.ndarray  # [M]
    strangers: np.ndarray | None  # [K, D]
    phi: np.ndarray | None  # 2-D: [361] angles around class 0's weight
    grid: np.ndarray | None  # 3-D: [rows, cols, 3]
    s_min: float

    @classmethod
    def build(cls, embeddings, labels, weight, *, strangers=None, max_points: int = 5000,
              sphere_rows: int = 40, seed: int = 0) -> Scene:  # fmt: skip
        embeddings, weight = to_numpy(embeddings, dtype=np.float64), to_numpy(weight, dtype=np.float64)
        cache = CosineCache.build(embeddings, labels, weight)
        dim = embeddings.shape[1]
        if dim not in (2, 3):
            raise ValueError(
                f"the explorer draws 2-D or 3-D embeddings, got shape {embeddings.shape}; "
                "train with embedding_dim=2 (circle) or 3 (sphere)"
            )
        shown = subsample(len(embeddings), max_points, seed=seed)
        start = math.atan2(weight[0, 1], weight[0, 0])
        return cls(
            cache=cache, weight=unit(weight), shown=shown, points=unit(embeddings[shown]),
            raw=embeddings[shown], point_labels=cache.labels[shown], strangers=_strangers(strangers, dim),
            phi=start + np.linspace(-math.pi, math.pi, 361) if dim == 2 else None,
            grid=sphere_grid(rows=sphere_rows, cols=2 * sphere_rows) if dim == 3 else None,
            s_min=scale_lower_bound(len(weight), 0.9),
        )  # fmt: skip

    @property
    def dim(self) -> int:
        return self.weight.shape[1]


def _strangers(strangers, dim: int) -> np.ndarray | None:
    """Unit directions ``[K, D]`` of the strangers, checked."""
    if strangers is None:
        return None
    strangers = to_numpy(strangers, dtype=np.float64)
    if strangers.ndim != 2 or strangers.shape[1] != dim:
        raise ValueError(f"strangers must be embeddings [K, {dim}] like the others, got {strangers.shape}")
    if not np.isfinite(strangers).all():
        raise ValueError("strangers hold NaN or inf: embed them with the same trained model")
    return unit(strangers)


@dataclass
class Frame:
    """Everything one slider position shows, as arrays.

    ``violating`` ``[N]``; 2-D: ``arcs`` (per class ``[(start, end), ...]``), ``gaps`` and
    the same as polylines and polygons to draw,
    ``curves`` ``{name: [361]}`` over :data:`CURVE_THETA`, ``probability`` ``{name: [361]}``
    over ``Scene.phi``; 3-D: ``caps`` ``[rows, cols]`` (class, -1 in gaps).
    """

    margin: Margin
    violating: np.ndarray
    arcs: list | None = None
    gaps: list | None = None
    arc_lines: list | None = None  # per class a [P, 2] polyline at radius 1.1 (NaN between arcs)
    gap_polygons: list | None = None  # pie slices [P, 2] over the gaps
    curves: dict | None = None
    probability: dict | None = None
    caps: np.ndarray | None = None

    @property
    def count(self) -> int:
        return int(self.violating.sum())

    @property
    def title(self) -> str:
        return describe(self.margin, self.count, len(self.violating))


def compute_frame(scene: Scene, margin: Margin, *, previous: Frame | None = None,
                  arc_resolution: int = 512, arc_steps: int = 24) -> Frame:  # fmt: skip
    """The arrays for ``margin``; what depends only on its shape is reused from ``previous``."""
    probability = None
    if scene.dim == 2:
        probability = probability_curves(scene.weight, margin, scene.phi, s_min=scene.s_min)
    if previous is not None and previous.margin.shape == margin.shape:
        return replace(previous, margin=margin, probability=probability)
    frame = Frame(margin=margin, violating=scene.cache.violations(margin), probability=probability)
    if scene.dim == 3:
        frame.caps = sphere_regions(scene.weight, margin, scene.grid)
        return frame
    frame.arcs = margin_arcs(scene.weight, margin, resolution=arc_resolution, steps=arc_steps)
    frame.gaps = margin_gaps(frame.arcs)
    frame.arc_lines = [arc_polyline(class_arcs, radius=1.1) for class_arcs in frame.arcs]
    frame.gap_polygons = [sector(start, end, radius=1.18) for start, end in frame.gaps]
    m, sphereface_m = curve_margins(margin)
    frame.curves = target_curves(m=m, sphereface_m=sphereface_m, m1=margin.m1, m3=margin.m3)
    return frame


# --------------------------------------------------------------------------- snapshots of training
def class_directions(embeddings, labels, num_classes: int) -> np.ndarray:
    """Unit mean direction of each class's embeddings ``[C, D]``: class 'weights' for losses
    that have none (contrastive, triplet)."""
    embeddings, labels = unit(embeddings, dtype=np.float64), to_numpy(labels).astype(np.int64)
    sums = np.zeros((num_classes, embeddings.shape[1]))
    np.add.at(sums, labels, embeddings)
    return unit(sums)


def snapshot_data(snapshot: dict, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(embeddings, labels, weight, strangers) of one ``fit`` snapshot ``{"step", "fraction",
    "weights" [C, D] or None, "embeddings" [N, D]}``. Rows labelled -1 are strangers (classes
    never trained on); without weights (metric losses) class mean directions stand in."""
    embeddings, labels = to_numpy(snapshot["embeddings"], dtype=np.float64), to_numpy(labels).astype(np.int64)
    if len(labels) != len(embeddings):
        raise ValueError(
            f"snapshot at step {snapshot.get('step')} has {len(embeddings)} embeddings but {len(labels)} "
            "labels: pass the labels of the images given to fit(snapshot_images=...)"
        )
    known = labels >= 0
    strangers = embeddings[~known] if (~known).any() else None
    embeddings, labels = embeddings[known], labels[known]
    weight = snapshot.get("weights")
    if weight is None:
        weight = class_directions(embeddings, labels, int(labels.max()) + 1)
    return embeddings, labels, to_numpy(weight, dtype=np.float64), strangers


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
