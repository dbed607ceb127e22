"""The training loop: loss goes down, runs reproduce, schedules run, checkpoints round-trip.

Most runs use a tiny MLP (``fit`` takes any module), so the loop is tested in seconds;
the checkpoint test uses the real EmbeddingNet, which checkpoints save and rebuild.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from minifacenet import losses
from minifacenet.checkpoint import load_checkpoint, save_checkpoint
from minifacenet.models import EmbeddingNet
from minifacenet.train import TrainConfig, embed, fit, predict

# small batches, so 512 images make several optimiser steps per epoch
QUICK = {"batch_size": 64, "classes_per_batch": 8, "device": "cpu", "progress": False}


def tiny_net(embedding_dim: int = 2) -> nn.Module:
    """[N, 1, 28, 28] -> [N, embedding_dim] in two linear layers."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.PReLU(), nn.Linear(64, embedding_dim))


def steps_per_epoch(loss: nn.Module, n: int) -> int:
    if not loss.classifies:
        per_class = max(2, QUICK["batch_size"] // QUICK["classes_per_batch"])
        return n // (QUICK["classes_per_batch"] * per_class)
    return n // QUICK["batch_size"]


@pytest.mark.parametrize(
    ("name", "params"),
    [("cosface", {"s": 10.0, "m": 0.1}), ("contrastive", {}), ("triplet", {"mining": "batch-hard"})],
)
def test_fit_decreases_the_loss(mnist_subset, name, params):
    images, labels = mnist_subset
    loss = losses.build_loss(name, embedding_dim=3, num_classes=10, **params)
    history = fit(tiny_net(3), loss, images, labels, epochs=3, **QUICK)
    assert set(history) == {"loss", "accuracy", "seconds"}
    assert all(len(values) == 3 for values in history.values())
    assert history["loss"][-1] < history["loss"][0], history["loss"]
    if name == "cosface":
        assert history["accuracy"][-1] > history["accuracy"][0]
    else:
        assert all(math.isnan(a) for a in history["accuracy"])  # no classifier to score


@pytest.mark.parametrize("name", ["contrastive", "triplet"])
def test_a_set_smaller_than_one_batch_still_trains(mnist_subset, name):
    # 200 images, batch 256 = 10 classes x 25: the epoch must still make a step
    images, labels = mnist_subset[0][:200], mnist_subset[1][:200]
    model = tiny_net(2)
    before = [p.detach().clone() for p in model.parameters()]
    loss = losses.build_loss(name, embedding_dim=2, num_classes=10)
    history = fit(model, loss, images, labels, epochs=1, batch_size=256, classes_per_batch=10, device="cpu")
    assert history["loss"][0] > 0
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))


def test_same_seed_same_run(mnist_subset):
    images, labels = mnist_subset[0][:256], mnist_subset[1][:256]

    def run(seed: int):
        model, head = tiny_net(2), losses.ArcFace(2, 10, s=10.0, m=0.2)
        history = fit(model, head, images, labels, epochs=2, seed=seed, **QUICK)
        return history["loss"], [p.detach().clone() for p in [*model.parameters(), *head.parameters()]]

    (loss_a, params_a), (loss_b, params_b) = run(3), run(3)
    assert loss_a == loss_b
    assert all(torch.equal(a, b) for a, b in zip(params_a, params_b, strict=True))
    assert run(4)[0] != loss_a  # another seed: another batch order


def record(head: losses.MarginHead, attribute: str) -> list[float]:
    """Log ``head.<attribute>`` each time the training loop applies the margin."""
    seen, original = [], head.target_cosine

    def target_cosine(cos):
        seen.append(getattr(head, attribute))
        return original(cos)

    head.target_cosine = target_cosine
    return seen


def test_margin_warmup_is_a_fraction_of_training(mnist_subset):
    images, labels = mnist_subset
    head = losses.CosFace(2, 10, s=10.0, m=0.2)
    weights = record(head, "margin_weight")
    fit(tiny_net(2), head, images, labels, epochs=2, margin_warmup=0.5, **QUICK)
    steps = 2 * steps_per_epoch(head, len(labels))
    # step t of T uses w = min(1, (t / T) / 0.5): the margin fades in over the first half
    assert weights == pytest.approx([min(1.0, t / steps / 0.5) for t in range(steps)])
    assert head.margin_weight == 1.0  # the full margin after training


