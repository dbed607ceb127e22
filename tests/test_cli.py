"""The command line: help, one tiny real run, and one-line errors for bad values."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys

import pytest
import torch

from minifacenet import checkpoint, cli


def option_strings() -> list[str]:
    """Every option of ``minifacenet train``, read from the parser itself."""
    parser = cli.build_parser()
    train = next(a for a in parser._subparsers._group_actions if a.dest == "command").choices["train"]
    return [s for action in train._actions for s in action.option_strings]


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    options = option_strings()
    assert {
        "--loss",
        "--dataset",
        "--dim",
        "--epochs",
        "--margin",
        "--scale",
        "--warmup",
        "--limit",
        "--out",
    } <= set(options)
    assert [o for o in options if o not in text] == []
    assert all(name in text for name in ("arcface", "cosface", "sphereface", "triplet", "olivetti"))


@pytest.fixture
def small_test_split(monkeypatch):
    """Cut the 10000 MNIST test images to 500, so a CLI run takes seconds."""
    full_split = cli.split

    def small_split(name, root, **options):
        train_x, train_y, test_x, test_y = full_split(name, root, **options)
        return train_x, train_y, test_x[:500], test_y[:500]

    monkeypatch.setattr(cli, "split", small_split)


def strict_json(text: str):
    """Parse JSON as a browser would: NaN and Infinity are not JSON."""

    def reject(constant):
        raise ValueError(f"{constant} is not valid JSON")

    return json.loads(text, parse_constant=reject)


@pytest.mark.usefixtures("small_test_split")
def test_tiny_run_writes_checkpoint_metrics_and_figure(mnist_subset, tmp_path, capsys):
    # 512 training images, 1 epoch
    out = tmp_path / "run"
    code = cli.main(["train", "--limit", "512", "--epochs", "1", "--device", "cpu", "--out", str(out)])
    assert code == 0
    assert {p.name for p in out.iterdir()} == {"checkpoint.pt", "metrics.json", "embeddings.png"}
    metrics = strict_json((out / "metrics.json").read_text())
    assert {"test_accuracy", "history", "seconds"} <= set(metrics)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["seconds"] > 0
    assert len(metrics["history"]["loss"]) == 1
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert last_line == f"test_accuracy {100 * metrics['test_accuracy']:.2f}"
    assert (out / "embeddings.png").read_bytes()[:4] == b"\x89PNG"
    assert torch.load(out / "checkpoint.pt", weights_only=True)["loss_name"] == "softmax"


@pytest.mark.usefixtures("small_test_split")
def test_tiny_triplet_run_is_scored_by_nearest_neighbour(mnist_subset, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--loss", "triplet", "--mining", "batch-hard", "--margin", "0.3", "--limit", "200"]
    assert cli.main([*argv, "--epochs", "1", "--device", "cpu", "--out", str(out)]) == 0
    metrics = strict_json((out / "metrics.json").read_text())  # no NaN accuracy in the history
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["history"]["loss"][0] > 0  # 200 images < one P x K batch: still trained
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("test_accuracy ")


@pytest.mark.usefixtures("small_test_split")
@pytest.mark.parametrize(("loss", "metric"), [("softmax", "cosine"), ("contrastive", "euclidean")])
def test_unseen_classes_run_writes_the_open_set_block(mnist_subset, tmp_path, loss, metric):
    out = tmp_path / "run"
    argv = ["train", "--loss", loss, "--unseen-classes", "7", "8", "9", "--limit", "300", "--epochs", "1"]
    assert cli.main([*argv, "--device", "cpu", "--out", str(out)]) == 0
    metrics = strict_json((out / "metrics.json").read_text())
    block = metrics["open_set"]
    assert block["metric"] == metric and block["classes"] == [7, 8, 9]
    assert block["seen_classes"] == [0, 1, 2, 3, 4, 5, 6]
    # the 500 test images hold this many 7s, 8s and 9s
    test_labels = cli.split("mnist", None)[3][:500]
    assert block["images"] == int((test_labels >= 7).sum())
    for key in ("auc", "eer", "tar@far=0.01", "tar@far=0.001", "verification_accuracy", "gallery_accuracy"):
        assert 0.0 <= block[key] <= 1.0
    assert -1.0 <= block["ari"] <= 1.0 and 0.0 <= block["nmi"] <= 1.0
    assert 0.0 <= metrics["test_accuracy"] <= 1.0  # closed-set, on the seen digits
    head = torch.load(out / "checkpoint.pt", weights_only=False)["loss_state"]
    assert loss == "contrastive" or head["weight"].shape[0] == 7  # the head knows 7 classes


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--loss", "largemargin"], "invalid choice: 'largemargin'"),
        (["--dataset", "cifar10"], "invalid choice: 'cifar10'"),
        (["--dim", "1"], "must be >= 2"),
        (["--epochs", "two"], "expected an integer"),
        (["--warmup", "1000"], "must be a fraction of training in [0, 1)"),
    ],
)
def test_bad_flags_exit_non_zero_with_the_reason(argv, reason, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", *argv])
    assert exit_info.value.code != 0
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error" in last_line and reason in last_line


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--loss", "cosface", "--margin", "-0.7"], "CosFace m must be >= -0.5"),
        (["--loss", "triplet", "--margin", "-1"], "margin must be >= 0, got -1.0"),
        (["--loss", "sphereface", "--margin", "2.5"], "integer"),
        (["--loss", "arcface", "--scale", "0"], "scale s must be"),
    ],
)
def test_bad_loss_values_exit_2_with_one_line(mnist_subset, argv, reason, capsys, tmp_path):
    code = cli.main(["train", *argv, "--limit", "64", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and reason in err and err.startswith("minifacenet: error:")


def test_int_at_least_takes_its_minimum_and_refuses_below():
    with pytest.raises(argparse.ArgumentTypeError, match="must be >= 1, got 0"):
        cli.int_at_least(1)("0")
    assert cli.int_at_least(0)("0") == 0 and cli.int_at_least(3)("3") == 3


@pytest.fixture
def no_data(monkeypatch):
    """Any data load fails the test: these arguments must be refused before it."""

    def refuse(name, root):
        raise AssertionError("the data was loaded before the arguments were checked")

    monkeypatch.setattr(cli, "split", refuse)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.usefixtures("no_data", "no_gpu")
@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--lr", "0"], "argument --lr: must be > 0, got 0.0"),
        (["--lr", "nan"], "argument --lr: must be a finite number"),
        (["--margin", "inf", "--loss", "cosface"], "argument --margin: must be a finite number"),
        (["--scale", "nan"], "argument --scale: must be a finite number"),
        (["--device", "nonsense"], "unknown device 'nonsense': use auto, cpu or cuda"),
        (["--device", "cuda"], "this machine has 0 CUDA GPU(s): use --device cpu or auto"),
        (["--device", "cuda:3"], "use --device cpu or auto"),
        (["--shift", "-1"], "must be >= 0, got -1"),
    ],
)
def test_bad_values_are_refused_by_the_parser(argv, reason, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", *argv, "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("minifacenet train: error:") and reason in last_line
    assert not (tmp_path / "run").exists()


def read_only_folder(tmp_path, monkeypatch):
    """A folder this process cannot write (as root, where mode bits do not stop writes, os.access says so)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: path != folder and real_access(path, mode))
    return folder


