"""The open-set protocol: the split, the report (against scikit-learn), the scoreboard."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, roc_auc_score, roc_curve
from torch import nn

from minifacenet import lesson, losses, openset
from minifacenet.models import EmbeddingNet
from minifacenet.recipe import COURSE_RECIPE, LESSON_RUN, LessonRun
from minifacenet.train import TrainConfig, fit

# scripts/results_table.py, loaded from its file (scripts/ is not a package)
_spec = importlib.util.spec_from_file_location(
    "results_table", Path(__file__).resolve().parent.parent / "scripts" / "results_table.py"
)
results_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(results_table)


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
        max_shift=0,  # byte-exact images (the course recipe shifts them)
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
def scores(auc: float, tar: float, *, metric: str = "cosine") -> dict:
    """A stand-in open-set report: the two measures the board ranks and pairs by."""
    return {"metric": metric, "images": 300, "auc": auc, "tar@far=0.01": tar}


def reference_row(loss: str, dim: int, tars: list[float], **extra) -> dict:
    """A reference row over ``len(tars)`` seeds, in the format results_table --reference writes."""
    row = {"loss": loss, "dim": dim, "seeds": list(range(len(tars))), "metric": "cosine"}
    row["scores"] = {"metric": "cosine", "auc": 0.7, "tar@far=0.01": float(np.mean(tars))}
    row["min"], row["max"] = {"tar@far=0.01": min(tars)}, {"tar@far=0.01": max(tars)}
    return {**row, **extra}


def board_with(tmp_path, rows: list[dict]) -> openset.Scoreboard:
    reference = tmp_path / "reference.json"
    reference.write_text(json.dumps({"mnist": rows}))
    return openset.Scoreboard(cache_dir=tmp_path / "runs", reference=reference)


def setting(**changes) -> dict:
    """A lesson's setting; ``changes`` replace fields."""
    base = {
        "train_images": 20000,
        "epochs": 6,
        "network": {"embedding_dim": 2, "widths": [16, 32, 64], "hidden": 128},
        "recipe": {"lr": 0.01, "batch_size": 256},
        "seed": 0,
        "dim": 2,
    }
    return openset.run_setting(**{**base, **changes})


@pytest.mark.parametrize("seeds", [None, [0], [0, 1]])
def test_scoreboard_refuses_a_reference_row_of_fewer_than_3_seeds(tmp_path, seeds):
    row = {"loss": "softmax", "dim": 3, "scores": scores(0.65, 0.05)}
    if seeds is not None:
        row["seeds"] = seeds
    board = board_with(tmp_path, [row, reference_row("cosface", 3, [0.1, 0.12, 0.14])])
    with pytest.raises(ValueError, match="seeds_note") as error:
        board.markdown()
    assert "softmax 3-D" in str(error.value) and "reference.json" in str(error.value)


def test_a_marked_reference_row_is_shown_unranked(tmp_path):
    single = {**reference_row("softmax", 3, [0.3]), "seeds_note": "single run"}  # the best TAR, yet unranked
    board = board_with(tmp_path, [single, reference_row("cosface", 3, [0.1, 0.12, 0.14])])
    rows = {r["loss"]: r for r in board.references()}
    assert rows["softmax"]["rank"] is None and rows["cosface"]["rank"] == 1
    table = board.markdown()
    assert "| not ranked (single run) | softmax | 3 | 0 |" in table
    assert "| 1 | cosface | 3 | 0 1 2 |" in table and "12.0 [10.0, 14.0]" in table


def test_reference_rows_are_ranked_within_a_dimension(tmp_path):
    rows = [reference_row("softmax", 3, [0.1] * 3), reference_row("cosface", 3, [0.2] * 3)]
    rows.append(reference_row("arcface", 32, [0.05] * 3))
    ranks = {(r["loss"], r["dim"]): r["rank"] for r in board_with(tmp_path, rows).references()}
    assert ranks == {("softmax", 3): 2, ("cosface", 3): 1, ("arcface", 32): 1}


@pytest.mark.parametrize(
    "change",
    [
        {"train_images": 15000},
        {"epochs": 4},
        {"network": {"embedding_dim": 2, "widths": [16, 32, 64], "hidden": 64}},
        {"recipe": {"lr": 0.003, "batch_size": 256}},
        {"seed": 1},
        {"dim": 3},
    ],
)
def test_live_rows_of_different_settings_are_never_ranked_together(tmp_path, change):
    board = openset.Scoreboard(cache_dir=tmp_path, reference=None)
    board.add("softmax", scores(0.60, 0.02), setting=setting())
    board.add("normface", scores(0.61, 0.03), setting=setting(**change))
    board.add("cosface", scores(0.90, 0.30), setting=setting(**change))  # far better, but not comparable
    rows = {r["loss"]: r for r in board.live()}
    assert rows["softmax"]["comparable"] and rows["softmax"]["rank"] == 1
    for loss in ("normface", "cosface"):
        assert not rows[loss]["comparable"] and rows[loss]["rank"] is None
        assert "softmax" not in rows[loss]["gaps"]
    # CosFace's NormFace control shares its setting: that gap is fair, yet without softmax no rank
    assert rows["cosface"]["gaps"]["normface"]["tar@far=0.01"] == pytest.approx(0.27)
    table = board.markdown()
    assert table.count("| not comparable | ") == 2 and "| 1 | softmax | A |" in table
    assert "- setting B:" in table and "no control" in table


