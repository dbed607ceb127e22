"""The open-set MNIST table from finished CLI runs (``bash scripts/train_table.sh --open``).

    python scripts/results_table.py                     # markdown tables from runs/table/open-*
    python scripts/results_table.py --reference minifacenet/scoreboard_reference.json

Reads every ``<runs>/open-*/metrics.json`` (runs made with ``--unseen-classes``), prints one
row per (dim, loss) -- the mean over its seeds when it has several -- and, per dimension,
each loss minus softmax on the *same seed* (mean paired gap, and its min and max over the
seeds). ``--reference`` also writes the scoreboard's reference file: one row per (loss, dim),
every measure's mean, min and max over *all* the seeds found (no seed is picked); a row with
fewer than 3 seeds stops the writer unless ``--allow-partial`` marks it (``seeds_note``), and
the scoreboard then shows it unranked.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minifacenet.openset import (  # noqa: E402
    GAP_KEYS,
    MARGIN_HEADS,
    MIN_REFERENCE_SEEDS,
    REPORT_COLUMNS,
    controls_of,
    format_gap,
    format_value,
    paired_differences,
)
from minifacenet.openset import SCOREBOARD_ORDER as COURSE  # noqa: E402 - every loss, NormFace included


def load_runs(runs: Path) -> list[dict]:
    """One dict per finished open-set run: loss, dim, seed, the open-set block, command."""
    found = []
    for path in sorted(runs.glob("open-*/metrics.json")):
        metrics = json.loads(path.read_text())
        if "open_set" not in metrics:
            continue
        args = metrics["args"]
        found.append(
            {
                "row": path.parent.name,
                "loss": args["loss"],
                "dim": args["dim"],
                "seed": args["seed"],
                "scores": metrics["open_set"],
                "closed_set": metrics["test_accuracy"],
                "seconds": metrics["seconds"],
                "command": "python -m minifacenet train " + command_flags(args),
            }
        )
    return found


def command_flags(args: dict) -> str:
    """The CLI flags a run was made with (those that differ from nothing: all but paths)."""
    skip = {"command", "out", "data_root", "device", "limit"}
    flags = []
    for key, value in args.items():
        if key in skip or value is None:
            continue
        flag = "--" + key.replace("_", "-")
        flags.append(f"{flag} {' '.join(map(str, value))}" if isinstance(value, list) else f"{flag} {value}")
    return " ".join(flags)


def grouped(runs: list[dict]) -> dict[tuple[int, str], list[dict]]:
    """``{(dim, loss): [runs over seeds]}`` in the course's order, 2-D first."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for run in sorted(runs, key=lambda r: (r["dim"], COURSE.index(r["loss"]), r["seed"])):
        groups.setdefault((run["dim"], run["loss"]), []).append(run)
    return groups


def score_table(runs: list[dict]) -> str:
    """One row per (dim, loss); a cell is the mean over the seeds the row has."""
    headers = [column[1] for column in REPORT_COLUMNS]
    lines = ["| dim | loss | seeds | metric | " + " | ".join(headers) + " | closed-set acc. 0-6 (%) | s |"]
    lines.append("|---:|---|---:|---|" + "---:|" * (len(headers) + 2))
    for (dim, loss), group in grouped(runs).items():
        cells = [
            format_value(float(np.mean([r["scores"][key] for r in group])), factor=factor, decimals=decimals)
            for key, _, factor, decimals in REPORT_COLUMNS
        ]
        closed = format_value(float(np.mean([r["closed_set"] for r in group])), factor=100, decimals=2)
        seconds = np.mean([r["seconds"] for r in group])
        metric = group[0]["scores"]["metric"]
        lines.append(
            f"| {dim} | {loss} | {len(group)} | {metric} | "
            + " | ".join(cells)
            + f" | {closed} | {seconds:.0f} |"
        )
    return "\n".join(lines)


STRICT_GAP_KEYS = (("tar@far=0.01", "TAR@FAR=1%"), ("tar@far=0.001", "TAR@FAR=0.1%"))


def gap_table(runs: list[dict], *, baseline: str = "softmax", heads=None, keys=GAP_KEYS) -> str:
    """Per dimension: each loss (or only ``heads``) minus ``baseline`` on the same seed, mean [min, max]."""
    lines = [
        "| dim | loss | seeds | "
        + " | ".join(f"{name} minus {baseline}: mean [min, max] (points)" for _, name in keys)
        + " | seeds better (TAR) |",
        "|---:|---|---:|" + "---:|" * (len(keys) + 1),
    ]
    for dim in sorted({r["dim"] for r in runs}):
        at_dim = [r for r in runs if r["dim"] == dim]
        gaps = {}
        for key, _ in keys:
            scores: dict[str, dict[int, float]] = {}
            for run in at_dim:
                scores.setdefault(run["loss"], {})[run["seed"]] = run["scores"][key]
            if baseline not in scores:
                break
            gaps[key] = paired_differences(scores, baseline=baseline)
        shown = [name for name in (heads or COURSE) if name != baseline and key_present(gaps, name)]
        for loss in shown:
            cells = [format_gap(gaps[key][loss]) for key, _ in keys]
            tar = gaps[keys[0][0]][loss]
            lines.append(
                f"| {dim} | {loss} | {tar['pairs']} | "
                + " | ".join(cells)
                + f" | {tar['wins']}/{tar['pairs']} |"
            )
    return "\n".join(lines)


