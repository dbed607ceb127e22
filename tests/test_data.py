"""Data loaders: shapes and ranges, root resolution, offline and corrupt caches, P x K batches."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from minifacenet import data as D


def clear_caches() -> None:
    D._mnist_cached.cache_clear()
    D._olivetti_cached.cache_clear()


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time (ns)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


# --------------------------------------------------------------------------- the real datasets
def test_loaders_never_write_into_the_data_root(data_dir):
    clear_caches()
    before = snapshot(data_dir)
    D.mnist(True, root=data_dir)
    D.mnist(False, root=data_dir)
    D.olivetti(root=data_dir)
    assert snapshot(data_dir) == before


@pytest.mark.parametrize(("train", "size"), [(True, 60000), (False, 10000)])
def test_mnist_shapes_dtypes_ranges(data_dir, train, size):
    images, labels = D.mnist(train, root=data_dir)
    assert images.shape == (size, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (size,) and labels.dtype == torch.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert sorted(labels.unique().tolist()) == list(range(10))


def test_olivetti_shapes_dtypes_ranges(data_dir):
    images, labels = D.olivetti(root=data_dir)
    assert images.shape == (400, 1, 64, 64) and images.dtype == torch.float32
    assert labels.shape == (400,) and labels.dtype == torch.int64
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.std() > 0.1
    assert torch.equal(labels.bincount(), torch.full((40,), 10))


def test_loaders_return_copies_not_the_cache(data_dir):
    images, labels = D.mnist(False, root=data_dir)
    images.zero_()
    labels.fill_(-1)
    again, again_labels = D.mnist(False, root=data_dir)
    assert again.max() == 1.0 and again_labels.min() == 0


def test_load_by_name(data_dir):
    assert D.load("olivetti", root=data_dir)[0].shape == (400, 1, 64, 64)
    with pytest.raises(ValueError, match="mnist"):
        D.load("cifar", root=data_dir)


# --------------------------------------------------------------------------- the data root
def test_data_root_resolution_order(monkeypatch, tmp_path):
    monkeypatch.delenv(D.ENV_VAR, raising=False)
    assert D.data_root() == D.REPO_DATA == Path(D.__file__).resolve().parent.parent / "data"
    monkeypatch.setenv(D.ENV_VAR, str(tmp_path / "from-env"))
    assert D.data_root() == tmp_path / "from-env"
    assert D.data_root(tmp_path / "argument") == tmp_path / "argument"  # the argument wins


@pytest.mark.usefixtures("offline")
def test_empty_root_offline_names_folder_files_and_variable(tmp_path):
    clear_caches()
    with pytest.raises(D.DataError) as error:
        D.mnist(True, root=tmp_path)
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message and D.ENV_VAR in message
    assert all(name in message for name in D.MNIST_FILES)
    with pytest.raises(D.DataError) as error:
        D.olivetti(root=tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message and D.OLIVETTI_FILE in message and D.ENV_VAR in message


@pytest.mark.usefixtures("offline")
def test_environment_variable_is_used_when_no_root_is_given(monkeypatch, tmp_path):
    clear_caches()
    monkeypatch.setenv(D.ENV_VAR, str(tmp_path))
    with pytest.raises(D.DataError, match=str(tmp_path)):
        D.olivetti()


# --------------------------------------------------------------------------- broken caches
def mnist_copy_with_short_file(source: Path, target: Path, short: str) -> Path:
    """A data root whose MNIST files link to ``source``'s, except ``short``, cut to half."""
    raw = target / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in D.MNIST_FILES:
        original = source / "MNIST" / "raw" / name
        if name == short:
            (raw / name).write_bytes(original.read_bytes()[: original.stat().st_size // 2])
        else:
            os.symlink(original, raw / name)
    return target


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("short", ["t10k-labels-idx1-ubyte", "t10k-images-idx3-ubyte"])
def test_truncated_mnist_says_truncated(data_dir, tmp_path, short):
    clear_caches()
    root = mnist_copy_with_short_file(data_dir, tmp_path, short)
    with pytest.raises(D.DataError, match="truncated or corrupt") as error:
        D.mnist(False, root=root)
    assert short in str(error.value)


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("content", ["garbage", "half"])
def test_corrupt_olivetti_cache(data_dir, tmp_path, content):
    clear_caches()
    original = (data_dir / D.OLIVETTI_FILE).read_bytes()
    bad = b"not a pickle at all" if content == "garbage" else original[: len(original) // 2]
    (tmp_path / D.OLIVETTI_FILE).write_bytes(bad)
    with pytest.raises(D.DataError, match="corrupt or truncated") as error:
        D.olivetti(root=tmp_path)
    assert str(tmp_path / D.OLIVETTI_FILE) in str(error.value)


# --------------------------------------------------------------------------- P x K batches
def uneven_labels() -> torch.Tensor:
    # 6 classes, class 5 with only 2 samples (fewer than K: drawn with replacement)
    counts = [12, 9, 7, 10, 8, 2]
    return torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])[torch.randperm(48)]


@pytest.mark.parametrize(("p", "k"), [(3, 4), (6, 3), (2, 2)])
def test_pk_batches_are_p_blocks_of_k(p, k):
    labels = uneven_labels()
    batches = list(D.pk_batches(labels, classes_per_batch=p, samples_per_class=k))
    assert len(batches) == len(labels) // (p * k)
    for batch in batches:
        blocks = labels[batch].view(p, k)  # [P, K]: one class per row
        assert batch.shape == (p * k,)
        assert (blocks == blocks[:, :1]).all()
        assert len(blocks[:, 0].unique()) == p


def test_pk_batches_distinct_samples_when_the_class_has_enough():
    labels = uneven_labels()
    for batch in D.pk_batches(labels, classes_per_batch=4, samples_per_class=2):
        for block in batch.view(4, 2):
            assert len(block.unique()) == 2


def test_pk_batches_follow_the_generator():
    labels = uneven_labels()

    def draw(seed: int) -> list[list[int]]:
        generator = torch.Generator().manual_seed(seed)
        return [
            b.tolist()
            for b in D.pk_batches(labels, classes_per_batch=3, samples_per_class=4, generator=generator)
        ]

    assert draw(5) == draw(5)
    assert draw(5) != draw(6)


def test_pk_batches_reject_more_classes_than_exist():
    with pytest.raises(ValueError, match="only 6 classes"):
        next(D.pk_batches(uneven_labels(), classes_per_batch=7, samples_per_class=2))
