"""Metrics against direct scikit-learn / NumPy computations on synthetic embeddings."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score, roc_auc_score
from sklearn.neighbors import KNeighborsClassifier

from minifacenet import metrics


def clustered(num_classes=5, per_class=8, dim=16, noise=0.05, seed=0):
    """Each class a tight cloud around its own orthogonal axis: perfectly separable."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes), per_class)
    x = np.eye(dim)[labels] + noise * rng.standard_normal((len(labels), dim))
    return x, labels


def noise(num_classes=10, per_class=20, dim=32, seed=0):
    """Embeddings that know nothing about the labels."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_classes * per_class, dim)), np.repeat(np.arange(num_classes), per_class)


def loop_pairs(x, y):
    """Cosine similarity and same flag of every pair, the slow obvious way."""
    scores, same = [], []
    for i, j in itertools.combinations(range(len(y)), 2):
        scores.append(x[i] @ x[j] / (np.linalg.norm(x[i]) * np.linalg.norm(x[j])))
        same.append(y[i] == y[j])
    return np.array(scores), np.array(same)


def rates(scores, same, threshold):
    """(TAR, FAR) of accepting pairs with score >= threshold."""
    accept = scores >= threshold
    return accept[same].mean(), accept[~same].mean()


def test_pair_scores_match_a_loop():
    x, y = noise(num_classes=4, per_class=5)
    scores, same, pairs = metrics.pair_scores(x, y)
    expected_scores, expected_same = loop_pairs(x, y)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-12)
    np.testing.assert_array_equal(same, expected_same)
    assert pairs.shape == (len(y) * (len(y) - 1) // 2, 2) and (pairs[:, 0] < pairs[:, 1]).all()


def test_separable_set_is_perfect():
    x, y = clustered()
    result = metrics.verification(x, y)
    assert result["auc"] == 1.0
    assert result["eer"] == 0.0
    assert result["tar_at_far"] == {far: 1.0 for far in metrics.FAR_TARGETS}
    assert result["accuracy"] == 1.0
    assert metrics.recognition(x, y) == {"knn_accuracy": 1.0, "gallery_accuracy": 1.0}
    assert all(v == pytest.approx(1.0) for v in metrics.clustering(x, y).values())


def test_noise_is_chance():
    x, y = noise()
    result = metrics.verification(x, y)
    assert abs(result["auc"] - 0.5) < 0.05
    assert abs(result["eer"] - 0.5) < 0.05
    assert abs(result["accuracy"] - 0.5) < 0.05
    assert result["tar_at_far"][0.01] < 0.05
    assert metrics.clustering(x, y)["kmeans_nmi"] < 0.3  # NMI of chance clusters is small, not 0


def test_verification_matches_sklearn_and_brute_force():
    # overlapping classes: neither perfect nor chance
    x, y = clustered(num_classes=6, per_class=10, dim=8, noise=0.6, seed=1)
    result = metrics.verification(x, y)
    scores, same = loop_pairs(x, y)
    assert result["auc"] == pytest.approx(roc_auc_score(same, scores), abs=1e-12)
    assert (result["positives"], result["negatives"]) == (same.sum(), (~same).sum())
    # every threshold in turn: the best TAR at each FAR, and where FAR and FRR cross
    tar_far = np.array([rates(scores, same, t) for t in np.unique(scores)])
    for far in metrics.FAR_TARGETS:
        assert result["tar_at_far"][far] == pytest.approx(tar_far[tar_far[:, 1] <= far, 0].max())
    crossing = np.argmin(np.abs((1 - tar_far[:, 0]) - tar_far[:, 1]))
    step = 1.0 / same.sum()  # FRR moves in steps of one positive pair
    assert abs(result["eer"] - tar_far[crossing, 1]) <= step
    assert 0.05 < result["eer"] < 0.45


def test_best_threshold_maximises_balanced_accuracy():
    x, y = clustered(num_classes=4, per_class=10, dim=8, noise=0.5, seed=2)
    scores, same, _ = metrics.pair_scores(x, y)
    balanced = [(tar + 1 - far) / 2 for tar, far in (rates(scores, same, t) for t in np.unique(scores))]
    tar, far = rates(scores, same, metrics.best_threshold(scores, same))
    assert (tar + 1 - far) / 2 == pytest.approx(max(balanced))


def test_threshold_accuracy_needs_enough_pairs():
    scores = np.linspace(0, 1, 30)
    same = np.zeros(30, dtype=bool)
    same[:3] = True
    with pytest.raises(ValueError, match="fewer folds"):
        metrics.threshold_accuracy(scores, same, num_folds=10)


def test_recognition_matches_sklearn_leave_one_out():
    x, y = clustered(num_classes=5, per_class=6, dim=8, noise=0.7, seed=3)
    predicted = []
    for i in range(len(y)):
        rest = np.arange(len(y)) != i
        knn = KNeighborsClassifier(n_neighbors=1, metric="cosine").fit(x[rest], y[rest])
        predicted.append(knn.predict(x[i : i + 1])[0])
    result = metrics.recognition(x, y)
    assert result["knn_accuracy"] == pytest.approx(np.mean(np.array(predicted) == y))
    assert 0.2 < result["knn_accuracy"] < 1.0
    assert 0.0 <= result["gallery_accuracy"] <= 1.0


def test_recognition_rejects_a_gallery_without_probes():
    x, y = clustered(per_class=2)
    with pytest.raises(ValueError, match="gallery_per_class"):
        metrics.recognition(x, y, gallery_per_class=2)


def test_clustering_matches_sklearn():
    x, y = clustered(num_classes=5, per_class=8, dim=8, noise=0.4, seed=4)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    expected = normalized_mutual_info_score(y, KMeans(5, n_init=10, random_state=0).fit_predict(unit))
    assert metrics.clustering(x, y)["kmeans_nmi"] == pytest.approx(expected)


def at_degrees(*angles):
    """2-D unit vectors at the given angles (degrees)."""
    radians = np.radians(angles)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def test_angle_statistics_on_known_angles():
    # three classes, samples +-10 degrees around 0, 90 and 200 degrees, at different lengths
    x = np.concatenate([at_degrees(c - 10, c + 10) for c in (0, 90, 200)]) * np.array([[1], [3]] * 3)
    y = np.repeat([0, 1, 2], 2)
    weight = at_degrees(5, 95, 180)
    stats = metrics.angle_statistics(x, y, weight=weight)
    assert stats["intra"] == pytest.approx(10.0)
    # nearest other centre: 90, 90, 110 degrees
    assert stats["inter"] == pytest.approx((90 + 90 + 110) / 3)
    assert stats["w_ec"] == pytest.approx((5 + 5 + 20) / 3)
    # nearest other weight: 90, 85, 85 degrees
    assert stats["w_inter"] == pytest.approx((90 + 85 + 85) / 3)
    no_weight = metrics.angle_statistics(torch.tensor(x), torch.tensor(y))
    assert math.isnan(no_weight["w_ec"]) and math.isnan(no_weight["w_inter"])
    assert no_weight["intra"] == pytest.approx(10.0)


def test_angle_statistics_rejects_a_mismatched_weight():
    x, y = clustered(num_classes=3, dim=4)
    with pytest.raises(ValueError, match="weight must be"):
        metrics.angle_statistics(x, y, weight=np.ones((2, 4)))


def test_hardest_pairs_finds_the_planted_mistakes():
    # person 0 at 0, 5, 80 degrees (image 2 drifts towards person 1); person 1 at 90, 95, 200
    x = at_degrees(0, 5, 80, 90, 95, 200)
    y = np.array([0, 0, 0, 1, 1, 1])
    found = metrics.hardest_pairs(x, y, threshold=0.5, count=2)
    accepts = [pair[:2] for pair in found["false_accepts"]]
    rejects = [pair[:2] for pair in found["false_rejects"]]
    assert accepts == [(2, 3), (2, 4)]  # 10 and 15 degrees apart
    assert rejects == [(3, 5), (4, 5)]  # 110 and 105 degrees apart
    assert found["false_rejects"][0][2] == pytest.approx(math.cos(math.radians(110)))


@pytest.mark.parametrize(
    "embeddings, labels, message",
    [
        (np.ones((4, 2)), np.zeros(4), "two identities"),
        (np.ones((4, 2)), np.arange(3), "one label per embedding"),
        (np.full((4, 2), np.nan), np.arange(4), "NaN"),
        (np.ones(4), np.arange(4), "2-D"),
    ],
)
def test_bad_input_is_named(embeddings, labels, message):
    with pytest.raises(ValueError, match=message):
        metrics.verification(embeddings, labels)


def test_verification_needs_positive_pairs():
    with pytest.raises(ValueError, match=">= 2 images per person"):
        metrics.verification(np.eye(4), np.arange(4))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_verification_ignores_embedding_lengths(seed):
    # cosine scores: rescaling any embedding by a positive factor changes nothing
    x, y = clustered(num_classes=4, per_class=6, dim=6, noise=0.5, seed=seed)
    factors = np.random.default_rng(seed).uniform(0.1, 10, size=(len(y), 1))
    a, b = metrics.verification(x, y), metrics.verification(x * factors, y)
    assert a["auc"] == pytest.approx(b["auc"])
    assert a["eer"] == pytest.approx(b["eer"])
    assert a["tar_at_far"] == pytest.approx(b["tar_at_far"])


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("far", [-0.01, math.nan, 1.5, "0.01", True])
def test_a_bad_false_accept_rate_is_named(far):
    x, y = noise(num_classes=4, per_class=5)
    with pytest.raises(ValueError, match=r"false-accept rate must be a number in \[0, 1\]"):
        metrics.verification(x, y, far_targets=(0.01, far), num_folds=2)
    with pytest.raises(ValueError, match="false-accept rate"):
        metrics.tar_at_far(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.8, 1.0]), far)


@pytest.mark.parametrize("value", [1.0, 0.0])
def test_collapsed_embeddings_are_refused_not_an_infinite_threshold(value):
    # every embedding the same vector (or all zero): every pair has the same cosine
    x, y = np.full((20, 3), value), np.repeat(np.arange(4), 5)
    with pytest.raises(ValueError, match="every pair has the same similarity"):
        metrics.verification(x, y, num_folds=2)
    scores, same, _ = metrics.pair_scores(x, y)
    with pytest.raises(ValueError, match="no threshold separates"):
        metrics.threshold_accuracy(scores, same, num_folds=2)


@pytest.mark.parametrize("threshold", [math.nan, math.inf, None])
def test_hardest_pairs_needs_a_finite_threshold(threshold):
    x, y = noise(num_classes=3, per_class=4)
    with pytest.raises(ValueError, match="threshold must be a finite cosine similarity"):
        metrics.hardest_pairs(x, y, threshold=threshold)


@pytest.mark.parametrize(("predictions", "labels"), [([], []), ([1, 2], [1]), (np.zeros(3), np.zeros(4))])
def test_accuracy_of_nothing_or_of_mismatched_lengths_is_an_error(predictions, labels):
    with pytest.raises(ValueError, match="need one per label, and at least one"):
        metrics.accuracy(predictions, labels)


def test_nan_embeddings_are_refused_by_every_metric():
    x, y = clustered(num_classes=3, per_class=4, dim=4)
    x[5, 2] = np.nan
    calls = [
        lambda: metrics.verification(x, y, num_folds=2),
        lambda: metrics.recognition(x, y),
        lambda: metrics.clustering(x, y),
        lambda: metrics.angle_statistics(x, y),
        lambda: metrics.hardest_pairs(x, y, threshold=0.5),
        lambda: metrics.knn_accuracy(x, y, x[:3], y[:3]),
        lambda: metrics.knn_accuracy(x[:3], y[:3], x, y),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="contain NaN or inf: the network diverged"):
            call()


def test_two_points_are_too_few_pairs_not_a_collapsed_network():
    with pytest.raises(ValueError, match=r"1 pair\(s\): a threshold needs at least 2 pairs") as error:
        metrics.threshold_accuracy(np.array([0.3]), np.array([True]), num_folds=1)
    assert "collapsed" not in str(error.value)


@pytest.mark.parametrize("count", [-1, 2.5, True, None])
def test_hardest_pairs_refuses_a_count_that_is_not_a_count(count):
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    with pytest.raises(ValueError, match="count must be a whole number >= 0"):
        metrics.hardest_pairs(x, [0, 0, 1, 1], threshold=0.5, count=count)


@pytest.mark.parametrize("bad_row", [[0.0, 0.0], [math.nan, 1.0]])
def test_angle_statistics_refuses_zero_or_nan_class_weights(bad_row):
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    with pytest.raises(ValueError, match="weight rows must be finite and not all zero"):
        metrics.angle_statistics(x, [0, 0, 1, 1], weight=np.array([[1.0, 0.0], bad_row]))
