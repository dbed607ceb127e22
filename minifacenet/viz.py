"""Pure figure functions: data and parameters in, a figure out (``ax=None`` draws a new one)."""

from __future__ import annotations

import matplotlib

matplotlib.use(matplotlib.get_backend() or "Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def plot_embeddings(
    embeddings,
    labels,
    *,
    ax=None,
    title: str | None = None,
    normalize: bool = False,
    max_points: int = 5000,
    seed: int = 0,
):
    """Scatter 2-D embeddings coloured by class (the first two coordinates if D > 2)."""
    x, y = _numpy(embeddings)[:, :2], _numpy(labels)
    if normalize:
        x = x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)
    if len(x) > max_points:
        keep = np.random.default_rng(seed).choice(len(x), max_points, replace=False)
        x, y = x[keep], y[keep]
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    scatter = ax.scatter(x[:, 0], x[:, 1], c=y, cmap="tab10", s=3, alpha=0.7, linewidths=0)
    ax.legend(
        *scatter.legend_elements(),
        loc="upper right",
        fontsize=7,
        markerscale=0.8,
        title="class",
        title_fontsize=7,
    )
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax.figure


# =========================================================================== margin explorer
# Each view is a small class that draws its artists once and updates them in place
# (``update``), so the widget redraws only what a slider changed. The plain ``plot_*``
# functions below build one of these and return its figure.

LOSS_LABELS = {
    "softmax": "softmax (cos θ)",
    "normface": "normalised softmax",
    "sphereface": "SphereFace",
    "cosface": "CosFace",
    "arcface": "ArcFace",
    "arcface-naive": "ArcFace, naive cos(θ+m)",
    "arcface-easy": "ArcFace, easy_margin",
    "combined": "combined margin",
}
CURVE_LOSSES = ("normface", "sphereface", "cosface", "arcface", "arcface-naive", "arcface-easy", "combined")


def class_colors(num_classes: int) -> np.ndarray:
    """One RGBA colour per class: tab10 up to 10 classes, tab20 up to 20, then a hue wheel."""
    if num_classes <= 10:
        return plt.get_cmap("tab10")(np.arange(num_classes))
    if num_classes <= 20:
        return plt.get_cmap("tab20")(np.arange(num_classes))
    return plt.get_cmap("hsv")(np.linspace(0, 1, num_classes, endpoint=False))


