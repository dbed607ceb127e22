"""Checkpoints: plain-value files that load with weights_only=True, and one clear error for the rest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from minifacenet import checkpoint, losses
from minifacenet.models import EmbeddingNet


class Payload:
    """A pickled object that, if unpickled, creates the file ``marker``: code run on load."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


def saved(tmp_path: Path, name: str, **params) -> Path:
    torch.manual_seed(0)
    loss = losses.build_loss(name, embedding_dim=2, num_classes=10, **params)
    return checkpoint.save_checkpoint(
        tmp_path / f"{name}.pt", EmbeddingNet(2), loss, {"lr": 0.003, "out": "runs/x"}
    )


@pytest.mark.parametrize(
    ("name", "params"), [("arcface", {"m": 0.3}), ("softmax", {}), ("triplet", {"mining": "batch-hard"})]
)
def test_checkpoint_loads_with_weights_only_and_round_trips(tmp_path, name, params):
    path = saved(tmp_path, name, **params)
    raw = torch.load(path, weights_only=True)  # plain values only: no pickled classes
    assert raw["loss_name"] == name and raw["config"] == {"lr": 0.003, "out": "runs/x"}
    model, loss, config = checkpoint.load_checkpoint(path, loss=name)
    assert type(loss) is losses.build_loss(name, embedding_dim=2, num_classes=10).__class__
    assert config == {"lr": 0.003, "out": "runs/x"} and not model.training


def test_a_pickled_object_in_the_file_is_not_run(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"model_config": Payload(marker)}, path)
    with pytest.raises(checkpoint.CheckpointError, match="refused") as error:
        checkpoint.load_checkpoint(path)
    assert str(path) in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content", [b"", b"hello, I am a text file\n", "truncated", {"weights": torch.zeros(3)}, "tensor"]
)
def test_unreadable_files_raise_one_error_naming_the_file(tmp_path, content):
    path = tmp_path / "checkpoint.pt"
    if content == "truncated":
        whole = saved(tmp_path, "cosface").read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    elif content == "tensor":
        torch.save(torch.zeros(3), path)
    elif isinstance(content, dict):
        torch.save(content, path)
    else:
        path.write_bytes(content)
    with pytest.raises(checkpoint.CheckpointError) as error:
        checkpoint.load_checkpoint(path)
    assert str(path) in str(error.value)


def test_missing_file_and_folder(tmp_path):
    for path in (tmp_path / "nowhere.pt", tmp_path):
        with pytest.raises(checkpoint.CheckpointError, match="no checkpoint file"):
            checkpoint.load_checkpoint(path)


def test_the_wrong_loss_is_an_error_not_all_keys_matched(tmp_path):
    path = saved(tmp_path, "arcface", m=0.5)
    with pytest.raises(checkpoint.CheckpointError, match="holds a 'arcface' loss, not 'cosface'"):
        checkpoint.load_checkpoint(path, loss="cosface")
    state = torch.load(path, weights_only=True)
    state["loss_name"] = "cosface"  # relabelled: ArcFace's easy_margin is not CosFace's
    torch.save(state, path)
    with pytest.raises(checkpoint.CheckpointError, match="does not fit"):
        checkpoint.load_checkpoint(path)


def test_config_with_objects_is_refused_when_saving(tmp_path):
    loss = losses.build_loss("softmax", embedding_dim=2, num_classes=10)
    with pytest.raises(TypeError, match=r"config\['out'\] is a PosixPath"):
        checkpoint.save_checkpoint(tmp_path / "c.pt", EmbeddingNet(2), loss, {"out": tmp_path})
    assert not (tmp_path / "c.pt").exists()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("model_config", {"embedding_dim": 2, "in_channels": 1, "widths": [16, 32, 20000], "hidden": 128}),
        (
            "model_config",
            {"embedding_dim": 2_000_000, "in_channels": 1, "widths": [16, 32, 64], "hidden": 128},
        ),
        ("loss_config", {"embedding_dim": 2, "num_classes": 2_000_000, "s": 30.0, "m": 0.5}),
    ],
)
def test_a_config_that_does_not_match_the_tensors_is_refused_before_allocating(
    tmp_path, key, value, monkeypatch
):
    path = saved(tmp_path, "arcface", m=0.5)
    state = torch.load(path, weights_only=True)
    state[key] = {**state[key], **value}
    torch.save(state, path)
    real_empty = torch.empty

    def small_empty(*size, **kwargs):  # any real tensor of more than 100 MB fails the test
        tensor = real_empty(*size, **kwargs)
        assert tensor.is_meta or tensor.numel() < 25_000_000, "allocated before checking the shapes"
        return tensor

    monkeypatch.setattr(torch, "empty", small_empty)
    with pytest.raises(checkpoint.CheckpointError, match="does not match its stored tensors") as error:
        checkpoint.load_checkpoint(path)
    assert str(path) in str(error.value)


def test_a_failed_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = saved(tmp_path, "arcface", m=0.5)
    before = path.read_bytes()

    def full_disk(obj, target):
        Path(target).write_bytes(b"half a checkp")
        raise RuntimeError("[Errno 28] No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(RuntimeError, match="No space left"):
        checkpoint.save_checkpoint(
            path, EmbeddingNet(2), losses.build_loss("softmax", embedding_dim=2, num_classes=3)
        )
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]
