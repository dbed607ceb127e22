"""Command line: ``python -m minifacenet train --loss arcface --dim 2 --epochs 10``."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from . import data as D
from . import losses as L
from . import openset
from .metrics import accuracy, knn_accuracy
from .models import EmbeddingNet
from .train import TrainConfig, embed, fit, is_metric_loss, predict, save_checkpoint


def positive_int(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minifacenet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser(
        "train",
        help="train an embedding and evaluate it on held-out data",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    t.add_argument("--loss", default="softmax", choices=L.LOSS_NAMES, help="loss or head")
    t.add_argument("--dataset", default="mnist", choices=("mnist", "olivetti"))
    t.add_argument("--dim", type=positive_int(2), default=2, help="embedding dimension (>= 2)")
    t.add_argument("--epochs", type=positive_int(1), default=10)
    t.add_argument(
        "--margin",
        type=float,
        default=None,
        help="m (SphereFace: integer; contrastive/triplet: their margin); default: the loss's own",
    )
    t.add_argument("--scale", type=float, default=None, help="s for normalised heads")
    t.add_argument("--mining", default="semi-hard", choices=L.TripletLoss.MINING, help="triplet mining")
    t.add_argument(
        "--warmup", type=positive_int(0), default=0, help="margin warm-up: steps over which m ramps up from 0"
    )
    t.add_argument(
        "--shift", type=positive_int(0), default=2, help="augmentation: random shifts of up to N pixels"
    )
    t.add_argument("--batch-size", type=positive_int(2), default=256)
    t.add_argument("--lr", type=float, default=TrainConfig.lr)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument(
        "--limit",
        type=positive_int(10),
        default=None,
        help="use only the first N training images (quick runs)",
    )
    t.add_argument(
        "--unseen-classes",
        type=int,
        nargs="+",
        default=None,
        metavar="C",
        help="hold these classes out of training (the course's: 7 8 9); test_accuracy is then on the "
        "others, and metrics.json gains 'open_set': the scores on the held-out classes' test images",
    )
    t.add_argument("--data-root", default=None, help=f"data folder (default: ${D.ENV_VAR} or data/)")
    t.add_argument("--device", default="auto", help="auto, cpu or cuda")
    t.add_argument("--out", default="runs/latest", help="output folder")
    return parser


def loss_params(args) -> dict:
    """Keyword arguments for the chosen loss from the CLI flags (only those given)."""
    params: dict = {}
    if args.loss in ("contrastive", "triplet"):
        if args.margin is not None:
            params["margin"] = args.margin
        if args.loss == "triplet":
            params["mining"] = args.mining
        return params
    if args.margin is not None and args.loss in ("cosface", "arcface", "sphereface"):
        params["m"] = (
            int(args.margin) if args.loss == "sphereface" and args.margin.is_integer() else args.margin
        )
    if args.margin is not None and args.loss == "combined":
        params["m2"] = args.margin
    if args.scale is not None and args.loss not in ("softmax", "sphereface"):
        params["s"] = args.scale
    return params


def split(name: str, root):
    """(train images, train labels, test images, test labels) for a dataset."""
    if name == "mnist":
        return (*D.mnist(True, root=root), *D.mnist(False, root=root))
    images, labels = D.olivetti(root=root)
    test = (torch.arange(len(labels)) % 10) >= 7  # 7 train / 3 test images per person
    return images[~test], labels[~test], images[test], labels[test]


def evaluate(model, loss, train_x, train_y, test_emb, test_y, device) -> float:
    """Test accuracy of embeddings ``test_emb``: the head's prediction, or 1-NN against training."""
    if is_metric_loss(loss):
        return knn_accuracy(embed(model, train_x, device=device), train_y, test_emb, test_y)
    return accuracy(predict(loss.cpu(), test_emb), test_y)


def open_set_block(model, loss, part: openset.ClassSplit, *, seed: int, device: str) -> dict:
    """The open-set report on the held-out classes' test images, scored by the loss's own measure;
    ``seen_classes`` says which classes ``test_accuracy`` (closed-set) was measured on."""
    # a gallery of up to 5 images per class, leaving each class at least one probe
    fewest = int(torch.unique(part.unseen_labels, return_counts=True)[1].min())
    report = openset.openset_report(
        embed(model, part.unseen_images, device=device),
        part.unseen_labels,
        metric=openset.loss_metric(loss),
        gallery_per_class=min(5, fewest - 1),
        seed=seed,
    )
    return {**report, "seen_classes": list(part.seen_classes)}


def json_ready(history: dict) -> dict:
    """The history with NaN (no training accuracy for pair/triplet losses) as null: valid JSON."""

    def clean(value):
        return None if isinstance(value, float) and math.isnan(value) else value

    return {key: [clean(value) for value in values] for key, values in history.items()}


def train(args) -> int:
    from .viz import plot_embeddings

    train_x, train_y, test_x, test_y = split(args.dataset, args.data_root)
    if args.unseen_classes:
        # the split before --limit, so that a small subset keeps the full set's class numbers
        train_part = openset.split_by_class(train_x, train_y, unseen=args.unseen_classes)
        train_x, train_y = train_part.seen_images, train_part.seen_labels
        test_part = openset.split_by_class(test_x, test_y, unseen=args.unseen_classes)
        test_x, test_y = test_part.seen_images, test_part.seen_labels
    if args.limit:
        train_x, train_y = train_x[: args.limit], train_y[: args.limit]
    num_classes = int(train_y.max()) + 1
    loss = L.build_loss(args.loss, embedding_dim=args.dim, num_classes=num_classes, **loss_params(args))
    model = EmbeddingNet(args.dim, in_channels=train_x.shape[1])
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        margin_warmup=args.warmup,
        max_shift=args.shift,
        classes_per_batch=min(TrainConfig.classes_per_batch, num_classes),
        seed=args.seed,
    )
    start = time.perf_counter()
    history = fit(model, loss, train_x, train_y, config=config, device=args.device)
    seconds = time.perf_counter() - start
    test_emb = embed(model, test_x, device=args.device)
    test_accuracy = evaluate(model, loss, train_x, train_y, test_emb, test_y, args.device)
    out = Path(args.out)
    save_checkpoint(out / "checkpoint.pt", model, loss, vars(args))
    metrics = {
        "test_accuracy": test_accuracy,
        "history": json_ready(history),
        "seconds": seconds,
        "args": vars(args),
    }
    if args.unseen_classes:
        metrics["open_set"] = open_set_block(model, loss, test_part, seed=args.seed, device=args.device)
        print(openset.format_report(metrics["open_set"]))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False))
    figure = plot_embeddings(
        test_emb,
        test_y,
        title=f"{args.loss}, {args.dim}-D, test accuracy {test_accuracy:.2%}",
    )
    figure.savefig(out / "embeddings.png", dpi=120, bbox_inches="tight")
    print(f"wrote {out}/checkpoint.pt, metrics.json, embeddings.png")
    print(f"test_accuracy {100 * test_accuracy:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return train(args)
    except (ValueError, D.DataError) as error:
        print(f"minifacenet: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
