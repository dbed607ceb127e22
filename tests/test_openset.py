"""The open-set protocol: the split, the report (against scikit-learn), the scoreboard."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, roc_auc_score, roc_curve
from torch import nn

from minifacenet import losses, openset
from minifacenet.models import EmbeddingNet
from minifacenet.train import fit


# --------------------------------------------------------------------------- the split
def test_split_removes_unseen_classes_and_remaps_the_rest():
    labels = torch.tensor([0, 7, 3, 9, 6, 8, 1, 7])
    images = labels.float().view(-1, 1, 1, 1)  # each image carries its label
    split = openset.split_by_class(images, labels)
    assert split.seen_classes == openset.SEEN_DIGITS
    assert split.unseen_labels.tolist() == [7, 9, 8, 7]
    assert split.unseen_images.flatten().tolist() == [7, 9, 8, 7]
    assert split.seen_labels.tolist() == [0, 3, 6, 1]
    # class k of the head is the original digit seen_classes[k]
    originals = [split.seen_classes[k] for k in split.seen_labels.tolist()]
    assert originals == split.seen_images.flatten().int().tolist()


def test_split_remaps_around_a_hole():
    labels = torch.tensor([2, 5, 4, 5, 2])  # no 0, 1 or 3 in this subset: mapped as the full set
    split = openset.split_by_class(labels.view(-1, 1), labels, unseen=(2,))
    assert split.seen_classes == (0, 1, 3, 4, 5) and split.seen_labels.tolist() == [4, 3, 4]


@pytest.mark.parametrize("unseen", [(), (0, 1, 2, 3), (2, 3, 4)])
def test_split_refuses_none_or_all(unseen):
    labels = torch.tensor([0, 1, 2, 3])
    with pytest.raises(ValueError, match="unseen classes"):
        openset.split_by_class(labels.view(-1, 1), labels, unseen=unseen)


class RecordingNet(nn.Module):
    """The network, keeping every batch of images it is shown."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.batches = net, []

    def forward(self, images):
        self.batches.append(images.detach().cpu().clone())
        return self.net(images)


def recording(loss: nn.Module) -> tuple[nn.Module, list]:
    """Wrap ``loss`` so that every label batch it receives (forward or logits) is kept."""
    seen: list[torch.Tensor] = []
    for name in ("forward", "logits"):
        if hasattr(loss, name):
            original = getattr(loss, name)

            def record(embeddings, labels=None, *rest, _original=original):
                if labels is not None:
                    seen.append(labels.detach().cpu().clone())
                return _original(embeddings, labels, *rest)

            setattr(loss, name, record)
    return loss, seen


@pytest.mark.parametrize("loss_name", ["softmax", "triplet"])
def test_no_unseen_digit_reaches_training(mnist_subset, loss_name):
    images, labels = mnist_subset
    split = openset.split_by_class(images, labels)
    num_seen = len(split.seen_classes)
    model = RecordingNet(EmbeddingNet(4, 1, widths=(4, 4, 4)))
    loss, seen_labels = recording(losses.build_loss(loss_name, embedding_dim=4, num_classes=num_seen))
    fit(
        model,
        loss,
        split.seen_images,
        split.seen_labels,
        epochs=1,
        batch_size=63,
        classes_per_batch=num_seen,
        progress=False,
        device="cpu",
    )
    assert seen_labels and model.batches
    assert int(torch.cat(seen_labels).max()) < num_seen
    # every image fit drew is a seen-digit image, none is an unseen one (byte-exact, no shift)
    seen_rows = {row.numpy().tobytes() for row in split.seen_images.flatten(1)}
    unseen_rows = {row.numpy().tobytes() for row in split.unseen_images.flatten(1)}
    drawn = [row.numpy().tobytes() for batch in model.batches for row in batch.flatten(1)]
    assert len(split.unseen_images) > 100 and not unseen_rows & set(drawn)
    assert set(drawn) <= seen_rows


# --------------------------------------------------------------------------- the report
def noisy_classes(seed=0, per_class=40, dim=6, spread=0.9):
    """Three classes 7, 8, 9 around orthogonal directions, with overlap."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.tensor([7, 8, 9]).repeat_interleave(per_class)
    centres = torch.eye(dim)[:3] * 2.0
    return centres[labels - 7] + spread * torch.randn(len(labels), dim, generator=generator), labels


def sklearn_eer(same, scores) -> float:
    """EER from scikit-learn's ROC: the FAR where FAR = 1 - TAR, on a fine FAR grid."""
    fpr, tpr, _ = roc_curve(same, scores, drop_intermediate=False)
    grid = np.linspace(0, 1, 200001)
    # FRR - FAR on the grid, falling from 1 to -1
    gap = 1 - np.interp(grid, fpr, tpr) - grid
    return float(grid[np.argmax(gap <= 0)])


