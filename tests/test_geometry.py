"""minifacenet.geometry: the margin geometry, checked against closed forms written out here."""

import math

import numpy as np
import pytest
import torch

from minifacenet import losses
from minifacenet.frames import Scene, compute_frame, snapshot_data
from minifacenet.geometry import (
    CosineCache,
    Margin,
    arc_lengths,
    binary_regions,
    circle_points,
    cosface_margin_upper_bound,
    describe,
    explorer_losses,
    has_margin,
    margin_arcs,
    probability_around_circle,
    region_labels,
    scale_lower_bound,
    sphere_grid,
    sphere_regions,
    synthetic_2d,
    target_curves,
    violation_mask,
)


def make_head(loss, *, m, s=10.0, weight=None, **extra):
    """The margin at (m, s): what every geometry function takes (a head works too)."""
    return Margin(loss=loss, m=m, s=s, **extra)


def closed_form_target(loss, cos, *, m, m1=1.0, m3=0.2):
    """f(cos theta) from the papers' formulas, written out here (not through the library)."""
    theta = np.arccos(np.clip(cos, -1, 1))
    if loss == "normface":
        return cos
    if loss == "cosface":
        return cos - m
    if loss == "arcface":
        return np.where(theta + m <= math.pi, np.cos(theta + m), cos - m * math.sin(m))
    if loss == "sphereface":
        k = np.minimum(np.floor(m * theta / math.pi), m - 1)
        return (-1.0) ** k * np.cos(m * theta) - 2 * k
    angle = m1 * theta + m
    return np.where(angle <= math.pi, np.cos(angle), -1 - (angle - math.pi)) - m3


# uneven class angles (radians), so neighbouring gaps differ: 50, 70, 90, 60, 90 degrees
ANGLES = np.radians([0.0, 50.0, 120.0, 210.0, 270.0])
WEIGHT = circle_points(ANGLES)


def neighbour_gaps(angles):
    """For each class: the angle to its counter-clockwise and to its clockwise neighbour."""
    ccw = (np.roll(angles, -1) - angles) % (2 * math.pi)
    return ccw, np.roll(ccw, 1)


def single_arcs(weight, head):
    arcs = margin_arcs(weight, head)
    assert all(len(a) == 1 for a in arcs), arcs
    return np.array([a[0] for a in arcs])  # [C, 2]


def arc_extent(arcs, angles):
    """How far each arc reaches from its class weight: (clockwise, counter-clockwise)."""
    start = (angles - arcs[:, 0] + math.pi) % (2 * math.pi) - math.pi
    end = (arcs[:, 1] - angles + math.pi) % (2 * math.pi) - math.pi
    return start, end


def arcs_around_weights(loss: str, m: float):
    """The arcs of ``loss`` at ``m`` on WEIGHT, the angles to each weight's (ccw, cw) neighbours,
    and how far each arc reaches from its weight (clockwise, counter-clockwise)."""
    arcs = single_arcs(WEIGHT, make_head(loss, m=m, weight=WEIGHT))
    return arcs, neighbour_gaps(ANGLES), arc_extent(arcs, ANGLES)


@pytest.mark.parametrize("m", [0.05, 0.2, 0.4])
def test_arcface_arc_ends_exactly_m_inside_each_voronoi_boundary(m):
    """ArcFace: theta_y + m < theta_j, so the gap around each bisector is exactly m wide."""
    arcs, (ccw, cw), (back, forward) = arcs_around_weights("arcface", m)
    # the Voronoi boundary is the bisector, at half the gap; the arc stops m/2 before it
    np.testing.assert_allclose(forward, ccw / 2 - m / 2, atol=1e-9)
    np.testing.assert_allclose(back, cw / 2 - m / 2, atol=1e-9)
    # so the gap between neighbouring arcs is m, whatever the angle between the weights
    gaps = (np.roll(arcs[:, 0], -1) - arcs[:, 1]) % (2 * math.pi)
    np.testing.assert_allclose(gaps, m, atol=1e-9)


