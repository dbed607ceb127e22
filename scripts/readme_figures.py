"""The README's first picture: the margin explorer on a well-trained 2-D model, at a small and a large m.

    python scripts/readme_figures.py runs/table/open-2d-arcface/checkpoint.pt

The checkpoint is one of the open-set table's runs (``bash scripts/train_table.sh open-2d-arcface``:
ArcFace, 2-D, trained on digits 0-6 of the full MNIST training set). The explorer is built exactly
as in a notebook, on the seen test digits (``--strangers N`` adds unseen digits, in black); its
``Image`` widget holds the drawing, which is written to ``docs/explorer_trained_m_{small,large}.jpg``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from minifacenet.checkpoint import load_checkpoint
from minifacenet.data import mnist
from minifacenet.explorer import MarginExplorer
from minifacenet.openset import split_by_class
from minifacenet.train import embed

ROOT = Path(__file__).resolve().parent.parent


def explorer_for(checkpoint: Path, *, points: int, strangers: int) -> MarginExplorer:
    """The explorer on the checkpoint's embeddings of the MNIST test set (seen digits, and strangers)."""
    model, head, _ = load_checkpoint(checkpoint)
    test = split_by_class(*mnist(train=False))
    seen = embed(model, test.seen_images[:points])
    unseen = embed(model, test.unseen_images[:strangers]) if strangers else None
    return MarginExplorer(head=head, embeddings=seen, labels=test.seen_labels[:points], strangers=unseen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint", type=Path, help="a 2-D checkpoint trained on the seen digits")
    parser.add_argument("--small", type=float, default=0.1, help="the small m")
    parser.add_argument("--large", type=float, default=0.8, help="the large m")
    parser.add_argument("--points", type=int, default=3000, help="seen test digits drawn")
    parser.add_argument("--strangers", type=int, default=0, help="unseen test digits drawn (black)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    explorer = explorer_for(args.checkpoint, points=args.points, strangers=args.strangers)
    for name, m in (("small", args.small), ("large", args.large)):
        explorer.m_slider.value = m
        explorer.update()
        path = args.out / f"explorer_trained_m_{name}.jpg"
        path.write_bytes(explorer.image.value)
        print(f"{path}: m = {m:g}, {explorer.violations_label.value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