def _new_axes(ax, figsize=(5, 5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _loss_title(loss: str, head) -> str:
    params = {"normface": f"s={head.s:g}", "sphereface": f"m={getattr(head, 'm', 1)}"}
    if loss == "combined":
        return f"combined (m1={head.m1:g}, m2={head.m2:.2f}, m3={head.m3:g})"
    return f"{LOSS_LABELS[loss]} " + params.get(loss, f"m={getattr(head, 'm', 0):.2f}")


# --------------------------------------------------------------------------- 1. target logits
def target_logit(curve: str, theta: np.ndarray, *, m: float, sphereface_m: int = 4, **extra) -> np.ndarray:
    """f(cos θ) for one named curve (s = 1), from the training heads' own hooks.

    ``arcface-naive`` is the unfixed cos(θ + m), shown to explain why heads need the fix.
    """
    from .geometry import make_head, margin_target

    if curve == "softmax":
        return np.cos(theta)
    if curve == "arcface-naive":
        return np.cos(theta + m)
    loss, easy = ("arcface", True) if curve == "arcface-easy" else (curve, False)
    margin = sphereface_m if loss == "sphereface" else m
    head = make_head(loss, m=margin, s=1.0, easy_margin=easy, **extra)
    return margin_target(head, np.cos(theta))


class TargetLogitView:
    """Target logit against θ ∈ [0, π] for several losses (ArcFace paper, Fig. 4(b))."""

    def __init__(self, ax, *, curves=CURVE_LOSSES, points: int = 361):
        self.ax, self.curves, self.titled = ax, tuple(curves), True
        self.theta = np.linspace(0.0, np.pi, points)
        degrees = np.degrees(self.theta)
        styles = {"arcface-naive": ":", "arcface-easy": "--"}
        self.lines = {
            c: ax.plot(degrees, np.cos(self.theta), styles.get(c, "-"), lw=1.6, label=LOSS_LABELS[c])[0]
            for c in self.curves
        }
        ax.set(xlim=(0, 180), ylim=(-2.2, 1.05), xlabel="θ (degrees)", ylabel="target logit / s")
        ax.set_xticks(range(0, 181, 30))
        ax.axhline(0, color="0.8", lw=0.8)
        ax.legend(fontsize=7, loc="lower left")

    def update(self, *, m: float, sphereface_m: int = 4, **extra) -> None:
        for curve, line in self.lines.items():
            line.set_ydata(target_logit(curve, self.theta, m=m, sphereface_m=sphereface_m, **extra))
        if self.titled:
            self.ax.set_title(f"target logit, m = {m:.2f} (SphereFace m = {sphereface_m})", fontsize=9)


def plot_target_logits(
    *, losses=CURVE_LOSSES, m: float = 0.5, sphereface_m: int = 4, m1: float = 1.0, m3: float = 0.2, ax=None
):
    """Target logit f(cos θ) (divided by s) against θ for each loss; returns the figure.

    normalised softmax cos θ; SphereFace ψ(θ) (integer ``sphereface_m``); CosFace cos θ − m;
    ArcFace cos(θ + m) with its fix past θ + m = π, the naive version and easy_margin;
    combined cos(m1 θ + m) − m3.
    """
    view = TargetLogitView(_new_axes(ax, (6, 4)), curves=losses)
    view.update(m=m, sphereface_m=sphereface_m, m1=m1, m3=m3)
    return view.ax.figure


# --------------------------------------------------------------------------- 2. binary boundaries
class BinaryBoundaryView:
    """Two classes in the (θ1, θ2) plane: where class 1 / class 2 win with margin, and the gap."""

    def __init__(self, ax, *, theta_max: float = np.pi, points: int = 301):
        self.ax = ax
        grid = np.linspace(0.0, theta_max, points)
        self.theta1, self.theta2 = np.meshgrid(grid, grid)  # x: θ1, y: θ2
        cmap = matplotlib.colors.ListedColormap(["0.55", "#9ecae1", "#fdae6b"])
        extent = np.degrees([0, theta_max, 0, theta_max])
        self.image = ax.imshow(
            np.zeros_like(self.theta1),
            origin="lower",
            extent=extent,
            cmap=cmap,
            vmin=0,
            vmax=2,
            interpolation="nearest",
        )
        ax.plot(extent[:2], extent[2:], color="k", lw=0.6, ls=":")  # θ1 = θ2, no margin
        ax.set(xlabel="θ1 (degrees)", ylabel="θ2 (degrees)")
        ax.text(0.04, 0.92, "class 1", transform=ax.transAxes, fontsize=8)
        ax.text(0.70, 0.05, "class 2", transform=ax.transAxes, fontsize=8)

    def update(self, head, loss: str) -> None:
        from .geometry import binary_regions

        self.image.set_data(binary_regions(head, self.theta1, self.theta2))
        self.ax.set_title(_loss_title(loss, head) + " (grey: margin)", fontsize=9)


def plot_binary_boundaries(*, loss: str = "arcface", m: float = 0.5, s: float = 10.0, ax=None, **extra):
    """Decision regions of a two-class problem in the (θ1, θ2) plane, margin region grey.

    NormFace θ1 = θ2; SphereFace m θ1 = θ2; CosFace cos θ1 − cos θ2 = m; ArcFace θ1 + m = θ2.
    """
    from .geometry import make_head

    view = BinaryBoundaryView(_new_axes(ax, (4, 4)))
    view.update(make_head(loss, m=m, s=s, **extra), loss)
    return view.ax.figure


def plot_all_binary_boundaries(*, m: float = 0.5, sphereface_m: int = 4, s: float = 10.0, **extra):
    """The four classic boundaries side by side (NormFace, SphereFace, CosFace, ArcFace)."""
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.8), constrained_layout=True)
    for ax, loss in zip(axes, ("normface", "sphereface", "cosface", "arcface"), strict=True):
        margin = sphereface_m if loss == "sphereface" else m
        plot_binary_boundaries(loss=loss, m=margin, s=s, ax=ax, **extra)
    return fig


