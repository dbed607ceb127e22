"""Command line: ``python -m minifacenet train --loss arcface --dim 2 --epochs 10``."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import sys
import time
from pathlib import Path

import torch

from . import data, losses, openset, pairs, strangers
from .checkpoint import save_checkpoint
from .metrics import accuracy, knn_accuracy
from .models import EmbeddingNet
from .recipe import COURSE_RECIPE
from .train import TrainConfig, embed, fit, predict
from .viz import plot_embeddings

# Bounds that only catch typos (1e12 dimensions, 1e300 learning rates), far beyond any lesson.
MAX_DIM, MAX_EPOCHS, MAX_LR, MAX_SCALE = 4096, 10_000, 10.0, 1000.0
# Classes of each dataset, and the fewest unseen ones whose open-set scores can be computed:
# 10-fold verification needs >= 10 same-class pairs; an Olivetti person has 3 test images (3 pairs).
DATASET_CLASSES = {"mnist": 10, "olivetti": 40}
MIN_UNSEEN = {"mnist": 2, "olivetti": 4}
RUN_FILES = ("checkpoint.pt", "metrics.json", "embeddings.png")
LOCK_FILE = ".minifacenet-run.lock"


def int_at_least(minimum: int, maximum: int | None = None):
    """An argparse type: an integer >= ``minimum`` (``int_at_least(0)`` for counts that may be 0)
    and, if given, <= ``maximum`` (a bound that keeps a typo from asking for terabytes)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum}, got {value}")
        return value

    return parse


def fraction_below_one(text: str) -> float:
    """A fraction of training in [0, 1), e.g. ``0.5`` for the first half."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.5, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction of training in [0, 1) (0.5 = half), got {text}")
    return value


def finite_float(text: str) -> float:
    """An argparse type: a finite float (no nan, no inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite float > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value} (nothing would be learned)")
    return value


def learning_rate(text: str) -> float:
    """An argparse type: a learning rate, finite, > 0 and <= MAX_LR (larger only overflows)."""
    value = positive_float(text)
    if value > MAX_LR:
        raise argparse.ArgumentTypeError(
            f"must be <= {MAX_LR:g}, got {value:g} (the course's is {COURSE_RECIPE.lr:g})"
        )
    return value


