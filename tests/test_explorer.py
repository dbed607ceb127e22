"""The explorer, driven headless: setting a control's value counts and redraws synchronously
(outside a kernel); inside an event loop only the latest of several moves is drawn."""

import asyncio
import os

import numpy as np
import pytest
import torch
from test_geometry import brute_force_violations

from minifacenet import explorer as widgets
from minifacenet import losses
from minifacenet.data import DataError
from minifacenet.explorer import cache as explorer_cache
from minifacenet.geometry import CURVE_THETA, loss_class, synthetic_2d
from minifacenet.losses import ArcFace, Softmax, SphereFace, sphereface_psi


def brute_force(explorer):
    integer = loss_class(explorer.loss.value).integer_margin
    m = round(explorer.m_slider.value) if integer else explorer.m_slider.value
    return brute_force_violations(
        explorer.embeddings, explorer.labels, explorer.weight, explorer.loss.value, m
    )


def test_synthetic_explorer_counts_and_redraws():
    explorer = widgets.MarginExplorer()
    assert explorer.renderer_name == "matplotlib" and explorer.embeddings.shape[1] == 2
    before = explorer.image.value
    counts = []
    for m in (0.0, 0.2, 0.4):
        explorer.m_slider.value = m
        counts.append(explorer.violations)
        assert explorer.violations == brute_force(explorer) == explorer.frame.count
        assert str(explorer.violations) in explorer.violations_label.value
    assert counts == sorted(counts) and counts[-1] > counts[0]
    assert explorer.image.value != before  # the image changed with m


def test_css_classes_for_the_browser_test():
    explorer = widgets.MarginExplorer()
    assert "mfn-explorer" in explorer._dom_classes
    assert "mfn-m-slider" in explorer.m_slider._dom_classes
    assert "mfn-violations" in explorer.violations_label._dom_classes
    assert "mfn-figure" in explorer.image._dom_classes
    assert explorer.image in explorer.children


def test_sphereface_switches_m_to_integers_and_back():
    explorer = widgets.MarginExplorer(m=0.3)
    explorer.loss.value = "sphereface"
    assert explorer.m_slider.step == 1 and explorer.m_slider.min == 1
    explorer.m_slider.value = 3
    assert explorer.violations == brute_force(explorer)
    explorer.loss.value = "cosface"
    assert explorer.m_slider.step == 0.01 and explorer.violations == brute_force(explorer)


def test_sphereface_head_at_its_default_m_4():
    """Issue 15.1: this raised 'margin m must be < 3.142' and left the figure stale."""
    embeddings, labels, _ = synthetic_2d(num_classes=8, per_class=20)
    head = SphereFace(2, 8, m=4)
    explorer = widgets.MarginExplorer(head=head, embeddings=embeddings, labels=labels)
    assert explorer.loss.value == "sphereface" and explorer.m_slider.value == 4
    assert explorer.violations == brute_force(explorer)
    before = explorer.image.value
    explorer.m_slider.value = 5
    explorer.m_slider.value = 4
    explorer.m_slider.value = 6
    assert explorer.frame.margin.m == 6 and explorer.image.value != before


def test_sphereface_head_m_2_draws_psi_2_and_leaves_cosface_at_its_own_m():
    """Notebook 03's explorer: SphereFace's integer m = 2 is no CosFace/ArcFace margin (it once was)."""
    embeddings, labels, _ = synthetic_2d(num_classes=7, per_class=20)
    explorer = widgets.MarginExplorer(head=SphereFace(2, 7, m=2), embeddings=embeddings, labels=labels)
    theta = torch.as_tensor(CURVE_THETA)
    curves = explorer.frame.curves
    np.testing.assert_allclose(curves["sphereface"], sphereface_psi(torch.cos(theta), 2).numpy(), atol=1e-12)
    np.testing.assert_allclose(curves["cosface"], np.cos(CURVE_THETA) - 0.2, atol=1e-12)
    assert explorer.violations == brute_force(explorer)


def test_s_changes_the_probability_view_not_the_count():
    explorer = widgets.MarginExplorer(loss="cosface", m=0.1)
    count, curve = explorer.violations, explorer.view.probability.current.get_ydata().copy()
    arcs = explorer.frame.arcs
    explorer.s_slider.value = 30
    assert explorer.violations == count and explorer.frame.arcs is arcs  # not recomputed
    assert explorer.view.probability.current.get_ydata().max() > curve.max()


