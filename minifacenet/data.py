"""Datasets as in-memory tensors, read offline-first through the standard loaders.

Both loaders return ``(images, labels)``: images float32 ``[N, 1, H, W]`` in ``[0, 1]``,
labels int64 ``[N]``. The data root is, in order: the ``root`` argument, the environment
variable ``MINIFACENET_DATA``, or ``data/`` in the repository. A root that already holds
the data is only read, never written.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import stat
import tempfile
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import torch
from scipy.io import loadmat

ENV_VAR = "MINIFACENET_DATA"
REPO_DATA = Path(__file__).resolve().parent.parent / "data"
# Installed from a wheel (as in Colab) there is no repository: use a per-user cache instead.
DEFAULT_ROOT = REPO_DATA if (REPO_DATA.parent / "pyproject.toml").exists() else (
    Path.home() / ".cache" / "minifacenet" / "data"
)

# Uncompressed MNIST files and the shape of the uint8 array each holds (after its idx header).
MNIST_FILES = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}
# Where MNIST's .gz files are downloaded from (torchvision's mirrors), and their MD5 sums.
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
MNIST_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
# SHA-256 of the uncompressed files as distributed: blank images or shuffled labels keep the
# header and size of a good file, so only the content's hash tells them apart.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
OLIVETTI_FILE = "olivetti_py3.pkz"
# scikit-learn's cache (a joblib pickle, compress=6): its size and SHA-256. A pickle can run code
# when loaded, so the file is unpickled only once its hash is this one.
OLIVETTI_CACHE_SIZE = 1405393
OLIVETTI_CACHE_SHA256 = "47398b319d88c78459514b30b87c562313aad345b5c6a387b678d7f8177be4ba"
# scikit-learn's source of the faces (a MATLAB file) and its SHA-256.
OLIVETTI_URL = "https://ndownloader.figshare.com/files/5976027"
OLIVETTI_SHA256 = "b612fb967f2dc77c9c62d3e1266e0c73d5fca46a4b8906c18e454d41af987794"
# Seconds a download waits for the server (to connect, and between two reads) before giving up.
DOWNLOAD_TIMEOUT = 15.0


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
        f"{(str(error).strip() or 'no answer').splitlines()[0]}). Expected files: {', '.join(files)}. "
        f"Copy them into {folder}, or point the environment variable {ENV_VAR} "
        "(or the root= argument) at a folder that has them."
    )


# --------------------------------------------------------------------------- downloads
def _download(url: str, target: Path, *, digest: str, algorithm: str) -> None:
    """``url`` into ``target``, checked against its hash; gives up after DOWNLOAD_TIMEOUT of silence."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response, target.open("wb") as file:
        shutil.copyfileobj(response, file)
    hasher = hashlib.new(algorithm)
    with target.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            hasher.update(block)
    actual = hasher.hexdigest()
    if actual != digest:
        raise OSError(f"{url} sent a corrupt file ({algorithm} {actual}, expected {digest})")


def _download_from_mirrors(name: str, target: Path) -> None:
    """MNIST's ``name.gz`` into ``target`` from the first mirror that answers; OSError if none does."""
    errors = []
    for mirror in MNIST_MIRRORS:
        try:
            return _download(f"{mirror}{name}.gz", target, digest=MNIST_MD5[name], algorithm="md5")
        except OSError as error:  # URLError, timeouts, refused connections, bad checksums
            errors.append(error)
    raise errors[-1] if errors else OSError("no download mirror configured")


