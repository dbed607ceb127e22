"""Issue 3: what do the losses cost, and how do they compare with pytorch-metric-learning?

(a) One training step (EmbeddingNet forward + backward + AdamW step, an MNIST batch of
    256) with each head / the same step with a plain ``nn.Linear`` + cross-entropy.
    Goal <= 1.05.
(b) Each head alone, forward + backward at batch 256: ours / pytorch-metric-learning's
    on identical inputs and weights (goal <= 0.5), and ours / linear + cross-entropy.
    The loss values of both libraries are compared as a check that the work is the same.
    The per-call input checks (``check_embeddings``, ``check_labels``) are timed too.
(c) Semi-hard mining + triplet loss at batch 256, D = 128: ours / PML's
    ``TripletMarginMiner(margin=0.2, type_of_triplets="semihard")`` +
    ``TripletMarginLoss(margin=0.2)``. Goal <= 0.25.

Run: ``python benchmarks/bench_losses.py`` (about 1-2 minutes on 2 cores).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from _common import fmt_ratio, fmt_time, interleaved, median, ratio, setup, table, verdict
from pytorch_metric_learning import distances as pml_distances
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning import miners as pml_miners
from torch import nn

from minifacenet import checks, data, losses
from minifacenet.models import EmbeddingNet

BATCH = 256
DEFAULTS = "defaults: ours d^2, PML d"
HEAD_PARAMS = {
    "softmax": {},
    "normface": {"s": 10.0},
    "sphereface": {"m": 4},
    "cosface": {"s": 10.0, "m": 0.1},
    "arcface": {"s": 10.0, "m": 0.2},
    "combined": {"s": 10.0, "m1": 1.0, "m2": 0.2, "m3": 0.1},
}


class LinearCE(nn.Module):
    """The baseline head: ``nn.Linear`` (with bias) and cross-entropy."""

    def __init__(self, embedding_dim: int, num_classes: int):
        super().__init__()
        self.linear = nn.Linear(embedding_dim, num_classes)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.linear(embeddings), labels)


def our_head(name: str, embedding_dim: int, num_classes: int) -> nn.Module:
    head = losses.build_loss(name, embedding_dim=embedding_dim, num_classes=num_classes, **HEAD_PARAMS[name])
    if isinstance(head, losses.SphereFace):
        head.lamb = 0.0  # pure A-Softmax, as PML's SphereFaceLoss (the cost does not depend on lamb)
    return head


# --------------------------------------------------------------------------- (a)
def training_step(model, head, optimizer, images, labels) -> None:
    value = head(model(images), labels)
    optimizer.zero_grad(set_to_none=True)
    value.backward()
    optimizer.step()


def head_only_costs(embedding_dim: int, num_classes: int) -> dict[str, float]:
    """Median seconds of forward + backward of each head alone (and of linear+CE)."""
    embeddings = torch.randn(BATCH, embedding_dim, requires_grad=True)
    labels = torch.randint(num_classes, (BATCH,))
    heads = {name: our_head(name, embedding_dim, num_classes) for name in losses.HEADS}
    heads["linear+CE"] = LinearCE(embedding_dim, num_classes)
    calls = {name: (lambda h=head: forward_backward(h, embeddings, labels)) for name, head in heads.items()}
    samples = interleaved(calls, repeats=9, number=20, warmup=3)
    return {name: median(values) for name, values in samples.items()}


def part_a(images: torch.Tensor, labels: torch.Tensor, *, repeats: int = 41, number: int = 1) -> None:
    embedding_dim = 2
    print(
        f"\n(a) one training step: EmbeddingNet({embedding_dim}) forward + head + backward + AdamW "
        f"step on an MNIST batch of {BATCH} / the same with nn.Linear + cross-entropy. "
        f"{number} step(s) per sample, median of {repeats} interleaved repeats. 'estimate' = "
        "1 + (head alone - linear+CE alone) / step, from head-only timings: the same ratio "
        "without the step-to-step noise."
    )
    base_model = EmbeddingNet(embedding_dim)
    variants = {}
    for name in ("linear+CE", *losses.HEADS):
        model = copy.deepcopy(base_model)
        head = LinearCE(embedding_dim, 10) if name == "linear+CE" else our_head(name, embedding_dim, 10)
        optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=1e-3)
        variants[name] = lambda m=model, h=head, o=optimizer: training_step(m, h, o, images, labels)
    samples = interleaved(variants, repeats=repeats, number=number, warmup=2)
    alone, step = head_only_costs(embedding_dim, 10), median(samples["linear+CE"])
    rows = [["linear+CE (baseline)", fmt_time(step), "1", "1", "", ""]]
    for name in losses.HEADS:
        stats = ratio(samples, name, "linear+CE")
        estimate = f"{1 + (alone[name] - alone['linear+CE']) / step:.3f}"
        row = [fmt_time(median(samples[name])), fmt_ratio(stats), estimate, "<= 1.05"]
        rows.append([name, *row, verdict(stats[0], 1.05)])
    table(["head", "step time", "ratio to linear+CE (min..max)", "estimate", "goal", "result"], rows)


# --------------------------------------------------------------------------- (b)
def pml_head(name: str, ours: nn.Module, embedding_dim: int, num_classes: int) -> nn.Module | None:
    """PML's counterpart of one of our heads, sharing its weights; None if PML has none."""
    params = HEAD_PARAMS[name]
    counterparts = {  # our loss -> PML's loss with the same parameters
        "normface": lambda: pml_losses.NormalizedSoftmaxLoss(num_classes, embedding_dim,
                                                             temperature=1.0 / params["s"]),
        "cosface": lambda: pml_losses.CosFaceLoss(num_classes, embedding_dim, margin=params["m"],
                                                  scale=params["s"]),
        # PML's ArcFace margin is in degrees
        "arcface": lambda: pml_losses.ArcFaceLoss(num_classes, embedding_dim,
                                                  margin=math.degrees(params["m"]), scale=params["s"]),
        "sphereface": lambda: pml_losses.SphereFaceLoss(num_classes, embedding_dim, margin=params["m"],
                                                        scale=1),
    }  # fmt: skip
    if name not in counterparts:
        return None
    pml = counterparts[name]()
    with torch.no_grad():
        pml.W.copy_(ours.weight.T)  # PML stores W as [D, C]
    return pml


