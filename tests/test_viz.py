"""Figure functions: each returns a figure whose artists hold the numbers the geometry gives."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minifacenet import (
    losses,  # noqa: E402
    viz,  # noqa: E402
)
from minifacenet.geometry import CosineCache, Margin, synthetic_2d  # noqa: E402


def make_head(loss, *, m, s=10.0, weight=None):
    return Margin(loss=loss, m=m, s=s)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_plot_embeddings_still_works():
    embeddings, labels, _ = synthetic_2d(per_class=20)
    fig = viz.plot_embeddings(embeddings, labels, title="raw", normalize=True)
    assert fig.axes[0].get_title() == "raw"
    points = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0)  # on the unit circle


def test_plot_embeddings_in_3d_on_the_sphere_with_class_directions():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(4, 3))
    labels = rng.integers(0, 4, 120)
    embeddings = 5 * weight[labels] + rng.normal(size=(120, 3))
    fig = viz.plot_embeddings(embeddings, labels, weight=weight, normalize=True, legend=False, title="3-D")
    ax = fig.axes[0]
    assert ax.name == "3d" and ax.get_title() == "3-D"
    x, y, z = ax.collections[0]._offsets3d
    np.testing.assert_allclose(np.sqrt(np.square(x) + np.square(y) + np.square(z)), 1.0)
    assert len(ax.get_lines()) == 4  # one line per class direction
    fig2d = viz.plot_embeddings(embeddings[:, :2], labels, weight=weight[:, :2], normalize=False)
    assert len(fig2d.axes[0].get_lines()) == 4


def test_target_logit_curves_come_from_the_training_heads():
    fig = viz.plot_target_logits(m=0.3, sphereface_m=3)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    theta = np.radians(lines["CosFace"].get_xdata())
    cosface = losses.target_logit_curve("cosface", torch.as_tensor(theta), s=1.0, m=0.3).numpy()
    arcface = losses.target_logit_curve("arcface", torch.as_tensor(theta), s=1.0, m=0.3).numpy()
    sphere = losses.target_logit_curve("sphereface", torch.as_tensor(theta), m=3).numpy()
    np.testing.assert_allclose(lines["CosFace"].get_ydata(), cosface, atol=1e-12)
    np.testing.assert_allclose(lines["ArcFace"].get_ydata(), arcface, atol=1e-12)
    np.testing.assert_allclose(lines["SphereFace"].get_ydata(), sphere, atol=1e-12)
    # the naive ArcFace curve turns back up past theta = pi - m; the fixed one keeps falling
    naive, fixed = lines["ArcFace, naive cos(θ+m)"].get_ydata(), lines["ArcFace"].get_ydata()
    assert naive[-1] > naive[-20] and fixed[-1] < fixed[-20]


def test_binary_boundaries_grey_region_grows_with_m():
    def margin_share(m):
        fig = viz.plot_binary_boundaries(loss="cosface", m=m)
        return float((fig.axes[0].images[0].get_array() == 0).mean())

    assert margin_share(0.0) < 0.01 < margin_share(0.2) < margin_share(0.4)
    assert len(viz.plot_all_binary_boundaries(m=0.3).axes) == 4


def test_margin_circle_highlights_every_violator():
    embeddings, labels, weight = synthetic_2d(per_class=40, spread=0.3)
    fig = viz.plot_margin_circle(embeddings, labels, weight, loss="arcface", m=0.3, raw=True)
    head = make_head("arcface", m=0.3, weight=weight)
    count = int(CosineCache.build(embeddings, labels, weight).violations(head).sum())
    circle_ax, raw_ax = fig.axes
    assert f"{count} of {len(labels)}" in circle_ax.get_title()
    rings = [line for ax in fig.axes for line in ax.get_lines() if line.get_label() == "violates"]
    # red rings on the circle and on the raw embeddings
    assert [len(line.get_xdata()) for line in rings] == [count, count]


def test_probability_view_and_bounds():
    fig = viz.plot_probability_vs_s(loss="cosface", m=0.1, s=10.0, num_classes=10)
    prob_ax, bounds_ax = fig.axes
    current = prob_ax.get_lines()[0].get_ydata()
    assert current.max() == pytest.approx(current[len(current) // 2]) and 0 < current.max() < 1
    vertical, horizontal = bounds_ax.get_lines()[:2]
    assert vertical.get_xdata()[0] == pytest.approx(0.9 * np.log(81))
    assert horizontal.get_ydata()[0] == pytest.approx(1 - np.cos(2 * np.pi / 10))


def test_plot_sphere_caps_and_violators():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(4, 3))
    labels = rng.integers(0, 4, 300)
    embeddings = weight[labels] + rng.normal(scale=0.6, size=(300, 3))
    fig = viz.plot_sphere(embeddings, labels, weight, loss="arcface", m=0.3)
    caps = np.asarray(fig.data[0].surfacecolor)
    assert set(np.unique(caps)) == {0.5, 1.5, 2.5, 3.5, 4.5}  # gap + four caps
    head = make_head("arcface", m=0.3, weight=weight)
    count = int(CosineCache.build(embeddings, labels, weight).violations(head).sum())
    assert len(fig.data[2].x) == count and f"{count} of 300" in fig.layout.title.text
    with pytest.raises(ValueError, match="3-D"):
        viz.plot_sphere(embeddings[:, :2], labels, weight[:, :2])
    assert not hasattr(fig, "_mfn_state")  # no private state hung on the figure


def test_margin_circle_draws_strangers_in_black():
    embeddings, labels, weight = synthetic_2d(per_class=20)
    strangers = np.array([[1.0, 1.0], [-2.0, 0.5]])
    fig = viz.plot_margin_circle(embeddings, labels, weight, strangers=strangers)
    line = next(line for line in fig.axes[0].get_lines() if line.get_label() == "strangers")
    np.testing.assert_allclose(np.hypot(line.get_xdata(), line.get_ydata()), 0.95)
    assert line.get_color() == "black"


def test_plot_sphere_static_counts_like_the_geometry():
    rng = np.random.default_rng(1)
    weight = rng.normal(size=(3, 3))
    labels = rng.integers(0, 3, 150)
    embeddings = weight[labels] + rng.normal(scale=0.6, size=(150, 3))
    fig = viz.plot_sphere_static(embeddings, labels, weight, loss="cosface", m=0.2, resolution=20)
    head = make_head("cosface", m=0.2, weight=weight)
    count = int(CosineCache.build(embeddings, labels, weight).violations(head).sum())
    assert f"{count} of 150" in fig.axes[0].get_title()
