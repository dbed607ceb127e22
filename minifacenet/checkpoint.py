"""Checkpoints: the network, the head or pair/triplet loss, and the run's settings in one file.

A checkpoint holds only tensors, numbers, strings, booleans, ``None``, lists and dicts, so it
loads with ``torch.load(weights_only=True)``: a file cannot run code when it is loaded. Every
file that is not a checkpoint this library wrote (missing, empty, truncated, text, another
program's pickle, the wrong loss) raises :class:`CheckpointError`, naming the file and the fix.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
from torch import nn

from . import losses
from .models import EmbeddingNet

CHECKPOINT_KEYS = ("model_config", "model_state", "loss_name", "loss_config", "loss_state", "config")
PLAIN_TYPES = (str, int, float, bool, type(None), torch.Tensor)


class CheckpointError(ValueError):
    """A file that cannot be loaded as a checkpoint; the message names the file and the fix."""


def loss_spec(loss: nn.Module) -> tuple[str, dict]:
    """``(name, constructor keywords)`` with which ``losses.build_loss`` rebuilds ``loss``."""
    name = getattr(loss, "name", "")
    if losses.LOSSES.get(name) is not type(loss):
        raise ValueError(
            f"cannot checkpoint a {type(loss).__name__}: not one of {', '.join(losses.LOSS_NAMES)}"
        )
    return name, loss.config()


def plain(value, *, where: str = "config"):
    """``value`` with tuples as lists, checked to hold only what ``weights_only`` loading accepts."""
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"{where}: checkpoint dict keys must be strings, got {list(value)}")
        return {key: plain(item, where=f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item, where=f"{where}[{index}]") for index, item in enumerate(value)]
    if not isinstance(value, PLAIN_TYPES):
        raise TypeError(
            f"{where} is a {type(value).__name__}: a checkpoint holds only numbers, strings, "
            "booleans, None, tensors, lists and dicts; convert it (e.g. str(path)) first"
        )
    return value


def save_checkpoint(
    path: str | Path, model: EmbeddingNet, loss: nn.Module, config: dict | None = None
) -> Path:
    """Save model, head/loss and ``config`` (plain values only) together in one file."""
    path = Path(path)
    name, loss_config = loss_spec(loss)
    state = {
        "model_config": plain(model.config, where="model.config"),
        "model_state": model.state_dict(),
        "loss_name": name,
        "loss_config": plain(loss_config, where="loss config"),
        "loss_state": loss.state_dict(),
        "config": plain(config or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # a temporary name beside it, then one rename: a failed save (full disk, Ctrl-C) leaves the old file
    partial = path.with_name(f".{path.name}.partial")
    try:
        torch.save(state, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def unreadable_message(path: Path, error: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused ``path``, and what to do."""
    if isinstance(error, pickle.UnpicklingError) and "Weights only load failed" in str(error):
        return (
            f"{path} holds Python objects other than tensors and plain values, which loading would "
            "have to run: refused. Load only checkpoints written by minifacenet's save_checkpoint"
        )
    return (
        f"{path} is not a readable checkpoint (empty, truncated or not written by torch.save: "
        f"{type(error).__name__}): train again, or copy the file again from where it was made"
    )


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint's dict, loaded with ``weights_only=True``; a :class:`CheckpointError` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}: give the path of a checkpoint.pt")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - a damaged file can raise almost anything
        raise CheckpointError(unreadable_message(path, error)) from error
    missing = [key for key in CHECKPOINT_KEYS if key not in state] if isinstance(state, dict) else ["all"]
    if missing:
        raise CheckpointError(
            f"{path} is not a minifacenet checkpoint (missing {', '.join(missing)}): give a "
            "checkpoint.pt written by save_checkpoint or `python -m minifacenet train`"
        )
    return state


def load_checkpoint(path: str | Path, *, loss: str | None = None) -> tuple[EmbeddingNet, nn.Module, dict]:
    """Rebuild ``(model, loss, config)`` saved by :func:`save_checkpoint`.

    ``loss``, if given, is the loss name the caller expects; a checkpoint of another loss
    (say an ArcFace head when ``loss="cosface"``) raises :class:`CheckpointError`.
    """
    state = read_checkpoint(path)
    saved = state["loss_name"]
    if loss is not None and loss != saved:
        raise CheckpointError(
            f"{path} holds a {saved!r} loss, not {loss!r}: load it with loss={saved!r}, "
            f"or give a checkpoint trained with {loss!r}"
        )
    try:
        # first on the meta device (no memory): a config that does not match the stored tensors
        # (say widths [16, 32, 20000] beside a 600 KB file) is refused before anything is allocated
        with torch.device("meta"):
            check_shapes(EmbeddingNet(**state["model_config"]), state["model_state"], "model")
            check_shapes(losses.build_loss(saved, **state["loss_config"]), state["loss_state"], "loss")
        model = EmbeddingNet(**state["model_config"])
        model.load_state_dict(state["model_state"])
        head = losses.build_loss(saved, **state["loss_config"])
        head.load_state_dict(state["loss_state"])
    except (RuntimeError, TypeError, ValueError) as error:
        raise CheckpointError(
            f"{path} does not fit the {saved!r} loss or the network it names ({type(error).__name__}: "
            f"{str(error).strip().splitlines()[0]}): it was edited or written by another version; train again"
        ) from error
    return model.eval(), head, state["config"]


def check_shapes(module: nn.Module, stored: dict, what: str) -> None:
    """A ValueError unless ``stored`` has exactly ``module``'s tensor names and shapes."""
    expected = {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}
    if not isinstance(stored, dict):
        raise ValueError(f"the {what} state is a {type(stored).__name__}, not a dict of tensors")
    found = {name: tuple(getattr(tensor, "shape", ())) for name, tensor in stored.items()}
    if found != expected:
        wrong = sorted(set(expected.items()) ^ set(found.items()))[:3]
        raise ValueError(f"the {what} config does not match its stored tensors (first differences: {wrong})")
