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
- 3 seeds each. Each run writes runs/strangers/<name>.json; the report writes docs/strangers.json
  (every run's numbers), docs/strangers_sweep.png, docs/strangers_classes.png and prints the tables.
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

SWEEP_M = (-0.3, -0.15, 0.0, 0.15, 0.3, 0.5)
SWEEP_CLASSES = (7, 35)
CURVE_CLASSES = (7, 21, 35)
SEEDS = (0, 1, 2)
SCALE = 16.0
CURVE_M = 0.3
TRAIN_IMAGES = 12_600  # shared equally among the classes: 1800 a class at 7, 360 at 35
RUNS_DIR = ROOT / "runs" / "strangers"
DOCS = ROOT / "docs"
KINDS = ("familiar", "new_parts")
KIND_LABELS = {
    "familiar": "familiar strangers (new pairs of 0-6)",
    "new_parts": "new-part strangers (with 7-9)",
}
TARS = (("tar@far=0.01", "TAR@FAR=1 %"), ("tar@far=0.001", "TAR@FAR=0.1 %"))


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


def run_all(jobs: int) -> None:
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    todo = [run for run in planned_runs() if not (RUNS_DIR / f"{run['name']}.json").exists()]
    print(f"{len(todo)} of {len(planned_runs())} runs to do, {jobs} at a time", flush=True)
    start = time.perf_counter()
    with Pool(jobs, maxtasksperchild=12) as pool:
        for line in pool.imap_unordered(do_run, todo):
            print(f"[{time.perf_counter() - start:6.0f} s] {line}", flush=True)


# --------------------------------------------------------------------------- the report
def load_results() -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(RUNS_DIR.glob("*.json"))]


def label(run: dict) -> str:
    if run["loss"] == "softmax":
        return "softmax"
    if run["loss"] == "cosface" and run["m"] == 0:
        return "NormFace"
    return f"{'CosFace' if run['loss'] == 'cosface' else 'ArcFace'} m={run['m']:g}"


def by_seed(results: list[dict], name: str, classes: int, kind: str, key: str) -> dict[int, float]:
    """``{seed: score}`` of the runs labelled ``name`` at ``classes``; key "closed_set" or a TAR."""
    out = {}
    for run in results:
        if label(run) == name and run["classes"] == classes:
            out[run["seed"]] = run["closed_set"] if key == "closed_set" else run["strangers"][kind][key]
    return out


def paired_gap(results, head: str, control: str, classes: int, kind: str, key: str) -> list[float]:
    """head minus control on each seed both have, in points."""
    a, b = by_seed(results, head, classes, kind, key), by_seed(results, control, classes, kind, key)
    return [100 * (a[seed] - b[seed]) for seed in sorted(a.keys() & b.keys())]


def format_gaps(gaps: list[float]) -> str:
    if not gaps:
        return "–"
    wins = sum(g > 0 for g in gaps)
    return f"{sum(gaps) / len(gaps):+.1f} [{min(gaps):+.1f}, {max(gaps):+.1f}] {wins}/{len(gaps)}"


CONTRASTS = (
    ("NormFace", "softmax", "NormFace − softmax (normalisation)"),
    (f"CosFace m={CURVE_M:g}", "NormFace", f"CosFace m={CURVE_M:g} − NormFace (margin alone)"),
    (f"ArcFace m={CURVE_M:g}", "NormFace", f"ArcFace m={CURVE_M:g} − NormFace (margin alone)"),
    (f"ArcFace m={CURVE_M:g}", "softmax", f"ArcFace m={CURVE_M:g} − softmax"),
)