def forward_backward(head: nn.Module, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
    head(embeddings, labels).backward()
    embeddings.grad = None
    for parameter in head.parameters():
        parameter.grad = None


def check_calls(embeddings: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
    checks.check_embeddings(embeddings)
    checks.check_labels(labels, num_classes)


def head_variants(embedding_dim: int, num_classes: int):
    """Inputs, callables and a loss-value check for every head in one (D, C) setting."""
    embeddings = torch.randn(BATCH, embedding_dim, requires_grad=True)
    labels = torch.randint(num_classes, (BATCH,))
    variants = {"linear+CE": LinearCE(embedding_dim, num_classes)}
    differences = {}
    for name in losses.HEADS:
        ours = variants[name] = our_head(name, embedding_dim, num_classes)
        pml = pml_head(name, ours, embedding_dim, num_classes)
        if pml is not None:
            variants[f"pml {name}"] = pml
            with torch.no_grad():
                differences[name] = abs(float(ours(embeddings, labels)) - float(pml(embeddings, labels)))
    calls = {key: (lambda h=head: forward_backward(h, embeddings, labels)) for key, head in variants.items()}
    calls["checks only"] = lambda: check_calls(embeddings.detach(), labels, num_classes)
    return calls, differences


def head_rows(embedding_dim: int, num_classes: int, *, repeats: int, number: int) -> list[list[str]]:
    calls, differences = head_variants(embedding_dim, num_classes)
    samples = interleaved(calls, repeats=repeats, number=number, warmup=3)
    setting = f"D={embedding_dim}, C={num_classes}"
    checks = median(samples["checks only"])
    rows = [[setting, "linear+CE", fmt_time(median(samples["linear+CE"])), "", "", "", "", "1", "", ""]]
    for name in losses.HEADS:
        ours_time = fmt_time(median(samples[name]))
        to_linear = f"{ratio(samples, name, 'linear+CE')[0]:.2f}"
        check_share = f"{100 * checks / median(samples[name]):.0f}%"
        if f"pml {name}" not in samples:
            rows.append([setting, name, ours_time, "-", "-", "-", "-", to_linear, check_share, "-"])
            continue
        stats = ratio(samples, name, f"pml {name}")
        rows.append(
            [
                setting,
                name,
                ours_time,
                fmt_time(median(samples[f"pml {name}"])),
                fmt_ratio(stats),
                verdict(stats[0], 0.5),
                f"{ratio(samples, 'linear+CE', f'pml {name}')[0]:.2f}",
                to_linear,
                check_share,
                f"{differences[name]:.1e}",
            ]
        )
    rows.append([setting, "(input checks alone)", fmt_time(checks), "", "", "", "", "", "", ""])
    return rows


def part_b(*, repeats: int = 9, number: int = 20) -> None:
    print(
        f"\n(b) each head alone, forward + backward at batch {BATCH}, random embeddings and labels, "
        f"the same weights in both libraries. {number} calls per sample, median of {repeats} "
        "interleaved repeats. Goal: ours / PML <= 0.5. 'checks' = time of check_embeddings + "
        "check_labels as a share of our call; '|loss diff|' = |ours - PML| on the same inputs; "
        "'floor' = linear+CE / PML, the ratio a head would reach if it cost no more than a plain "
        "linear layer + cross-entropy (a cosine head needs that matmul and more)."
    )
    rows = []
    for embedding_dim, num_classes in ((2, 10), (128, 10), (128, 1000)):
        rows += head_rows(embedding_dim, num_classes, repeats=repeats, number=number)
    header = ["setting", "head", "ours", "PML", "ours / PML (min..max)", "goal <= 0.5", "floor"]
    table([*header, "ours / linear+CE", "checks", "|loss diff|"], rows)


# --------------------------------------------------------------------------- (c)
def clustered_embeddings(labels: torch.Tensor, embedding_dim: int) -> torch.Tensor:
    """Embeddings with some class structure, so mining sees a realistic mix of triplets."""
    centres = torch.randn(int(labels.max()) + 1, embedding_dim)
    return (0.5 * centres[labels] + torch.randn(len(labels), embedding_dim)).requires_grad_(True)


def pml_triplet(*, power: int):
    """PML's semi-hard miner + triplet margin loss on L2-normalised embeddings, distance^power."""
    distance = pml_distances.LpDistance(normalize_embeddings=True, p=2, power=power)
    miner = pml_miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard", distance=distance)
    loss = pml_losses.TripletMarginLoss(margin=0.2, distance=distance)
    return lambda embeddings, labels: loss(embeddings, labels, miner(embeddings, labels))


def triplet_call(loss, embeddings, labels) -> None:
    loss(embeddings, labels).backward()
    embeddings.grad = None


def triplet_rows(label_name: str, labels: torch.Tensor, *, repeats: int, number: int) -> list[list[str]]:
    embeddings = clustered_embeddings(labels, 128)
    pairs = {
        DEFAULTS: (losses.TripletLoss(0.2, "semi-hard"), pml_triplet(power=1)),
        "both d": (losses.TripletLoss(0.2, "semi-hard", squared=False), pml_triplet(power=1)),
        "both d^2": (losses.TripletLoss(0.2, "semi-hard"), pml_triplet(power=2)),
    }
    calls = {}
    for key, (ours, pml) in pairs.items():
        calls[f"ours {key}"] = lambda f=ours: triplet_call(f, embeddings, labels)
        calls[f"pml {key}"] = lambda f=pml: triplet_call(f, embeddings, labels)
    samples = interleaved(calls, repeats=repeats, number=number, warmup=1)
    rows = []
    for key, (ours, pml) in pairs.items():
        with torch.no_grad():
            mined = len(ours.mine(embeddings, labels)[0])
            difference = abs(float(ours(embeddings, labels)) - float(pml(embeddings, labels)))
        stats = ratio(samples, f"ours {key}", f"pml {key}")
        rows.append(
            [
                label_name,
                key,
                f"{mined}",
                fmt_time(median(samples[f"ours {key}"])),
                fmt_time(median(samples[f"pml {key}"])),
                fmt_ratio(stats),
                verdict(stats[0], 0.25),
                f"{difference:.1e}" if key != DEFAULTS else "n/a",
            ]
        )
    return rows


def part_c(*, repeats: int = 7, number: int = 3) -> None:
    print(
        f"\n(c) semi-hard mining + triplet loss (margin 0.2), forward + backward, batch {BATCH}, D=128, "
        "L2-normalised class-clustered random embeddings. PML's default distance is d (not squared); "
        "ours defaults to squared d (FaceNet), so the first row mines different triplets; the other "
        "rows match the distance and must give the same loss. "
        f"{number} calls per sample, median of {repeats} interleaved repeats."
    )
    pk_labels = torch.arange(32).repeat_interleave(8)  # P x K = 32 x 8
    random_labels = torch.randint(10, (BATCH,))
    rows = triplet_rows("P x K = 32 x 8", pk_labels, repeats=repeats, number=number)
    rows += triplet_rows("random, 10 classes", random_labels, repeats=repeats, number=number)
    header = ["labels", "distance", "ours: triplets", "ours", "PML", "ours / PML (min..max)"]
    table([*header, "goal <= 0.25", "|loss diff|"], rows)


def main() -> None:
    setup("bench_losses: issue 3, the cost of the heads and of triplet mining")
    images, labels = data.mnist()
    part_a(images[:BATCH], labels[:BATCH])
    part_b()
    part_c()


if __name__ == "__main__":
    main()
