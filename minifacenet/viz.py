"""Figure functions: data and parameters in, a figure out (``ax=None`` draws a new one).

The margin figures compute their arrays with :mod:`minifacenet.geometry` (and
:mod:`minifacenet.frames`) and draw them with :mod:`minifacenet.views`, the same pieces the
explorer widget uses; nothing here imports the widget package.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import frames, geometry, losses, strangers
from .tensors import to_numpy, unit
from .views import (
    BinaryBoundaryView,
    CircleView,
    ProbabilityView,
    RawView,
    TargetLogitView,
    class_colors,
    draw_sphere_axes,
    sphere_figure,
    update_sphere_figure,
)

__all__ = [
    "CURVE_LOSSES", "class_colors", "plot_all_binary_boundaries", "plot_binary_boundaries",
    "plot_embeddings", "plot_margin_circle", "plot_probability_vs_s", "plot_sphere", "plot_sphere_static",
    "plot_target_logits",
]  # fmt: skip
CURVE_LOSSES = geometry.curve_names()


def plot_embeddings(embeddings, labels, *, weight=None, ax=None, title: str | None = None,
                    normalize: bool = False, max_points: int = 5000, seed: int = 0, legend: bool = True,
                    point_size: float = 3.0):  # fmt: skip
    """Scatter embeddings coloured by class: 2-D in the plane, 3-D in a 3-D axes (made if
    ``ax`` is None; pass one made with ``projection="3d"``), more dimensions by their first two.

    ``normalize=True`` projects them onto the unit circle / sphere (drawn in grey); ``weight``
    ``[C, D]`` draws each class direction as a line from the origin.
    """
    x, y = to_numpy(embeddings).astype(float), to_numpy(labels).astype(int)
    dim = 3 if x.shape[1] == 3 else 2
    x = unit(x[:, :dim]) if normalize else x[:, :dim]
    keep = frames.subsample(len(x), max_points, seed=seed)
    x, y = x[keep], y[keep]
    if ax is None:
        ax = plt.figure(figsize=(5, 5)).add_subplot(projection="3d" if dim == 3 else None)
    colors = class_colors(int(y.max()) + 1 if len(y) else 1)
    ax.scatter(*x.T, c=colors[y], s=point_size, alpha=0.7, linewidths=0)
    reach = (1.0 if normalize else float(np.abs(x).max()) if len(x) else 1.0) * 1.1
    if weight is not None:
        for c, direction in enumerate(unit(to_numpy(weight)[:, :dim]) * reach):
            ax.plot(*np.stack([np.zeros(dim), direction]).T, color=colors[c % len(colors)], lw=1.2)
    _finish_axes(ax, dim=dim, normalize=normalize)
    if legend and len(y):
        handles = [plt.Line2D([], [], ls="none", marker="o", ms=4, color=colors[c]) for c in np.unique(y)]
        ax.legend(handles, [str(c) for c in np.unique(y)], loc="upper right", fontsize=7, title="class",
                  title_fontsize=7)  # fmt: skip
    ax.set_title(title or "", fontsize=9 if dim == 3 else None)
    return ax.figure


def _finish_axes(ax, *, dim: int, normalize: bool) -> None:
    """Equal aspect; the unit circle in 2-D or a bare cube around the unit sphere in 3-D."""
    if dim == 3:
        limit = 0.8 if normalize else None
        if limit is not None:
            ax.set(xlim=(-limit, limit), ylim=(-limit, limit), zlim=(-limit, limit))
        ax.set_box_aspect((1, 1, 1), zoom=1.2)
        ax.set_axis_off()
        return
    if normalize:
        circle = geometry.circle_points(np.linspace(0, 2 * np.pi, 200))
        ax.plot(*circle.T, color="0.75", lw=0.8, zorder=0)
    ax.set_aspect("equal")


# --------------------------------------------------------------------------- 1. target logits
def plot_target_logits(*, losses=CURVE_LOSSES, m: float = 0.5, sphereface_m: int = 4, m1: float = 1.0,
                       m3: float = 0.2, ax=None):  # fmt: skip
    """Target logit f(cos θ) (divided by s) against θ for each loss; returns the figure.

    normalised softmax cos θ; SphereFace ψ(θ) (integer ``sphereface_m``); CosFace cos θ − m;
    ArcFace cos(θ + m) with its fix past θ + m = π, the naive version and easy_margin;
    combined cos(m1 θ + m) − m3.
    """
    ax = ax if ax is not None else plt.subplots(figsize=(6, 4))[1]
    theta = geometry.CURVE_THETA
    curves = geometry.target_curves(m=m, sphereface_m=sphereface_m, m1=m1, m3=m3, theta=theta, names=losses)
    view = TargetLogitView(ax, theta, labels={name: geometry.curve_label(name) for name in losses})
    view.update(curves, title=f"target logit, m = {m:.2f} (SphereFace m = {sphereface_m})")
    return ax.figure


# --------------------------------------------------------------------------- 2. binary boundaries
def plot_binary_boundaries(*, loss: str = "arcface", m: float = 0.5, s: float = 10.0, ax=None,
                           points: int = 301, **extra):  # fmt: skip
    """Decision regions of a two-class problem in the (θ1, θ2) plane, margin region grey.

    NormFace θ1 = θ2; SphereFace m θ1 = θ2; CosFace cos θ1 − cos θ2 = m; ArcFace θ1 + m = θ2.
    """
    ax = ax if ax is not None else plt.subplots(figsize=(4, 4))[1]
    margin = geometry.Margin(loss=loss, m=m, s=s, **extra)
    grid = np.linspace(0.0, np.pi, points)
    theta1, theta2 = np.meshgrid(grid, grid)  # x: θ1, y: θ2
    view = BinaryBoundaryView(ax, theta_max=np.pi)
    view.update(geometry.binary_regions(margin, theta1, theta2), title=geometry.margin_name(margin))
    return ax.figure


def plot_all_binary_boundaries(*, m: float = 0.5, sphereface_m: int = 4, s: float = 10.0, **extra):
    """The four classic boundaries side by side (NormFace, SphereFace, CosFace, ArcFace)."""
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.8), constrained_layout=True)
    for ax, loss in zip(axes, ("normface", "sphereface", "cosface", "arcface"), strict=True):
        margin = sphereface_m if geometry.loss_class(loss).integer_margin else m
        plot_binary_boundaries(loss=loss, m=margin, s=s, ax=ax, **extra)
    return fig


# --------------------------------------------------------------------------- 3. the circle
def plot_margin_circle(embeddings, labels, weight, *, loss: str = "arcface", m: float = 0.2,
                       s: float = 10.0, ax=None, raw: bool = False, max_points: int = 5000, strangers=None,
                       **extra):  # fmt: skip
    """Figure 3: the unit circle with each class's margin arc, the gaps (grey) and violators;
    ``strangers`` (embeddings of classes never trained on) in black.

    With ``raw=True`` (and ``ax=None``) the unnormalised embeddings are drawn beside it.
    The arc of class y is where f(cos θ_y) > cos θ_j for every j ≠ y (f: the loss's margin).
    """
    if ax is None:
        _, axes = plt.subplots(1, 2 if raw else 1, figsize=(10 if raw else 5, 5), squeeze=False)
        ax = axes[0, 0]
    scene = frames.Scene.build(embeddings, labels, weight, strangers=strangers, max_points=max_points)
    frame = frames.compute_frame(scene, geometry.Margin(loss=loss, m=m, s=s, **extra), arc_resolution=1024,
                                  arc_steps=45)  # fmt: skip
    CircleView(ax, scene).update(frame, title=frame.title)
    if raw and len(ax.figure.axes) > 1:
        RawView(ax.figure.axes[1], scene).update(frame)
    return ax.figure


# --------------------------------------------------------------------------- 4. what s does
def plot_probability_vs_s(*, loss: str = "cosface", m: float = 0.1, s: float = 10.0, weight=None,
                          num_classes: int = 10, target_probability: float = 0.9, ax=None, bounds_ax=None,
                          **extra):  # fmt: skip
    """Figure 4: p(class 0) around the circle at the current s and m (and at m = 0 and at
    the lower bound of s), beside the (s, m) plane with the bounds drawn as lines.

    Bounds: s ≥ (C − 1)/C · ln((C − 1) P / (1 − P)); 2-D CosFace m ≤ 1 − cos(2π/C).
    """
    if ax is None:
        _, (ax, bounds_ax) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2, 1]},
                                          constrained_layout=True)  # fmt: skip
    if weight is None:
        weight = losses.spread_directions(num_classes, 2)
    weight = unit(to_numpy(weight)[:, :2], dtype=np.float64)
    count, margin = len(weight), geometry.Margin(loss=loss, m=m, s=s, **extra)
    start = np.arctan2(weight[0, 1], weight[0, 0])
    phi = start + np.linspace(-np.pi, np.pi, 361)
    s_min = geometry.scale_lower_bound(count, target_probability)
    view = ProbabilityView(ax, np.degrees(phi - start), bounds_ax=bounds_ax, s_min=s_min,
                           m_max=geometry.cosface_margin_upper_bound(count), num_classes=count,
                           target_probability=target_probability)  # fmt: skip
    curves = geometry.probability_curves(weight, margin, phi, s_min=s_min)
    view.update(curves, s=s, m=m, title=f"{geometry.loss_class(loss).label}, s = {s:.1f}, m = {m:.2f}")
    return ax.figure


# --------------------------------------------------------------------------- 5. the sphere
def plot_sphere(embeddings, labels, weight, *, loss: str = "arcface", m: float = 0.2, s: float = 10.0,
                max_points: int = 3000, resolution: int = 60, strangers=None, **extra):  # fmt: skip
    """Figure 5 (plotly, rotatable): normalised 3-D embeddings on the sphere, class centres,
    each class's margin cap (where it wins with margin), gaps grey, violators as black crosses,
    strangers as black dots. Returns a ``go.Figure``."""
    scene = _sphere_scene(embeddings, labels, weight, strangers, max_points, resolution)
    frame = frames.compute_frame(scene, geometry.Margin(loss=loss, m=m, s=s, **extra))
    figure = sphere_figure(scene)
    update_sphere_figure(figure, scene, frame)
    return figure


def plot_sphere_static(embeddings, labels, weight, *, loss: str = "arcface", m: float = 0.2, s: float = 10.0,
                       max_points: int = 2000, resolution: int = 60, elev: float = 20.0, azim: float = 30.0,
                       ax=None, strangers=None, **extra):  # fmt: skip
    """Figure 5 without plotly (matplotlib 3-D, for static pages and Colab widgets): the same
    caps, points, class centres and violators as :func:`plot_sphere`, from one viewpoint (only
    the hemisphere facing the viewer gets points; the title counts every sample)."""
    scene = _sphere_scene(embeddings, labels, weight, strangers, max_points, resolution)
    frame = frames.compute_frame(scene, geometry.Margin(loss=loss, m=m, s=s, **extra))
    if ax is None:
        ax = plt.figure(figsize=(6, 6)).add_subplot(projection="3d")
    draw_sphere_axes(ax, scene, frame, elev=elev, azim=azim)
    ax.set_title(frame.title, fontsize=9)
    return ax.figure


def _sphere_scene(embeddings, labels, weight, strangers, max_points: int, resolution: int):
    if to_numpy(weight).shape[1] != 3:
        raise ValueError(f"the sphere needs 3-D embeddings and weights, got D = {to_numpy(weight).shape[1]}")
    return frames.Scene.build(embeddings, labels, weight, strangers=strangers, max_points=max_points,
                               sphere_rows=resolution)  # fmt: skip


# --------------------------------------------------------------------------- what helps strangers
def plot_margin_sweep(runs: list[dict]):
    """CosFace's m against strangers' TAR (both kinds, both FARs) and closed-set accuracy.

    One line per class count of :data:`strangers.SWEEP_CLASSES` (the mean over seeds), a dot per
    seed; m = 0 is NormFace. ``runs`` are finished digit-pairs runs (:mod:`minifacenet.strangers`).
    """
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), constrained_layout=True)
    panels = [(kind, key, title) for key, title in strangers.TARS for kind in strangers.STRANGER_KINDS]
    for ax, (kind, key, title) in zip(axes[:, :2].flat, panels, strict=True):
        _sweep_lines(ax, runs, kind, key)
        ax.set(title=f"{strangers.KIND_LABELS[kind]}\n{title}", ylabel="TAR (%)")
    _sweep_lines(axes[0, 2], runs, None, "closed_set")
    axes[0, 2].set(title="the training classes' test images\nclosed-set accuracy", ylabel="accuracy (%)")
    axes[1, 2].axis("off")
    # one legend, in the empty panel: inside a panel it hid a curve's points
    axes[1, 2].legend(*axes[0, 0].get_legend_handles_labels(), loc="upper left")
    axes[1, 2].text(0.0, 0.4, "CosFace, s = 16, 32-D, digit pairs.\nm < 0: a negative margin (the class is "
                    "favoured)\nm = 0: NormFace (no margin)\ndots: seeds; lines: mean over seeds",
                    va="center")
    for ax in (*axes[:, :2].flat, axes[0, 2]):
        ax.axvline(0, color="0.75", lw=1, zorder=0)
        ax.set_xlabel("margin m")
    return fig


def _sweep_lines(ax, runs: list[dict], kind: str | None, key: str) -> None:
    for classes, color in zip(strangers.SWEEP_CLASSES, ("tab:orange", "tab:blue"), strict=True):
        means = []
        for m in strangers.SWEEP_M:
            found = strangers.by_seed(runs, strangers.sweep_name(m), classes, kind, key)
            values = [100 * v for v in found.values()]
            ax.scatter([m] * len(values), values, s=14, color=color, alpha=0.45, linewidths=0)
            means.append(np.mean(values) if values else np.nan)
        ax.plot(strangers.SWEEP_M, means, "-o", color=color, label=f"{classes} training classes")


def plot_class_count(runs: list[dict]):
    """Paired gaps (normalising; the margin alone) against the number of training classes."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True, constrained_layout=True)
    colors = ("tab:green", "tab:purple", "tab:red")
    for row, (key, title) in enumerate(strangers.TARS):
        for col, kind in enumerate(strangers.STRANGER_KINDS):
            ax = axes[row, col]
            for (head, control, contrast), color in zip(strangers.CONTRASTS[:3], colors, strict=True):
                gaps = [
                    strangers.paired_gap(runs, head, control, c, kind, key) for c in strangers.CURVE_CLASSES
                ]
                for classes, values in zip(strangers.CURVE_CLASSES, gaps, strict=True):
                    ax.scatter([classes] * len(values), values, s=14, color=color, alpha=0.45, linewidths=0)
                ax.plot(strangers.CURVE_CLASSES, [np.mean(g) if g else np.nan for g in gaps], "-o",
                        color=color, label=contrast)
            ax.axhline(0, color="0.4", lw=1)
            ax.set(title=f"{strangers.KIND_LABELS[kind]}: {title}", ylabel="paired gap (points)",
                   xticks=strangers.CURVE_CLASSES)
    for ax in axes[1]:
        ax.set_xlabel("training classes")
    axes[0, 0].legend()
    return fig


def plot_strangers_by_angle(strangers, weight, margin, *, ax, title: str = "") -> None:
    """A histogram of the strangers' angles ``[S, 2]`` over the circle, each seen class's margin arc shaded,
    gaps grey: where strangers land, readable where the dots on the circle overlap into a band."""
    degrees = np.arange(-180, 180.25, 0.25)
    directions = geometry.circle_points(np.radians(degrees))  # [A, 2]
    regions = geometry.region_labels(directions, weight, margin)  # class of each direction's arc, -1 in a gap
    colors = class_colors(10)
    for j in range(len(weight)):
        ax.fill_between(degrees, 0, 1, where=regions == j, color=colors[j], alpha=0.3, linewidth=0,
                        transform=ax.get_xaxis_transform())  # fmt: skip
    gap = "grey gap (no class wins with margin)"
    ax.fill_between(degrees, 0, 1, where=regions == -1, color="0.55", alpha=0.5, linewidth=0,
                    transform=ax.get_xaxis_transform(), label=gap)  # fmt: skip
    angles = np.degrees(np.arctan2(strangers[:, 1], strangers[:, 0]))
    ax.hist(angles, bins=np.arange(-180, 181, 3), color="black", label=f"unseen 7, 8, 9 ({len(angles)})")
    ax.set(xlim=(-180, 180), xticks=range(-180, 181, 45), xlabel="angle on the circle (degrees)",
           ylabel="strangers per 3°", title=title)  # fmt: skip
    ax.legend(loc="upper right", fontsize=8)