def test_public_controls_for_m1_m3_and_easy_margin():
    explorer = widgets.MarginExplorer(loss="combined", m=0.2)
    assert explorer.m1_slider.layout.display is None and explorer.easy_margin.layout.display == "none"
    before = explorer.violations
    explorer.m3_slider.value = 0.4
    assert explorer.frame.margin.m3 == 0.4 and explorer.violations >= before
    explorer.m1_slider.value = 1.5
    assert explorer.frame.margin.m1 == 1.5
    explorer.loss.value = "arcface"
    assert explorer.easy_margin.layout.display is None and explorer.m1_slider.layout.display == "none"
    explorer.m_slider.value = 0.6
    hard = explorer.violations
    explorer.easy_margin.value = True
    assert explorer.frame.margin.easy_margin and explorer.violations <= hard


def test_head_with_2d_embeddings():
    torch.manual_seed(0)
    head = ArcFace(2, 5, s=12.0, m=0.25)
    labels = torch.randint(0, 5, (400,))
    embeddings = 3 * head.weight.detach()[labels] + torch.randn(400, 2)
    explorer = widgets.MarginExplorer(head=head, embeddings=embeddings, labels=labels)
    assert explorer.loss.value == "arcface" and explorer.m_slider.value == 0.25
    assert explorer.s_slider.value == 12 and explorer.violations == brute_force(explorer)


def sphere_data(count=200, seed=0):
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(4, 3))
    labels = rng.integers(0, 4, count)
    return weight[labels] + rng.normal(scale=0.7, size=(count, 3)), labels, weight


def test_3d_plotly_figure_widget_outside_colab():
    pytest.importorskip("anywidget")
    embeddings, labels, weight = sphere_data()
    explorer = widgets.MarginExplorer(weight=weight, embeddings=embeddings, labels=labels, renderer="plotly")
    explorer.m_slider.value = 0.4
    assert explorer.violations == brute_force(explorer)
    assert len(explorer.plotly_figure.data[2].x) == explorer.violations  # all 200 points are drawn
    assert explorer.plotly_figure in explorer.children


def test_3d_matplotlib_sphere_turns_with_its_sliders():
    embeddings, labels, weight = sphere_data()
    explorer = widgets.MarginExplorer(
        weight=weight, embeddings=embeddings, labels=labels, renderer="matplotlib"
    )
    assert explorer.azimuth.layout.display is None and explorer.image in explorer.children
    explorer.m_slider.value = 0.4
    assert explorer.violations == brute_force(explorer)
    before = explorer.image.value
    explorer.azimuth.value = 120
    assert explorer.image.value != before and explorer.violations == brute_force(explorer)


def test_strangers_drawn_in_black_and_toggled():
    embeddings, labels, weight = synthetic_2d(num_classes=6, per_class=20)
    strangers, _, _ = synthetic_2d(num_classes=3, per_class=10, seed=5)
    explorer = widgets.MarginExplorer(
        embeddings=embeddings, labels=labels, weight=weight, strangers=strangers
    )
    line = explorer.view.circle.strangers
    assert len(line.get_xdata()) == 30 and line.get_color() == "black" and line.get_visible()
    assert explorer.show_strangers.layout.display is None
    shown = explorer.image.value
    explorer.show_strangers.value = False
    assert not line.get_visible() and explorer.image.value != shown
    assert widgets.MarginExplorer().show_strangers.layout.display == "none"  # no strangers, no checkbox
    with pytest.raises(ValueError, match=r"strangers must be embeddings \[K, 2\]"):
        widgets.MarginExplorer(embeddings=embeddings, labels=labels, weight=weight, strangers=np.ones((3, 3)))


def test_drags_do_not_pile_up_in_an_event_loop():
    """Five moves while the kernel is busy: five counts, one drawing, of the last value."""
    explorer = widgets.MarginExplorer(loss="arcface", m=0.0)
    runs = explorer.drawer.runs

    async def drag():
        counts = []
        for m in (0.1, 0.2, 0.3, 0.4, 0.5):
            explorer.m_slider.value = m
            counts.append(explorer.violations)
        assert explorer.drawer.runs == runs and explorer.frame.margin.m == 0.0  # nothing drawn yet
        await asyncio.sleep(0)
        return counts

    counts = asyncio.run(drag())
    assert explorer.drawer.runs == runs + 1 and explorer.frame.margin.m == 0.5
    assert counts == sorted(counts) and counts[-1] == explorer.frame.count


