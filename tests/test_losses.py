"""The loss family against independent references.

Every margin head is checked on 2-D unit vectors placed at known angles: the expected
logits come from ``math.cos`` and the papers' formulas, the expected loss from a hand
cross-entropy, in float32 and float64. pytorch-metric-learning (PML) is a second oracle
where its units can be matched. Hypothesis checks that losses and gradients stay finite
at the extreme angles (theta = 0, theta = pi) and scales.
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minifacenet import losses

DTYPES = (torch.float32, torch.float64)
# float32 logits of size ~10 carry ~1e-6 round-off; any formula mistake is >= 1e-3
TOLERANCE = {torch.float32: {"rtol": 1e-5, "atol": 1e-4}, torch.float64: {"rtol": 1e-10, "atol": 1e-10}}

# two classes: weight 0 along the x axis, weight 1 along y; unequal norms, which must not matter
WEIGHT_ANGLES = (0.0, math.pi / 2)
WEIGHT_NORMS = (2.0, 0.5)
# six embeddings at chosen angles (radians) and norms, with their labels
EMBEDDING_ANGLES = (0.3, 1.2, 2.0, 2.9, -0.7, -2.5)
EMBEDDING_NORMS = (1.0, 3.0, 0.5, 2.0, 4.0, 1.5)
LABELS = (0, 1, 0, 0, 1, 1)


# --------------------------------------------------------------------------- hand reference
def polar(angle: float, norm: float) -> list[float]:
    return [norm * math.cos(angle), norm * math.sin(angle)]


def angle_between(a: float, b: float) -> float:
    """The angle in [0, pi] between directions a and b (radians)."""
    gap = (a - b) % (2 * math.pi)
    return min(gap, 2 * math.pi - gap)


def placed(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Embeddings ``[6, 2]``, weights ``[2, 2]`` and labels ``[6]`` at the angles above."""
    embeddings = torch.tensor(
        [polar(a, r) for a, r in zip(EMBEDDING_ANGLES, EMBEDDING_NORMS, strict=True)], dtype=dtype
    )
    weight = torch.tensor(
        [polar(a, r) for a, r in zip(WEIGHT_ANGLES, WEIGHT_NORMS, strict=True)], dtype=dtype
    )
    return embeddings, weight, torch.tensor(LABELS)


def target_thetas() -> list[float]:
    return [angle_between(a, WEIGHT_ANGLES[y]) for a, y in zip(EMBEDDING_ANGLES, LABELS, strict=True)]


def hand_logits(target, scales, *, with_labels: bool = True) -> list[list[float]]:
    """``scale_i * cos(theta_ij)``, with ``target(theta)`` in place of cos at the label."""
    rows = []
    for a, y, scale in zip(EMBEDDING_ANGLES, LABELS, scales, strict=True):
        thetas = [angle_between(a, w) for w in WEIGHT_ANGLES]
        rows.append(
            [scale * (target(t) if with_labels and j == y else math.cos(t)) for j, t in enumerate(thetas)]
        )
    return rows


def hand_cross_entropy(logits: list[list[float]], labels) -> float:
    """mean_i( log sum_j exp(l_ij) - l_iy )."""
    terms = [math.log(sum(math.exp(v) for v in row)) - row[y] for row, y in zip(logits, labels, strict=True)]
    return sum(terms) / len(terms)


def make_head(cls, weight: torch.Tensor, **params) -> losses.MarginHead:
    head = cls(weight.shape[1], weight.shape[0], **params).to(weight.dtype)
    with torch.no_grad():
        head.weight.copy_(weight)
    return head


def assert_close(actual: torch.Tensor, expected, dtype: torch.dtype) -> None:
    expected = torch.as_tensor(expected, dtype=torch.float64)
    torch.testing.assert_close(actual.detach().double(), expected, **TOLERANCE[dtype])


# the papers' target cosines, written with math only
def arcface_reference(m: float):
    # cos(theta + m) while theta + m <= pi, then cos(theta) - m sin(m)
    return lambda t: math.cos(t + m) if t + m <= math.pi else math.cos(t) - m * math.sin(m)


def negative_arcface_reference(m: float):
    # m < 0: cos(theta + m), the target angle held at 0 where theta < |m|
    return lambda t: math.cos(max(t + m, 0.0))


def easy_margin_reference(m: float):
    return lambda t: math.cos(t + m) if math.cos(t) > 0 else math.cos(t)


def combined_reference(m1: float, m2: float, m3: float):
    # cos(m1 theta + m2) - m3; past pi the library continues linearly, -1 - (angle - pi)
    def target(t: float) -> float:
        angle = m1 * t + m2
        return (math.cos(angle) if angle <= math.pi else -1.0 - (angle - math.pi)) - m3

    return target


def psi_reference(t: float, m: int) -> float:
    """psi(theta) = (-1)^k cos(m theta) - 2k, k = floor(m theta / pi) (theta = pi: k = m - 1)."""
    k = min(math.floor(m * t / math.pi), m - 1)
    return (-1) ** k * math.cos(m * t) - 2 * k


FIXED_SCALE_CASES = {
    "normface": (losses.NormFace, {"s": 10.0}, math.cos),
    "cosface": (losses.CosFace, {"s": 8.0, "m": 0.35}, lambda t: math.cos(t) - 0.35),
    "arcface": (losses.ArcFace, {"s": 10.0, "m": 0.5}, arcface_reference(0.5)),
    "arcface-small-m": (losses.ArcFace, {"s": 64.0, "m": 0.3}, arcface_reference(0.3)),
    "cosface-negative": (losses.CosFace, {"s": 8.0, "m": -0.3}, lambda t: math.cos(t) + 0.3),
    "arcface-negative": (losses.ArcFace, {"s": 10.0, "m": -0.4}, negative_arcface_reference(-0.4)),
    "arcface-most-negative": (losses.ArcFace, {"s": 16.0, "m": -0.5}, negative_arcface_reference(-0.5)),
    "arcface-easy": (losses.ArcFace, {"s": 10.0, "m": 0.5, "easy_margin": True}, easy_margin_reference(0.5)),
    "combined": (
        losses.CombinedMargin,
        {"s": 10.0, "m1": 1.5, "m2": 0.2, "m3": 0.1},
        combined_reference(1.5, 0.2, 0.1),
    ),
    "combined-cm1": (
        losses.CombinedMargin,
        {"s": 5.0, "m1": 1.0, "m2": 0.3, "m3": 0.2},
        combined_reference(1, 0.3, 0.2),
    ),
}