def _install(staged: list[Path], folder: Path) -> None:
    """Move checked files from the staging folder into ``folder`` (created only now)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path in staged:
            shutil.move(path, folder / path.name)
    except OSError as error:
        raise DataError(
            f"could not write the downloaded data into {folder} ({error}): make it writable, "
            f"or point {ENV_VAR} (or root=) at a folder you can write"
        ) from error


# --------------------------------------------------------------------------- files on disk
# (resolved path, size, mtime in ns) of files whose SHA-256 was found right in this process
_VERIFIED: set[tuple[str, int, int]] = set()


def _regular_file(path: Path, *, size: int, source: str | Path, fix: str) -> os.stat_result:
    """``path``'s stat, checked before any read: a regular file of exactly ``size`` bytes.

    A FIFO would block a read forever and a huge file would fill memory: both are refused here.
    """
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{source} is not a regular file (a FIFO, device or folder), so not data. {fix}")
    if info.st_size != size:
        raise DataError(f"{source} has {info.st_size} bytes, expected {size}: truncated or corrupt. {fix}")
    return info


def _sha256_matches(path: Path, info: os.stat_result, expected: str, content: bytes | None = None) -> bool:
    """Whether ``path`` (or its ``content``, already read) has SHA-256 ``expected``; a match is
    remembered for this (path, size, mtime), so a file is hashed once per process."""
    key = (str(path.resolve()), info.st_size, info.st_mtime_ns)
    if key in _VERIFIED:
        return True
    digest = hashlib.sha256(content if content is not None else path.read_bytes()).hexdigest()
    if digest == expected:
        _VERIFIED.add(key)
    return digest == expected


# --------------------------------------------------------------------------- MNIST
MNIST_FIX = "Delete it (and its .gz) and load again to download it."


def _read_idx(
    path: Path, *, shape: tuple[int, ...], source: Path | None = None
) -> tuple[torch.Tensor, bytes]:
    """An idx file of unsigned bytes (MNIST's format) as uint8 ``shape``, its size and header checked;
    with the file's bytes, for :func:`_check_mnist_hash` (so the file is read once).

    Header: 0x0000 0x08 (unsigned byte) ndim, then ndim big-endian int32 sizes.
    """
    source = source or path
    header = 4 + 4 * len(shape)
    expected = header + int(np.prod(shape))
    _regular_file(path, size=expected, source=source, fix=MNIST_FIX)
    data = path.read_bytes()
    magic, *sizes = (int.from_bytes(data[i : i + 4], "big") for i in range(0, header, 4))
    if len(data) >= header and (magic != 0x0800 + len(shape) or tuple(sizes) != shape):
        raise DataError(
            f"MNIST file {source} has a bad header (magic {magic:#010x}, sizes {tuple(sizes)}; expected "
            f"{0x0800 + len(shape):#010x}, {shape}): it is corrupt. Delete it and load again to download it."
        )
    if len(data) != expected:  # changed since the stat
        raise DataError(f"MNIST file {source} has {len(data)} bytes, not {expected}: truncated. {MNIST_FIX}")
    return torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=header).view(shape), data


def _read_mnist_split(raw: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images ``[N, 28, 28]`` and int64 labels ``[N]`` in 0..9 from the raw idx files."""
    prefix = "train" if train else "t10k"
    image_name, label_name = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    images, image_bytes = _read_idx(raw / image_name, shape=MNIST_FILES[image_name])
    label_file = raw / label_name
    labels, label_bytes = _read_idx(label_file, shape=MNIST_FILES[label_name])
    labels = labels.long()
    if labels.max() > 9:
        bad = int(torch.argmax((labels > 9).int()))
        raise DataError(
            f"MNIST label file {label_file} holds label {int(labels[bad])} at position {bad}: labels "
            "must be 0..9, the file is corrupt. Delete it (and its .gz) and load again to download it."
        )
    _check_mnist_hash(raw / image_name, content=image_bytes)
    _check_mnist_hash(label_file, content=label_bytes)
    return images, labels


def _check_mnist_hash(path: Path, *, content: bytes, source: Path | None = None) -> None:
    """A DataError unless the idx file ``path`` (its ``content``, as read) is MNIST's own (SHA-256):
    catches blank images or shuffled labels, which keep a good file's header and size."""
    if not _sha256_matches(path, path.stat(), MNIST_SHA256[path.name], content):
        raise DataError(
            f"MNIST file {source or path} has the right size and header but not MNIST's content (its "
            f"SHA-256 differs from {MNIST_SHA256[path.name][:12]}...): it was edited or damaged. {MNIST_FIX}"
        )


def _stage_mnist_file(raw: Path, name: str, staging: Path) -> Path:
    """The idx file ``name`` unpacked into ``staging`` from ``raw``'s .gz, else from a download."""
    archive = raw / f"{name}.gz"
    if not archive.exists():
        archive = staging / f"{name}.gz"
        try:
            _download_from_mirrors(name, archive)
        except OSError as error:
            raise DataError(_missing_message("MNIST", raw, list(MNIST_FILES), error)) from error
    target = staging / name
    try:
        with gzip.open(archive) as packed, target.open("wb") as unpacked:
            shutil.copyfileobj(packed, unpacked)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{archive} is corrupt ({error}): delete it and load again to download it") from error
    # a full check before anything lands in the data folder
    _, content = _read_idx(target, shape=MNIST_FILES[name], source=archive)
    _check_mnist_hash(target, content=content, source=archive)
    return target


def _fetch_mnist(raw: Path) -> None:
    """Add the missing idx files to ``raw``: all of them, or (on any failure) none."""
    missing = [name for name in MNIST_FILES if not (raw / name).exists()]
    with tempfile.TemporaryDirectory(prefix="minifacenet-") as staging:
        staged = [_stage_mnist_file(raw, name, Path(staging)) for name in missing]
        _install(staged, raw)


@functools.lru_cache(maxsize=4)
def _mnist_cached(root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    raw = Path(root) / "MNIST" / "raw"
    if not all((raw / name).exists() for name in MNIST_FILES):
        _fetch_mnist(raw)
    images, labels = _read_mnist_split(raw, train)
    # Decode once: uint8 [N, 28, 28] -> float [N, 1, 28, 28] in [0, 1].
    return images.unsqueeze(1).float().div_(255.0), labels


def mnist(train: bool = True, *, root: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST digits: images ``[N, 1, 28, 28]`` float in [0, 1], labels ``[N]`` int64."""
    images, labels = _mnist_cached(str(data_root(root)), bool(train))
    return images.clone(), labels.clone()


# --------------------------------------------------------------------------- Olivetti
def _olivetti_problem(faces) -> str | None:
    """What is wrong with the face array (expected ``[400, 4096]`` numbers, finite, no flat image)."""
    if not isinstance(faces, np.ndarray) or faces.shape != (400, 64 * 64):
        return f"it holds {type(faces).__name__} {getattr(faces, 'shape', '')}, not 400 faces of 64 x 64"
    if faces.dtype.kind not in "uif":
        return f"it holds {faces.dtype} values, not pixel numbers"
    if not np.isfinite(faces).all():
        return f"{int((~np.isfinite(faces)).sum())} pixel values are NaN or infinite"
    flat = np.flatnonzero(faces.std(axis=1) == 0)
    return f"{len(flat)} images are constant (image {flat[0]} first)" if len(flat) else None


def _read_olivetti(path: Path) -> np.ndarray:
    """The cached faces ``[400, 4096]`` (scikit-learn's file), unpickled only once its SHA-256 is known."""
    fix = f"Delete it and load again to download it, or copy a good {OLIVETTI_FILE} into {path.parent}."
    info = _regular_file(path, size=OLIVETTI_CACHE_SIZE, source=f"The Olivetti cache {path}", fix=fix)
    if not _sha256_matches(path, info, OLIVETTI_CACHE_SHA256):
        raise DataError(
            f"The Olivetti cache {path} is corrupt or truncated, or not scikit-learn's file: its SHA-256 "
            f"is not {OLIVETTI_CACHE_SHA256[:12]}..., so it was not unpickled (a pickle can run code). {fix}"
        )
    faces = joblib.load(path)  # the known file: safe to unpickle
    problem = _olivetti_problem(faces)
    if problem:
        raise DataError(f"The Olivetti cache {path} is corrupt: {problem}. {fix}")
    return faces


def _fetch_olivetti(path: Path) -> None:
    """Download the faces and write scikit-learn's cache file ``path``; nothing is written on failure."""
    with tempfile.TemporaryDirectory(prefix="minifacenet-") as staging:
        mat = Path(staging) / "olivettifaces.mat"
        try:
            _download(OLIVETTI_URL, mat, digest=OLIVETTI_SHA256, algorithm="sha256")
        except OSError as error:
            raise DataError(
                _missing_message("The Olivetti faces", path.parent, [OLIVETTI_FILE], error)
            ) from error
        # as scikit-learn stores it: [400, 4096], each row a face in column-major order
        faces = loadmat(mat)["faces"].T.copy()
        problem = _olivetti_problem(faces)
        if problem:
            raise DataError(f"The Olivetti download from {OLIVETTI_URL} is unusable: {problem}; try later")
        staged = Path(staging) / OLIVETTI_FILE
        joblib.dump(faces, staged, compress=6)
        _read_olivetti(staged)  # the file scikit-learn writes, hash and all
        _install([staged], path.parent)


@functools.lru_cache(maxsize=2)
def _olivetti_cached(root: str) -> tuple[torch.Tensor, torch.Tensor]:
    path = Path(root) / OLIVETTI_FILE
    if not path.exists():
        _fetch_olivetti(path)
    # as scikit-learn's fetch_olivetti_faces: float32, shifted and scaled to [0, 1]
    faces = np.float32(_read_olivetti(path))
    faces = (faces - faces.min()) / (faces.max() - faces.min())
    # [400, 4096] rows stored column-major -> [400, 64, 64] -> [400, 1, 64, 64]
    images = torch.from_numpy(faces.reshape(400, 64, 64).transpose(0, 2, 1).copy()).unsqueeze(1)
    # 10 images per person, in order: labels 0 x 10, 1 x 10, ..., 39 x 10
    return images, torch.arange(400) // 10


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
