"""Training (``Network.fit``): the notes' online BP loop, optimizers, schedules, weight decay,
thread-count independence, stopping rules, divergence, warm starts, Ctrl-C and bad arguments.

The expected numbers come from ``reference.py``: a pure-NumPy MLP, the documented update rules of
optimizer.hpp, and the epoch order ``core.epoch_permutation``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import bpcore
import numpy as np
import pytest
from bpcore._loader import core
from bpcore._names import OPTIMIZER_INFO, OPTIMIZERS
from conftest import kwargs_id
from reference import (
    ReferenceMLP,
    adam_reference,
    learning_rate_reference,
    momentum_reference,
    online_bp_reference,
    sgd_reference,
)

# the optimizers that step on mini-batches (the full-batch ones are tested in test_fullbatch.py)
MINIBATCH_OPTIMIZERS = tuple(n for n in OPTIMIZERS if not OPTIMIZER_INFO[n].full_batch)


def notes_network(seed: int = 0, **kwargs) -> bpcore.Network:
    """The notes' 4-5-3 sigmoid network with J = ½ Σ e²."""
    args = dict(
        activation="sigmoid",
        output_activation="sigmoid",
        loss="mse",
        dtype="float64",
        init="small_uniform",
        seed=seed,
    )
    args.update(kwargs)
    return bpcore.Network([4, 5, 3], **args)


class Recorder:
    """A callback keeping a copy of the parameters after every epoch: ``params[e]``."""

    def __init__(self) -> None:
        self.params: dict[int, np.ndarray] = {}
        self.logs: dict[int, dict] = {}

    def __call__(self, net, epoch, logs):
        self.params[epoch] = net.parameters.copy()
        self.logs[epoch] = dict(logs)
        return False


def reference_fit(
    ref: ReferenceMLP,
    X,
    Y,
    *,
    epochs,
    batch_size,
    lr,
    optimizer="sgd",
    momentum=0.9,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    weight_decay=0.0,
    shuffle=True,
    seed=0,
    sample_weight=None,
    drop_last=False,
    lr_schedule="constant",
    power_t=0.5,
    step_size=10,
    gamma=0.1,
    first_epoch=0,
):
    """Mini-batch training written from optimizer.hpp and trainer.hpp, in NumPy.

    Returns (θ after each epoch, mean J of each epoch, lr of each epoch)."""
    n = X.shape[0]
    batch = n if batch_size is None else batch_size
    n_batches = n // batch if drop_last else -(-n // batch)
    theta = ref.flat_parameters()
    mask = ref.weight_mask()
    v = np.zeros_like(theta)
    m, s, t = np.zeros_like(theta), np.zeros_like(theta), 0
    thetas, losses, lrs = [], [], []
    for e in range(first_epoch, first_epoch + epochs):
        lr_e = learning_rate_reference(lr, e, lr_schedule, power_t, step_size, gamma)
        order = core.epoch_permutation(n, seed, e) if shuffle else np.arange(n)
        total = weight = 0.0
        for b in range(n_batches):
            idx = order[b * batch : (b + 1) * batch]
            w = None if sample_weight is None else sample_weight[idx]
            J, grads, alpha_grads, _ = ref.backward(X[idx], Y[idx], sample_weight=w)
            bw = len(idx) if w is None else float(np.sum(w))
            total += J * bw
            weight += bw
            g = ref.flat_gradient(grads, alpha_grads) + weight_decay * mask * theta
            if optimizer == "sgd":
                theta = sgd_reference(theta, g, lr_e)
            elif optimizer in ("momentum", "nesterov"):
                theta, v = momentum_reference(
                    theta, g, v, lr_e, momentum, nesterov=optimizer == "nesterov"
                )
            else:
                theta, m, s, t = adam_reference(theta, g, m, s, t, lr_e, beta1, beta2, epsilon)
            ref.set_flat_parameters(theta)
        thetas.append(theta.copy())
        losses.append(total / weight)
        lrs.append(lr_e)
    return thetas, losses, lrs