# --------------------------------------------------------------------------- heads vs the hand reference
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(FIXED_SCALE_CASES))
def test_fixed_scale_heads_match_hand_formulas(case, dtype):
    cls, params, target = FIXED_SCALE_CASES[case]
    embeddings, weight, labels = placed(dtype)
    head = make_head(cls, weight, **params)
    scales = [params["s"]] * len(LABELS)
    expected = hand_logits(target, scales)
    logits = head.logits(embeddings, labels)
    assert logits.dtype == dtype and logits.shape == (6, 2)
    assert_close(logits, expected, dtype)
    assert_close(head(embeddings, labels), hand_cross_entropy(expected, LABELS), dtype)
    # test time: s cos(theta), no margin
    assert_close(head.logits(embeddings), hand_logits(math.cos, scales, with_labels=False), dtype)


def test_the_placed_angles_reach_the_arcface_fallback_region():
    # the ArcFace cases above only test the theta + m > pi branch if some target is there
    assert any(t + 0.5 > math.pi for t in target_thetas())
    assert any(t + 0.5 <= math.pi and math.cos(t) < 0 for t in target_thetas())  # easy_margin's region


def test_the_placed_angles_reach_the_negative_arcface_clamp():
    # a target angle below |m| = 0.4 (held at 0) and one above it (the formula itself)
    assert any(t < 0.4 for t in target_thetas()) and any(t > 0.4 for t in target_thetas())


@pytest.mark.parametrize("cls", [losses.CosFace, losses.ArcFace])
@pytest.mark.parametrize("m", [-0.5, -0.2])
@pytest.mark.parametrize("theta", [0.0, 0.1, math.pi / 2, math.pi])
def test_negative_margins_give_finite_gradients_at_every_angle(cls, m, theta):
    # theta = 0 and pi are where arccos/sqrt would give inf gradients
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    head = make_head(cls, weight, s=10.0, m=m)
    x = torch.tensor([[math.cos(theta), math.sin(theta)]], dtype=torch.float64, requires_grad=True)
    head(x, torch.tensor([0])).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(head.weight.grad).all()


