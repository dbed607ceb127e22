"""What helps strangers? The margin sweep and the class-count curve on digit pairs.

    python scripts/strangers.py --jobs 2     # every run not yet finished, then the report
    python scripts/strangers.py --report     # tables and figures from the finished runs
    python scripts/strangers.py --list       # the runs

Every run trains one loss on digit pairs (minifacenet/pairs.py) under the course recipe
(minifacenet/recipe.py), 32-D, and scores both kinds of strangers (held-out pairs of 0-6,
"familiar"; pairs with a digit from 7-9, "new parts"). Runs differ only in the loss, its margin,
the number of training classes and the seed; for one seed, every loss starts from the same
network and sees the same batches, so differences on one seed are paired.

- the sweep: CosFace with m from -0.3 to +0.5 at 7 and at 35 training classes (m = 0 is NormFace);
- the class-count curve: softmax, NormFace, CosFace m = 0.3 and ArcFace m = 0.3 at 7, 21, 35 classes;
- 3 seeds each. Each run writes runs/strangers/<name>.json; the report writes
  minifacenet/strangers_reference.json (every run's numbers), docs/strangers_sweep.png and
  docs/strangers_classes.png, and prints the tables.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minifacenet.strangers import (  # noqa: E402
    CURVE_CLASSES,
    CURVE_M,
    STRANGER_KINDS,
    SWEEP_CLASSES,
    SWEEP_M,
    curve_table,
    sweep_table,
)

SEEDS = (0, 1, 2)
SCALE = 16.0
TRAIN_IMAGES = 12_600  # shared equally among the classes: 1800 a class at 7, 360 at 35
RUNS_DIR = ROOT / "runs" / "strangers"
DOCS = ROOT / "docs"
REFERENCE = ROOT / "minifacenet" / "strangers_reference.json"


def planned_runs() -> list[dict]:
    """Every run of the sweep and of the curve, seed-major so that partial results are balanced."""
    settings = {}
    for classes in SWEEP_CLASSES:
        for m in SWEEP_M:
            settings[("cosface", classes, m)] = {"loss": "cosface", "classes": classes, "m": m}
    for classes in CURVE_CLASSES:
        settings[("softmax", classes, None)] = {"loss": "softmax", "classes": classes, "m": None}
        for loss in ("cosface", "arcface"):
            for m in (0.0, CURVE_M) if loss == "cosface" else (CURVE_M,):
                settings[(loss, classes, m)] = {"loss": loss, "classes": classes, "m": m}
    return [
        {**s, "seed": seed, "name": run_name(**s, seed=seed)} for seed in SEEDS for s in settings.values()
    ]


def run_name(*, loss: str, classes: int, m: float | None, seed: int) -> str:
    margin = "" if m is None else f"-m{m:+.2f}"
    return f"{loss}{margin}-c{classes}-seed{seed}"


@functools.lru_cache(maxsize=3)
def pairs_data(classes: int):
    from minifacenet.pairs import digit_pairs

    return digit_pairs(classes, train_images=TRAIN_IMAGES)


def do_run(run: dict) -> str:
    """Train and score one run; write its JSON atomically (a killed run leaves nothing)."""
    import torch

    from minifacenet.strangers import run_experiment

    torch.set_num_threads(1)
    arguments = {} if run["loss"] == "softmax" else {"s": SCALE, "m": run["m"]}
    result = run_experiment(
        run["loss"], pairs_data(run["classes"]), seed=run["seed"], device="cpu", **arguments
    )
    target = RUNS_DIR / f"{run['name']}.json"
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps({**result, "name": run["name"], "m": run["m"]}, indent=1))
    os.replace(temporary, target)
    return f"{run['name']}: closed-set {100 * result['closed_set']:.1f}, {result['seconds']:.0f} s"


def run_all(jobs: int, *, reverse: bool = False) -> None:
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    todo = [run for run in planned_runs() if not (RUNS_DIR / f"{run['name']}.json").exists()]
    todo = todo[::-1] if reverse else todo  # a second runner from the other end meets the first
    print(f"{len(todo)} of {len(planned_runs())} runs to do, {jobs} at a time", flush=True)
    start = time.perf_counter()
    with Pool(jobs, maxtasksperchild=12) as pool:
        for line in pool.imap_unordered(do_run, todo):
            print(f"[{time.perf_counter() - start:6.0f} s] {line}", flush=True)


# --------------------------------------------------------------------------- the report
def load_results() -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(RUNS_DIR.glob("*.json"))]


def slim(run: dict) -> dict:
    """What the lesson and the README read of a run: its setting and the headline scores."""
    keep = ("name", "loss", "m", "classes", "dim", "seed", "train_images", "closed_set", "seconds")
    scores = ("auc", "tar@far=0.01", "tar@far=0.001", "gallery_accuracy", "nmi")
    return {
        **{key: run[key] for key in keep},
        "strangers": {kind: {key: run["strangers"][kind][key] for key in scores} for kind in STRANGER_KINDS},
    }


def report() -> None:
    """Print the tables; write the reference file the lesson reads and the two figures."""
    import matplotlib

    matplotlib.use("Agg")
    from minifacenet import viz

    results = load_results()
    print(f"{len(results)} of {len(planned_runs())} runs finished\n")
    print("Paired gaps in points, mean [min, max] and seeds won:\n")
    print(curve_table(results), "\n")
    print("CosFace's margin, mean over seeds (%):\n")
    print(sweep_table(results))
    REFERENCE.write_text(json.dumps([slim(run) for run in results], indent=1) + "\n")
    viz.plot_margin_sweep(results).savefig(DOCS / "strangers_sweep.png", dpi=100)
    viz.plot_class_count(results).savefig(DOCS / "strangers_classes.png", dpi=100)
    print(f"\nwrote {REFERENCE.relative_to(ROOT)}, docs/strangers_sweep.png, docs/strangers_classes.png")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one torch thread each)")
    parser.add_argument("--report", action="store_true", help="only the tables and figures")
    parser.add_argument("--list", action="store_true", help="only list the runs")
    parser.add_argument("--reverse", action="store_true", help="last run first (a second runner)")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(run["name"] for run in planned_runs()))
        return
    if not args.report:
        run_all(args.jobs, reverse=args.reverse)
    report()


if __name__ == "__main__":
    main()
