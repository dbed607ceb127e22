"""Input checks for the losses: each raises a ValueError that says what is wrong and how to mend it.

Kept out of :mod:`minifacenet.losses` so that the file a student opens reads as the formulas.
"""

from __future__ import annotations

import math
import numbers

import torch


def is_number(value) -> bool:
    """A real number (Python or NumPy, not a bool) that is finite."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value) -> bool:
    """An integer (Python or NumPy, not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def all_finite(values: torch.Tensor) -> bool:
    """True when every entry is finite; fast path of :func:`all_finite_reference`.

    A finite sum proves every entry finite (one cheap reduction); only an infinite or NaN
    sum (a bad entry, or an overflow of huge finite values) needs the element-wise test.
    """
    return bool(torch.isfinite(values.sum())) or all_finite_reference(values)


def all_finite_reference(values: torch.Tensor) -> bool:
    """The plain definition: every entry is neither NaN nor infinite."""
    return bool(torch.isfinite(values).all())


def check_embeddings(embeddings: torch.Tensor, *, embedding_dim: int | None = None) -> None:
    """Embeddings must be a non-empty float tensor ``[N, D]`` (D = ``embedding_dim`` if given), all finite."""
    if not isinstance(embeddings, torch.Tensor) or not embeddings.dtype.is_floating_point:
        what = embeddings.dtype if isinstance(embeddings, torch.Tensor) else type(embeddings).__name__
        raise ValueError(f"embeddings must be a floating-point tensor, got {what}: convert with .float()")
    if embeddings.is_meta:
        raise ValueError("embeddings are meta tensors (shapes without values): compute real embeddings")
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be [N, D], got shape {list(embeddings.shape)}: reshape to [N, D]")
    if len(embeddings) == 0:
        raise ValueError("empty batch: the loss of zero embeddings is undefined; pass at least one sample")
    if embedding_dim is not None and embeddings.shape[1] != embedding_dim:
        raise ValueError(
            f"embeddings have dimension {embeddings.shape[1]} but the head expects {embedding_dim}: "
            f"build the head with embedding_dim={embeddings.shape[1]} or change the network's output"
        )
    if not all_finite(embeddings.detach()):  # no autograd node for a check
        raise ValueError(
            "embeddings contain NaN or inf: the network diverged or its input is broken. "
            "Lower the learning rate, check the input images, or warm up the margin."
        )


def check_like(embeddings: torch.Tensor, weight: torch.Tensor) -> None:
    """Embeddings of the head's dtype, on the head's device (checked before the matrix product)."""
    if isinstance(embeddings, torch.Tensor) and embeddings.device != weight.device:
        raise ValueError(
            f"embeddings are on {embeddings.device} but the head is on {weight.device}: move one to the "
            f"other, e.g. head.to({str(embeddings.device)!r}) or embeddings.to({str(weight.device)!r})"
        )
    if isinstance(embeddings, torch.Tensor) and embeddings.dtype != weight.dtype:
        raise ValueError(
            f"embeddings are {embeddings.dtype} but the head's weights are {weight.dtype}: convert the "
            f"head with head.to({embeddings.dtype}) or the embeddings with .to({weight.dtype}) (.float())"
        )


def check_magnitude(embeddings: torch.Tensor) -> None:
    """Entries small enough that norms and squared distances stay finite: |x| <= sqrt(max / (4 D)).

    SphereFace (logits |x| cos) and the contrastive loss (|x1 - x2|^2) square raw embeddings;
    past this bound the squares overflow to inf and the loss becomes NaN.
    """
    limit = math.sqrt(torch.finfo(embeddings.dtype).max / (4 * embeddings.shape[1]))
    largest = float(embeddings.detach().abs().max())
    if largest > limit:
        raise ValueError(
            f"embeddings reach {largest:.3g}, beyond {limit:.3g}, where their squares overflow "
            f"{embeddings.dtype}: the network diverged. Lower the learning rate, or compute in float64"
        )


def check_labels(labels: torch.Tensor, num_classes: int | None = None, *, count: int | None = None) -> None:
    """Labels must be an integer tensor ``[N]`` (N = ``count`` if given) in ``[0, num_classes)``."""
    if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        what = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be an integer tensor, got {what}: convert with .long()")
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D [N], got shape {list(labels.shape)}: pass labels.view(-1)")
    if count is not None and len(labels) != count:
        raise ValueError(f"got {len(labels)} labels for {count} embeddings: pass one label per embedding")
    if num_classes is None or not labels.numel():
        return
    # smallest and largest label in one pass, read back once
    low, high = (int(value) for value in torch.aminmax(labels))
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes}) for num_classes={num_classes}; got values "
            f"from {low} to {high}. Remap them or raise num_classes."
        )


