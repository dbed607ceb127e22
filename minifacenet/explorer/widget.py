"""The explorer's controls: ipywidgets only. One direction: controls -> a
:class:`~minifacenet.geometry.Margin` -> :func:`~minifacenet.frames.compute_frame` (arrays) ->
a view of :mod:`minifacenet.views` draws them -> the image or figure widget shows it.
Which controls act, and their ranges, are read from the loss classes.

Renderers: ``matplotlib`` (2-D: four panels; 3-D: the sphere turned by azimuth/elevation
sliders), both as JPEG bytes in an ``ipywidgets.Image`` (core widgets only: works in Colab,
with ipywidgets 7.7 and 8); ``plotly`` (3-D outside Colab: a live ``FigureWidget``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading

import ipywidgets as widgets
import numpy as np

from ..frames import Scene, compute_frame, snapshot_data
from ..geometry import (
    CURVE_THETA,
    Margin,
    cosface_margin_upper_bound,
    curve_label,
    curve_names,
    describe,
    explorer_losses,
    loss_class,
    synthetic_2d,
)
from ..tensors import to_numpy
from ..views import CircleDashboard, SphereImage, sphere_figure, update_sphere_figure
from .cache import trained_embeddings, trained_path, trained_report

TAR_KEYS = ("tar@far=0.01", "tar@far=0.001")  # the strangers' scores of the trained-mode table
RENDERERS = ("auto", "matplotlib", "plotly")


def in_colab() -> bool:
    """True inside Google Colab, whose kernel has imported ``google.colab``."""
    return sys.modules.get("google.colab") is not None


def choose_renderer(renderer: str, embedding_dim: int) -> str:
    """``"auto"``: matplotlib in 2-D and in Colab; a plotly FigureWidget for 3-D elsewhere."""
    if renderer not in RENDERERS:
        raise ValueError(f"unknown renderer {renderer!r}: choose one of {', '.join(RENDERERS)}")
    if embedding_dim == 2:
        if renderer == "plotly":
            raise ValueError("2-D views use the matplotlib renderer; pass renderer='auto' or 'matplotlib'")
        return "matplotlib"
    if renderer == "plotly" and in_colab():
        raise ValueError("plotly inside a widget does not display in Colab: use renderer='matplotlib'")
    if renderer == "auto":
        has_anywidget = importlib.util.find_spec("anywidget") is not None
        return "plotly" if has_anywidget and not in_colab() else "matplotlib"
    return renderer


class LatestOnly:
    """Run ``action`` for the newest request only; requests made while one waits are dropped.

    In a running event loop (a Jupyter kernel) the action is scheduled with ``call_soon``, so
    slider events already waiting are handled first (each only records its value) and the
    action then draws the latest state once. Without a running loop it runs at once.
    ``requests`` and ``runs`` count both.
    """

    def __init__(self, action):
        self.action, self.scheduled, self.requests, self.runs = action, False, 0, 0

    def request(self) -> None:
        self.requests += 1
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.run()
            return
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(self.run)

    def run(self) -> None:
        self.scheduled = False
        self.runs += 1
        self.action()


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
    labels = to_numpy(labels).astype(np.int64)
    return to_numpy(embeddings, dtype=np.float64), labels, to_numpy(weight, dtype=np.float64)


def initial_margin(head, *, loss, m, s, m1: float, m3: float, easy_margin: bool) -> Margin:
    """Explicit arguments first, then the head's own loss, m and s, then ArcFace m = 0.2, s = 10."""
    found = {}
    if head is not None:
        own = Margin.of_head(head) if loss is None else None
        found = (
            {"s": float(getattr(head, "s", 10.0))}
            if own is None
            else {"loss": own.loss, "m": own.m, "s": own.s}
        )
    loss = loss or found.get("loss", "arcface")
    cls = loss_class(loss)
    default_m = cls.defaults().get(cls.margin_arg, cls.neutral_margin)
    m = m if m is not None else found.get("m", default_m)
    s = s if s is not None else found.get("s", 10.0)
    return Margin(loss=loss, m=float(m), s=float(s), m1=m1, m3=m3, easy_margin=easy_margin)


