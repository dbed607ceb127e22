"""The loss family: classification heads with angular margins, and pair/triplet losses.

Every loss is a :class:`Loss`: ``loss(embeddings, labels)`` is a scalar for a batch of
embeddings ``[N, D]`` and integer labels ``[N]``; ``loss.name`` is its name for
:func:`build_loss` and ``loss.config()`` its constructor arguments, so
``build_loss(loss.name, **loss.config())`` builds it again. A loss whose ``classifies`` is
true is a head: it also has ``logits(embeddings)``, the test-time class scores.

Every margin head computes the cosines between embeddings and class weights, changes
**only the target-class cosine** (one hook, :meth:`MarginHead.target_cosine`, exactly the
paper's formula), then scales the logits (a second hook, :meth:`MarginHead.scale_logits`):

==============  ===================================  ================
head            target logit                          scale
==============  ===================================  ================
``NormFace``    ``s * cos(theta)``                    ``s``
``SphereFace``  ``|x| * psi(theta)``, integer ``m``    ``|x|``
``CosFace``     ``s * (cos(theta) - m)``              ``s``
``ArcFace``     ``s * cos(theta + m)``                ``s``
``Combined``    ``s * (cos(m1 theta + m2) - m3)``     ``s``
==============  ===================================  ================

The training schedule lives in the base class alone: the target cosine used in training is
``cos + w * (target_cosine(cos) - cos)``, with the blend weight ``w = margin_weight`` in
[0, 1] set by :meth:`Loss.schedule` from the fraction of training done (``fit`` calls it).
"""

from __future__ import annotations

import math
import numbers
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

# Cosines are clamped this far inside [-1, 1] wherever a square root or arccos follows.
EPS = 1e-7
# SphereFace's psi costs m - 1 polynomial steps; the lessons use m = 1..4, the explorer up to 6
SPHEREFACE_MAX_M = 6
# CosFace (and the combined m3): cos(theta) - m <= 1 - m, so for m >= 2 the target logit lies
# below every other class's cosine (>= -1) whatever the angle: no sample could ever be right
ADDITIVE_MAX_M = 2.0
# CosFace and ArcFace also take a negative margin (Liu et al., "Negative Margin Matters", ECCV
# 2020): the target class is favoured instead of handicapped. Down to -0.5 (cosine units for
# CosFace, radians for ArcFace): the papers' sweeps stop well above it, and below it a sample
# 30 degrees from its class already scores as if it sat on the class weight.
NEGATIVE_MIN_M = -0.5


# --------------------------------------------------------------------------- checks
def all_finite(values: torch.Tensor) -> bool:
    """True when every entry is finite; fast path of :func:`all_finite_reference`.

    A finite sum proves every entry finite (one cheap reduction); only an infinite or NaN
    sum (a bad entry, or an overflow of huge finite values) needs the element-wise test.
    """
    return bool(torch.isfinite(values.sum())) or all_finite_reference(values)


def all_finite_reference(values: torch.Tensor) -> bool:
    """The plain definition: every entry is neither NaN nor infinite."""
    return bool(torch.isfinite(values).all())


def check_embeddings(embeddings: torch.Tensor, *, embedding_dim: int | None = None) -> None:
    """Embeddings must be a non-empty float tensor ``[N, D]`` (D = ``embedding_dim`` if given), all finite."""
    if not isinstance(embeddings, torch.Tensor) or not embeddings.dtype.is_floating_point:
        what = embeddings.dtype if isinstance(embeddings, torch.Tensor) else type(embeddings).__name__
        raise ValueError(f"embeddings must be a floating-point tensor, got {what}: convert with .float()")
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be [N, D], got shape {list(embeddings.shape)}: reshape to [N, D]")
    if len(embeddings) == 0:
        raise ValueError("empty batch: the loss of zero embeddings is undefined; pass at least one sample")
    if embedding_dim is not None and embeddings.shape[1] != embedding_dim:
        raise ValueError(
            f"embeddings have dimension {embeddings.shape[1]} but the head expects {embedding_dim}: "
            f"build the head with embedding_dim={embeddings.shape[1]} or change the network's output"
        )
    if not all_finite(embeddings.detach()):  # no autograd node for a check
        raise ValueError(
            "embeddings contain NaN or inf: the network diverged or its input is broken. "
            "Lower the learning rate, check the input images, or warm up the margin."
        )


