"""The ``bpcore`` command end to end, in temporary folders."""

from __future__ import annotations

import csv
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import bpcore
import numpy as np
import pytest
from bpcore._names import HIDDEN_ACTIVATIONS
from bpcore.cli import main
from bpcore.config import Config, load_config

PYTHON_DIR = Path(bpcore.__file__).resolve().parent.parent


def check_png(path):
    raw = Path(path).read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR"
    width, height = struct.unpack(">II", raw[16:24])
    assert width >= 100 and height >= 100 and len(raw) > 2000


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err, *fragments):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], lines[0]


# ---------------------------------------------------------------------- help and version
def test_version(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"bpcore {bpcore.__version__}"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["train"],
        ["predict"],
        ["evaluate"],
        ["plot"],
        ["plot", "activations"],
        ["plot", "history"],
        ["plot", "regions"],
    ],
)
def test_help_on_every_command(capsys, args):
    code, out, _ = run_cli(capsys, *args, "--help")
    assert code == 0
    assert out.startswith("usage: bpcore")


def test_usage_errors_exit_2_with_one_line(capsys):
    code, _, err = run_cli(capsys)
    assert code == 2
    assert_one_line_error(err, "required: COMMAND", "--help")
    code, _, err = run_cli(capsys, "train", "--bogus")
    assert code == 2
    assert_one_line_error(err, "unrecognized arguments: --bogus")
    code, _, err = run_cli(capsys, "predict", "only-one-arg")
    assert code == 2
    assert_one_line_error(err, "bpcore predict: error", "DATA")
    code, _, err = run_cli(capsys, "plot", "nothing")
    assert code == 2
    assert_one_line_error(err, "invalid choice: 'nothing'")


# ---------------------------------------------------------------------- the default run
def test_default_train_reaches_95_percent_on_iris(tmp_path):
    """`python -m bpcore train --out DIR`: the notes' 4-5-3 network, with the progress bar."""
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR))
    env.pop("BPCORE_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bpcore", "train", "--out", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    m = re.search(
        r"train: J = ([0-9.e-]+) on 150 samples, accuracy ([0-9.]+)% \((\d+)/150\)", proc.stdout
    )
    assert m, proc.stdout
    assert float(m.group(2)) >= 95.0 and int(m.group(3)) >= 143
    assert float(m.group(1)) < 0.05
    assert "network 4-5-3: 100 epochs" in proc.stdout
    assert "100/100" in proc.stderr and "J=" in proc.stderr  # the tqdm bar with the running J
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == [
        "config.toml",
        "history.json",
        "loss.png",
        "model.safetensors",
    ]
    check_png(run / "loss.png")
    used = load_config(run / "config.toml")
    assert used == Config(output={"dir": "run"})
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 100 and history["loss"][-1] < history["loss"][0]
    net = bpcore.load(run / "model.safetensors")
    assert net.sizes == [4, 5, 3] and net.activations == ["sigmoid", "sigmoid"]
    assert net.preprocessing.classes == ["setosa", "versicolor", "virginica"]
    # predictions of the saved model reproduce the printed accuracy
    iris = bpcore.datasets.load_iris()
    labels = net.preprocessing.predict(net, iris.X)
    correct = int((labels == np.asarray(iris.target_names)[iris.y]).sum())
    assert correct == int(m.group(3))


def test_quiet_train_with_overrides(tmp_path, capsys):
    code, out, err = run_cli(
        capsys,
        "train",
        "--out",
        str(tmp_path / "o"),
        "--quiet",
        "--set",
        "training.epochs=5",
        "--set",
        "network.hidden=[3]",
        "--set",
        "data.validation_fraction=0.2",
        "--threads",
        "1",
    )
    assert code == 0, err
    assert err == ""
    assert "network 4-3-3: 5 epochs" in out
    assert re.search(r"validation: J = .* on 30 samples, accuracy", out)
    cfg = load_config(tmp_path / "o" / "config.toml")
    assert cfg.training.epochs == 5 and cfg.training.n_threads == 1 and cfg.network.hidden == [3]


# ---------------------------------------------------------------------- a user's CSV
@pytest.fixture
def user_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 90
    X = rng.normal(size=(n, 3)) * [1.0, 20.0, 0.1] + [0.0, 100.0, 5.0]
    score = X[:, 0] + (X[:, 1] - 100) / 20
    kind = np.where(score > 0.6, "high", np.where(score < -0.6, "low", "mid"))
    data = tmp_path / "data"
    data.mkdir()
    path = data / "samples.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x1", "x2", "kind", "x3"])
        for row, k in zip(X, kind):
            w.writerow([f"{row[0]:.5f}", f"{row[1]:.4f}", k, f"{row[2]:.5f}"])
    config = tmp_path / "my.toml"
    config.write_text(
        '[network]\nhidden = [8]\nactivation = "tanh"\n\n'
        "[training]\nepochs = 80\nlr = 0.2\n\n"
        '[data]\nsource = "data/samples.csv"\ntarget = "kind"\nvalidation_fraction = 0.2\n'
    )
    return config, path, kind