# --------------------------------------------------------------------------- 3. the circle
def _subsample(count: int, max_points: int, seed: int) -> np.ndarray:
    """Indices of at most ``max_points`` of ``count`` items (all of them, in order, if few)."""
    if count <= max_points:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, max_points, replace=False))


def _arc_polyline(arcs: list, radius: float, step: float = 0.01) -> np.ndarray:
    """Arcs ``[(start, end), ...]`` -> one ``[P, 2]`` polyline, NaN rows between arcs."""
    pieces = []
    for start, end in arcs:
        phi = np.linspace(start, end, max(2, int((end - start) / step)))
        pieces += [radius * np.stack([np.cos(phi), np.sin(phi)], 1), np.full((1, 2), np.nan)]
    return np.concatenate(pieces) if pieces else np.full((1, 2), np.nan)


def margin_gaps(arcs: list) -> list:
    """The angles no class's margin arc covers: ``[(start, end), ...]``."""
    spans = sorted((s, e) for class_arcs in arcs for s, e in class_arcs)
    if not spans:
        return [(0.0, 2 * np.pi)]
    gaps = []
    for (_, end), (start, _) in zip(spans, spans[1:] + [(spans[0][0] + 2 * np.pi, 0.0)], strict=True):
        if start - end > 1e-9:
            gaps.append((end, start))
    return gaps


def _sector(start: float, end: float, radius: float, step: float = 0.02) -> np.ndarray:
    phi = np.linspace(start, end, max(2, int((end - start) / step)))
    return np.concatenate([[[0.0, 0.0]], radius * np.stack([np.cos(phi), np.sin(phi)], 1)])


def _violator_markers(ax):
    """Red rings as one Line2D: its markers are rasterised once and stamped, far faster to
    redraw for thousands of points than a scatter collection."""
    return ax.plot([], [], "o", ms=4.7, mfc="none", mec="red", mew=0.9, ls="none", label="violates")[0]


class MarginCircleView:
    """L2-normalised 2-D embeddings on the unit circle with class weights, margin arcs, gaps
    and the samples that violate the margin. Points are drawn with a little radial jitter
    (radius 0.9 to 1) so that their density shows; only their angle matters.
    """

    def __init__(self, ax, embeddings, labels, weight, *, max_points: int = 5000, seed: int = 0):
        from .geometry import unit

        self.ax, self.weight, self.titled = ax, unit(weight), True
        self.shown = _subsample(len(labels), max_points, seed)
        radius = np.random.default_rng(seed).uniform(0.9, 1.0, len(self.shown))[:, None]
        self.points = unit(_numpy(embeddings)[self.shown]) * radius  # [M, 2]
        colors = class_colors(len(self.weight))
        labels = _numpy(labels).astype(int)
        self.gaps = matplotlib.collections.PolyCollection([], facecolor="0.5", alpha=0.25, lw=0)
        ax.add_collection(self.gaps)
        ax.add_patch(matplotlib.patches.Circle((0, 0), 1.0, fill=False, color="0.6", lw=0.8))
        ax.scatter(*self.points.T, c=colors[labels[self.shown]], s=4, alpha=0.6, linewidths=0)
        for c, (x, y) in enumerate(self.weight):
            ax.plot([0, x], [0, y], color=colors[c], lw=1.5)
            ax.plot(x, y, "o", color=colors[c], mec="k", ms=6, mew=0.8)
        self.arcs = [
            ax.plot([], [], color=colors[c], lw=5, solid_capstyle="butt")[0] for c in range(len(colors))
        ]
        self.violators = _violator_markers(ax)
        ax.set(xlim=(-1.25, 1.25), ylim=(-1.25, 1.25), aspect="equal", xticks=[], yticks=[])

    def update(self, *, arcs: list, violating: np.ndarray, title: str) -> None:
        """``arcs`` from :func:`~minifacenet.geometry.margin_arcs`; ``violating`` ``[N]`` bool."""
        for line, class_arcs in zip(self.arcs, arcs, strict=True):
            line.set_data(*_arc_polyline(class_arcs, 1.1).T)
        self.gaps.set_verts([_sector(s, e, 1.18) for s, e in margin_gaps(arcs)])
        self.violators.set_data(*self.points[violating[self.shown]].reshape(-1, 2).T)
        if self.titled:
            self.ax.set_title(title, fontsize=9)