def curve_table(results: list[dict]) -> str:
    """Paired gaps per class count, TAR@FAR 1 % and 0.1 %, both kinds of strangers."""
    header = "| classes | contrast | " + " | ".join(
        f"{kind.replace('_', '-')} {name}" for kind in KINDS for _, name in TARS
    )
    lines = [header + " |", "|---:|---|" + "---:|" * (len(KINDS) * len(TARS))]
    for classes in CURVE_CLASSES:
        for head, control, title in CONTRASTS:
            cells = [
                format_gaps(paired_gap(results, head, control, classes, kind, key))
                for kind in KINDS
                for key, _ in TARS
            ]
            lines.append(f"| {classes} | {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def sweep_table(results: list[dict]) -> str:
    """CosFace's m against the mean scores (3 seeds), at few and many classes."""
    columns = [(kind, key) for kind in KINDS for key, _ in TARS] + [(None, "closed_set")]
    names = [f"{kind.replace('_', '-')} {name}" for kind in KINDS for _, name in TARS] + ["closed-set acc."]
    lines = ["| classes | m | seeds | " + " | ".join(names) + " |", "|---:|---:|---:|" + "---:|" * len(names)]
    for classes in SWEEP_CLASSES:
        for m in SWEEP_M:
            name = "NormFace" if m == 0 else f"CosFace m={m:g}"
            scores = [by_seed(results, name, classes, kind, key) for kind, key in columns]
            cells = [f"{100 * mean(s.values()):.1f}" if s else "–" for s in scores]
            lines.append(f"| {classes} | {m:+.2f} | {len(scores[0])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sweep_figure(results: list[dict], path: Path) -> None:
    """TAR (both kinds, both FARs) and closed-set accuracy against m, one line per class count."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 7), constrained_layout=True)
    panels = [(kind, key, title) for key, title in TARS for kind in KINDS]
    spots = [axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]]
    for ax, (kind, key, title) in zip(spots, panels, strict=True):
        draw_sweep(ax, results, kind, key)
        ax.set_title(f"{KIND_LABELS[kind]}\n{title}", fontsize=10)
        ax.set_ylabel(f"{title} (%)")
    draw_sweep(axes[0, 2], results, None, "closed_set")
    axes[0, 2].set_title("the training classes' test images\nclosed-set accuracy", fontsize=10)
    axes[0, 2].set_ylabel("accuracy (%)")
    axes[1, 2].axis("off")
    axes[1, 2].text(
        0.0,
        0.5,
        "CosFace, s = 16, 32-D, digit pairs.\nm < 0: a negative margin (favours the class);\n"
        "m = 0: NormFace (no margin).\nDots: seeds; line: mean over seeds.",
        fontsize=10,
        va="center",
    )
    for ax in axes.flat[:5]:
        ax.axvline(0, color="0.7", lw=1, zorder=0)
        ax.set_xlabel("margin m")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_sweep(ax, results, kind, key) -> None:
    for classes, color in zip(SWEEP_CLASSES, ("tab:orange", "tab:blue"), strict=True):
        means = []
        for m in SWEEP_M:
            name = "NormFace" if m == 0 else f"CosFace m={m:g}"
            values = [100 * v for v in by_seed(results, name, classes, kind, key).values()]
            ax.scatter([m] * len(values), values, s=12, color=color, alpha=0.5)
            means.append(mean(values))
        ax.plot(SWEEP_M, means, "-o", color=color, label=f"{classes} training classes")
    ax.legend(fontsize=8)


def classes_figure(results: list[dict], path: Path) -> None:
    """Paired gaps against the number of training classes, per contrast."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True, constrained_layout=True)
    colors = ("tab:green", "tab:purple", "tab:red")
    for row, (key, title) in enumerate(TARS):
        for col, kind in enumerate(KINDS):
            ax = axes[row, col]
            for (head, control, contrast), color in zip(CONTRASTS[:3], colors, strict=True):
                gaps = [paired_gap(results, head, control, c, kind, key) for c in CURVE_CLASSES]
                for classes, values in zip(CURVE_CLASSES, gaps, strict=True):
                    ax.scatter([classes] * len(values), values, s=12, color=color, alpha=0.5)
                ax.plot(CURVE_CLASSES, [mean(g) for g in gaps], "-o", color=color, label=contrast)
            ax.axhline(0, color="0.5", lw=1)
            ax.set_title(f"{KIND_LABELS[kind]}: {title}", fontsize=10)
            ax.set_ylabel("paired gap (points)")
            ax.set_xticks(CURVE_CLASSES)
    for ax in axes[1]:
        ax.set_xlabel("training classes")
    axes[0, 0].legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report() -> None:
    results = load_results()
    print(f"{len(results)} of {len(planned_runs())} runs finished\n")
    print("Paired gaps in points, mean [min, max] and seeds won:\n")
    print(curve_table(results), "\n")
    print("CosFace's margin, mean over seeds (%):\n")
    print(sweep_table(results))
    keep = ("name", "loss", "m", "classes", "dim", "seed", "train_images", "closed_set", "seconds")
    slim = [
        {
            **{k: run[k] for k in keep},
            "strangers": {
                kind: {
                    key: run["strangers"][kind][key]
                    for key in ("auc", "tar@far=0.01", "tar@far=0.001", "gallery_accuracy", "nmi")
                }
                for kind in KINDS
            },
        }
        for run in results
    ]
    (DOCS / "strangers.json").write_text(json.dumps(slim, indent=1))
    sweep_figure(results, DOCS / "strangers_sweep.png")
    classes_figure(results, DOCS / "strangers_classes.png")
    print("\nwrote docs/strangers.json, docs/strangers_sweep.png, docs/strangers_classes.png")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one torch thread each)")
    parser.add_argument("--report", action="store_true", help="only the tables and figures")
    parser.add_argument("--list", action="store_true", help="only list the runs")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(run["name"] for run in planned_runs()))
        return
    if not args.report:
        run_all(args.jobs)
    report()


if __name__ == "__main__":
    main()
