"""Digit pairs: the Latin-square split, shapes, and every test image from MNIST's test set."""

from __future__ import annotations

import pytest
import torch

from minifacenet import pairs
from minifacenet.data import mnist


def test_every_class_count_covers_every_familiar_digit_on_both_sides():
    for count in pairs.CLASS_COUNTS:
        classes = pairs.training_pairs(count)
        assert len(classes) == len(set(classes)) == count
        lefts = [a for a, _ in classes]
        rights = [b for _, b in classes]
        # each digit 0-6 equally often on each side: the parts are the same, only the classes grow
        assert all(lefts.count(d) == rights.count(d) == count // 7 for d in pairs.FAMILIAR_DIGITS)


def test_class_sets_are_nested():
    for smaller, larger in zip(pairs.CLASS_COUNTS, pairs.CLASS_COUNTS[1:], strict=False):
        assert set(pairs.training_pairs(smaller)) < set(pairs.training_pairs(larger))


def test_strangers_are_never_trained_on_and_are_of_two_kinds():
    trained = set(pairs.training_pairs(pairs.CLASS_COUNTS[-1]))
    familiar = pairs.familiar_stranger_pairs()
    new_parts = pairs.new_part_stranger_pairs()
    assert len(set(familiar)) == len(set(new_parts)) == 14
    assert not trained & set(familiar) and not trained & set(new_parts)
    assert all(a < 7 and b < 7 for a, b in familiar)
    assert all((a >= 7) != (b >= 7) for a, b in new_parts)  # exactly one new digit


@pytest.mark.parametrize("count", [0, 8, 42, 49])
def test_other_class_counts_are_refused(count):
    with pytest.raises(ValueError, match="7, 14, 21, 28, 35"):
        pairs.training_pairs(count)


@pytest.fixture(scope="module")
def small(data_dir):
    return pairs.digit_pairs(14, train_images=700, test_per_class=10, root=data_dir)


def test_shapes_and_labels(small):
    assert small.train.images.shape == (700, 1, 28, 56)
    assert sorted(torch.unique(small.train.labels).tolist()) == list(range(14))
    assert small.test.images.shape == (140, 1, 28, 56)
    assert small.familiar.images.shape == small.new_parts.images.shape == (140, 1, 28, 56)
    assert set(small.familiar.labels.tolist()) == {
        pairs.pair_code(p) for p in pairs.familiar_stranger_pairs()
    }


def test_each_image_is_its_two_source_digits_side_by_side(small, data_dir):
    train_x, train_y = mnist(True, root=data_dir)
    test_x, test_y = mnist(False, root=data_dir)
    for part, x in [(small.train, train_x), (small.familiar, test_x)]:
        for i in (0, 5, 99):
            left, right = part.sources[i]
            assert torch.equal(part.images[i, :, :, :28], x[left])
            assert torch.equal(part.images[i, :, :, 28:], x[right])
    # the training labels name the pair of digits the sources show
    for i in range(50):
        a, b = small.classes[int(small.train.labels[i])]
        assert (int(train_y[small.train.sources[i, 0]]), int(train_y[small.train.sources[i, 1]])) == (a, b)


def test_test_sets_are_built_from_test_images_only(small, data_dir):
    # the test-set halves equal MNIST *test* images at their source indices, and no training
    # image appears in any test set (compared by content, so a duplicate index can't hide it)
    train_x, _ = mnist(True, root=data_dir)
    test_x, test_y = mnist(False, root=data_dir)
    train_halves = {tuple(train_x[i].flatten().tolist()) for i in small.train.sources.flatten().tolist()}
    for part in (small.test, small.familiar, small.new_parts):
        for row, (left, right) in enumerate(part.sources.tolist()):
            assert torch.equal(part.images[row, :, :, :28], test_x[left])
            assert tuple(test_x[left].flatten().tolist()) not in train_halves
            assert tuple(test_x[right].flatten().tolist()) not in train_halves
        codes = {10 * int(test_y[a]) + int(test_y[b]) for a, b in part.sources.tolist()}
        assert len(codes) == 14


def test_the_data_do_not_depend_on_anything_but_data_seed(data_dir):
    first = pairs.digit_pairs(7, train_images=70, test_per_class=2, root=data_dir)
    torch.manual_seed(123)  # the global seed of a training run must not change the data
    second = pairs.digit_pairs(7, train_images=70, test_per_class=2, root=data_dir)
    assert torch.equal(first.train.sources, second.train.sources)
    other = pairs.digit_pairs(7, train_images=70, test_per_class=2, root=data_dir, data_seed=1)
    assert not torch.equal(first.train.sources, other.train.sources)