class RawEmbeddingView:
    """The embeddings as the network outputs them (not normalised), class-weight directions
    drawn to the 95th-percentile norm, violators ringed in red."""

    def __init__(self, ax, embeddings, labels, weight, *, max_points: int = 5000, seed: int = 0):
        from .geometry import unit

        self.ax = ax
        self.shown = _subsample(len(labels), max_points, seed)
        self.points = _numpy(embeddings)[self.shown][:, :2].astype(float)
        colors = class_colors(len(weight))
        ax.scatter(*self.points.T, c=colors[_numpy(labels).astype(int)[self.shown]], s=4, alpha=0.6, lw=0)
        reach = np.percentile(np.linalg.norm(self.points, axis=1), 95) if len(self.points) else 1.0
        for c, (x, y) in enumerate(unit(weight)[:, :2] * reach):
            ax.plot([0, x], [0, y], color=colors[c], lw=1.2)
        self.violators = _violator_markers(ax)
        ax.set(aspect="equal", title="raw embeddings (not normalised)")
        ax.title.set_fontsize(9)

    def update(self, *, violating: np.ndarray) -> None:
        self.violators.set_data(*self.points[violating[self.shown]].reshape(-1, 2).T)


def violation_title(loss: str, head, count: int, total: int) -> str:
    return f"{_loss_title(loss, head)}: {count} of {total} samples violate the margin"


def plot_margin_circle(
    embeddings,
    labels,
    weight,
    *,
    loss: str = "arcface",
    m: float = 0.2,
    s: float = 10.0,
    ax=None,
    raw: bool = False,
    max_points: int = 5000,
    **extra,
):
    """Figure 3: the unit circle with each class's margin arc, the gaps (grey) and violators.

    With ``raw=True`` (and ``ax=None``) the unnormalised embeddings are drawn beside it.
    The arc of class y is where f(cos θ_y) > cos θ_j for every j ≠ y (f: the head's margin).
    """
    from .geometry import CosineCache, make_head, margin_arcs

    if ax is None:
        _, axes = plt.subplots(1, 2 if raw else 1, figsize=(10 if raw else 5, 5), squeeze=False)
        ax = axes[0, 0]
    head = make_head(loss, m=m, s=s, weight=weight, **extra)
    violating = CosineCache.build(embeddings, labels, weight).violations(head)
    view = MarginCircleView(ax, embeddings, labels, weight, max_points=max_points)
    title = violation_title(loss, head, int(violating.sum()), len(violating))
    view.update(arcs=margin_arcs(weight, head), violating=violating, title=title)
    if raw and len(ax.figure.axes) > 1:
        RawEmbeddingView(ax.figure.axes[1], embeddings, labels, weight, max_points=max_points).update(
            violating=violating
        )
    return ax.figure


