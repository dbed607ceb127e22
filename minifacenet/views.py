"""Views: draw the arrays they are given (a :class:`~minifacenet.frames.Scene` and a
:class:`~minifacenet.frames.Frame`, or plain arrays). Nothing here computes a margin.

Each view draws its static artists once and updates the changing ones in place (``update``).
:class:`CircleDashboard` (2-D, four panels) and :class:`SphereImage` (3-D, matplotlib) render
to JPEG bytes for an ``ipywidgets.Image``; :func:`sphere_figure` builds the plotly sphere.
"""

from __future__ import annotations

import io

import matplotlib.collections
import matplotlib.colors
import matplotlib.lines
import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage

VIOLATOR_COLOR = "black"  # violators: black rings (2-D) or crosses (3-D), never a class colour
STRANGER_STYLE = {"marker": "o", "ms": 3.5, "color": "black", "ls": "none", "label": "strangers"}


def class_colors(num_classes: int) -> np.ndarray:
    """One RGBA colour per class: tab10 up to 10 classes, tab20 up to 20, then a hue wheel."""
    if num_classes <= 10:
        return plt.get_cmap("tab10")(np.arange(num_classes))
    if num_classes <= 20:
        return plt.get_cmap("tab20")(np.arange(num_classes))
    return plt.get_cmap("hsv")(np.linspace(0, 1, num_classes, endpoint=False))


WEIGHT_MARKER = "D"


def marker_legend(*, strangers: bool = True) -> list:
    """Legend handles telling the markers apart: class weight, violator and (when drawn) stranger."""
    weight = matplotlib.lines.Line2D([], [], ls="none", marker=WEIGHT_MARKER, color="0.5", mec="white",
                                     ms=7, label="class weight")  # fmt: skip
    ring = matplotlib.lines.Line2D([], [], ls="none", marker="o", mfc="none", mec=VIOLATOR_COLOR, ms=5,
                                   label="violates the margin")  # fmt: skip
    stranger = matplotlib.lines.Line2D([], [], **{**STRANGER_STYLE, "ms": 3})
    return [weight, ring, stranger] if strangers else [weight, ring]


def _violator_markers(ax):
    """Black rings (no class colour: red is digit 3's in tab10) as one Line2D: its markers are
    rasterised once and stamped, far faster to redraw for thousands of points than a scatter."""
    ring = {"marker": "o", "ms": 4.7, "mfc": "none", "mec": VIOLATOR_COLOR, "mew": 0.8, "ls": "none"}
    return ax.plot([], [], label="violates", **ring)[0]


