"""Regenerate the faces table: every loss on unseen Olivetti people, compared fold by fold.

    python scripts/faces_table.py                      # train everything (~10 min on 2 cores)
    python scripts/faces_table.py --from-json          # re-render from docs/faces_results.json

Writes docs/faces_results.json (per-fold scores and mean ROC curves), the ROC figure
docs/faces_roc.png, and the tables between the markers in docs/faces.md: the mean of each
score over folds, each loss minus softmax on the *same* fold (mean, min and max of the
per-fold gap: folds differ in difficulty, the gap on one fold does not), and the angles.
Each loss is scored by the measure it trains for (``openset.loss_metric``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minifacenet import faces, openset  # noqa: E402

START, END = "<!-- faces-table:start -->", "<!-- faces-table:end -->"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--losses",
        nargs="+",
        default=["untrained", *faces.FACE_LOSSES],
        choices=["untrained", *faces.FACE_LOSSES],
        help="'untrained' is the baseline: the same network with random weights",
    )
    parser.add_argument("--append", action="store_true", help="add these losses' folds to the --json record")
    parser.add_argument("--repeats", type=int, default=1, help="repeats of the 4-fold identity split")
    parser.add_argument("--num-unseen", type=int, default=10, help="unseen people per fold")
    parser.add_argument("--epochs", type=int, default=faces.FaceConfig.epochs)
    parser.add_argument("--seed", type=int, default=0, help="seed of the identity split")
    parser.add_argument("--workers", type=int, default=2, help="parallel runs, each on one CPU thread")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "faces_results.json")
    parser.add_argument("--markdown", type=Path, default=ROOT / "docs" / "faces.md")
    parser.add_argument("--roc", type=Path, default=ROOT / "docs" / "faces_roc.png")
    parser.add_argument("--from-json", action="store_true", help="do not train: re-render from --json")
    return parser.parse_args(argv)


def one_thread() -> None:
    # one thread per worker: two busy threads per run thrash a shared 2-core machine
    torch.set_num_threads(1)


def run_one(task: tuple) -> faces.FoldResult:
    loss_name, split, config, device = task
    images, labels = faces.load_faces(resolution=config.resolution)
    if loss_name == "untrained":
        return faces.untrained_fold(images, labels, split, config=config)
    result = faces.run_fold(loss_name, images, labels, split, config=config, device=device)
    print(faces.format_result(result), flush=True)
    # the embeddings are not needed here; keep the results small for the trip back
    result.test_embeddings = result.test_embeddings[:0]
    return result


def train_all(args) -> dict:
    """Every loss on every fold; returns the JSON-able record."""
    config = replace(faces.FaceConfig(), epochs=args.epochs)
    _, labels = faces.load_faces(resolution=config.resolution)
    splits = faces.open_set_splits(
        labels, num_unseen=args.num_unseen, num_repeats=args.repeats, seed=args.seed
    )
    tasks = [(loss_name, split, config, args.device) for split in splits for loss_name in args.losses]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=one_thread) as pool:
        results = list(pool.map(run_one, tasks))
    return {
        "config": config_dict(config),
        "loss_params": {
            name: faces.FACE_LOSS_SETTINGS[name] for name in args.losses if name in faces.FACE_LOSS_SETTINGS
        },
        "metrics": {r.loss: r.metric for r in results},
        "splits": [{"fold": s.fold, "test_identities": s.test_identities} for s in splits],
        "folds": [{"loss": r.loss, "fold": r.fold, "scores": r.scores} for r in results],
        "far_grid": FAR_GRID.tolist(),
        "roc": {name: tars.tolist() for name, tars in mean_roc(results).items()},
        "seconds": time.perf_counter() - start,
        "commands": ["python scripts/faces_table.py " + " ".join(sys.argv[1:])],
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
    }


# --------------------------------------------------------------------------- tables
# (key in the fold scores, column header, factor, decimals); the verification columns as in
# every open-set table (openset.REPORT_COLUMNS), then those only the faces table has
OPEN_SET_COLUMN = {column[0]: column for column in openset.REPORT_COLUMNS}
TABLE_COLUMNS = (
    *(OPEN_SET_COLUMN[key] for key in ("auc", "eer", "tar@far=0.01")),
    ("tar@far=0.1", "TAR@FAR=10% (%)", 100, 1),
    OPEN_SET_COLUMN["verification_accuracy"],
    ("knn_accuracy", "1-NN leave-one-out (%)", 100, 1),
    ("nmi", "NMI (k-means)", 1, 3),
)
# ArcFace's Table 3 angles (degrees) on the training people and on the unseen people
ANGLE_COLUMNS = (
    ("train_w_ec", "W-EC (train)", 1, 1),
    ("train_w_inter", "W-Inter (train)", 1, 1),
    ("train_intra", "Intra (train)", 1, 1),
    ("train_inter", "Inter (train)", 1, 1),
    ("intra", "Intra (unseen)", 1, 1),
    ("inter", "Inter (unseen)", 1, 1),
)


def by_loss(folds: list[dict], key: str) -> dict[str, dict[int, float]]:
    """``{loss: {fold: score}}`` from the record's fold rows, losses in the order first seen."""
    scores: dict[str, dict[int, float]] = {}
    for row in folds:
        scores.setdefault(row["loss"], {})[row["fold"]] = row["scores"][key]
    return scores


