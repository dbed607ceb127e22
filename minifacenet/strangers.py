"""What helps strangers? The digit-pairs experiment: train a loss, score both kinds of strangers.

Every run uses the course recipe (:mod:`minifacenet.recipe`) and, for one seed, the same
batches and the same initial network whatever the loss, so the difference between two
losses on one seed is a *paired* difference: the loss is the only thing that changed.
:func:`run_experiment` makes one run; :func:`paired_gap`, :func:`curve_table` and
:func:`sweep_table` read a list of finished runs (``minifacenet/strangers_reference.json``
holds the course's, made by ``scripts/strangers.py``).
"""

from __future__ import annotations

import time

from .losses import LOSSES, build_loss
from .metrics import accuracy
from .models import EmbeddingNet
from .openset import openset_report
from .pairs import DigitPairs
from .train import embed, fit, predict, seed_everything

STRANGER_KINDS = ("familiar", "new_parts")


def score_strangers(model, loss, data: DigitPairs, *, seed: int = 0, device: str = "auto") -> dict:
    """``{kind: open-set report}`` for both kinds of strangers, scored by the loss's own measure."""
    reports = {}
    for kind in STRANGER_KINDS:
        strangers = getattr(data, kind)
        embeddings = embed(model, strangers.images, device=device)
        reports[kind] = openset_report(embeddings, strangers.labels, metric=loss.metric, seed=seed)
    return reports


def run_experiment(
    loss_name: str,
    data: DigitPairs,
    *,
    dim: int = 32,
    seed: int = 0,
    device: str = "auto",
    epochs: int | None = None,
    **loss_arguments,
) -> dict:
    """Train ``loss_name`` on ``data.train`` under the course recipe; closed-set accuracy and strangers.

    ``epochs`` (default: the recipe's) is the one setting a short demonstration may lower, for every
    head it compares alike.

    Returns a JSON-able dict: the setting (loss, its arguments, classes, dim, seed, images),
    ``closed_set`` (accuracy on the training classes' test images), ``strangers`` (both reports)
    and ``seconds`` of training.
    """
    num_classes = len(data.classes)
    seed_everything(seed)  # the same initial network for every loss with this seed
    model = EmbeddingNet(dim)
    loss = build_loss(loss_name, embedding_dim=dim, num_classes=num_classes, **loss_arguments)
    start = time.perf_counter()
    shorter = {} if epochs is None else {"epochs": epochs}
    images, labels = data.train.images, data.train.labels
    fit(model, loss, images, labels, seed=seed, device=device, progress=False, **shorter)
    seconds = time.perf_counter() - start
    closed = accuracy(predict(loss.cpu(), embed(model, data.test.images, device=device)), data.test.labels)
    return {
        "loss": loss_name,
        "arguments": loss_arguments,
        "classes": num_classes,
        "dim": dim,
        "seed": seed,
        "train_images": len(data.train.labels),
        "closed_set": closed,
        "strangers": score_strangers(model, loss, data, seed=seed, device=device),
        "seconds": seconds,
    }


# --------------------------------------------------------------------------- reading the runs
# The digit-pairs experiment of the course (scripts/strangers.py runs it; 3 seeds each):
SWEEP_M = (-0.3, -0.15, 0.0, 0.15, 0.3, 0.5)  # CosFace's m, at a few and at many classes
SWEEP_CLASSES = (7, 35)
CURVE_CLASSES = (7, 21, 35)  # softmax, NormFace, CosFace and ArcFace at m = CURVE_M
CURVE_M = 0.3
TARS = (("tar@far=0.01", "TAR@FAR=1 %"), ("tar@far=0.001", "TAR@FAR=0.1 %"))
SOFTMAX, NORMFACE = LOSSES["softmax"].label, LOSSES["normface"].label
KIND_LABELS = {
    "familiar": "familiar strangers (new pairs of 0-6)",
    "new_parts": "new-part strangers (with 7-9)",
}


