"""The margin explorer: ipywidgets controls wired to the pure views in :mod:`minifacenet.viz`.

Nothing here computes a margin: :mod:`minifacenet.geometry` does (through the training
heads' own hooks), :mod:`minifacenet.viz` draws. The cosines between embeddings and class
weights are computed once per data set (:class:`~minifacenet.geometry.CosineCache`); a slider
move re-applies the margin to N target cosines, compares, and redraws only the artists that
changed.

Renderers, behind one interface (``draw(...)`` and a ``widget`` to show):

- 2-D: a matplotlib figure on an Agg canvas whose static layer (points, weights, axes) is
  drawn once and cached; each update restores it, draws the changed artists in place and
  sends a JPEG to an ``ipywidgets.Image``. Core widgets only, so it works in JupyterLab and
  in Colab (where ipympl has broken).
- 3-D: plotly. In JupyterLab a ``FigureWidget`` updated in place (needs ``anywidget``); in
  Colab, where FigureWidget does not display (googlecolab/colabtools#5889), the figure is
  updated in place and re-sent as a static plotly figure inside an ``Output``.
"""

from __future__ import annotations

import importlib.util
import io
import os
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import viz
from .geometry import EXPLORER_LOSSES, CosineCache, make_head, margin_arcs, synthetic_2d

RENDERERS = ("auto", "matplotlib", "plotly", "plotly-static")


def in_colab() -> bool:
    """True inside Google Colab (its module is importable there only)."""
    return (
        importlib.util.find_spec("google") is not None
        and importlib.util.find_spec("google.colab") is not None
    )


def choose_renderer(renderer: str, embedding_dim: int) -> str:
    """Resolve ``"auto"``: matplotlib in 2-D; in 3-D a plotly FigureWidget unless in Colab."""
    if renderer not in RENDERERS:
        raise ValueError(f"unknown renderer {renderer!r}: choose one of {', '.join(RENDERERS)}")
    if embedding_dim == 2:
        if renderer.startswith("plotly"):
            raise ValueError("2-D views use the matplotlib renderer; pass renderer='auto' or 'matplotlib'")
        return "matplotlib"
    if renderer == "matplotlib":
        raise ValueError("3-D views are drawn with plotly; pass renderer='auto', 'plotly' or 'plotly-static'")
    if renderer == "auto":
        has_anywidget = importlib.util.find_spec("anywidget") is not None
        return "plotly" if has_anywidget and not in_colab() else "plotly-static"
    return renderer


# --------------------------------------------------------------------------- renderers
class CanvasRenderer:
    """2-D views on one Agg figure: margin circle, raw embeddings, target logit, p(class 0)."""

    def __init__(self, embeddings, labels, weight, *, max_points: int = 5000, dpi: int = 72):
        self.figure = Figure(figsize=(11, 9), dpi=dpi, layout="constrained")
        self.canvas = FigureCanvasAgg(self.figure)
        axes = self.figure.subplots(2, 2)
        self.circle = viz.MarginCircleView(axes[0, 0], embeddings, labels, weight, max_points=max_points)
        self.raw = viz.RawEmbeddingView(axes[0, 1], embeddings, labels, weight, max_points=max_points)
        self.logits = viz.TargetLogitView(axes[1, 0])
        self.probability = viz.ProbabilityView(axes[1, 1], weight=weight)
        # titles stay fixed (text is slow to render); the widget's label says loss, m, s
        for view, title in (
            (self.circle, "unit circle: margin arcs, gaps grey, violators red"),
            (self.logits, "target logit / s (current loss bold)"),
            (self.probability, "p(class 0) around the circle at s, m"),
        ):
            view.titled = False
            view.ax.set_title(title, fontsize=9)
        self.dynamic = [
            *self.circle.arcs, self.circle.gaps, self.circle.violators, self.raw.violators,
            *self.logits.lines.values(), self.probability.current, self.probability.no_margin,
            self.probability.at_bound,
        ]  # fmt: skip
        for artist in self.dynamic:
            artist.set_animated(True)
        self.background, self.margin_key = None, None
        self.widget = widgets.Image(format="jpeg")
        self.widget.add_class("mfn-figure")

    def draw(self, *, head, loss: str, m: float, s: float, violating: np.ndarray, extra: dict) -> None:
        """Update the changed artists, blit them over the cached static layer, send a JPEG.

        Arcs, violators and logit curves depend on (loss, m) only; a move of s redoes only
        the probability view.
        """
        key = (loss, m, tuple(sorted(extra.items())))
        if key != self.margin_key:
            self.margin_key = key
            arcs = margin_arcs(self.circle.weight, head, resolution=512, steps=24)
            self.circle.update(arcs=arcs, violating=violating, title="")
            self.raw.update(violating=violating)
            sphere_m = head.m if loss == "sphereface" else 4
            self.logits.update(m=m, sphereface_m=sphere_m, **_curve_extra(extra))
            for curve, line in self.logits.lines.items():
                line.set(lw=3.0 if curve == loss else 1.3, alpha=1.0 if curve == loss else 0.45)
        self.probability.update(loss=loss, m=m, s=s, **extra)
        self.widget.value = self.render_jpeg()

    def render_jpeg(self) -> bytes:
        if self.background is None:
            # the static layer once: animated artists are skipped by a full draw
            self.canvas.draw()
            self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        self.canvas.restore_region(self.background)
        for artist in self.dynamic:
            self.figure.draw_artist(artist)
        return jpeg_bytes(self.canvas)


