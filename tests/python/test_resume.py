"""Resuming a run from its checkpoint: the interrupted and resumed run equals the uninterrupted one
bit for bit (weights, optimizer state, epoch count, history, data split); Ctrl-C exits 130."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import bpcore
import numpy as np
import pytest
from bpcore.config import ConfigError, train_from_config
from bpcore.io import load_checkpoint, load_tensors

PYTHON_DIR = Path(bpcore.__file__).resolve().parent.parent


def _config(epochs: int, **output: object) -> dict:
    return {
        "network": {"hidden": [6]},
        "training": {"epochs": epochs, "optimizer": "adam", "lr": 0.01, "batch_size": 8},
        "data": {"source": "iris", "validation_fraction": 0.2, "seed": 3},
        "output": {"loss_plot": "", **output},
    }


def test_checkpoint_holds_the_training_state(tmp_path):
    run = train_from_config(
        _config(6, dir=str(tmp_path), checkpoint="ck-{epoch}.safetensors", checkpoint_every=3)
    )
    net, record = load_checkpoint(tmp_path / "ck-6.safetensors")
    state = run.network.training_state()
    m, s, steps = state.optimizer.state()
    assert record["epochs"] == state.epochs == 6 and record["optimizer"] == "adam"
    assert record["steps"] == steps and steps == 6 * 15  # 120 training rows in batches of 8
    np.testing.assert_array_equal(record["m"], m)
    np.testing.assert_array_equal(record["s"], s)
    assert record["history"]["loss"] == run.history.loss
    assert record["history"]["val_loss"] == run.history.val_loss
    np.testing.assert_array_equal(net.parameters, run.network.parameters)
    # a plain model file holds no training state
    _, none = load_checkpoint(tmp_path / "model.safetensors")
    assert none is None


def test_resumed_run_equals_the_uninterrupted_run_bitwise(tmp_path):
    whole = train_from_config(_config(12, dir=str(tmp_path / "whole")))
    first = train_from_config(
        _config(
            12,
            dir=str(tmp_path / "part"),
            checkpoint="ck-{epoch}.safetensors",
            checkpoint_every=5,
        )
    )
    assert first.files["checkpoint"].name == "ck-10.safetensors"
    resumed = train_from_config(
        _config(12, dir=str(tmp_path / "resumed")),
        resume=tmp_path / "part" / "ck-5.safetensors",
    )
    a, b = whole.network, resumed.network
    assert a.parameters.tobytes() == b.parameters.tobytes()
    sa, sb = a.training_state(), b.training_state()
    assert sa.epochs == sb.epochs == 12
    for x, y in zip(sa.optimizer.state(), sb.optimizer.state()):
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes()
    assert resumed.history.loss == whole.history.loss
    assert resumed.history.val_loss == whole.history.val_loss
    assert resumed.history.lr == whole.history.lr
    assert resumed.history.epochs == 12
    assert resumed.metrics == whole.metrics  # same data split, same numbers
    ta, _ = load_tensors(tmp_path / "whole" / "model.safetensors")
    tb, _ = load_tensors(tmp_path / "resumed" / "model.safetensors")
    assert all(ta[k].tobytes() == tb[k].tobytes() for k in ta)


@pytest.mark.parametrize("resume_at", [8, 12])
def test_resumed_run_with_early_stopping_stops_where_the_uninterrupted_run_did(tmp_path, resume_at):
    # The uninterrupted run is best at epoch 11 and stops at 16 (patience 5). A checkpoint keeps
    # the best J, the epochs waited and the best parameters, so a run resumed before the best
    # epoch (8) or after it, while waiting (12), stops at 16 too and restores epoch 11's weights.
    def config(**output: object) -> dict:
        cfg = _config(40, **output)
        cfg["training"].update(lr=0.2, early_stopping=True, patience=5)
        return cfg

    whole = train_from_config(config(dir=str(tmp_path / "whole")))
    assert (whole.history.epochs, whole.history.best_epoch) == (16, 11)
    train_from_config(
        config(dir=str(tmp_path / "part"), checkpoint="ck-{epoch}.safetensors", checkpoint_every=4)
    )
    _, record = load_checkpoint(tmp_path / "part" / "ck-12.safetensors")
    stopping = record["early_stopping"]
    assert (stopping["best_epoch"], stopping["wait"]) == (11, 1)
    assert stopping["best"] == whole.history.val_loss[10]
    assert stopping["best_parameters"].shape == (whole.network.n_params,)
    resumed = train_from_config(
        config(dir=str(tmp_path / "resumed")),
        resume=tmp_path / "part" / f"ck-{resume_at}.safetensors",
    )
    assert resumed.history.stop_reason == "early_stopping"
    assert resumed.history.val_loss == whole.history.val_loss
    assert resumed.history.best_epoch == 11
    assert resumed.network.parameters.tobytes() == whole.network.parameters.tobytes()


def test_resume_refuses_what_does_not_fit(tmp_path):
    train_from_config(_config(4, dir=str(tmp_path), checkpoint_every=4))
    ck = tmp_path / "checkpoint.safetensors"
    with pytest.raises(ConfigError, match="trained 4 epochs already.*raise training.epochs"):
        train_from_config(_config(4, dir=str(tmp_path / "b")), resume=ck)
    other = _config(8, dir=str(tmp_path / "c"))
    other["network"]["hidden"] = [7]
    with pytest.raises(ConfigError, match="the checkpoint holds a network \\[4, 6, 3\\]"):
        train_from_config(other, resume=ck)
    sgd = _config(8, dir=str(tmp_path / "d"))
    sgd["training"]["optimizer"] = "sgd"
    with pytest.raises(ConfigError, match="trained with optimizer 'adam'"):
        train_from_config(sgd, resume=ck)
    with pytest.raises(ConfigError, match="without training state"):
        train_from_config(
            _config(8, dir=str(tmp_path / "e")), resume=tmp_path / "model.safetensors"
        )
    with pytest.raises(FileNotFoundError, match="checkpoint .* does not exist"):
        train_from_config(_config(8, dir=str(tmp_path / "f")), resume=tmp_path / "nope.safetensors")


def _write_config(path: Path, epochs: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 8))
    y = (X[:, 0] * X[:, 1] + np.sin(X[:, 2]) > 0).astype(int)
    data = path.parent / "data.csv"
    with open(data, "w", encoding="utf-8") as f:
        f.write(",".join(f"x{i}" for i in range(8)) + ",label\n")
        for row, label in zip(X, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{'yes' if label else 'no'}\n")
    path.write_text(
        "[network]\nhidden = [32, 32]\n"
        f'[training]\nepochs = {epochs}\noptimizer = "momentum"\nlr = 0.05\nbatch_size = 4\n'
        '[data]\nsource = "data.csv"\nvalidation_fraction = 0.1\n'
        '[output]\ndir = "out"\nloss_plot = ""\nregions_plot = ""\n',
        encoding="utf-8",
    )


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PYTHON_DIR), env.get("PYTHONPATH")]))
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_ctrl_c_exits_130_and_the_printed_resume_command_finishes_the_run(tmp_path):
    cfg = tmp_path / "run.toml"
    _write_config(cfg, 40)
    cmd = [sys.executable, "-m", "bpcore", "train", str(cfg), "--quiet", "--verbose"]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines = []
    deadline = time.monotonic() + 120
    for line in proc.stderr:  # the epochs are logged to stderr with --verbose
        lines.append(line)
        if re.match(r"bpcore: epoch +3/40:", line) or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    err = "".join(lines) + err
    assert proc.returncode == 130, err
    assert re.search(r"^bpcore: epoch +3/40:", err, re.M)
    m = re.search(r"interrupted after epoch (\d+); resume with: (bpcore train .*)$", err, re.M)
    assert m, err
    done = int(m.group(1))
    assert 3 <= done < 40
    assert f"network 8-32-32-2: {done} epochs, stop reason interrupted" in out
    resume = shlex.split(m.group(2))
    assert resume[:3] == ["bpcore", "train", str(cfg)] and resume[-2] == "--resume"
    assert Path(resume[-1]).is_file()
    r = subprocess.run(
        [sys.executable, "-m", "bpcore", *resume[1:], "--quiet"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert f"resuming after epoch {done}" in r.stdout
    assert ": 40 epochs, stop reason max_epochs" in r.stdout
    resumed, _ = load_tensors(tmp_path / "out" / "model.safetensors")

    # the same configuration, uninterrupted, in another folder
    (tmp_path / "whole").mkdir()
    whole_cfg = tmp_path / "whole" / "run.toml"
    _write_config(whole_cfg, 40)
    r = subprocess.run(
        [sys.executable, "-m", "bpcore", "train", str(whole_cfg), "--quiet"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    whole, _ = load_tensors(tmp_path / "whole" / "out" / "model.safetensors")
    assert sorted(whole) == sorted(resumed)
    for k in whole:
        assert whole[k].tobytes() == resumed[k].tobytes(), k
    import json

    h_whole = json.loads((tmp_path / "whole" / "out" / "history.json").read_text())
    h_resumed = json.loads((tmp_path / "out" / "history.json").read_text())
    assert h_resumed["loss"] == h_whole["loss"] and h_resumed["val_loss"] == h_whole["val_loss"]