# ------------------------------------------------------------------------- the notes' BP loop
@pytest.mark.parametrize("seed", [0, 7])
def test_online_loop_equals_the_notes_bp_algorithm(iris, seed):
    net = notes_network(seed=seed)
    start = ReferenceMLP.from_network(net)
    hist = net.fit(
        iris.X, iris.Y, epochs=4, batch_size=1, lr=0.5, optimizer="sgd", shuffle=True, seed=seed
    )
    ref = online_bp_reference(start, iris.X, iris.Y, lr=0.5, epochs=4, seed=seed)
    np.testing.assert_allclose(net.parameters, ref.flat_parameters(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hist.loss, ref.epoch_losses, rtol=1e-12, atol=1e-14)
    assert hist.epochs == 4 and hist.stop_reason == "max_epochs"
    assert hist.lr == [0.5] * 4
    # the loop really trains: J fell
    assert hist.loss[-1] < 0.5 * hist.loss[0]


def test_online_loop_learns_prelu_slopes_like_the_reference(iris):
    net = bpcore.Network(
        [4, 6, 5, 3],
        activation=["prelu", "tanh"],
        output_activation="softmax",
        loss="cross_entropy",
        init="he",
        seed=3,
    )
    start = ReferenceMLP.from_network(net)
    hist = net.fit(iris.X, iris.Y, epochs=3, batch_size=1, lr=0.05, seed=8)
    ref = online_bp_reference(start, iris.X, iris.Y, lr=0.05, epochs=3, seed=8)
    np.testing.assert_allclose(net.parameters, ref.flat_parameters(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(hist.loss, ref.epoch_losses, rtol=1e-12)
    assert float(net.alphas[1]) != 0.25
    assert float(net.alphas[1]) == pytest.approx(ref.alphas[1], rel=1e-11)


def test_online_loop_visits_samples_in_the_documented_order(iris):
    """One epoch over two samples whose order matters: the core's epoch_permutation order gives
    the core's result, the reverse order does not."""
    net = notes_network(seed=3)
    start = ReferenceMLP.from_network(net)
    X, Y = iris.X[[0, 100]], iris.Y[[0, 100]]
    net.fit(X, Y, epochs=1, batch_size=1, lr=0.5, seed=5)
    order = core.epoch_permutation(2, 5, 0)
    assert sorted(order) == [0, 1]
    ref_order = online_bp_reference(start, X, Y, lr=0.5, epochs=1, seed=5)
    np.testing.assert_allclose(net.parameters, ref_order.flat_parameters(), rtol=1e-13, atol=1e-15)
    other = start.copy()
    for i in order[::-1]:
        _, g, _, _ = other.backward(X[i : i + 1], Y[i : i + 1])
        other.sgd_step(g, 0.5)
    assert not np.allclose(net.parameters, other.flat_parameters(), rtol=1e-10, atol=0)


def test_notes_network_reaches_95_percent_on_iris(iris):
    net = notes_network(seed=0)
    hist = net.fit(iris.X, iris.Y, epochs=100, batch_size=1, lr=0.5, optimizer="sgd", seed=0)
    accuracy = np.mean(net.predict(iris.X).argmax(axis=1) == iris.y)
    assert accuracy >= 0.95
    assert hist.loss[-1] < hist.loss[0]
    assert net.loss(iris.X, iris.Y) < 0.05


# ------------------------------------------------------------------------- optimizers
OPTIMIZER_SETTINGS = {
    "sgd": dict(lr=0.5),
    "momentum": dict(lr=0.05, momentum=0.9),
    "nesterov": dict(lr=0.05, momentum=0.9),
    "adam": dict(lr=0.01),
}


@pytest.mark.parametrize("optimizer", MINIBATCH_OPTIMIZERS)
def test_each_optimizer_lowers_J_on_iris(iris, optimizer):
    net = notes_network(seed=0)
    J0 = net.loss(iris.X, iris.Y)
    hist = net.fit(
        iris.X,
        iris.Y,
        epochs=40,
        batch_size=10,
        optimizer=optimizer,
        seed=0,
        **OPTIMIZER_SETTINGS[optimizer],
    )
    assert net.loss(iris.X, iris.Y) < 0.5 * J0
    assert hist.loss[-1] < hist.loss[0]
    assert np.mean(net.predict(iris.X).argmax(axis=1) == iris.y) > 0.85


XOR_SETTINGS = {
    "sgd": dict(lr=2.0),
    "momentum": dict(lr=0.5, momentum=0.9),
    "nesterov": dict(lr=0.5, momentum=0.9),
    "adam": dict(lr=0.05),
}


@pytest.mark.parametrize("optimizer", MINIBATCH_OPTIMIZERS)
def test_each_optimizer_solves_xor(xor, optimizer):
    X, Y = xor
    net = bpcore.Network(
        [2, 4, 1],
        activation="tanh",
        output_activation="sigmoid",
        loss="binary_cross_entropy",
        init="xavier",
        seed=0,
    )
    J0 = net.loss(X, Y)
    net.fit(
        X, Y, epochs=1000, batch_size=None, optimizer=optimizer, seed=0, **XOR_SETTINGS[optimizer]
    )
    assert net.loss(X, Y) < 0.05 * J0
    np.testing.assert_array_equal(net.predict(X) > 0.5, Y > 0.5)


@pytest.mark.parametrize("optimizer", MINIBATCH_OPTIMIZERS)
def test_full_batch_updates_match_the_documented_rules(iris, optimizer):
    net = bpcore.Network(
        [4, 5, 3], activation="prelu", output_activation="softmax", loss="cross_entropy", seed=2
    )
    start = ReferenceMLP.from_network(net)
    rec = Recorder()
    opts = dict(lr=0.05, momentum=0.8, beta1=0.85, beta2=0.99, epsilon=1e-7)
    hist = net.fit(
        iris.X,
        iris.Y,
        epochs=6,
        batch_size=None,
        optimizer=optimizer,
        shuffle=False,
        callbacks=[rec],
        **opts,
    )
    thetas, losses, _ = reference_fit(
        start, iris.X, iris.Y, epochs=6, batch_size=None, optimizer=optimizer, shuffle=False, **opts
    )
    for e in range(1, 7):
        np.testing.assert_allclose(
            rec.params[e], thetas[e - 1], rtol=1e-11, atol=1e-13, err_msg=f"epoch {e}"
        )
    np.testing.assert_allclose(hist.loss, losses, rtol=1e-12)
    # the optimizers really differ from one another
    sgd_thetas, _, _ = reference_fit(
        ReferenceMLP.from_network(
            bpcore.Network(
                [4, 5, 3],
                activation="prelu",
                output_activation="softmax",
                loss="cross_entropy",
                seed=2,
            )
        ),
        iris.X,
        iris.Y,
        epochs=6,
        batch_size=None,
        optimizer="sgd",
        shuffle=False,
        **opts,
    )
    if optimizer != "sgd":
        assert not np.allclose(thetas[-1], sgd_thetas[-1], rtol=1e-6, atol=0)


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_shuffled_mini_batches_with_sample_weights_match_the_reference(iris, optimizer):
    net = bpcore.Network(
        [4, 6, 3], activation="tanh", output_activation="sigmoid", loss="mse", init="xavier", seed=4
    )
    start = ReferenceMLP.from_network(net)
    w = np.random.default_rng(3).uniform(0.0, 2.0, size=150)
    w[:10] = 0.0
    opts = dict(epochs=3, batch_size=16, lr=0.05, optimizer=optimizer, seed=9, sample_weight=w)
    rec = Recorder()
    hist = net.fit(iris.X, iris.Y, callbacks=[rec], **opts)
    thetas, losses, _ = reference_fit(start, iris.X, iris.Y, **opts)
    for e in range(1, 4):
        np.testing.assert_allclose(rec.params[e], thetas[e - 1], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(hist.loss, losses, rtol=1e-12)


def test_drop_last_skips_the_partial_batch(iris):
    net = notes_network(seed=1)
    start = ReferenceMLP.from_network(net)
    opts = dict(epochs=2, batch_size=32, lr=0.5, optimizer="sgd", seed=2)
    net.fit(iris.X, iris.Y, drop_last=True, **opts)
    thetas, _, _ = reference_fit(start.copy(), iris.X, iris.Y, drop_last=True, **opts)
    np.testing.assert_allclose(net.parameters, thetas[-1], rtol=1e-12, atol=1e-14)
    kept, _, _ = reference_fit(start.copy(), iris.X, iris.Y, drop_last=False, **opts)
    assert not np.allclose(thetas[-1], kept[-1], rtol=1e-8, atol=0)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_weight_decay_adds_lambda_W_to_the_weight_gradients_only(iris, optimizer):
    net = bpcore.Network([4, 5, 3], activation="prelu", output_activation="sigmoid", seed=6)
    plain = net.copy()
    start = ReferenceMLP.from_network(net)
    opts = dict(epochs=5, batch_size=None, lr=0.1, optimizer=optimizer, shuffle=False)
    net.fit(iris.X, iris.Y, weight_decay=0.3, **opts)
    thetas, _, _ = reference_fit(start, iris.X, iris.Y, weight_decay=0.3, **opts)
    np.testing.assert_allclose(net.parameters, thetas[-1], rtol=1e-11, atol=1e-13)
    plain.fit(iris.X, iris.Y, **opts)
    assert not np.allclose(net.parameters, plain.parameters, rtol=1e-6, atol=0)
    if optimizer == "sgd":
        # decay pulls the weights towards 0
        assert sum(np.sum(W**2) for W in net.weights) < sum(np.sum(W**2) for W in plain.weights)


def test_weight_decay_leaves_biases_and_alpha_alone():
    """Where the data gradient is zero (Y = Ŷ, so J = 0), one step of weight decay multiplies W by
    (1 - lr λ) and keeps b and α."""
    net = bpcore.Network([3, 2], activation=[], output_activation="prelu", seed=1)
    X = np.random.default_rng(0).normal(size=(8, 3))
    Y = net.predict(X)
    net.backward(X, Y)
    np.testing.assert_array_equal(net.gradient, 0.0)
    W0, b0, a0 = net.weights[0].copy(), net.biases[0].copy(), float(net.alphas[1])
    net.fit(
        X, Y, epochs=1, batch_size=None, lr=0.1, optimizer="sgd", weight_decay=0.5, shuffle=False
    )
    np.testing.assert_allclose(net.weights[0], (1 - 0.1 * 0.5) * W0, rtol=1e-14)
    np.testing.assert_array_equal(net.biases[0], b0)
    assert float(net.alphas[1]) == a0


@pytest.mark.parametrize(
    "schedule, options",
    [
        ("constant", {}),
        ("invscaling", dict(power_t=0.7)),
        ("step", dict(step_size=3, gamma=0.5)),
    ],
)
def test_learning_rate_schedules(iris, schedule, options):
    net = notes_network(seed=2)
    start = ReferenceMLP.from_network(net)
    opts = dict(
        epochs=8,
        batch_size=None,
        lr=0.8,
        optimizer="sgd",
        shuffle=False,
        lr_schedule=schedule,
        **options,
    )
    hist = net.fit(iris.X, iris.Y, **opts)
    expected = [learning_rate_reference(0.8, e, schedule, **options) for e in range(8)]
    np.testing.assert_allclose(hist.lr, expected, rtol=1e-15)
    thetas, _, _ = reference_fit(start, iris.X, iris.Y, **opts)
    np.testing.assert_allclose(net.parameters, thetas[-1], rtol=1e-12, atol=1e-14)
    if schedule == "step":
        assert hist.lr == [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2]
    if schedule == "invscaling":
        assert hist.lr[3] == pytest.approx(0.8 / 4**0.7)
    # a warm start continues the schedule where it stopped
    more = net.fit(iris.X, iris.Y, **dict(opts, epochs=2))
    np.testing.assert_allclose(
        more.lr, [learning_rate_reference(0.8, e, schedule, **options) for e in (8, 9)], rtol=1e-15
    )


# ------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_thread_count_does_not_change_a_bit(dtype):
    """Batches of 256 rows × ~1100 parameters: several 64-row blocks, and enough work for the core
    to run them on several threads."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1024, 16)).astype(dtype)
    Y = np.tanh(X[:, :4] * X[:, 4:8])
    results = []
    for n_threads in (1, 2, 3, None):
        net = bpcore.Network(
            [16, 32, 16, 4], activation="tanh", output_activation="identity", dtype=dtype, seed=1
        )
        assert net.n_params > 1000
        hist = net.fit(
            X, Y, epochs=3, batch_size=256, lr=0.01, optimizer="adam", n_threads=n_threads, seed=2
        )
        J, _ = net.backward(X, Y, n_threads=n_threads)
        results.append(
            (
                net.parameters.copy(),
                hist.loss,
                J,
                net.gradient.copy(),
                net.predict(X, n_threads=n_threads),
                net.loss(X, Y, n_threads=n_threads),
            )
        )
    first = results[0]
    for other in results[1:]:
        np.testing.assert_array_equal(other[0], first[0])
        assert other[1] == first[1]
        assert other[2] == first[2]
        np.testing.assert_array_equal(other[3], first[3])
        np.testing.assert_array_equal(other[4], first[4])
        assert other[5] == first[5]


def test_same_seed_same_run_and_different_seeds_differ(iris):
    runs = {}
    for key, seed in (("a", 4), ("b", 4), ("c", 5)):
        net = notes_network(seed=0)
        hist = net.fit(iris.X, iris.Y, epochs=3, batch_size=8, lr=0.3, seed=seed)
        runs[key] = (net.parameters.copy(), hist.loss)
    np.testing.assert_array_equal(runs["a"][0], runs["b"][0])
    assert runs["a"][1] == runs["b"][1]
    assert not np.allclose(runs["a"][0], runs["c"][0], rtol=1e-6, atol=0)
    # without shuffling the seed does not matter
    unshuffled = []
    for seed in (1, 2):
        net = notes_network(seed=0)
        net.fit(iris.X, iris.Y, epochs=2, batch_size=8, lr=0.3, seed=seed, shuffle=False)
        unshuffled.append(net.parameters.copy())
    np.testing.assert_array_equal(*unshuffled)


@pytest.mark.parametrize(
    "optimizer, batch_size, lr", [("sgd", 1, 0.5), ("adam", 16, 0.01), ("momentum", 32, 0.05)]
)
def test_warm_start_two_fits_equal_one(iris, optimizer, batch_size, lr):
    one, two = notes_network(seed=1), notes_network(seed=1)
    opts = dict(batch_size=batch_size, lr=lr, optimizer=optimizer, seed=3)
    h10 = one.fit(iris.X, iris.Y, epochs=10, **opts)
    h5a = two.fit(iris.X, iris.Y, epochs=5, **opts)
    h5b = two.fit(iris.X, iris.Y, epochs=5, **opts)
    np.testing.assert_array_equal(one.parameters, two.parameters)
    assert h5a.loss + h5b.loss == h10.loss
    assert h5b.epochs_before == 5


def test_warm_start_false_restarts_the_optimizer_and_the_epoch_count(iris):
    net = notes_network(seed=1)
    opts = dict(batch_size=16, lr=0.01, optimizer="adam", seed=3)
    net.fit(iris.X, iris.Y, epochs=3, **opts)
    fresh = notes_network(seed=1)  # same weights, no optimizer state
    fresh.parameters[...] = net.parameters
    hist = net.fit(iris.X, iris.Y, epochs=3, warm_start=False, **opts)
    assert hist.epochs_before == 0
    fresh.fit(iris.X, iris.Y, epochs=3, **opts)
    np.testing.assert_array_equal(net.parameters, fresh.parameters)
    # and warm_start=True would have given something else
    warm = notes_network(seed=1)
    warm.fit(iris.X, iris.Y, epochs=6, **opts)
    assert not np.array_equal(warm.parameters, net.parameters)


# ------------------------------------------------------------------------- stopping rules
def test_tol_stops_at_the_first_epoch_below_epsilon(iris):
    probe = notes_network(seed=0)
    losses = probe.fit(iris.X, iris.Y, epochs=30, batch_size=1, lr=0.5, seed=0).loss
    # an ε that the 12th epoch is the first to beat
    k = 11
    assert losses[k] < min(losses[:k])
    tol = (losses[k] + min(losses[:k])) / 2
    net = notes_network(seed=0)
    hist = net.fit(iris.X, iris.Y, epochs=30, batch_size=1, lr=0.5, seed=0, tol=tol)
    assert hist.stop_reason == "tol"
    assert hist.epochs == k + 1
    assert hist.loss[-1] < tol
    assert all(J >= tol for J in hist.loss[:-1])
    assert hist.loss == losses[: k + 1]
    # an ε never reached leaves the budget as the stop
    hist = notes_network(seed=0).fit(iris.X, iris.Y, epochs=3, batch_size=1, lr=0.5, tol=1e-12)
    assert hist.stop_reason == "max_epochs" and hist.epochs == 3


def _sine_problem():
    import bpcore.datasets as ds

    X, y = ds.make_sine(40, noise=0.4, seed=1)
    Xv, yv = ds.make_sine(200, noise=0.4, seed=2)
    return X, y, Xv, yv


def _sine_network():
    return bpcore.Network(
        [1, 32, 32, 1], activation="tanh", output_activation="identity", init="xavier", seed=0
    )


@pytest.mark.parametrize("validation", ["data", "fraction"])
def test_early_stopping_restores_the_best_weights(validation):
    X, y, Xv, yv = _sine_problem()
    net = _sine_network()
    rec = Recorder()
    extra = (
        dict(validation_data=(Xv, yv)) if validation == "data" else dict(validation_fraction=0.3)
    )
    hist = net.fit(
        X,
        y,
        epochs=2000,
        batch_size=8,
        lr=0.01,
        optimizer="adam",
        early_stopping=True,
        patience=10,
        seed=0,
        callbacks=[rec],
        **extra,
    )
    assert hist.stop_reason == "early_stopping"
    assert len(hist.val_loss) == hist.epochs
    best = int(np.argmin(hist.val_loss)) + 1
    assert hist.best_epoch == best
    assert hist.epochs == best + 10  # patience epochs without improvement
    assert best > 1
    np.testing.assert_array_equal(net.parameters, rec.params[best])
    assert not np.array_equal(net.parameters, rec.params[hist.epochs - 1])
    assert rec.logs[best]["val_loss"] == hist.val_loss[best - 1]
    if validation == "data":
        assert net.loss(Xv, yv) == pytest.approx(hist.val_loss[best - 1], rel=1e-12)


def test_validation_fraction_holds_out_samples(iris):
    net = notes_network(seed=0)
    hist = net.fit(
        iris.X, iris.Y, epochs=2, batch_size=None, lr=0.5, validation_fraction=0.2, seed=3
    )
    assert len(hist.val_loss) == 2
    # the training J is over the 120 kept samples: it differs from the J over all 150
    full = notes_network(seed=0).fit(iris.X, iris.Y, epochs=2, batch_size=None, lr=0.5, seed=3)
    assert hist.loss[0] != full.loss[0]


def test_callbacks_can_stop_training(iris):
    def stop_at_3(net, epoch, logs):
        return epoch == 3

    hist = notes_network().fit(iris.X, iris.Y, epochs=50, lr=0.5, callbacks=[stop_at_3])
    assert hist.stop_reason == "callback" and hist.epochs == 3

    class Raiser:
        def __init__(self):
            self.seen = []

        def on_epoch_end(self, net, epoch, logs):
            self.seen.append((epoch, set(logs)))
            if epoch == 2:
                raise bpcore.StopTraining

    raiser = Raiser()
    net = notes_network()
    hist = net.fit(
        iris.X,
        iris.Y,
        epochs=50,
        lr=0.5,
        callbacks=[raiser],
        validation_data=(iris.X[:20], iris.Y[:20]),
    )
    assert hist.stop_reason == "callback" and hist.epochs == 2
    assert [e for e, _ in raiser.seen] == [1, 2]
    assert raiser.seen[0][1] >= {"loss", "val_loss", "lr", "time"}
    # the weights are those after epoch 2
    again = notes_network()
    again.fit(iris.X, iris.Y, epochs=2, lr=0.5)
    np.testing.assert_array_equal(net.parameters, again.parameters)


def test_callback_logs_report_the_epoch(iris):
    rec = Recorder()
    hist = notes_network().fit(iris.X, iris.Y, epochs=3, lr=0.5, callbacks=[rec])
    assert sorted(rec.logs) == [1, 2, 3]
    for e in (1, 2, 3):
        assert rec.logs[e]["loss"] == hist.loss[e - 1]
        assert rec.logs[e]["lr"] == 0.5
        assert rec.logs[e]["time"] >= 0
    assert hist.to_dict()["epochs"] == 3 and hist.to_dict()["stop_reason"] == "max_epochs"


# ------------------------------------------------------------------------- bad data, divergence
@pytest.mark.parametrize("where", ["X", "Y", "sample_weight", "X_val"])
def test_nan_in_the_data_is_refused_before_training(iris, where):
    net = notes_network()
    before = net.parameters.copy()
    X, Y, w = iris.X.copy(), iris.Y.copy(), np.ones(150)
    Xv = iris.X[:10].copy()
    {"X": X, "Y": Y, "sample_weight": w[:, None], "X_val": Xv}[where][4, 0] = np.nan
    calls = []
    with pytest.raises(ValueError) as info:
        net.fit(
            X,
            Y,
            epochs=2,
            sample_weight=w,
            validation_data=(Xv, iris.Y[:10]),
            callbacks=[lambda *a: calls.append(a)],
        )
    assert str(info.value).startswith(where)
    position = "(4,)" if where == "sample_weight" else "(4, 0)"
    assert "nan" in str(info.value) and position in str(info.value)
    assert calls == []
    np.testing.assert_array_equal(net.parameters, before)


@pytest.mark.parametrize("batch_size, lr", [(None, 50.0), (8, 50.0), (1, 0.3), (1, 50.0)])
def test_a_huge_learning_rate_raises_training_diverged(batch_size, lr):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = X @ rng.normal(size=(3, 2))

    def network():
        return bpcore.Network(
            [3, 4, 2], activation="identity", output_activation="identity", seed=0
        )

    net = network()
    t0 = time.perf_counter()
    with pytest.raises(bpcore.TrainingDivergedError) as info:
        net.fit(X, Y, epochs=100000, batch_size=batch_size, lr=lr, seed=0)
    assert time.perf_counter() - t0 < 10
    err = info.value
    e = err.epoch
    assert 1 <= e < 100000
    assert f"epoch {e}" in str(err)
    assert isinstance(err, FloatingPointError)
    assert err.history.epochs == e - 1
    assert np.all(np.isfinite(err.history.loss))
    assert np.all(np.isfinite(net.parameters))
    # the weights are those after the last finite epoch (the initial ones when it is the first)
    earlier = network()
    if e > 1:
        earlier.fit(X, Y, epochs=e - 1, batch_size=batch_size, lr=lr, seed=0)
    np.testing.assert_array_equal(net.parameters, earlier.parameters)
    # a later fit goes on from there, and diverges in its first epoch
    with pytest.raises(bpcore.TrainingDivergedError) as again:
        net.fit(X, Y, epochs=3, batch_size=batch_size, lr=lr, seed=0)
    assert again.value.epoch == 1
    np.testing.assert_array_equal(net.parameters, earlier.parameters)


# ------------------------------------------------------------------------- Ctrl-C
_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import bpcore

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60000, 20))
    Y = np.tanh(X[:, :5] * X[:, 5:10])
    net = bpcore.Network([20, 64, 64, 5], activation="tanh", output_activation="identity", seed=0)
    last = {}

    def record(net, epoch, logs):
        last["epoch"] = epoch
        last["params"] = net.parameters.copy()
        print("EPOCH", epoch, flush=True)

    hist = net.fit(X, Y, epochs=100000, batch_size=1, lr=0.001, seed=0, callbacks=[record],
                   n_threads=1)
    t_end = time.time()
    print("DONE " + json.dumps({
        "t_end": t_end,
        "stop_reason": hist.stop_reason,
        "epochs": hist.epochs,
        "last_epoch": last.get("epoch"),
        "equal": bool(np.array_equal(net.parameters, last["params"])),
        "finite": bool(np.isfinite(net.parameters).all()),
    }), flush=True)
    """
)


def test_ctrl_c_stops_within_a_second_with_the_last_finished_epoch(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(_CHILD)
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(bpcore.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_root, env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines = []
        while True:
            line = proc.stdout.readline()
            assert line, f"child ended early: {proc.stderr.read()}"
            lines.append(line)
            if line.startswith("EPOCH 2"):
                break
        time.sleep(0.15)  # well inside epoch 3
        t_sent = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    done = [line for line in out.splitlines() if line.startswith("DONE ")]
    assert done, out + err
    result = json.loads(done[0][5:])
    assert result["stop_reason"] == "interrupted"
    assert result["t_end"] - t_sent < 1.0
    assert result["finite"]
    assert result["equal"]  # the weights of the last finished epoch
    assert result["epochs"] == result["last_epoch"] >= 2


def _fit_catching_interrupts(net, *args, **kwargs):
    """fit() that turns an escaped KeyboardInterrupt into a test failure (pytest would otherwise
    end the whole session)."""
    try:
        return net.fit(*args, **kwargs)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped fit()")


def test_ctrl_c_in_a_callback_keeps_the_last_finished_epoch(iris):
    rec = Recorder()

    def interrupt_at_3(net, epoch, logs):
        rec(net, epoch, logs)
        if epoch == 3:
            raise KeyboardInterrupt

    net = notes_network()
    # early stopping would restore an earlier epoch; an interrupted run keeps its last one
    hist = _fit_catching_interrupts(
        net,
        iris.X,
        iris.Y,
        epochs=50,
        lr=3.0,
        seed=1,
        callbacks=[interrupt_at_3],
        early_stopping=True,
        patience=40,
    )
    assert hist.stop_reason == "interrupted"
    assert hist.epochs == 3
    np.testing.assert_array_equal(net.parameters, rec.params[3])
    assert net.fit(iris.X, iris.Y, epochs=1).epochs == 1


def test_ctrl_c_while_logging_a_verbose_epoch(iris):
    """A Ctrl-C landing in the between-epoch Python code (here: the verbose log line)."""
    import logging

    class InterruptOnThird(logging.Handler):
        def __init__(self):
            super().__init__()
            self.count = 0

        def emit(self, record):
            self.count += 1
            if self.count == 3:
                raise KeyboardInterrupt

    logger = logging.getLogger("bpcore")
    handler = InterruptOnThird()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        rec = Recorder()
        net = notes_network()
        hist = _fit_catching_interrupts(
            net, iris.X, iris.Y, epochs=10, lr=0.5, verbose=True, callbacks=[rec]
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert hist.stop_reason == "interrupted"
    assert hist.epochs == 3
    # epoch 3 finished (its log line was being written): its weights are kept
    again = notes_network()
    again.fit(iris.X, iris.Y, epochs=3, lr=0.5)
    np.testing.assert_array_equal(net.parameters, again.parameters)


# ------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(epochs=0), ValueError, ["epochs"]),
        (dict(epochs=-3), ValueError, ["epochs"]),
        (dict(epochs=2.5), TypeError, ["epochs"]),
        (dict(batch_size=0), ValueError, ["batch_size"]),
        (dict(batch_size=151), ValueError, ["batch_size", "150"]),
        (dict(batch_size=-1), ValueError, ["batch_size"]),
        (dict(lr=0), ValueError, ["lr"]),
        (dict(lr=-0.1), ValueError, ["lr"]),
        (dict(lr=float("nan")), ValueError, ["lr"]),
        (dict(lr="fast"), TypeError, ["lr"]),
        (dict(optimizer="rmsprop"), ValueError, ["optimizer", *OPTIMIZERS, "rmsprop"]),
        (dict(lr_schedule="cosine"), ValueError, ["lr_schedule", "constant", "invscaling", "step"]),
        (dict(n_threads=0), ValueError, ["n_threads"]),
        (dict(n_threads=-2), ValueError, ["n_threads"]),
        (dict(n_threads=1.5), TypeError, ["n_threads"]),
        (dict(momentum=1.5, optimizer="momentum"), ValueError, ["momentum"]),
        (dict(beta1=1.0, optimizer="adam"), ValueError, ["beta1"]),
        (dict(weight_decay=-1.0), ValueError, ["weight_decay"]),
        (dict(tol=-1.0), ValueError, ["tol"]),
        (dict(seed=-1), ValueError, ["seed"]),
        (dict(learning_rate=0.1), TypeError, ["learning_rate"]),
        (dict(validation_fraction=1.5), ValueError, ["validation_fraction"]),
        (dict(validation_data=(np.zeros((3, 4)),)), ValueError, ["validation_data"]),
        (dict(validation_data=(np.zeros((3, 2)), np.zeros((3, 3)))), ValueError, ["X_val"]),
        (dict(callbacks=[42]), TypeError, ["callbacks"]),
        (dict(patience=0, early_stopping=True), ValueError, ["patience"]),
        (dict(step_size=0, lr_schedule="step"), ValueError, ["step_size"]),
        (dict(gamma=2.0, lr_schedule="step"), ValueError, ["gamma"]),
        (dict(power_t=-1.0, lr_schedule="invscaling"), ValueError, ["power_t"]),
        (dict(epsilon=0.0, optimizer="adam"), ValueError, ["epsilon"]),
        (dict(beta2="x", optimizer="adam"), TypeError, ["beta2"]),
        (dict(sample_weight=np.ones(3)), ValueError, ["sample_weight", "(150,)"]),
        (dict(validation_data=5), ValueError, ["validation_data"]),
        (
            dict(validation_data=(np.zeros((5, 4)), np.zeros((5, 3))), validation_fraction=0.2),
            ValueError,
            ["validation_data", "validation_fraction"],
        ),
        # values of the wrong type must still name their parameter
        (dict(tol="small"), (TypeError, ValueError), ["tol"]),
        (dict(validation_fraction="half"), (TypeError, ValueError), ["validation_fraction"]),
        (dict(min_delta="x", early_stopping=True), (TypeError, ValueError), ["min_delta"]),
        (dict(callbacks=42), TypeError, ["callbacks"]),
    ],
    ids=kwargs_id,
)
def test_bad_fit_arguments(iris, kwargs, exc, words):
    net = notes_network()
    before = net.parameters.copy()
    with pytest.raises(exc) as info:
        net.fit(iris.X, iris.Y, **kwargs)
    for word in words:
        assert word in str(info.value), str(info.value)
    np.testing.assert_array_equal(net.parameters, before)


def test_a_single_callable_is_accepted_as_callbacks(iris):
    seen = []
    hist = notes_network().fit(
        iris.X, iris.Y, epochs=3, lr=0.5, callbacks=lambda net, epoch, logs: seen.append(epoch)
    )
    assert seen == [1, 2, 3]
    assert hist.epochs == 3


def test_a_second_fit_while_training_raises(iris):
    net = notes_network()
    started, release = threading.Event(), threading.Event()
    results = []

    def gate(net, epoch, logs):
        started.set()
        return release.is_set()

    worker = threading.Thread(
        target=lambda: results.append(
            net.fit(iris.X, iris.Y, epochs=10**6, lr=0.1, callbacks=[gate])
        )
    )
    worker.start()
    try:
        assert started.wait(30)
        with pytest.raises(RuntimeError, match="already running"):
            net.fit(iris.X, iris.Y, epochs=1)
    finally:
        release.set()
        worker.join(30)
    assert not worker.is_alive()
    assert results and results[0].stop_reason == "callback"
    # free again afterwards
    assert net.fit(iris.X, iris.Y, epochs=1).epochs == 1


# ------------------------------------------------------------------------ checkpoints
def test_model_checkpoint_saves_every_k_epochs(iris, tmp_path):
    net = notes_network()
    ckpt = bpcore.ModelCheckpoint(tmp_path / "ckpt-{epoch}.safetensors", every=3)
    net.fit(iris.X, iris.Y, epochs=7, callbacks=[ckpt])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt-3.safetensors",
        "ckpt-6.safetensors",
    ]
    assert ckpt.written == [
        str(tmp_path / "ckpt-3.safetensors"),
        str(tmp_path / "ckpt-6.safetensors"),
    ]
    six = bpcore.load(tmp_path / "ckpt-6.safetensors")
    assert six.metadata["epoch"] == "6"
    # the file holds the parameters after epoch 6, not those of the end of training
    after_six = notes_network()
    after_six.fit(iris.X, iris.Y, epochs=6)
    np.testing.assert_array_equal(six.parameters, after_six.parameters)
    assert not np.array_equal(six.parameters, net.parameters)
    # a second fit continues the count of epochs in the file names
    net.fit(
        iris.X,
        iris.Y,
        epochs=2,
        callbacks=[bpcore.ModelCheckpoint(tmp_path / "more-{epoch}.safetensors", every=1)],
    )
    assert (tmp_path / "more-8.safetensors").is_file() and (
        tmp_path / "more-9.safetensors"
    ).is_file()


def test_model_checkpoint_replaces_its_file_and_records_the_loss(iris, tmp_path):
    net = notes_network()
    path = tmp_path / "last.safetensors"
    hist = net.fit(iris.X, iris.Y, epochs=4, callbacks=[bpcore.ModelCheckpoint(path)])
    saved = bpcore.load(path)
    np.testing.assert_array_equal(saved.parameters, net.parameters)
    assert float(saved.metadata["loss"]) == hist.loss[-1]
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]  # no temporary files


@pytest.mark.parametrize(
    "args,error",
    [
        ((None,), TypeError),
        (("",), TypeError),
        (("a.safetensors", 0), ValueError),
        (("a.safetensors", 1.5), TypeError),
    ],
)
def test_model_checkpoint_rejects_bad_arguments(args, error):
    with pytest.raises(error):
        bpcore.ModelCheckpoint(*args)


# ------------------------------------------------------------------------ the core's reducer hook
def _epoch(net, X, Y, reduce=None, **options):
    opt = core.Optimizer64(core.OptimizerConfig(kind="momentum", lr=0.2), net.n_params)
    eopts = core.EpochOptions(batch_size=16, seed=2, n_threads=1, **options)
    return core.train_epoch64(net._net, opt, X, Y, None, eopts, reduce)


def test_reducer_gets_zero_copy_views_and_one_process_equals_the_plain_epoch(iris):
    plain, hooked = notes_network(), notes_network()
    _epoch(plain, iris.X, iris.Y)
    calls = []

    def identity(gradient, sums):
        assert np.shares_memory(gradient, hooked.gradient)
        assert gradient.shape == (hooked.n_params,) and sums.shape == (3,)
        calls.append(sums.copy())

    result = _epoch(hooked, iris.X, iris.Y, identity, global_rows=150)
    assert len(calls) == 10 and result.batches == 10
    assert [c[1] for c in calls] == [16.0] * 9 + [6.0]  # Σw of each batch's local rows
    np.testing.assert_allclose(hooked.parameters, plain.parameters, rtol=0, atol=1e-13)


def test_reducer_that_raises_rolls_the_epoch_back(iris):
    net = notes_network()
    start = net.parameters.copy()
    count = []

    def failing(gradient, sums):
        count.append(1)
        if len(count) == 3:
            raise OSError("link down")

    with pytest.raises(OSError, match="link down"):
        _epoch(net, iris.X, iris.Y, failing, global_rows=150)
    np.testing.assert_array_equal(net.parameters, start)


def test_reducer_stop_flag_interrupts_and_rolls_back(iris):
    net = notes_network()
    start = net.parameters.copy()

    seen = []

    def stop_at_second(gradient, sums):
        seen.append(1)
        sums[2] = 1.0 if len(seen) == 2 else 0.0

    result = _epoch(net, iris.X, iris.Y, stop_at_second, global_rows=150)
    assert result.status == "interrupted"
    np.testing.assert_array_equal(net.parameters, start)


def test_shard_options_are_checked(iris):
    net = notes_network()
    with pytest.raises(ValueError, match="reducer"):
        _epoch(net, iris.X, iris.Y, global_rows=300)
    with pytest.raises(ValueError, match="global_rows"):
        _epoch(net, iris.X, iris.Y, lambda g, s: None, global_rows=200, row_offset=100)


def test_import_bpcore_imports_no_mpi_or_dask():
    code = (
        "import sys, bpcore; bad = [m for m in ('mpi4py', 'dask', 'distributed') "
        "if m in sys.modules]; assert not bad, bad; bpcore.distributed.shard_bounds(3, 2, 0); "
        "assert 'mpi4py' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
