"""Shared helpers for the benchmarks: fixed threads, interleaved timing, paired ratios, tables.

Every benchmark compares variants measured side by side in one process: each repeat runs
every variant once (in a rotated order), so a slow moment of a shared machine hits all
variants of that repeat. A ratio is the **median over repeats of the paired ratio**
``time(a) / time(b)`` of the same repeat; its spread (min..max over repeats) is printed too.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

# One thread by default: on a busy 2-core machine a second thread mostly waits for the
# other processes, which makes timings far noisier. Override with MINIFACENET_BENCH_THREADS.
THREADS = int(os.environ.get("MINIFACENET_BENCH_THREADS", "1"))
# With one thread the process's CPU time is the work done, unaffected by waiting for a core
# that another process holds; with more threads it would add up the threads, so use wall time.
CLOCK_NAME = os.environ.get("MINIFACENET_BENCH_CLOCK", "cpu" if THREADS == 1 else "wall")
CLOCK = time.process_time if CLOCK_NAME == "cpu" else time.perf_counter


def setup(title: str) -> None:
    """Fix the thread count and the seed, and print what machine this ran on."""
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    print(f"\n=== {title} ===")
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} | torch {torch.__version__} | "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores | "
        f"torch threads {torch.get_num_threads()} | device cpu | clock: {CLOCK_NAME} time"
    )


def interleaved(
    variants: dict[str, Callable[[], object]], *, repeats: int, number: int = 1, warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds per call of each variant, one sample per repeat: ``{name: [repeats]}``.

    Each variant first runs ``warmup`` times; then every repeat times ``number`` calls of
    each variant, the order rotated by one per repeat so no variant always goes first.
    """
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            fn = variants[name]
            start = CLOCK()
            for _ in range(number):
                fn()
            samples[name].append((CLOCK() - start) / number)
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio(samples: dict[str, list[float]], top: str, bottom: str) -> tuple[float, float, float]:
    """Median, min and max over repeats of the paired ratio ``top / bottom``."""
    paired = [a / b for a, b in zip(samples[top], samples[bottom], strict=True)]
    return statistics.median(paired), min(paired), max(paired)


def fmt_time(seconds: float) -> str:
    """Seconds in a readable unit: 12.3 us, 4.56 ms, 1.23 s."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(stats: tuple[float, float, float]) -> str:
    mid, low, high = stats
    return f"{mid:.3f} ({low:.2f}..{high:.2f})"


def verdict(value: float, goal: float, *, at_most: bool = True) -> str:
    """'met' or 'MISSED' for ``value <= goal`` (or ``>= goal`` with ``at_most=False``)."""
    met = value <= goal if at_most else value >= goal
    return "met" if met else "MISSED"


def table(header: list[str], rows: list[list[str]]) -> None:
    """Print a GitHub-flavoured markdown table (readable in a terminal, pasteable in docs)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