def check_same(same: torch.Tensor, *, count: int) -> None:
    """Pair labels: ``[count]``, bool or only the values 0 and 1."""
    if not isinstance(same, torch.Tensor) or same.shape != (count,):
        shape = list(same.shape) if isinstance(same, torch.Tensor) else type(same).__name__
        raise ValueError(f"pair labels must be a tensor [{count}] (one per pair), got {shape}")
    if same.dtype != torch.bool and not ((same == 0) | (same == 1)).all():
        raise ValueError("pair labels must be 0 (different) or 1 (same), got other values")


def check_sizes(embedding_dim, num_classes) -> tuple[int, int]:
    """A head's sizes: integers ``embedding_dim >= 1`` and ``num_classes >= 2``."""
    if not (is_int(embedding_dim) and is_int(num_classes) and embedding_dim >= 1 and num_classes >= 2):
        raise ValueError(
            f"need integers embedding_dim >= 1 and num_classes >= 2, got {embedding_dim!r}, {num_classes!r}"
        )
    return int(embedding_dim), int(num_classes)


def check_scale(scale: float) -> float:
    """A head's scale s: a finite number > 0."""
    if not (is_number(scale) and scale > 0):
        raise ValueError(f"scale s must be a finite number > 0, got {scale!r} (try s = 10 in 2-D)")
    return float(scale)


def check_margin(margin, what: str = "margin m", bounds: tuple[float, float] = (0.0, math.inf), *,
                 integer: bool = False) -> float:  # fmt: skip
    """A margin in ``[low, high)`` (``integer``: a whole number, returned as an int); ``what``
    names it in the error ("CosFace m")."""
    low, high = bounds
    if integer:
        whole = is_int(margin) or (is_number(margin) and float(margin).is_integer())
        if not (whole and low <= margin < high):
            raise ValueError(f"{what} must be an integer in {low:g}..{high - 1:g}, got {margin!r}")
        return int(margin)
    if not is_number(margin):
        raise ValueError(f"{what} must be a finite number, got {margin!r}")
    if margin < low:
        raise ValueError(f"{what} must be >= {low:g}, got {margin}")
    if margin >= high:
        raise ValueError(f"{what} must be < {high:.4g}, got {margin}")
    return float(margin)


def check_lambda(value: float, name: str, *, allow_inf: bool = False) -> float:
    """SphereFace's annealing lambda: a number >= 0 (``allow_inf``: infinity too)."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
    if not (number and value >= 0 and (allow_inf or math.isfinite(value))):
        raise ValueError(f"SphereFace {name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_fraction(value: float, name: str, *, below_one: bool = False) -> float:
    """A fraction of training: a number in [0, 1] (``below_one``: in [0, 1))."""
    upper_ok = is_number(value) and (value < 1 if below_one else value <= 1)
    if not (upper_ok and value >= 0):
        interval = "[0, 1)" if below_one else "[0, 1]"
        raise ValueError(
            f"{name} must be a fraction of training in {interval} (0.5 = the first half), got {value!r}"
        )
    return float(value)
