"""Shared fixtures: a network switch-off, the data root, and a small MNIST subset."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time

import pytest
import torch

from minifacenet import data


def pytest_configure(config):
    """The notebooks' scoreboard rows (``$MINIFACENET_RUNS``) go to a folder of this test session,
    never the user's ``~/.cache/minifacenet``: the kernels nbval and the seed test start inherit it,
    so no earlier run's rows show up in a notebook under test, and tests leave nothing behind."""
    config._minifacenet_runs = tempfile.mkdtemp(prefix="minifacenet-test-runs-")
    os.environ["MINIFACENET_RUNS"] = config._minifacenet_runs


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_minifacenet_runs", ""), ignore_errors=True)


@pytest.fixture
def offline(monkeypatch):
    """No network: every connection attempt fails at once, so offline tests never hang.

    ``time.sleep`` is disabled too: scikit-learn sleeps between download retries.
    """

    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test fixture `offline`")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)


@pytest.fixture(scope="session")
def data_dir():
    """The resolved data root (``$MINIFACENET_DATA`` or data/); skip if it lacks MNIST or Olivetti."""
    root = data.data_root()
    wanted = [root / "MNIST" / "raw" / name for name in data.MNIST_FILES] + [root / data.OLIVETTI_FILE]
    missing = [str(path) for path in wanted if not path.exists()]
    if missing:
        pytest.skip(f"datasets not found (set {data.ENV_VAR}): missing {', '.join(missing)}")
    return root


@pytest.fixture(scope="session")
def mnist_subset(data_dir) -> tuple[torch.Tensor, torch.Tensor]:
    """The first 512 MNIST training images ``[512, 1, 28, 28]`` and labels ``[512]``."""
    images, labels = data.mnist(True, root=data_dir)
    return images[:512].clone(), labels[:512].clone()
