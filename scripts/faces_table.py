"""Regenerate the faces table: every loss on unseen Olivetti people, mean +- std over folds.

    python scripts/faces_table.py                      # train everything (~10 min on 2 cores)
    python scripts/faces_table.py --from-json          # re-render from docs/faces_results.json

Writes docs/faces_results.json (per-fold scores and mean ROC curves), the ROC figure
docs/faces_roc.png, and the table between the markers in docs/faces.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minifacenet import faces  # noqa: E402

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
    print(faces.describe(result), flush=True)
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
        "config": faces.config_dict(config),
        "loss_params": {name: faces.LOSS_PARAMS[name] for name in args.losses if name in faces.LOSS_PARAMS},
        "splits": [{"fold": s.fold, "test_identities": s.test_identities} for s in splits],
        "folds": [{"loss": r.loss, "fold": r.fold, "scores": r.scores} for r in results],
        "far_grid": faces.FAR_GRID.tolist(),
        "roc": {name: tars.tolist() for name, tars in faces.mean_roc(results).items()},
        "seconds": time.perf_counter() - start,
        "commands": ["python scripts/faces_table.py " + " ".join(sys.argv[1:])],
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
    }


def as_results(record: dict) -> list[faces.FoldResult]:
    """FoldResults holding just the scores, enough for :func:`faces.summarise`."""
    empty = torch.empty(0)
    return [
        faces.FoldResult(f["loss"], f["fold"], f["scores"], {}, empty, empty, empty, math.nan)
        for f in record["folds"]
    ]


def gap_table(results: list[faces.FoldResult]) -> str:
    """Each loss against softmax on the same folds, TAR@FAR=1% and AUC."""
    tar = faces.paired_gaps(results, key="tar@far=0.01")
    auc = faces.paired_gaps(results, key="auc")
    lines = [
        "| loss | TAR@FAR=1% minus softmax, same fold (points) | folds better | AUC minus softmax (points) |",
        "|---|---:|---:|---:|",
    ]
    for name, (gap, std, wins, folds) in tar.items():
        if name != "softmax":
            lines.append(
                f"| {name} | {100 * gap:+.1f} ± {100 * std:.1f} | {wins}/{folds} | "
                f"{100 * auc[name][0]:+.1f} ± {100 * auc[name][1]:.1f} |"
            )
    return "\n".join(lines)


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
        "seconds": old["seconds"] + new["seconds"],
        "commands": old.get("commands", [old.get("command", "")]) + new["commands"],
    }


def write_markdown(path: Path, table: str, record: dict) -> None:
    """Replace the text between the markers in ``path`` with the table and how it was made."""
    config = record["config"]
    folds = len(record["splits"])
    note = (
        f"\n{table}\n\n_Mean ± std over {folds} folds (each fold: train on "
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
    results = as_results(record)
    table = faces.markdown_table(faces.summarise(results))
    table += (
        "\n\n"
        + gap_table(results)
        + "\n\n"
        + faces.markdown_table(faces.summarise(results), columns=faces.ANGLE_COLUMNS)
    )
    print(table)
    curves = {name: np.array(tars) for name, tars in record["roc"].items()}
    figure = faces.plot_roc(curves, grid=np.array(record["far_grid"]))
    figure.savefig(args.roc, dpi=120, bbox_inches="tight")
    if args.markdown.exists():
        write_markdown(args.markdown, table, record)


if __name__ == "__main__":
    main()
