"""The open-set faces pipeline: splits, augmentation, training/evaluation plumbing, tables."""

import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from minifacenet import faces, losses
from minifacenet.data import DataError

LABELS = torch.arange(40).repeat_interleave(10)  # Olivetti's layout: 40 people x 10 images


def test_open_set_splits_hold_out_every_person_once():
    splits = faces.open_set_splits(LABELS, num_unseen=10, num_repeats=2, seed=3)
    assert len(splits) == 8
    for repeat in (splits[:4], splits[4:]):
        unseen = sorted(p for split in repeat for p in split.test_identities)
        assert unseen == list(range(40))  # each person unseen exactly once per repeat
    for split in splits:
        train_people = set(LABELS[split.train_index].tolist())
        test_people = set(LABELS[split.test_index].tolist())
        assert not train_people & test_people
        assert test_people == set(split.test_identities) and len(test_people) == 10
        assert len(split.train_index) + len(split.test_index) == 400
    assert splits[0].test_identities != splits[4].test_identities  # repeats reshuffle


@pytest.mark.parametrize("num_unseen", [1, 25, 40])
def test_open_set_splits_reject_impossible_folds(num_unseen):
    with pytest.raises(ValueError, match="num_unseen"):
        faces.open_set_splits(LABELS, num_unseen=num_unseen)


def test_relabel_makes_consecutive_classes():
    assert faces.relabel(torch.tensor([7, 3, 7, 12])).tolist() == [1, 0, 1, 2]


def test_augmenter_keeps_shape_and_can_do_nothing():
    images = torch.rand(6, 1, 16, 16)
    assert faces.augmenter()(images).shape == images.shape
    assert torch.equal(faces.augmenter(max_shift=0, flip=False)(images), images)
    with pytest.raises(ValueError, match="max_shift"):
        faces.augmenter(max_shift=-1)


