"""Datasets as in-memory tensors, read offline-first through the standard loaders.

Both loaders return ``(images, labels)``: images float32 ``[N, 1, H, W]`` in ``[0, 1]``,
labels int64 ``[N]``. The data root is, in order: the ``root`` argument, the environment
variable ``MINIFACENET_DATA``, or ``data/`` in the repository. A root that already holds
the data is only read, never written.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import torch

ENV_VAR = "MINIFACENET_DATA"
REPO_DATA = Path(__file__).resolve().parent.parent / "data"
# Installed from a wheel (as in Colab) there is no repository: use a per-user cache instead.
DEFAULT_ROOT = REPO_DATA if (REPO_DATA.parent / "pyproject.toml").exists() else (
    Path.home() / ".cache" / "minifacenet" / "data"
)

# Uncompressed MNIST files and their exact sizes (an idx header plus the payload).
MNIST_FILES = {
    "train-images-idx3-ubyte": 16 + 60000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60000,
    "t10k-images-idx3-ubyte": 16 + 10000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10000,
}
OLIVETTI_FILE = "olivetti_py3.pkz"


class DataError(RuntimeError):
    """A dataset is missing or its cache is unreadable; the message says how to fix it."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder datasets are read from: ``root``, else ``$MINIFACENET_DATA``, else ``data/``.

    ``data/`` is the repository's folder; a pip-installed copy uses ``~/.cache/minifacenet/data``.
    """
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return DEFAULT_ROOT


def _missing_message(name: str, folder: Path, files: list[str], error: Exception) -> str:
    return (
        f"{name} is not in {folder} and could not be downloaded ({type(error).__name__}: "
        f"{str(error).strip().splitlines()[0]}). Expected files: {', '.join(files)}. "
        f"Put them there, or point the environment variable {ENV_VAR} "
        "(or the root= argument) at a folder that has them."
    )


def _check_mnist_sizes(raw: Path) -> None:
    """Raise a clear error for a truncated or corrupt MNIST cache before any parser sees it."""
    for name, size in MNIST_FILES.items():
        actual = (raw / name).stat().st_size
        if actual != size:
            raise DataError(
                f"MNIST cache file {raw / name} has {actual} bytes, expected {size}: it is "
                "truncated or corrupt. Delete it (and its .gz) and download again."
            )


@functools.lru_cache(maxsize=4)
def _mnist_cached(root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets import MNIST

    raw = Path(root) / "MNIST" / "raw"
    have_all = all((raw / name).exists() for name in MNIST_FILES)
    if have_all:
        # before torchvision parses them: its error for a short file does not say "truncated"
        _check_mnist_sizes(raw)
    try:
        # With every file present we only read: download=False never writes.
        dataset = MNIST(root=root, train=train, download=not have_all)
    except Exception as error:  # noqa: BLE001 - network, permission, or parser errors
        if not have_all:
            raise DataError(_missing_message("MNIST", raw, list(MNIST_FILES), error)) from error
        raise DataError(
            f"MNIST cache in {raw} is corrupt or unreadable ({type(error).__name__}: {error}). "
            "Delete its files and download again."
        ) from error
    _check_mnist_sizes(raw)
    # Decode once: uint8 [N, 28, 28] -> float [N, 1, 28, 28] in [0, 1].
    images = dataset.data.unsqueeze(1).float().div_(255.0)
    return images, dataset.targets.long()


def mnist(train: bool = True, *, root: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST digits: images ``[N, 1, 28, 28]`` float in [0, 1], labels ``[N]`` int64."""
    images, labels = _mnist_cached(str(data_root(root)), bool(train))
    return images.clone(), labels.clone()


@functools.lru_cache(maxsize=2)
def _olivetti_cached(root: str) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import fetch_olivetti_faces

    path = Path(root) / OLIVETTI_FILE
    present = path.exists()
    try:
        # download_if_missing only matters when the file is absent; a present file is only read.
        faces = fetch_olivetti_faces(data_home=root, download_if_missing=not present)
    except Exception as error:  # noqa: BLE001 - network, unpickling or decompression errors
        if not present:
            raise DataError(
                _missing_message("The Olivetti faces", Path(root), [OLIVETTI_FILE], error)
            ) from error
        raise DataError(
            f"The Olivetti cache {path} is corrupt or truncated ({type(error).__name__}: "
            f"{error}). Delete it and download again."
        ) from error
    images = torch.from_numpy(faces.images).float().unsqueeze(1)
    return images, torch.from_numpy(faces.target).long()


def olivetti(*, root: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Olivetti faces (40 people x 10): images ``[400, 1, 64, 64]`` in [0, 1], labels ``[400]``."""
    images, labels = _olivetti_cached(str(data_root(root)))
    return images.clone(), labels.clone()


def load(name: str, *, train: bool = True, root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """A dataset by name: ``"mnist"`` (train or test split) or ``"olivetti"`` (all 400)."""
    if name == "mnist":
        return mnist(train, root=root)
    if name == "olivetti":
        return olivetti(root=root)
    raise ValueError(f"unknown dataset {name!r}: choose 'mnist' or 'olivetti'")


def pk_batches(
    labels: torch.Tensor,
    *,
    classes_per_batch: int,
    samples_per_class: int,
    generator: torch.Generator | None = None,
) -> Iterator[torch.Tensor]:
    """One epoch of P x K index batches: P classes, K samples of each, grouped by class.

    Each batch is ``[P * K]`` indices laid out as P blocks of K, so block ``i`` holds K
    samples of one class: every anchor has K - 1 positives. Classes with fewer than K
    samples are drawn with replacement. The epoch has ``len(labels) // (P * K)`` batches.
    """
    classes = labels.unique()
    if classes_per_batch > len(classes):
        raise ValueError(
            f"classes_per_batch={classes_per_batch} but the labels have only "
            f"{len(classes)} classes: use at most {len(classes)}"
        )
    members = [torch.nonzero(labels == c).flatten() for c in classes]
    for _ in range(len(labels) // (classes_per_batch * samples_per_class)):
        chosen = torch.randperm(len(classes), generator=generator)[:classes_per_batch]
        blocks = []
        for c in chosen.tolist():
            pool = members[c]
            if len(pool) >= samples_per_class:
                pick = torch.randperm(len(pool), generator=generator)[:samples_per_class]
            else:
                pick = torch.randint(len(pool), (samples_per_class,), generator=generator)
            blocks.append(pool[pick])
        yield torch.cat(blocks)