# --------------------------------------------------------------------------- 2-D panels
class CircleView:
    """Unit directions on the circle with class weights, margin arcs, gaps, violators and
    (optionally) strangers in black. Points get a little radial jitter (radius 0.9 to 1) so
    that their density shows; only their angle matters."""

    def __init__(self, ax, scene, *, seed: int = 0):
        self.ax, self.scene = ax, scene
        radius = np.random.default_rng(seed).uniform(0.9, 1.0, len(scene.points))[:, None]
        self.points = scene.points * radius  # [M, 2]
        colors = class_colors(len(scene.weight))
        self.gaps = matplotlib.collections.PolyCollection([], facecolor="0.5", alpha=0.25, lw=0)
        ax.add_collection(self.gaps)
        ax.add_patch(matplotlib.patches.Circle((0, 0), 1.0, fill=False, color="0.6", lw=0.8))
        ax.scatter(*self.points.T, c=colors[scene.point_labels], s=4, alpha=0.6, linewidths=0)
        for c, (x, y) in enumerate(scene.weight):
            ax.plot([0, x], [0, y], color=colors[c], lw=1.5)
            # a class weight: a white-edged diamond at the arrow's tip, nothing like a violator's ring
            ax.plot(x, y, WEIGHT_MARKER, color=colors[c], mec="white", ms=8, mew=1.0)
        # every class's arcs in one artist: one draw call per frame, not one per class
        self.arc_colors = colors
        self.arcs = matplotlib.collections.LineCollection([], lw=5, capstyle="butt")
        ax.add_collection(self.arcs)
        self.violators = _violator_markers(ax)
        strangers = np.empty((0, 2)) if scene.strangers is None else 0.95 * scene.strangers
        self.strangers = ax.plot(*strangers.T, **STRANGER_STYLE)[0]
        ax.set(xlim=(-1.25, 1.25), ylim=(-1.25, 1.25), aspect="equal", xticks=[], yticks=[])
        handles = marker_legend(strangers=scene.strangers is not None)
        ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.8)

    @property
    def artists(self) -> list:
        return [self.arcs, self.gaps, self.violators, self.strangers]

    def update(self, frame, *, show_strangers: bool = True, title: str | None = None,
               violators: bool = True) -> None:  # fmt: skip
        """Arcs, gaps and strangers from ``frame``; ``violators=False`` leaves the rings to the caller."""
        segments, colors = [], []
        for color, polyline in zip(self.arc_colors, frame.arc_lines, strict=True):
            # a class's polyline holds its arcs with NaN rows between them: one segment each
            for piece in np.split(polyline, np.nonzero(np.isnan(polyline[:, 0]))[0]):
                piece = piece[~np.isnan(piece[:, 0])]
                if len(piece) > 1:
                    segments.append(piece)
                    colors.append(color)
        self.arcs.set_segments(segments)
        self.arcs.set_color(colors)
        self.gaps.set_verts(frame.gap_polygons)
        if violators:
            self.violators.set_data(*self.points[frame.violating[self.scene.shown]].reshape(-1, 2).T)
        self.strangers.set_visible(show_strangers)
        if title is not None:
            self.ax.set_title(title, fontsize=9)


class RawView:
    """The embeddings as the network outputs them (not normalised), class-weight directions
    drawn to the 95th-percentile norm, violators ringed."""

    def __init__(self, ax, scene):
        self.ax, self.scene = ax, scene
        points = scene.raw[:, :2]
        colors = class_colors(len(scene.weight))
        ax.scatter(*points.T, c=colors[scene.point_labels], s=4, alpha=0.6, lw=0)
        reach = np.percentile(np.linalg.norm(points, axis=1), 95) if len(points) else 1.0
        for c, (x, y) in enumerate(scene.weight[:, :2] * reach):
            ax.plot([0, x], [0, y], color=colors[c], lw=1.2)
        self.violators = _violator_markers(ax)
        ax.set(aspect="equal", title="raw embeddings (not normalised)")
        ax.title.set_fontsize(9)

    @property
    def artists(self) -> list:
        return [self.violators]

    def update(self, frame) -> None:
        self.violators.set_data(*self.scene.raw[frame.violating[self.scene.shown]][:, :2].reshape(-1, 2).T)


class TargetLogitView:
    """Target logit / s against θ ∈ [0, π] for several curves (ArcFace paper, Fig. 4(b))."""

    def __init__(self, ax, theta: np.ndarray, *, labels: dict):
        """``labels``: ``{curve name: legend label}``; a variant's curve (a name with a dash) is dashed."""
        self.ax = ax
        degrees = np.degrees(theta)
        self.lines = {
            name: ax.plot(degrees, np.cos(theta), "--" if "-" in name else "-", lw=1.6, label=label)[0]
            for name, label in labels.items()
        }
        ax.set(xlim=(0, 180), ylim=(-2.2, 1.05), xlabel="θ (degrees)", ylabel="target logit / s")
        ax.set_xticks(range(0, 181, 30))
        ax.axhline(0, color="0.8", lw=0.8)
        ax.legend(fontsize=7, loc="lower left")

    @property
    def artists(self) -> list:
        return list(self.lines.values())

    def update(self, curves: dict, *, bold: str | None = None, title: str | None = None) -> None:
        for name, line in self.lines.items():
            line.set_ydata(curves[name])
            if bold is not None:
                line.set(lw=3.0 if name == bold else 1.3, alpha=1.0 if name == bold else 0.45)
        if title is not None:
            self.ax.set_title(title, fontsize=9)