def test_no_warmup_means_full_margin_from_the_first_step(mnist_subset):
    images, labels = mnist_subset
    head = losses.ArcFace(2, 10, s=10.0, m=0.2)
    weights = record(head, "margin_weight")
    fit(tiny_net(2), head, images, labels, epochs=1, margin_warmup=0, **QUICK)
    assert weights and set(weights) == {1.0}


@pytest.mark.parametrize("bad", [10, 1.0, -0.5])
def test_a_warmup_in_steps_is_rejected_before_training(mnist_subset, bad):
    images, labels = mnist_subset
    model = tiny_net(2)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"warmup must be a fraction of training in \[0, 1\)"):
        fit(model, losses.CosFace(2, 10), images, labels, epochs=1, margin_warmup=bad, **QUICK)
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))


def test_sphereface_lambda_is_annealed_over_the_fraction_of_training(mnist_subset):
    images, labels = mnist_subset
    head = losses.SphereFace(2, 10, m=4, lamb_base=100.0, lamb_power=1.0, lamb_min=5.0)
    weights = record(head, "margin_weight")
    fit(tiny_net(2), head, images, labels, epochs=2, **QUICK)  # its default warm-up: 0.5
    steps = 2 * steps_per_epoch(head, len(labels))
    # lamb = max(5, 100 / (1 + gamma f / 0.5)), gamma = 100 / 5 - 1; w = 1 / (1 + lamb)
    lambdas = [max(5.0, 100.0 / (1 + 19.0 * (t / steps) / 0.5)) for t in range(steps)]
    assert weights == pytest.approx([1 / (1 + lamb) for lamb in lambdas])
    assert weights[-1] == pytest.approx(1 / 6)  # reached lamb_min within the run
    assert head.margin_weight == 1.0 and head.lamb == 0.0  # the paper's formula after training


@pytest.mark.parametrize("name", ["cosface", "triplet"])
def test_snapshots_record_weights_and_embeddings_every_k_steps(mnist_subset, name):
    images, labels = mnist_subset[0][:256], mnist_subset[1][:256]
    probe = images[:20]
    model, loss = tiny_net(3), losses.build_loss(name, embedding_dim=3, num_classes=10)
    history = fit(model, loss, images, labels, epochs=2, snapshot_every=3, snapshot_images=probe, **QUICK)
    steps = 2 * steps_per_epoch(loss, len(labels))
    snapshots = history["snapshots"]
    assert [s["step"] for s in snapshots] == [*range(0, steps, 3), steps]
    assert [s["fraction"] for s in snapshots] == pytest.approx([s["step"] / steps for s in snapshots])
    for snapshot in snapshots:
        assert isinstance(snapshot["embeddings"], np.ndarray) and snapshot["embeddings"].shape == (20, 3)
        if name == "cosface":
            assert snapshot["weights"].shape == (10, 3)
        else:
            assert snapshot["weights"] is None
    assert model.training  # back to training mode after each snapshot
    # the last snapshot is the trained model in eval mode, and the head's weights
    np.testing.assert_allclose(snapshots[-1]["embeddings"], embed(model, probe, device="cpu").numpy())
    if name == "cosface":
        np.testing.assert_array_equal(snapshots[-1]["weights"], loss.weight.detach().numpy())
        assert not np.array_equal(snapshots[0]["weights"], snapshots[-1]["weights"])


def test_snapshots_do_not_change_the_run(mnist_subset):
    images, labels = mnist_subset[0][:256], mnist_subset[1][:256]

    def run(**snapshot):
        head = losses.ArcFace(2, 10, s=10.0, m=0.2)
        return fit(tiny_net(2), head, images, labels, epochs=2, seed=1, **snapshot, **QUICK)["loss"]

    assert run(snapshot_every=2, snapshot_images=images[:8]) == run()
    with pytest.raises(ValueError, match="snapshot_images"):
        run(snapshot_every=2)
    with pytest.raises(ValueError, match="snapshot_every must be an integer >= 1"):
        run(snapshot_every=0, snapshot_images=images[:8])