class MarginExplorer(widgets.VBox):
    """Move the margin and watch a trained model's boundaries respond.

    ``MarginExplorer(head=head, embeddings=emb, labels=labels)`` (2-D: circle views; 3-D:
    sphere) or ``MarginExplorer()`` for a synthetic 2-D example; ``strangers=`` embeddings of
    classes never trained on are drawn in black (checkbox ``show_strangers``). Setting a
    control's value (``loss``, ``m_slider``, ``s_slider``, ``m1_slider``, ``m3_slider``,
    ``easy_margin``) counts ``violations`` at once and redraws (at once outside a kernel;
    in a kernel once the waiting slider events are handled: only the latest is drawn).
    Modes: :meth:`use_trained_models` (models trained at each m), :meth:`use_snapshots`
    (scrub through training with ``step_slider``).
    """

    def __init__(self, head=None, embeddings=None, labels=None, *, weight=None, loss: str | None = None,
                 m: float | None = None, s: float | None = None, strangers=None, renderer: str = "auto",
                 max_points: int = 5000, m_max: float = 0.8, s_max: float = 64.0, easy_margin: bool = False,
                 m1: float = 1.0, m3: float = 0.2):  # fmt: skip
        margin = initial_margin(head, loss=loss, m=m, s=s, m1=m1, m3=m3, easy_margin=easy_margin)
        embeddings, labels, weight = resolve_data(head, embeddings, labels, weight)
        self.renderer_name = choose_renderer(renderer, embeddings.shape[1])
        self.max_points = max_points
        self.m_max = max(m_max, 0 if margin.head_class.integer_margin else margin.m)
        self.violations, self.frame, self.mode = 0, None, "fixed"
        self.snapshots, self.trained, self._changing = None, None, False
        self.trained_models, self.trained_scores, self.training = {}, {}, None
        self._build_controls(margin, s_max=max(s_max, margin.s))
        self._violations = None  # (margin shape, violating [N]) counted for the controls' margin
        self.drawer = LatestOnly(self._draw)
        self.image = widgets.Image(format="jpeg")
        self.image.add_class("mfn-figure")
        self.set_data(embeddings, labels, weight, strangers=strangers, redraw=False)
        super().__init__(children=self._rows())
        self.add_class("mfn-explorer")
        for control in (self.loss, self.m_slider, self.s_slider, self.m1_slider, self.m3_slider,
                        self.easy_margin, self.show_strangers, self.azimuth, self.elevation):  # fmt: skip
            control.observe(self._on_control, names="value")
        self.step_slider.observe(self._on_step, names="value")
        self.update()

    # -- controls ------------------------------------------------------------------------
    def _build_controls(self, margin: Margin, *, s_max: float) -> None:
        self.loss = widgets.Dropdown(options=explorer_losses(), value=margin.loss, description="loss")
        self.m_slider = widgets.FloatSlider(min=0.0, max=self.m_max, step=0.01, description="m")
        self.s_slider = widgets.FloatSlider(value=margin.s, min=1.0, max=s_max, step=0.5, description="s")
        self.m1_slider = widgets.FloatSlider(value=margin.m1, min=1.0, max=2.0, step=0.05, description="m1")
        self.m3_slider = widgets.FloatSlider(value=margin.m3, min=0.0, max=0.5, step=0.01, description="m3")
        self.easy_margin = widgets.Checkbox(value=margin.easy_margin, description="easy_margin")
        self.show_strangers = widgets.Checkbox(value=True, description="strangers (black)")
        self.azimuth = widgets.IntSlider(value=30, min=-180, max=180, step=5, description="azimuth")
        self.elevation = widgets.IntSlider(value=20, min=-90, max=90, step=5, description="elevation")
        self.step_slider = widgets.IntSlider(value=0, min=0, max=0, description="snapshot")
        self.violations_label, self.status, self.scores = widgets.HTML(), widgets.HTML(), widgets.HTML()
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="training")
        self.progress.layout.display = "none"
        self._set_margin_range(margin.loss)
        self.m_slider.value = margin.m
        for control, name in ((self.m_slider, "mfn-m-slider"), (self.s_slider, "mfn-s-slider"),
                              (self.loss, "mfn-loss"), (self.violations_label, "mfn-violations"),
                              (self.step_slider, "mfn-step-slider")):  # fmt: skip
            control.add_class(name)

    def _rows(self) -> list:
        extra = widgets.HBox([self.m1_slider, self.m3_slider, self.easy_margin, self.show_strangers])
        turn = widgets.HBox([self.azimuth, self.elevation, self.step_slider])
        figure = self.plotly_figure if self.renderer_name == "plotly" else self.image
        return [widgets.HBox([self.loss, self.m_slider, self.s_slider]), extra, turn,
                widgets.HBox([self.violations_label, self.status, self.progress]), self.scores,
                figure]  # fmt: skip

    def _show_relevant_controls(self) -> None:
        """Hide what does not act now: a formula argument the loss does not take (m1, m3,
        easy_margin), the sphere's turn outside 3-D, ..."""
        takes = loss_class(self.loss.value).formula_args
        shown = {
            self.m1_slider: "m1" in takes,
            self.m3_slider: "m3" in takes,
            self.easy_margin: "easy_margin" in takes,
            self.show_strangers: self.scene.strangers is not None,
            self.azimuth: self.scene.dim == 3 and self.renderer_name == "matplotlib",
            self.elevation: self.scene.dim == 3 and self.renderer_name == "matplotlib",
            self.step_slider: self.mode == "snapshots",
        }
        for control, visible in shown.items():
            control.layout.display = None if visible else "none"

    def _set_margin_range(self, loss: str) -> None:
        """The m slider spans the loss's own range: integers for an integer margin, else from its
        lower bound (below 0 for CosFace and ArcFace) to ``m_max``; disabled without a margin."""
        cls = loss_class(loss)
        low, high = cls.margin_range
        if cls.integer_margin:
            high = min(high - 1, 6)
            value = float(min(high, max(low, round(self.m_slider.value))))
            self.m_slider.max, self.m_slider.step, self.m_slider.min = float(high), 1.0, float(low)
            self.m_slider.value, self.m_slider.readout_format = value, ".0f"
        else:
            low = max(low, -self.m_max) if cls.margin_arg else 0.0
            self.m_slider.min, self.m_slider.step, self.m_slider.max = low, 0.01, min(self.m_max, high)
            self.m_slider.readout_format = ".2f"
        self.m_slider.disabled = cls.margin_arg is None or self.training is not None

    def margin(self) -> Margin:
        """The margin the controls show now."""
        return Margin(loss=self.loss.value, m=float(self.m_slider.value), s=float(self.s_slider.value),
                      m1=float(self.m1_slider.value), m3=float(self.m3_slider.value),
                      easy_margin=bool(self.easy_margin.value))  # fmt: skip

    def _on_control(self, change) -> None:
        if self._changing:
            return
        if change["owner"] is self.loss:
            self._changing = True
            try:
                self._set_margin_range(change["new"])
            finally:
                self._changing = False
        if self.mode == "trained" and change["owner"] is self.loss:
            self._train_ahead()  # a new loss: its models train in a thread, the slider waits
        elif self.mode == "trained" and change["owner"] is self.m_slider:
            self._swap_trained()  # every margin is trained already: a swap from memory
        self._count()
        self.drawer.request()

    # -- data and drawing ----------------------------------------------------------------
    def set_data(self, embeddings, labels, weight, *, strangers=None, redraw: bool = True) -> None:
        """New embeddings (and strangers): cosines computed once here, a new view."""
        self.scene = Scene.build(embeddings, labels, weight, strangers=strangers, max_points=self.max_points)
        self.embeddings, self.labels, self.weight = (
            to_numpy(embeddings, dtype=np.float64),
            self.scene.cache.labels,
            to_numpy(weight, dtype=np.float64),
        )
        self.frame, self._violations = None, None
        if self.scene.dim == 2:
            labels = {name: curve_label(name) for name in curve_names()}
            self.view = CircleDashboard(self.scene, theta=CURVE_THETA, curve_labels=labels,
                                        m_max=cosface_margin_upper_bound(len(self.weight)))  # fmt: skip
        elif self.renderer_name == "matplotlib":
            self.view = SphereImage(self.scene)
        else:
            self.plotly_figure = sphere_figure(self.scene, figure_widget=True)
            self.plotly_figure.add_class("mfn-figure")
            self.view = self.plotly_figure
            if self.children:
                self.children = (*self.children[:-1], self.plotly_figure)
        if redraw:
            self.update()

    def _count(self) -> None:
        """Violations at the controls' margin, now (cheap: one margin function on N cosines)."""
        margin = self.margin()
        if self._violations is None or self._violations[0] != margin.shape:
            self._violations = (margin.shape, self.scene.cache.violations(margin))
        violating = self._violations[1]
        self.violations = int(violating.sum())
        share = 100 * self.violations / max(len(violating), 1)
        self.violations_label.value = (
            f"<b>{describe(margin, self.violations, len(violating))}</b> ({share:.1f}%), s = {margin.s:g}"
        )

    def update(self) -> None:
        """Count and redraw now."""
        self._show_relevant_controls()
        self._count()
        self._draw()

    def _draw(self) -> None:
        self._show_relevant_controls()
        margin = self.margin()
        counted = self._violations[1] if self._violations and self._violations[0] == margin.shape else None
        self.frame = compute_frame(self.scene, margin, previous=self.frame, violating=counted)
        shown = bool(self.show_strangers.value)
        if self.renderer_name == "plotly":
            update_sphere_figure(self.plotly_figure, self.scene, self.frame, show_strangers=shown)
        elif self.scene.dim == 3:
            self.image.value = self.view.draw(self.frame, elev=self.elevation.value, azim=self.azimuth.value,
                                              show_strangers=shown)  # fmt: skip
        else:
            self.image.value = self.view.draw(self.frame, show_strangers=shown)

    # -- mode: snapshots taken during training --------------------------------------------
    def use_snapshots(self, snapshots: list, *, labels) -> None:
        """Scrub through ``fit``'s ``history["snapshots"]`` with ``step_slider``: each is
        ``{"step", "fraction", "weights" [C, D] or None, "embeddings" [N, D]}`` of the same
        N images (``labels`` ``[N]``; -1 marks a stranger, drawn in black). Without weights
        (metric losses), class mean directions."""
        if not snapshots:
            raise ValueError("no snapshots: train with fit(..., snapshot_every=k, snapshot_images=images)")
        self.snapshots, self.snapshot_labels, self.mode = list(snapshots), to_numpy(labels), "snapshots"
        self.step_slider.max = len(self.snapshots) - 1
        if self.step_slider.value == len(self.snapshots) - 1:
            self._show_snapshot()
        self.step_slider.value = len(self.snapshots) - 1

    def _on_step(self, change) -> None:
        if self.mode == "snapshots":
            self._show_snapshot()

    def _show_snapshot(self) -> None:
        snapshot = self.snapshots[self.step_slider.value]
        embeddings, labels, weight, strangers = snapshot_data(snapshot, self.snapshot_labels)
        self.set_data(embeddings, labels, weight, strangers=strangers, redraw=False)
        self.status.value = (
            f"&nbsp; step {snapshot['step']} ({100 * snapshot.get('fraction', 0.0):.0f}% of training)"
        )
        self._count()
        self.drawer.request()

    # -- mode: models trained at each m ---------------------------------------------------
    def use_trained_models(self, *, margins=None, limit: int = 2000, epochs: int = 4, seed: int = 0,
                           folder=None, background: bool = True) -> None:  # fmt: skip
        """Swap in the embeddings of 2-D MNIST models trained at the slider's m.

        Every margin of the loss (``margins``; an integer margin: 1..4) is trained ahead, once,
        on ``limit`` seen training digits for ``epochs`` epochs, and cached on disk
        (:func:`~minifacenet.explorer.cache.trained_embeddings`); what is not cached yet trains
        in a thread (``background``) while the m slider is disabled and a progress bar runs.
        The m slider then snaps to the trained margins; changing s later does not retrain.
        Beside the violations, a table gives each trained m's strangers' TAR@FAR (digits 7-9).
        """
        self.trained = {"margins": margins, "limit": limit, "epochs": epochs, "seed": seed, "folder": folder,
                        "s": self.s_slider.value, "background": background}  # fmt: skip
        self.mode = "trained"
        self._train_ahead()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the models training in the background are done (for scripts and tests)."""
        if self.training is not None:
            self.training.join(timeout)

    def _trained_margins(self) -> tuple:
        cls = loss_class(self.loss.value)
        if cls.integer_margin:
            low, high = cls.margin_range
            return tuple(range(int(low), int(min(high, 5))))
        return tuple(self.trained["margins"] or (0.0, 0.1, 0.2, 0.3, 0.4))

    def _settings(self) -> dict:
        return {key: self.trained[key] for key in ("s", "limit", "epochs", "seed", "folder")}

    def _train_ahead(self) -> None:
        """Train (or read) every margin of the current loss, then show the one nearest the slider."""
        loss, margins = self.loss.value, self._trained_margins()
        settings = self._settings()
        for m in margins:  # what is cached on disk is read now: reading is no training
            if (loss, m) not in self.trained_models and trained_path(loss=loss, m=m, **settings).exists():
                self.trained_models[loss, m] = trained_embeddings(loss=loss, m=m, **settings)
        missing = [m for m in margins if (loss, m) not in self.trained_models]
        if not missing:
            self._swap_trained()
            self.update()
            return
        self.m_slider.disabled = True
        self.progress.max, self.progress.value, self.progress.layout.display = len(missing), 0, None

        def work():
            for m in missing:
                self.status.value = f"&nbsp; training {loss} at m = {m:g} (once; then cached) ..."
                self.trained_models[loss, m] = trained_embeddings(loss=loss, m=m, **self._settings())
                self.progress.value += 1
            self.training = None
            self.progress.layout.display = "none"
            self._set_margin_range(loss)
            if self.loss.value == loss:
                self._swap_trained()
                self.update()

        self.training = threading.Thread(target=work, daemon=True)
        if self.trained["background"]:
            self.training.start()
        else:
            self.training.run()

    def _swap_trained(self) -> None:
        """Snap the slider to the nearest trained margin and show that model (from memory)."""
        loss = self.loss.value
        margins = np.asarray([m for m in self._trained_margins() if (loss, m) in self.trained_models])
        if not len(margins):
            return
        m = float(margins[np.abs(margins - self.m_slider.value).argmin()])
        self._changing = True
        try:
            self.m_slider.value = m  # snap to a trained margin
        finally:
            self._changing = False
        model = self.trained_models[loss, m]
        self.set_data(model.embeddings, model.labels, model.weight, strangers=model.strangers, redraw=False)
        self.status.value = f"&nbsp; showing a model trained at m = {m:g}"
        self.scores.value = self._scores_table(loss)

    def _scores_table(self, loss: str) -> str:
        """HTML: for each trained m, its violations (of its own margin) and the strangers' TAR@FAR."""
        rows = []
        for m in self._trained_margins():
            model = self.trained_models.get((loss, m))
            if model is None:
                continue
            if (loss, m) not in self.trained_scores:
                margin = Margin(loss=loss, m=m, s=self.s_slider.value)
                scene = Scene.build(model.embeddings, model.labels, model.weight, max_points=1)
                self.trained_scores[loss, m] = (int(scene.cache.violations(margin).sum()), len(model.labels),
                                                trained_report(model, loss))  # fmt: skip
            count, total, report = self.trained_scores[loss, m]
            tar = "–" if report is None else " / ".join(f"{100 * report[key]:.1f}" for key in TAR_KEYS)
            bold = ("<b>", "</b>") if m == self.m_slider.value else ("", "")
            rows.append(f"<tr><td>{bold[0]}{m:g}{bold[1]}</td><td>{count} of {total}</td><td>{tar}</td></tr>")
        header = "<tr><th>trained m</th><th>violations</th><th>strangers' TAR@FAR 1% / 0.1%</th></tr>"
        return f"<table class='mfn-trained-scores'>{header}{''.join(rows)}</table>"