def jpeg_bytes(canvas: FigureCanvasAgg, *, quality: int = 90) -> bytes:
    """The canvas as JPEG bytes: about 25x faster to encode than PNG at this size (measured
    1.6 ms vs 40 ms for 792 x 648), and these images live for one slider step."""
    from PIL import Image

    width, height = canvas.get_width_height(physical=True)
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="jpeg", quality=quality)
    return buffer.getvalue()


def _curve_extra(extra: dict) -> dict:
    return {k: v for k, v in extra.items() if k in ("m1", "m3")}


class SphereRenderer:
    """3-D: the plotly sphere, a live FigureWidget or a static figure re-sent into an Output."""

    def __init__(self, embeddings, labels, weight, *, live: bool, max_points: int = 3000, **params):
        self.live = live
        self.figure = viz.plot_sphere(
            embeddings, labels, weight, max_points=max_points, figure_widget=live, **params
        )
        self.state = self.figure._mfn_state  # noqa: SLF001
        self.widget = self.figure if live else widgets.Output()
        self.widget.add_class("mfn-figure") if not live else None

    def draw(self, *, head, loss: str, m: float, s: float, violating: np.ndarray, extra: dict) -> None:
        viz.update_sphere(self.figure, self.state, violating=violating, loss=loss, m=m, s=s, **extra)
        if not self.live:
            import plotly.io as pio

            name = "colab" if in_colab() else "notebook_connected"
            bundle = pio.renderers[name].to_mimebundle(self.figure.to_dict())
            self.widget.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)


# --------------------------------------------------------------------------- the explorer
def _numpy(x) -> np.ndarray:
    return x.detach().cpu().double().numpy() if hasattr(x, "detach") else np.asarray(x, dtype=float)


def resolve_data(head, embeddings, labels, weight) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(embeddings, labels, weight) from the explorer's arguments; nothing -> a synthetic example."""
    if head is None and embeddings is None and labels is None and weight is None:
        return synthetic_2d()
    weight = head.weight if weight is None and head is not None else weight
    if embeddings is None or labels is None or weight is None:
        raise ValueError(
            "MarginExplorer needs embeddings, labels and class weights together: pass "
            "head=..., embeddings=..., labels=... (or weight=... instead of head), or nothing at all "
            "for the synthetic example"
        )
    embeddings, weight = _numpy(embeddings), _numpy(weight)
    if embeddings.ndim != 2 or embeddings.shape[1] not in (2, 3):
        raise ValueError(
            f"the explorer draws 2-D or 3-D embeddings, got shape {embeddings.shape}; "
            "train with embedding_dim=2 (circle) or 3 (sphere)"
        )
    return embeddings, _numpy(labels).astype(np.int64), weight


def _defaults(head, loss, m, s) -> tuple[str, float, float]:
    """Loss, m and s: explicit arguments, else the head's own, else ArcFace, 0.2, 10."""
    head_loss = next((name for name in EXPLORER_LOSSES if type(head).__name__.lower() == name), None)
    if type(head).__name__ == "CombinedMargin":
        head_loss = "combined"
    loss = loss or head_loss or "arcface"
    default_m = 2.0 if loss == "sphereface" else 0.2
    m = m if m is not None else getattr(head, "m2" if loss == "combined" else "m", default_m)
    s = s if s is not None else getattr(head, "s", 10.0)
    return loss, float(m), float(s if loss != "sphereface" else 10.0)