@pytest.mark.parametrize("m", [0.05, 0.15, 0.25])
def test_cosface_arc_depends_on_the_angle_between_weights(m):
    """CosFace: cos t - m = cos(D - t) gives t = D/2 - arcsin(m / (2 sin(D/2)))."""
    arcs, (ccw, cw), (back, forward) = arcs_around_weights("cosface", m)
    np.testing.assert_allclose(forward, ccw / 2 - np.arcsin(m / (2 * np.sin(ccw / 2))), atol=1e-9)
    np.testing.assert_allclose(back, cw / 2 - np.arcsin(m / (2 * np.sin(cw / 2))), atol=1e-9)
    # unlike ArcFace the gap is not constant: wider between close weights
    gaps = (np.roll(arcs[:, 0], -1) - arcs[:, 1]) % (2 * math.pi)
    assert gaps.max() - gaps.min() > 0.01


@pytest.mark.parametrize("m", [2, 3, 4])
def test_sphereface_arc_from_m_theta_y_below_theta_j(m):
    """SphereFace: m t < theta_j for every j. Moving t away from W_y, a class D ahead is at
    D - t and the same class seen from behind at (2 pi - D) + t, so the arc reaches
    min over j of min(D_j / (m + 1), (2 pi - D_j) / (m - 1)); with m = 4 a class that is
    not a neighbour can bind."""
    _, _, (back, forward) = arcs_around_weights("sphereface", m)
    for y in range(len(ANGLES)):
        ahead = np.delete((ANGLES - ANGLES[y]) % (2 * math.pi), y)  # counter-clockwise distances
        for reach, distances in ((forward[y], ahead), (back[y], 2 * math.pi - ahead)):
            expected = np.minimum(distances / (m + 1), (2 * math.pi - distances) / (m - 1)).min()
            assert reach == pytest.approx(expected, abs=1e-9)


def test_no_margin_arcs_tile_the_circle():
    arcs = margin_arcs(WEIGHT, make_head("normface", m=0.0, weight=WEIGHT))
    assert arc_lengths(arcs).sum() == pytest.approx(2 * math.pi, abs=1e-9)


@pytest.mark.parametrize("num_classes", [4, 10])
def test_cosface_2d_upper_bound_is_where_arcs_vanish(num_classes):
    """Evenly spaced weights: arcs exist just below m = 1 - cos(2 pi / C), none just above
    (1e-4 below, an arc is ~1e-4 rad wide: far narrower than the sampling grid)."""
    weight = circle_points(np.linspace(0, 2 * math.pi, num_classes, endpoint=False))
    bound = cosface_margin_upper_bound(num_classes)
    below = margin_arcs(weight, make_head("cosface", m=bound - 1e-4, weight=weight))
    above = margin_arcs(weight, make_head("cosface", m=bound + 1e-4, weight=weight))
    assert (arc_lengths(below) > 0).all() and (arc_lengths(above) == 0).all()
    if num_classes == 10:
        assert bound == pytest.approx(0.191, abs=1e-3)


def brute_force_violations(embeddings, labels, weight, loss, m):
    """Count with the closed-form margin, one sample at a time."""
    directions = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    weight = weight / np.linalg.norm(weight, axis=1, keepdims=True)
    count = 0
    for x, y in zip(directions, labels, strict=True):
        cos = weight @ x
        target = closed_form_target(loss, cos[y], m=m)
        count += int(not target > np.delete(cos, y).max())
    return count


@pytest.mark.parametrize("loss", explorer_losses())
def test_violations_equal_a_brute_force_count(loss):
    embeddings, labels, weight = synthetic_2d(num_classes=5, per_class=30, spread=0.3, seed=1)
    m = 2 if loss == "sphereface" else 0.15
    mask = violation_mask(embeddings, labels, weight, loss=loss, m=m, s=12.0)
    assert 0 < mask.sum() < len(mask)
    assert mask.sum() == brute_force_violations(embeddings, labels, weight, loss, m)


def real_head(cls, weight, **params):
    """A training head holding ``weight`` ``[C, 2]``."""
    head = cls(2, len(weight), **params)
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
    return head


def test_a_training_head_gives_the_same_count_as_its_margin():
    """Functions take a head too: its name, margin argument and s decide."""
    embeddings, labels, weight = synthetic_2d(num_classes=5, per_class=30, spread=0.3, seed=1)
    cache = CosineCache.build(embeddings, labels, weight)
    head = real_head(losses.CosFace, weight, m=0.15)
    np.testing.assert_array_equal(cache.violations(head), cache.violations(Margin(loss="cosface", m=0.15)))