@pytest.mark.usefixtures("no_data")
@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (
            ["--margin", "0.3"],
            "--margin does nothing for --loss softmax: drop it, or use sphereface, cosface",
        ),
        (["--loss", "normface", "--margin", "0.3"], "--margin does nothing for --loss normface"),
        (["--loss", "sphereface", "--scale", "30"], "--scale does nothing for --loss sphereface"),
        (["--loss", "triplet", "--scale", "30"], "--scale does nothing for --loss triplet"),
        (["--loss", "arcface", "--mining", "batch-hard"], "--mining does nothing for --loss arcface"),
        (["--out", "FILE"], "is a file, not a folder"),
        (["--out", "FILE/run"], "is a file, so the folder cannot be made"),
        (["--out", "READONLY/run"], "is read-only: give a folder you can write"),
        (["--loss", "cosface", "--margin", "-0.6"], "CosFace m must be >= -0.5"),
        (["--warmup", "0.5"], "--warmup does nothing for --loss softmax: drop it, or use sphereface"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_before_loading_data(argv, reason, capsys, tmp_path, monkeypatch):
    existing_file = tmp_path / "results.txt"
    existing_file.write_text("keep me")
    readonly = read_only_folder(tmp_path, monkeypatch)
    argv = [a.replace("FILE", str(existing_file)).replace("READONLY", str(readonly)) for a in argv]
    argv = argv if "--out" in argv else [*argv, "--out", str(tmp_path / "run")]
    code = cli.main(["train", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("minifacenet: error:") and reason in err
    assert existing_file.read_text() == "keep me" and list(readonly.iterdir()) == []


@pytest.mark.usefixtures("small_test_split")
@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_a_diverged_run_saves_nothing_and_says_so(mnist_subset, monkeypatch, capsys, tmp_path, bad):
    def diverging_fit(model, loss, images, labels, **kwargs):
        return {"loss": [1.0, bad], "accuracy": [0.5, 0.1], "seconds": [0.1, 0.1]}

    monkeypatch.setattr(cli, "fit", diverging_fit)
    out = tmp_path / "run"
    argv = ["train", "--loss", "arcface", "--scale", "64", "--limit", "64", "--device", "cpu"]
    code = cli.main([*argv, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert f"training diverged (the loss is {bad} in epoch 2)" in err and "--lr" in err and "--scale" in err
    assert not out.exists()


def test_metrics_json_is_strict_whatever_the_floats():
    metrics = {
        "test_accuracy": math.nan,
        "history": {"loss": [1.0, math.inf, -math.inf]},
        "args": {"lr": 0.1},
    }
    text = json.dumps(cli.json_ready(metrics), allow_nan=False)
    assert strict_json(text) == {
        "test_accuracy": None,
        "history": {"loss": [1.0, None, None]},
        "args": {"lr": 0.1},
    }


@pytest.mark.usefixtures("offline")
def test_missing_data_root_exits_2_naming_the_folder(capsys, tmp_path):
    missing = tmp_path / "nowhere"
    code = cli.main(["train", "--data-root", str(missing), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and str(missing) in err and "MINIFACENET_DATA" in err


def test_module_entry_point_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "minifacenet", "train", "--dataset", "cifar10"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "invalid choice: 'cifar10'" in result.stderr.strip().splitlines()[-1]
    assert result.stdout == ""


# --------------------------------------------------------------------------- issue 21: hostile inputs
@pytest.mark.usefixtures("no_data")
@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--unseen-classes", "9"], "need at least 2 unseen classes of mnist"),
        (["--unseen-classes", *map(str, range(1, 10))], "training needs at least 2 seen classes"),
        (["--unseen-classes", "7", "12"], "mnist has classes 0..9 only"),
        (
            ["--dataset", "olivetti", "--unseen-classes", "1", "2", "3"],
            "at least 4 unseen classes of olivetti",
        ),
        (["--scale", "1e300", "--loss", "arcface"], "--scale 1e+300 overflows the logits: use at most 1000"),
        (["--loss", "contrastive", "--warmup", "0.5"], "--warmup does nothing for --loss contrastive"),
        (["--loss", "triplet", "--warmup", "0.5"], "--warmup does nothing for --loss triplet"),
        (["--out", "DANGLING"], "which does not exist: remove the link or give another folder"),
        (["--out", "DANGLING/run"], "which does not exist: remove the link"),
    ],
)
def test_settings_that_cannot_work_are_refused_before_the_data_load(argv, reason, capsys, tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    argv = [a.replace("DANGLING", str(tmp_path / "link")) for a in argv]
    argv = argv if "--out" in argv else [*argv, "--out", str(tmp_path / "run")]
    code = cli.main(["train", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and reason in err, err
    assert not (tmp_path / "run").exists() and not (tmp_path / "gone").exists()


@pytest.mark.usefixtures("no_data")
@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--lr", "1e300"], "argument --lr: must be <= 10, got 1e+300"),
        (["--epochs", "100000000000000000000000"], "argument --epochs: must be <= 10000"),
        (["--dim", "1000000000000"], "argument --dim: must be <= 4096"),
        (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
        (["--seed", "4294967296"], "argument --seed: must be <= 4294967295"),
        (["--out", ""], "argument --out: an empty path would write into the current folder"),
    ],
)
def test_huge_or_empty_values_are_refused_by_the_parser(argv, reason, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", *argv])
    assert exit_info.value.code == 2
    assert reason in capsys.readouterr().err.strip().splitlines()[-1]


def test_out_expands_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    args = cli.build_parser().parse_args(["train", "--out", "~/runs"])
    assert args.out == str(tmp_path / "runs")


def run_argv(loss: str, out) -> list[str]:
    return ["train", "--loss", loss, "--limit", "128", "--epochs", "1", "--device", "cpu", "--out", str(out)]


def folder_bytes(out) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def interrupted(*args, **kwargs):
    raise KeyboardInterrupt


def full_disk(state, path):
    with open(path, "wb") as file:
        file.write(b"half a checkpoint")
    raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0")


@pytest.mark.usefixtures("small_test_split")
@pytest.mark.parametrize(
    ("target", "fault", "code"), [("evaluate", interrupted, 130), ("save", full_disk, 2)]
)
def test_a_failed_second_run_leaves_the_first_run_whole(
    mnist_subset, tmp_path, monkeypatch, capsys, target, fault, code
):
    out = tmp_path / "run"
    assert cli.main(run_argv("arcface", out)) == 0
    before = folder_bytes(out)
    assert set(before) == set(cli.RUN_FILES)
    monkeypatch.setattr(*((cli, "evaluate") if target == "evaluate" else (torch, "save")), fault)
    assert cli.main(run_argv("cosface", out)) == code
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{out}" in err and "as it was" in err
    assert folder_bytes(out) == before  # no partial file, no lock, the same bytes
    monkeypatch.undo()
    model, loss, config = checkpoint.load_checkpoint(out / "checkpoint.pt")
    metrics = strict_json((out / "metrics.json").read_text())
    assert loss.name == config["loss"] == metrics["args"]["loss"] == "arcface"
    assert metrics["args"] == config


@pytest.mark.usefixtures("no_data")
def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    with cli.run_folder(out):  # a first run holds the folder
        assert cli.main(run_argv("softmax", out)) == 2
    err = capsys.readouterr().err.strip()
    assert "is in use by another run" in err and "give another --out" in err and cli.LOCK_FILE in err
    assert not out.exists()  # made for the first run, which wrote nothing, and removed again


def test_a_run_folder_holds_no_lock_after_a_run(tmp_path):
    with cli.run_folder(tmp_path) as out:
        (out / "checkpoint.pt").write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