@pytest.mark.parametrize("metric", openset.METRICS)
def test_report_matches_scikit_learn(metric):
    x, y = noisy_classes()
    report = openset.openset_report(x, y, metric=metric)
    i, j = np.triu_indices(len(y), k=1)
    points = x.double().numpy()
    if metric == "cosine":
        points = points / np.linalg.norm(points, axis=1, keepdims=True)
        scores = (points @ points.T)[i, j]
    else:
        scores = -np.linalg.norm(points[:, None] - points[None], axis=2)[i, j]
    same = y.numpy()[i] == y.numpy()[j]
    assert 0.6 < report["auc"] < 0.999  # a case with errors, not a trivial one
    assert report["auc"] == pytest.approx(roc_auc_score(same, scores), abs=1e-12)
    assert report["eer"] == pytest.approx(sklearn_eer(same, scores), abs=1e-4)
    assert report["metric"] == metric and report["classes"] == [7, 8, 9] and report["images"] == 120


def test_clustering_scores_match_scikit_learn_on_known_clusters():
    # three tight far-apart blobs; one image of class 8 sits in the blob of the 7s
    blobs = np.array([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]])
    found = np.repeat([0, 1, 2], 8)
    labels = np.repeat([7, 8, 9], 8)
    labels[0] = 8
    x = blobs[found] + 0.01 * np.random.default_rng(0).standard_normal((24, 3))
    scores = openset.open_clustering(x, labels, metric="euclidean")
    assert scores["nmi"] == pytest.approx(normalized_mutual_info_score(labels, found))
    assert scores["ari"] == pytest.approx(adjusted_rand_score(labels, found))
    assert scores["nmi"] < 1


def test_perfect_embeddings_score_perfectly():
    labels = torch.tensor([7, 8, 9]).repeat_interleave(20)
    x = torch.eye(3)[labels - 7] * torch.linspace(1, 3, 60).unsqueeze(1)  # same directions, any length
    report = openset.openset_report(x, labels, metric="cosine", gallery_per_class=3)
    assert report["auc"] == 1 and report["eer"] == 0 and report["tar@far=0.001"] == 1
    assert report["gallery_accuracy"] == 1 and report["nmi"] == pytest.approx(1) and report["ari"] == 1
    assert report["verification_accuracy"] == 1


def test_the_metric_decides_what_counts_as_alike():
    # classes on one ray at lengths 1 and 3: Euclidean separates them, cosine cannot
    labels = torch.tensor([7, 8]).repeat_interleave(20)
    noise = 0.05 * torch.randn(40, 2, generator=torch.Generator().manual_seed(1))
    x = torch.tensor([1.0, 0.0]) * (1.0 + 2.0 * (labels == 8)).unsqueeze(1) + noise
    euclidean = openset.openset_report(x, labels, metric="euclidean")
    cosine = openset.openset_report(x, labels, metric="cosine")
    assert euclidean["auc"] == 1 and euclidean["gallery_accuracy"] == 1
    assert cosine["auc"] < 0.7 and cosine["gallery_accuracy"] < 0.8
    assert "euclidean" in openset.format_report(euclidean)


def test_report_refuses_bad_input():
    x, y = noisy_classes()
    with pytest.raises(ValueError, match="metric"):
        openset.openset_report(x, y, metric="manhattan")
    with pytest.raises(ValueError, match="gallery_per_class"):
        openset.openset_report(x, y, metric="cosine", gallery_per_class=40)
    with pytest.raises(ValueError, match="NaN"):
        openset.openset_report(x * float("nan"), y, metric="cosine")


def test_each_loss_is_scored_by_what_it_trains():
    assert openset.loss_metric(losses.ContrastiveLoss()) == "euclidean"
    assert openset.loss_metric(losses.TripletLoss()) == "cosine"  # squared L2 of unit vectors
    assert openset.loss_metric(losses.TripletLoss(normalize=False)) == "euclidean"
    for name in ("softmax", "sphereface", "cosface", "arcface"):
        assert openset.loss_metric(losses.build_loss(name, embedding_dim=3, num_classes=7)) == "cosine"