@pytest.mark.parametrize("loss", explorer_losses())
@pytest.mark.parametrize("dim", [2, 3])
def test_more_margin_never_means_fewer_violations(loss, dim):
    rng = np.random.default_rng(dim)
    weight = rng.normal(size=(6, dim))
    labels = rng.integers(0, 6, 2000)
    embeddings = weight[labels] + rng.normal(scale=0.8, size=(2000, dim))
    cache = CosineCache.build(embeddings, labels, weight)
    margins = [1, 2, 3, 4, 5] if loss == "sphereface" else np.linspace(0.0, 1.2, 25)
    counts = [cache.violations(make_head(loss, m=m, weight=weight)).sum() for m in margins]
    assert np.all(np.diff(counts) >= 0), counts
    if loss != "normface":  # normface has no margin: the count must stay put
        assert counts[-1] > counts[0]


def test_sample_violates_exactly_when_outside_its_class_arc():
    embeddings, labels, weight = synthetic_2d(num_classes=6, per_class=50, spread=0.3)
    head = make_head("arcface", m=0.2, weight=weight)
    violating = CosineCache.build(embeddings, labels, weight).violations(head)
    inside = region_labels(embeddings, weight, head) == labels
    np.testing.assert_array_equal(violating, ~inside)


def test_binary_boundaries_follow_the_published_formulas():
    theta1 = np.linspace(0.2, 2.0, 50)
    eps = 1e-6
    arc = make_head("arcface", m=0.3)
    # ArcFace: theta1 + m = theta2
    assert (binary_regions(arc, theta1, theta1 + 0.3 + eps) == 1).all()
    assert (binary_regions(arc, theta1, theta1 + 0.3 - eps) == 0).all()
    cos = make_head("cosface", m=0.2)
    # CosFace: cos theta1 - cos theta2 = m
    theta2 = np.arccos(np.cos(theta1) - 0.2)
    valid = np.isfinite(theta2)
    assert (binary_regions(cos, theta1[valid], theta2[valid] + eps) == 1).all()
    assert (binary_regions(cos, theta1[valid], theta2[valid] - eps) == 0).all()
    sphere = make_head("sphereface", m=3)
    # SphereFace: m theta1 = theta2
    small = theta1[3 * theta1 < math.pi - 0.01]
    assert (binary_regions(sphere, small, 3 * small + eps) == 1).all()
    assert (binary_regions(sphere, small, 3 * small - eps) == 0).all()


def test_probability_sharpens_with_scale():
    weight = circle_points(np.linspace(0, 2 * math.pi, 10, endpoint=False))
    phi = np.radians([0.0, 20.0])
    soft = probability_around_circle(weight, make_head("cosface", m=0.1, s=4.0, weight=weight), phi)
    sharp = probability_around_circle(weight, make_head("cosface", m=0.1, s=20.0, weight=weight), phi)
    assert sharp[0] > soft[0] and sharp[0] / sharp[1] > soft[0] / soft[1]


def test_scale_lower_bound_formula():
    # (C - 1)/C ln((C - 1) P / (1 - P)) with C = 10, P = 0.9: 0.9 ln 81
    assert scale_lower_bound(10, 0.9) == pytest.approx(0.9 * math.log(81))
    with pytest.raises(ValueError, match="0 < P < 1"):
        scale_lower_bound(10, 1.0)


def test_bad_input_names_the_fix():
    with pytest.raises(ValueError, match="choose one of"):
        Margin(loss="softmaxx", m=0.1)
    with pytest.raises(ValueError, match="share D"):
        CosineCache.build(np.zeros((4, 3)), np.zeros(4, dtype=int), np.eye(2))
    with pytest.raises(ValueError, match=r"lie in \[0, 2\)"):
        CosineCache.build(np.ones((4, 2)), np.array([0, 1, 2, 0]), np.eye(2))
    with pytest.raises(ValueError, match="2-D class weights"):
        margin_arcs(np.eye(3), make_head("arcface", m=0.1, weight=np.eye(3)))


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_embeddings_are_rejected_not_counted_as_violators(bad):
    embeddings, labels, weight = synthetic_2d(num_classes=4, per_class=5)
    embeddings[7, 1] = bad
    with pytest.raises(ValueError, match=r"1 of 20 embeddings hold NaN or inf \(first at row 7\)"):
        CosineCache.build(embeddings, labels, weight)
    weight[2, 0] = bad
    with pytest.raises(ValueError, match="class weights hold NaN or inf"):
        CosineCache.build(np.ones((3, 2)), np.zeros(3, dtype=int), weight)