def key_present(gaps: dict, loss: str) -> bool:
    return bool(gaps) and all(loss in by_loss for by_loss in gaps.values())


def reference_rows(runs: list[dict], *, allow_partial: bool = False) -> list[dict]:
    """The scoreboard's reference rows: per (loss, dim), each measure's mean, min and max over every seed.

    ``scores`` holds the means (plus ``metric``, ``classes``, ``images``), ``min`` and ``max``
    the extremes, ``seeds`` the seeds found. A row of fewer than 3 seeds raises, or with
    ``allow_partial`` is written with a ``seeds_note`` (shown unranked by the scoreboard).
    """
    rows, short = [], []
    for (dim, loss), group in grouped(runs).items():
        check_one_setting(group)
        seeds = [r["seed"] for r in group]
        row = {"loss": loss, "dim": dim, "seeds": seeds, **seed_statistics(group)}
        row["paired"] = paired_gaps(runs, loss=loss, dim=dim)
        row["command"] = (
            group[0]["command"].replace(f"--seed {seeds[0]}", "--seed SEED") + f"  # SEED in {seeds}"
        )
        if len(seeds) < MIN_REFERENCE_SEEDS:
            short.append(f"{loss} {dim}-D (seeds {seeds})")
            row["seeds_note"] = f"{len(seeds)} of {MIN_REFERENCE_SEEDS} seeds so far"
        rows.append(row)
    if short and not allow_partial:
        raise SystemExit(
            f"fewer than {MIN_REFERENCE_SEEDS} seeds for {', '.join(short)}: finish their runs "
            "(bash scripts/train_table.sh), or pass --allow-partial to write them marked, unranked"
        )
    return rows


def paired_gaps(runs: list[dict], *, loss: str, dim: int) -> dict:
    """``{control: {key: gap}}``: the row minus each of its controls on the *same* seeds (no control: absent).

    Each gap is :func:`~minifacenet.openset.paired_differences`'s mean, min, max, wins and pairs
    over the seeds both ran, for each of :data:`~minifacenet.openset.GAP_KEYS`.
    """
    at_dim = [r for r in runs if r["dim"] == dim]
    gaps = {}
    for control in controls_of(loss):
        by_key = {}
        for key, _ in GAP_KEYS:
            scores = {
                name: {r["seed"]: r["scores"][key] for r in at_dim if r["loss"] == name}
                for name in (loss, control)
            }
            if scores[control]:
                by_key[key] = paired_differences(scores, baseline=control).get(loss)
        if by_key and all(by_key.values()):
            gaps[control] = by_key
    return gaps


# what a reference row keeps from its first seed, unaveraged: the measure, the images, the gallery size
KEPT = ("metric", "classes", "images", "seen_classes", "gallery_per_class")


def seed_statistics(group: list[dict]) -> dict:
    """A row's ``metric``, ``scores`` (means, with ``metric``, ``classes``, ``images``), ``min``, ``max``."""
    first = group[0]["scores"]
    numeric = [key for key, value in first.items() if isinstance(value, (int, float)) and key not in KEPT]
    # [seeds, measures]
    values = np.array([[r["scores"][key] for key in numeric] for r in group], dtype=np.float64)
    means, lows, highs = (
        dict(zip(numeric, map(float, stat(values, axis=0)), strict=True))
        for stat in (np.mean, np.min, np.max)
    )
    kept = {key: first[key] for key in KEPT if key in first}
    return {"metric": first["metric"], "scores": {**kept, **means}, "min": lows, "max": highs}


def check_one_setting(group: list[dict]) -> None:
    """The seeds of one row must differ in the seed only: a mean over two recipes means nothing."""
    commands = {r["command"].replace(f"--seed {r['seed']}", "--seed SEED") for r in group}
    if len(commands) > 1:
        names = ", ".join(r["row"] for r in group)
        raise SystemExit(
            f"the runs {names} differ in more than the seed: {sorted(commands)}; rerun them alike"
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "table")
    parser.add_argument(
        "--reference", type=Path, default=None, help="also write the scoreboard's reference file"
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="write reference rows of fewer than 3 seeds, marked (shown unranked)",
    )
    args = parser.parse_args(argv)
    runs = load_runs(args.runs)
    if not runs:
        raise SystemExit(f"no open-set runs in {args.runs}/open-*: run bash scripts/train_table.sh --open")
    print(score_table(runs), end="\n\n")
    print(gap_table(runs), end="\n\n")
    print(gap_table(runs, baseline="normface", heads=MARGIN_HEADS, keys=STRICT_GAP_KEYS))
    if args.reference is not None:
        args.reference.write_text(
            json.dumps(
                {"mnist": reference_rows(runs, allow_partial=args.allow_partial)}, indent=1, allow_nan=False
            )
            + "\n"
        )
        print(f"\nwrote {args.reference}")


if __name__ == "__main__":
    main()
