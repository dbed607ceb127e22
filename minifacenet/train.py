"""One short training loop shared by every loss (``fit``), plus ``embed`` and ``predict``."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import losses
from .checks import check_fraction, is_int, is_number
from .data import pk_batches
from .recipe import COURSE_RECIPE
from .tensors import to_numpy


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator for batch order."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` means CUDA when present (as in Colab), else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class TrainConfig:
    """Everything that decides a run.

    The optimiser settings default to the course recipe (:mod:`minifacenet.recipe`), the same for
    every loss: override them for an experiment, never for one head of a comparison.
    """

    epochs: int = COURSE_RECIPE.epochs
    batch_size: int = COURSE_RECIPE.batch_size
    lr: float = COURSE_RECIPE.lr
    weight_decay: float = COURSE_RECIPE.weight_decay
    lr_warmup_pct: float = COURSE_RECIPE.lr_warmup_pct  # one-cycle: share of steps the lr rises
    # fraction of training over which the margin fades in (0.5 = the first half);
    # None: the loss's own default (0 for most heads, 0.5 for SphereFace's lambda annealing)
    margin_warmup: float | None = None
    max_shift: int = COURSE_RECIPE.max_shift  # random shifts of up to this many pixels
    classes_per_batch: int = 10  # P, for pair and triplet losses
    seed: int = 0
    history: dict = field(default_factory=dict)


def check_train_config(config: TrainConfig, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Refuse, before any work, a setting the optimiser, the schedule or BatchNorm would reject
    with a message that names none of :func:`fit`'s arguments."""
    whole = {"epochs": 1, "batch_size": 2, "max_shift": 0, "classes_per_batch": 2}
    for name, low in whole.items():
        value = getattr(config, name)
        if not (is_int(value) and value >= low):
            why = " (BatchNorm needs 2 images per batch)" if name == "batch_size" else ""
            raise ValueError(f"{name} must be an integer >= {low}{why}, got {value!r}")
    if not (is_number(config.lr) and config.lr > 0):
        raise ValueError(f"lr must be a finite number > 0 (course: {COURSE_RECIPE.lr}), got {config.lr!r}")
    if not (is_number(config.weight_decay) and config.weight_decay >= 0):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {config.weight_decay!r}")
    check_fraction(config.lr_warmup_pct, "lr_warmup_pct")
    if not (is_int(config.seed) and 0 <= config.seed < 2**32):
        raise ValueError(f"seed must be an integer in [0, 2**32), got {config.seed!r}")
    if len(images) != len(labels) or len(images) < 2:
        raise ValueError(
            f"fit needs as many labels as images, and at least 2 images (BatchNorm needs 2 per "
            f"batch): got {len(images)} images, {len(labels)} labels"
        )


def random_shift(images: torch.Tensor, *, max_shift: int, generator=None, edge: bool = False) -> torch.Tensor:
    """Shift each image by its own random (dy, dx) in [-max_shift, max_shift].

    out[n, :, i, j] = padded[n, :, i + dy_n, j + dx_n], padded = images with max_shift zeros
    on every side (``edge=True``: border pixels repeated outwards, as for faces): a cheap
    augmentation that stops a 2-D embedding net memorising positions.
    """
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0 pixels, got {max_shift}")
    if max_shift == 0:
        return images
    n, _, height, width = images.shape
    # [N, C, H + 2k, W + 2k]
    padded = nn.functional.pad(images, (max_shift,) * 4, mode="replicate" if edge else "constant")
    # per-image offsets into the padded image, [2, N] in {0, ..., 2k}
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).to(images.device)
    # row and column indices [N, H, 1] and [N, 1, W], broadcast to [N, H, W]
    rows = offsets[0].view(n, 1, 1) + torch.arange(height, device=images.device).view(1, height, 1)
    cols = offsets[1].view(n, 1, 1) + torch.arange(width, device=images.device).view(1, 1, width)
    batch = torch.arange(n, device=images.device).view(n, 1, 1)
    # advanced indexing around the channel slice gives [N, H, W, C] -> [N, C, H, W]
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)