def label(run: dict) -> str:
    """``softmax``, ``normalised softmax`` (NormFace; a margin head at its neutral m), ``CosFace m=0.3``."""
    cls, m = LOSSES[run["loss"]], run.get("m")
    if m is None:
        return cls.label
    return NORMFACE if m == cls.neutral_margin else f"{cls.label} m={m:g}"


def by_seed(runs: list[dict], name: str, classes: int, kind: str | None, key: str) -> dict[int, float]:
    """``{seed: score}`` of the runs labelled ``name`` at ``classes``: ``key`` "closed_set" or a TAR."""
    found = {}
    for run in runs:
        if label(run) == name and run["classes"] == classes:
            found[run["seed"]] = run["closed_set"] if key == "closed_set" else run["strangers"][kind][key]
    return found


def paired_gap(runs: list[dict], head: str, control: str, classes: int, kind: str, key: str) -> list[float]:
    """``head`` minus ``control`` on each seed both were run with, in points (same network, same batches)."""
    ours, theirs = by_seed(runs, head, classes, kind, key), by_seed(runs, control, classes, kind, key)
    return [100 * (ours[seed] - theirs[seed]) for seed in sorted(ours.keys() & theirs.keys())]


CONTRASTS = (  # (head, control, title): each a paired gap
    (NORMFACE, SOFTMAX, "NormFace − softmax (normalising)"),
    (f"CosFace m={CURVE_M:g}", NORMFACE, f"CosFace m={CURVE_M:g} − NormFace (the margin alone)"),
    (f"ArcFace m={CURVE_M:g}", NORMFACE, f"ArcFace m={CURVE_M:g} − NormFace (the margin alone)"),
    (f"ArcFace m={CURVE_M:g}", SOFTMAX, f"ArcFace m={CURVE_M:g} − softmax"),
)


def format_gaps(gaps: list[float]) -> str:
    """``+2.1 [-0.4, +4.0] 2/3``: mean [min, max] over seeds, and the seeds on which it is positive."""
    if not gaps:
        return "–"
    wins = sum(gap > 0 for gap in gaps)
    return f"{sum(gaps) / len(gaps):+.1f} [{min(gaps):+.1f}, {max(gaps):+.1f}] {wins}/{len(gaps)}"


def curve_table(runs: list[dict]) -> str:
    """Markdown: the paired gaps of :data:`CONTRASTS` per class count, both FARs, both kinds of strangers."""
    names = [f"{kind.replace('_', '-')} {title}" for kind in STRANGER_KINDS for _, title in TARS]
    lines = ["| classes | contrast | " + " | ".join(names) + " |", "|---:|---|" + "---:|" * len(names)]
    for classes in CURVE_CLASSES:
        for head, control, title in CONTRASTS:
            cells = [
                format_gaps(paired_gap(runs, head, control, classes, kind, key))
                for kind in STRANGER_KINDS
                for key, _ in TARS
            ]
            lines.append(f"| {classes} | {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sweep_name(m: float) -> str:
    """The label of the sweep's CosFace run at ``m`` (NormFace at m = 0)."""
    return label({"loss": "cosface", "m": m})


def sweep_table(runs: list[dict]) -> str:
    """Markdown: CosFace's m against the mean scores over seeds, at a few and at many classes."""
    columns = [(kind, key) for kind in STRANGER_KINDS for key, _ in TARS] + [(None, "closed_set")]
    names = [f"{kind.replace('_', '-')} {title}" for kind in STRANGER_KINDS for _, title in TARS]
    lines = ["| classes | m | seeds | " + " | ".join([*names, "closed-set acc."]) + " |"]
    lines.append("|---:|---:|---:|" + "---:|" * (len(names) + 1))
    for classes in SWEEP_CLASSES:
        for m in SWEEP_M:
            scores = [by_seed(runs, sweep_name(m), classes, kind, key) for kind, key in columns]
            cells = [f"{100 * sum(s.values()) / len(s):.1f}" if s else "–" for s in scores]
            lines.append(f"| {classes} | {m:+.2f} | {len(scores[0])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
