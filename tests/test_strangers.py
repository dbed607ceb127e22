"""One digit-pairs experiment: paired runs, both kinds of strangers, and the CLI's ``--dataset pairs``."""

from __future__ import annotations

import json

import pytest

from minifacenet import cli, pairs
from minifacenet.pairs import digit_pairs
from minifacenet.strangers import STRANGER_KINDS, run_experiment


@pytest.fixture(scope="module")
def tiny(data_dir):
    return pairs.digit_pairs(7, train_images=280, test_per_class=6, root=data_dir)


def test_an_experiment_scores_both_kinds_of_strangers(tiny):
    result = run_experiment("cosface", tiny, dim=4, seed=0, device="cpu", s=16.0, m=-0.2)
    assert set(result["strangers"]) == set(STRANGER_KINDS)
    for kind in STRANGER_KINDS:
        report = result["strangers"][kind]
        assert report["metric"] == "cosine" and report["images"] == 14 * 6
        assert 0.0 <= report["tar@far=0.001"] <= report["tar@far=0.01"] <= 1.0
    assert 0.0 <= result["closed_set"] <= 1.0 and result["classes"] == 7


def test_an_experiment_is_reproducible_for_a_seed(tiny):
    first = run_experiment("normface", tiny, dim=4, seed=3, device="cpu", s=16.0)
    second = run_experiment("normface", tiny, dim=4, seed=3, device="cpu", s=16.0)
    assert first["strangers"] == second["strangers"] and first["closed_set"] == second["closed_set"]


def test_cosface_at_m_zero_is_normface_run_for_run(tiny):
    # the sweep's m = 0 point stands for NormFace: the same network, batches and numbers
    normface = run_experiment("normface", tiny, dim=4, seed=1, device="cpu", s=16.0)
    cosface = run_experiment("cosface", tiny, dim=4, seed=1, device="cpu", s=16.0, m=0.0)
    assert normface["strangers"] == cosface["strangers"]


def test_the_cli_trains_on_pairs_and_writes_both_blocks(data_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    built = []  # the digit pairs are built once per run: the split and the strangers share them
    monkeypatch.setattr(pairs, "digit_pairs", lambda *a, **k: built.append(1) or digit_pairs(*a, **k))
    cli.digit_pairs_once.cache_clear()
    argv = ["train", "--dataset", "pairs", "--pair-classes", "7", "--loss", "arcface", "--margin", "-0.1"]
    argv += ["--scale", "16", "--dim", "4", "--epochs", "1", "--limit", "300", "--out", str(out)]
    assert cli.main([*argv, "--data-root", str(data_dir)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["strangers"]) == set(STRANGER_KINDS)
    assert metrics["strangers"]["new_parts"]["images"] == 1400
    printed = capsys.readouterr().out
    assert "familiar strangers:" in printed and "new_parts strangers:" in printed
    assert len(built) == 1, f"the digit pairs were built {len(built)} times in one run"


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--pair-classes", "7"], "--pair-classes is for --dataset pairs"),
        (["--dataset", "pairs", "--unseen-classes", "7", "8"], "held out by construction"),
    ],
)
def test_pair_options_are_checked_before_any_data_load(argv, reason, capsys, tmp_path):
    assert cli.main(["train", *argv, "--out", str(tmp_path / "x")]) == 2
    assert reason in capsys.readouterr().err


def test_a_class_count_off_the_latin_square_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--dataset", "pairs", "--pair-classes", "10"])
    assert "invalid choice" in capsys.readouterr().err


def fake_run(loss: str, m, classes: int, seed: int, tar: float) -> dict:
    report = {"tar@far=0.01": tar, "tar@far=0.001": tar / 2}
    return {
        "loss": loss,
        "m": m,
        "classes": classes,
        "seed": seed,
        "closed_set": 0.9,
        "strangers": {"familiar": report, "new_parts": report},
    }


def test_a_paired_gap_uses_only_seeds_both_runs_have():
    from minifacenet import strangers

    runs = [
        fake_run("softmax", None, 7, 0, 0.10),
        fake_run("softmax", None, 7, 1, 0.20),
        fake_run("cosface", 0.0, 7, 1, 0.26),  # CosFace at m = 0 is the NormFace control
        fake_run("cosface", 0.0, 7, 2, 0.90),  # no softmax on seed 2: not paired
        fake_run("cosface", 0.0, 35, 0, 0.50),  # another class count
    ]
    gaps = strangers.paired_gap(runs, strangers.NORMFACE, strangers.SOFTMAX, 7, "familiar", "tar@far=0.01")
    assert gaps == pytest.approx([6.0])
    assert strangers.format_gaps([6.0, -2.0]) == "+2.0 [-2.0, +6.0] 1/2"
    assert "| 7 | NormFace − softmax (normalising) | +6.0 [+6.0, +6.0] 1/1 |" in strangers.curve_table(runs)


def test_the_lesson_figures_draw_from_runs():
    from minifacenet import strangers, viz

    runs = [
        fake_run("cosface", m, c, s, 0.3 + m / 4) for m in strangers.SWEEP_M for c in (7, 35) for s in (0, 1)
    ]
    runs += [
        fake_run(loss, m, c, s, 0.3)
        for loss, m in (("softmax", None), ("arcface", 0.3))
        for c in strangers.CURVE_CLASSES
        for s in (0, 1)
    ]
    sweep = viz.plot_margin_sweep(runs)
    assert len(sweep.axes) == 6
    # one legend, in the empty sixth panel, so that it hides no curve
    legends = [ax.get_legend() for ax in sweep.axes]
    assert [legend is not None for legend in legends] == [False] * 5 + [True]
    entries = [text.get_text() for text in legends[5].get_texts()]
    assert entries == ["7 training classes", "35 training classes"]
    assert len(viz.plot_class_count(runs).axes) == 4