class ProbabilityView:
    """p(class 0) at angle φ from its class weight, at the margin, without it and at the lower
    bound of s; optionally an (s, m) panel with the bounds drawn as lines."""

    def __init__(self, ax, degrees: np.ndarray, *, bounds_ax=None, s_min: float, m_max: float,
                 num_classes: int, target_probability: float = 0.9):  # fmt: skip
        self.ax, self.bounds_ax, self.s_min = ax, bounds_ax, s_min
        self.current = ax.plot(degrees, 0 * degrees, color="C3", lw=2, label="training (margin)")[0]
        self.no_margin = ax.plot(degrees, 0 * degrees, "--", color="C0", lw=1.2, label="same s, m = 0")[0]
        self.at_bound = ax.plot(degrees, 0 * degrees, ":", color="0.3", lw=1.2, label="s at its lower bound")[
            0
        ]
        ax.set(xlim=(-180, 180), ylim=(0, 1.02), xlabel="angle from class-0 weight φ (degrees)")
        ax.set_ylabel("p(class 0)")
        ax.legend(fontsize=7, loc="upper right")
        if bounds_ax is not None:
            bounds_ax.axvline(s_min, color="0.3", ls=":", label=f"s ≥ {s_min:.2f} (P={target_probability})")
            bounds_ax.axhline(m_max, color="C1", ls="--", label=f"2-D CosFace m ≤ {m_max:.3f}")
            self.marker = bounds_ax.plot([], [], "o", color="C3", ms=8)[0]
            bounds_ax.set(xlabel="s", ylabel="m", title=f"bounds for C = {num_classes}")
            bounds_ax.title.set_fontsize(9)
            bounds_ax.legend(fontsize=7, loc="upper right")

    @property
    def artists(self) -> list:
        return [self.current, self.no_margin, self.at_bound]

    def update(self, probability: dict, *, s: float, m: float, title: str | None = None) -> None:
        self.current.set_ydata(probability["current"])
        self.no_margin.set_ydata(probability["no_margin"])
        self.at_bound.set_ydata(probability["at_bound"])
        if title is not None:
            self.ax.set_title(title, fontsize=9)
        if self.bounds_ax is not None:
            self.marker.set_data([s], [m])
            self.bounds_ax.set(xlim=(0, max(2 * self.s_min, s * 1.2, 16)), ylim=(0, max(0.6, 1.3 * m)))


class BinaryBoundaryView:
    """Two classes in the (θ1, θ2) plane: where class 1 / class 2 win with margin, and the gap."""

    def __init__(self, ax, *, theta_max: float):
        self.ax = ax
        cmap = matplotlib.colors.ListedColormap(["0.55", "#9ecae1", "#fdae6b"])
        extent = np.degrees([0, theta_max, 0, theta_max])
        self.image = ax.imshow(np.zeros((2, 2)), origin="lower", extent=extent, cmap=cmap, vmin=0, vmax=2,
                               interpolation="nearest")  # fmt: skip
        ax.plot(extent[:2], extent[2:], color="k", lw=0.6, ls=":")  # θ1 = θ2, no margin
        ax.set(xlabel="θ1 (degrees)", ylabel="θ2 (degrees)")
        ax.text(0.04, 0.92, "class 1", transform=ax.transAxes, fontsize=8)
        ax.text(0.70, 0.05, "class 2", transform=ax.transAxes, fontsize=8)

    def update(self, regions: np.ndarray, *, title: str) -> None:
        """``regions`` ``[P, P]``: 1, 2 or 0 (margin), rows θ2, columns θ1."""
        self.image.set_data(regions)
        self.ax.set_title(title + " (grey: margin)", fontsize=9)


