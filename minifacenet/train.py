"""One short training loop shared by every loss, plus ``embed`` and checkpoints."""

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

from . import losses as L
from .checkpoint import load_checkpoint, save_checkpoint  # noqa: F401 - re-exported
from .data import pk_batches


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


def is_metric_loss(loss: nn.Module) -> bool:
    return isinstance(loss, (L.ContrastiveLoss, L.TripletLoss))


@dataclass
class TrainConfig:
    """Everything that decides a run; saved with every checkpoint."""

    epochs: int = 10
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 5e-4
    margin_warmup: int = 0  # steps over which the margin ramps from 0 to its value
    max_shift: int = 0  # random shifts of up to this many pixels (the CLI uses 2)
    classes_per_batch: int = 10  # P, for pair and triplet losses
    seed: int = 0
    history: dict = field(default_factory=dict)


def random_shift(
    images: torch.Tensor, *, max_shift: int, generator=None, edge: bool = False
) -> torch.Tensor:
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


def batches(labels: torch.Tensor, loss: nn.Module, config: TrainConfig, generator):
    """Index batches for one epoch: shuffled for heads, P x K for pair/triplet losses."""
    if is_metric_loss(loss):
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


def contrastive_pairs(embeddings: torch.Tensor, labels: torch.Tensor):
    """Balanced pairs from a P x K batch: each sample with a positive and a negative.

    The batch is P blocks of K same-class samples; rolling by one inside a block gives a
    positive partner, rolling by one whole block gives a negative partner.
    """
    n = len(labels)
    k = int((labels == labels[0]).cumprod(0).sum())  # block size K
    idx = torch.arange(n)
    positive = (idx // k) * k + (idx + 1) % k  # next sample in the same block
    negative = (idx + k) % n  # same slot in the next block
    x1 = torch.cat([embeddings, embeddings])
    x2 = torch.cat([embeddings[positive], embeddings[negative]])
    same = torch.cat([labels == labels[positive], labels == labels[negative]])
    return x1, x2, same


def loss_and_correct(model, loss, images, labels):
    """Forward one batch: the loss and, for heads, the number of correct predictions."""
    embeddings = model(images)
    if isinstance(loss, L.ContrastiveLoss):
        return loss(*contrastive_pairs(embeddings, labels)), None
    if isinstance(loss, L.TripletLoss):
        return loss(embeddings, labels), None
    logits = loss.logits(embeddings, labels)
    value = nn.functional.cross_entropy(logits, labels)
    return value, (logits.argmax(1) == labels).sum()


def on_step(loss: nn.Module, step: int, config: TrainConfig) -> None:
    """Per-step schedules: SphereFace's lambda annealing and the margin warm-up."""
    if isinstance(loss, L.SphereFace):
        loss.anneal(step)
    if isinstance(loss, L.MarginHead) and config.margin_warmup > 0:
        loss.margin_factor = min(1.0, step / config.margin_warmup)


def fit(
    model: nn.Module,
    loss: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    config: TrainConfig | None = None,
    device: str = "auto",
    progress: bool = True,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    **overrides,
) -> dict:
    """Train ``model`` (and the head's weights) with ``loss``; return the history.

    ``loss`` is a margin head taking ``(embeddings, labels)`` or a pair/triplet loss, which
    then gets P x K batches. Keyword ``overrides`` replace fields of ``config``. The history
    holds per-epoch ``loss``, ``accuracy`` (training batches, heads only) and ``seconds``.
    ``augment``, if given, maps each batch of images ``[B, C, H, W]`` to an augmented batch
    (after the random shifts of ``config.max_shift``).
    """
    config = TrainConfig(**{**asdict(config or TrainConfig()), **overrides})
    generator = seed_everything(config.seed)
    device = resolve_device(device)
    model.to(device).train()
    loss.to(device).train()
    params = [*model.parameters(), *loss.parameters()]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, sum(1 for _ in batches(labels, loss, config, torch.Generator())))
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.15
    )
    history = {"loss": [], "accuracy": [], "seconds": []}
    step = 0
    for _epoch in tqdm(range(config.epochs), desc="epochs", disable=not progress):
        start, total, correct, seen = time.perf_counter(), 0.0, 0, 0
        for index in batches(labels, loss, config, generator):
            on_step(loss, step, config)
            x, y = images[index].to(device), labels[index].to(device)
            x = random_shift(x, max_shift=config.max_shift, generator=generator)
            x = augment(x) if augment is not None else x
            value, hits = loss_and_correct(model, loss, x, y)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            schedule.step()
            step += 1
            total += value.item() * len(y)
            seen += len(y)
            correct += int(hits) if hits is not None else 0
        history["loss"].append(total / max(seen, 1))
        history["accuracy"].append(correct / seen if not is_metric_loss(loss) else math.nan)
        history["seconds"].append(time.perf_counter() - start)
    if isinstance(loss, L.MarginHead):
        loss.margin_factor = 1.0
    config.history = history
    model.train_config = config
    return history


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
def predict(head: L.MarginHead, embeddings: torch.Tensor) -> torch.Tensor:
    """Test-time class predictions ``[N]`` from a head (no margin)."""
    return head.to(embeddings.device).logits(embeddings).argmax(1)


def loss_name(loss: nn.Module) -> str:
    for name, cls in {**L.HEADS, **L.METRIC_LOSSES}.items():
        if type(loss) is cls:
            return name
    raise ValueError(f"cannot checkpoint a {type(loss).__name__}: not one of {L.LOSS_NAMES}")


def loss_config(loss: nn.Module) -> dict:
    if isinstance(loss, L.MarginHead):
        return loss.config()
    if isinstance(loss, L.TripletLoss):
        return {
            "embedding_dim": 0,
            "num_classes": 0,
            "margin": loss.margin,
            "mining": loss.mining,
            "squared": loss.squared,
            "normalize": loss.normalize,
        }
    return {"embedding_dim": 0, "num_classes": 0, "margin": loss.margin}