def test_during_training_mode_scrubs_snapshots():
    """A synthetic history["snapshots"]: features migrate towards their weights as steps go on."""
    final, labels, weight = synthetic_2d(num_classes=5, per_class=30, spread=0.15)
    rng = np.random.default_rng(0)
    start = rng.normal(size=final.shape)
    snapshots = [
        {
            "step": step,
            "fraction": step / 40,
            "weights": weight if step else None,
            "embeddings": (1 - step / 40) * start + (step / 40) * final,
        }
        for step in (0, 10, 20, 40)
    ]
    explorer = widgets.MarginExplorer(embeddings=final, labels=labels, weight=weight, loss="arcface", m=0.2)
    explorer.use_snapshots(snapshots, labels=labels)
    assert explorer.step_slider.max == 3 and explorer.step_slider.value == 3
    assert explorer.step_slider.layout.display is None
    np.testing.assert_allclose(explorer.embeddings, final)
    last = explorer.violations
    explorer.step_slider.value = 0  # no weights at step 0: class mean directions
    np.testing.assert_allclose(explorer.embeddings, start)
    assert explorer.violations == brute_force(explorer) and explorer.violations > last
    assert "step 0" in explorer.status.value
    explorer.m_slider.value = 0.4  # the margin still moves on a snapshot
    assert explorer.violations == brute_force(explorer)
    with pytest.raises(ValueError, match="snapshot_every"):
        explorer.use_snapshots([], labels=labels)
    # strangers ride along in the snapshots, labelled -1, and move with each step
    marked = np.where(labels == 4, -1, labels)
    explorer.use_snapshots(snapshots, labels=marked)
    assert explorer.scene.strangers is not None and len(explorer.scene.strangers) == (labels == 4).sum()
    explorer.step_slider.value = 1
    np.testing.assert_allclose(
        explorer.scene.strangers
        * np.linalg.norm(snapshots[1]["embeddings"][labels == 4], axis=1, keepdims=True),
        snapshots[1]["embeddings"][labels == 4],
    )


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="together"):
        widgets.MarginExplorer(embeddings=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="2-D or 3-D"):
        widgets.MarginExplorer(weight=np.eye(4), embeddings=np.ones((3, 4)), labels=np.zeros(3))
    with pytest.raises(ValueError, match="choose one of"):
        widgets.MarginExplorer(renderer="svg")
    with pytest.raises(ValueError, match="softmax head puts no margin"):
        widgets.MarginExplorer(loss="softmax")
    with pytest.raises(ValueError, match="softmax head puts no margin"):
        widgets.MarginExplorer(head=Softmax(2, 3), embeddings=np.ones((3, 2)), labels=np.zeros(3))
    with pytest.raises(ValueError, match="at least 2 classes"):
        widgets.MarginExplorer(weight=np.ones((1, 2)), embeddings=np.ones((3, 2)), labels=np.zeros(3))
    embeddings, labels, weight = synthetic_2d(num_classes=3, per_class=4)
    embeddings[2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        widgets.MarginExplorer(weight=weight, embeddings=embeddings, labels=labels)


def test_a_softmax_model_can_be_read_through_a_named_margin():
    embeddings, labels, _ = synthetic_2d(num_classes=3, per_class=10)
    head = Softmax(2, 3)
    explorer = widgets.MarginExplorer(head=head, embeddings=embeddings, labels=labels, loss="normface")
    assert explorer.loss.value == "normface" and explorer.violations == brute_force(explorer)


def test_trained_mode_swaps_in_cached_embeddings(tmp_path):
    """The second mode reads each margin's embeddings from the cache and snaps m to them."""
    saved = {}
    for m, seed in ((0.0, 1), (0.2, 2)):
        embeddings, labels, weight = synthetic_2d(num_classes=10, per_class=10, seed=seed)
        path = widgets.trained_path(loss="cosface", m=m, s=10.0, limit=100, epochs=1, seed=0, folder=tmp_path)
        np.savez(path, embeddings=embeddings, labels=labels, weight=weight)
        saved[m] = embeddings
    explorer = widgets.MarginExplorer(loss="cosface", m=0.0, s=10.0)
    explorer.use_trained_models(margins=(0.0, 0.2), limit=100, epochs=1, folder=tmp_path)
    np.testing.assert_array_equal(explorer.embeddings, saved[0.0])
    explorer.m_slider.value = 0.15  # snaps to 0.2: the other cached model
    assert explorer.m_slider.value == 0.2
    np.testing.assert_array_equal(explorer.embeddings, saved[0.2])
    assert explorer.violations == brute_force(explorer) == explorer.frame.count
    assert explorer.image in explorer.children


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("MINIFACENET_SLOW"), reason="set MINIFACENET_SLOW=1 (loads MNIST, trains)"
)
def test_trained_embeddings_train_once_then_read_the_cache(tmp_path):
    try:
        first = widgets.trained_embeddings(loss="cosface", m=0.1, limit=64, epochs=1, folder=tmp_path)
    except DataError as error:
        pytest.skip(f"MNIST not available: {error}")
    assert first.embeddings.shape == (64, 2) and first.weight.shape == (7, 2)  # digits 7-9 held out
    assert first.strangers.shape[1] == 2 and set(first.stranger_labels.tolist()) == {7, 8, 9}
    assert len(list(tmp_path.glob("*.npz"))) == 1
    again = widgets.trained_embeddings(loss="cosface", m=0.1, limit=64, epochs=1, folder=tmp_path)
    np.testing.assert_array_equal(first.embeddings, again.embeddings)