# --------------------------------------------------------------------------- 4. what s does
def even_weights(num_classes: int) -> np.ndarray:
    """``num_classes`` unit vectors evenly spaced on the circle: ``[C, 2]``."""
    from .geometry import circle_points

    return circle_points(np.linspace(0, 2 * np.pi, num_classes, endpoint=False))


class ProbabilityView:
    """Target-class probability for a unit feature at angle φ from its class weight, plus an
    (s, m) panel with the NormFace/CosFace lower bound on s and CosFace's 2-D upper bound on m.
    """

    def __init__(self, ax, bounds_ax=None, *, weight=None, num_classes: int = 10, target_probability=0.9):
        from .geometry import cosface_margin_upper_bound, scale_lower_bound

        self.ax, self.bounds_ax, self.titled = ax, bounds_ax, True
        self.weight = even_weights(num_classes) if weight is None else _numpy(weight)[:, :2]
        start = np.arctan2(self.weight[0, 1], self.weight[0, 0])
        self.phi = start + np.linspace(-np.pi, np.pi, 361)
        degrees = np.degrees(self.phi - start)
        self.current = ax.plot(degrees, 0 * degrees, color="C3", lw=2, label="training (margin)")[0]
        self.no_margin = ax.plot(degrees, 0 * degrees, "--", color="C0", lw=1.2, label="same s, m = 0")[0]
        self.at_bound = ax.plot(degrees, 0 * degrees, ":", color="0.3", lw=1.2, label="s at its lower bound")[
            0
        ]
        ax.set(xlim=(-180, 180), ylim=(0, 1.02), xlabel="angle from class-0 weight φ (degrees)")
        ax.set_ylabel("p(class 0)")
        ax.legend(fontsize=7, loc="upper right")
        count = len(self.weight)
        self.s_min = scale_lower_bound(count, target_probability)
        self.m_max = cosface_margin_upper_bound(count)
        if bounds_ax is not None:
            bounds_ax.axvline(
                self.s_min, color="0.3", ls=":", label=f"s ≥ {self.s_min:.2f} (P={target_probability})"
            )
            bounds_ax.axhline(self.m_max, color="C1", ls="--", label=f"2-D CosFace m ≤ {self.m_max:.3f}")
            self.marker = bounds_ax.plot([], [], "o", color="C3", ms=8)[0]
            bounds_ax.set(xlabel="s", ylabel="m", title=f"bounds for C = {count}")
            bounds_ax.title.set_fontsize(9)
            bounds_ax.legend(fontsize=7, loc="upper right")

    def update(self, *, loss: str, m: float, s: float, **extra) -> None:
        from .geometry import make_head, probability_around_circle

        def curve(margin, scale):
            head = make_head(loss, m=margin, s=scale, weight=self.weight, **extra)
            return probability_around_circle(self.weight, head, self.phi)

        self.current.set_ydata(curve(m, s))
        self.no_margin.set_ydata(curve(0.0 if loss != "sphereface" else 1, s))
        self.at_bound.set_ydata(curve(m, self.s_min))
        if self.titled:
            self.ax.set_title(f"{LOSS_LABELS[loss]}, s = {s:.1f}, m = {m:.2f}", fontsize=9)
        if self.bounds_ax is not None:
            self.marker.set_data([s], [m])
            self.bounds_ax.set(xlim=(0, max(2 * self.s_min, s * 1.2, 16)), ylim=(0, max(0.6, 1.3 * m)))


def plot_probability_vs_s(
    *,
    loss: str = "cosface",
    m: float = 0.1,
    s: float = 10.0,
    weight=None,
    num_classes: int = 10,
    target_probability: float = 0.9,
    ax=None,
    bounds_ax=None,
    **extra,
):
    """Figure 4: p(class 0) around the circle at the current s and m (and at m = 0 and at
    the lower bound of s), beside the (s, m) plane with the bounds drawn as lines.

    Bounds: s ≥ (C − 1)/C · ln((C − 1) P / (1 − P)); 2-D CosFace m ≤ 1 − cos(2π/C).
    """
    if ax is None:
        _, (ax, bounds_ax) = plt.subplots(
            1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2, 1]}, constrained_layout=True
        )
    view = ProbabilityView(
        ax, bounds_ax, weight=weight, num_classes=num_classes, target_probability=target_probability
    )
    view.update(loss=loss, m=m, s=s, **extra)
    return ax.figure