# --------------------------------------------------------------------------- rendering to an image
def jpeg_bytes(canvas: FigureCanvasAgg, *, quality: int = 90) -> bytes:
    """The canvas as JPEG bytes: far faster to encode than PNG (docs/benchmarks.md), and
    these images live for one slider step."""
    width, height = canvas.get_width_height(physical=True)
    # read as RGBX (the alpha byte skipped): JPEG takes it without a conversion to RGB, same bytes
    image = PILImage.frombuffer("RGBX", (width, height), canvas.buffer_rgba(), "raw", "RGBX", 0, 1)
    buffer = io.BytesIO()
    image.save(buffer, format="jpeg", quality=quality)
    return buffer.getvalue()


OPAQUE_BLACK = np.frombuffer(bytes([0, 0, 0, 255]), dtype=np.uint32)[0]


def ring_offsets(diameter: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets (rows, columns) of a one-pixel ring of about ``diameter`` pixels."""
    radius = diameter / 2
    reach = int(np.ceil(radius + 0.5))
    rows, cols = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    on_ring = np.abs(np.hypot(rows, cols) - radius) < 0.5
    return rows[on_ring], cols[on_ring]


class RingStamp:
    """Violator rings written straight into the canvas's pixels: each point's ring pixels are
    found once, and each frame sets those of the violators black (one numpy write instead of a
    marker per point through the renderer)."""

    def __init__(self, ax, points: np.ndarray, *, diameter: float):
        self.ax, self.points, self.offsets = ax, points, ring_offsets(diameter)
        self.ring = None  # [M, K] flat pixel index of each point's ring pixels (-1: outside the axes)

    def stamp(self, canvas: FigureCanvasAgg, violating: np.ndarray) -> None:
        """Ring the points where ``violating`` ``[M]`` is true, inside the axes."""
        buffer = np.asarray(canvas.buffer_rgba())  # [H, W, 4], a view of the canvas
        height, width = buffer.shape[:2]
        if self.ring is None:  # once the figure is laid out: pixels of every point's ring
            x, y = self.ax.transData.transform(self.points).T
            rows = np.rint(height - y).astype(np.int64)[:, None] + self.offsets[0]  # [M, K]
            cols = np.rint(x).astype(np.int64)[:, None] + self.offsets[1]
            box = self.ax.bbox
            inside = (rows >= height - box.y1) & (rows < height - box.y0) & (cols >= box.x0) & (cols < box.x1)
            self.ring = np.where(inside, rows * width + cols, -1)
        pixels = self.ring[violating].ravel()
        # one 32-bit word per RGBA pixel: opaque black is bytes (0, 0, 0, 255) in memory order
        buffer.view(np.uint32).reshape(-1)[pixels[pixels >= 0]] = OPAQUE_BLACK


class CircleDashboard:
    """2-D, four panels on one Agg figure: circle, raw embeddings, target logits, p(class 0).

    The static layer (points, weights, axes) is drawn once and cached; :meth:`draw` restores
    it, draws the changing artists (arcs, gaps, curves) over it, stamps the violators' rings
    into the pixels (:class:`RingStamp`) and returns JPEG bytes.
    """

    def __init__(self, scene, *, theta: np.ndarray, curve_labels: dict, m_max: float, dpi: int = 72):
        self.figure = Figure(figsize=(11, 9), dpi=dpi, layout="constrained")
        self.canvas = FigureCanvasAgg(self.figure)
        axes = self.figure.subplots(2, 2)
        self.circle = CircleView(axes[0, 0], scene)
        self.raw = RawView(axes[0, 1], scene)
        self.logits = TargetLogitView(axes[1, 0], theta, labels=curve_labels)
        degrees = np.degrees(scene.phi - scene.phi[len(scene.phi) // 2])
        self.probability = ProbabilityView(axes[1, 1], degrees, s_min=scene.s_min, m_max=m_max,
                                           num_classes=len(scene.weight))  # fmt: skip
        # titles stay fixed (text is slow to render); the widget's label says loss, m, s
        axes[0, 0].set_title("unit circle: margin arcs, gaps grey, violators ringed", fontsize=9)
        axes[1, 0].set_title("target logit / s (current loss bold)", fontsize=9)
        axes[1, 1].set_title("p(class 0) around the circle at s, m", fontsize=9)
        self.scene = scene
        ring_pixels = 5.5 * dpi / 72  # about the 4.7-point ring markers of the static figures
        self.rings = [RingStamp(self.circle.ax, self.circle.points, diameter=ring_pixels),
                      RingStamp(self.raw.ax, scene.raw[:, :2], diameter=ring_pixels)]  # fmt: skip
        stamped = {self.circle.violators, self.raw.violators}
        self.dynamic = [
            *(artist for artist in self.circle.artists if artist not in stamped),
            *self.logits.artists,
            *self.probability.artists,
        ]
        for artist in [*self.dynamic, *stamped]:
            artist.set_animated(True)
        self.background = None

    def draw(self, frame, *, show_strangers: bool = True) -> bytes:
        self.circle.update(frame, show_strangers=show_strangers, violators=False)
        self.logits.update(frame.curves, bold=frame.margin.loss)
        self.probability.update(frame.probability, s=frame.margin.s, m=frame.margin.m)
        if self.background is None:
            # the static layer once: animated artists are skipped by a full draw
            self.canvas.draw()
            self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        self.canvas.restore_region(self.background)
        for artist in self.dynamic:
            self.figure.draw_artist(artist)
        violating = frame.violating[self.scene.shown]
        for rings in self.rings:
            rings.stamp(self.canvas, violating)
        return jpeg_bytes(self.canvas)


# --------------------------------------------------------------------------- 3-D
def cap_colors(caps: np.ndarray, num_classes: int) -> np.ndarray:
    """RGBA ``[rows, cols, 4]`` of the caps: pastel class colours, light grey in gaps (-1)."""
    pastel = 0.55 * class_colors(num_classes) + 0.45
    return np.where(caps[..., None] >= 0, pastel[caps.clip(0)], np.array([0.8, 0.8, 0.8, 1.0]))


def draw_sphere_axes(ax, scene, frame, *, elev: float, azim: float, show_strangers: bool = True) -> None:
    """matplotlib 3-D: caps, the points facing the viewer, class directions, violators (black x)
    and strangers (black dots). matplotlib has no depth buffer, so the far hemisphere is left out."""
    ax.computed_zorder = False  # draw in call order: sphere, then the points in front of it
    colors = class_colors(len(scene.weight))
    ax.plot_surface(*(0.98 * scene.grid).transpose(2, 0, 1), facecolors=cap_colors(frame.caps, len(colors)),
                    shade=False, linewidth=0, rstride=1, cstride=1)  # fmt: skip
    view = np.radians([elev, azim])
    towards = np.array(
        [np.cos(view[0]) * np.cos(view[1]), np.cos(view[0]) * np.sin(view[1]), np.sin(view[0])]
    )
    front = scene.points @ towards > 0  # [M]
    ax.scatter(*scene.points[front].T, c=colors[scene.point_labels[front]], s=3, depthshade=False)
    bad = front & frame.violating[scene.shown]
    ax.scatter(*scene.points[bad].T, marker="x", color=VIOLATOR_COLOR, s=12, linewidths=0.8, depthshade=False)
    if show_strangers and scene.strangers is not None:
        near = scene.strangers[scene.strangers @ towards > 0]
        ax.scatter(*near.T, color="black", s=8, depthshade=False, label="strangers")
    for c, w in enumerate(scene.weight):
        if w @ towards > 0:
            ax.plot(*np.stack([w, 1.3 * w]).T, color=colors[c], lw=2.5)
    ax.view_init(elev=elev, azim=azim)
    ax.set(xlim=(-0.8, 0.8), ylim=(-0.8, 0.8), zlim=(-0.8, 0.8))
    ax.set_box_aspect((1, 1, 1), zoom=1.2)
    ax.set_axis_off()


class SphereImage:
    """3-D with matplotlib into JPEG bytes (Colab: core widgets only), turned by the caller's
    azimuth and elevation."""

    def __init__(self, scene, *, dpi: int = 72):
        self.scene = scene
        self.figure = Figure(figsize=(6.5, 6.5), dpi=dpi, layout="constrained")
        self.canvas = FigureCanvasAgg(self.figure)
        self.ax = self.figure.add_subplot(projection="3d")

    def draw(self, frame, *, elev: float = 20.0, azim: float = 30.0, show_strangers: bool = True) -> bytes:
        self.ax.clear()
        draw_sphere_axes(self.ax, self.scene, frame, elev=elev, azim=azim, show_strangers=show_strangers)
        self.ax.set_title(frame.title, fontsize=9)
        self.canvas.draw()
        return jpeg_bytes(self.canvas)


def _rgb(color) -> str:
    r, g, b = (np.asarray(color[:3]) * 255).astype(int)
    return f"rgb({r},{g},{b})"


def _cap_colorscale(num_classes: int) -> list:
    """Discrete colorscale: value k + 0.5 (k = 0 gap, k >= 1 class k - 1) gets one colour."""
    light = 0.55 * class_colors(num_classes)[:, :3] + 0.45  # pastel class colours
    colours = ["rgb(200,200,200)", *(_rgb(c) for c in light)]
    n = len(colours)
    return [stop for k, c in enumerate(colours) for stop in ([k / n, c], [(k + 1) / n, c])]


def sphere_figure(scene, *, figure_widget: bool = False):
    """The plotly sphere (rotatable): caps surface (trace 0), points (1), violators (2),
    strangers (3), class directions (4..). Fill it with :func:`update_sphere_figure`."""
    import plotly.graph_objects as go  # plotly is imported only where a 3-D plotly view is asked for

    grid, colors, count = scene.grid, class_colors(len(scene.weight)), len(scene.weight)
    points, strangers = scene.points * 1.01, np.empty((0, 3)) if scene.strangers is None else scene.strangers
    traces = [
        go.Surface(x=grid[..., 0], y=grid[..., 1], z=grid[..., 2], surfacecolor=np.zeros(grid.shape[:2]),
                   cmin=0, cmax=count + 1, colorscale=_cap_colorscale(count), showscale=False, opacity=0.9,
                   hoverinfo="skip", name="margin caps"),
        go.Scatter3d(x=points[:, 0], y=points[:, 1], z=points[:, 2], mode="markers", name="embeddings",
                     marker={"size": 2, "color": [_rgb(colors[c]) for c in scene.point_labels]}),
        go.Scatter3d(x=[], y=[], z=[], mode="markers", name="violators",
                     marker={"size": 4, "color": VIOLATOR_COLOR, "symbol": "x"}),
        go.Scatter3d(x=1.02 * strangers[:, 0], y=1.02 * strangers[:, 1], z=1.02 * strangers[:, 2],
                     mode="markers", name="strangers", marker={"size": 3, "color": "black"}),
    ]  # fmt: skip
    for c, w in enumerate(scene.weight * 1.25):
        traces.append(go.Scatter3d(x=[0, w[0]], y=[0, w[1]], z=[0, w[2]], mode="lines+markers",
                                   line={"color": _rgb(colors[c]), "width": 6}, marker={"size": [0, 5]},
                                   name=f"W{c}", showlegend=False))  # fmt: skip
    figure = (go.FigureWidget if figure_widget else go.Figure)(data=traces)
    figure.update_layout(scene={"aspectmode": "cube"}, margin={"l": 0, "r": 0, "t": 40, "b": 0}, height=520)
    return figure


def update_sphere_figure(figure, scene, frame, *, show_strangers: bool = True) -> None:
    """Recolour the caps, move the violator markers, show or hide the strangers, in place."""
    bad = scene.points[frame.violating[scene.shown]] * 1.01
    with figure.batch_update():
        figure.data[0].surfacecolor = frame.caps + 1.5
        figure.data[2].update(x=bad[:, 0], y=bad[:, 1], z=bad[:, 2])
        figure.data[3].visible = show_strangers
        figure.layout.title = frame.title