def test_trained_cache_files_are_named_with_the_recipe_version(tmp_path, monkeypatch):
    """A model cached before a recipe change must not be shown after it, nor one of another m."""
    setting = {"loss": "arcface", "s": 10.0, "limit": 2000, "epochs": 4, "seed": 0, "folder": tmp_path}
    path = widgets.trained_path(m=0.2, **setting)
    assert path.parent == tmp_path and path.name.startswith(f"v{widgets.RECIPE_VERSION}-arcface-m0.200-")
    assert widgets.trained_path(m=0.3, **setting) != path
    monkeypatch.setattr(explorer_cache, "RECIPE_VERSION", widgets.RECIPE_VERSION + 1)
    assert widgets.trained_path(m=0.2, **setting) != path


def fake_model(seed: int) -> widgets.TrainedModel:
    """A stand-in for a trained model: synthetic seen classes and three stranger classes."""
    embeddings, labels, weight = synthetic_2d(num_classes=7, per_class=20, seed=seed)
    strangers, stranger_labels, _ = synthetic_2d(num_classes=3, per_class=10, seed=seed + 100)
    return widgets.TrainedModel(embeddings, labels, weight, strangers, stranger_labels + 7)


def test_trained_mode_trains_ahead_in_a_thread_with_the_slider_disabled(monkeypatch, tmp_path):
    """No training inside a slider callback: every margin trains first, in a thread, while the
    m slider is disabled; then a move only swaps models, and the strangers' TAR stands beside it."""
    import threading

    from minifacenet.explorer import widget as widget_module

    gate, trained = threading.Event(), []

    def fake_training(*, loss, m, **settings):
        gate.wait(10)
        trained.append((loss, m))
        return fake_model(seed=int(10 * m))

    monkeypatch.setattr(widget_module, "trained_embeddings", fake_training)
    explorer = widgets.MarginExplorer(loss="cosface", m=0.0, s=10.0)
    explorer.use_trained_models(margins=(0.0, 0.2), folder=tmp_path)
    assert explorer.m_slider.disabled and explorer.progress.layout.display is None
    gate.set()
    explorer.wait(10)
    assert trained == [("cosface", 0.0), ("cosface", 0.2)] and not explorer.m_slider.disabled
    explorer.m_slider.value = 0.17  # snaps to 0.2, trains nothing
    assert explorer.m_slider.value == 0.2 and len(trained) == 2
    np.testing.assert_array_equal(explorer.embeddings, fake_model(seed=2).embeddings)
    assert explorer.violations == brute_force(explorer)
    table = explorer.scores.value
    assert "strangers' TAR@FAR" in table and table.count("<tr>") == 3 and "–" not in table


def test_the_m_slider_goes_down_to_the_class_lower_bound():
    explorer = widgets.MarginExplorer(loss="cosface", m=0.1)
    assert explorer.m_slider.min == losses.CosFace.margin_range[0] == losses.NEGATIVE_MIN_M
    explorer.m_slider.value = -0.3
    assert explorer.violations == brute_force(explorer)
    explorer.loss.value = "sphereface"
    assert explorer.m_slider.min == 1 and explorer.m_slider.step == 1
    explorer.loss.value = "combined"
    assert explorer.m_slider.min == 0.0  # m2 takes no negative margin


def test_a_slider_move_builds_no_head_and_counts_violations_once(monkeypatch):
    from minifacenet.geometry import CosineCache

    built, counted = [], []
    real_init, real_violations = losses.MarginHead.__init__, CosineCache.violations

    def counting_init(self, *args, **kwargs):
        built.append(1)
        real_init(self, *args, **kwargs)

    def counting_violations(self, margin):
        counted.append(1)
        return real_violations(self, margin)

    monkeypatch.setattr(losses.MarginHead, "__init__", counting_init)
    monkeypatch.setattr(CosineCache, "violations", counting_violations)
    explorer = widgets.MarginExplorer(loss="arcface", m=0.1)
    built.clear(), counted.clear()
    explorer.m_slider.value = 0.3
    assert built == [] and len(counted) == 1