def markdown_table(folds: list[dict], metrics: dict[str, str], *, columns=TABLE_COLUMNS) -> str:
    """One row per loss, each cell the mean over folds (``–`` where undefined, e.g. W without a head)."""
    lines = ["| loss | scored by | " + " | ".join(column[1] for column in columns) + " |"]
    lines.append("|---|---|" + "---:|" * len(columns))
    per_key = {key: by_loss(folds, key) for key, *_ in columns}
    for loss_name in per_key[columns[0][0]]:
        cells = [
            openset.format_value(float(np.mean(list(per_key[key][loss_name].values()))), factor=f, decimals=d)
            for key, _, f, d in columns
        ]
        lines.append(f"| {loss_name} | {metrics.get(loss_name, 'cosine')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(gap: dict) -> str:
    """Ahead or behind on every fold, or mixed (wins of folds), from a paired gap."""
    if gap["min"] > 0:
        return f"ahead on all {gap['pairs']} folds"
    if gap["max"] < 0:
        return f"behind on all {gap['pairs']} folds"
    return f"mixed: ahead on {gap['wins']} of {gap['pairs']} folds"


def gap_table(folds: list[dict], *, baseline: str = "softmax") -> str:
    """Each loss minus ``baseline`` on the same fold: mean [min, max] in points, and the verdict."""
    gaps = {
        key: openset.paired_differences(by_loss(folds, key), baseline=baseline) for key, _ in openset.GAP_KEYS
    }
    headers = [
        f"{name} minus {baseline}, same fold: mean [min, max] (points)" for _, name in openset.GAP_KEYS
    ]
    lines = ["| loss | " + " | ".join(headers) + " | verdict (TAR@FAR=1%) |", "|---|" + "---:|" * 2 + "---|"]
    for loss_name, tar_gap in gaps[openset.GAP_KEYS[0][0]].items():
        if loss_name == baseline:
            continue
        cells = [openset.format_gap(gaps[key][loss_name]) for key, _ in openset.GAP_KEYS]
        lines.append(f"| {loss_name} | " + " | ".join(cells) + f" | {verdict(tar_gap)} |")
    return "\n".join(lines)


def config_dict(config: faces.FaceConfig) -> dict:
    """A config as plain JSON-able values."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


# --------------------------------------------------------------------------- figures
# (plot_roc and plot_pairs are figures of notebook 06 too: they belong in viz.py)
FAR_GRID = np.logspace(-3, 0, 61)  # FAR from 0.1 % to 100 %, for averaging ROC curves


def mean_roc(results: list[faces.FoldResult], *, grid: np.ndarray = FAR_GRID) -> dict[str, np.ndarray]:
    """``{loss: [folds, len(grid)]}``: each fold's TAR interpolated at the FARs of ``grid``."""
    curves: dict[str, list[np.ndarray]] = {}
    for result in results:
        # the ROC is monotone in FAR, so linear interpolation between its points is safe
        curves.setdefault(result.loss, []).append(np.interp(grid, result.roc["fpr"], result.roc["tpr"]))
    return {loss_name: np.stack(tars) for loss_name, tars in curves.items()}


def plot_roc(
    curves: dict[str, np.ndarray], *, grid: np.ndarray = FAR_GRID, ax=None, title: str | None = None
):
    """Overlaid ROC curves (log FAR): mean over folds, +-1 std band; ``curves`` from :func:`mean_roc`."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    for loss_name, tars in curves.items():
        mean, std = tars.mean(0), tars.std(0)
        (line,) = ax.plot(grid, mean, label=loss_name, lw=1.6)
        ax.fill_between(grid, mean - std, mean + std, color=line.get_color(), alpha=0.12, lw=0)
    ax.axvline(0.01, color="0.5", ls=":", lw=1)
    ax.set(xscale="log", xlim=(grid[0], 1), ylim=(0, 1.01), xlabel="FAR (false accept rate)")
    ax.set(ylabel="TAR (true accept rate)", title=title or "Verification on unseen people")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return ax.figure


def merged(old: dict, new: dict) -> dict:
    """``old`` with ``new``'s losses added (or replaced); the splits and config must match."""
    if old["splits"] != new["splits"] or old["config"] != new["config"]:
        raise SystemExit("--append needs the same splits and config as the record it adds to")
    losses = {f["loss"] for f in new["folds"]}
    order = {name: k for k, name in enumerate(["untrained", *faces.FACE_LOSSES])}
    folds = [f for f in old["folds"] if f["loss"] not in losses] + new["folds"]
    return {
        **old,
        "folds": sorted(folds, key=lambda f: (order[f["loss"]], f["fold"])),
        "loss_params": {**old["loss_params"], **new["loss_params"]},
        "roc": {**old["roc"], **new["roc"]},
        "metrics": {**old.get("metrics", {}), **new["metrics"]},
        "seconds": old["seconds"] + new["seconds"],
        "commands": old.get("commands", [old.get("command", "")]) + new["commands"],
    }


def write_markdown(path: Path, table: str, record: dict) -> None:
    """Replace the text between the markers in ``path`` with the table and how it was made."""
    config = record["config"]
    folds = len(record["splits"])
    note = (
        f"\n{table}\n\n_Means over {folds} folds (each fold: train on "
        f"{40 - len(record['splits'][0]['test_identities'])} people, test on the "
        f"{len(record['splits'][0]['test_identities'])} others); {config['embedding_dim']}-D embeddings, "
        f"{config['resolution']}×{config['resolution']} faces, {config['epochs']} epochs; "
        f"{record['seconds'] / 60:.1f} min in all with "
        + " and ".join(f"`{c.strip()}`" for c in record.get("commands", [record.get("command", "")]))
        + "._\n"
    )
    text = path.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{path} has no {START} ... {END} markers: add them where the table goes")
    head, rest = text.split(START, 1)
    path.write_text(head + START + note + END + rest.split(END, 1)[1])


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.from_json:
        record = json.loads(args.json.read_text())
    else:
        record = train_all(args)
        if args.append:
            record = merged(json.loads(args.json.read_text()), record)
        args.json.write_text(json.dumps(record, indent=1))
    folds, metrics = record["folds"], record.get("metrics", {})
    table = "\n\n".join(
        [
            markdown_table(folds, metrics),
            gap_table(folds),
            markdown_table(folds, metrics, columns=ANGLE_COLUMNS),
        ]
    )
    print(table)
    curves = {name: np.array(tars) for name, tars in record["roc"].items()}
    figure = plot_roc(curves, grid=np.array(record["far_grid"]))
    figure.savefig(args.roc, dpi=120, bbox_inches="tight")
    if args.markdown.exists():
        write_markdown(args.markdown, table, record)


if __name__ == "__main__":
    main()
