"""Data loaders: shapes and ranges, root resolution, offline and corrupt caches, P x K batches."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from scipy.io import savemat

from minifacenet import data


def clear_caches() -> None:
    data._mnist_cached.cache_clear()
    data._olivetti_cached.cache_clear()


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time (ns)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


# --------------------------------------------------------------------------- the real datasets
def test_loaders_never_write_into_the_data_root(data_dir):
    clear_caches()
    before = snapshot(data_dir)
    data.mnist(True, root=data_dir)
    data.mnist(False, root=data_dir)
    data.olivetti(root=data_dir)
    assert snapshot(data_dir) == before


@pytest.mark.parametrize(("train", "size"), [(True, 60000), (False, 10000)])
def test_mnist_shapes_dtypes_ranges(data_dir, train, size):
    images, labels = data.mnist(train, root=data_dir)
    assert images.shape == (size, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (size,) and labels.dtype == torch.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert sorted(labels.unique().tolist()) == list(range(10))


def test_olivetti_shapes_dtypes_ranges(data_dir):
    images, labels = data.olivetti(root=data_dir)
    assert images.shape == (400, 1, 64, 64) and images.dtype == torch.float32
    assert labels.shape == (400,) and labels.dtype == torch.int64
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.std() > 0.1
    assert torch.equal(labels.bincount(), torch.full((40,), 10))


def test_loaders_return_copies_not_the_cache(data_dir):
    images, labels = data.mnist(False, root=data_dir)
    images.zero_()
    labels.fill_(-1)
    again, again_labels = data.mnist(False, root=data_dir)
    assert again.max() == 1.0 and again_labels.min() == 0


def test_load_by_name(data_dir):
    assert data.load("olivetti", root=data_dir)[0].shape == (400, 1, 64, 64)
    with pytest.raises(ValueError, match="mnist"):
        data.load("cifar", root=data_dir)


# --------------------------------------------------------------------------- the data root
def test_data_root_resolution_order(monkeypatch, tmp_path):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    assert data.data_root() == data.REPO_DATA == Path(data.__file__).resolve().parent.parent / "data"
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "from-env"))
    assert data.data_root() == tmp_path / "from-env"
    assert data.data_root(tmp_path / "argument") == tmp_path / "argument"  # the argument wins


@pytest.mark.usefixtures("offline")
def test_empty_root_offline_names_folder_files_and_variable(tmp_path):
    clear_caches()
    with pytest.raises(data.DataError) as error:
        data.mnist(True, root=tmp_path)
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message and data.ENV_VAR in message
    assert all(name in message for name in data.MNIST_FILES)
    with pytest.raises(data.DataError) as error:
        data.olivetti(root=tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message and data.OLIVETTI_FILE in message and data.ENV_VAR in message


@pytest.mark.usefixtures("offline")
def test_environment_variable_is_used_when_no_root_is_given(monkeypatch, tmp_path):
    clear_caches()
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    with pytest.raises(data.DataError, match=str(tmp_path)):
        data.olivetti()


# --------------------------------------------------------------------------- broken caches
def mnist_copy_with_short_file(source: Path, target: Path, short: str) -> Path:
    """A data root whose MNIST files link to ``source``'s, except ``short``, cut to half."""
    raw = target / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.MNIST_FILES:
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
    with pytest.raises(data.DataError, match="truncated or corrupt") as error:
        data.mnist(False, root=root)
    assert short in str(error.value)


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("content", ["garbage", "half"])
def test_corrupt_olivetti_cache(data_dir, tmp_path, content):
    clear_caches()
    original = (data_dir / data.OLIVETTI_FILE).read_bytes()
    bad = b"not a pickle at all" if content == "garbage" else original[: len(original) // 2]
    (tmp_path / data.OLIVETTI_FILE).write_bytes(bad)
    with pytest.raises(data.DataError, match="truncated or corrupt|corrupt or truncated") as error:
        data.olivetti(root=tmp_path)
    assert str(tmp_path / data.OLIVETTI_FILE) in str(error.value)


def mnist_root(source: Path, target: Path, *, copy: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> Path:
    """A data root whose MNIST raw files are symlinks to ``source``'s, or copies for ``copy``.

    Files a test corrupts or that old loaders would rewrite are copies, so the shared data is
    never written through a link; names in ``skip`` are left out.
    """
    raw = target / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.MNIST_FILES:
        if name in skip:
            continue
        original = source / "MNIST" / "raw" / name
        if name in copy:
            shutil.copyfile(original, raw / name)
        else:
            os.symlink(original, raw / name)
    return target


def patch_file(path: Path, offset: int, replacement: bytes) -> None:
    content = bytearray(path.read_bytes())
    content[offset : offset + len(replacement)] = replacement
    path.write_bytes(bytes(content))


@pytest.mark.usefixtures("offline")
def test_a_corrupt_mnist_label_is_an_error_not_a_201_class_dataset(data_dir, tmp_path):
    clear_caches()
    name = "t10k-labels-idx1-ubyte"
    root = mnist_root(data_dir, tmp_path, copy=(name,))
    patch_file(root / "MNIST" / "raw" / name, 8 + 1234, bytes([200]))  # label 1234 becomes 200
    with pytest.raises(data.DataError, match=r"label 200 at position 1234: labels must be 0\.\.9") as error:
        data.mnist(False, root=root)
    assert name in str(error.value) and "Delete it" in str(error.value)


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize(
    ("name", "offset", "header"),
    [
        ("t10k-images-idx3-ubyte", 0, b"\x00\x00\x09\x03"),  # magic: signed bytes, not unsigned
        ("t10k-labels-idx1-ubyte", 4, (20000).to_bytes(4, "big")),  # count 20000, not 10000
    ],
)
def test_a_bad_mnist_header_is_named(data_dir, tmp_path, name, offset, header):
    clear_caches()
    root = mnist_root(data_dir, tmp_path, copy=(name,))
    patch_file(root / "MNIST" / "raw" / name, offset, header)
    with pytest.raises(data.DataError, match="bad header") as error:
        data.mnist(False, root=root)
    assert name in str(error.value) and "AssertionError" not in str(error.value)


def blank_images(path: Path) -> None:
    """Every pixel 0, the header kept: a well-formed file of the right size."""
    patch_file(path, 16, bytes(path.stat().st_size - 16))


def shuffled_labels(path: Path) -> None:
    """The same labels (all in 0..9) in another order."""
    labels = np.frombuffer(path.read_bytes()[8:], dtype=np.uint8)
    patch_file(path, 8, np.random.default_rng(0).permutation(labels).tobytes())


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize(
    ("name", "damage"),
    [("t10k-images-idx3-ubyte", blank_images), ("t10k-labels-idx1-ubyte", shuffled_labels)],
)
def test_well_formed_but_wrong_mnist_content_is_refused(data_dir, tmp_path, name, damage):
    clear_caches()
    root = mnist_root(data_dir, tmp_path, copy=(name,))
    damage(root / "MNIST" / "raw" / name)
    with pytest.raises(data.DataError, match="not MNIST's content") as error:
        data.mnist(False, root=root)
    assert name in str(error.value) and "Delete it" in str(error.value)


def test_a_good_mnist_file_is_hashed_once_per_process(data_dir, tmp_path, monkeypatch):
    clear_caches()
    root = mnist_root(data_dir, tmp_path)
    data.mnist(False, root=root)
    hashed = []
    real_sha256 = hashlib.sha256
    monkeypatch.setattr(data.hashlib, "sha256", lambda content: hashed.append(1) or real_sha256(content))
    clear_caches()
    data.mnist(False, root=root)
    assert hashed == []


def fifo(path: Path) -> None:
    os.mkfifo(path)


def huge_sparse_file(path: Path) -> None:
    with path.open("wb") as file:
        file.truncate(200 * 2**30)  # 200 GB of holes: no disk used


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize(
    ("make", "reason"), [(fifo, "not a regular file"), (huge_sparse_file, "expected 10008")]
)
def test_a_fifo_or_huge_file_is_refused_within_a_second(data_dir, tmp_path, make, reason):
    clear_caches()
    name = "t10k-labels-idx1-ubyte"
    root = mnist_root(data_dir, tmp_path, skip=(name,))
    make(root / "MNIST" / "raw" / name)
    start = time.perf_counter()
    with pytest.raises(data.DataError, match=reason) as error:
        data.mnist(False, root=root)
    assert time.perf_counter() - start < 1.0 and name in str(error.value)


@pytest.mark.usefixtures("offline")
def test_an_oversized_olivetti_cache_is_refused_unread(data_dir, tmp_path):
    clear_caches()
    huge_sparse_file(tmp_path / data.OLIVETTI_FILE)
    start = time.perf_counter()
    with pytest.raises(data.DataError, match="expected 1405393"):
        data.olivetti(root=tmp_path)
    assert time.perf_counter() - start < 1.0


def with_nan(faces: np.ndarray) -> np.ndarray:
    faces = faces.astype(np.float32)
    faces[17, 100] = np.nan
    return faces


def with_flat_image(faces: np.ndarray) -> np.ndarray:
    faces = faces.copy()
    faces[3] = 0
    return faces


def olivetti_cache(data_dir: Path, root: Path, damage) -> Path:
    """A copy of the Olivetti cache (uint8 ``[400, 4096]``) changed by ``damage``."""
    joblib.dump(damage(joblib.load(data_dir / data.OLIVETTI_FILE)), root / data.OLIVETTI_FILE, compress=6)
    return root / data.OLIVETTI_FILE


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("damage", [with_nan, lambda faces: np.full_like(faces, 128), with_flat_image])
def test_a_damaged_olivetti_cache_is_refused_before_unpickling(data_dir, tmp_path, damage, monkeypatch):
    clear_caches()
    path = olivetti_cache(data_dir, tmp_path, damage)
    monkeypatch.setattr(data.joblib, "load", lambda *a, **k: pytest.fail("an unknown file was unpickled"))
    with pytest.raises(data.DataError, match="not unpickled|truncated or corrupt") as error:
        data.olivetti(root=tmp_path)
    assert str(path) in str(error.value) and "Delete it" in str(error.value)


class RunsCode:
    """Unpickling this runs ``touch <marker>``: what a hostile data file would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("size", ["its own", "the cache's"])
def test_an_olivetti_cache_that_runs_code_is_refused_without_running(tmp_path, size):
    clear_caches()
    marker = tmp_path / "ran"
    path = tmp_path / data.OLIVETTI_FILE
    joblib.dump(RunsCode(marker), path)
    if size == "the cache's":  # padded to the known size: only the hash can tell
        with path.open("ab") as file:
            file.write(b"\0" * (data.OLIVETTI_CACHE_SIZE - path.stat().st_size))
    with pytest.raises(data.DataError, match=str(path)):
        data.olivetti(root=tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("faces", "reason"),
    [
        (with_nan(np.ones((400, 4096))), "1 pixel values are NaN"),
        (np.full((400, 4096), 128), "400 images are constant"),
        (np.full((400, 4096), "a"), "holds <U1 values"),
        (np.empty((400, 4096), dtype=object), "holds object values"),
    ],
)
def test_a_face_array_that_is_not_faces_is_named(faces, reason):
    assert reason in data._olivetti_problem(faces)


@pytest.mark.usefixtures("offline")
def test_a_corrupt_gz_is_called_corrupt_and_nothing_is_written(data_dir, tmp_path):
    clear_caches()
    name = "t10k-labels-idx1-ubyte"
    root = mnist_root(data_dir, tmp_path, skip=(name,))
    (root / "MNIST" / "raw" / f"{name}.gz").write_bytes(b"\x1f\x8b this is not gzip data")
    before = snapshot(root)
    with pytest.raises(data.DataError, match="is corrupt") as error:
        data.mnist(False, root=root)
    assert f"{name}.gz" in str(error.value) and "could not be downloaded" not in str(error.value)
    assert snapshot(root) == before


@pytest.mark.usefixtures("offline")
def test_a_gz_beside_a_missing_file_is_unpacked(data_dir, tmp_path):
    clear_caches()
    name = "t10k-labels-idx1-ubyte"
    root = mnist_root(data_dir, tmp_path, skip=(name,))
    shutil.copyfile(data_dir / "MNIST" / "raw" / f"{name}.gz", root / "MNIST" / "raw" / f"{name}.gz")
    labels = data.mnist(False, root=root)[1]
    assert torch.equal(labels, data.mnist(False, root=data_dir)[1])
    assert (root / "MNIST" / "raw" / name).read_bytes() == (data_dir / "MNIST" / "raw" / name).read_bytes()


# --------------------------------------------------------------------------- failed loads write nothing
@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("where", ["empty", "mistyped", "default"])
def test_a_failed_load_leaves_the_folder_as_it_was(monkeypatch, tmp_path, where):
    clear_caches()
    root = tmp_path / "data"
    root.mkdir()
    (root / "README.md").write_text("the course's data folder")
    before = snapshot(tmp_path)
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "DEFAULT_ROOT", root)
    argument = {"empty": root, "mistyped": tmp_path / "dtaa", "default": None}[where]
    for load in (lambda: data.mnist(True, root=argument), lambda: data.olivetti(root=argument)):
        with pytest.raises(data.DataError):
            load()
        assert snapshot(tmp_path) == before


@pytest.mark.usefixtures("offline")
def test_three_of_four_mnist_files_are_not_rewritten_before_failing(data_dir, tmp_path):
    clear_caches()
    missing = "t10k-labels-idx1-ubyte"  # the last file: older loaders re-extracted the first three
    present = [name for name in data.MNIST_FILES if name != missing]
    root = mnist_root(data_dir, tmp_path, copy=tuple(present), skip=(missing,))
    for name in present:
        shutil.copyfile(data_dir / "MNIST" / "raw" / f"{name}.gz", root / "MNIST" / "raw" / f"{name}.gz")
    before = snapshot(root)
    with pytest.raises(data.DataError, match=missing):
        data.mnist(True, root=root)
    assert snapshot(root) == before


# --------------------------------------------------------------------------- downloads time out
@pytest.fixture
def silent_server():
    """A local TCP server that accepts connections (its backlog completes the handshake) and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    server.close()


def test_downloads_give_up_behind_a_silent_network(monkeypatch, tmp_path, silent_server):
    clear_caches()
    assert data.DOWNLOAD_TIMEOUT * len(data.MNIST_MIRRORS) < 60  # the real bound: well under a minute
    monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT", 0.5)
    monkeypatch.setattr(data, "MNIST_MIRRORS", (silent_server, silent_server))
    monkeypatch.setattr(data, "OLIVETTI_URL", f"{silent_server}olivettifaces.mat")
    for load, folder in ((data.mnist, tmp_path / "MNIST" / "raw"), (data.olivetti, tmp_path)):
        start = time.monotonic()
        with pytest.raises(data.DataError, match="timed out") as error:
            load(root=tmp_path)
        assert time.monotonic() - start < 10
        assert f"Copy them into {folder}" in str(error.value)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def file_server():
    """Serve a folder over local HTTP: ``serve(folder)`` gives its base URL."""
    servers = []

    def serve(folder: Path) -> str:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A local URL nobody listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/"


def test_download_from_the_second_mirror_into_an_empty_root(data_dir, tmp_path, monkeypatch, file_server):
    clear_caches()
    monkeypatch.setattr(data, "MNIST_MIRRORS", (closed_port_url(), file_server(data_dir / "MNIST" / "raw")))
    root = tmp_path / "new" / "data"
    images, labels = data.mnist(False, root=root)
    clear_caches()
    expected_images, expected_labels = data.mnist(False, root=data_dir)
    assert torch.equal(images, expected_images) and torch.equal(labels, expected_labels)
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == sorted(data.MNIST_FILES)


def test_olivetti_download_writes_the_cache_scikit_learn_writes(data_dir, tmp_path, monkeypatch, file_server):
    clear_caches()
    served = tmp_path / "served"
    served.mkdir()
    # the source's layout: faces [4096, 400], the transpose of the cache's [400, 4096]
    savemat(served / "olivettifaces.mat", {"faces": joblib.load(data_dir / data.OLIVETTI_FILE).T})
    digest = hashlib.sha256((served / "olivettifaces.mat").read_bytes()).hexdigest()
    monkeypatch.setattr(data, "OLIVETTI_URL", f"{file_server(served)}olivettifaces.mat")
    monkeypatch.setattr(data, "OLIVETTI_SHA256", digest)
    root = tmp_path / "data"
    images, labels = data.olivetti(root=root)
    clear_caches()
    expected_images, expected_labels = data.olivetti(root=data_dir)
    assert torch.equal(images, expected_images) and torch.equal(labels, expected_labels)
    assert [p.name for p in root.iterdir()] == [data.OLIVETTI_FILE]
    monkeypatch.setattr(data, "OLIVETTI_SHA256", "0" * 64)  # a tampered download is refused
    clear_caches()
    with pytest.raises(data.DataError, match="sent a corrupt file"):
        data.olivetti(root=tmp_path / "other")
    assert not (tmp_path / "other").exists()


# --------------------------------------------------------------------------- P x K batches
def uneven_labels() -> torch.Tensor:
    # 6 classes, class 5 with only 2 samples (fewer than K: drawn with replacement)
    counts = [12, 9, 7, 10, 8, 2]
    return torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])[torch.randperm(48)]