def test_paired_differences_are_per_seed():
    scores = {"softmax": {0: 0.5, 1: 0.9, 2: 0.7}, "arcface": {0: 0.6, 1: 0.95, 2: 0.65}}
    gaps = openset.paired_differences(scores, baseline="softmax")
    assert gaps["arcface"] == pytest.approx(
        {"mean": 0.1 / 3, "min": -0.05, "max": 0.1, "wins": 2, "pairs": 3}
    )
    assert gaps["softmax"]["mean"] == 0 and gaps["softmax"]["wins"] == 0
    with pytest.raises(ValueError, match="include it"):
        openset.paired_differences(scores, baseline="cosface")


# --------------------------------------------------------------------------- the scoreboard
def test_scoreboard_marks_live_and_reference_rows(tmp_path):
    reference = tmp_path / "reference.json"
    reference.write_text(
        json.dumps(
            {
                "mnist": [
                    {
                        "loss": "softmax",
                        "dim": 3,
                        "metric": "cosine",
                        "command": "python -m x",
                        "scores": None,
                    },
                    {"loss": "cosface", "dim": 3, "scores": {"metric": "cosine", "auc": 0.9}},
                ]
            }
        )
    )
    board = openset.Scoreboard(cache_dir=tmp_path / "runs", reference=reference)
    x, y = noisy_classes()
    report = openset.openset_report(x, y, metric="euclidean")
    board.add("contrastive", report, dim=3)
    table = board.markdown()
    assert table.endswith("(docs/results.md has each command).")
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    assert [row.split(" | ")[0] for row in rows] == ["| softmax", "| contrastive", "| cosface"]
    assert rows[0].count("–") == len(openset.REPORT_COLUMNS) and rows[0].endswith("| reference (CLI) |")
    assert "live" in rows[1] and f"{100 * report['auc']:.1f}" in rows[1] and "euclidean" in rows[1]
    assert "| 90.0 |" in rows[2] and rows[2].endswith("| reference (CLI) |")
    assert len(board.rows(upto="contrastive")) == 2
    # a later notebook reads the same live rows; measuring again replaces the row
    again = openset.Scoreboard(cache_dir=tmp_path / "runs", reference=reference)
    again.add("softmax", report, dim=3)
    assert [r["source"] for r in again.rows()] == ["live", "live", "reference"]
    again.clear()
    assert [r["source"] for r in again.rows()] == ["reference", "reference"]
    with pytest.raises(ValueError, match="unknown loss"):
        again.add("center", report, dim=3)


def test_scoreboard_lives_in_the_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIFACENET_RUNS", str(tmp_path))
    assert openset.Scoreboard("faces").path == tmp_path / "scoreboard_faces.json"


@pytest.mark.parametrize(
    ("labels", "unseen", "reason"),
    [
        (torch.tensor([], dtype=torch.long), (7,), "at least one"),
        (torch.tensor([-1, 0, 1, 2]), (2,), "labels must be class numbers >= 0, got -1"),
        (torch.tensor([0.0, 1.0, 2.0, 7.0]), (7,), "labels must be integer class numbers"),
        (torch.arange(10), (7.9, 8, 9), "unseen classes must be whole class numbers"),
        (torch.arange(10), ("7",), "unseen classes must be whole class numbers"),
    ],
)
def test_split_refuses_labels_and_classes_it_would_have_to_guess(labels, unseen, reason):
    with pytest.raises(ValueError, match=reason):
        openset.split_by_class(torch.zeros(len(labels), 1, 2, 2), labels, unseen=unseen)


def test_split_takes_numpy_and_tensor_class_numbers():
    part = openset.split_by_class(torch.zeros(10, 1), torch.arange(10), unseen=(np.int64(8), torch.tensor(9)))
    assert part.seen_classes == tuple(range(8)) and part.unseen_labels.tolist() == [8, 9]


@pytest.mark.parametrize("content", ['[{"loss": "arcface", "dim": 2, "sco', '{"loss": "arcface"}', "[1, 2]"])
def test_a_damaged_scoreboard_file_is_named_with_the_fix(tmp_path, content):
    board = openset.Scoreboard("mnist", cache_dir=tmp_path, reference=None)
    board.path.write_text(content)
    with pytest.raises(ValueError, match="is damaged") as error:
        board.rows()
    assert str(board.path) in str(error.value) and "Scoreboard.clear()" in str(error.value)
    board.clear()
    assert board.rows() == []
