"""The explorer, driven headless: setting a slider's value redraws synchronously."""

import os

import numpy as np
import pytest
import torch

from minifacenet import widgets as W
from minifacenet.data import DataError
from minifacenet.geometry import make_head, synthetic_2d
from minifacenet.losses import ArcFace


def brute_force(explorer):
    head = make_head(explorer.loss.value, m=explorer.m_slider.value, s=explorer.s_slider.value,
                     weight=explorer.weight)  # fmt: skip
    logits = (
        head.logits(torch.as_tensor(explorer.embeddings), torch.as_tensor(explorer.labels)).detach().numpy()
    )
    target = logits[np.arange(len(logits)), explorer.labels]
    logits[np.arange(len(logits)), explorer.labels] = -np.inf
    return int((target <= logits.max(1)).sum())


def test_synthetic_explorer_counts_and_redraws():
    explorer = W.MarginExplorer()
    assert explorer.renderer_name == "matplotlib" and explorer.embeddings.shape[1] == 2
    before = explorer.view.widget.value
    counts = []
    for m in (0.0, 0.2, 0.4):
        explorer.m_slider.value = m
        counts.append(explorer.violations)
        assert explorer.violations == brute_force(explorer)
        assert str(explorer.violations) in explorer.violations_label.value
    assert counts == sorted(counts) and counts[-1] > counts[0]
    assert explorer.view.widget.value != before  # the image changed with m


def test_css_classes_for_the_browser_test():
    explorer = W.MarginExplorer()
    assert "mfn-explorer" in explorer._dom_classes
    assert "mfn-m-slider" in explorer.m_slider._dom_classes
    assert "mfn-violations" in explorer.violations_label._dom_classes
    assert "mfn-figure" in explorer.view.widget._dom_classes
    assert explorer.view.widget in explorer.children


def test_sphereface_switches_m_to_integers_and_back():
    explorer = W.MarginExplorer(m=0.3)
    explorer.loss.value = "sphereface"
    assert explorer.m_slider.step == 1 and explorer.m_slider.min == 1
    explorer.m_slider.value = 3
    assert explorer.violations == brute_force(explorer)
    explorer.loss.value = "cosface"
    assert explorer.m_slider.step == 0.01 and explorer.violations == brute_force(explorer)


def test_s_changes_the_probability_view_not_the_count():
    explorer = W.MarginExplorer(loss="cosface", m=0.1)
    count, curve = explorer.violations, explorer.view.probability.current.get_ydata().copy()
    explorer.s_slider.value = 30
    assert explorer.violations == count
    assert explorer.view.probability.current.get_ydata().max() > curve.max()


def test_head_with_2d_embeddings():
    torch.manual_seed(0)
    head = ArcFace(2, 5, s=12.0, m=0.25)
    labels = torch.randint(0, 5, (400,))
    embeddings = 3 * head.weight.detach()[labels] + torch.randn(400, 2)
    explorer = W.MarginExplorer(head=head, embeddings=embeddings, labels=labels)
    assert (
        explorer.loss.value == "arcface" and explorer.m_slider.value == 0.25 and explorer.s_slider.value == 12
    )
    assert explorer.violations == brute_force(explorer)


@pytest.mark.parametrize("renderer", ["plotly-static", "plotly"])
def test_3d_embeddings_get_the_sphere(renderer):
    if renderer == "plotly":
        pytest.importorskip("anywidget")
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(4, 3))
    labels = rng.integers(0, 4, 200)
    embeddings = weight[labels] + rng.normal(scale=0.7, size=(200, 3))
    explorer = W.MarginExplorer(weight=weight, embeddings=embeddings, labels=labels, renderer=renderer)
    explorer.m_slider.value = 0.4
    assert explorer.violations == brute_force(explorer)
    assert len(explorer.view.figure.data[2].x) == explorer.violations  # all 200 points are drawn
    if renderer == "plotly-static":
        assert "text/html" in explorer.view.widget.outputs[0]["data"]


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="together"):
        W.MarginExplorer(embeddings=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="2-D or 3-D"):
        W.MarginExplorer(weight=np.eye(4), embeddings=np.ones((3, 4)), labels=np.zeros(3))
    with pytest.raises(ValueError, match="choose one of"):
        W.MarginExplorer(renderer="svg")


def test_trained_mode_swaps_in_cached_embeddings(tmp_path):
    """The second mode reads each margin's embeddings from the cache and snaps m to them."""
    saved = {}
    for m, seed in ((0.0, 1), (0.2, 2)):
        embeddings, labels, weight = synthetic_2d(num_classes=10, per_class=10, seed=seed)
        path = W.trained_path(loss="cosface", m=m, s=10.0, limit=100, epochs=1, seed=0, folder=tmp_path)
        np.savez(path, embeddings=embeddings, labels=labels, weight=weight)
        saved[m] = embeddings
    explorer = W.MarginExplorer(loss="cosface", m=0.0, s=10.0)
    explorer.use_trained_models(margins=(0.0, 0.2), limit=100, epochs=1, folder=tmp_path)
    np.testing.assert_array_equal(explorer.embeddings, saved[0.0])
    explorer.m_slider.value = 0.15  # snaps to 0.2: the other cached model
    assert explorer.m_slider.value == 0.2
    np.testing.assert_array_equal(explorer.embeddings, saved[0.2])
    assert explorer.violations == brute_force(explorer)
    assert explorer.view.widget in explorer.children


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("MINIFACENET_SLOW"), reason="set MINIFACENET_SLOW=1 (loads MNIST, trains)"
)
def test_trained_embeddings_train_once_then_read_the_cache(tmp_path):
    try:
        first = W.trained_embeddings(loss="cosface", m=0.1, limit=64, epochs=1, folder=tmp_path)
    except DataError as error:
        pytest.skip(f"MNIST not available: {error}")
    assert first[0].shape == (64, 2) and first[2].shape == (10, 2)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    again = W.trained_embeddings(loss="cosface", m=0.1, limit=64, epochs=1, folder=tmp_path)
    np.testing.assert_array_equal(first[0], again[0])


def test_trained_cache_files_are_named_with_the_recipe_version(tmp_path):
    """A model cached before a recipe change must not be shown after it."""
    path = W.trained_path(loss="arcface", m=0.2, s=10.0, limit=2000, epochs=4, seed=0, folder=tmp_path)
    assert path.name.startswith(f"v{W.RECIPE_VERSION}-arcface-m0.200-")
    old = tmp_path / "arcface-m0.200-s10-n2000-e4-seed0.npz"  # the name before versions
    assert path != old