@pytest.mark.parametrize(("p", "k"), [(3, 4), (6, 3), (2, 2)])
def test_pk_batches_are_p_blocks_of_k(p, k):
    labels = uneven_labels()
    batches = list(data.pk_batches(labels, classes_per_batch=p, samples_per_class=k))
    assert len(batches) == len(labels) // (p * k)
    for batch in batches:
        blocks = labels[batch].view(p, k)  # [P, K]: one class per row
        assert batch.shape == (p * k,)
        assert (blocks == blocks[:, :1]).all()
        assert len(blocks[:, 0].unique()) == p


def test_pk_batches_distinct_samples_when_the_class_has_enough():
    labels = uneven_labels()
    for batch in data.pk_batches(labels, classes_per_batch=4, samples_per_class=2):
        for block in batch.view(4, 2):
            assert len(block.unique()) == 2


def test_pk_batches_follow_the_generator():
    labels = uneven_labels()

    def draw(seed: int) -> list[list[int]]:
        generator = torch.Generator().manual_seed(seed)
        return [
            b.tolist()
            for b in data.pk_batches(labels, classes_per_batch=3, samples_per_class=4, generator=generator)
        ]

    assert draw(5) == draw(5)
    assert draw(5) != draw(6)


def test_pk_batches_reject_more_classes_than_exist():
    with pytest.raises(ValueError, match="only 6 classes"):
        next(data.pk_batches(uneven_labels(), classes_per_batch=7, samples_per_class=2))