def out_path(text: str) -> str:
    """An argparse type: an output folder, ``~`` expanded as for ``--data-root``; not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path would write into the current folder: give a folder")
    return os.path.expanduser(text)


def device_name(text: str) -> str:
    """An argparse type: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, present on this machine."""
    if text == "auto":
        return text
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"unknown device {text!r}: use auto, cpu or cuda") from None
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(
            f"{text!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s): use --device cpu or auto"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError("'mps': no Apple GPU here: use --device cpu or auto")
    if device.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"unsupported device {text!r}: use auto, cpu or cuda")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minifacenet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser(
        "train",
        help="train an embedding and evaluate it on held-out data",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    t.add_argument("--loss", default="softmax", choices=tuple(losses.LOSSES), help="loss or head")
    t.add_argument(
        "--dataset",
        default="mnist",
        choices=("mnist", "olivetti", "pairs"),
        help="pairs: digit pairs (28 x 56), scored on two kinds of strangers (minifacenet/pairs.py)",
    )
    t.add_argument(
        "--pair-classes",
        type=int,
        choices=pairs.CLASS_COUNTS,
        default=None,
        help="digit pairs: how many pair classes to train on (default 35); the digits they cover stay 0-6",
    )
    t.add_argument("--dim", type=int_at_least(2, MAX_DIM), default=2, help="embedding dimension (>= 2)")
    t.add_argument("--epochs", type=int_at_least(1, MAX_EPOCHS), default=COURSE_RECIPE.epochs)
    t.add_argument(
        "--margin",
        type=finite_float,
        default=None,
        help="the loss's margin (" + ", ".join(margin_help()) + "); default: the loss's own",
    )
    t.add_argument(
        "--scale",
        type=finite_float,
        default=None,
        help="s, for " + ", ".join(name for name, cls in losses.LOSSES.items() if cls.takes_scale),
    )
    t.add_argument(
        "--warmup",
        type=fraction_below_one,
        default=None,
        metavar="FRACTION",
        help="margin warm-up: the fraction of training, in [0, 1), over which the margin fades in "
        "(0.5 = the first half); default: the loss's own ("
        + ", ".join(f"{name} {cls.default_warmup:g}" for name, cls in losses.LOSSES.items() if cls.warms_up())
        + ")",
    )
    for option, (users, choices) in loss_options().items():
        default = losses.LOSSES[users[0]].defaults().get(option)
        help = f"for {', '.join(users)}; default: the loss's own, {default}"
        t.add_argument(f"--{option}", default=None, choices=choices, help=help)
    t.add_argument(
        "--shift",
        type=int_at_least(0),
        default=COURSE_RECIPE.max_shift,
        help="augmentation: random shifts of up to N pixels",
    )
    t.add_argument("--batch-size", type=int_at_least(2), default=COURSE_RECIPE.batch_size)
    t.add_argument(
        "--lr",
        type=learning_rate,
        default=COURSE_RECIPE.lr,
        help="peak learning rate; the course recipe's is the same for every loss (minifacenet/recipe.py)",
    )
    t.add_argument("--seed", type=int_at_least(0, 2**32 - 1), default=0)
    t.add_argument(
        "--limit",
        type=int_at_least(10),
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
    t.add_argument("--data-root", default=None, help=f"data folder (default: ${data.ENV_VAR} or data/)")
    t.add_argument("--device", type=device_name, default="auto", help="auto, cpu or cuda")
    t.add_argument("--out", type=out_path, default="runs/latest", help="output folder (~ expanded)")
    return parser


def margin_help() -> list[str]:
    """Each loss with a margin: its name, argument and range, read from the class."""
    described = []
    for name, cls in losses.LOSSES.items():
        if cls.margin_arg is not None:
            low, high = cls.margin_range
            kind = "integer " if cls.integer_margin else ""
            high_text = f"{high - 1:g}]" if cls.integer_margin else f"{high:.3g})"
            described.append(f"{name}: {kind}{cls.margin_arg} in [{low:g}, {high_text}")
    return described


def loss_options() -> dict[str, tuple[list[str], tuple]]:
    """Every loss option but margin and scale (the triplet's mining): ``{option: (losses, choices)}``."""
    found: dict = {}
    for name, cls in losses.LOSSES.items():
        for option, choices in cls.options.items():
            found.setdefault(option, ([], choices))[0].append(name)
    return found


def refuse(option: str, loss: str, accepts) -> None:
    """A ValueError for an option the loss would ignore, naming the losses that take it."""
    users = ", ".join(name for name, cls in losses.LOSSES.items() if accepts(cls))
    raise ValueError(f"--{option} does nothing for --loss {loss}: drop it, or use {users}")


def loss_arguments_from_flags(args) -> dict:
    """Keyword arguments for the chosen loss from the CLI flags (only those given); a flag the
    loss would ignore is a ValueError. What each loss takes is read from its class."""
    cls = losses.LOSSES[args.loss]
    params: dict = {}
    if args.margin is not None:
        if cls.margin_arg is None:
            refuse("margin", args.loss, lambda c: c.margin_arg is not None)
        whole = cls.integer_margin and args.margin.is_integer()
        params[cls.margin_arg] = int(args.margin) if whole else args.margin
    if args.scale is not None:
        if not cls.takes_scale:
            refuse("scale", args.loss, lambda c: c.takes_scale)
        params["s"] = args.scale
    if args.warmup is not None and not cls.warms_up():
        refuse("warmup", args.loss, lambda c: c.warms_up())
    for option in loss_options():
        value = getattr(args, option)
        if value is not None:
            if option not in cls.options:
                refuse(option, args.loss, lambda c, option=option: option in c.options)
            params[option] = value
    return params


@functools.lru_cache(maxsize=1)
def digit_pairs_once(pair_classes: int | None, root) -> pairs.DigitPairs:
    """The digit pairs of one run, built once: training takes the split, the strangers block the rest."""
    return pairs.digit_pairs(pair_classes or pairs.CLASS_COUNTS[-1], root=root)


def split(name: str, root, *, pair_classes: int | None = None):
    """(train images, train labels, test images, test labels) for a dataset."""
    if name == "pairs":
        made = digit_pairs_once(pair_classes, root)
        return made.train.images, made.train.labels, made.test.images, made.test.labels
    if name == "mnist":
        return (*data.mnist(True, root=root), *data.mnist(False, root=root))
    images, labels = data.olivetti(root=root)
    test = (torch.arange(len(labels)) % 10) >= 7  # 7 train / 3 test images per person
    return images[~test], labels[~test], images[test], labels[test]


def check_out_folder(out: Path) -> None:
    """A ValueError unless ``out`` is (or can be created as) a folder this process can write."""
    dangling = next((path for path in (out, *out.parents) if path.is_symlink() and not path.exists()), None)
    if dangling is not None:
        raise ValueError(
            f"--out {out}: {dangling} is a link to {os.readlink(dangling)}, which does not exist: "
            "remove the link or give another folder"
        )
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder: give a folder (created if missing)")
    existing = next(path for path in (out, *out.parents) if path.exists())
    if not existing.is_dir():
        raise ValueError(f"--out {out}: {existing} is a file, so the folder cannot be made: choose another")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: {existing} is read-only: give a folder you can write (runs/latest)")


def check_args(args) -> None:
    """What the arguments alone decide, checked before any data is loaded: a ValueError names it."""
    params = loss_arguments_from_flags(args)  # options the loss would ignore are refused here
    check_out_folder(Path(args.out))
    check_unseen_classes(args)
    check_pairs_options(args)
    if args.scale is not None and abs(args.scale) > MAX_SCALE:
        raise ValueError(
            f"--scale {args.scale:g} overflows the logits: use at most {MAX_SCALE:g} (papers: 30-64)"
        )
    # the head's own checks (margin and scale ranges), on a 2-class stand-in
    losses.build_loss(args.loss, embedding_dim=args.dim, num_classes=2, **params)


def check_pairs_options(args) -> None:
    """``--pair-classes`` only with digit pairs; no ``--unseen-classes`` there (strangers are built in)."""
    if args.pair_classes is not None and args.dataset != "pairs":
        raise ValueError(f"--pair-classes is for --dataset pairs, not {args.dataset}: drop it")
    if args.dataset == "pairs" and args.unseen_classes:
        raise ValueError(
            "--unseen-classes does nothing for --dataset pairs: its strangers (held-out pairs of 0-6 and "
            "pairs with 7-9) are held out by construction; drop it"
        )


def pairs_strangers_block(model, loss, args) -> dict:
    """Both kinds of digit-pair strangers, scored by the loss's own measure (one line printed each)."""
    made = digit_pairs_once(args.pair_classes, args.data_root)
    reports = strangers.score_strangers(model, loss, made, seed=args.seed, device=args.device)
    for kind, report in reports.items():
        print(f"{kind} strangers: " + openset.format_report(report))
    return reports


def check_unseen_classes(args) -> None:
    """A ValueError for held-out classes that cannot give an open-set score (before any data load)."""
    if not args.unseen_classes or args.dataset not in DATASET_CLASSES:
        return
    count, unseen = DATASET_CLASSES[args.dataset], sorted(set(args.unseen_classes))
    outside = [c for c in unseen if not 0 <= c < count]
    if outside:
        raise ValueError(f"--unseen-classes {outside}: {args.dataset} has classes 0..{count - 1} only")
    if len(unseen) < MIN_UNSEEN[args.dataset]:
        raise ValueError(
            f"--unseen-classes {' '.join(map(str, unseen))}: the open-set scores need at least "
            f"{MIN_UNSEEN[args.dataset]} unseen classes of {args.dataset}: add more (the course's: 7 8 9)"
        )
    if count - len(unseen) < 2:
        raise ValueError(
            f"--unseen-classes holds {len(unseen)} of the {count} classes: training needs at least 2 "
            "seen classes; hold out fewer (the course's: 7 8 9)"
        )


def check_trained(history: dict, test_embeddings: torch.Tensor, args) -> None:
    """A ValueError if training diverged (a NaN or inf loss or embedding): nothing is then saved."""
    loss_values = history["loss"]
    bad = next((epoch for epoch, value in enumerate(loss_values) if not math.isfinite(value)), None)
    if bad is None and torch.isfinite(test_embeddings).all():
        return
    what = f"the loss is {loss_values[bad]} in epoch {bad + 1}" if bad is not None else "NaN/inf embeddings"
    raised = [f"--{name}" for name in ("scale", "margin") if getattr(args, name) is not None]
    hint = f", or {' / '.join(raised)}" if raised else ""
    raise ValueError(f"training diverged ({what}); nothing saved: lower --lr (now {args.lr}){hint}")


def evaluate(model, loss, train_x, train_y, test_emb, test_y, device) -> float:
    """Test accuracy of embeddings ``test_emb``: the head's prediction, or 1-NN against training."""
    if not loss.classifies:
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
        metric=loss.metric,
        gallery_per_class=min(5, fewest - 1),
        seed=seed,
    )
    return {**report, "seen_classes": list(part.seen_classes)}


