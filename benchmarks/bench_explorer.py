"""Time one m-slider update of the 2-D margin explorer with 10 000 embeddings, kernel side.

One update = what the kernel does between the slider's new value and the new JPEG bytes in the
``Image`` widget: count the violations (once), compute the frame (arcs, curves, probabilities;
no loss head built), restore the cached background (points, weights, axes drawn once), draw
the arcs, gaps and curves over it, stamp the violators' rings into the pixels, encode the JPEG.

Printed beside, in the same run: the old path, the update as it was before (violations counted
a second time inside the frame, arcs found by 24-step bisection on a 512-angle grid, one line
per class's arcs, every violator's ring drawn as a marker through the renderer), and a naive
full redraw (new figure, full draw). Wall time includes waiting for a core on a busy machine;
CPU time (this process) does not. Goal: median update <= 8 ms.

torch runs on one thread here (``--torch-threads``): the explorer's torch work is a few ops on
10,000 cosines, which more threads do not speed up, and after each parallel op the idle OpenMP
workers spin for a while, which counts as this process's CPU time (measured: 6.5 ms wall and CPU
at one thread; 6.6 ms wall but 10.9 ms CPU at two).

    python benchmarks/bench_explorer.py [--points 10000] [--repeats 30] [--torch-threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import matplotlib
import torch

matplotlib.use("Agg")

from minifacenet.explorer import MarginExplorer  # noqa: E402
from minifacenet.frames import Scene, compute_frame  # noqa: E402
from minifacenet.geometry import (  # noqa: E402
    CURVE_THETA,
    Margin,
    cosface_margin_upper_bound,
    curve_label,
    curve_names,
    synthetic_2d,
)
from minifacenet.views import CircleDashboard, jpeg_bytes  # noqa: E402

GOAL_MS = 8.0


def median_ms(action, values) -> tuple[float, float]:
    """Median wall time and median CPU time (this process) of ``action(value)``, in ms."""
    wall, cpu = [], []
    for value in values:
        start, start_cpu = time.perf_counter(), time.process_time()
        action(value)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def dashboard(scene: Scene, weight) -> CircleDashboard:
    labels = {name: curve_label(name) for name in curve_names()}
    return CircleDashboard(scene, theta=CURVE_THETA, curve_labels=labels,
                           m_max=cosface_margin_upper_bound(len(weight)))  # fmt: skip


class OldPath:
    """The update as it was: violations counted twice, 24-step bisection on 512 angles, each
    violator ringed by a marker drawn through the renderer (circle and raw panels)."""

    def __init__(self, explorer: MarginExplorer):
        self.scene = explorer.scene
        self.view = dashboard(self.scene, explorer.weight)
        self.view.draw(compute_frame(self.scene, Margin(loss="arcface", m=0.5)))  # the static layer
        self.markers = [self.view.circle.violators, self.view.raw.violators]

    def update(self, m: float) -> bytes:
        margin = Margin(loss="arcface", m=m, s=10.0)
        self.scene.cache.violations(margin).sum()  # the count shown in the label
        frame = compute_frame(self.scene, margin, arc_resolution=512, arc_steps=24)
        view = self.view
        view.circle.update(frame)  # violators as Line2D markers
        view.raw.update(frame)
        view.logits.update(frame.curves, bold=frame.margin.loss)
        view.probability.update(frame.probability, s=frame.margin.s, m=frame.margin.m)
        view.canvas.restore_region(view.background)
        for artist in [*view.dynamic, *self.markers]:
            view.figure.draw_artist(artist)
        return jpeg_bytes(view.canvas)


def naive_update(explorer: MarginExplorer, m: float) -> bytes:
    """Recompute everything for one slider value: cosines, a new figure, a full draw."""
    points = len(explorer.labels)
    scene = Scene.build(explorer.embeddings, explorer.labels, explorer.weight, max_points=points)
    return dashboard(scene, explorer.weight).draw(compute_frame(scene, Margin(loss="arcface", m=m, s=10.0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    embeddings, labels, weight = synthetic_2d(num_classes=10, per_class=args.points // 10, spread=0.2)
    explorer = MarginExplorer(weight=weight, embeddings=embeddings, labels=labels, loss="arcface",
                              max_points=len(labels))  # fmt: skip
    margins = [0.05 + 0.4 * (i % 10) / 10 for i in range(args.repeats)]
    old = OldPath(explorer)

    def update(m):
        explorer.m_slider.value = m

    def compute_only(m):
        compute_frame(explorer.scene, Margin(loss="arcface", m=m, s=10.0))

    def move_s(s):
        explorer.s_slider.value = s

    update(0.5)  # warm up: the static layer is drawn once
    timings = {}
    # interleaved, so that both paths see the same load
    new, before = [], []
    for m in margins:
        new.append(median_ms(update, [m]))
        before.append(median_ms(old.update, [m]))

    def middle(samples):
        return tuple(statistics.median(sample[k] for sample in samples) for k in (0, 1))

    timings["m-slider update, new path (kernel: compute + draw + JPEG)"] = middle(new)
    timings["m-slider update, old path (same run)"] = middle(before)
    timings["  new path's compute (violations, arcs, curves, probabilities)"] = median_ms(
        compute_only, margins
    )
    s_values = [5 + m * 40 for m in margins]
    timings["s-slider update (only the probability view changes)"] = median_ms(move_s, s_values)
    timings["naive redraw (recompute cosines, new figure, full draw, JPEG)"] = median_ms(
        lambda m: naive_update(explorer, m), margins[: max(3, args.repeats // 10)]
    )
    print(f"margin explorer, {len(labels)} 2-D embeddings, {len(weight)} classes, median of {args.repeats}")
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, torch threads {torch.get_num_threads()}")  # fmt: skip
    print(f"{'':<66} {'wall':>9} {'CPU':>9}")
    for name, (wall, cpu) in timings.items():
        print(f"{name:<66} {wall:6.1f} ms {cpu:6.1f} ms")
    wall, cpu = timings[next(iter(timings))]
    print(f"goal <= {GOAL_MS:g} ms per m-slider update: wall {'met' if wall <= GOAL_MS else 'MISSED'}, "
          f"CPU {'met' if cpu <= GOAL_MS else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