# --------------------------------------------------------------------------- 5. the sphere (plotly)
def _rgb(color) -> str:
    r, g, b = (np.asarray(color[:3]) * 255).astype(int)
    return f"rgb({r},{g},{b})"


def _cap_colorscale(num_classes: int) -> list:
    """Discrete colorscale: value k + 0.5 (k = 0 gap, k >= 1 class k - 1) gets one colour."""
    light = 0.55 * class_colors(num_classes)[:, :3] + 0.45  # pastel class colours
    colours = ["rgb(200,200,200)", *(_rgb(c) for c in light)]
    n = len(colours)
    return [stop for k, c in enumerate(colours) for stop in ([k / n, c], [(k + 1) / n, c])]


def sphere_caps(weight, head, grid: np.ndarray) -> np.ndarray:
    """Surface colour values for :func:`plot_sphere`: class index + 1.5 in its cap, 0.5 in gaps."""
    from .geometry import region_labels

    region = region_labels(grid.reshape(-1, 3), weight, head).reshape(grid.shape[:2])
    return region + 1.5


def plot_sphere(
    embeddings,
    labels,
    weight,
    *,
    loss: str = "arcface",
    m: float = 0.2,
    s: float = 10.0,
    max_points: int = 3000,
    resolution: int = 60,
    figure_widget: bool = False,
    **extra,
):
    """Figure 5 (plotly, rotatable): normalised 3-D embeddings on the sphere, class centres,
    each class's margin cap (where it wins with margin), gaps grey, violators as red crosses.

    Returns a ``go.Figure`` (or ``go.FigureWidget``); :func:`update_sphere` changes it in place.
    """
    import plotly.graph_objects as go

    from .geometry import sphere_grid, unit

    weight, labels = unit(weight), _numpy(labels).astype(int)
    if weight.shape[1] != 3:
        raise ValueError(f"plot_sphere needs 3-D embeddings and weights, got D = {weight.shape[1]}")
    grid = sphere_grid(rows=resolution, cols=2 * resolution)
    shown = _subsample(len(labels), max_points, 0)
    points = unit(_numpy(embeddings)[shown]) * 1.01
    colors = class_colors(len(weight))
    traces = [
        go.Surface(
            x=grid[..., 0],
            y=grid[..., 1],
            z=grid[..., 2],
            surfacecolor=np.zeros(grid.shape[:2]),
            cmin=0,
            cmax=len(weight) + 1,
            colorscale=_cap_colorscale(len(weight)),
            showscale=False,
            opacity=0.9,
            hoverinfo="skip",
            name="margin caps",
        ),
        go.Scatter3d(
            x=points[:, 0],
            y=points[:, 1],
            z=points[:, 2],
            mode="markers",
            name="embeddings",
            marker={"size": 2, "color": [_rgb(colors[c]) for c in labels[shown]]},
        ),
        go.Scatter3d(
            x=[],
            y=[],
            z=[],
            mode="markers",
            name="violators",
            marker={"size": 4, "color": "red", "symbol": "x"},
        ),
    ]
    for c, w in enumerate(weight * 1.25):
        traces.append(
            go.Scatter3d(
                x=[0, w[0]],
                y=[0, w[1]],
                z=[0, w[2]],
                mode="lines+markers",
                line={"color": _rgb(colors[c]), "width": 6},
                marker={"size": [0, 5]},
                name=f"W{c}",
                showlegend=False,
            )
        )
    fig = (go.FigureWidget if figure_widget else go.Figure)(data=traces)
    fig.update_layout(scene={"aspectmode": "cube"}, margin={"l": 0, "r": 0, "t": 40, "b": 0}, height=520)
    state = {"grid": grid, "shown": shown, "points": points, "weight": weight}
    update_sphere(fig, state, embeddings=embeddings, labels=labels, loss=loss, m=m, s=s, **extra)
    fig._mfn_state = state  # noqa: SLF001 - kept with the figure for later in-place updates
    return fig