def json_ready(value):
    """``value`` with every non-finite float as ``None`` (null): strict JSON, whatever a run produced."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def train(args) -> int:
    train_x, train_y, test_x, test_y = split(args.dataset, args.data_root, pair_classes=args.pair_classes)
    if args.unseen_classes:
        # the split before --limit, so that a small subset keeps the full set's class numbers
        train_part = openset.split_by_class(train_x, train_y, unseen=args.unseen_classes)
        train_x, train_y = train_part.seen_images, train_part.seen_labels
        test_part = openset.split_by_class(test_x, test_y, unseen=args.unseen_classes)
        test_x, test_y = test_part.seen_images, test_part.seen_labels
    if args.limit:
        train_x, train_y = train_x[: args.limit], train_y[: args.limit]
    num_classes = int(train_y.max()) + 1
    loss = losses.build_loss(
        args.loss, embedding_dim=args.dim, num_classes=num_classes, **loss_arguments_from_flags(args)
    )
    model = EmbeddingNet(args.dim, in_channels=train_x.shape[1])
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=COURSE_RECIPE.weight_decay,
        lr_warmup_pct=COURSE_RECIPE.lr_warmup_pct,
        margin_warmup=args.warmup,
        max_shift=args.shift,
        # the classes present (a --limit subset may miss some)
        classes_per_batch=min(TrainConfig.classes_per_batch, len(train_y.unique())),
        seed=args.seed,
    )
    start = time.perf_counter()
    history = fit(model, loss, train_x, train_y, config=config, device=args.device)
    seconds = time.perf_counter() - start
    test_emb = embed(model, test_x, device=args.device)
    check_trained(history, test_emb, args)
    test_accuracy = evaluate(model, loss, train_x, train_y, test_emb, test_y, args.device)
    metrics = {"test_accuracy": test_accuracy, "history": history, "seconds": seconds, "args": vars(args)}
    if args.unseen_classes:
        metrics["open_set"] = open_set_block(model, loss, test_part, seed=args.seed, device=args.device)
        print(openset.format_report(metrics["open_set"]))
    if args.dataset == "pairs":
        metrics["strangers"] = pairs_strangers_block(model, loss, args)
    metrics = json_ready(metrics)
    figure = plot_embeddings(
        test_emb,
        test_y,
        title=f"{args.loss}, {args.dim}-D, test accuracy {test_accuracy:.2%}",
    )
    write_run(Path(args.out), model, loss, args, metrics, figure)
    print(f"wrote {args.out}/checkpoint.pt, metrics.json, embeddings.png")
    print(f"test_accuracy {100 * test_accuracy:.2f}")
    return 0


def write_run(out: Path, model, loss, args, metrics: dict, figure) -> None:
    """The run's files, each under a temporary name, then renamed into place together: a failure
    (a full disk, Ctrl-C) leaves the folder's previous run as it was."""
    partial = {name: out / f".{name}.partial" for name in RUN_FILES}
    try:
        save_checkpoint(partial["checkpoint.pt"], model, loss, vars(args))
        partial["metrics.json"].write_text(json.dumps(metrics, indent=2, allow_nan=False))
        figure.savefig(partial["embeddings.png"], format="png", dpi=120, bbox_inches="tight")
        for name, path in partial.items():
            os.replace(path, out / name)
    except (OSError, RuntimeError) as error:  # torch.save reports a full disk as a RuntimeError
        raise OSError(
            f"could not write the run into {out} ({str(error).strip().splitlines()[0]}): free some "
            "space or give another --out; the run that was there is left as it was"
        ) from error
    finally:
        for path in partial.values():
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def run_folder(out: Path):
    """``out`` held by this run: made if missing, locked against a second run (a lock file made
    with O_EXCL), unlocked at the end; a folder made for a run that failed is removed again."""
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    lock = out / LOCK_FILE
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        raise ValueError(
            f"--out {out} is in use by another run ({lock} exists): wait for it or give another "
            f"--out; if no run is writing there (one was killed), delete {lock}"
        ) from None
    try:
        yield out
    finally:
        lock.unlink(missing_ok=True)
        if made and not any(out.iterdir()):
            out.rmdir()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_args(args)
        with run_folder(Path(args.out)):
            return train(args)
    except (ValueError, data.DataError, OSError) as error:
        print(f"minifacenet: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"minifacenet: interrupted: nothing written; {args.out} is as it was", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
