"""Digit pairs: a data set where the number of training classes can grow while the parts stay fixed.

Class ``(a, b)`` is an MNIST digit ``a`` beside a digit ``b``: a 28 x 56 image. Which pairs a
network trains on is decided by a Latin square on the *familiar* digits 0-6: the pairs
``(a, (a + k) mod 7)`` of one shift ``k`` hold every digit 0-6 exactly once on the left and
once on the right, so

- training on shifts 1, 1-2, ..., 1-5 gives 7, 14, 21, 28 or 35 classes (:data:`CLASS_COUNTS`),
  and every one of those sets covers every familiar digit in both positions: what grows is the
  number of classes, not the digits seen;
- the pairs of shifts 0 and 6 (``(a, a)`` and ``(a, a - 1)``, 14 classes) are never trained
  on: **familiar strangers**, new classes made of familiar parts;
- 14 pairs of a familiar digit with one of 7-9 (``(a, 7 + a mod 3)`` and its mirror) are the
  **new-part strangers**: classes with a part no training image shows.

Training images are built only from MNIST *training* images; every test image (the seen
classes' test set and both kinds of strangers) only from MNIST *test* images, so no training
image, nor any of its digits, is in any test set. The composition is fixed by ``data_seed``
(not by a run's training seed): two runs with different seeds see the same images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .data import mnist

FAMILIAR_DIGITS = tuple(range(7))
NEW_DIGITS = (7, 8, 9)
TRAIN_SHIFTS = (1, 2, 3, 4, 5)  # Latin-square shifts a network may train on, in this order
HELD_OUT_SHIFTS = (0, 6)  # never trained on: the familiar strangers
CLASS_COUNTS = tuple(7 * k for k in range(1, len(TRAIN_SHIFTS) + 1))  # 7, 14, 21, 28, 35


def shift_pairs(shift: int) -> list[tuple[int, int]]:
    """The 7 pairs ``(a, (a + shift) mod 7)``: each familiar digit once on each side."""
    return [(a, (a + shift) % 7) for a in FAMILIAR_DIGITS]


def training_pairs(num_classes: int) -> list[tuple[int, int]]:
    """The first ``num_classes`` // 7 shifts' pairs (7, 14, 21, 28 or 35 classes), nested."""
    if num_classes not in CLASS_COUNTS:
        raise ValueError(
            f"digit pairs train on {', '.join(map(str, CLASS_COUNTS))} classes (whole Latin-square "
            f"shifts, so every digit 0-6 appears on both sides), got {num_classes!r}"
        )
    return [pair for shift in TRAIN_SHIFTS[: num_classes // 7] for pair in shift_pairs(shift)]


def familiar_stranger_pairs() -> list[tuple[int, int]]:
    """14 pairs of digits 0-6 that no class count trains on."""
    return [pair for shift in HELD_OUT_SHIFTS for pair in shift_pairs(shift)]


def new_part_stranger_pairs() -> list[tuple[int, int]]:
    """14 pairs with one digit from 7-9: each familiar digit once on the left, once on the right."""
    left = [(a, NEW_DIGITS[a % 3]) for a in FAMILIAR_DIGITS]
    return left + [(b, a) for a, b in left]


def pair_code(pair: tuple[int, int]) -> int:
    """The label of a stranger class: ``10 a + b`` (the pair read as a two-digit number)."""
    return 10 * pair[0] + pair[1]


@dataclass
class PairSet:
    """Pair images ``[N, 1, 28, 56]``, labels ``[N]`` and the MNIST indices of their halves ``[N, 2]``."""

    images: torch.Tensor
    labels: torch.Tensor
    sources: torch.Tensor


def compose(
    images: torch.Tensor,
    digits: torch.Tensor,
    pairs: list[tuple[int, int]],
    *,
    per_class: int,
    labels: list[int],
    generator: torch.Generator,
) -> PairSet:
    """``per_class`` images of each pair: a random image of digit a beside one of digit b."""
    sources = []
    for a, b in pairs:
        # [per_class] random picks among the images of each digit
        left = torch.nonzero(digits == a).flatten()
        right = torch.nonzero(digits == b).flatten()
        pick_left = left[torch.randint(len(left), (per_class,), generator=generator)]
        pick_right = right[torch.randint(len(right), (per_class,), generator=generator)]
        sources.append(torch.stack([pick_left, pick_right], dim=1))
    # [N, 2] indices into ``images``, classes shuffled together (so a first-N subset holds every class)
    order = torch.randperm(len(pairs) * per_class, generator=generator)
    index = torch.cat(sources)[order]
    targets = torch.tensor(labels).repeat_interleave(per_class)[order]
    # [N, 1, 28, 56]: the two digits side by side along the width
    pictures = torch.cat([images[index[:, 0]], images[index[:, 1]]], dim=3)
    return PairSet(pictures, targets, index)


@dataclass
class DigitPairs:
    """One digit-pairs experiment: training set, seen-class test set, two kinds of strangers."""

    classes: list[tuple[int, int]]  # training class k is the pair classes[k]
    train: PairSet  # labels 0..len(classes)-1, from MNIST training images
    test: PairSet  # the same classes, from MNIST test images
    familiar: PairSet  # held-out pairs of 0-6, labels pair_code
    new_parts: PairSet  # pairs with a digit from 7-9, labels pair_code


def digit_pairs(
    num_classes: int = 35,
    *,
    train_images: int = 14_000,
    test_per_class: int = 100,
    data_seed: int = 0,
    root=None,
) -> DigitPairs:
    """The digit-pairs experiment with ``num_classes`` training classes and ``train_images`` in all.

    The training images are shared equally among the classes, so more classes means fewer
    images of each: the total work of a run does not grow with the class count.
    """
    classes = training_pairs(num_classes)
    if train_images < num_classes:
        raise ValueError(f"train_images must be >= num_classes ({num_classes}), got {train_images}")
    generator = torch.Generator().manual_seed(data_seed)
    train_x, train_y = mnist(True, root=root)
    test_x, test_y = mnist(False, root=root)
    own = list(range(len(classes)))
    familiar, new_parts = familiar_stranger_pairs(), new_part_stranger_pairs()
    per_train = train_images // num_classes
    return DigitPairs(
        classes=classes,
        train=compose(train_x, train_y, classes, per_class=per_train, labels=own, generator=generator),
        test=compose(test_x, test_y, classes, per_class=test_per_class, labels=own, generator=generator),
        familiar=compose(
            test_x, test_y, familiar, per_class=test_per_class,
            labels=[pair_code(p) for p in familiar], generator=generator,
        ),
        new_parts=compose(
            test_x, test_y, new_parts, per_class=test_per_class,
            labels=[pair_code(p) for p in new_parts], generator=generator,
        ),
    )

