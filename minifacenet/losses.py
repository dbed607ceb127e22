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

import functools
import inspect
import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .checks import (
    check_embeddings,
    check_fraction,
    check_labels,
    check_lambda,
    check_like,
    check_magnitude,
    check_margin,
    check_same,
    check_scale,
    check_sizes,
    is_number,
)
from .fast import triplet_mean_over_valid

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


# --------------------------------------------------------------------------- the interface
class Loss(nn.Module):
    """What every loss offers: ``forward(embeddings, labels)``, a ``name``, ``config()``, ``schedule``.

    Each loss class also carries its facts, so that the CLI, the explorer and the scoreboard
    ask the class instead of comparing names: ``label`` (its display name), ``margin_arg``
    (the constructor argument that is its margin, or None) with ``margin_range`` ``[low,
    high)`` and ``integer_margin``, ``takes_scale`` (a constructor argument ``s``),
    ``options`` (other choices, e.g. the triplet's mining), ``default_warmup`` (the margin
    warm-up when training is given none), ``metric`` (the similarity it trains for, so the
    one it is scored by), ``angular`` (its logits are s f(cos theta): the explorer shows it)
    and ``margin_control`` (the head that is this loss without its margin, which the
    scoreboard and the tables compare it with besides softmax, or None).
    Defining a subclass with a ``name`` registers it in :data:`LOSSES`.
    ``classifies`` tells a head (class weights, ``logits(embeddings)`` for prediction) from a
    pair or triplet loss (no classes; ``fit`` feeds it P x K batches).
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    classifies: ClassVar[bool] = False
    angular: ClassVar[bool] = False
    margin_arg: ClassVar[str | None] = None
    margin_range: ClassVar[tuple[float, float]] = (0.0, math.inf)
    integer_margin: ClassVar[bool] = False
    neutral_margin: ClassVar[float] = 0.0  # the margin at which the formula is the plain cosine
    takes_scale: ClassVar[bool] = False
    options: ClassVar[dict[str, tuple]] = {}
    default_warmup: ClassVar[float] = 0.0
    metric: ClassVar[str] = "cosine"
    margin_control: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):  # a loss of its own, not an abstract base
            LOSSES[cls.name] = cls

    @classmethod
    @functools.cache
    def defaults(cls) -> dict:
        """The constructor's keyword arguments and their defaults (``{"s": 10.0, "m": 0.1}``);
        read once per class (do not change the dict)."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}

    @classmethod
    def check_margin(cls, value) -> float:
        """``value`` as this loss's margin, or a ValueError naming its range."""
        what = f"{cls.label or cls.name} {cls.margin_arg}"
        return check_margin(value, what, cls.margin_range, integer=cls.integer_margin)

    @classmethod
    def warms_up(cls) -> bool:
        """Whether a margin warm-up changes anything: a margin that training can fade in."""
        return False

    def config(self) -> dict:
        """Constructor arguments: ``build_loss(self.name, **self.config())`` rebuilds the loss."""
        raise NotImplementedError

    def schedule(self, fraction: float, *, warmup: float | None = None) -> float:
        """Set the loss for the point ``fraction`` of training; return its margin weight (here 1)."""
        return 1.0

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.config().items())


# Every loss by name, filled as the classes below are defined (and by any later subclass).
LOSSES: dict[str, type[Loss]] = {}


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
    angular = True
    # the arguments of formula besides the cosine, read from the head's attributes
    formula_args: ClassVar[tuple[str, ...]] = ()

    def __init__(self, embedding_dim: int, num_classes: int, *, s: float = 1.0):
        super().__init__()
        self.embedding_dim, self.num_classes = check_sizes(embedding_dim, num_classes)
        self.s = check_scale(s)
        self.margin_weight = 1.0
        self.weight = nn.Parameter(self.initial_weight(self.num_classes, self.embedding_dim))

    @classmethod
    def warms_up(cls) -> bool:
        return cls.angular and cls.margin_arg is not None

    # -- the hooks a subclass overrides -------------------------------------------------
    def initial_weight(self, num_classes: int, embedding_dim: int) -> torch.Tensor:
        """Class weights at the start of training: unit directions spread over the sphere."""
        return spread_directions(num_classes, embedding_dim)

    @staticmethod
    def formula(cos: torch.Tensor) -> torch.Tensor:
        """The paper's target cosine f(cos theta) as a pure function of the cosine and the margin
        (here: no margin). The explorer and the figures call it too: one formula per loss."""
        return cos

    def target_cosine(self, cos: torch.Tensor) -> torch.Tensor:
        """Target-class cosines (``[N]`` or ``[N, 1]``, element-wise) -> with this head's margin."""
        return self.formula(cos, **{name: getattr(self, name) for name in self.formula_args})

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
        """Embeddings ``[N, embedding_dim]``, finite, of the head's dtype and device; labels (if
        given) ``[N]`` in ``[0, num_classes)``."""
        check_embeddings(embeddings, embedding_dim=self.embedding_dim)
        check_like(embeddings, self.weight)
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