def test_train_predict_evaluate_on_a_user_csv(tmp_path, capsys, user_csv, monkeypatch):
    config, data, kind = user_csv
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "train", str(config), "-q")
    assert code == 0, err
    assert "network 3-8-3" in out
    acc = float(re.search(r"train: J = .* accuracy ([0-9.]+)%", out).group(1))
    assert acc > 80
    model = tmp_path / "bpcore-out" / "model.safetensors"
    assert model.is_file()
    written = load_config(tmp_path / "bpcore-out" / "config.toml")
    assert written.data.source == str(data.resolve())

    # predictions to a CSV file: one row per sample, labels among the classes
    code, out, err = run_cli(capsys, "predict", str(model), str(data), "--out", "pred.csv")
    assert code == 0, err
    rows = list(csv.reader(open(tmp_path / "pred.csv")))
    assert rows[0] == ["prediction", "yhat_high", "yhat_low", "yhat_mid"]
    assert len(rows) == 91
    predicted = [r[0] for r in rows[1:]]
    assert set(predicted) <= {"high", "low", "mid"}
    outputs = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert np.array_equal(np.array(["high", "low", "mid"])[outputs.argmax(axis=1)], predicted)
    net = bpcore.load(model)
    X = np.loadtxt(data, delimiter=",", skiprows=1, usecols=(0, 1, 3))
    assert predicted == net.preprocessing.predict(net, X).tolist()

    # evaluate agrees with the predictions
    code, out, err = run_cli(capsys, "evaluate", str(model), str(data))
    assert code == 0, err
    correct = sum(p == k for p, k in zip(predicted, kind))
    assert f"accuracy = {100 * correct / 90:.2f}% ({correct}/90)" in out
    code, out, _ = run_cli(capsys, "evaluate", str(model), str(data), "--json")
    metrics = json.loads(out)
    assert metrics["correct"] == correct and metrics["n"] == 90 and metrics["loss"] > 0

    # features only (no header, no target) and stdout output
    plain = tmp_path / "plain.csv"
    np.savetxt(plain, X[:4], delimiter=",")
    code, out, err = run_cli(capsys, "predict", str(model), str(plain))
    assert code == 0, err
    assert [line.split(",")[0] for line in out.splitlines()[1:]] == predicted[:4]
    code, out, err = run_cli(capsys, "predict", str(model), str(plain), "--out", "p.npy")
    assert code == 0 and np.load(tmp_path / "p.npy").tolist() == predicted[:4]
    code, _, err = run_cli(capsys, "evaluate", str(model), str(plain))
    assert code == 1
    assert_one_line_error(err, "no target column", "'kind'")


def test_regression_predict_and_history_csv(tmp_path, capsys):
    cfg = tmp_path / "sine.toml"
    cfg.write_text(
        '[network]\nhidden = [12]\nactivation = "tanh"\noutput_activation = "identity"\n'
        "[training]\nepochs = 40\nbatch_size = 4\nlr = 0.05\n"
        '[data]\nsource = "sine"\nn_samples = 60\n'
        '[output]\nhistory = "history.csv"\n'
    )
    code, out, err = run_cli(capsys, "train", str(cfg), "--out", str(tmp_path / "s"), "-q")
    assert code == 0, err
    assert re.search(r"train: J = .* RMSE [0-9.]+", out)
    code, out, err = run_cli(capsys, "predict", str(tmp_path / "s" / "model.safetensors"), "sine")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "prediction" and len(lines) == 201
    code, out, err = run_cli(
        capsys,
        "plot",
        "history",
        str(tmp_path / "s" / "history.csv"),
        "--out",
        str(tmp_path / "h.png"),
    )
    assert code == 0, err
    check_png(tmp_path / "h.png")


# ---------------------------------------------------------------------- plots
def test_plot_commands(tmp_path, capsys):
    out_png = tmp_path / "act.png"
    code, out, err = run_cli(capsys, "plot", "activations", "--out", str(out_png))
    assert code == 0, err
    assert out.strip() == f"wrote {out_png}"
    check_png(out_png)
    code, _, err = run_cli(
        capsys,
        "plot",
        "activations",
        "--names",
        "relu",
        "--no-derivative",
        "--out",
        str(tmp_path / "relu.png"),
    )
    assert code == 0, err
    check_png(tmp_path / "relu.png")
    code, _, err = run_cli(capsys, "plot", "activations", "--names", "softmax")
    assert code == 1
    assert_one_line_error(err, "softmax")

    code, _, err = run_cli(
        capsys,
        "train",
        "--out",
        str(tmp_path / "m"),
        "-q",
        "--set",
        "data.source=moons",
        "--set",
        "training.epochs=20",
        "--set",
        "network.hidden=[6]",
        "--set",
        "network.activation=tanh",
    )
    assert code == 0, err
    check_png(tmp_path / "m" / "regions.png")
    code, _, err = run_cli(
        capsys,
        "plot",
        "regions",
        str(tmp_path / "m" / "model.safetensors"),
        "moons",
        "--out",
        str(tmp_path / "r.png"),
    )
    assert code == 0, err
    check_png(tmp_path / "r.png")
    code, _, err = run_cli(
        capsys,
        "plot",
        "history",
        str(tmp_path / "m" / "history.json"),
        "--out",
        str(tmp_path / "h.png"),
        "--log",
    )
    assert code == 0, err
    check_png(tmp_path / "h.png")