def check_labels(labels: torch.Tensor, num_classes: int | None = None, *, count: int | None = None) -> None:
    """Labels must be an integer tensor ``[N]`` (N = ``count`` if given) in ``[0, num_classes)``."""
    if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        what = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be an integer tensor, got {what}: convert with .long()")
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D [N], got shape {list(labels.shape)}: pass labels.view(-1)")
    if count is not None and len(labels) != count:
        raise ValueError(f"got {len(labels)} labels for {count} embeddings: pass one label per embedding")
    if num_classes is None or not labels.numel():
        return
    # smallest and largest label in one pass, read back once
    low, high = (int(value) for value in torch.aminmax(labels))
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes}) for num_classes={num_classes}; got values "
            f"from {low} to {high}. Remap them or raise num_classes."
        )


def _is_number(value) -> bool:
    """A real number (Python or NumPy, not a bool) that is finite."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_scale(scale: float) -> float:
    if not (_is_number(scale) and scale > 0):
        raise ValueError(f"scale s must be a finite number > 0, got {scale!r} (try s = 10 in 2-D)")
    return float(scale)


def _check_margin(margin: float, name: str = "m", upper: float = math.inf, *, lower: float = 0.0) -> float:
    what = "margin" if name == "margin" else f"margin {name}"
    if not _is_number(margin):
        raise ValueError(f"{what} must be a finite number, got {margin!r}")
    if margin < lower:
        raise ValueError(f"{what} must be >= {lower:g}, got {margin}")
    if margin >= upper:
        raise ValueError(f"{what} must be < {upper:.4g}, got {margin}")
    return float(margin)


def check_fraction(value: float, name: str, *, below_one: bool = False) -> float:
    """A fraction of training: a number in [0, 1] (``below_one``: in [0, 1))."""
    upper_ok = _is_number(value) and (value < 1 if below_one else value <= 1)
    if not (upper_ok and value >= 0):
        interval = "[0, 1)" if below_one else "[0, 1]"
        raise ValueError(
            f"{name} must be a fraction of training in {interval} (0.5 = the first half), got {value!r}"
        )
    return float(value)


# --------------------------------------------------------------------------- the interface
class Loss(nn.Module):
    """What every loss offers: ``forward(embeddings, labels)``, a ``name``, ``config()``, ``schedule``.

    ``classifies`` tells a head (class weights, ``logits(embeddings)`` for prediction) from a
    pair or triplet loss (no classes; ``fit`` feeds it P x K batches).
    """

    name: ClassVar[str] = ""
    classifies: ClassVar[bool] = False

    def config(self) -> dict:
        """Constructor arguments: ``build_loss(self.name, **self.config())`` rebuilds the loss."""
        raise NotImplementedError

    def schedule(self, fraction: float, *, warmup: float | None = None) -> float:
        """Set the loss for the point ``fraction`` of training; return its margin weight (here 1)."""
        return 1.0

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.config().items())


# --------------------------------------------------------------------------- heads
def spread_directions(num_classes: int, embedding_dim: int, *, steps: int = 200) -> torch.Tensor:
    """Unit class directions ``[num_classes, embedding_dim]`` spread over the sphere.

    Random directions clump in 2-D and 3-D: with 10 classes on a circle, some start a few
    degrees apart, their classes then share one angular sector and a normalised head can
    take many epochs to pull them apart (docs/results.md has the measurements). So: in
    2-D, class k sits at angle
    2 pi k / C; in more dimensions, random directions (the global torch seed) are pushed
    apart by ``steps`` projected gradient steps on a soft maximum of the pairwise cosines
    (a Thomson-like problem). In high dimensions random directions are already nearly
    orthogonal; above 256 classes the random start is kept (the C x C cosines get costly).
    """
    if embedding_dim == 2:
        # evenly spaced angles, in label order around the circle
        angle = torch.arange(num_classes) * (2 * math.pi / num_classes)  # [C]
        return torch.stack([angle.cos(), angle.sin()], dim=1)
    weight = F.normalize(torch.randn(num_classes, embedding_dim), dim=1)  # [C, D]
    if embedding_dim < 2 or num_classes > 256:
        return weight
    mask = torch.eye(num_classes, dtype=torch.bool)
    for step in range(steps):
        # a smooth stand-in for the largest cosine between two classes: logsumexp(t cos) / t;
        # its gradient is (P + P^T) W with P = softmax of t cos over all pairs
        cos = (weight @ weight.T).masked_fill(mask, -math.inf)  # [C, C]
        share = torch.softmax(20.0 * cos.flatten(), dim=0).view_as(cos)  # [C, C]
        grad = (share + share.T) @ weight  # [C, D]
        # move the most-pushed direction by 0.2 rad, shrinking to 0; back onto the sphere
        step_size = 0.2 * (1 - step / steps) / grad.norm(dim=1).max().clamp_min(1e-12)
        weight = F.normalize(weight - step_size * grad, dim=1)
    return weight


class MarginHead(Loss):
    """Base class: logits ``scale * cos(theta_j)``, the target cosine changed by a hook.

    ``weight`` is ``[num_classes, embedding_dim]``. ``forward(embeddings, labels)`` is the
    mean cross-entropy over the training logits; ``logits(embeddings)`` without labels are
    the test-time logits (no margin). In training the target cosine is the blend

        cos + w * (target_cosine(cos) - cos),   w = margin_weight in [0, 1]

    (w = 0: no margin, w = 1: the paper's formula), and :meth:`schedule` sets w from the
    fraction of training done: a linear warm-up, ``w = min(1, fraction / warmup)``.
    """

    classifies = True
    default_warmup: ClassVar[float] = 0.0  # the warm-up fraction when fit is given none

    def __init__(self, embedding_dim: int, num_classes: int, *, s: float = 1.0):
        super().__init__()
        if not (_is_int(embedding_dim) and _is_int(num_classes) and embedding_dim >= 1 and num_classes >= 2):
            raise ValueError(
                "need integers embedding_dim >= 1 and num_classes >= 2, "
                f"got {embedding_dim!r}, {num_classes!r}"
            )
        self.embedding_dim, self.num_classes = int(embedding_dim), int(num_classes)
        self.s = _check_scale(s)
        self.margin_weight = 1.0
        self.weight = nn.Parameter(self.initial_weight(self.num_classes, self.embedding_dim))

    # -- the hooks a subclass overrides -------------------------------------------------
    def initial_weight(self, num_classes: int, embedding_dim: int) -> torch.Tensor:
        """Class weights at the start of training: unit directions spread over the sphere."""
        return spread_directions(num_classes, embedding_dim)

    def target_cosine(self, cos: torch.Tensor) -> torch.Tensor:
        """Target-class cosines (``[N]`` or ``[N, 1]``, element-wise) -> with the margin (here: none)."""
        return cos

    def scale_logits(self, cos: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """Cosines ``[N, C]`` -> logits ``[N, C]``: multiply by the fixed scale s."""
        return self.s * cos

    def warmup_weight(self, fraction: float, warmup: float) -> float:
        """The margin weight w at ``fraction`` of training: a linear ramp over ``warmup``."""
        return 1.0 if warmup == 0 else min(1.0, fraction / warmup)

    # -- shared machinery ----------------------------------------------------------------
    def config(self) -> dict:
        return {"embedding_dim": self.embedding_dim, "num_classes": self.num_classes, "s": self.s}

    def schedule(self, fraction: float, *, warmup: float | None = None) -> float:
        """Set ``margin_weight`` for ``fraction`` of training done (``warmup``: None = the head's default)."""
        fraction = check_fraction(fraction, "fraction")
        warmup = self.default_warmup if warmup is None else check_fraction(warmup, "warmup", below_one=True)
        self.margin_weight = self.warmup_weight(fraction, warmup)
        return self.margin_weight

    def cosines(self, embeddings: torch.Tensor) -> torch.Tensor:
        """cos(theta_j) between each embedding and each class weight: ``[N, C]``."""
        # [N, D] @ [D, C] on unit vectors, clamped so later acos/sqrt stay finite
        cos = F.linear(F.normalize(embeddings, dim=1), F.normalize(self.weight, dim=1))
        return cos.clamp(-1.0, 1.0)

    def check_inputs(self, embeddings: torch.Tensor, labels: torch.Tensor | None) -> None:
        """Embeddings ``[N, embedding_dim]``, finite; labels (if given) ``[N]`` in ``[0, num_classes)``."""
        check_embeddings(embeddings, embedding_dim=self.embedding_dim)
        if labels is not None:
            check_labels(labels, self.num_classes, count=len(embeddings))

    def training_target(self, cos: torch.Tensor) -> torch.Tensor:
        """The target cosine in training: ``cos + w * (target_cosine(cos) - cos)``, w = margin_weight."""
        # lerp(a, b, w) = a + w (b - a), evaluated so that w = 0 gives a and w = 1 gives b exactly
        return torch.lerp(cos, self.target_cosine(cos).to(cos.dtype), self.margin_weight)

    def logits(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Training logits (margin at the target) with labels; test-time logits without."""
        self.check_inputs(embeddings, labels)
        cos = self.cosines(embeddings)  # [N, C]
        if labels is not None:
            index = labels.view(-1, 1)  # [N, 1]
            # the hook is element-wise, so it takes the [N, 1] column cos(theta_y) as it is
            target = self.training_target(cos.gather(1, index))  # [N, 1]
            cos = cos.scatter(1, index, target.to(cos.dtype))
        return self.scale_logits(cos, embeddings)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.logits(embeddings, labels), labels)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class Softmax(MarginHead):
    """The baseline: a plain linear layer ``W x + b`` and cross-entropy. No margin, no norm."""

    name = "softmax"

    def __init__(self, embedding_dim: int, num_classes: int):
        super().__init__(embedding_dim, num_classes)
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def initial_weight(self, num_classes: int, embedding_dim: int) -> torch.Tensor:
        """A linear layer's usual start (Xavier uniform): W is not normalised here."""
        return nn.init.xavier_uniform_(torch.empty(num_classes, embedding_dim))

    def config(self) -> dict:
        return {"embedding_dim": self.embedding_dim, "num_classes": self.num_classes}

    def logits(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.check_inputs(embeddings, labels)
        # [N, D] -> [N, C]; the same with or without labels (softmax has no margin)
        return F.linear(embeddings, self.weight, self.bias)


class NormFace(MarginHead):
    """Normalised softmax (NormFace): logits ``s * cos(theta_j)``, W and x on the sphere."""

    name = "normface"

    def __init__(self, embedding_dim: int, num_classes: int, *, s: float = 10.0):
        super().__init__(embedding_dim, num_classes, s=s)


class CosFace(MarginHead):
    """CosFace / LMCL: target logit ``s * (cos(theta_y) - m)``, ``-0.5 <= m < 2`` (m < 0: negative margin)."""

    name = "cosface"

    def __init__(self, embedding_dim: int, num_classes: int, *, s: float = 10.0, m: float = 0.1):
        super().__init__(embedding_dim, num_classes, s=s)
        self.m = _check_margin(m, upper=ADDITIVE_MAX_M, lower=NEGATIVE_MIN_M)

    def config(self) -> dict:
        return {**super().config(), "m": self.m}

    def target_cosine(self, cos: torch.Tensor) -> torch.Tensor:
        # subtract the margin from the target cosine: the boundary becomes cos1 - cos2 = m
        return cos - self.m


class ArcFace(MarginHead):
    """ArcFace: target logit ``s * cos(theta_y + m)``, ``-0.5 <= m < pi`` (m < 0: a negative margin).

    cos(theta + m) stops decreasing once theta + m > pi (it turns back up), which would
    *reward* the worst samples. Past that point (cos theta < cos(pi - m)) the default
    uses the CosFace-like ``cos(theta) - m sin(m)``, which keeps falling. With
    ``easy_margin=True`` the margin applies only where cos theta > 0 (insightface's option).
    """

    name = "arcface"

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        *,
        s: float = 10.0,
        m: float = 0.2,
        easy_margin: bool = False,
    ):
        super().__init__(embedding_dim, num_classes, s=s)
        self.m = _check_margin(m, upper=math.pi, lower=NEGATIVE_MIN_M)
        self.easy_margin = bool(easy_margin)

    def config(self) -> dict:
        return {**super().config(), "m": self.m, "easy_margin": self.easy_margin}

    def target_cosine(self, cos: torch.Tensor) -> torch.Tensor:
        return arcface_target(cos, self.m, easy_margin=self.easy_margin)


def arcface_target(cos: torch.Tensor, m: float, *, easy_margin: bool = False) -> torch.Tensor:
    """cos(theta + m) with the fix for theta + m > pi (or ``easy_margin``), NaN-free.

    A negative m never reaches pi; instead theta + m < 0 for theta < |m|, where cos(theta + m)
    would fall again towards theta = 0: there the target angle is held at 0 (cosine 1).
    """
    # sin(theta) >= 0 on [0, pi]; the clamp keeps sqrt's gradient finite at theta = 0, pi
    sin = torch.sqrt((1.0 - cos * cos).clamp_min(EPS))
    # cos(theta + m) = cos theta cos m - sin theta sin m
    shifted = cos * math.cos(m) - sin * math.sin(m)
    if m < 0:
        # theta < |m|  <=>  cos theta > cos m: the target angle theta + m is clamped at 0
        return torch.where(cos > math.cos(m), torch.ones_like(cos), shifted)
    if easy_margin:
        return torch.where(cos > 0, shifted, cos)
    # past theta = pi - m: keep decreasing with cos theta - m sin m
    return torch.where(cos > math.cos(math.pi - m), shifted, cos - m * math.sin(m))


class CombinedMargin(MarginHead):
    """insightface's combined margin: target logit ``s * (cos(m1 theta + m2) - m3)``.

    (m1, m2, m3) = (1, 0, 0) is NormFace, (1, m, 0) ArcFace, (1, 0, m) CosFace and
    (m, 0, 0) a SphereFace-like multiplicative margin. Past m1 theta + m2 = pi the cosine
    would turn back up; the target continues linearly, ``-1 - (m1 theta + m2 - pi)``.
    """

    name = "combined"

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        *,
        s: float = 10.0,
        m1: float = 1.0,
        m2: float = 0.2,
        m3: float = 0.0,
    ):
        super().__init__(embedding_dim, num_classes, s=s)
        if not (_is_number(m1) and m1 >= 1.0):
            raise ValueError(f"m1 must be a finite number >= 1 (1 = no multiplicative margin), got {m1!r}")
        self.m1 = float(m1)
        self.m2 = _check_margin(m2, "m2", math.pi)
        self.m3 = _check_margin(m3, "m3", ADDITIVE_MAX_M)

    def config(self) -> dict:
        return {**super().config(), "m1": self.m1, "m2": self.m2, "m3": self.m3}

    def target_cosine(self, cos: torch.Tensor) -> torch.Tensor:
        # theta from a clamped arccos: the gradient of acos is infinite at +-1
        theta = torch.acos(cos.clamp(-1.0 + EPS, 1.0 - EPS))
        angle = self.m1 * theta + self.m2
        # past pi the cosine would turn back up: keep it monotone by reflecting to -1 - ...
        target = torch.where(angle <= math.pi, torch.cos(angle), -1.0 - (angle - math.pi))
        return target - self.m3


class SphereFace(MarginHead):
    """SphereFace / A-Softmax: W normalised, x not; target logit ``|x| * psi(theta)``.

    psi(theta) = (-1)^k cos(m theta) - 2k for theta in [k pi/m, (k+1) pi/m], integer m in
    1..6. The official annealing, target ``(lamb cos theta + psi(theta)) / (1 + lamb)``, is
    the base class's blend with ``w = 1 / (1 + lamb)``; ``lamb`` falls with the fraction f
    of training as ``max(lamb_min, base * (1 + gamma f / warmup) ** -power)``, the official
    law (1000, 1, 5) with iterations counted in warm-ups: ``gamma = (base / lamb_min) **
    (1 / power) - 1``, so that lamb reaches ``lamb_min`` at ``f = warmup`` (default 0.5)
    and stays there. ``warmup = 0`` means no annealing (lamb = 0, pure A-Softmax).
    """

    name = "sphereface"
    default_warmup = 0.5

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        *,
        m: int = 4,
        lamb_base: float = 1000.0,
        lamb_power: float = 1.0,
        lamb_min: float = 5.0,
    ):
        super().__init__(embedding_dim, num_classes, s=1.0)
        whole = _is_int(m) or (_is_number(m) and float(m).is_integer())
        if not (whole and 1 <= m <= SPHEREFACE_MAX_M):
            raise ValueError(
                f"SphereFace m must be an integer in 1..{SPHEREFACE_MAX_M} (paper: 4), got {m!r}"
            )
        self.m = int(m)
        self.lamb_base, self.lamb_min = (
            _check_lambda(lamb_base, "lamb_base"),
            _check_lambda(lamb_min, "lamb_min"),
        )
        if not (_is_number(lamb_power) and lamb_power > 0):
            raise ValueError(f"lamb_power must be a finite number > 0 (official: 1), got {lamb_power!r}")
        self.lamb_power = float(lamb_power)
        if self.lamb_min == 0 < self.lamb_base:
            raise ValueError(
                "lamb_min must be > 0 (lamb falls to it); for pure A-Softmax train with warmup 0"
            )

    def config(self) -> dict:
        return {
            "embedding_dim": self.embedding_dim,
            "num_classes": self.num_classes,
            "m": self.m,
            "lamb_base": self.lamb_base,
            "lamb_power": self.lamb_power,
            "lamb_min": self.lamb_min,
        }

    @property
    def lamb(self) -> float:
        """The paper's lambda, ``1 / w - 1`` (0 at the full margin, inf at none)."""
        return math.inf if self.margin_weight == 0 else 1.0 / self.margin_weight - 1.0

    @lamb.setter
    def lamb(self, value: float) -> None:
        self.margin_weight = 1.0 / (1.0 + _check_lambda(value, "lamb", allow_inf=True))

    def lamb_at(self, fraction: float, *, warmup: float) -> float:
        """lambda at ``fraction`` of training: the official law, reaching ``lamb_min`` at ``warmup``."""
        if warmup == 0:
            return 0.0
        if self.lamb_base <= self.lamb_min:
            return self.lamb_min
        gamma = (self.lamb_base / self.lamb_min) ** (1.0 / self.lamb_power) - 1.0
        decayed = self.lamb_base * (1.0 + gamma * fraction / warmup) ** (-self.lamb_power)
        return max(self.lamb_min, decayed)

    def warmup_weight(self, fraction: float, warmup: float) -> float:
        return 1.0 / (1.0 + self.lamb_at(fraction, warmup=warmup))

    def target_cosine(self, cos: torch.Tensor) -> torch.Tensor:
        return sphereface_psi(cos, self.m)

    def scale_logits(self, cos: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        # the scale is the feature norm |x|: [N, 1] * [N, C]
        return embeddings.norm(dim=1, keepdim=True) * cos


def _check_lambda(value: float, name: str, *, allow_inf: bool = False) -> float:
    number = isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
    if not (number and value >= 0 and (allow_inf or math.isfinite(value))):
        raise ValueError(f"SphereFace {name} must be a finite number >= 0, got {value!r}")
    return float(value)


def sphereface_psi(cos: torch.Tensor, m: int) -> torch.Tensor:
    """psi(theta) = (-1)^k cos(m theta) - 2k, computed from cos(theta) without arccos.

    cos(m theta) is the Chebyshev polynomial T_m(cos theta) (smooth gradients everywhere);
    k = floor(m theta / pi) is piecewise constant, so it is computed without a gradient.
    """
    # T_0 = 1, T_1 = c, T_{n+1} = 2 c T_n - T_{n-1}
    prev, cos_m = torch.ones_like(cos), cos
    for _ in range(m - 1):
        prev, cos_m = cos_m, 2 * cos * cos_m - prev
    with torch.no_grad():
        theta = torch.acos(cos.clamp(-1.0, 1.0))
        k = torch.floor(m * theta / math.pi).clamp(max=m - 1)  # k in {0, ..., m-1}
        sign = 1.0 - 2.0 * torch.remainder(k, 2)  # (-1)^k
    return sign * cos_m - 2.0 * k


HEADS: dict[str, type[MarginHead]] = {
    cls.name: cls for cls in (Softmax, NormFace, SphereFace, CosFace, ArcFace, CombinedMargin)
}


def target_logit_curve(
    loss: str, theta: torch.Tensor, *, feature_norm: float = 1.0, **params
) -> torch.Tensor:
    """The target logit as a function of theta (radians) for a named loss and its parameters.

    ``params`` are the head's keyword arguments (``s``, ``m``, ``m1``..``m3``,
    ``easy_margin``, ``lamb_*``). For SphereFace the scale is ``feature_norm`` and
    ``lamb`` defaults to 0 (pure A-Softmax). Softmax has no angular target; its curve is
    taken as NormFace with s = feature_norm.
    """
    theta = torch.as_tensor(theta, dtype=torch.float64)
    cos = torch.cos(theta)
    if loss == "softmax":
        return feature_norm * cos
    lamb = params.pop("lamb", 0.0)
    head = HEADS[loss](2, 2, **params)
    if isinstance(head, SphereFace):
        head.lamb = lamb
    with torch.no_grad():
        target = head.training_target(cos)
    return feature_norm * target if isinstance(head, SphereFace) else head.s * target


# --------------------------------------------------------------------------- metric losses
def contrastive_pairs(embeddings: torch.Tensor, labels: torch.Tensor):
    """Balanced pairs ``(x1, x2, same)`` from a P x K batch: each sample with a positive and a negative.

    The batch is P blocks of K same-class samples; rolling by one inside a block gives a
    positive partner, rolling by one whole block gives a negative partner. ``same`` is
    computed from the labels, so a batch in another order still gets true pair labels.
    """
    n = len(labels)
    k = int((labels == labels[0]).cumprod(0).sum())  # block size K
    index = torch.arange(n, device=labels.device)
    positive = (index // k) * k + (index + 1) % k  # next sample in the same block
    negative = (index + k) % n  # same slot in the next block
    x1 = torch.cat([embeddings, embeddings])  # [2N, D]
    x2 = torch.cat([embeddings[positive], embeddings[negative]])  # [2N, D]
    same = torch.cat([labels == labels[positive], labels == labels[negative]])  # [2N]
    return x1, x2, same


class ContrastiveLoss(Loss):
    """Contrastive loss (Hadsell et al. 2006), y = 1 for a same-identity pair:

    L = mean( y d^2 + (1 - y) max(0, margin - d)^2 ),   d = |x1 - x2|_2

    ``forward(embeddings, labels)`` forms its pairs from a P x K batch
    (:func:`contrastive_pairs`); :meth:`pair_loss` takes explicit pairs.
    """

    name = "contrastive"

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = _check_margin(margin, "margin")
        if self.margin == 0:
            raise ValueError("contrastive margin must be > 0, got 0 (try 1.0)")

    def config(self) -> dict:
        return {"margin": self.margin}

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        check_embeddings(embeddings)
        check_labels(labels, count=len(embeddings))
        return self.pair_loss(*contrastive_pairs(embeddings, labels))

    def pair_loss(self, x1: torch.Tensor, x2: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        """The loss of explicit pairs: ``x1``, ``x2`` ``[N, D]``, ``same`` ``[N]`` in {0, 1}."""
        check_embeddings(x1)
        check_embeddings(x2, embedding_dim=x1.shape[1])
        check_same(same, count=len(x1))
        same = same.to(x1.dtype)  # [N] in {0, 1}
        # squared distance [N]; no sqrt needed for the positive term
        dist_sq = (x1 - x2).pow(2).sum(dim=1)
        # d with a floor, so the gradient of sqrt stays finite for identical points
        dist = dist_sq.clamp_min(1e-12).sqrt()
        negative = F.relu(self.margin - dist).pow(2)
        return (same * dist_sq + (1 - same) * negative).mean()


def check_same(same: torch.Tensor, *, count: int) -> None:
    """Pair labels: ``[count]``, bool or only the values 0 and 1."""
    if not isinstance(same, torch.Tensor) or same.shape != (count,):
        shape = list(same.shape) if isinstance(same, torch.Tensor) else type(same).__name__
        raise ValueError(f"pair labels must be a tensor [{count}] (one per pair), got {shape}")
    if same.dtype != torch.bool and not ((same == 0) | (same == 1)).all():
        raise ValueError("pair labels must be 0 (different) or 1 (same), got other values")


def pairwise_distances(embeddings: torch.Tensor, *, squared: bool = True) -> torch.Tensor:
    """Euclidean distances between all rows: ``[N, D] -> [N, N]`` (squared by default)."""
    # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, clamped at 0 against round-off
    sq = embeddings.pow(2).sum(dim=1)
    dist = (sq[:, None] + sq[None, :] - 2 * embeddings @ embeddings.T).clamp_min(0)
    return dist if squared else dist.clamp_min(1e-12).sqrt()


class TripletLoss(Loss):
    """FaceNet's triplet loss over a batch: mean over mined triplets of

    [ d(a, p) - d(a, n) + margin ]_+ ,   d = squared L2 on L2-normalised embeddings.

    Mining (all vectorised over the batch):

    - ``"semi-hard"``: every (a, p, n) with d(a, p) < d(a, n) < d(a, p) + margin;
    - ``"batch-hard"``: per anchor, its farthest positive and nearest negative (Hermans);
    - ``"batch-all"``: every valid triplet, averaged over those with a positive loss;
    - ``"random"``: per (a, p) pair, one random negative.

    :meth:`mine` returns the mined ``(anchor, positive, negative)`` index tensors for plots.
    With no triplet mined the loss is an exact zero that still back-propagates.
    :meth:`listed_loss` is the reference (two gathers and a ReLU over the listed
    triplets); semi-hard and batch-all take the faster :meth:`_mean_over_valid`.
    """

    name = "triplet"
    MINING = ("semi-hard", "batch-hard", "batch-all", "random")

    def __init__(
        self, margin: float = 0.2, mining: str = "semi-hard", *, squared: bool = True, normalize: bool = True
    ):
        super().__init__()
        self.margin = _check_margin(margin, "margin")
        if mining not in self.MINING:
            raise ValueError(f"unknown mining {mining!r}: choose one of {', '.join(self.MINING)}")
        self.mining, self.squared, self.normalize = mining, bool(squared), bool(normalize)

    def config(self) -> dict:
        return {
            "margin": self.margin,
            "mining": self.mining,
            "squared": self.squared,
            "normalize": self.normalize,
        }

    def distances(self, embeddings: torch.Tensor) -> torch.Tensor:
        x = F.normalize(embeddings, dim=1) if self.normalize else embeddings
        return pairwise_distances(x, squared=self.squared)

    def mine(self, embeddings: torch.Tensor, labels: torch.Tensor, *, distances: torch.Tensor | None = None):
        """Indices ``(anchor, positive, negative)`` of the triplets this mining selects."""
        check_embeddings(embeddings)
        check_labels(labels, count=len(embeddings))
        dist = self.distances(embeddings) if distances is None else distances  # [N, N]
        with torch.no_grad():
            pos_mask, neg_mask = self._masks(labels)
            if self.mining == "batch-hard":
                return self._batch_hard(dist, pos_mask, neg_mask)
            if self.mining == "random":
                # every positive pair [P] whose anchor has a negative to draw
                a, p = torch.nonzero(pos_mask & neg_mask.any(1, keepdim=True), as_tuple=True)
                return a, p, self._random_negative(a, neg_mask)
            a, p, valid = self._margin_candidates(dist, pos_mask, neg_mask)
            pair, n = torch.nonzero(valid, as_tuple=True)
            return a.index_select(0, pair), p.index_select(0, pair), n

    @staticmethod
    def _masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Positive pairs (same label, not itself) and negative pairs: two ``[N, N]`` masks."""
        same = labels[:, None] == labels[None, :]  # [N, N]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        return same & ~eye, ~same

    def _margin_candidates(self, dist, pos_mask, neg_mask):
        """Semi-hard / batch-all: every positive pair ``(a, p)`` ``[P]`` and its negatives ``[P, N]``."""
        a, p = torch.nonzero(pos_mask, as_tuple=True)  # every positive pair [P]
        # gap[i, n] = d(a_i, n) - d(a_i, p_i) for each pair i and candidate n: [P, N]
        # (index_select copies whole rows, much faster than advanced indexing dist[a])
        gap = dist.index_select(0, a) - dist[a, p][:, None]
        valid = neg_mask.index_select(0, a)
        if self.mining == "semi-hard":
            return a, p, valid & (gap > 0) & (gap < self.margin)
        # batch-all: every triplet that still violates the margin
        return a, p, valid & (gap < self.margin)

    @staticmethod
    def _batch_hard(dist, pos_mask, neg_mask):
        has_both = pos_mask.any(1) & neg_mask.any(1)
        anchors = torch.nonzero(has_both).flatten()
        # farthest positive: max over positives; nearest negative: min over negatives
        hardest_pos = dist.masked_fill(~pos_mask, -1.0).argmax(1)
        hardest_neg = dist.masked_fill(~neg_mask, float("inf")).argmin(1)
        return anchors, hardest_pos[anchors], hardest_neg[anchors]

    @staticmethod
    def _random_negative(anchors, neg_mask):
        # one random negative per pair: the argmax of random scores over allowed columns
        scores = torch.rand(neg_mask[anchors].shape, device=anchors.device)
        return scores.masked_fill(~neg_mask[anchors], -1.0).argmax(1)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        check_embeddings(embeddings)
        check_labels(labels, count=len(embeddings))
        dist = self.distances(embeddings)  # [N, N]
        if self.mining in ("semi-hard", "batch-all"):
            with torch.no_grad():
                a, p, valid = self._margin_candidates(dist, *self._masks(labels))
            return self._mean_over_valid(dist, a, p, valid, embeddings)
        return self.listed_loss(dist, *self.mine(embeddings, labels, distances=dist), embeddings)

    def listed_loss(self, dist, anchor, positive, negative, embeddings) -> torch.Tensor:
        """The reference: mean over the listed triplets of [d(a, p) - d(a, n) + margin]_+."""
        if len(anchor) == 0:
            # nothing to learn from this batch: an exact zero still attached to the graph
            return embeddings.sum() * 0.0
        # two gathers from the distance matrix, then the hinge: [T]
        losses = F.relu(dist[anchor, positive] - dist[anchor, negative] + self.margin)
        return losses.mean()

    def _mean_over_valid(self, dist, a, p, valid, embeddings) -> torch.Tensor:
        """Fast :meth:`listed_loss` for semi-hard and batch-all, without listing the triplets.

        Every semi-hard or batch-all triplet violates the margin, so its hinge is active and
        the sum splits into weights on the distance matrix:
        sum = sum_i count_i (d(a_i, p_i) + margin) - sum_{i, n} valid[i, n] d(a_i, n).
        Same value and gradient as averaging the listed triplets, at the cost of [N, N] ops
        (a test pins the two equal).
        """
        negatives = valid.to(dist.dtype)  # [P, N] 1 where (a_i, p_i, n) is a triplet
        count = negatives.sum(1)  # [P] triplets per positive pair
        total = count.sum()
        if total == 0:
            # nothing to learn from this batch: an exact zero still attached to the graph
            return embeddings.sum() * 0.0
        # weight[a, n] = -(triplets with anchor a and negative n); weight[a_i, p_i] = count_i
        weight = torch.zeros_like(dist).index_add_(0, a, negatives).neg_()  # [N, N]
        weight[a, p] += count  # positive pairs are distinct, so no index repeats
        # summed in float64: the weighted terms cancel, and T can reach millions
        weighted = (weight.double() * dist.double()).sum()
        return (weighted / total.double()).to(dist.dtype) + self.margin


METRIC_LOSSES: dict[str, type[Loss]] = {cls.name: cls for cls in (ContrastiveLoss, TripletLoss)}
LOSSES: dict[str, type[Loss]] = {**HEADS, **METRIC_LOSSES}
LOSS_NAMES = tuple(LOSSES)


def build_loss(
    name: str, *, embedding_dim: int | None = None, num_classes: int | None = None, **params
) -> Loss:
    """The loss called ``name`` with keyword arguments ``params``: the one factory.

    Heads need ``embedding_dim`` and ``num_classes``; pair and triplet losses work for any
    embedding and any classes, so they ignore the two (callers may pass them for every loss).
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(LOSS_NAMES)}")
    if not LOSSES[name].classifies:
        return LOSSES[name](**params)
    if embedding_dim is None or num_classes is None:
        raise ValueError(f"the {name} head needs embedding_dim and num_classes")
    return LOSSES[name](embedding_dim, num_classes, **params)