class Softmax(MarginHead):
    """The baseline: a plain linear layer ``W x + b`` and cross-entropy. No margin, no norm."""

    name = "softmax"
    label = "softmax"
    angular = False  # W x + b: no cosine to put a margin on

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
    label = "normalised softmax"
    takes_scale = True

    def __init__(self, embedding_dim: int, num_classes: int, *, s: float = 10.0):
        super().__init__(embedding_dim, num_classes, s=s)


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
    label = "SphereFace"
    margin_arg, margin_range, integer_margin, neutral_margin = "m", (1, SPHEREFACE_MAX_M + 1), True, 1
    formula_args = ("m",)
    default_warmup = 0.5  # lambda reaches lamb_min half way through training
    margin_control = "normface"  # the course's control for every margin on the sphere

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
        self.m = self.check_margin(m)
        self.lamb_base = check_lambda(lamb_base, "lamb_base")
        self.lamb_min = check_lambda(lamb_min, "lamb_min")
        if not (is_number(lamb_power) and lamb_power > 0):
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
        self.margin_weight = 1.0 / (1.0 + check_lambda(value, "lamb", allow_inf=True))

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

    @staticmethod
    def formula(cos: torch.Tensor, *, m: int) -> torch.Tensor:
        return sphereface_psi(cos, m)

    def check_inputs(self, embeddings: torch.Tensor, labels: torch.Tensor | None) -> None:
        super().check_inputs(embeddings, labels)
        check_magnitude(embeddings)  # the logits take |x| itself

    def scale_logits(self, cos: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        # the scale is the feature norm |x|: [N, 1] * [N, C]
        return embeddings.norm(dim=1, keepdim=True) * cos


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


class CosFace(MarginHead):
    """CosFace / LMCL: target logit ``s * (cos(theta_y) - m)``, ``-0.5 <= m < 2`` (m < 0: negative margin)."""

    name = "cosface"
    label = "CosFace"
    takes_scale = True
    margin_arg, margin_range = "m", (NEGATIVE_MIN_M, ADDITIVE_MAX_M)
    formula_args = ("m",)
    margin_control = "normface"  # CosFace at m = 0

    def __init__(self, embedding_dim: int, num_classes: int, *, s: float = 10.0, m: float = 0.1):
        super().__init__(embedding_dim, num_classes, s=s)
        self.m = self.check_margin(m)

    def config(self) -> dict:
        return {**super().config(), "m": self.m}

    @staticmethod
    def formula(cos: torch.Tensor, *, m: float) -> torch.Tensor:
        # subtract the margin from the target cosine: the boundary becomes cos1 - cos2 = m
        return cos - m


class ArcFace(MarginHead):
    """ArcFace: target logit ``s * cos(theta_y + m)``, ``-0.5 <= m < pi`` (m < 0: a negative margin).

    cos(theta + m) stops decreasing once theta + m > pi (it turns back up), which would
    *reward* the worst samples. Past that point (cos theta < cos(pi - m)) the default
    uses the CosFace-like ``cos(theta) - m sin(m)``, which keeps falling. With
    ``easy_margin=True`` the margin applies only where cos theta > 0 (insightface's option).
    """

    name = "arcface"
    label = "ArcFace"
    takes_scale = True
    margin_arg, margin_range = "m", (NEGATIVE_MIN_M, math.pi)
    formula_args = ("m", "easy_margin")
    margin_control = "normface"  # ArcFace at m = 0

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
        self.m = self.check_margin(m)
        self.easy_margin = bool(easy_margin)

    def config(self) -> dict:
        return {**super().config(), "m": self.m, "easy_margin": self.easy_margin}

    @staticmethod
    def formula(cos: torch.Tensor, *, m: float, easy_margin: bool = False) -> torch.Tensor:
        return arcface_target(cos, m, easy_margin=easy_margin)


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
    label = "combined"
    takes_scale = True
    margin_arg, margin_range = "m2", (0.0, math.pi)
    formula_args = ("m1", "m2", "m3")

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
        if not (is_number(m1) and m1 >= 1.0):
            raise ValueError(f"m1 must be a finite number >= 1 (1 = no multiplicative margin), got {m1!r}")
        self.m1 = float(m1)
        self.m2 = self.check_margin(m2)
        self.m3 = check_margin(m3, "combined m3", (0.0, ADDITIVE_MAX_M))

    def config(self) -> dict:
        return {**super().config(), "m1": self.m1, "m2": self.m2, "m3": self.m3}

    @staticmethod
    def formula(cos: torch.Tensor, *, m1: float, m2: float, m3: float) -> torch.Tensor:
        # theta from a clamped arccos: the gradient of acos is infinite at +-1
        theta = torch.acos(cos.clamp(-1.0 + EPS, 1.0 - EPS))
        angle = m1 * theta + m2
        # past pi the cosine would turn back up: keep it monotone by reflecting to -1 - ...
        target = torch.where(angle <= math.pi, torch.cos(angle), -1.0 - (angle - math.pi))
        return target - m3


def target_logit_curve(
    loss: str, theta: torch.Tensor, *, feature_norm: float = 1.0, **params
) -> torch.Tensor:
    """The target logit as a function of theta (radians) for a named loss and its parameters.

    ``params`` are the head's keyword arguments (``s``, ``m``, ``m1``..``m3``,
    ``easy_margin``; ``lamb``: SphereFace's annealing, default 0 = the pure formula). A head
    that takes no scale is scaled by ``feature_norm`` (SphereFace: |x|). A loss without an
    angular target (softmax) gives ``feature_norm * cos(theta)``. No head is built: the
    curve is the class's :meth:`~MarginHead.formula`.
    """
    theta = torch.as_tensor(theta, dtype=torch.float64)
    cos = torch.cos(theta)
    cls = LOSSES[loss]
    if not cls.angular:
        return feature_norm * cos
    arguments = {**cls.defaults(), **params}
    weight = 1.0 / (1.0 + check_lambda(params.get("lamb", 0.0), "lamb", allow_inf=True))
    target = torch.lerp(cos, cls.formula(cos, **{name: arguments[name] for name in cls.formula_args}), weight)
    return (check_scale(arguments["s"]) if cls.takes_scale else feature_norm) * target


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
    label = "contrastive"
    margin_arg = "margin"
    metric = "euclidean"  # d = |x1 - x2| on raw embeddings

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = self.check_margin(margin)
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
        check_magnitude(x1)  # |x1 - x2|^2 must not overflow
        check_magnitude(x2)
        check_same(same, count=len(x1))
        same = same.to(x1.dtype)  # [N] in {0, 1}
        # squared distance [N]; no sqrt needed for the positive term
        dist_sq = (x1 - x2).pow(2).sum(dim=1)
        # d with a floor, so the gradient of sqrt stays finite for identical points
        dist = dist_sq.clamp_min(1e-12).sqrt()
        negative = F.relu(self.margin - dist).pow(2)
        return (same * dist_sq + (1 - same) * negative).mean()


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
    :meth:`listed_loss` is the formula over the listed triplets; semi-hard and batch-all
    take a faster route to the same number (:func:`minifacenet.fast.triplet_mean_over_valid`).
    """

    name = "triplet"
    label = "triplet"
    margin_arg = "margin"
    MINING = ("semi-hard", "batch-hard", "batch-all", "random")
    options = {"mining": MINING}

    def __init__(
        self, margin: float = 0.2, mining: str = "semi-hard", *, squared: bool = True, normalize: bool = True
    ):
        super().__init__()
        self.margin = self.check_margin(margin)
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

    @property
    def metric(self) -> str:
        """Squared L2 of unit vectors is 2 - 2 cos: the cosine's ranking; raw distances: Euclidean."""
        return "cosine" if self.normalize else "euclidean"

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
            return triplet_mean_over_valid(dist, a, p, valid, self.margin, embeddings)
        return self.listed_loss(dist, *self.mine(embeddings, labels, distances=dist), embeddings)

    def listed_loss(self, dist, anchor, positive, negative, embeddings) -> torch.Tensor:
        """The reference: mean over the listed triplets of [d(a, p) - d(a, n) + margin]_+."""
        if len(anchor) == 0:
            # nothing to learn from this batch: an exact zero still attached to the graph
            return embeddings.sum() * 0.0
        # two gathers from the distance matrix, then the hinge: [T]
        losses = F.relu(dist[anchor, positive] - dist[anchor, negative] + self.margin)
        return losses.mean()


# The course's losses (LOSSES also holds any subclass defined later).
LOSS_NAMES = tuple(LOSSES)
HEADS: dict[str, type[MarginHead]] = {name: cls for name, cls in LOSSES.items() if cls.classifies}


def build_loss(
    name: str, *, embedding_dim: int | None = None, num_classes: int | None = None, **params
) -> Loss:
    """The loss called ``name`` with keyword arguments ``params``: the one factory.

    Heads need ``embedding_dim`` and ``num_classes``; pair and triplet losses work for any
    embedding and any classes, so they ignore the two (callers may pass them for every loss).
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(LOSSES)}")
    if not LOSSES[name].classifies:
        return LOSSES[name](**params)
    if embedding_dim is None or num_classes is None:
        raise ValueError(f"the {name} head needs embedding_dim and num_classes")
    return LOSSES[name](embedding_dim, num_classes, **params)