def batches(labels: torch.Tensor, loss: losses.Loss, config: TrainConfig, generator):
    """Index batches for one epoch: shuffled for heads, P x K for pair/triplet losses."""
    if not loss.classifies:
        # K per class; a set smaller than one batch gives one batch of (about) all of it,
        # as for heads, rather than an epoch with no batch at all
        per_class = max(2, min(config.batch_size, len(labels)) // config.classes_per_batch)
        yield from pk_batches(
            labels,
            classes_per_batch=config.classes_per_batch,
            samples_per_class=per_class,
            generator=generator,
        )
        return
    order = torch.randperm(len(labels), generator=generator)
    # drop a last partial batch: a batch of 1 would break BatchNorm
    for start in range(0, len(order) - config.batch_size + 1, config.batch_size):
        yield order[start : start + config.batch_size]
    if len(order) < config.batch_size:
        yield order


def loss_and_correct(model, loss: losses.Loss, images, labels):
    """Forward one batch: the loss and, for heads, the number of correct test-time predictions."""
    embeddings = model(images)
    value = loss(embeddings, labels)
    if not loss.classifies:
        return value, None
    with torch.no_grad():
        return value, (loss.logits(embeddings).argmax(1) == labels).sum()


@dataclass
class Run:
    """What every step of one :func:`fit` call needs."""

    model: nn.Module
    loss: losses.Loss
    config: TrainConfig
    device: torch.device
    generator: torch.Generator
    augment: Callable[[torch.Tensor], torch.Tensor] | None
    optimizer: torch.optim.Optimizer
    lr_schedule: torch.optim.lr_scheduler.LRScheduler
    total_steps: int
    snapshot_every: int | None = None
    snapshot_images: torch.Tensor | None = None
    snapshots: list = field(default_factory=list)
    step: int = 0


def start_run(model, loss, labels, config: TrainConfig, **settings) -> Run:
    """Optimizer (AdamW) and one-cycle learning-rate schedule over every step of the run."""
    params = [*model.parameters(), *loss.parameters()]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, sum(1 for _ in batches(labels, loss, config, torch.Generator())))
    total_steps = config.epochs * steps_per_epoch
    lr_schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=total_steps, pct_start=config.lr_warmup_pct
    )
    return Run(
        model, loss, config, optimizer=optimizer, lr_schedule=lr_schedule, total_steps=total_steps, **settings
    )


def take_snapshot(run: Run) -> None:
    """Record the step, the class weights ``[C, D]`` (None for pair losses) and the embeddings ``[N, D]``."""
    weights = run.loss.weight.detach().cpu().clone() if run.loss.classifies else None
    run.snapshots.append(
        {
            "step": run.step,
            "fraction": min(1.0, run.step / run.total_steps),
            "weights": None if weights is None else to_numpy(weights),
            # eval mode and no_grad inside embed; the model's training mode is restored
            "embeddings": to_numpy(embed(run.model, run.snapshot_images, device=run.device)),
        }
    )


def run_epoch(run: Run, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float, float]:
    """One pass over the data: (mean loss, training accuracy or NaN, seconds)."""
    start, total, correct, seen = time.perf_counter(), 0.0, 0, 0
    for index in batches(labels, run.loss, run.config, run.generator):
        if run.snapshot_every and run.step % run.snapshot_every == 0:
            take_snapshot(run)
        run.loss.schedule(min(1.0, run.step / run.total_steps), warmup=run.config.margin_warmup)
        x, y = images[index].to(run.device), labels[index].to(run.device)
        x = random_shift(x, max_shift=run.config.max_shift, generator=run.generator)
        x = run.augment(x) if run.augment is not None else x
        value, hits = loss_and_correct(run.model, run.loss, x, y)
        run.optimizer.zero_grad(set_to_none=True)
        value.backward()
        run.optimizer.step()
        run.lr_schedule.step()
        run.step += 1
        total, seen = total + value.item() * len(y), seen + len(y)
        correct += int(hits) if hits is not None else 0
    accuracy = correct / max(seen, 1) if run.loss.classifies else math.nan
    return total / max(seen, 1), accuracy, time.perf_counter() - start