def test_one_class_and_softmax_get_clear_errors():
    with pytest.raises(ValueError, match="at least 2 classes"):
        CosineCache.build(np.ones((3, 2)), np.zeros(3, dtype=int), np.ones((1, 2)))
    with pytest.raises(ValueError, match="softmax head puts no margin on a cosine; use normface"):
        Margin(loss="softmax")
    with pytest.raises(ValueError, match="softmax head puts no margin"):
        Margin.of_head(losses.Softmax(2, 3))


def test_sphereface_m4_curves_leave_the_angular_losses_at_their_own_m():
    """SphereFace's m = 4 is no angle: the other curves must not get it (ArcFace rejects m >= pi)."""
    scene = Scene.build(*synthetic_2d(num_classes=8, per_class=10))
    frame = compute_frame(scene, Margin(loss="sphereface", m=4))
    theta = np.linspace(0, math.pi, 361)
    np.testing.assert_allclose(
        frame.curves["sphereface"], closed_form_target("sphereface", np.cos(theta), m=4), atol=1e-9
    )
    assert all(np.isfinite(curve).all() for curve in frame.curves.values())


def test_curves_follow_the_closed_forms():
    theta = np.linspace(0.01, math.pi - 0.01, 50)  # the heads clamp cos to 1 - 1e-7 at the ends
    curves = target_curves(m=0.4, sphereface_m=3, theta=theta)
    for loss in ("cosface", "arcface", "combined"):
        np.testing.assert_allclose(curves[loss], closed_form_target(loss, np.cos(theta), m=0.4), atol=1e-9)
    np.testing.assert_allclose(
        curves["sphereface"], closed_form_target("sphereface", np.cos(theta), m=3), atol=1e-9
    )
    np.testing.assert_allclose(curves["arcface-naive"], np.cos(theta + 0.4))


def test_no_torch_thread_change_and_the_callers_head_stays_as_it_was(monkeypatch):
    """Reading a head's margin changes neither torch's thread count nor the head's dtype."""
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", lambda count: calls.append(count))
    weight = circle_points(np.linspace(0, 2 * math.pi, 6, endpoint=False))
    head = real_head(losses.ArcFace, weight, m=0.3)
    embeddings, labels, _ = synthetic_2d(num_classes=6, per_class=10)
    CosineCache.build(embeddings, labels, weight).violations(head)
    margin_arcs(weight, head)
    probability_around_circle(weight, head, np.linspace(-1, 1, 5))
    assert calls == [] and head.weight.dtype == torch.float32


def test_probability_matches_a_softmax_over_training_logits():
    """p(class 0) = softmax of s cos theta_j with s f(cos theta_0) at the target."""
    weight = circle_points(np.linspace(0, 2 * math.pi, 5, endpoint=False))
    phi = np.array([0.1, 0.7, 2.0])
    cos = circle_points(phi) @ weight.T
    logits = 12.0 * cos
    logits[:, 0] = 12.0 * (cos[:, 0] - 0.2)
    expected = np.exp(logits[:, 0]) / np.exp(logits).sum(1)
    got = probability_around_circle(weight, Margin(loss="cosface", m=0.2, s=12.0), phi)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_sphere_caps_and_frames_reuse_what_s_does_not_change():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(4, 3))
    labels = rng.integers(0, 4, 200)
    embeddings = weight[labels] + rng.normal(scale=0.6, size=(200, 3))
    grid = sphere_grid(rows=20, cols=40)
    caps = sphere_regions(weight, Margin(loss="arcface", m=0.3), grid)
    assert caps.shape == (20, 40) and set(np.unique(caps)) == {-1, 0, 1, 2, 3}
    scene = Scene.build(embeddings, labels, weight)
    first = compute_frame(scene, Margin(loss="arcface", m=0.3, s=10.0))
    moved_s = compute_frame(scene, Margin(loss="arcface", m=0.3, s=30.0), previous=first)
    assert moved_s.caps is first.caps and moved_s.margin.s == 30.0
    moved_m = compute_frame(scene, Margin(loss="arcface", m=0.5), previous=first)
    assert moved_m.caps is not first.caps and moved_m.count >= first.count