def test_a_negative_margin_raises_the_target_logit():
    # the opposite of a margin: the target class is favoured, never more than cos = 1
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    x = torch.tensor([[math.cos(a), math.sin(a)] for a in (0.05, 0.6, 1.5, 3.0)], dtype=torch.float64)
    y = torch.zeros(4, dtype=torch.long)
    for cls in (losses.CosFace, losses.ArcFace):
        plain = make_head(losses.NormFace, weight, s=10.0).logits(x, y)[:, 0]
        negative = make_head(cls, weight, s=10.0, m=-0.3).logits(x, y)[:, 0]
        assert (negative >= plain).all() and (negative[1:] > plain[1:]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_a_linear_layer_with_bias(dtype):
    embeddings, weight, labels = placed(dtype)
    head = make_head(losses.Softmax, weight)
    bias = (0.3, -0.2)
    with torch.no_grad():
        head.bias.copy_(torch.tensor(bias, dtype=dtype))
    # W x + b by hand: w_j . x_i + b_j
    points = [polar(a, r) for a, r in zip(EMBEDDING_ANGLES, EMBEDDING_NORMS, strict=True)]
    weights = [polar(a, r) for a, r in zip(WEIGHT_ANGLES, WEIGHT_NORMS, strict=True)]
    expected = [[w[0] * x[0] + w[1] * x[1] + b for w, b in zip(weights, bias, strict=True)] for x in points]
    assert_close(head.logits(embeddings, labels), expected, dtype)
    assert_close(head.logits(embeddings), expected, dtype)
    assert_close(head(embeddings, labels), hand_cross_entropy(expected, LABELS), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", [0.2, 0.5, 1.0])
def test_combined_margin_reduces_to_arcface_and_cosface(m, dtype):
    embeddings, weight, labels = placed(dtype)
    as_arcface = make_head(losses.CombinedMargin, weight, s=10.0, m1=1.0, m2=m, m3=0.0)
    as_cosface = make_head(losses.CombinedMargin, weight, s=10.0, m1=1.0, m2=0.0, m3=m)
    arcface = make_head(losses.ArcFace, weight, s=10.0, m=m)
    cosface = make_head(losses.CosFace, weight, s=10.0, m=m)
    # (1, m, 0) is ArcFace wherever theta + m <= pi (past pi the two fixes differ)
    inside = torch.tensor([t + m <= math.pi for t in target_thetas()])
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(
        as_arcface.logits(embeddings, labels)[inside], arcface.logits(embeddings, labels)[inside], **tol
    )
    torch.testing.assert_close(
        as_cosface.logits(embeddings, labels), cosface.logits(embeddings, labels), **tol
    )
    torch.testing.assert_close(as_cosface(embeddings, labels), cosface(embeddings, labels), **tol)


def test_arcface_at_theta_zero_is_cos_m_up_to_the_sqrt_clamp():
    # theta = 0 exactly: sin is floored at sqrt(EPS) for a finite gradient, a known, tiny bias
    head = make_head(
        losses.ArcFace, torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64), s=1.0, m=0.5
    )
    with torch.no_grad():
        target = head.logits(torch.tensor([[2.0, 0.0]], dtype=torch.float64), torch.tensor([0]))[0, 0]
    assert abs(target.item() - math.cos(0.5)) <= math.sqrt(losses.EPS) * math.sin(0.5) + 1e-12


# --------------------------------------------------------------------------- SphereFace
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_sphereface_psi_matches_the_piecewise_formula(m, dtype):
    thetas = [i * math.pi / 200 for i in range(201)]  # includes every k pi / m boundary, 0 and pi
    cos = torch.tensor([math.cos(t) for t in thetas], dtype=dtype)
    expected = [psi_reference(t, m) for t in thetas]
    assert_close(losses.sphereface_psi(cos, m), expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("m", "lamb"), [(4, 0.0), (2, 0.0), (4, 2.5), (3, 1000.0), (1, 5.0)])
def test_sphereface_logits_and_loss(m, lamb, dtype):
    embeddings, weight, labels = placed(dtype)
    head = make_head(losses.SphereFace, weight, m=m)
    head.lamb = lamb
    # (lamb cos + psi) / (1 + lamb), scaled by |x|; lamb = 0 is pure A-Softmax
    expected = hand_logits(lambda t: (lamb * math.cos(t) + psi_reference(t, m)) / (1 + lamb), EMBEDDING_NORMS)
    assert_close(head.logits(embeddings, labels), expected, dtype)
    assert_close(head(embeddings, labels), hand_cross_entropy(expected, LABELS), dtype)
    # test time: |x| cos(theta), no margin
    assert_close(head.logits(embeddings), hand_logits(math.cos, EMBEDDING_NORMS, with_labels=False), dtype)


@pytest.mark.parametrize(
    ("base", "power", "lamb_min", "warmup"),
    [(1000.0, 1.0, 5.0, 0.5), (100.0, 2.0, 0.5, 0.25), (10.0, 0.5, 1.5, 0.9)],
)
def test_sphereface_lambda_law_over_the_fraction_of_training(base, power, lamb_min, warmup):
    head = losses.SphereFace(2, 3, m=4, lamb_base=base, lamb_power=power, lamb_min=lamb_min)
    assert head.lamb == 0.0 and head.margin_weight == 1.0  # a fresh head is the paper's formula
    # the official law, its iterations counted so that lamb reaches lamb_min at the warm-up
    gamma = (base / lamb_min) ** (1 / power) - 1
    for fraction in (0.0, 0.01, 0.1, warmup / 2, warmup, 0.95, 1.0):
        expected = max(lamb_min, base * (1 + gamma * fraction / warmup) ** -power)
        assert head.schedule(fraction, warmup=warmup) == pytest.approx(1 / (1 + expected), rel=1e-12)
        assert head.lamb == pytest.approx(expected, rel=1e-9)
    assert head.lamb_at(warmup, warmup=warmup) == pytest.approx(lamb_min, rel=1e-12)
    assert head.lamb_at(0.0, warmup=warmup) == pytest.approx(base, rel=1e-12)
    # warm-up 0: no annealing, pure A-Softmax; the default warm-up is half of training
    assert head.schedule(0.0, warmup=0.0) == 1.0
    assert head.schedule(0.25) == pytest.approx(1 / (1 + head.lamb_at(0.25, warmup=0.5)))


@pytest.mark.parametrize("name", ["normface", "cosface", "arcface", "combined"])
def test_plain_heads_warm_up_linearly_over_the_fraction(name):
    head = losses.build_loss(name, embedding_dim=2, num_classes=3)
    for fraction, expected in ((0.0, 0.0), (0.1, 0.25), (0.2, 0.5), (0.4, 1.0), (0.9, 1.0)):
        assert head.schedule(fraction, warmup=0.4) == pytest.approx(expected)
        assert head.margin_weight == pytest.approx(expected)
    assert head.schedule(0.0, warmup=0.0) == 1.0  # no warm-up: the full margin from the start
    assert head.schedule(0.0) == 1.0  # their default warm-up is 0


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2, float("nan"), True, "0.5"])
def test_the_warmup_is_a_fraction_below_one(bad):
    head = losses.CosFace(2, 3)
    with pytest.raises(ValueError, match=r"warmup must be a fraction of training in \[0, 1\)"):
        head.schedule(0.5, warmup=bad)
    with pytest.raises(ValueError, match="fraction must be a fraction"):
        head.schedule(1.5, warmup=0.5)


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.75])
@pytest.mark.parametrize("case", list(FIXED_SCALE_CASES))
def test_the_schedule_blends_the_plain_cosine_and_the_formula(case, weight):
    cls, params, target = FIXED_SCALE_CASES[case]
    embeddings, head_weight, labels = placed(torch.float64)
    head = make_head(cls, head_weight, **params)
    head.margin_weight = weight
    # cos + w (formula - cos), in the base class for every head
    blended = hand_logits(lambda t: math.cos(t) + weight * (target(t) - math.cos(t)), [params["s"]] * 6)
    assert_close(head.logits(embeddings, labels), blended, torch.float64)