def test_the_paired_gap_is_taken_on_equal_settings_only(tmp_path):
    board = openset.Scoreboard(cache_dir=tmp_path, reference=None)
    board.add("softmax", scores(0.60, 0.02), setting=setting(seed=1))  # another seed: not a control here
    board.add("softmax", scores(0.70, 0.10), setting=setting())
    board.add("normface", scores(0.72, 0.15), setting=setting())
    board.add("arcface", scores(0.71, 0.13), setting=setting())
    board.add("triplet", scores(0.75, 0.05), setting=setting())
    rows = {(r["loss"], r["seed"]): r for r in board.live()}
    arcface = rows["arcface", 0]
    assert arcface["gaps"]["softmax"] == {"auc": pytest.approx(0.01), "tar@far=0.01": pytest.approx(0.03)}
    assert arcface["gaps"]["normface"] == {"auc": pytest.approx(-0.01), "tar@far=0.01": pytest.approx(-0.02)}
    assert set(rows["triplet", 0]["gaps"]) == {"softmax"}  # NormFace controls the margin heads only
    assert [rows[loss, 0]["rank"] for loss in ("normface", "arcface", "softmax", "triplet")] == [1, 2, 3, 4]
    assert rows["softmax", 1]["rank"] == 1  # alone in its setting
    table = board.markdown()
    assert "| TAR@FAR=1% +3.0, AUC +1.0 | TAR@FAR=1% -2.0, AUC -1.0 |" in table
    # a row measured again in the same setting replaces the old one; a row without a setting pairs with none
    board.add("arcface", scores(0.71, 0.12), setting=setting())
    assert [r["loss"] for r in board.live()].count("arcface") == 1
    assert openset.pair_live_rows([{"loss": "softmax", "scores": scores(0.7, 0.1)}])[0]["comparable"] is False


def test_a_live_row_needs_a_known_loss(tmp_path):
    with pytest.raises(ValueError, match="unknown loss"):
        openset.Scoreboard(cache_dir=tmp_path).add("center", scores(0.7, 0.1), setting=setting())


def test_the_setting_of_a_trained_model_is_what_ran():
    torch.manual_seed(0)
    images, labels = torch.rand(32, 1, 28, 28), torch.arange(4).repeat(8)

    def trained(**overrides):
        model = EmbeddingNet(2)
        fit(model, losses.Softmax(2, 4), images, labels, progress=False, **{"epochs": 1, **overrides})
        return openset.trained_setting(model, train_images=len(labels))

    first = trained()
    assert first == trained() and first["train_images"] == 32 and first["dim"] == 2
    assert first["recipe"]["lr"] == TrainConfig().lr and "epochs" not in first["recipe"]
    assert trained(epochs=2) != first and trained(seed=1) != first and trained(lr=0.003) != first
    with pytest.raises(ValueError, match="run_setting"):
        openset.trained_setting(EmbeddingNet(2), train_images=32)


def test_the_lesson_run_is_the_course_recipe():
    for run in LESSON_RUN.values():
        settings = run.train_settings()
        assert settings["epochs"] == run.epochs
        assert {k: v for k, v in settings.items() if k != "epochs"} == {
            k: v for k, v in COURSE_RECIPE.train_settings().items() if k != "epochs"
        }
    assert LESSON_RUN["full"].dim == LESSON_RUN["fast"].dim


def test_a_lesson_row_brings_its_controls_in_its_own_setting(tmp_path, monkeypatch):
    trained = []

    def fake_run(loss_name, *, run, seed=0, **settings):
        """Stands in for training: the loss's scores, and the setting ``run`` and ``seed`` decide."""
        trained.append((loss_name, seed))
        tar = {"softmax": 0.10, "normface": 0.12, "cosface": 0.15, "arcface": 0.11}[loss_name]
        return scores(0.7, tar), setting(train_images=run.train_images, epochs=run.epochs, seed=seed)

    monkeypatch.setattr(lesson, "train_lesson_run", fake_run)
    board = openset.Scoreboard(cache_dir=tmp_path, reference=None)
    lesson.add_lesson_row(board, "cosface", run=LESSON_RUN["fast"], m=0.2)
    lesson.add_lesson_row(board, "arcface", run=LESSON_RUN["fast"], m=0.2)  # controls exist: none trained
    lesson.add_lesson_row(board, "arcface", run=LESSON_RUN["fast"], seed=1)  # another seed: controls again
    assert trained == [
        ("cosface", 0), ("softmax", 0), ("normface", 0), ("arcface", 0),
        ("arcface", 1), ("softmax", 1), ("normface", 1),
    ]
    rows = {(r["loss"], r["seed"]): r for r in board.live()}
    assert all(row["comparable"] for row in rows.values()) and len(rows) == 7
    assert rows["cosface", 0]["gaps"]["softmax"]["tar@far=0.01"] == pytest.approx(0.05)


