"""The margin geometry: pure functions of angles, cosines, m and s. No widgets, no drawing.

One position of the explorer's controls is a :class:`Margin` (loss, m, s, m1, m3, easy_margin).
Every margin is applied through the head class's own ``formula`` (the function its training
hook calls, :meth:`minifacenet.losses.MarginHead.formula`), so the figures, the explorer and
the training heads cannot disagree, and no head is built to draw one.

The margin condition for a sample of class y against class j is "the training logit of y
(margin applied) beats the logit of j". For the normalised heads the common scale s cancels,
and for SphereFace the common feature norm ``|x|`` cancels, so on cosines it reads

    f(cos theta_y) > cos theta_j   for every j != y,

with f the target cosine of the loss (SphereFace: psi, the limit its annealing converges to).
Which loss takes which argument, its range and its label are read from the loss classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from . import losses
from .tensors import to_numpy, unit


def explorer_losses() -> tuple[str, ...]:
    """The losses the explorer and the figures can show: every head whose logits are s f(cos theta)."""
    return tuple(name for name, cls in losses.LOSSES.items() if cls.angular)


def loss_class(name: str) -> type[losses.MarginHead]:
    """The head class of an explorer loss, or a ValueError naming the choices."""
    cls = losses.LOSSES.get(name)
    if cls is None or not cls.angular:
        why = f" (the {cls.label} head puts no margin on a cosine; use normface)" if cls is not None else ""
        choices = ", ".join(explorer_losses())
        raise ValueError(f"unknown loss {name!r} for the explorer{why}: choose one of {choices}")
    return cls


@dataclass(frozen=True)
class Margin:
    """One position of the controls: a loss, its margin ``m`` (the class's ``margin_arg``:
    CosFace's/ArcFace's m, SphereFace's integer m, the combined margin's m2), the scale ``s``
    and the other formula arguments the loss may take (``m1``, ``m3``, ``easy_margin``)."""

    loss: str = "arcface"
    m: float = 0.2
    s: float = 10.0
    m1: float = 1.0
    m3: float = 0.2
    easy_margin: bool = False

    def __post_init__(self):
        cls = loss_class(self.loss)
        for name in ("m", "s", "m1", "m3"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float, np.number)) and math.isfinite(value)):
                raise ValueError(f"explorer {name} must be a finite number, got {value!r}")
        if self.s <= 0:
            raise ValueError(f"explorer s must be > 0, got {self.s} (try s = 10 in 2-D)")
        if cls.margin_arg is not None:  # the class's range, not a silent clamp
            cls.check_margin(round(self.m) if cls.integer_margin else self.m)

    @property
    def head_class(self) -> type[losses.MarginHead]:
        return loss_class(self.loss)

    @property
    def shape(self) -> Margin:
        """The margin without its scale: what decides violations, arcs and caps."""
        return replace(self, s=1.0)

    def formula_arguments(self) -> dict:
        """The keyword arguments of the head's ``formula`` at this position."""
        cls = self.head_class
        given = {"m1": self.m1, "m3": self.m3, "easy_margin": self.easy_margin}
        if cls.margin_arg is not None:
            given[cls.margin_arg] = round(self.m) if cls.integer_margin else self.m
        return {name: given[name] if name in given else cls.defaults()[name] for name in cls.formula_args}

    def head_arguments(self, *, s: float | None = None) -> dict:
        """The head's keyword arguments (``s`` overrides the scale)."""
        scale = {"s": self.s if s is None else s} if self.head_class.takes_scale else {}
        return {**scale, **self.formula_arguments()}

    @classmethod
    def of_head(cls, head, **overrides) -> Margin:
        """The margin of a training head, read from its ``name``, margin argument, ``s`` (and m1, m3, ...)."""
        head_class = loss_class(head.name)
        found = {"loss": head.name, "s": float(head.s) if head_class.takes_scale else 10.0}
        if head_class.margin_arg is not None:
            found["m"] = float(getattr(head, head_class.margin_arg))
        else:
            found["m"] = 0.0
        found.update({key: getattr(head, key) for key in ("m1", "m3", "easy_margin") if hasattr(head, key)})
        return cls(**{**found, **overrides})


def as_margin(margin_or_head) -> Margin:
    """A :class:`Margin` as it is, or the margin of a training head."""
    return margin_or_head if isinstance(margin_or_head, Margin) else Margin.of_head(margin_or_head)


def target_cosine(margin, cos) -> np.ndarray:
    """f(cos theta) of ``margin`` (a :class:`Margin` or a head) on any array of cosines.

    f is the head class's own :meth:`~minifacenet.losses.MarginHead.formula`, the function its
    training hook calls: one formula per loss, and no head is built.
    """
    margin = as_margin(margin)
    cos = torch.from_numpy(np.asarray(cos, dtype=np.float64))
    with torch.no_grad():
        return margin.head_class.formula(cos, **margin.formula_arguments()).numpy()


