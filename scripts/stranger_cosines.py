"""Where do strangers land? For the open-set table's checkpoints, per run:

- the mean over test images of the largest cosine to a class weight, for seen and unseen digits;
- among unseen digits, the mean cosine of same-digit pairs minus that of different-digit pairs.

    python scripts/stranger_cosines.py                       # every head in runs/table/open-{3,32}d-*
    python scripts/stranger_cosines.py --runs DIR --dims 3   # other runs

docs/results.md ("Goal: ArcFace and CosFace above softmax") quotes its means over seeds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from minifacenet.checkpoint import load_checkpoint
from minifacenet.data import mnist
from minifacenet.openset import split_by_class
from minifacenet.train import embed

ROOT = Path(__file__).resolve().parent.parent


def nearest_class_cosine(embeddings: torch.Tensor, weight: torch.Tensor) -> float:
    """Mean over rows of max_j cos(embedding, w_j)."""
    return (F.normalize(embeddings, dim=1) @ F.normalize(weight, dim=1).T).max(1).values.mean().item()


def pair_gap(embeddings: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean cosine of same-label pairs minus mean cosine of different-label pairs."""
    unit = F.normalize(embeddings, dim=1)
    cos = unit @ unit.T  # [N, N]
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~torch.eye(len(labels), dtype=torch.bool)
    return (cos[same & off_diagonal].mean() - cos[~same].mean()).item()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "table")
    parser.add_argument("--dims", type=int, nargs="+", default=[3, 32])
    parser.add_argument("--pairs", type=int, default=1500, help="unseen test images used for the pair gap")
    args = parser.parse_args(argv)
    test = split_by_class(*mnist(train=False))
    print("| run | seen: max cos to a class | unseen: max cos to a class | unseen: same - different pairs |")
    print("|---|---:|---:|---:|")
    for dim in args.dims:
        for path in sorted(args.runs.glob(f"open-{dim}d-*/checkpoint.pt")):
            model, head, _ = load_checkpoint(path)
            if not getattr(head, "classifies", False):
                continue  # pair and triplet losses have no class weights
            weight = head.weight.detach()
            seen = nearest_class_cosine(embed(model, test.seen_images), weight)
            unseen_embeddings = embed(model, test.unseen_images)
            unseen = nearest_class_cosine(unseen_embeddings, weight)
            gap = pair_gap(unseen_embeddings[: args.pairs], test.unseen_labels[: args.pairs])
            print(f"| {path.parent.name} | {seen:.3f} | {unseen:.3f} | {gap:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