class MarginExplorer(widgets.VBox):
    """Move the margin and watch a trained model's boundaries respond.

    ``MarginExplorer(head=head, embeddings=emb, labels=labels)`` (2-D: circle views;
    3-D: sphere) or ``MarginExplorer()`` for a synthetic 2-D example. Setting
    ``m_slider.value``, ``s_slider.value`` or ``loss.value`` redraws synchronously;
    ``violations`` is the number of samples that violate the margin at those settings.
    ``use_trained_models()`` switches to the second mode: embeddings of models trained at m.
    """

    def __init__(
        self,
        head=None,
        embeddings=None,
        labels=None,
        *,
        weight=None,
        loss: str | None = None,
        m: float | None = None,
        s: float | None = None,
        renderer: str = "auto",
        max_points: int = 5000,
        m_max: float = 0.8,
        s_max: float = 64.0,
        easy_margin: bool = False,
        m1: float = 1.0,
        m3: float = 0.2,
    ):
        embeddings, labels, weight = resolve_data(head, embeddings, labels, weight)
        loss, m, s = _defaults(head, loss, m, s)
        self.renderer_name = choose_renderer(renderer, embeddings.shape[1])
        self.max_points, self.m_max, self.extra = max_points, m_max, {"m1": m1, "m3": m3}
        if easy_margin:
            self.extra["easy_margin"] = True
        self.loss = widgets.Dropdown(options=EXPLORER_LOSSES, value=loss, description="loss")
        self.m_slider = widgets.FloatSlider(value=m, min=0.0, max=m_max, step=0.01, description="m")
        self.s_slider = widgets.FloatSlider(value=s, min=1.0, max=s_max, step=0.5, description="s")
        self.violations_label = widgets.HTML()
        self.status = widgets.HTML()
        self.violations = 0
        self.trained = None  # the second mode's settings, see use_trained_models
        self._busy = False
        self._set_margin_range(loss)
        self.m_slider.value = m
        self.set_data(embeddings, labels, weight, redraw=False)
        for control, cls in (
            (self.m_slider, "mfn-m-slider"),
            (self.s_slider, "mfn-s-slider"),
            (self.loss, "mfn-loss"),
            (self.violations_label, "mfn-violations"),
        ):
            control.add_class(cls)
        self.loss.observe(self._on_loss, names="value")
        self.m_slider.observe(self._on_margin, names="value")
        self.s_slider.observe(lambda _: self.update(), names="value")
        controls = widgets.HBox([self.loss, self.m_slider, self.s_slider])
        super().__init__(
            children=[controls, widgets.HBox([self.violations_label, self.status]), self.view.widget]
        )
        self.add_class("mfn-explorer")
        self.update()

    # -- data and drawing ----------------------------------------------------------------
    def set_data(self, embeddings, labels, weight, *, redraw: bool = True) -> None:
        """New embeddings: cosines computed once here, a new renderer with its static layer."""
        self.embeddings, self.labels, self.weight = embeddings, labels, weight
        self.cache = CosineCache.build(embeddings, labels, weight)
        if self.renderer_name == "matplotlib":
            self.view = CanvasRenderer(embeddings, labels, weight, max_points=self.max_points)
        else:
            self.view = SphereRenderer(
                embeddings,
                labels,
                weight,
                live=self.renderer_name == "plotly",
                loss=self.loss.value,
                m=self.m_slider.value,
                s=self.s_slider.value,
            )
        if redraw:
            self.children = (*self.children[:-1], self.view.widget)
            self.update()

    def head(self):
        """The training head for the current loss, m and s, holding this explorer's weights."""
        return make_head(
            self.loss.value, m=self.m_slider.value, s=self.s_slider.value, weight=self.weight, **self._extra()
        )

    def _extra(self) -> dict:
        extra = {k: v for k, v in self.extra.items() if k != "easy_margin" or self.loss.value == "arcface"}
        return extra if self.loss.value in ("combined", "arcface") else {}

    def update(self) -> None:
        """Re-apply the margin to the cached cosines, count violations, redraw what changed."""
        if self._busy:
            return
        head = self.head()
        violating = self.cache.violations(head)
        self.violations = int(violating.sum())
        self.violations_label.value = (
            f"<b>{viz.violation_title(self.loss.value, head, self.violations, len(violating))}</b> "
            f"({100 * self.violations / max(len(violating), 1):.1f}%), s = {self.s_slider.value:g}"
        )
        self.view.draw(
            head=head,
            loss=self.loss.value,
            m=self.m_slider.value,
            s=self.s_slider.value,
            violating=violating,
            extra=self._extra(),
        )

    # -- controls ------------------------------------------------------------------------
    def _set_margin_range(self, loss: str) -> None:
        """SphereFace's m is an integer 1..6; the others are angles or cosines in [0, m_max]."""
        self._busy = True
        try:
            if loss == "sphereface":
                self.m_slider.max, self.m_slider.step, self.m_slider.min = 6.0, 1.0, 1.0
                self.m_slider.value = float(max(1, round(self.m_slider.value)))
                self.m_slider.readout_format = ".0f"
            else:
                self.m_slider.min, self.m_slider.step, self.m_slider.max = 0.0, 0.01, self.m_max
                self.m_slider.readout_format = ".2f"
        finally:
            self._busy = False

    def _on_loss(self, change) -> None:
        self._set_margin_range(change["new"])
        if self.trained is not None:
            self.trained["loss"] = change["new"]
            self._swap_trained()
        self.update()

    def _on_margin(self, change) -> None:
        if self.trained is not None and not self._busy:
            self._swap_trained()
        self.update()

    # -- the second mode: models trained at each m ---------------------------------------
    def use_trained_models(
        self,
        *,
        margins=None,
        limit: int = 2000,
        epochs: int = 4,
        seed: int = 0,
        folder=None,
        precompute: bool = False,
    ) -> None:
        """Swap in the embeddings of 2-D MNIST models trained at the slider's m.

        Each (loss, m, s) is trained once, on demand, on ``limit`` training digits for
        ``epochs`` epochs, and cached on disk (:func:`trained_embeddings`). The m slider snaps
        to ``margins`` (SphereFace: the integers 1..4); changing s later does not retrain.
        """
        self.trained = {
            "margins": margins,
            "limit": limit,
            "epochs": epochs,
            "seed": seed,
            "folder": folder,
            "loss": self.loss.value,
            "s": self.s_slider.value,
        }
        if precompute:
            for m in self._trained_margins():
                self._trained_data(m)
        self._swap_trained()
        self.update()

    def _trained_margins(self) -> tuple:
        if self.trained["loss"] == "sphereface":
            return (1, 2, 3, 4)
        return tuple(self.trained["margins"] or (0.0, 0.1, 0.2, 0.3, 0.4))

    def _trained_data(self, m: float):
        t = self.trained
        self.status.value = f"&nbsp; training {t['loss']} at m = {m:g} (once; then cached) ..."
        data = trained_embeddings(
            loss=t["loss"],
            m=m,
            s=t["s"],
            limit=t["limit"],
            epochs=t["epochs"],
            seed=t["seed"],
            folder=t["folder"],
        )
        self.status.value = f"&nbsp; showing a model trained at m = {m:g}"
        return data

    def _swap_trained(self) -> None:
        margins = np.asarray(self._trained_margins(), dtype=float)
        m = float(margins[np.abs(margins - self.m_slider.value).argmin()])
        self._busy = True
        try:
            self.m_slider.value = m  # snap to a trained margin
        finally:
            self._busy = False
        self.set_data(*self._trained_data(m), redraw=False)
        self.children = (*self.children[:-1], self.view.widget)


