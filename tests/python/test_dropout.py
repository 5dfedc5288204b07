"""Dropout: Network(dropout=...), inverted masks in training only, reproducible from the seed and
the same for any thread count, the gradient under a fixed mask, the glass box's view of the mask,
model files, the configuration, and the errors."""

from __future__ import annotations

import json

import bpcore
import numpy as np
import pytest
from bpcore import io as bpio
from bpcore._modelfile import checksum
from bpcore.config import Config, ConfigError, NetworkConfig, loads_config, train_from_config
from bpcore.glassbox import gradcheck


def _data(n=60, d=3, q=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.tanh(X @ rng.normal(size=(d, q)))
    return X, Y


def _net(dropout=0.5, sizes=(3, 8, 6, 2), activation="tanh", **kw):
    return bpcore.Network(
        list(sizes), activation=activation, output_activation="identity", dropout=dropout, **kw
    )


# ---------------------------------------------------------------------- the argument
def test_one_rate_for_all_or_one_per_hidden_layer():
    assert _net(0.25).dropout == [0.25, 0.25]
    assert _net([0.1, 0.0]).dropout == [0.1, 0.0]
    assert _net(0).dropout == [0.0, 0.0]
    assert bpcore.Network([3, 2]).dropout == []
    assert bpcore.Network([3, 2], dropout=0.0).dropout == []
    assert _net(np.float32(0.5)).dropout == [0.5, 0.5]


@pytest.mark.parametrize(
    "value, error, words",
    [
        (1.0, ValueError, "dropout must be a number in [0, 1)"),
        (-0.1, ValueError, "dropout must be a number in [0, 1)"),
        (float("nan"), ValueError, "dropout must be a number in [0, 1)"),
        (float("inf"), ValueError, "dropout must be a number in [0, 1)"),
        ([0.5, 1.5], ValueError, "dropout[1] must be a number in [0, 1)"),
        ([0.5], ValueError, "dropout lists 1 rates but the network has 2 hidden layers"),
        ([0.1, 0.2, 0.3], ValueError, "dropout lists 3 rates"),
        ("0.5", TypeError, "dropout must be a number in [0, 1) or a list"),
        (True, TypeError, "dropout must be a number in [0, 1) or a list"),
        (None, TypeError, "dropout must be a number in [0, 1) or a list"),
        ([0.1, "x"], TypeError, "dropout[1] must be a number in [0, 1)"),
    ],
)
def test_bad_rates_name_dropout(value, error, words):
    with pytest.raises(error) as info:
        _net(value)
    assert words in str(info.value)


def test_a_network_without_hidden_layers_takes_no_rate():
    with pytest.raises(ValueError, match="dropout applies to hidden layers and the network has"):
        bpcore.Network([3, 2], dropout=0.5)


def test_repr_summary_copy_and_pickle_show_and_keep_the_rates():
    import pickle

    net = _net([0.5, 0.2])
    assert "dropout=[0.5, 0.2]" in repr(net)
    assert "dropout=0.3," in repr(_net(0.3))
    assert "dropout" not in repr(_net(0))
    text = str(net.summary())
    lines = text.splitlines()
    assert "tanh, dropout 0.5" in lines[4] and "tanh, dropout 0.2" in lines[5]
    assert "dropout" not in lines[6]  # the output layer has none
    assert [r.dropout for r in net.summary().rows] == [0.5, 0.2, 0.0]
    assert "dropout" not in str(_net(0).summary())
    assert net.copy().dropout == [0.5, 0.2]
    assert pickle.loads(pickle.dumps(net)).dropout == [0.5, 0.2]
    # a pickled state from before dropout loads with none
    state = net.__getstate__()
    del state["dropout"]
    old = object.__new__(bpcore.Network)
    old.__setstate__(state)
    assert old.dropout == [0.0, 0.0]


# ---------------------------------------------------------------------- masks and rescaling
def test_masked_H_is_f_of_Z_times_the_mask_over_1_minus_p_and_keeps_its_mean():
    p = 0.4
    net = _net(p, sizes=(3, 6, 2), activation="sigmoid")
    X = np.full((5000, 3), 0.2)
    Y = np.zeros((5000, 2))
    net.backward(X, Y)
    assert net.mask == {}  # no seed: evaluation, no mask
    H = net.H[1].copy()
    net.backward(X, Y, dropout_seed=7)
    M = net.mask[1]
    assert set(np.unique(M)) == {0.0, 1.0}
    # the share of dropped units is p (5 binomial standard deviations)
    assert abs((1 - M.mean()) - p) < 5 * np.sqrt(p * (1 - p) / M.size)
    f_Z = 1 / (1 + np.exp(-net.Z[1]))
    np.testing.assert_allclose(net.H[1], f_Z * M / (1 - p), rtol=1e-14, atol=0)
    np.testing.assert_allclose(f_Z, H, rtol=1e-14)
    # inverted dropout: E[H ⊙ M / (1 - p)] = H, per unit
    mean = net.H[1].mean(axis=0)
    sd = H[0] * np.sqrt(p / (1 - p) / X.shape[0])
    assert np.all(np.abs(mean - H[0]) < 5 * sd)


def test_evaluation_uses_no_mask():
    X, Y = _data()
    with_dropout = _net(0.5)
    without = _net(0)
    without.parameters[...] = with_dropout.parameters
    np.testing.assert_array_equal(with_dropout.predict(X), without.predict(X))
    assert with_dropout.loss(X, Y) == without.loss(X, Y)
    np.testing.assert_array_equal(with_dropout.forward(X), without.forward(X))
    J, _ = with_dropout.backward(X, Y)
    assert J == without.backward(X, Y)[0]
    # training masks; the J of a masked pass differs
    assert with_dropout.backward(X, Y, dropout_seed=0)[0] != J


def test_masks_depend_on_seed_epoch_and_row():
    X, Y = _data(40)
    net = _net(0.5)
    net.backward(X, Y, dropout_seed=1, dropout_epoch=0)
    a = net.mask[1]
    net.backward(X, Y, dropout_seed=1, dropout_epoch=0)
    np.testing.assert_array_equal(net.mask[1], a)
    net.backward(X, Y, dropout_seed=2, dropout_epoch=0)
    assert not np.array_equal(net.mask[1], a)
    net.backward(X, Y, dropout_seed=1, dropout_epoch=1)
    assert not np.array_equal(net.mask[1], a)
    # the mask of a row does not depend on the rest of the batch ... but on its index
    net.backward(X[:10], Y[:10], dropout_seed=1)
    np.testing.assert_array_equal(net.mask[1], a[:10])
    assert not np.array_equal(a[:10], a[10:20])


# ---------------------------------------------------------------------- gradient with a fixed mask
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "prelu", "gelu"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradcheck_with_a_fixed_mask(activation, dtype):
    X, Y = _data(7)
    net = _net([0.5, 0.3], activation=activation, dtype=dtype, init_scale=0.8, seed=2)
    report = gradcheck(net, X, Y, dropout_seed=5, dropout_epoch=3)
    assert report.passed, str(report)
    # the masked gradient is not the evaluation one, so the check above tested the mask
    masked = net.backward(X, Y, dropout_seed=5, dropout_epoch=3)[1][0][0]
    plain = net.backward(X, Y)[1][0][0]
    assert np.max(np.abs(masked - plain)) > 1e-4
    assert gradcheck(net, X, Y).passed


def test_masked_backward_matches_numpy():
    """The core's masked pass against the formulas, with the core's masks."""
    X, Y = _data(9)
    p = [0.5, 0.25]
    net = _net(p, seed=4, init_scale=0.7)
    J, grads = net.backward(X, Y, dropout_seed=8, dropout_epoch=2)
    M = net.mask
    W, b = net.weights, net.biases
    H1 = np.tanh(X @ W[0] + b[0]) * M[1] / (1 - p[0])
    H2 = np.tanh(H1 @ W[1] + b[1]) * M[2] / (1 - p[1])
    Yhat = H2 @ W[2] + b[2]
    E = Y - Yhat
    assert J == pytest.approx(0.5 * np.sum(E**2) / len(X), rel=1e-13)
    d3 = E
    d2 = (d3 @ W[2].T) * M[2] / (1 - p[1]) * (1 - np.tanh(H1 @ W[1] + b[1]) ** 2)
    d1 = (d2 @ W[1].T) * M[1] / (1 - p[0]) * (1 - np.tanh(X @ W[0] + b[0]) ** 2)
    n = len(X)
    for (gW, gb), A, d in zip(grads, (X, H1, H2), (d1, d2, d3)):
        np.testing.assert_allclose(gW, -(A.T @ d) / n, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(gb, -d.sum(axis=0) / n, rtol=1e-10, atol=1e-15)


# ---------------------------------------------------------------------- training
@pytest.mark.parametrize(
    "fit_kw",
    [
        {"batch_size": 1, "lr": 0.1},
        {"batch_size": 8, "lr": 0.2, "optimizer": "momentum"},
        {"batch_size": None, "lr": 0.01, "optimizer": "adam"},
        {"batch_size": 16, "lr": 0.3, "shuffle": False},
    ],
)
def test_same_seed_same_result_other_seed_other_result(fit_kw):
    X, Y = _data()
    runs = []
    for seed in (3, 3, 4):
        net = _net([0.4, 0.2])
        hist = net.fit(X, Y, epochs=4, seed=seed, **fit_kw)
        runs.append((net.parameters.copy(), hist.loss))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    assert not np.array_equal(runs[0][0], runs[2][0])


@pytest.mark.parametrize("batch_size", [None, 512, 1])
def test_one_and_two_threads_give_the_same_bits(batch_size):
    # large enough that the core shares each batch among threads
    X, Y = _data(3000, d=20, q=4)
    out = []
    for threads in (1, 2):
        net = _net(0.3, sizes=(20, 64, 48, 4), activation="relu", init="he")
        net.fit(X, Y, epochs=2, batch_size=batch_size, lr=0.01, n_threads=threads, seed=1)
        out.append(net.parameters.copy())
    np.testing.assert_array_equal(out[0], out[1])


@pytest.mark.parametrize("batch_size", [1, 10, None])
def test_rate_zero_is_bitwise_no_dropout(batch_size):
    X, Y = _data()
    plain = bpcore.Network([3, 8, 6, 2], activation="tanh", output_activation="identity")
    zeros = _net([0.0, 0.0])
    some = _net([0.0, 0.5])
    for net in (plain, zeros, some):
        net.fit(X, Y, epochs=3, batch_size=batch_size, lr=0.1, seed=2)
    np.testing.assert_array_equal(plain.parameters, zeros.parameters)
    assert not np.array_equal(plain.parameters, some.parameters)


def test_warm_start_continues_the_epochs_masks():
    X, Y = _data()
    once = _net(0.5)
    once.fit(X, Y, epochs=4, batch_size=8, lr=0.1, seed=6)
    twice = _net(0.5)
    twice.fit(X, Y, epochs=2, batch_size=8, lr=0.1, seed=6)
    twice.fit(X, Y, epochs=2, batch_size=8, lr=0.1, seed=6)
    np.testing.assert_array_equal(once.parameters, twice.parameters)


def test_dropout_regularises_a_wide_network_toward_its_mean_behaviour():
    """Training with dropout still lowers the evaluation J."""
    X, Y = _data(200)
    net = _net(0.2, sizes=(3, 32, 2), activation="tanh")
    before = net.loss(X, Y)
    net.fit(X, Y, epochs=40, batch_size=10, lr=0.05, seed=0)
    assert net.loss(X, Y) < 0.5 * before


@pytest.mark.parametrize("optimizer", ["rprop", "lbfgs", "lm"])
def test_full_batch_optimizers_refuse_dropout(optimizer):
    X, Y = _data()
    net = _net(0.5)
    start = net.parameters.copy()
    with pytest.raises(ValueError) as info:
        net.fit(X, Y, optimizer=optimizer, epochs=2)
    message = str(info.value)
    assert "dropout needs a mini-batch optimizer" in message and repr(optimizer) in message
    assert "sgd" in message
    np.testing.assert_array_equal(net.parameters, start)
    # with every rate 0 they train
    _net(0).fit(X, Y, optimizer=optimizer, epochs=2)


def test_divergence_with_dropout_keeps_the_last_finite_epoch():
    X, Y = _data(30)

    def network():
        return _net(0.3, sizes=(3, 4, 2), activation="identity")

    net = network()
    with pytest.raises(bpcore.TrainingDivergedError) as info:
        net.fit(X, Y, epochs=100000, batch_size=5, lr=3.0, seed=0)
    e = info.value.epoch
    assert 1 <= e < 100000 and f"epoch {e}" in str(info.value)
    earlier = network()
    if e > 1:
        earlier.fit(X, Y, epochs=e - 1, batch_size=5, lr=3.0, seed=0)
    np.testing.assert_array_equal(net.parameters, earlier.parameters)


def test_interrupt_with_dropout_keeps_the_last_finished_epoch():
    X, Y = _data()
    seen = {}

    def stop_at_3(net, epoch, logs):
        seen[epoch] = net.parameters.copy()
        if epoch == 3:
            raise KeyboardInterrupt

    net = _net(0.5)
    try:
        hist = net.fit(X, Y, epochs=20, batch_size=4, lr=0.1, seed=1, callbacks=stop_at_3)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped fit()")
    assert hist.stop_reason == "interrupted" and hist.epochs == 3
    np.testing.assert_array_equal(net.parameters, seen[3])
    same = _net(0.5)
    same.fit(X, Y, epochs=3, batch_size=4, lr=0.1, seed=1)
    np.testing.assert_array_equal(net.parameters, same.parameters)


# ---------------------------------------------------------------------- the glass box
def test_trace_shows_the_mask_of_a_training_step_and_equals_fit():
    X, Y = _data(12)
    net = _net([0.5, 0.25], seed=3)
    twin = net.copy()
    t = net.trace(X, Y, lr=0.2, update=True, dropout_seed=9)
    assert t[1].mask is not None and t[2].mask is not None and t[3].mask is None
    assert t[1].dropout == 0.5 and t[3].dropout == 0.0
    np.testing.assert_array_equal(t[1].mask, net.mask[1])
    np.testing.assert_array_equal(t[2].H_prev, t[1].H)  # the next layer sees the masked H
    assert "M^[1] (dropout p = 0.5; 0 drops a unit)" in str(t)
    assert "H^[1] = f(Z^[1]) ⊙ M^[1] / (1 − 0.5)" in str(t)
    assert "⊙ M^[2] / (1 − 0.25)) ⊙ f′(Z^[2])" in t[2].delta_rule
    d = t.to_dict()["layers"]
    assert d[1]["dropout"] == 0.5 and "mask" not in d[3]
    # the step is the first epoch of fit on the batch, in order, with that seed
    twin.fit(X, Y, epochs=1, batch_size=12, shuffle=False, lr=0.2, seed=9)
    np.testing.assert_allclose(net.parameters, twin.parameters, rtol=0, atol=1e-15)
    # J after is the masked J of the same masks
    assert t.J_after == pytest.approx(net.backward(X, Y, dropout_seed=9)[0], rel=1e-14)


def test_trace_without_a_seed_or_without_dropout_has_no_mask():
    X, Y = _data(5)
    for t in (_net(0.5).trace(X, Y, dropout_seed=None), _net(0).trace(X, Y)):
        assert all(layer.mask is None for layer in t)
        assert "M^[" not in str(t)
    with pytest.raises(ValueError, match="dropout_seed"):
        _net(0.5).trace(X, Y, dropout_seed=-1)
    with pytest.raises(ValueError, match="dropout_epoch"):
        _net(0.5).trace(X, Y, dropout_epoch=-1)


# ---------------------------------------------------------------------- model files
def test_model_file_keeps_the_rates_and_old_files_load_without(tmp_path):
    net = _net([0.5, 0.1])
    path = tmp_path / "m.safetensors"
    net.save(path)
    back = bpio.load(path)
    assert back.dropout == [0.5, 0.1]
    np.testing.assert_array_equal(back.parameters, net.parameters)
    # a file written before dropout: no bpcore.dropout key (and its checksum without it)
    tensors, meta = bpio.load_tensors(path)
    assert json.loads(meta["bpcore.dropout"]) == [0.5, 0.1]
    del meta["bpcore.dropout"]
    meta["bpcore.checksum"] = checksum(tensors, meta)
    old = tmp_path / "old.safetensors"
    bpio.save_tensors(old, tensors, meta)
    assert bpio.load(old).dropout == [0.0, 0.0]
    # a bad stored rate is a clear error
    meta["bpcore.dropout"] = "[0.5, 2]"
    meta["bpcore.checksum"] = checksum(tensors, meta)
    bad = tmp_path / "bad.safetensors"
    bpio.save_tensors(bad, tensors, meta)
    with pytest.raises(bpio.ModelFileError, match=r"dropout\[1\] must be a number in \[0, 1\)"):
        bpio.load(bad)


# ---------------------------------------------------------------------- configuration
def test_config_network_dropout():
    assert NetworkConfig(hidden=[4, 3], dropout=0.2).dropout == 0.2
    assert NetworkConfig(hidden=[4, 3], dropout=[0.2, 0]).dropout == [0.2, 0.0]
    for value, words in [
        (1, "network.dropout must be a number in [0, 1)"),
        ([0.1], "network.dropout lists 1 rates but the network has 2 hidden layers"),
        ([0.1, -1], "network.dropout[1] must be a number in [0, 1)"),
        ("high", "network.dropout must be a number in [0, 1) or a list"),
    ]:
        with pytest.raises(ConfigError) as info:
            NetworkConfig(hidden=[4, 3], dropout=value)
        assert words in str(info.value)
    with pytest.raises(ConfigError, match="network.dropout needs a mini-batch optimizer"):
        Config.from_dict({"network": {"dropout": 0.5}, "training": {"optimizer": "lbfgs"}})
    cfg = loads_config("[network]\nhidden = [6]\ndropout = 0.25\n")
    assert cfg.network.dropout == 0.25
    assert "dropout = 0.25" in cfg.to_toml()
    assert loads_config(cfg.to_toml()).network.dropout == 0.25


def test_train_from_config_builds_the_network_with_dropout():
    run = train_from_config(
        {
            "network": {"hidden": [8], "dropout": 0.3},
            "training": {"epochs": 3, "batch_size": 10, "lr": 0.2},
        },
        write=False,
    )
    assert run.network.dropout == [0.3]
    again = train_from_config(
        {
            "network": {"hidden": [8], "dropout": 0.3},
            "training": {"epochs": 3, "batch_size": 10, "lr": 0.2},
        },
        write=False,
    )
    np.testing.assert_array_equal(run.network.parameters, again.network.parameters)