def fit(
    model: nn.Module,
    loss: losses.Loss,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    config: TrainConfig | None = None,
    device: str = "auto",
    progress: bool = True,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    snapshot_every: int | None = None,
    snapshot_images: torch.Tensor | None = None,
    **overrides,
) -> dict:
    """Train ``model`` (and the head's weights) with ``loss``; return the history.

    ``loss`` is any :class:`~minifacenet.losses.Loss`: a head gets shuffled batches, a
    pair/triplet loss P x K batches. Before each step ``loss.schedule(fraction, warmup=
    config.margin_warmup)`` sets the margin for the fraction of training done; after
    training the head holds its full formula (margin weight 1). Keyword ``overrides``
    replace fields of ``config``. The history holds per-epoch ``loss``, ``accuracy``
    (training batches, test-time logits, heads only; NaN otherwise) and ``seconds``.
    ``augment``, if given, maps each batch ``[B, C, H, W]`` to an augmented batch (after the
    random shifts of ``config.max_shift``). With ``snapshot_every = k``, ``history["snapshots"]``
    lists ``{"step", "fraction", "weights" [C, D] or None, "embeddings" [N, D]}`` of
    ``snapshot_images``, taken before steps 0, k, 2k, ... and once after the last step.
    """
    config = TrainConfig(**{**asdict(config or TrainConfig()), **overrides})
    check_train_config(config, images, labels)
    check_snapshot_settings(snapshot_every, snapshot_images)
    loss.schedule(0.0, warmup=config.margin_warmup)  # a bad warm-up fails before any work
    generator = seed_everything(config.seed)
    device = resolve_device(device)
    model.to(device).train()
    loss.to(device).train()
    run = start_run(
        model,
        loss,
        labels,
        config,
        device=device,
        generator=generator,
        augment=augment,
        snapshot_every=snapshot_every,
        snapshot_images=snapshot_images,
    )
    history = {"loss": [], "accuracy": [], "seconds": []}
    for _epoch in tqdm(range(config.epochs), desc="epochs", disable=not progress):
        for key, value in zip(history, run_epoch(run, images, labels), strict=True):
            history[key].append(value)
    loss.schedule(1.0, warmup=0.0)  # the full formula, for every head
    if snapshot_every:
        take_snapshot(run)
        history["snapshots"] = run.snapshots
    config.history = history
    model.train_config = config
    return history


def check_snapshot_settings(snapshot_every: int | None, snapshot_images: torch.Tensor | None) -> None:
    """``snapshot_every`` is None or an integer >= 1, and then ``snapshot_images`` are given."""
    if snapshot_every is None:
        return
    if isinstance(snapshot_every, bool) or not isinstance(snapshot_every, int) or snapshot_every < 1:
        raise ValueError(f"snapshot_every must be an integer >= 1 (steps), got {snapshot_every!r}")
    if not isinstance(snapshot_images, torch.Tensor) or len(snapshot_images) == 0:
        raise ValueError("snapshot_every needs snapshot_images: the images [N, C, H, W] to embed")


@torch.no_grad()
def embed(
    model: nn.Module, images: torch.Tensor, *, batch_size: int = 2048, device: str = "auto"
) -> torch.Tensor:
    """Embeddings ``[N, D]`` of ``images`` on the CPU, in eval mode."""
    device = resolve_device(device)
    was_training = model.training
    model.to(device).eval()
    out = [model(images[i : i + batch_size].to(device)).cpu() for i in range(0, len(images), batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, getattr(model, "embedding_dim", 0))


@torch.no_grad()
def predict(head: losses.MarginHead, embeddings: torch.Tensor) -> torch.Tensor:
    """Test-time class predictions ``[N]`` from a head (no margin)."""
    return head.to(embeddings.device).logits(embeddings).argmax(1)