# --------------------------------------------------------------------------- pytorch-metric-learning oracle
def random_batch(*, seed: int, n: int = 32, dim: int = 3, classes: int = 5, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(n, dim, generator=generator, dtype=dtype) * 3
    labels = torch.randint(classes, (n,), generator=generator)
    weight = torch.randn(classes, dim, generator=generator, dtype=dtype)
    return embeddings, labels, weight


def pml_head(pml_cls, weight: torch.Tensor, **params):
    # PML stores W as [D, C], the transpose of our [C, D]
    loss = pml_cls(num_classes=weight.shape[0], embedding_size=weight.shape[1], **params)
    with torch.no_grad():
        loss.W.data = weight.T.clone()
    return loss


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("m", "s"), [(0.5, 64.0), (0.2, 10.0), (1.2, 5.0)])
def test_arcface_matches_pytorch_metric_learning(m, s, seed):
    pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
    embeddings, labels, weight = random_batch(seed=seed)
    ours = make_head(losses.ArcFace, weight, s=s, m=m)
    # PML's ArcFace margin is in degrees; its default reducer is the mean over samples
    theirs = pml_head(pml_losses.ArcFaceLoss, weight, margin=math.degrees(m), scale=s)
    torch.testing.assert_close(ours(embeddings, labels), theirs(embeddings, labels), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(ours.logits(embeddings), theirs.get_logits(embeddings), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("m", "s"), [(0.35, 64.0), (0.1, 10.0)])
def test_cosface_matches_pytorch_metric_learning(m, s, seed):
    pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
    embeddings, labels, weight = random_batch(seed=seed)
    ours = make_head(losses.CosFace, weight, s=s, m=m)
    theirs = pml_head(pml_losses.CosFaceLoss, weight, margin=m, scale=s)
    torch.testing.assert_close(ours(embeddings, labels), theirs(embeddings, labels), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_sphereface_without_annealing_matches_pytorch_metric_learning(m):
    pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
    embeddings, labels, weight = random_batch(seed=m)
    ours = make_head(losses.SphereFace, weight, m=m)
    ours.lamb = 0.0  # PML's SphereFaceLoss has no lambda annealing
    theirs = pml_head(pml_losses.SphereFaceLoss, weight, margin=m, scale=1)
    torch.testing.assert_close(ours(embeddings, labels), theirs(embeddings, labels), rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- target_logit_curve
CURVE_CASES = [
    ("softmax", {}, lambda t: 2.0 * math.cos(t)),
    ("normface", {"s": 10.0}, lambda t: 10 * math.cos(t)),
    ("cosface", {"s": 10.0, "m": 0.35}, lambda t: 10 * (math.cos(t) - 0.35)),
    ("arcface", {"s": 10.0, "m": 0.5}, lambda t: 10 * arcface_reference(0.5)(t)),
    ("arcface", {"s": 4.0, "m": 0.5, "easy_margin": True}, lambda t: 4 * easy_margin_reference(0.5)(t)),
    (
        "combined",
        {"s": 10.0, "m1": 0.9 + 0.1, "m2": 0.3, "m3": 0.2},
        lambda t: 10 * combined_reference(1, 0.3, 0.2)(t),
    ),
    ("sphereface", {"m": 4}, lambda t: 2.0 * psi_reference(t, 4)),
    ("sphereface", {"m": 2, "lamb": 3.0}, lambda t: 2.0 * (3 * math.cos(t) + psi_reference(t, 2)) / 4),
]


@pytest.mark.parametrize(("loss", "params", "formula"), CURVE_CASES)
def test_target_logit_curve_matches_formula(loss, params, formula):
    # the open interval (0, pi); the end points are checked below with the clamps' tolerance
    thetas = [i * math.pi / 90 for i in range(1, 90)]
    curve = losses.target_logit_curve(
        loss, torch.tensor(thetas, dtype=torch.float64), feature_norm=2.0, **params
    )
    expected = torch.tensor([formula(t) for t in thetas], dtype=torch.float64)
    torch.testing.assert_close(curve, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("loss", "params", "formula"), CURVE_CASES)
def test_target_logit_curve_end_points_within_the_clamp_tolerance(loss, params, formula):
    # at theta = 0 and pi the sqrt/acos clamps (EPS) shift theta by at most sqrt(2 EPS)
    thetas = torch.tensor([0.0, math.pi], dtype=torch.float64)
    curve = losses.target_logit_curve(loss, thetas, feature_norm=2.0, **params)
    scale = params.get("s", 2.0) * params.get("m1", 1.0)
    for value, theta in zip(curve.tolist(), thetas.tolist(), strict=True):
        assert abs(value - formula(theta)) <= scale * math.sqrt(2 * losses.EPS) + 1e-9


# --------------------------------------------------------------------------- finite everywhere (hypothesis)
HEAD_CONFIGS = [
    ("softmax", {}),
    ("normface", {"s": 1.0}),
    ("normface", {"s": 64.0}),
    ("cosface", {"s": 64.0, "m": 0.35}),
    ("cosface", {"s": 10.0, "m": 0.0}),
    ("arcface", {"s": 64.0, "m": 0.5}),
    ("arcface", {"s": 10.0, "m": 3.0}),
    ("arcface", {"s": 10.0, "m": 0.2, "easy_margin": True}),
    ("combined", {"s": 30.0, "m1": 1.0, "m2": 0.3, "m3": 0.2}),
    ("combined", {"s": 10.0, "m1": 2.0, "m2": 0.4, "m3": 0.15}),
    ("sphereface", {"m": 1}),
    ("sphereface", {"m": 4}),
]
# theta = 0, theta = pi, tiny, exactly zero and huge embeddings, next to random ones
KINDS = ("random", "on_weight", "opposite", "tiny", "zero", "huge")


@st.composite
def head_inputs(draw):
    name, params = draw(st.sampled_from(HEAD_CONFIGS))
    dim, classes, n = draw(st.integers(2, 4)), draw(st.integers(2, 5)), draw(st.integers(1, 6))
    kind, seed = draw(st.sampled_from(KINDS)), draw(st.integers(0, 2**16))
    dtype = draw(st.sampled_from(DTYPES))
    lamb = draw(st.sampled_from([0.0, 5.0, 1000.0]))
    return name, params, dim, classes, n, kind, seed, dtype, lamb


def extreme_embeddings(kind: str, weight: torch.Tensor, labels: torch.Tensor, generator) -> torch.Tensor:
    random = torch.randn(len(labels), weight.shape[1], generator=generator, dtype=weight.dtype)
    return {
        "random": random,
        "on_weight": 3.0 * weight[labels],  # theta = 0 exactly
        "opposite": -weight[labels],  # theta = pi exactly
        "tiny": 1e-30 * random,
        "zero": torch.zeros_like(random),
        "huge": 1e15 * random,
    }[kind]


def assert_finite_loss_and_gradients(name, params, *, dim, classes, n, kind, seed, dtype, lamb):
    generator = torch.Generator().manual_seed(seed)
    head = losses.build_loss(name, embedding_dim=dim, num_classes=classes, **params).to(dtype)
    if isinstance(head, losses.SphereFace):
        head.lamb = lamb
    labels = torch.randint(classes, (n,), generator=generator)
    with torch.no_grad():
        head.weight.copy_(torch.randn(classes, dim, generator=generator, dtype=dtype))
    embeddings = extreme_embeddings(kind, head.weight.detach(), labels, generator).requires_grad_()
    loss = head(embeddings, labels)
    loss.backward()
    case = f"{name} {params} {kind} {dtype}"
    assert torch.isfinite(loss), f"{case}: loss {loss}"
    assert torch.isfinite(embeddings.grad).all(), f"{case}: embedding gradient {embeddings.grad}"
    assert torch.isfinite(head.weight.grad).all(), f"{case}: weight gradient {head.weight.grad}"


@settings(max_examples=80, deadline=None)
@given(head_inputs())
def test_heads_give_finite_loss_and_gradients(inputs):
    name, params, dim, classes, n, kind, seed, dtype, lamb = inputs
    assert_finite_loss_and_gradients(
        name, params, dim=dim, classes=classes, n=n, kind=kind, seed=seed, dtype=dtype, lamb=lamb
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("name", "params"), HEAD_CONFIGS)
def test_every_head_is_finite_at_every_extreme(name, params, kind):
    # the deterministic grid behind the random search above: every head x every extreme, float32
    for lamb in (0.0, 5.0):
        assert_finite_loss_and_gradients(
            name, params, dim=2, classes=3, n=6, kind=kind, seed=0, dtype=torch.float32, lamb=lamb
        )


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", list(losses.HEADS))
def test_labels_out_of_range_name_the_range(name):
    head = losses.build_loss(name, embedding_dim=2, num_classes=3)
    embeddings = torch.randn(4, 2)
    for bad in ([0, 1, 2, 3], [-1, 0, 1, 2]):
        with pytest.raises(ValueError, match=r"\[0, 3\)"):
            head(embeddings, torch.tensor(bad))
    with pytest.raises(ValueError, match="integer"):
        head(embeddings, torch.tensor([0.0, 1.0, 2.0, 1.0]))


@pytest.mark.parametrize("name", list(losses.HEADS))
def test_nan_embeddings_are_rejected(name):
    head = losses.build_loss(name, embedding_dim=2, num_classes=3)
    embeddings = torch.tensor([[0.1, float("nan")], [1.0, 2.0]])
    with pytest.raises(ValueError, match="NaN"):
        head(embeddings, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="NaN"):
        head.logits(embeddings)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("cosface", {"m": -0.6}),
        ("arcface", {"m": -0.51}),
        ("arcface", {"m": math.pi}),
        ("arcface", {"m": 4.0}),
        ("combined", {"m2": -0.1}),
        ("combined", {"m3": -0.1}),
        ("combined", {"m1": 0.5}),
        ("sphereface", {"m": 2.5}),
        ("sphereface", {"m": 0}),
        ("normface", {"s": 0.0}),
        ("normface", {"s": -1.0}),
        ("cosface", {"s": 0.0}),
        ("arcface", {"s": -10.0}),
        ("arcface", {"s": float("nan")}),
        ("contrastive", {"margin": -1.0}),
        ("contrastive", {"margin": 0.0}),
        ("triplet", {"margin": -0.2}),
        ("triplet", {"mining": "hardest"}),
    ],
)
def test_bad_parameters_raise_value_error(name, params):
    with pytest.raises(ValueError, match=r"(?i)margin|scale|\bm\d?\b|mining"):
        losses.build_loss(name, embedding_dim=2, num_classes=3, **params)


def test_unknown_loss_lists_the_choices():
    with pytest.raises(ValueError, match="arcface"):
        losses.build_loss("largemargin", embedding_dim=2, num_classes=3)


def test_metric_losses_reject_nan():
    bad = torch.tensor([[float("nan"), 0.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="NaN"):
        losses.ContrastiveLoss()(bad, torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="NaN"):
        losses.ContrastiveLoss().pair_loss(bad, torch.zeros(2, 2), torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="NaN"):
        losses.TripletLoss()(bad, torch.tensor([0, 0]))


# --------------------------------------------------------------------------- contrastive
@pytest.mark.parametrize("dtype", DTYPES)
def test_contrastive_matches_hand_formula(dtype):
    # identical points are left to the next test: the library floors d at 1e-6 there
    x1 = [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [3.0, 4.0], [0.5, 0.0], [0.1, 0.0]]
    x2 = [[0.3, 0.4], [1.0, 1.2], [0.3, 0.4], [0.0, 0.0], [0.0, 0.0], [0.1, -0.2]]
    same = [1, 0, 0, 0, 1, 1]
    margin = 1.5
    # y d^2 + (1 - y) max(0, margin - d)^2, averaged
    terms = []
    for a, b, y in zip(x1, x2, same, strict=True):
        d = math.dist(a, b)
        terms.append(y * d * d + (1 - y) * max(0.0, margin - d) ** 2)
    loss = losses.ContrastiveLoss(margin).pair_loss(
        torch.tensor(x1, dtype=dtype), torch.tensor(x2, dtype=dtype), torch.tensor(same)
    )
    assert_close(loss, sum(terms) / len(terms), dtype)


@pytest.mark.parametrize("same", [0, 1])
def test_contrastive_gradient_is_finite_for_identical_points(same):
    x1 = torch.tensor([[0.2, -0.4], [1.0, 1.0]], requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    loss = losses.ContrastiveLoss(1.0).pair_loss(x1, x2, torch.tensor([same, same]))
    loss.backward()
    # same pair: d^2 = 0; different pair: margin^2, up to the distance floor (d >= 1e-6)
    assert loss.item() == pytest.approx(0.0 if same else 1.0, abs=1e-5)
    assert torch.isfinite(x1.grad).all() and torch.isfinite(x2.grad).all()


# --------------------------------------------------------------------------- triplet: brute force
def brute_distances(embeddings: torch.Tensor, *, squared: bool, normalize: bool = True) -> list[list[float]]:
    points = [[float(v) for v in row] for row in embeddings]
    if normalize:
        points = [[v / math.hypot(*row) for v in row] for row in points]
    return [[math.dist(a, b) ** (2 if squared else 1) for b in points] for a in points]


def brute_triplets(labels: list[int]):
    """Every valid (anchor, positive, negative): same label, a != p; different label for n."""
    n = range(len(labels))
    return [
        (a, p, q) for a, p, q in itertools.product(n, n, n) if a != p and labels[a] == labels[p] != labels[q]
    ]


def small_triplet_batch(seed: int, *, n: int = 12, dim: int = 3, classes: int = 3):
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    labels = torch.randint(classes, (n,), generator=generator)
    return embeddings, labels


@pytest.mark.parametrize("squared", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_semi_hard_mining_and_loss_match_brute_force(seed, squared):
    embeddings, labels = small_triplet_batch(seed)
    margin = 0.3
    loss_fn = losses.TripletLoss(margin, "semi-hard", squared=squared)
    d = brute_distances(embeddings, squared=squared)
    # semi-hard: d(a,p) < d(a,n) < d(a,p) + margin
    expected = {
        t for t in brute_triplets(labels.tolist()) if d[t[0]][t[1]] < d[t[0]][t[2]] < d[t[0]][t[1]] + margin
    }
    mined = set(zip(*(i.tolist() for i in loss_fn.mine(embeddings, labels)), strict=True))
    assert mined == expected
    assert expected, "the random batch should contain semi-hard triplets"
    values = [d[a][p] - d[a][q] + margin for a, p, q in expected]
    assert loss_fn(embeddings, labels).item() == pytest.approx(sum(values) / len(values), rel=1e-9)


@pytest.mark.parametrize("squared", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_batch_hard_mining_and_loss_match_brute_force(seed, squared):
    embeddings, labels = small_triplet_batch(seed)
    margin = 0.2
    loss_fn = losses.TripletLoss(margin, "batch-hard", squared=squared)
    d, y = brute_distances(embeddings, squared=squared), labels.tolist()
    expected = {}
    for a in range(len(y)):
        positives = [d[a][p] for p in range(len(y)) if p != a and y[p] == y[a]]
        negatives = [d[a][q] for q in range(len(y)) if y[q] != y[a]]
        if positives and negatives:
            expected[a] = (max(positives), min(negatives))  # hardest positive, hardest negative
    anchors, positives, negatives = loss_fn.mine(embeddings, labels)
    assert anchors.tolist() == sorted(expected)
    for a, p, q in zip(anchors.tolist(), positives.tolist(), negatives.tolist(), strict=True):
        assert (d[a][p], d[a][q]) == pytest.approx(expected[a], rel=1e-9)
    values = [max(0.0, hp - hn + margin) for hp, hn in expected.values()]
    assert loss_fn(embeddings, labels).item() == pytest.approx(sum(values) / len(values), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_batch_all_mining_and_loss_match_brute_force(seed):
    embeddings, labels = small_triplet_batch(seed)
    margin = 0.5
    loss_fn = losses.TripletLoss(margin, "batch-all")
    d = brute_distances(embeddings, squared=True)
    # every triplet that still violates the margin; the loss averages the positive ones
    values = {(a, p, q): d[a][p] - d[a][q] + margin for a, p, q in brute_triplets(labels.tolist())}
    active = {t: v for t, v in values.items() if v > 0}
    assert set(zip(*(i.tolist() for i in loss_fn.mine(embeddings, labels)), strict=True)) == set(active)
    assert loss_fn(embeddings, labels).item() == pytest.approx(sum(active.values()) / len(active), rel=1e-9)


def test_random_mining_gives_one_valid_negative_per_positive_pair():
    embeddings, labels = small_triplet_batch(0)
    a, p, n = losses.TripletLoss(0.2, "random").mine(embeddings, labels)
    pairs = {(i, j) for i, j, _ in brute_triplets(labels.tolist())}
    assert set(zip(a.tolist(), p.tolist(), strict=True)) == pairs and len(a) == len(pairs)
    assert (labels[a] == labels[p]).all() and (labels[a] != labels[n]).all()


@pytest.mark.parametrize("mining", losses.TripletLoss.MINING)
def test_triplet_zero_loss_still_backpropagates(mining):
    # two tight, opposite clusters: every negative is far beyond the margin
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 1e-3], [-1.0, 0.0], [-1.0, -1e-3]], requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1])
    loss = losses.TripletLoss(0.2, mining)(embeddings, labels)
    assert loss.item() == 0.0 and loss.grad_fn is not None
    loss.backward()
    assert torch.equal(embeddings.grad, torch.zeros_like(embeddings))


@pytest.mark.parametrize("squared", [True, False])
def test_triplet_gradient_is_finite_for_identical_points(squared):
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    loss = losses.TripletLoss(0.2, "batch-hard", squared=squared)(embeddings, torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(embeddings.grad).all()


@pytest.mark.parametrize(("squared", "power"), [(True, 2), (False, 1)])
@pytest.mark.parametrize("seed", range(3))
def test_semi_hard_triplet_matches_pytorch_metric_learning(seed, squared, power):
    """PML's semihard miner keeps 0 < d(a,n) - d(a,p) <= margin (ours: < margin, the same
    on continuous data); its LpDistance(power=2) is our squared distance and power=1 (its
    default) our squared=False. Its AvgNonZeroReducer averages the positive losses, which
    for semi-hard triplets are all of them."""
    pytest.importorskip("pytorch_metric_learning")
    from pytorch_metric_learning import losses as pml_losses
    from pytorch_metric_learning import miners
    from pytorch_metric_learning.distances import LpDistance

    embeddings, labels = small_triplet_batch(seed, n=24)
    margin = 0.3
    distance = LpDistance(normalize_embeddings=True, p=2, power=power)
    miner = miners.TripletMarginMiner(margin=margin, type_of_triplets="semihard", distance=distance)
    theirs = pml_losses.TripletMarginLoss(margin=margin, distance=distance)
    ours = losses.TripletLoss(margin, "semi-hard", squared=squared)
    their_triplets = miner(embeddings, labels)
    assert set(zip(*(i.tolist() for i in ours.mine(embeddings, labels)), strict=True)) == set(
        zip(*(i.tolist() for i in their_triplets), strict=True)
    )
    expected = theirs(embeddings, labels, their_triplets)
    torch.testing.assert_close(ours(embeddings, labels), expected, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- initial class directions
def _largest_cosine(weight: torch.Tensor) -> float:
    cos = weight @ weight.T
    return cos.fill_diagonal_(-2.0).max().item()


@pytest.mark.parametrize("num_classes", [2, 3, 10, 40])
def test_spread_directions_in_2d_are_evenly_spaced_in_label_order(num_classes):
    weight = losses.spread_directions(num_classes, 2)
    angle = torch.atan2(weight[:, 1], weight[:, 0]).remainder(2 * math.pi)
    expected = torch.arange(num_classes) * (2 * math.pi / num_classes)
    torch.testing.assert_close(angle, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(weight.norm(dim=1), torch.ones(num_classes))


@pytest.mark.parametrize(
    ("num_classes", "best_cosine"),
    # triangle, tetrahedron, octahedron, icosahedron
    [(3, -0.5), (4, -1 / 3), (6, 0.0), (12, 1 / math.sqrt(5))],
)
def test_spread_directions_in_3d_reach_the_known_optimal_configurations(num_classes, best_cosine):
    torch.manual_seed(0)
    weight = losses.spread_directions(num_classes, 3)
    torch.testing.assert_close(weight.norm(dim=1), torch.ones(num_classes))
    assert _largest_cosine(weight) == pytest.approx(best_cosine, abs=0.02)


@pytest.mark.parametrize(("num_classes", "embedding_dim"), [(10, 3), (40, 3), (30, 128)])
def test_spread_directions_are_further_apart_than_random_ones(num_classes, embedding_dim):
    torch.manual_seed(1)
    spread = losses.spread_directions(num_classes, embedding_dim)
    random = torch.nn.functional.normalize(torch.randn(num_classes, embedding_dim), dim=1)
    assert _largest_cosine(spread) < _largest_cosine(random) - 0.05


def test_spread_directions_follow_the_torch_seed():
    torch.manual_seed(3)
    first = losses.spread_directions(10, 3)
    torch.manual_seed(3)
    torch.testing.assert_close(losses.spread_directions(10, 3), first, atol=0, rtol=0)
    assert not torch.allclose(losses.spread_directions(10, 3), first)


@pytest.mark.parametrize("name", ["normface", "sphereface", "cosface", "arcface", "combined"])
def test_normalised_heads_start_from_spread_unit_directions(name):
    head = losses.build_loss(name, embedding_dim=2, num_classes=10)
    torch.testing.assert_close(head.weight.data, losses.spread_directions(10, 2))


def test_softmax_keeps_the_linear_layers_xavier_start():
    torch.manual_seed(0)
    head = losses.Softmax(2, 10)
    bound = math.sqrt(6 / (2 + 10))
    assert head.weight.abs().max() <= bound
    assert head.weight.norm(dim=1).std() > 0.01  # not unit rows


# --------------------------------------------------------------------------- one interface for every loss
@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_every_loss_has_a_name_and_a_config_that_rebuilds_it(name):
    loss = losses.build_loss(name, embedding_dim=3, num_classes=4)
    assert loss.name == name and isinstance(loss, losses.Loss)
    rebuilt = losses.build_loss(loss.name, **loss.config())
    assert type(rebuilt) is type(loss) and rebuilt.config() == loss.config()
    # only heads have an embedding dimension and classes; no placeholders elsewhere
    assert ("embedding_dim" in loss.config()) == ("num_classes" in loss.config()) == loss.classifies
    assert hasattr(loss, "logits") == loss.classifies


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_every_loss_takes_embeddings_and_labels(name):
    loss = losses.build_loss(name, embedding_dim=3, num_classes=4)
    # a P x K batch: 4 classes x 3 samples
    labels = torch.arange(4).repeat_interleave(3)
    embeddings = torch.randn(12, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    value = loss(embeddings, labels)
    value.backward()
    assert value.dim() == 0 and torch.isfinite(value) and torch.isfinite(embeddings.grad).all()


def test_a_head_needs_its_dimension_and_classes():
    with pytest.raises(ValueError, match="embedding_dim and num_classes"):
        losses.build_loss("cosface", m=0.2)
    assert losses.build_loss("triplet", mining="batch-hard").config()["mining"] == "batch-hard"


def test_contrastive_pairs_are_balanced():
    # a P x K batch: P = 4 classes, K = 3 samples each, grouped in blocks
    labels = torch.tensor([7, 7, 7, 2, 2, 2, 5, 5, 5, 0, 0, 0])
    embeddings = torch.arange(12.0).view(12, 1).expand(12, 2)  # row i holds the value i
    x1, x2, same = losses.contrastive_pairs(embeddings, labels)
    assert x1.shape == x2.shape == (24, 2) and same.shape == (24,)
    assert same[:12].all() and not same[12:].any()  # 12 positive pairs, then 12 negative pairs
    first, second = x1[:, 0].long(), x2[:, 0].long()
    assert (first != second).all()  # never a sample with itself
    assert torch.equal(labels[first] == labels[second], same)


def test_contrastive_forward_is_the_pair_loss_of_the_batch_pairs():
    labels = torch.tensor([3, 3, 1, 1, 0, 0])
    embeddings = torch.randn(6, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    loss = losses.ContrastiveLoss(1.5)
    # pairs by hand: (i, next in its block) are positive, (i, same slot in the next block) negative
    positive, negative = [1, 0, 3, 2, 5, 4], [2, 3, 4, 5, 0, 1]
    terms = [math.dist(embeddings[i], embeddings[j]) ** 2 for i, j in enumerate(positive)]
    terms += [max(0.0, 1.5 - math.dist(embeddings[i], embeddings[j])) ** 2 for i, j in enumerate(negative)]
    assert loss(embeddings, labels).item() == pytest.approx(sum(terms) / len(terms), rel=1e-12)


# --------------------------------------------------------------------------- bad input: the mend named
@pytest.mark.parametrize("m", [7, 10**5, 1e9])
def test_sphereface_m_is_bounded_to_what_the_lessons_use(m):
    with pytest.raises(ValueError, match=r"integer in 1\.\.6"):
        losses.SphereFace(2, 3, m=m)
    assert losses.SphereFace(2, 3, m=6).m == 6


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_an_empty_batch_is_a_clear_error(name):
    loss = losses.build_loss(name, embedding_dim=2, num_classes=3)
    with pytest.raises(ValueError, match="empty batch"):
        loss(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))


@pytest.mark.parametrize("mining", losses.TripletLoss.MINING)
def test_triplet_without_any_valid_triplet_is_an_exact_zero(mining):
    loss_fn = losses.TripletLoss(0.2, mining)
    for labels in (torch.tensor([1, 1, 1]), torch.tensor([0, 1, 2]), torch.tensor([4])):
        embeddings = torch.randn(len(labels), 2, requires_grad=True)
        assert loss_fn(embeddings, labels).item() == 0.0
    with pytest.raises(ValueError, match="empty batch"):
        loss_fn.mine(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))


@pytest.mark.parametrize("mining", losses.TripletLoss.MINING)
def test_triplet_labels_of_the_wrong_length_are_rejected(mining):
    embeddings = torch.randn(6, 2)
    with pytest.raises(ValueError, match="got 4 labels for 6 embeddings"):
        losses.TripletLoss(0.2, mining)(embeddings, torch.tensor([0, 0, 1, 1]))


@pytest.mark.parametrize(
    ("name", "params", "reason"),
    [
        ("cosface", {"m": 2.0}, "< 2"),
        ("cosface", {"m": 1e6}, "< 2"),
        ("combined", {"m3": 2.5}, "< 2"),
        ("cosface", {"m": True}, "finite number"),
        ("arcface", {"m": True}, "finite number"),
        ("combined", {"m2": True}, "finite number"),
        ("normface", {"s": True}, "finite number"),
        ("contrastive", {"margin": True}, "finite number"),
        ("triplet", {"margin": True}, "finite number"),
        ("sphereface", {"m": True}, "integer"),
        ("sphereface", {"lamb_min": -1.0}, "lamb_min must be a finite number >= 0"),
        ("sphereface", {"lamb_base": -5.0}, "lamb_base must be a finite number >= 0"),
        ("sphereface", {"lamb_power": 0.0}, "lamb_power"),
    ],
)
def test_impossible_or_mistyped_parameters_are_rejected(name, params, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        losses.build_loss(name, embedding_dim=2, num_classes=3, **params)


def test_a_negative_sphereface_lambda_is_rejected():
    head = losses.SphereFace(2, 3)
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="lamb must be a finite number >= 0"):
            head.lamb = bad
    head.lamb = math.inf  # no margin at all: allowed
    assert head.margin_weight == 0.0


def test_contrastive_pair_labels_must_be_zero_or_one():
    x1, x2 = torch.randn(3, 2), torch.randn(3, 2)
    with pytest.raises(ValueError, match="0 \\(different\\) or 1 \\(same\\)"):
        losses.ContrastiveLoss().pair_loss(x1, x2, torch.tensor([1, 2, 0]))
    with pytest.raises(ValueError, match=r"tensor \[3\]"):
        losses.ContrastiveLoss().pair_loss(x1, x2, torch.tensor([1, 0]))
    assert torch.isfinite(losses.ContrastiveLoss().pair_loss(x1, x2, torch.tensor([True, False, True])))


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_labels_of_shape_n_by_1_name_the_fix(name):
    loss = losses.build_loss(name, embedding_dim=2, num_classes=3)
    with pytest.raises(
        ValueError, match=r"labels must be 1-D \[N\], got shape \[4, 1\]: pass labels.view\(-1\)"
    ):
        loss(torch.randn(4, 2), torch.tensor([[0], [1], [0], [1]]))


@pytest.mark.parametrize("name", list(losses.HEADS))
def test_a_wrong_embedding_dimension_names_both_and_the_fix(name):
    head = losses.build_loss(name, embedding_dim=2, num_classes=3)
    with pytest.raises(
        ValueError, match="dimension 3 but the head expects 2: build the head with embedding_dim=3"
    ):
        head(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="got 3 labels for 4 embeddings"):
        head(torch.randn(4, 2), torch.tensor([0, 1, 2]))


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_integer_embeddings_name_the_fix(name):
    loss = losses.build_loss(name, embedding_dim=2, num_classes=3)
    with pytest.raises(ValueError, match=r"floating-point tensor, got torch.int64: convert with .float\(\)"):
        loss(torch.ones(4, 2, dtype=torch.long), torch.tensor([0, 0, 1, 1]))


def test_numpy_numbers_are_numbers():
    head = losses.CosFace(2, 3, s=np.float32(16.0), m=np.float32(0.25))
    assert head.config() == {"embedding_dim": 2, "num_classes": 3, "s": 16.0, "m": 0.25}
    assert type(head.config()["m"]) is float
    assert losses.SphereFace(np.int64(2), np.int64(3), m=np.int64(3)).m == 3
    assert losses.ArcFace(2, 3, m=np.float64(0.3)).m == pytest.approx(0.3)
    assert losses.TripletLoss(np.float32(0.5)).margin == 0.5


# ------------------------------------------------------------------- issue 21: dtype, device, huge norms
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("name", ["softmax", "normface", "sphereface", "cosface", "arcface", "combined"])
def test_embeddings_of_another_dtype_name_the_fix(name, dtype):
    head = losses.build_loss(name, embedding_dim=2, num_classes=3)
    with pytest.raises(ValueError, match=rf"embeddings are {dtype} but the head's weights are torch.float32"):
        head(torch.ones(4, 2, dtype=dtype), torch.tensor([0, 1, 2, 0]))


@pytest.mark.parametrize("name", ["arcface", "contrastive", "triplet"])
def test_meta_embeddings_are_refused_with_a_message(name):
    loss = losses.build_loss(name, embedding_dim=2, num_classes=3)
    with pytest.raises(ValueError, match="meta tensors"):
        loss(torch.ones(4, 2, device="meta"), torch.tensor([0, 1, 2, 0]))


def test_a_head_on_meta_names_the_device():
    head = losses.build_loss("cosface", embedding_dim=2, num_classes=3).to("meta")
    with pytest.raises(ValueError, match=r"embeddings are on cpu but the head is on meta: move one"):
        head(torch.ones(4, 2), torch.tensor([0, 1, 2, 0]))


@pytest.mark.parametrize("name", ["sphereface", "contrastive"])
@pytest.mark.parametrize("norm", [1e19, 1e20, 1e30])
def test_huge_finite_embeddings_give_a_message_not_nan(name, norm):
    loss = losses.build_loss(name, embedding_dim=2, num_classes=3)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]) * norm
    with pytest.raises(ValueError, match="where their squares overflow torch.float32: the network diverged"):
        loss(x, torch.tensor([0, 0, 1, 1]))


@pytest.mark.parametrize("name", ["sphereface", "contrastive"])
def test_large_norms_below_the_bound_still_give_finite_losses(name):
    loss = losses.build_loss(name, embedding_dim=2, num_classes=3)
    x = (torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.2], [0.3, -1.0]]) * 1e18).requires_grad_()
    value = loss(x, torch.tensor([0, 0, 1, 1]))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()