def test_fit_accepts_a_config_and_keyword_overrides(mnist_subset):
    images, labels = mnist_subset[0][:128], mnist_subset[1][:128]
    model = tiny_net(2)
    config = TrainConfig(epochs=1, batch_size=64, seed=1)
    history = fit(
        model, losses.NormFace(2, 10), images, labels, config=config, epochs=2, device="cpu", progress=False
    )
    assert len(history["loss"]) == 2
    assert model.train_config.epochs == 2 and model.train_config.batch_size == 64
    assert config.epochs == 1  # the caller's config is not modified


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("arcface", {"s": 10.0, "m": 0.2}),
        ("sphereface", {"m": 2}),
        ("softmax", {}),
        ("triplet", {"margin": 0.3, "mining": "batch-all", "squared": False}),
    ],
)
def test_checkpoint_round_trip(mnist_subset, tmp_path, name, params):
    images, labels = mnist_subset[0][:128], mnist_subset[1][:128]
    torch.manual_seed(0)
    model = EmbeddingNet(2)
    loss = losses.build_loss(name, embedding_dim=2, num_classes=10, **params)
    fit(model, loss, images, labels, epochs=1, **QUICK)  # moves weights and BatchNorm statistics
    path = save_checkpoint(tmp_path / "run" / "checkpoint.pt", model, loss, {"note": "round trip"})
    loaded_model, loaded_loss, config = load_checkpoint(path)
    assert config == {"note": "round trip"} and type(loaded_loss) is type(loss)
    assert not loaded_model.training
    embeddings = embed(model, images, device="cpu")
    torch.testing.assert_close(embed(loaded_model, images, device="cpu"), embeddings, rtol=0, atol=0)
    if isinstance(loss, losses.MarginHead):
        assert loaded_loss.config() == loss.config()
        with torch.no_grad():
            torch.testing.assert_close(
                loaded_loss.logits(embeddings), loss.logits(embeddings), rtol=0, atol=0
            )
    else:
        assert (loaded_loss.margin, loaded_loss.mining, loaded_loss.squared) == (0.3, "batch-all", False)


def test_embed_uses_eval_mode_and_restores_the_mode():
    torch.manual_seed(0)
    model = EmbeddingNet(3).train()
    images = torch.rand(10, 1, 28, 28)
    embeddings = embed(model, images, batch_size=4, device="cpu")
    assert embeddings.shape == (10, 3) and embeddings.device.type == "cpu"
    assert model.training  # the caller's mode is restored
    # eval mode: each embedding is independent of the rest of the batch (BatchNorm uses running stats)
    torch.testing.assert_close(embed(model, images[3:4], device="cpu"), embeddings[3:4])
    assert embed(model, images[:0], device="cpu").shape == (0, 3)


def test_predict_is_the_argmax_of_test_time_logits():
    head = losses.ArcFace(2, 4, s=10.0, m=0.5)
    embeddings = torch.randn(20, 2)
    with torch.no_grad():
        expected = (
            head.s * nn.functional.normalize(embeddings) @ nn.functional.normalize(head.weight).T
        ).argmax(1)
    assert torch.equal(predict(head, embeddings), expected)


@pytest.mark.parametrize(
    ("overrides", "count", "named"),
    [
        ({"epochs": 0}, 8, "epochs must be an integer >= 1"),
        ({"epochs": 1.5}, 8, "epochs must be an integer >= 1"),
        ({"batch_size": 1}, 8, "BatchNorm needs 2 images per batch"),
        ({"lr": -1.0}, 8, "lr must be a finite number > 0"),
        ({"lr": float("nan")}, 8, "lr must be a finite number > 0"),
        ({"weight_decay": -1.0}, 8, "weight_decay must be a finite number >= 0"),
        ({"lr_warmup_pct": 1.5}, 8, "lr_warmup_pct must be a fraction"),
        ({"seed": -1}, 8, "seed must be an integer in [0, 2**32)"),
        ({}, 1, "at least 2 images"),
    ],
)
def test_settings_the_optimiser_or_batchnorm_would_reject_are_named_before_training(overrides, count, named):
    """Before the check: OneCycleLR's 'Expected positive integer total_steps', BatchNorm's
    'Expected more than 1 value per channel', NumPy's seed range, none naming fit's argument."""
    model = EmbeddingNet(embedding_dim=2)
    head = losses.build_loss("arcface", embedding_dim=2, num_classes=2)
    images, labels = torch.randn(count, 1, 28, 28), torch.arange(count) % 2
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=re.escape(named)):
        fit(model, head, images, labels, progress=False, **overrides)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)), "trained anyway"


def test_fit_refuses_labels_that_do_not_match_the_images():
    model = EmbeddingNet(embedding_dim=2)
    head = losses.build_loss("normface", embedding_dim=2, num_classes=2)
    with pytest.raises(ValueError, match="as many labels as images"):
        fit(model, head, torch.randn(8, 1, 28, 28), torch.zeros(7, dtype=torch.long), progress=False)
