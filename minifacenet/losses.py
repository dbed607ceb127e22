"""The loss family: classification heads with angular margins, and pair/triplet losses.

Every margin head computes the cosines between embeddings and class weights, changes
**only the target-class cosine** (one hook, :meth:`MarginHead.target_cosine`), then scales
the logits (a second hook, :meth:`MarginHead.scale_logits`). Each loss is the few lines
that differ:

==============  ===================================  ================
head            target logit                          scale
==============  ===================================  ================
``NormFace``    ``s * cos(theta)``                    ``s``
``SphereFace``  ``|x| * psi(theta)``, integer ``m``    ``|x|``
``CosFace``     ``s * (cos(theta) - m)``              ``s``
``ArcFace``     ``s * cos(theta + m)``                ``s``
``Combined``    ``s * (cos(m1 theta + m2) - m3)``     ``s``
==============  ===================================  ================
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Cosines are clamped this far inside [-1, 1] wherever a square root or arccos follows.
EPS = 1e-7


# --------------------------------------------------------------------------- checks
def check_embeddings(embeddings: torch.Tensor) -> None:
    """Raise a clear error for NaN or infinite embeddings (they would silently poison W)."""
    # a finite sum proves every entry finite (one cheap reduction); only an infinite or NaN
    # sum (a bad entry, or an overflow of huge finite values) needs the element-wise test
    values = embeddings.detach()  # no autograd node for a check
    if not torch.isfinite(values.sum()) and not torch.isfinite(values).all():
        raise ValueError(
            "embeddings contain NaN or inf: the network diverged or its input is broken. "
            "Lower the learning rate, check the input images, or warm up the margin."
        )


def check_labels(labels: torch.Tensor, num_classes: int) -> None:
    """Labels must be integers in ``[0, num_classes)``."""
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels must be an integer tensor, got dtype {labels.dtype}")
    if not labels.numel():
        return
    # smallest and largest label in one pass, read back once
    low, high = (int(value) for value in torch.aminmax(labels))
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes}) for num_classes={num_classes}; got values "
            f"from {low} to {high}. Remap them or raise num_classes."
        )


def _check_scale(scale: float) -> float:
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale s must be a finite number > 0, got {scale!r} (try s = 10 in 2-D)")
    return float(scale)


def _check_margin(margin: float, name: str = "m", upper: float = math.inf) -> float:
    what = "margin" if name == "margin" else f"margin {name}"
    if not (isinstance(margin, (int, float)) and math.isfinite(margin)):
        raise ValueError(f"{what} must be a finite number, got {margin!r}")
    if margin < 0:
        raise ValueError(f"{what} must be >= 0, got {margin}")
    if margin >= upper:
        raise ValueError(f"{what} must be < {upper:.4g}, got {margin}")
    return float(margin)


# --------------------------------------------------------------------------- heads
def spread_directions(num_classes: int, embedding_dim: int, *, steps: int = 200) -> torch.Tensor:
    """Unit class directions ``[num_classes, embedding_dim]`` spread over the sphere.

    Random directions clump in 2-D and 3-D: with 10 classes on a circle, some start a few
    degrees apart, their classes then share one angular sector and a normalised head can
    take many epochs to pull them apart (NormFace reached 39 % after 3 MNIST epochs from
    Xavier's init, 93 % from evenly spaced directions). So: in 2-D, class k sits at angle
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


class MarginHead(nn.Module):
    """Base class: logits ``scale * cos(theta_j)``, the target cosine changed by a hook.

    ``weight`` is ``[num_classes, embedding_dim]``. ``forward(embeddings, labels)`` is the
    mean cross-entropy over the training logits; ``logits(embeddings)`` without labels are
    the test-time logits (no margin). ``margin_factor`` in [0, 1] scales the margin during
    a warm-up (set by the training loop); 1 means the full margin.
    """

    def __init__(self, embedding_dim: int, num_classes: int, *, s: float = 1.0):
        super().__init__()
        if embedding_dim < 1 or num_classes < 2:
            raise ValueError(
                f"need embedding_dim >= 1 and num_classes >= 2, got {embedding_dim}, {num_classes}"
            )
        self.embedding_dim, self.num_classes = embedding_dim, num_classes
        self.s = _check_scale(s)
        self.margin_factor = 1.0
        self.weight = nn.Parameter(self.initial_weight(num_classes, embedding_dim))

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

    # -- shared machinery ----------------------------------------------------------------
    def config(self) -> dict:
        """Constructor arguments, for checkpoints."""
        return {"embedding_dim": self.embedding_dim, "num_classes": self.num_classes, "s": self.s}

    def cosines(self, embeddings: torch.Tensor) -> torch.Tensor:
        """cos(theta_j) between each embedding and each class weight: ``[N, C]``."""
        # [N, D] @ [D, C] on unit vectors, clamped so later acos/sqrt stay finite
        cos = F.linear(F.normalize(embeddings, dim=1), F.normalize(self.weight, dim=1))
        return cos.clamp(-1.0, 1.0)

    def logits(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Training logits (margin at the target) with labels; test-time logits without."""
        check_embeddings(embeddings)
        cos = self.cosines(embeddings)  # [N, C]
        if labels is not None:
            check_labels(labels, self.num_classes)
            index = labels.view(-1, 1)  # [N, 1]
            # replace cos(theta_y) by its margin version, leave the other classes alone;
            # the hook is element-wise, so it takes the [N, 1] column as it is
            target = self.target_cosine(cos.gather(1, index))  # [N, 1]
            cos = cos.scatter(1, index, target.to(cos.dtype))
        return self.scale_logits(cos, embeddings)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.logits(embeddings, labels), labels)

    def extra_repr(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.config().items())
        return args


class Softmax(MarginHead):
    """The baseline: a plain linear layer ``W x + b`` and cross-entropy. No margin, no norm."""

    def __init__(self, embedding_dim: int, num_classes: int):
        super().__init__(embedding_dim, num_classes)
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def initial_weight(self, num_classes: int, embedding_dim: int) -> torch.Tensor:
        """A linear layer's usual start (Xavier uniform): W is not normalised here."""
        return nn.init.xavier_uniform_(torch.empty(num_classes, embedding_dim))

    def config(self) -> dict:
        return {"embedding_dim": self.embedding_dim, "num_classes": self.num_classes}

    def logits(self, embeddings: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_embeddings(embeddings)
        if labels is not None:
            check_labels(labels, self.num_classes)
        # [N, D] -> [N, C]; the same with or without labels (softmax has no margin)
        return F.linear(embeddings, self.weight, self.bias)


class NormFace(MarginHead):
    """Normalised softmax (NormFace): logits ``s * cos(theta_j)``, W and x on the sphere."""

    def __init__(self, embedding_dim: int, num_classes: int, *, s: float = 10.0):
        super().__init__(embedding_dim, num_classes, s=s)


class CosFace(MarginHead):
    """CosFace / LMCL: target logit ``s * (cos(theta_y) - m)``."""

    def __init__(self, embedding_dim: int, num_classes: int, *, s: float = 10.0, m: float = 0.1):
        super().__init__(embedding_dim, num_classes, s=s)
        self.m = _check_margin(m)

    def config(self) -> dict:
        return {**super().config(), "m": self.m}

    def target_cosine(self, cos: torch.Tensor) -> torch.Tensor:
        # subtract the margin from the target cosine: the boundary becomes cos1 - cos2 = m
        return cos - self.m * self.margin_factor


class ArcFace(MarginHead):
    """ArcFace: target logit ``s * cos(theta_y + m)``.

    cos(theta + m) stops decreasing once theta + m > pi (it turns back up), which would
    *reward* the worst samples. Past that point (cos theta < cos(pi - m)) the default
    uses the CosFace-like ``cos(theta) - m sin(m)``, which keeps falling. With
    ``easy_margin=True`` the margin is applied only where cos(theta) > 0.
    """

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
        self.m = _check_margin(m, upper=math.pi)
        self.easy_margin = bool(easy_margin)

    def config(self) -> dict:
        return {**super().config(), "m": self.m, "easy_margin": self.easy_margin}

    def target_cosine(self, cos: torch.Tensor) -> torch.Tensor:
        return arcface_target(cos, self.m * self.margin_factor, easy_margin=self.easy_margin)


def arcface_target(cos: torch.Tensor, m: float, *, easy_margin: bool = False) -> torch.Tensor:
    """cos(theta + m) with the fix for theta + m > pi (or ``easy_margin``), NaN-free."""
    # sin(theta) >= 0 on [0, pi]; the clamp keeps sqrt's gradient finite at theta = 0, pi
    sin = torch.sqrt((1.0 - cos * cos).clamp_min(EPS))
    # cos(theta + m) = cos theta cos m - sin theta sin m
    shifted = cos * math.cos(m) - sin * math.sin(m)
    if easy_margin:
        return torch.where(cos > 0, shifted, cos)
    # past theta = pi - m: keep decreasing with cos theta - m sin m
    return torch.where(cos > math.cos(math.pi - m), shifted, cos - m * math.sin(m))


class CombinedMargin(MarginHead):
    """insightface's combined margin: target logit ``s * (cos(m1 theta + m2) - m3)``.

    (m1, m2, m3) = (1, 0, 0) is NormFace, (1, m, 0) ArcFace, (1, 0, m) CosFace and
    (m, 0, 0) a SphereFace-like multiplicative margin.
    """

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
        if not (isinstance(m1, (int, float)) and math.isfinite(m1) and m1 >= 1.0):
            raise ValueError(f"m1 must be a finite number >= 1 (1 = no multiplicative margin), got {m1!r}")
        self.m1, self.m2, self.m3 = float(m1), _check_margin(m2, "m2", math.pi), _check_margin(m3, "m3")

    def config(self) -> dict:
        return {**super().config(), "m1": self.m1, "m2": self.m2, "m3": self.m3}

    def target_cosine(self, cos: torch.Tensor) -> torch.Tensor:
        f = self.margin_factor
        m1, m2, m3 = 1.0 + (self.m1 - 1.0) * f, self.m2 * f, self.m3 * f
        # theta from a clamped arccos: the gradient of acos is infinite at +-1
        theta = torch.acos(cos.clamp(-1.0 + EPS, 1.0 - EPS))
        angle = m1 * theta + m2
        # past pi the cosine would turn back up: keep it monotone by reflecting to -1 - ...
        target = torch.where(angle <= math.pi, torch.cos(angle), -1.0 - (angle - math.pi))
        return target - m3


class SphereFace(MarginHead):
    """SphereFace / A-Softmax: W normalised, x not; target logit ``|x| * psi(theta)``.

    psi(theta) = (-1)^k cos(m theta) - 2k for theta in [k pi/m, (k+1) pi/m], integer m.
    Training is stabilised by annealing: the target logit is
    ``(lamb * |x| cos theta + |x| psi(theta)) / (1 + lamb)``, with ``lamb`` falling as
    ``max(lamb_min, base * (1 + gamma * iteration) ** -power)`` (official: 1000, 0.12, 1, 5).
    ``lamb = 0`` is pure A-Softmax. Call :meth:`anneal` each step (the training loop does).
    """

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        *,
        m: int = 4,
        lamb_base: float = 1000.0,
        lamb_gamma: float = 0.12,
        lamb_power: float = 1.0,
        lamb_min: float = 5.0,
    ):
        super().__init__(embedding_dim, num_classes, s=1.0)
        if isinstance(m, bool) or not isinstance(m, int) and not (isinstance(m, float) and m.is_integer()):
            raise ValueError(f"SphereFace m must be an integer >= 1 (paper: 4), got {m!r}")
        if int(m) < 1:
            raise ValueError(f"SphereFace m must be an integer >= 1 (paper: 4), got {m!r}")
        self.m = int(m)
        self.lamb_base, self.lamb_gamma = float(lamb_base), float(lamb_gamma)
        self.lamb_power, self.lamb_min = float(lamb_power), float(lamb_min)
        self.lamb = self.lamb_base

    def config(self) -> dict:
        return {
            "embedding_dim": self.embedding_dim,
            "num_classes": self.num_classes,
            "m": self.m,
            "lamb_base": self.lamb_base,
            "lamb_gamma": self.lamb_gamma,
            "lamb_power": self.lamb_power,
            "lamb_min": self.lamb_min,
        }

    def anneal(self, iteration: int) -> float:
        """Set ``lamb`` for this training iteration and return it."""
        decayed = self.lamb_base * (1.0 + self.lamb_gamma * iteration) ** (-self.lamb_power)
        self.lamb = max(self.lamb_min, decayed)
        return self.lamb

    def target_cosine(self, cos: torch.Tensor) -> torch.Tensor:
        # psi(theta), then blend with cos(theta): (lamb cos + psi) / (1 + lamb)
        return (self.lamb * cos + sphereface_psi(cos, self.m)) / (1.0 + self.lamb)

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


HEADS: dict[str, type[MarginHead]] = {
    "softmax": Softmax,
    "normface": NormFace,
    "sphereface": SphereFace,
    "cosface": CosFace,
    "arcface": ArcFace,
    "combined": CombinedMargin,
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
    with torch.no_grad():
        if isinstance(head, SphereFace):
            head.lamb = lamb
            return feature_norm * head.target_cosine(cos)
        return head.s * head.target_cosine(cos)


# --------------------------------------------------------------------------- metric losses
class ContrastiveLoss(nn.Module):
    """Contrastive loss (Hadsell et al. 2006), y = 1 for a same-identity pair:

    L = mean( y d^2 + (1 - y) max(0, margin - d)^2 ),   d = |x1 - x2|_2
    """

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = _check_margin(margin, "margin")
        if self.margin == 0:
            raise ValueError("contrastive margin must be > 0, got 0 (try 1.0)")

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        check_embeddings(x1)
        check_embeddings(x2)
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


class TripletLoss(nn.Module):
    """FaceNet's triplet loss over a batch: mean over mined triplets of

    [ d(a, p) - d(a, n) + margin ]_+ ,   d = squared L2 on L2-normalised embeddings.

    Mining (all vectorised over the batch):

    - ``"semi-hard"``: every (a, p, n) with d(a, p) < d(a, n) < d(a, p) + margin;
    - ``"batch-hard"``: per anchor, its farthest positive and nearest negative (Hermans);
    - ``"batch-all"``: every valid triplet, averaged over those with a positive loss;
    - ``"random"``: per (a, p) pair, one random negative.

    :meth:`mine` returns the mined ``(anchor, positive, negative)`` index tensors for plots.
    With no triplet mined the loss is an exact zero that still back-propagates.
    """

    MINING = ("semi-hard", "batch-hard", "batch-all", "random")

    def __init__(
        self, margin: float = 0.2, mining: str = "semi-hard", *, squared: bool = True, normalize: bool = True
    ):
        super().__init__()
        self.margin = _check_margin(margin, "margin")
        if mining not in self.MINING:
            raise ValueError(f"unknown mining {mining!r}: choose one of {', '.join(self.MINING)}")
        self.mining, self.squared, self.normalize = mining, squared, normalize

    def distances(self, embeddings: torch.Tensor) -> torch.Tensor:
        x = F.normalize(embeddings, dim=1) if self.normalize else embeddings
        return pairwise_distances(x, squared=self.squared)

    def mine(self, embeddings: torch.Tensor, labels: torch.Tensor, *, distances: torch.Tensor | None = None):
        """Indices ``(anchor, positive, negative)`` of the triplets this mining selects."""
        check_embeddings(embeddings)
        dist = self.distances(embeddings) if distances is None else distances  # [N, N]
        with torch.no_grad():
            pos_mask, neg_mask = self._masks(labels)
            if self.mining == "batch-hard":
                return self._batch_hard(dist, pos_mask, neg_mask)
            if self.mining == "random":
                a, p = torch.nonzero(pos_mask, as_tuple=True)  # every positive pair [P]
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
        dist = self.distances(embeddings)  # [N, N]
        if self.mining in ("semi-hard", "batch-all"):
            check_embeddings(embeddings)
            with torch.no_grad():
                a, p, valid = self._margin_candidates(dist, *self._masks(labels))
            return self._mean_over_valid(dist, a, p, valid, embeddings)
        a, p, n = self.mine(embeddings, labels, distances=dist)
        if len(a) == 0:
            # nothing to learn from this batch: an exact zero still attached to the graph
            return embeddings.sum() * 0.0
        losses = F.relu(dist[a, p] - dist[a, n] + self.margin)  # [T]
        return losses.mean()

    def _mean_over_valid(self, dist, a, p, valid, embeddings) -> torch.Tensor:
        """mean over the valid triplets of d(a, p) - d(a, n) + margin, without listing them.

        Every semi-hard or batch-all triplet violates the margin, so its hinge is active and
        the sum splits into weights on the distance matrix:
        sum = sum_i count_i (d(a_i, p_i) + margin) - sum_{i, n} valid[i, n] d(a_i, n).
        Same value and gradient as averaging the listed triplets, at the cost of [N, N] ops.
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


METRIC_LOSSES = {"contrastive": ContrastiveLoss, "triplet": TripletLoss}
LOSS_NAMES = (*HEADS, *METRIC_LOSSES)


def build_loss(name: str, *, embedding_dim: int, num_classes: int, **params) -> nn.Module:
    """A head or metric loss by CLI name; ``params`` are its keyword arguments."""
    if name in HEADS:
        return HEADS[name](embedding_dim, num_classes, **params)
    if name in METRIC_LOSSES:
        return METRIC_LOSSES[name](**params)
    raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(LOSS_NAMES)}")
