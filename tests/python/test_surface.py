"""What a new user meets first: the task bpcore infers and says, label hints, "did you mean",
paths relative to the configuration, the banner, the two J's, the xor defaults."""

from __future__ import annotations

import warnings

import bpcore
import numpy as np
import pytest
from bpcore.cli import main
from bpcore.config import ConfigError, NetworkConfig, load_config, train_from_config
from bpcore.preprocessing import TASK_RULE, explain_task


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _integer_target_csv(path, n=400):
    """Three features and an integer target with hundreds of distinct values (a price, say)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 3))
    y = np.rint(700 + 120 * X[:, 0] - 80 * X[:, 1] + 40 * X[:, 2]).astype(int)
    with open(path, "w", encoding="utf-8") as f:
        f.write("a,b,c,price\n")
        for row, value in zip(X, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{value}\n")
    return y


# ---------------------------------------------------------------------- task inference
def test_task_rule_is_stated_and_applied():
    assert "at most max(20, min(100, rows/20)) distinct values" in TASK_RULE
    assert explain_task(["a", "b"])[0] == "classification"
    assert explain_task(np.array([True, False]))[0] == "classification"
    assert explain_task(np.arange(60) % 3) == (
        "classification",
        "the target holds 3 distinct integer values in 60 rows, at most the 20 taken as class "
        "labels",
    )
    # 256 distinct integers in 300 rows: values, not classes
    task, why = explain_task(np.arange(300) % 256 + 600)
    assert task == "regression" and "256 distinct integer values in 300 rows" in why
    # many rows: up to one class per 20 rows, at most 100
    assert explain_task(np.arange(2000) % 90)[0] == "classification"
    assert explain_task(np.arange(5000) % 101)[0] == "regression"
    assert explain_task(np.array([0.5, 1.5]))[1] == "the target holds non-integer numbers"


def test_integer_target_csv_is_regression_with_identity_output(tmp_path):
    y = _integer_target_csv(tmp_path / "prices.csv")
    lines = []
    run = train_from_config(
        {
            "data": {"source": str(tmp_path / "prices.csv"), "standardize_target": True},
            "network": {"hidden": [8]},
            "training": {"epochs": 60, "lr": 0.01, "batch_size": 8, "optimizer": "adam"},
        },
        write=False,
        announce=lines.append,
    )
    assert run.network.activations == ["sigmoid", "identity"]
    assert run.network.sizes == [3, 8, 1]
    assert run.preprocessing.task == "regression"
    assert lines[0].startswith("task: regression (the target holds ")
    assert "set data.task to choose" in lines[0] and 'output_activation = "identity"' in lines[0]
    assert run.metrics["train"]["rmse"] < 0.2 * y.std()
    assert run.config.network.output_activation == "identity"  # what was used is written


def test_data_task_overrides_and_an_explicit_output_activation_stays(tmp_path, caplog):
    _integer_target_csv(tmp_path / "prices.csv", n=200)
    source = str(tmp_path / "prices.csv")
    run = train_from_config(
        {"data": {"source": source, "task": "classification"}, "training": {"epochs": 1}},
        write=False,
    )
    assert run.preprocessing.task == "classification" and run.network.sizes[-1] > 100
    with caplog.at_level("WARNING", logger="bpcore"):
        run = train_from_config(
            {
                "data": {"source": source},
                "network": {"output_activation": "sigmoid"},
                "training": {"epochs": 1},
            },
            write=False,
        )
    assert run.network.activations[-1] == "sigmoid"
    assert 'consider output_activation = "identity"' in caplog.text


def test_cli_first_line_says_the_task_and_banner_names_hidden_activations(tmp_path, capsys):
    _integer_target_csv(tmp_path / "prices.csv", n=200)
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        '[data]\nsource = "prices.csv"\nstandardize_target = true\n[network]\nhidden = [4, 3]\nactivation = ["tanh", "relu"]\n'
        '[training]\nepochs = 2\nlr = 0.001\n[output]\nloss_plot = ""\n',
        encoding="utf-8",
    )
    code, out, err = run_cli(capsys, "train", str(cfg), "--quiet")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("bpcore: task: regression (the target holds ")
    assert lines[1] == (
        "bpcore: training on prices.csv for 2 epochs: network 3-4-3-1, hidden activation "
        "tanh, relu, identity output, loss mse, lr 0.001, batch size 1"
    )
    assert "mean J during epoch 2 = " in out and "the J of the trained network" in out


def test_banner_comes_after_the_data_are_found(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[data]\nsource = "missing.csv"\n', encoding="utf-8")
    code, out, err = run_cli(capsys, "train", str(cfg))
    assert code == 1 and "missing.csv" in err
    assert out == ""  # no banner for a run that never starts


def test_train_on_a_folder_says_it_is_a_folder(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", str(tmp_path))
    assert code == 1 and "is a folder; give the TOML file inside it" in err


# ---------------------------------------------------------------------- paths
def test_output_dir_is_relative_to_the_config_file_and_out_to_the_cwd(
    tmp_path, capsys, monkeypatch
):
    (tmp_path / "cfgs").mkdir()
    (tmp_path / "cwd").mkdir()
    cfg = tmp_path / "cfgs" / "run.toml"
    cfg.write_text(
        '[training]\nepochs = 1\n[output]\ndir = "results"\nloss_plot = ""\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path / "cwd")
    code, _, err = run_cli(capsys, "train", str(cfg), "--quiet")
    assert code == 0, err
    assert (tmp_path / "cfgs" / "results" / "model.safetensors").is_file()
    assert not (tmp_path / "cwd" / "results").exists()
    assert load_config(cfg).output.dir == "results"  # as written; resolved when the run writes
    code, _, err = run_cli(capsys, "train", str(cfg), "--quiet", "--out", "mine")
    assert code == 0, err
    assert (tmp_path / "cwd" / "mine" / "model.safetensors").is_file()


# ---------------------------------------------------------------------- labels
def test_fit_with_1d_labels_says_what_to_do():
    X, y = bpcore.datasets.load_iris()
    net = bpcore.Network([4, 5, 3])
    with pytest.raises(
        ValueError, match=r"got 1-D class labels of shape \(150,\).*one_hot\(y, 3\)"
    ):
        net.fit(X, y, epochs=1)
    with pytest.raises(TypeError, match="Y must be numeric.*Preprocessing"):
        net.fit(X, np.array(["setosa", "versicolor", "virginica"] * 50), epochs=1)
    # one-hot targets train; a single-output network still takes a 1-D column of values
    net.fit(X, bpcore.datasets.one_hot(y, 3), epochs=1)
    bpcore.Network([4, 1]).fit(X, (y == 0).astype(float), epochs=1)


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
def test_sklearn_estimators_keep_taking_labels():
    pytest.importorskip("sklearn")
    X, y = bpcore.datasets.load_iris()
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = bpcore.MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    clf.fit(X, names)
    assert set(clf.predict(X)) <= set(names)


# ---------------------------------------------------------------------- names
@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: bpcore.Network([2, 3, 1], activation="sigmod"), "did you mean 'sigmoid'?"),
        (lambda: bpcore.Network([2, 3, 1], activation="ReLU"), "did you mean 'relu'?"),
        (lambda: bpcore.Network([2, 1], loss="mes"), "did you mean 'mse'?"),
        (lambda: bpcore.Network([2, 1], init="xavir"), "did you mean 'xavier'?"),
        (lambda: bpcore.Network([2, 1], dtype="float46"), "did you mean 'float64'?"),
        (
            lambda: bpcore.Network([2, 1]).fit([[0, 0]], [[0]], optimizer="SGD"),
            "did you mean 'sgd'?",
        ),
        (
            lambda: bpcore.Network([2, 1]).fit([[0, 0]], [[0]], lr_schedule="Step"),
            "did you mean 'step'?",
        ),
        (lambda: NetworkConfig(activation="tanhh"), "did you mean 'tanh'?"),
    ],
)
def test_every_name_lookup_says_did_you_mean(make, fragment):
    with pytest.raises(ValueError) as info:
        make()
    assert fragment in str(info.value)
    assert "must be one of" in str(info.value)


def test_config_name_errors_say_did_you_mean_too(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[training]\noptimizer = "Adam"\n', encoding="utf-8")
    code, _, err = run_cli(capsys, "train", str(cfg))
    assert code == 1 and "training.optimizer must be one of" in err and "'adam'?" in err
    with pytest.raises(ConfigError, match="did you mean 'xavier'"):
        NetworkConfig(init="Xavier")


# ---------------------------------------------------------------------- model files
def test_save_with_another_suffix_warns(tmp_path):
    net = bpcore.Network([2, 1])
    with pytest.warns(UserWarning, match=r"always written in the safetensors format.*\.pkl"):
        net.save(tmp_path / "model.pkl")
    assert bpcore.load(tmp_path / "model.pkl").sizes == [2, 1]  # safetensors inside
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.save(tmp_path / "model.safetensors")
        bpcore.io.save(net, tmp_path / "other.SAFETENSORS")


# ---------------------------------------------------------------------- J, xor, dir
def test_history_names_the_two_js():
    X, y = bpcore.datasets.load_iris()
    net = bpcore.Network([4, 5, 3])
    hist = net.fit(X, bpcore.datasets.one_hot(y, 3), epochs=3)
    assert "mean J during epoch 3=" in repr(hist)
    assert hist.last_epoch_mean_loss == hist.loss[-1]
    assert "mean J during epoch k" in bpcore.History.__doc__
    assert "J of the trained network" in bpcore.History.__doc__


def test_xor_learns_with_its_defaults_and_chance_accuracy_is_reported(tmp_path, capsys):
    code, out, err = run_cli(
        capsys, "train", "--set", "data.source=xor", "--out", str(tmp_path / "a"), "--quiet"
    )
    assert code == 0, err
    assert "training on xor for 2500 epochs" in out
    assert "accuracy 100.00% (4/4)" in out and "chance" not in err
    code, out, err = run_cli(
        capsys,
        "train",
        "--set",
        "data.source=xor",
        "--set",
        "training.epochs=100",
        "--set",
        "data.standardize=true",
        "--out",
        str(tmp_path / "b"),
        "--quiet",
    )
    assert code == 0, err
    assert "accuracy 50.00% (2/4)" in out
    assert "ends at chance accuracy (50.00%" in err and "training.epochs" in err


def test_dir_shows_no_import_helpers():
    names = dir(bpcore)
    assert "annotations" not in names and "PackageNotFoundError" not in names
    assert {"Network", "load", "train_from_config", "__version__"} <= set(names)


def test_version_is_the_installed_distributions_and_import_reads_no_metadata():
    # bpcore.__version__ is the version the loaded extension was built as, which is the installed
    # distribution's; `import bpcore` reads no distribution metadata for it (that took a third of
    # the import's time)
    import subprocess
    import sys
    from importlib.metadata import version

    assert bpcore.__version__ == version("bpcore")
    code = "import sys, bpcore; print('importlib.metadata' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
