"""Does the data path or the training loop add time to an MNIST epoch?

(a) ``minifacenet.train.fit`` (progress off) against the same forward + backward + AdamW
    steps on batches sliced beforehand. Goal: fit / bare steps <= 1.10.
(b) Data loading alone (no model): our path (``mnist()`` tensors in memory, a shuffled
    index sliced per batch, as ``fit`` does) against the textbook
    ``DataLoader(MNIST(root, transform=ToTensor()), batch_size=256, shuffle=True)``.
    Goal: ours at least 3x faster per epoch.

Both parts time a fraction of an epoch and scale it to 60000 images; the output says where.
Run: ``python benchmarks/bench_data.py`` (about 1-2 minutes on 2 cores).
"""

from __future__ import annotations

import torch
from _common import fmt_ratio, fmt_time, interleaved, median, ratio, setup, table, verdict
from torch.utils.data import DataLoader
from torchvision.datasets import MNIST
from torchvision.transforms import ToTensor

from minifacenet import data, losses
from minifacenet.models import EmbeddingNet
from minifacenet.train import TrainConfig, batches, fit

BATCH = 256
EPOCH_IMAGES = 60000
EPOCH_BATCHES = EPOCH_IMAGES // BATCH  # 234 full batches, as fit drops the partial one
FIT_BATCHES = 4  # training batches timed per call in part (a)
FIT_REPEATS = 15
LOADER_BATCHES = 24  # textbook DataLoader batches timed per call in part (b)
LOADER_REPEATS = 3


def bare_steps(model, loss, batch_list, lr: float = 3e-3) -> None:
    """The reference: AdamW steps on pre-sliced ``(images, labels)`` batches, nothing else."""
    optimizer = torch.optim.AdamW([*model.parameters(), *loss.parameters()], lr=lr, weight_decay=5e-4)
    for images, labels in batch_list:
        embeddings = model(images)
        value = loss(embeddings, labels)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()


def fit_row(name: str, make_loss, images, labels) -> list[str]:
    """Time fit against bare steps on the same FIT_BATCHES batches; one table row."""
    subset_images, subset_labels = images[: FIT_BATCHES * BATCH], labels[: FIT_BATCHES * BATCH]
    models = {key: EmbeddingNet(2) for key in ("fit", "bare")}
    heads = {key: make_loss() for key in ("fit", "bare")}
    # the batches fit would draw (same sampler), sliced once, outside the timing
    config = TrainConfig(epochs=1, batch_size=BATCH)
    order = list(batches(subset_labels, heads["bare"], config, torch.Generator().manual_seed(0)))
    batch_list = [(subset_images[i], subset_labels[i]) for i in order]
    samples = interleaved(
        {
            "fit": lambda: fit(
                models["fit"],
                heads["fit"],
                subset_images,
                subset_labels,
                epochs=1,
                batch_size=BATCH,
                progress=False,
                device="cpu",
            ),
            "bare": lambda: bare_steps(models["bare"], heads["bare"], batch_list),
        },
        repeats=FIT_REPEATS,
        warmup=1,
    )
    stats = ratio(samples, "fit", "bare")
    per_batch = {key: median(s) / len(batch_list) for key, s in samples.items()}
    sampler = "shuffled" if heads["fit"].classifies else "P x K"
    return [
        f"{name} ({sampler}, {len(batch_list)} batches)",
        fmt_time(per_batch["fit"] * EPOCH_BATCHES),
        fmt_time(per_batch["bare"] * EPOCH_BATCHES),
        fmt_ratio(stats),
        "<= 1.10",
        verdict(stats[0], 1.10),
    ]