def cache_folder() -> Path:
    """Where trained embeddings are cached: ``$MINIFACENET_CACHE/explorer`` or ~/.cache/minifacenet."""
    return Path(os.environ.get("MINIFACENET_CACHE", "~/.cache/minifacenet")).expanduser() / "explorer"


# Bump when the training recipe changes (net, init, fit defaults), so no stale model is shown.
# 2: class weights of normalised heads start spread evenly (losses.spread_directions).
RECIPE_VERSION = 2


def trained_path(*, loss: str, m: float, s: float, limit: int, epochs: int, seed: int, folder=None) -> Path:
    """The cache file of one trained setting (named with the recipe version)."""
    folder = Path(folder).expanduser() if folder is not None else cache_folder()
    return folder / f"v{RECIPE_VERSION}-{loss}-m{m:.3f}-s{s:g}-n{limit}-e{epochs}-seed{seed}.npz"


def trained_embeddings(
    *,
    loss: str,
    m: float,
    s: float = 10.0,
    limit: int = 2000,
    epochs: int = 4,
    seed: int = 0,
    folder=None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(embeddings, labels, weight) of a 2-D EmbeddingNet trained on MNIST at this margin.

    Trained once per setting on the first ``limit`` training digits (margin warmed up over
    the first half), then read from ``folder`` (default :func:`cache_folder`).
    """
    from .data import mnist
    from .geometry import head_params
    from .losses import build_loss
    from .models import EmbeddingNet
    from .train import embed, fit

    path = trained_path(loss=loss, m=m, s=s, limit=limit, epochs=epochs, seed=seed, folder=folder)
    if path.exists():
        with np.load(path) as saved:
            return saved["embeddings"], saved["labels"], saved["weight"]
    images, labels = mnist(train=True)
    images, labels = images[:limit], labels[:limit]
    model = EmbeddingNet(embedding_dim=2)
    head = build_loss(loss, embedding_dim=2, num_classes=10, **head_params(loss, m=m, s=s))
    batch_size = min(128, limit)
    warmup = epochs * (limit // batch_size) // 2
    fit(
        model,
        head,
        images,
        labels,
        epochs=epochs,
        batch_size=batch_size,
        margin_warmup=warmup,
        seed=seed,
        progress=progress,
    )
    result = (embed(model, images).double().numpy(), labels.numpy(), head.weight.detach().double().numpy())
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, embeddings=result[0], labels=result[1], weight=result[2])
    return result