def test_flip_is_drawn_per_image():
    torch.manual_seed(0)
    images = torch.rand(64, 1, 8, 8)
    out = faces.augmenter(max_shift=0, flip=True)(images)
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, images, strict=True)]
    kept = [torch.equal(o, i) for o, i in zip(out, images, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 10 < sum(flipped) < 54  # some flipped, some not: one coin per image


def test_shift_moves_each_image_by_at_most_max_shift():
    torch.manual_seed(1)
    images = torch.rand(32, 1, 12, 12)
    out = faces.random_shift(images, max_shift=2)
    shifts = set()
    for o, i in zip(out, images, strict=True):
        # the interior of the output is the input moved by some (dy, dx) in [-2, 2]
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(o[:, 2:-2, 2:-2], i[:, 2 - dy : 10 - dy, 2 - dx : 10 - dx])
        ]
        assert matches, "an output is not a shift of its input"
        shifts.add(matches[0])
    assert len(shifts) > 5  # shifts differ from image to image


def test_the_warmup_on_faces_is_the_longer_of_the_faces_ramp_and_the_loss_own():
    params = faces.face_loss_settings("sphereface")
    head = losses.build_loss("sphereface", embedding_dim=4, num_classes=3, **params)
    warmup = faces.warmup_for(head, faces.FaceConfig())
    assert warmup == losses.SphereFace.default_warmup  # one answer: the class's
    assert head.lamb_at(warmup, warmup=warmup) == pytest.approx(params["lamb_min"])
    cosface = losses.build_loss("cosface", embedding_dim=4, num_classes=3)
    assert faces.warmup_for(cosface, faces.FaceConfig()) == faces.FaceConfig().warmup_fraction
    assert faces.face_loss_settings("cosface", overrides={"m": 0.2}) == {"s": 16.0, "m": 0.2}
    with pytest.raises(ValueError, match="unknown loss"):
        faces.face_loss_settings("center")


def toy_faces(num_people=8, per_person=6, size=16, seed=0):
    """Each 'person' a fixed random pattern plus noise."""
    generator = torch.Generator().manual_seed(seed)
    patterns = torch.rand(num_people, 1, size, size, generator=generator)
    labels = torch.arange(num_people).repeat_interleave(per_person)
    images = patterns[labels] + 0.1 * torch.randn(len(labels), 1, size, size, generator=generator)
    return images.clamp(0, 1), labels


@pytest.mark.parametrize("loss_name", faces.FACE_LOSSES)
def test_every_loss_trains_and_is_evaluated(loss_name):
    images, labels = toy_faces()
    split = faces.open_set_splits(labels, num_unseen=4)[0]
    config = faces.FaceConfig(embedding_dim=8, epochs=2, batch_size=12, classes_per_batch=2, widths=(4, 4, 4))
    result = faces.run_fold(loss_name, images, labels, split, config=config, device="cpu")
    assert result.loss == loss_name and len(result.history["loss"]) == 2
    scores = result.scores
    assert 0 <= scores["auc"] <= 1 and 0 <= scores["eer"] <= 1 and 0 <= scores["tar@far=0.01"] <= 1
    assert result.test_embeddings.shape == (len(split.test_index), 8)
    assert result.roc["fpr"][0] == 0 and result.roc["tpr"][-1] == 1
    has_weights = loss_name not in ("contrastive", "triplet")
    assert math.isnan(scores["train_w_ec"]) != has_weights
    assert result.metric == ("euclidean" if loss_name == "contrastive" else "cosine")
    assert math.isnan(scores["w_ec"])  # unseen people have no class weights


def load_script():
    """scripts/faces_table.py as a module (the tables and the ROC figure live there)."""
    path = Path(__file__).resolve().parent.parent / "scripts" / "faces_table.py"
    spec = importlib.util.spec_from_file_location("faces_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(loss_name, fold_index, **scores):
    return {"loss": loss_name, "fold": fold_index, "scores": scores}


def test_table_shows_fold_means_and_the_measure():
    table_script = load_script()
    columns = table_script.TABLE_COLUMNS
    folds = [row("arcface", k, **{column[0]: 0.5 + 0.1 * k for column in columns}) for k in range(2)]
    folds.append(row("contrastive", 0, **{column[0]: 0.25 for column in columns}))
    table = table_script.markdown_table(folds, {"contrastive": "euclidean"}).splitlines()
    assert "TAR@FAR=1%" in table[0] and len(table) == 4
    assert table[2].startswith("| arcface | cosine | 55.0 |") and table[2].endswith("| 0.550 |")
    assert table[3].startswith("| contrastive | euclidean | 25.0 |")


def test_angle_table_marks_missing_weights():
    table_script = load_script()
    folds = [row("triplet", 0, **{column[0]: math.nan for column in table_script.ANGLE_COLUMNS})]
    folds[0]["scores"]["intra"] = 12.34
    line = table_script.markdown_table(folds, {}, columns=table_script.ANGLE_COLUMNS).splitlines()[2]
    assert line.startswith("| triplet | cosine | – | – |") and "| 12.3 |" in line


def test_gap_table_pairs_folds_and_gives_a_verdict():
    table_script = load_script()
    folds = [
        row("softmax", k, auc=a, **{"tar@far=0.01": t}) for k, (a, t) in enumerate([(0.5, 0.4), (0.9, 0.8)])
    ]
    folds += [
        row("arcface", k, auc=a, **{"tar@far=0.01": t}) for k, (a, t) in enumerate([(0.6, 0.45), (0.9, 0.9)])
    ]
    folds += [
        row("cosface", k, auc=a, **{"tar@far=0.01": t}) for k, (a, t) in enumerate([(0.6, 0.3), (0.9, 0.9)])
    ]
    lines = table_script.gap_table(folds).splitlines()
    assert len(lines) == 4  # header, rule, arcface, cosface: no softmax-minus-softmax row
    # arcface: +5 and +10 points on TAR, both folds ahead, although the folds' own spread is 40 points
    assert lines[2] == "| arcface | +7.5 [+5.0, +10.0] | +5.0 [+0.0, +10.0] | ahead on all 2 folds |"
    assert lines[3].endswith("| mixed: ahead on 1 of 2 folds |")


def fold_result(loss_name, fold_index, fpr, tpr):
    empty = torch.empty(0)
    return faces.FoldResult(loss_name, fold_index, {}, {"fpr": fpr, "tpr": tpr}, empty, empty, empty, 0.0)


def test_mean_roc_interpolates_each_fold():
    table_script = load_script()
    results = [
        fold_result("a", 0, np.array([0.0, 1.0]), np.array([0.0, 1.0])),
        fold_result("a", 1, np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0])),
    ]
    curves = table_script.mean_roc(results, grid=np.array([0.1, 0.5]))
    np.testing.assert_allclose(curves["a"], [[0.1, 0.5], [1.0, 1.0]])


def test_contrastive_is_scored_by_the_distance_it_trains():
    # two people on one ray at lengths 1 and 3: Euclidean tells them apart, cosine cannot
    labels = torch.tensor([0, 1]).repeat_interleave(10)
    noise = 0.05 * torch.randn(20, 2, generator=torch.Generator().manual_seed(0))
    x = torch.tensor([1.0, 0.0]) * (1.0 + 2.0 * labels).unsqueeze(1) + noise
    euclidean, _, threshold = faces.fold_scores(x, labels, metric="euclidean")
    cosine, _, _ = faces.fold_scores(x, labels, metric="cosine")
    assert euclidean["auc"] == 1 and euclidean["knn_accuracy"] == 1 and cosine["auc"] < 0.7
    assert threshold < 0  # minus a distance


def test_load_faces_checks_resolution_and_downsamples():
    with pytest.raises(ValueError, match="resolution"):
        faces.load_faces(resolution=128)
    try:
        images, labels = faces.load_faces(resolution=32)
    except DataError as error:
        pytest.skip(f"Olivetti faces not available: {error}")
    assert images.shape == (400, 1, 32, 32) and labels.shape == (400,)
    assert 0 <= images.min() and images.max() <= 1


@pytest.mark.parametrize(
    ("labels", "num_unseen", "fix"),
    [(LABELS, 15, "use one of [2, 4, 5, 8, 10, 20]"), (torch.arange(3), 2, "none: need at least 4 people")],
)
def test_open_set_splits_refuse_uneven_folds_and_suggest_what_works(labels, num_unseen, fix):
    with pytest.raises(ValueError, match=re.escape(fix)):
        faces.open_set_splits(labels, num_unseen=num_unseen)