def class_labels(labels) -> np.ndarray:
    """Labels as int64 class numbers; fractional or NaN labels are a ValueError (2.9 is not class 2)."""
    raw = to_numpy(labels)
    if raw.dtype.kind not in "iub" and not np.array_equal(raw, np.round(raw)):
        bad = raw[raw != np.round(raw)][:3]
        raise ValueError(f"labels must be whole class numbers, got {bad}: pass the class ids")
    return raw.astype(np.int64)


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
    zero = ~(weight != 0).any(axis=1)
    if zero.any():
        raise ValueError(
            f"{int(zero.sum())} of {len(weight)} class weights are all zeros (first at row "
            f"{int(zero.argmax())}): a zero weight has no direction, so no cosine; pass the head's weight"
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
            class_labels(labels),
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
    cls, arguments = margin.head_class, margin.formula_arguments()
    numbers = {k: v for k, v in arguments.items() if not isinstance(v, bool)}
    if cls.margin_arg is None:
        setting = f"s={margin.s:g}"
    elif len(numbers) > 1:
        shown = (f"{k}={v:.2f}" if k == cls.margin_arg else f"{k}={v:g}" for k, v in numbers.items())
        setting = "(" + ", ".join(shown) + ")"
    else:
        value = arguments[cls.margin_arg]
        setting = f"m={value}" if cls.integer_margin else f"m={value:.2f}"
    return f"{cls.label} {setting}"


# cosines at which has_margin compares f(cos) with cos
_PROBE = np.cos(np.linspace(0.05, math.pi - 0.05, 64))


def has_margin(margin) -> bool:
    """Whether the margin changes the target logit at all (normalised softmax, m = 0,
    SphereFace m = 1 and combined (1, 0, 0) do not): f compared with the identity."""
    return not np.allclose(target_cosine(margin, _PROBE), _PROBE, rtol=0, atol=1e-6)


def describe(margin, count: int, total: int) -> str:
    """One line: the loss with its margin, and how many samples violate it (without a
    margin, the samples that violate it are the misclassified ones, and it says so)."""
    if not has_margin(margin):
        return f"{margin_name(margin)}, no margin: {count} of {total} samples misclassified"
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
# The angle grid of the target-logit curves: theta in [0, pi], [361].
CURVE_THETA = np.linspace(0.0, math.pi, 361)
# Curves of the target-logit panel beside each loss's own: name -> (the loss it varies, the
# formula arguments it replaces, or a function of (theta, m) for a curve no head trains with).
CURVE_VARIANTS = {
    "arcface-naive": ("arcface", lambda theta, m: np.cos(theta + m)),
    "arcface-easy": ("arcface", {"easy_margin": True}),
}
CURVE_LABELS = {"arcface-naive": "ArcFace, naive cos(θ+m)", "arcface-easy": "ArcFace, easy_margin"}


def curve_names() -> tuple[str, ...]:
    """The curves of the target-logit panel: every explorer loss, each followed by its variants."""
    names = []
    for loss in explorer_losses():
        names += [loss, *(name for name, (base, _) in CURVE_VARIANTS.items() if base == loss)]
    return tuple(names)


def curve_label(name: str) -> str:
    """The legend label of a curve: the loss class's label, or the variant's."""
    return CURVE_LABELS.get(name) or losses.LOSSES[name].label


def curve_margins(margin) -> tuple[float, int]:
    """(real m, integer m) of the target-logit panel: the slider's m for the losses of its kind,
    the other kind's default (ArcFace's 0.2, SphereFace's 4) for the rest."""
    margin = as_margin(margin)
    if margin.head_class.integer_margin:
        return 0.2, int(round(margin.m))
    return margin.m, 4


def curve_margin(cls, *, m: float, integer_m: int) -> float:
    """The margin a curve of ``cls`` is drawn at: ``m`` (or ``integer_m``) clipped into its range."""
    low, high = cls.margin_range
    if cls.integer_margin:
        return int(min(max(integer_m, low), high - 1))
    return float(min(max(m, low), np.nextafter(high, low)))


def target_curves(*, m: float, sphereface_m: int = 4, m1: float = 1.0, m3: float = 0.2,
                  theta=CURVE_THETA, names=None) -> dict:  # fmt: skip
    """Target logit / s against theta ``[P]`` for each named curve: ``{name: [P]}``.

    ``names``: explorer losses and :data:`CURVE_VARIANTS` (default :func:`curve_names`).
    Losses with an integer margin are drawn at ``sphereface_m``, the others at ``m``, each
    clipped into its class's range. ``arcface-naive`` is the unfixed cos(theta + m), shown
    to explain why heads need the fix.
    """
    theta = np.asarray(theta, dtype=np.float64)
    cos = torch.from_numpy(np.cos(theta))
    curves = {}
    for name in names or curve_names():
        loss, replaced = CURVE_VARIANTS.get(name, (name, {}))
        if callable(replaced):
            curves[name] = replaced(theta, m)
            continue
        cls = loss_class(loss)
        margin = curve_margin(cls, m=m, integer_m=sphereface_m) if cls.margin_arg else 0.0
        arguments = {**Margin(loss=loss, m=margin, s=1.0, m1=m1, m3=m3).formula_arguments(), **replaced}
        with torch.no_grad():
            curves[name] = cls.formula(cos, **arguments).numpy()
    return curves


def probability_around_circle(weight, margin, phi, *, target_class: int = 0) -> np.ndarray:
    """Softmax probability of ``target_class`` for a unit 2-D feature at each angle in ``phi``.

    Training logits: s cos theta_j for j != y, s f(cos theta_y) for the target (SphereFace:
    s = |x| = 1). So s sharpens the curve. Neither ``weight`` nor any head is changed.
    """
    margin = as_margin(margin)
    scale = margin.s if margin.head_class.takes_scale else 1.0  # SphereFace: |x| = 1
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
    no_margin = replace(margin, m=margin.head_class.neutral_margin, m3=0.0)
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



# --------------------------------------------------------------------------- example data
def class_directions(embeddings, labels, num_classes: int) -> np.ndarray:
    """Unit mean direction of each class's embeddings ``[C, D]``: class 'weights' for losses
    that have none (contrastive, triplet)."""
    embeddings, labels = unit(embeddings, dtype=np.float64), class_labels(labels)
    sums = np.zeros((num_classes, embeddings.shape[1]))
    np.add.at(sums, labels, embeddings)
    return unit(sums)


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
