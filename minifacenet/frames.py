"""One slider position -> arrays to draw: a :class:`Scene` (what stays fixed while the sliders
move: cosines, points) and a :class:`Frame` (what one position shows: violations, arcs, curves).

:func:`compute_frame` calls only :mod:`minifacenet.geometry`; nothing here draws
(:mod:`minifacenet.views` draws a frame) and nothing here builds a loss head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .geometry import (
    CURVE_THETA,
    CosineCache,
    Margin,
    arc_polyline,
    class_directions,
    class_labels,
    curve_margins,
    describe,
    margin_arcs,
    margin_gaps,
    probability_curves,
    scale_lower_bound,
    sector,
    sphere_grid,
    sphere_regions,
    target_curves,
)
from .tensors import to_numpy, unit


def subsample(count: int, max_points: int, *, seed: int = 0) -> np.ndarray:
    """Indices of at most ``max_points`` of ``count`` items (all of them, in order, if few)."""
    if count <= max_points:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, max_points, replace=False))


@dataclass
class Scene:
    """What stays fixed while the sliders move: the cosines and the points to draw.

    ``shown`` ``[M]`` indexes the drawn subset of the N samples; ``points`` ``[M, D]`` are
    their unit directions, ``raw`` ``[M, D]`` the embeddings as the network gave them;
    ``strangers`` ``[K, D]`` unit directions of samples of classes never trained on (or None).
    """

    cache: CosineCache
    weight: np.ndarray  # [C, D], unit rows
    shown: np.ndarray  # [M]
    points: np.ndarray  # [M, D]
    raw: np.ndarray  # [M, D]
    point_labels: np.ndarray  # [M]
    strangers: np.ndarray | None  # [K, D]
    phi: np.ndarray | None  # 2-D: [361] angles around class 0's weight
    grid: np.ndarray | None  # 3-D: [rows, cols, 3]
    s_min: float

    @classmethod
    def build(cls, embeddings, labels, weight, *, strangers=None, max_points: int = 5000,
              sphere_rows: int = 40, seed: int = 0) -> Scene:  # fmt: skip
        embeddings, weight = to_numpy(embeddings, dtype=np.float64), to_numpy(weight, dtype=np.float64)
        cache = CosineCache.build(embeddings, labels, weight)
        dim = embeddings.shape[1]
        if dim not in (2, 3):
            raise ValueError(
                f"the explorer draws 2-D or 3-D embeddings, got shape {embeddings.shape}; "
                "train with embedding_dim=2 (circle) or 3 (sphere)"
            )
        shown = subsample(len(embeddings), max_points, seed=seed)
        start = math.atan2(weight[0, 1], weight[0, 0])
        return cls(
            cache=cache, weight=unit(weight), shown=shown, points=unit(embeddings[shown]),
            raw=embeddings[shown], point_labels=cache.labels[shown], strangers=_strangers(strangers, dim),
            phi=start + np.linspace(-math.pi, math.pi, 361) if dim == 2 else None,
            grid=sphere_grid(rows=sphere_rows, cols=2 * sphere_rows) if dim == 3 else None,
            s_min=scale_lower_bound(len(weight), 0.9),
        )  # fmt: skip

    @property
    def dim(self) -> int:
        return self.weight.shape[1]


def _strangers(strangers, dim: int) -> np.ndarray | None:
    """Unit directions ``[K, D]`` of the strangers, checked."""
    if strangers is None:
        return None
    strangers = to_numpy(strangers, dtype=np.float64)
    if strangers.ndim != 2 or strangers.shape[1] != dim:
        raise ValueError(f"strangers must be embeddings [K, {dim}] like the others, got {strangers.shape}")
    if not np.isfinite(strangers).all():
        raise ValueError("strangers hold NaN or inf: embed them with the same trained model")
    return unit(strangers)


@dataclass
class Frame:
    """Everything one slider position shows, as arrays.

    ``violating`` ``[N]``; 2-D: ``arcs`` (per class ``[(start, end), ...]``), ``gaps`` and
    the same as polylines and polygons to draw,
    ``curves`` ``{name: [361]}`` over :data:`CURVE_THETA`, ``probability`` ``{name: [361]}``
    over ``Scene.phi``; 3-D: ``caps`` ``[rows, cols]`` (class, -1 in gaps).
    """

    margin: Margin
    violating: np.ndarray
    arcs: list | None = None
    gaps: list | None = None
    arc_lines: list | None = None  # per class a [P, 2] polyline at radius 1.1 (NaN between arcs)
    gap_polygons: list | None = None  # pie slices [P, 2] over the gaps
    curves: dict | None = None
    probability: dict | None = None
    caps: np.ndarray | None = None

    @property
    def count(self) -> int:
        return int(self.violating.sum())

    @property
    def title(self) -> str:
        return describe(self.margin, self.count, len(self.violating))


def compute_frame(scene: Scene, margin: Margin, *, previous: Frame | None = None, violating=None,
                  arc_resolution: int = 1024, arc_steps: int = 6) -> Frame:  # fmt: skip
    """The arrays for ``margin``; what depends only on its shape is reused from ``previous``,
    and ``violating`` (``scene.cache.violations(margin)``, if the caller counted them) is not
    computed again. The arcs are found to a pixel's precision for drawing (``arc_resolution``
    angles, ``arc_steps`` halvings); :func:`~minifacenet.geometry.margin_arcs` finds them exactly."""
    probability = None
    if scene.dim == 2:
        probability = probability_curves(scene.weight, margin, scene.phi, s_min=scene.s_min)
    if previous is not None and previous.margin.shape == margin.shape:
        return replace(previous, margin=margin, probability=probability)
    violating = scene.cache.violations(margin) if violating is None else violating
    frame = Frame(margin=margin, violating=violating, probability=probability)
    if scene.dim == 3:
        frame.caps = sphere_regions(scene.weight, margin, scene.grid)
        return frame
    frame.arcs = margin_arcs(scene.weight, margin, resolution=arc_resolution, steps=arc_steps)
    frame.gaps = margin_gaps(frame.arcs)
    frame.arc_lines = [arc_polyline(class_arcs, radius=1.1) for class_arcs in frame.arcs]
    frame.gap_polygons = [sector(start, end, radius=1.18) for start, end in frame.gaps]
    m, sphereface_m = curve_margins(margin)
    frame.curves = target_curves(m=m, sphereface_m=sphereface_m, m1=margin.m1, m3=margin.m3,
                                 theta=CURVE_THETA)  # fmt: skip
    return frame


# --------------------------------------------------------------------------- snapshots of training
def snapshot_data(snapshot: dict, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(embeddings, labels, weight, strangers) of one ``fit`` snapshot ``{"step", "fraction",
    "weights" [C, D] or None, "embeddings" [N, D]}``. Rows labelled -1 are strangers (classes
    never trained on); without weights (metric losses) class mean directions stand in."""
    embeddings, labels = to_numpy(snapshot["embeddings"], dtype=np.float64), class_labels(labels)
    if len(labels) != len(embeddings):
        raise ValueError(
            f"snapshot at step {snapshot.get('step')} has {len(embeddings)} embeddings but {len(labels)} "
            "labels: pass the labels of the images given to fit(snapshot_images=...)"
        )
    known = labels >= 0
    strangers = embeddings[~known] if (~known).any() else None
    embeddings, labels = embeddings[known], labels[known]
    weight = snapshot.get("weights")
    if weight is None:
        weight = class_directions(embeddings, labels, int(labels.max()) + 1)
    return embeddings, labels, to_numpy(weight, dtype=np.float64), strangers