# ---------------------------------------------------------------------- errors: one line, non-zero
def test_bad_configs_exit_1_with_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", str(tmp_path / "missing.toml"))
    assert code == 1
    assert_one_line_error(err, "bpcore train: error:", "missing.toml", "does not exist")
    bad = tmp_path / "bad.toml"
    bad.write_text('[network]\nactivation = "swish"\n')
    code, _, err = run_cli(capsys, "train", str(bad), "-q")
    assert code == 1
    assert_one_line_error(
        err, f"network.activation must be one of {', '.join(HIDDEN_ACTIVATIONS)}; got 'swish'"
    )
    bad.write_text("[training]\nlearning_rate = 0.1\n")
    code, _, err = run_cli(capsys, "train", str(bad), "-q")
    assert code == 1
    assert_one_line_error(err, "unknown key 'learning_rate' in [training]")
    bad.write_text('[data]\nsource = "nothere.csv"\n')
    code, _, err = run_cli(capsys, "train", str(bad), "-q", "--out", str(tmp_path / "x"))
    assert code == 1
    assert_one_line_error(err, "data.source", "does not exist")
    code, _, err = run_cli(capsys, "train", "-q", "--set", "epochs=3")
    assert code == 1
    assert_one_line_error(err, "--set expects SECTION.KEY=VALUE")
    code, _, err = run_cli(capsys, "train", "-q", "--set", "training.lr=-1")
    assert code == 1
    assert_one_line_error(err, "training.lr must be a positive number; got -1")


def test_diverging_training_is_reported(tmp_path, capsys):
    code, _, err = run_cli(
        capsys,
        "train",
        "-q",
        "--out",
        str(tmp_path / "d"),
        "--set",
        "network.output_activation=identity",
        "--set",
        "network.hidden=[20]",
        "--set",
        "network.activation=relu",
        "--set",
        "training.lr=1e30",
        "--set",
        "network.init=he",
    )
    assert code == 1
    assert_one_line_error(err, "diverged", "Lower lr")


def test_bad_models_and_data_exit_1(tmp_path, capsys):
    code, _, err = run_cli(capsys, "predict", str(tmp_path / "none.safetensors"), "iris")
    assert code == 1
    assert_one_line_error(err, "model file", "does not exist")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b'\x10\x00\x00\x00\x00\x00\x00\x00{"a": 1}')
    code, _, err = run_cli(capsys, "evaluate", str(junk), "iris")
    assert code == 1
    assert_one_line_error(err, "junk.safetensors", "runs past the end")
    model = tmp_path / "m.safetensors"
    net = bpcore.Network([4, 3, 3])
    net.save(model)
    code, _, err = run_cli(capsys, "predict", str(model), "moons")
    assert code == 1
    assert_one_line_error(err, "2 features; the model expects 4")
    code, _, err = run_cli(capsys, "predict", str(model), "iris", "--out", str(tmp_path / "p.txt"))
    assert code == 1
    assert_one_line_error(err, "--out must end in .csv or .npy")
    # a model saved without preprocessing predicts from the raw features
    code, out, err = run_cli(capsys, "predict", str(model), "iris")
    assert code == 0, err
    first = out.splitlines()[1].split(",")
    iris = bpcore.datasets.load_iris()
    assert len(first) == 3
    np.testing.assert_allclose([float(v) for v in first], net.predict(iris.X[:1])[0], rtol=1e-12)


def test_debug_env_shows_the_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BPCORE_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        main(["train", str(tmp_path / "missing.toml")])


def test_module_entry_point_reports_errors_without_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR))
    env.pop("BPCORE_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bpcore", "evaluate", "nope.safetensors", "iris"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        == "bpcore evaluate: error: model file 'nope.safetensors' does not exist"
    )


def test_train_distributed_without_mpi4py_says_what_to_install(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if not installed
    code, out, err = run_cli(
        capsys, "train", "--distributed", "--quiet", "--out", str(tmp_path / "out")
    )
    assert code == 1
    assert_one_line_error(err, "mpi4py", 'pip install ".[mpi]"')
    assert not (tmp_path / "out").exists()
