"""Configuration: defaults, TOML round trip, every validation error, training from a config."""

from __future__ import annotations

import dataclasses
import json
import sys

import bpcore
import numpy as np
import pytest
from bpcore._names import ACTIVATIONS, HIDDEN_ACTIVATIONS, INITS, LOSSES, OPTIMIZERS, SCHEDULES
from bpcore.config import (
    Config,
    ConfigError,
    DataConfig,
    NetworkConfig,
    OutputConfig,
    TrainingConfig,
    dumps_toml,
    load_config,
    loads_config,
    train_from_config,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli", reason="TOML reading on Python < 3.11 needs tomli")


def test_defaults_are_the_notes_example():
    cfg = Config()
    assert cfg.network.hidden == [5]
    assert cfg.network.activation == cfg.network.output_activation == "sigmoid"
    assert cfg.network.loss == "mse"
    assert cfg.training.batch_size == 1 and cfg.training.lr == 0.5
    assert cfg.training.epochs == 100 and cfg.training.optimizer == "sgd" and cfg.training.seed == 0
    assert cfg.data.source == "iris" and cfg.data.standardize and cfg.data.one_hot
    assert cfg.output.dir == "bpcore-out"


def test_public_names():
    assert bpcore.load_config is load_config
    assert bpcore.train_from_config is train_from_config
    assert issubclass(ConfigError, ValueError)


def _nondefault() -> Config:
    return Config(
        NetworkConfig(
            hidden=[8, 4],
            activation=["tanh", "prelu"],
            output_activation="softmax",
            loss="cross_entropy",
            dtype="float32",
            init="he",
            init_scale=0.3,
            seed=7,
        ),
        TrainingConfig(
            epochs=12,
            batch_size="full",
            lr=0.01,
            optimizer="adam",
            momentum=0.5,
            beta1=0.8,
            beta2=0.99,
            epsilon=1e-6,
            weight_decay=1e-4,
            lr_schedule="step",
            power_t=0.25,
            step_size=3,
            gamma=0.5,
            tol=1e-3,
            shuffle=False,
            drop_last=True,
            seed=9,
            n_threads=2,
            early_stopping=True,
            patience=4,
            min_delta=1e-5,
        ),
        DataConfig(
            source='data/my file "quoted".csv',
            target="kind",
            features=["a", 2],
            header=True,
            delimiter=";",
            task="classification",
            standardize=False,
            one_hot=True,
            validation_fraction=0.25,
            seed=5,
        ),
        OutputConfig(
            dir="out dir/é",
            model="m.safetensors",
            history="h.csv",
            loss_plot="",
            regions_plot="r.png",
            config="c.toml",
        ),
    )


@pytest.mark.parametrize("make", [Config, _nondefault])
def test_toml_round_trip(make, tmp_path):
    cfg = make()
    text = cfg.to_toml()
    assert tomllib.loads(text) == cfg.to_dict()
    assert loads_config(text) == cfg
    path = tmp_path / "c.toml"
    cfg.save(path)
    back = load_config(path)
    if cfg.data.is_file:  # a relative data path is resolved against the file's folder
        assert back.data.source == str((tmp_path / cfg.data.source).resolve())
        back.data.source = cfg.data.source
    assert back == cfg


def test_optional_fields_are_omitted_when_unset():
    d = Config().to_dict()
    assert "tol" not in d["training"] and "n_threads" not in d["training"]
    assert "features" not in d["data"] and "n_samples" not in d["data"]


def test_strings_with_control_characters_survive():
    cfg = Config(output=OutputConfig(dir='a\tb\\c"d\x7fe\x01'))
    assert loads_config(dumps_toml(cfg)).output.dir == 'a\tb\\c"d\x7fe\x01'


def test_from_dict_and_partial_tables():
    cfg = Config.from_dict({"training": {"epochs": 3}, "network": {"hidden": []}})
    assert cfg.training.epochs == 3 and cfg.network.hidden == [] and cfg.training.lr == 0.5
    assert Config(network={"hidden": [2]}).network.hidden == [2]


# ---------------------------------------------------------------------- validation errors
BAD_VALUES = [
    ("network", "hidden", 5, "network.hidden must be a list of positive integers"),
    ("network", "hidden", [5, 0], "network.hidden\\[1\\] must be a positive integer; got 0"),
    ("network", "hidden", [True], "network.hidden\\[0\\] must be a positive integer"),
    (
        "network",
        "activation",
        "softmax",
        f"network.activation must be one of {', '.join(HIDDEN_ACTIVATIONS)}; got 'softmax'",
    ),
    ("network", "activation", ["tanh", "relu"], "lists 2 names but network.hidden has 1"),
    ("network", "activation", ["foo"], "network.activation\\[0\\] must be one of"),
    (
        "network",
        "output_activation",
        "maxout",
        f"network.output_activation must be one of {', '.join(ACTIVATIONS)}",
    ),
    ("network", "loss", "hinge", f"network.loss must be one of {', '.join(LOSSES)}"),
    ("network", "dtype", "float16", "network.dtype must be one of float32, float64"),
    ("network", "init", "zeros", f"network.init must be one of {', '.join(INITS)}"),
    ("network", "init_scale", 0, "network.init_scale must be a positive number"),
    ("network", "init_scale", "0.1", "network.init_scale must be a positive number"),
    ("network", "seed", -1, "network.seed must be an integer >= 0"),
    ("network", "seed", 1.5, "network.seed must be an integer >= 0"),
    ("training", "epochs", 0, "training.epochs must be a positive integer; got 0"),
    ("training", "epochs", 10.0, "training.epochs must be a positive integer"),
    ("training", "batch_size", 0, 'training.batch_size must be a positive integer or "full"'),
    ("training", "batch_size", "all", 'training.batch_size must be a positive integer or "full"'),
    ("training", "lr", -1, "training.lr must be a positive number; got -1"),
    ("training", "lr", float("inf"), "training.lr must be a positive number"),
    ("training", "lr", True, "training.lr must be a positive number"),
    (
        "training",
        "optimizer",
        "rmsprop",
        f"training.optimizer must be one of {', '.join(OPTIMIZERS)}",
    ),
    ("training", "momentum", 1.0, "training.momentum must be a number in \\[0, 1\\)"),
    ("training", "beta1", -0.1, "training.beta1 must be a number in \\[0, 1\\)"),
    ("training", "beta2", 2, "training.beta2 must be a number in \\[0, 1\\)"),
    ("training", "epsilon", 0, "training.epsilon must be a positive number"),
    ("training", "weight_decay", -1e-3, "training.weight_decay must be a non-negative number"),
    (
        "training",
        "lr_schedule",
        "cosine",
        f"training.lr_schedule must be one of {', '.join(SCHEDULES)}",
    ),
    ("training", "power_t", -1, "training.power_t must be a non-negative number"),
    ("training", "step_size", 0, "training.step_size must be a positive integer"),
    ("training", "gamma", 0, "training.gamma must be a number in \\(0, 1\\]"),
    ("training", "tol", -1, "training.tol must be a non-negative number"),
    ("training", "shuffle", "yes", "training.shuffle must be true or false"),
    ("training", "drop_last", 1, "training.drop_last must be true or false"),
    ("training", "seed", -3, "training.seed must be an integer >= 0"),
    ("training", "n_threads", 0, "training.n_threads must be a positive integer"),
    ("training", "early_stopping", "no", "training.early_stopping must be true or false"),
    ("training", "patience", 0, "training.patience must be a positive integer"),
    ("training", "min_delta", -1, "training.min_delta must be a non-negative number"),
    (
        "data",
        "source",
        "cifar10",
        "data.source must be one of iris, xor, moons, sine or a file path ending in .csv, .npy, .npz",
    ),
    ("data", "source", "", "data.source must be a non-empty string"),
    ("data", "target", 1.5, "data.target must be a column name or an integer column index"),
    ("data", "target", "", "data.target must be a column name"),
    ("data", "features", "a", "data.features must be a list of column names or indices"),
    ("data", "features", [], "data.features must be a non-empty list"),
    ("data", "features", ["a", 1.5], "data.features\\[1\\] must be a column name or index"),
    ("data", "header", "yes", 'data.header must be true, false or "auto"'),
    ("data", "header", 1, 'data.header must be true, false or "auto"'),
    ("data", "delimiter", ",,", "data.delimiter must be a single character"),
    ("data", "task", "ranking", "data.task must be one of auto, classification, regression"),
    ("data", "standardize", "true", "data.standardize must be true or false"),
    ("data", "standardize_target", 0, "data.standardize_target must be true or false"),
    ("data", "one_hot", None, "data.one_hot must be true or false"),
    ("data", "validation_fraction", 1.0, "data.validation_fraction must be a number in \\[0, 1\\)"),
    ("data", "seed", -1, "data.seed must be an integer >= 0"),
    ("data", "n_samples", 100, "data.n_samples applies to the generated data sets"),
    ("data", "noise", 0.1, "data.noise applies to the generated data sets"),
    ("output", "dir", "", "output.dir must be a non-empty string"),
    ("output", "model", 3, "output.model must be a non-empty string"),
    ("output", "history", "h.txt", "output.history must be a file name ending in .json or .csv"),
    ("output", "loss_plot", "loss.jpg", "output.loss_plot must be a file name ending in .png"),
    ("output", "regions_plot", "r.svg", "output.regions_plot must be a file name ending in .png"),
    ("output", "config", "c.ini", "output.config must be a file name ending in .toml"),
    ("output", "model", "sub/m.safetensors", "output file names must be plain file names"),
    ("output", "checkpoint_every", -1, "output.checkpoint_every must be an integer >= 0"),
    ("output", "checkpoint", "", "output.checkpoint must be a non-empty string"),
]


@pytest.mark.parametrize(
    "section,key,value,match", BAD_VALUES, ids=[f"{s}.{k}={v!r}" for s, k, v, _ in BAD_VALUES]
)
def test_every_field_is_validated(section, key, value, match):
    with pytest.raises(ConfigError, match=match):
        Config.from_dict({section: {key: value}})


def test_cross_field_checks():
    with pytest.raises(
        ConfigError, match="output_activation and network.loss do not go together.*cross_entropy"
    ):
        NetworkConfig(output_activation="softmax", loss="mse")
    with pytest.raises(ConfigError, match="needs output_activation 'sigmoid'"):
        NetworkConfig(output_activation="tanh", loss="binary_cross_entropy")
    with pytest.raises(ConfigError, match="standardize_target is for regression"):
        DataConfig(task="classification", standardize_target=True)
    with pytest.raises(ConfigError, match="a multiple of 4 for xor"):
        DataConfig(source="xor", n_samples=10)
    with pytest.raises(ConfigError, match="same file name"):
        OutputConfig(model="a.toml", config="a.toml")
    with pytest.raises(ConfigError, match="network must be a NetworkConfig"):
        Config(network=3)


def test_unknown_keys_are_errors():
    with pytest.raises(
        ConfigError, match="unknown key 'lrr' in \\[training\\] \\(did you mean 'lr'\\?\\)"
    ):
        Config.from_dict({"training": {"lrr": 0.1}})
    with pytest.raises(
        ConfigError, match="unknown section 'netwrok' \\(did you mean 'network'\\?\\)"
    ):
        Config.from_dict({"netwrok": {}})
    with pytest.raises(ConfigError, match="\\[data\\] must be a table"):
        Config.from_dict({"data": "iris"})
    with pytest.raises(TypeError):
        NetworkConfig(sizes=[4, 5, 3])


def test_load_config_messages_name_the_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[training]\nlr = -2\n")
    with pytest.raises(ConfigError, match=f"{p}: training.lr must be a positive number; got -2"):
        load_config(p)
    p.write_text("[training\nlr = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)
    p.write_text("[training]\nlr = 1979-05-27\n")
    with pytest.raises(ConfigError, match="training.lr must be a positive number"):
        load_config(p)
    p.write_bytes(b"\xff\xfe[x]")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(p)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


# ---------------------------------------------------------------------- training from a config
def test_train_from_config_in_python_without_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = train_from_config({"training": {"epochs": 30}}, write=False)
    assert run.files == {} and list(tmp_path.iterdir()) == []
    assert run.network.sizes == [4, 5, 3]
    assert run.history.epochs == 30
    m = run.metrics["train"]
    assert m["n"] == 150 and 0.8 < m["accuracy"] <= 1
    labels = run.preprocessing.predict(run.network, bpcore.datasets.load_iris().X)
    assert set(labels) <= {"setosa", "versicolor", "virginica"}
    # the same seeds give the same network
    again = train_from_config({"training": {"epochs": 30}}, write=False)
    assert np.array_equal(again.network.parameters, run.network.parameters)


def test_train_from_config_writes_the_run(tmp_path):
    cfg = Config.from_dict(
        {
            "network": {
                "hidden": [8],
                "activation": "tanh",
                "output_activation": "softmax",
                "loss": "cross_entropy",
            },
            "training": {"epochs": 40, "batch_size": 8, "lr": 0.2},
            "data": {"source": "moons", "n_samples": 120, "validation_fraction": 0.25},
            "output": {"history": "history.csv"},
        }
    )
    run = train_from_config(cfg, out=tmp_path / "run")
    names = {k: p.name for k, p in run.files.items()}
    assert names == {
        "model": "model.safetensors",
        "history": "history.csv",
        "loss_plot": "loss.png",
        "regions_plot": "regions.png",
        "config": "config.toml",
    }
    assert all(p.stat().st_size > 0 for p in run.files.values())
    assert run.metrics["validation"]["n"] == 30 and run.metrics["train"]["n"] == 90
    written = load_config(run.files["config"])
    assert written.output.dir == str(tmp_path / "run") and written.network == cfg.network
    lines = run.files["history"].read_text().splitlines()
    assert lines[0] == "epoch,loss,val_loss,lr,epoch_time" and len(lines) == 41
    assert float(lines[-1].split(",")[1]) == pytest.approx(run.history.loss[-1], rel=1e-15)
    net = bpcore.load(run.files["model"])
    assert net.preprocessing == run.preprocessing
    assert written == loads_config(net.metadata["config"])


def test_train_from_config_json_history_and_regression(tmp_path):
    run = train_from_config(
        {
            "network": {"hidden": [10], "activation": "tanh", "output_activation": "identity"},
            "training": {"epochs": 60, "batch_size": 4, "lr": 0.05},
            "data": {"source": "sine", "n_samples": 80, "standardize_target": True},
            "output": {"loss_plot": "", "regions_plot": "", "config": ""},
        },
        out=tmp_path,
    )
    assert set(run.files) == {"model", "history"}
    record = json.loads(run.files["history"].read_text())
    assert record["loss"] == run.history.loss and record["epochs"] == 60
    assert record["metrics"]["train"]["rmse"] == pytest.approx(run.metrics["train"]["rmse"])
    assert run.preprocessing.task == "regression" and run.metrics["train"]["rmse"] < 0.3


def test_train_from_config_data_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="data.source: data file .* does not exist"):
        train_from_config({"data": {"source": str(tmp_path / "none.csv")}}, write=False)
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\n1,2,0.5\n3,4,1.5\n5,6,2.5\n")
    with pytest.raises(ConfigError, match="network.loss 'cross_entropy' is for classification"):
        train_from_config(
            {
                "network": {"output_activation": "softmax", "loss": "cross_entropy"},
                "data": {"source": str(csv)},
            },
            write=False,
        )
    with pytest.raises(ConfigError, match="data: target 'z' is not a column"):
        train_from_config({"data": {"source": str(csv), "target": "z"}}, write=False)
    with pytest.raises(ConfigError, match='cross_entropy" \\(softmax\\) needs data.one_hot'):
        train_from_config(
            {
                "network": {"output_activation": "softmax", "loss": "cross_entropy"},
                "data": {"source": "xor", "one_hot": False},
            },
            write=False,
        )
    with pytest.raises(ConfigError, match="validation_fraction"):
        train_from_config({"data": {"source": "xor", "validation_fraction": 0.1}}, write=False)
    with pytest.raises(TypeError, match="cfg must be"):
        train_from_config(42)


def test_config_dataclasses_are_plain():
    assert [f.name for f in dataclasses.fields(Config)] == ["network", "training", "data", "output"]
    kw = TrainingConfig(batch_size="full").fit_kwargs()
    assert kw["batch_size"] is None and kw["lr"] == 0.5 and "patience" in kw


def test_checkpoint_every_writes_a_checkpoint_while_training(tmp_path):
    cfg = Config.from_dict(
        {
            "training": {"epochs": 12},
            "output": {
                "dir": str(tmp_path / "run"),
                "checkpoint_every": 5,
                "checkpoint": "ckpt-{epoch}.safetensors",
            },
        }
    )
    run = train_from_config(cfg)
    names = sorted(p.name for p in (tmp_path / "run").glob("ckpt-*"))
    assert names == ["ckpt-10.safetensors", "ckpt-5.safetensors"]
    assert run.files["checkpoint"] == tmp_path / "run" / "ckpt-10.safetensors"
    ckpt = bpcore.load(run.files["checkpoint"])
    assert ckpt.metadata["epoch"] == "10"
    assert ckpt.preprocessing is not None  # a checkpoint predicts like the model file
    # off by default, and a clash with another output's name is an error
    assert (
        "checkpoint"
        not in train_from_config(
            Config.from_dict({"training": {"epochs": 2}, "output": {"dir": str(tmp_path / "b")}})
        ).files
    )
    with pytest.raises(ConfigError, match="same file name"):
        Config.from_dict({"output": {"checkpoint_every": 1, "checkpoint": "model.safetensors"}})