def part_a(images, labels) -> None:
    print(
        f"\n(a) fit(progress=False) / bare forward+backward+AdamW on pre-sliced batches. "
        f"EmbeddingNet(2), batch {BATCH}; {FIT_BATCHES} batches per call, median of "
        f"{FIT_REPEATS} interleaved repeats, scaled to one epoch ({EPOCH_BATCHES} batches)."
    )
    rows = [
        fit_row("arcface", lambda: losses.ArcFace(2, 10), images, labels),
        fit_row("triplet", lambda: losses.TripletLoss(mining="semi-hard"), images, labels),
    ]
    table(["loss", "fit, per epoch", "bare steps, per epoch", "ratio (min..max)", "goal", "result"], rows)


def our_epoch(images, labels) -> int:
    """One epoch of our data path: fit's shuffled index batches sliced from memory."""
    config, seen = TrainConfig(batch_size=BATCH), 0
    for index in batches(labels, losses.Softmax(2, 10), config, torch.Generator()):
        x, y = images[index], labels[index]
        seen += len(x) if len(x) == len(y) else 0
    return seen


def textbook_batches(loader: DataLoader, count: int) -> int:
    """The first ``count`` batches of the textbook loader (a fresh shuffled pass each call)."""
    seen = 0
    for i, (x, y) in enumerate(loader):
        seen += len(x) if len(x) == len(y) else 0
        if i + 1 == count:
            break
    return seen


def part_b(root: str) -> None:
    print(
        "\n(b) data loading alone, no model: ours = mnist() tensors, randperm, images[index] per "
        f"batch of {BATCH}; textbook = DataLoader(MNIST(root, transform=ToTensor()), "
        f"batch_size={BATCH}, shuffle=True), num_workers=0. Ours: whole epochs; textbook: "
        f"{LOADER_BATCHES} batches per call scaled to {EPOCH_BATCHES}. Median of {LOADER_REPEATS} "
        "interleaved repeats. 'setup' = building the data once (ours: a cold mnist() call)."
    )
    images, labels = data.mnist(root=root)
    loader = DataLoader(MNIST(root, transform=ToTensor()), batch_size=BATCH, shuffle=True)
    x, _ = next(iter(loader))
    assert x.shape == images[:BATCH].shape and x.dtype == images.dtype, "the two paths must yield alike"
    scale = EPOCH_BATCHES / LOADER_BATCHES

    def cold_mnist():
        data._mnist_cached.cache_clear()
        return data.mnist(root=root)

    samples = interleaved(
        {
            "ours epoch": lambda: our_epoch(images, labels),
            "textbook epoch": lambda: textbook_batches(loader, LOADER_BATCHES),
            "ours setup": cold_mnist,
            "textbook setup": lambda: MNIST(root, transform=ToTensor()),
        },
        repeats=LOADER_REPEATS,
        warmup=1,
    )
    samples["textbook epoch"] = [t * scale for t in samples["textbook epoch"]]
    for who in ("ours", "textbook"):
        samples[f"{who} total"] = [
            a + b for a, b in zip(samples[f"{who} setup"], samples[f"{who} epoch"], strict=True)
        ]
    rows = []
    for what, goal in (("epoch", 3.0), ("setup", None), ("total", None)):
        stats = ratio(samples, f"textbook {what}", f"ours {what}")
        rows.append(
            [
                {
                    "epoch": "one epoch, iterate batches",
                    "setup": "setup (load once)",
                    "total": "setup + one epoch",
                }[what],
                fmt_time(median(samples[f"ours {what}"])),
                fmt_time(median(samples[f"textbook {what}"])),
                fmt_ratio(stats),
                ">= 3" if goal else "(info)",
                verdict(stats[0], goal, at_most=False) if goal else "",
            ]
        )
    table(["data only (no model)", "ours", "textbook", "textbook / ours (min..max)", "goal", "result"], rows)
    megabytes = images.element_size() * images.numel() / 2**20
    print(f"memory: ours keeps the decoded float images in RAM ({megabytes:.0f} MiB for the training split).")


def main() -> None:
    setup("bench_data: training loop and data path, one MNIST epoch")
    root = str(data.data_root())
    images, labels = data.mnist(root=root)
    part_a(images, labels)
    part_b(root)


if __name__ == "__main__":
    main()