def test_a_lesson_run_is_the_same_whatever_ran_before(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    # 7 seen classes of 10 random images, 3 unseen ones of 10
    data = (torch.rand(70, 1, 28, 28, generator=generator), torch.arange(7).repeat(10))
    data += (torch.rand(30, 1, 28, 28, generator=generator), torch.tensor([7, 8, 9]).repeat(10))
    monkeypatch.setattr(lesson, "lesson_data", lambda **_: data)
    run = LessonRun(train_images=70, test_images=100, epochs=1, dim=2)
    first, setting_first = lesson.train_lesson_run("softmax", run=run)
    torch.rand(1000)  # another run or cell drew random numbers in between
    again, setting_again = lesson.train_lesson_run("softmax", run=run)
    assert first == again and setting_first == setting_again


def write_run(folder, *, loss: str, dim: int, seed: int, tar: float, lr: float = 0.01) -> None:
    """A fake finished CLI run ``open-{dim}d-{loss}-seed{seed}/metrics.json``."""
    run = folder / f"open-{dim}d-{loss}-seed{seed}"
    run.mkdir(parents=True)
    args = {"command": "train", "loss": loss, "dim": dim, "lr": lr, "seed": seed, "out": str(run)}
    block = {"metric": "cosine", "classes": [7, 8, 9], "images": 3011, "gallery_per_class": 5}
    block.update({key: 0.5 for key, *_ in openset.REPORT_COLUMNS} | {"auc": 0.5 + tar, "tar@far=0.01": tar})
    metrics = {"args": args, "open_set": block, "test_accuracy": 0.99, "seconds": 1.0}
    (run / "metrics.json").write_text(json.dumps(metrics))


def test_the_reference_writer_averages_every_seed(tmp_path):
    for seed, tar in enumerate((0.05, 0.20, 0.11)):
        write_run(tmp_path / "runs", loss="softmax", dim=3, seed=seed, tar=tar)
    write_run(tmp_path / "runs", loss="cosface", dim=3, seed=1, tar=0.4)
    reference = tmp_path / "reference.json"
    argv = ["--runs", str(tmp_path / "runs"), "--reference", str(reference)]
    with pytest.raises(SystemExit, match="fewer than 3 seeds for cosface 3-D"):
        results_table.main(argv)
    assert not reference.exists()
    results_table.main([*argv, "--allow-partial"])
    rows = {r["loss"]: r for r in json.loads(reference.read_text())["mnist"]}
    softmax = rows["softmax"]
    assert softmax["seeds"] == [0, 1, 2] and "seeds_note" not in softmax
    assert softmax["scores"]["tar@far=0.01"] == pytest.approx(0.12)
    assert softmax["min"]["tar@far=0.01"] == 0.05 and softmax["max"]["tar@far=0.01"] == 0.20
    assert softmax["scores"]["images"] == 3011 and "images" not in softmax["min"]
    assert rows["cosface"]["seeds"] == [1] and rows["cosface"]["seeds_note"]
    # the paired gap: cosface minus softmax on the one seed both ran (seed 1), no NormFace runs here
    paired = rows["cosface"]["paired"]
    assert set(paired) == {"softmax"} and paired["softmax"]["tar@far=0.01"]["pairs"] == 1
    assert paired["softmax"]["tar@far=0.01"]["mean"] == pytest.approx(0.4 - 0.2)
    # the board reads it: the 3-seed row ranked, the marked one shown unranked
    board = openset.Scoreboard(cache_dir=tmp_path, reference=reference)
    assert [(r["loss"], r["rank"]) for r in board.references()] == [("softmax", 1), ("cosface", None)]
    assert "| TAR@FAR=1% +20.0, AUC +20.0 (1/1 seeds better) |" in board.markdown()


def test_the_reference_writer_refuses_seeds_run_differently(tmp_path):
    write_run(tmp_path, loss="softmax", dim=3, seed=0, tar=0.1)
    write_run(tmp_path, loss="softmax", dim=3, seed=1, tar=0.1, lr=0.003)
    write_run(tmp_path, loss="softmax", dim=3, seed=2, tar=0.1)
    with pytest.raises(SystemExit, match="differ in more than the seed"):
        results_table.reference_rows(results_table.load_runs(tmp_path))


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