def test_snapshot_without_weights_uses_class_mean_directions():
    labels = np.array([0, 0, 1, 1])
    embeddings = np.array([[1.0, 0.1], [1.0, -0.1], [-0.2, 2.0], [0.2, 2.0]])
    snapshot = {"step": 5, "fraction": 0.5, "weights": None, "embeddings": embeddings}
    _, _, weight, strangers = snapshot_data(snapshot, labels)
    np.testing.assert_allclose(weight, [[1.0, 0.0], [0.0, 1.0]], atol=1e-12)
    assert strangers is None
    known, _, _, strangers = snapshot_data(snapshot, np.array([0, 0, 1, -1]))  # -1: a stranger
    np.testing.assert_array_equal(strangers, embeddings[3:])
    np.testing.assert_array_equal(known, embeddings[:3])
    with pytest.raises(ValueError, match="3 labels"):
        snapshot_data({"step": 5, "weights": None, "embeddings": embeddings}, labels[:3])


@pytest.mark.parametrize(
    ("margin", "expected"),
    [
        (Margin(loss="normface", m=0.3), False),
        (Margin(loss="arcface", m=0.0), False),
        (Margin(loss="cosface", m=0.0), False),
        (Margin(loss="sphereface", m=1), False),
        (Margin(loss="combined", m=0.0, m1=1.0, m3=0.0), False),
        (Margin(loss="arcface", m=0.2), True),
        (Margin(loss="sphereface", m=2), True),
        (Margin(loss="combined", m=0.0, m1=1.0, m3=0.1), True),
    ],
)
def test_a_title_without_a_margin_counts_misclassified_samples(margin, expected):
    """Without a margin the 'violators' are the misclassified samples, and the title says so."""
    assert has_margin(margin) is expected
    line = describe(margin, 3, 10)
    assert ("misclassified" in line) is not expected and ("violate the margin" in line) is expected


# --------------------------------------------------------------------------- issue 21: no silent clamps
@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"loss": "cosface", "m": -1.0}, "CosFace m must be >= -0.5"),
        ({"loss": "arcface", "m": -1.0}, "ArcFace m must be >= -0.5"),
        ({"loss": "arcface", "s": 0.0}, "explorer s must be > 0"),
        ({"loss": "normface", "s": -3.0}, "explorer s must be > 0"),
    ],
)
def test_the_explorer_refuses_margins_and_scales_it_would_clamp(params, reason):
    with pytest.raises(ValueError, match=reason):
        Margin(**params)


def test_the_explorer_refuses_fractional_labels_and_zero_weights():
    weight = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    embeddings = np.array([[1.0, 0.1], [0.1, 1.0]])
    with pytest.raises(ValueError, match="labels must be whole class numbers"):
        CosineCache.build(embeddings, np.array([0.0, 2.9]), weight)
    with pytest.raises(ValueError, match="class weights are all zeros"):
        CosineCache.build(embeddings, np.array([0, 1]), np.array([[1.0, 0.0], [0.0, 0.0]]))
    assert CosineCache.build(embeddings, np.array([0.0, 2.0]), weight).labels.tolist() == [0, 2]


@pytest.mark.parametrize("with_strangers", [True, False])
def test_the_circle_legend_names_strangers_only_when_the_scene_has_them(with_strangers):
    import matplotlib.pyplot as plt

    from minifacenet.views import CircleView

    embeddings, labels, weight = synthetic_2d(num_classes=4, per_class=10)
    strangers = embeddings[:5] if with_strangers else None
    scene = Scene.build(embeddings, labels, weight, strangers=strangers)
    fig, ax = plt.subplots()
    CircleView(ax, scene)
    entries = [text.get_text() for text in ax.get_legend().get_texts()]
    plt.close(fig)
    assert ("strangers" in entries) == with_strangers, entries
    assert {"class weight", "violates the margin"} <= set(entries)
