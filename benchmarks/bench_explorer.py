"""Time one slider update of the margin explorer with 10 000 2-D embeddings.

One update = re-apply the margin to the cached cosines, count violations, find the arcs,
update the artists in place, blit and encode the image the widget shows (JPEG bytes).
It is printed beside a naive redraw that recomputes everything: cosines from scratch, a
new figure, a full draw, the same encoding. Goal: median update <= 50 ms for the 2-D views.

    python benchmarks/bench_explorer.py [--points 10000] [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import matplotlib

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
from minifacenet.views import CircleDashboard  # noqa: E402


def median_ms(action, values) -> tuple[float, float]:
    """Median wall time and median CPU time (this process) of ``action(value)``, in ms.

    On a busy machine wall time includes waiting for a core; CPU time does not.
    """
    wall, cpu = [], []
    for value in values:
        start, start_cpu = time.perf_counter(), time.process_time()
        action(value)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def naive_update(explorer: MarginExplorer, m: float) -> bytes:
    """Recompute everything for one slider value: cosines, a new figure, a full draw."""
    points = len(explorer.labels)
    scene = Scene.build(explorer.embeddings, explorer.labels, explorer.weight, max_points=points)
    labels = {name: curve_label(name) for name in curve_names()}
    view = CircleDashboard(scene, theta=CURVE_THETA, curve_labels=labels,
                           m_max=cosface_margin_upper_bound(len(explorer.weight)))  # fmt: skip
    return view.draw(compute_frame(scene, Margin(loss="arcface", m=m, s=10.0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    embeddings, labels, weight = synthetic_2d(num_classes=10, per_class=args.points // 10, spread=0.2)
    explorer = MarginExplorer(weight=weight, embeddings=embeddings, labels=labels, loss="arcface",
                              max_points=len(labels))  # fmt: skip
    margins = [0.05 + 0.4 * (i % 10) / 10 for i in range(args.repeats)]

    def update(m):
        explorer.m_slider.value = m

    def compute_only(m):
        compute_frame(explorer.scene, Margin(loss="arcface", m=m, s=10.0))

    def move_s(s):
        explorer.s_slider.value = s

    update(0.5)  # warm up: the static layer is drawn once
    timings = {
        "slider update (cached cosines, in-place artists, blit, JPEG)": median_ms(update, margins),
        "  of which compute (violations, arcs, curves, probabilities)": median_ms(compute_only, margins),
        "s slider update (only the probability view changes)": median_ms(
            move_s, [5 + m * 40 for m in margins]
        ),
        "naive redraw (recompute cosines, new figure, full draw, JPEG)": median_ms(
            lambda m: naive_update(explorer, m), margins[: max(3, args.repeats // 5)]
        ),
    }
    print(f"margin explorer, {len(labels)} 2-D embeddings, {len(weight)} classes, median of {args.repeats}")
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'':<62} {'wall':>9} {'CPU':>9}")
    for name, (wall, cpu) in timings.items():
        print(f"{name:<62} {wall:6.1f} ms {cpu:6.1f} ms")
    wall, cpu = timings[next(iter(timings))]
    print(f"goal <= 50 ms per m-slider update: wall {'met' if wall <= 50 else 'MISSED'}, "
          f"CPU {'met' if cpu <= 50 else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