def update_sphere(fig, state: dict, *, embeddings=None, labels=None, violating=None, loss, m, s, **extra):
    """Recolour the caps and move the violator markers of a :func:`plot_sphere` figure in place."""
    from .geometry import CosineCache, make_head

    head = make_head(loss, m=m, s=s, weight=state["weight"], **extra)
    if violating is None:
        violating = CosineCache.build(embeddings, labels, state["weight"]).violations(head)
    bad = state["points"][violating[state["shown"]]]
    with fig.batch_update():
        fig.data[0].surfacecolor = sphere_caps(state["weight"], head, state["grid"])
        fig.data[2].update(x=bad[:, 0], y=bad[:, 1], z=bad[:, 2])
        fig.layout.title = violation_title(loss, head, int(violating.sum()), len(violating))


def plot_sphere_static(
    embeddings, labels, weight, *, loss: str = "arcface", m: float = 0.2, s: float = 10.0,
    max_points: int = 2000, resolution: int = 60, elev: float = 20.0, azim: float = 30.0, ax=None, **extra,
):  # fmt: skip
    """Figure 5 without plotly (matplotlib 3-D, for static pages): the same caps, points,
    class centres and violators as :func:`plot_sphere`, from one viewpoint (only the
    hemisphere facing the viewer gets points; the title counts every sample)."""
    from .geometry import CosineCache, make_head, sphere_grid, unit

    weight, labels = unit(weight), _numpy(labels).astype(int)
    if ax is None:
        ax = plt.figure(figsize=(6, 6)).add_subplot(projection="3d")
    ax.computed_zorder = False  # draw in call order: sphere, then the points in front of it
    head = make_head(loss, m=m, s=s, weight=weight, **extra)
    grid = sphere_grid(rows=resolution, cols=2 * resolution)
    region = (sphere_caps(weight, head, grid) - 1.5).astype(int)  # -1 gap, else class
    colors = 0.55 * class_colors(len(weight)) + 0.45
    faces = np.where(region[..., None] >= 0, colors[region.clip(0)], np.array([0.8, 0.8, 0.8, 1.0]))
    ax.plot_surface(*(0.98 * grid).transpose(2, 0, 1), facecolors=faces, shade=False, linewidth=0)
    # matplotlib has no depth buffer: draw only what faces the viewer
    view = np.radians([elev, azim])
    towards = np.array(
        [np.cos(view[0]) * np.cos(view[1]), np.cos(view[0]) * np.sin(view[1]), np.sin(view[0])]
    )
    shown = _subsample(len(labels), max_points, 0)
    shown = shown[unit(_numpy(embeddings)[shown]) @ towards > 0]
    points = unit(_numpy(embeddings)[shown])
    violating = CosineCache.build(embeddings, labels, weight).violations(head)
    ax.scatter(*points.T, c=class_colors(len(weight))[labels[shown]], s=3, depthshade=False)
    ax.scatter(*points[violating[shown]].T, marker="x", color="red", s=12, depthshade=False)
    for c, w in enumerate(weight):
        if w @ towards > 0:
            ax.plot(*np.stack([w, 1.3 * w]).T, color=class_colors(len(weight))[c], lw=2.5)
    ax.view_init(elev=elev, azim=azim)
    ax.set_box_aspect((1, 1, 1))
    ax.set_axis_off()
    ax.set_title(violation_title(loss, head, int(violating.sum()), len(violating)), fontsize=9)
    return ax.figure
