"""The full-batch optimizers rprop, lbfgs and lm against independent oracles (torch, SciPy, NumPy),
through fit, and their options' errors."""

from __future__ import annotations

import bpcore
import numpy as np
import pytest
import scipy.optimize
import torch
from bpcore._loader import core


def _data(n: int = 40, d: int = 3, q: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.tanh(X @ rng.normal(size=(d, q))) + 0.1 * rng.normal(size=(n, q))
    return X, Y


def _net(
    sizes: list[int],
    activation: str = "tanh",
    seed: int = 1,
    output: str = "identity",
    **kw: object,
) -> bpcore.Network:
    return bpcore.Network(sizes, activation=activation, output_activation=output, seed=seed, **kw)


def _smooth() -> tuple[np.ndarray, np.ndarray]:
    """Targets in (0, 1) for a sigmoid output: a smooth problem with one clear minimum."""
    X, Y = _data(n=60)
    return X, 1 / (1 + np.exp(-2 * Y))


def _trajectory(net: bpcore.Network, X: np.ndarray, Y: np.ndarray, **fit: object) -> list:
    steps: list[np.ndarray] = []
    hist = net.fit(X, Y, callbacks=lambda n, e, logs: steps.append(n.parameters.copy()), **fit)
    return [hist, steps]


def _objective(net: bpcore.Network, X: np.ndarray, Y: np.ndarray):
    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        net.parameters[...] = theta
        J, _ = net.backward(X, Y)
        return J, net.gradient.copy()

    return f


# ------------------------------------------------------------------------------------------ rprop


@pytest.mark.parametrize(
    "options",
    [{}, {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-4, 0.2)}],
)
def test_rprop_follows_torch_step_for_step(options):
    X, Y = _data()
    net = _net([3, 6, 2])
    theta0 = net.parameters.copy()
    hist, steps = _trajectory(net, X, Y, optimizer="rprop", epochs=30, **options)
    assert hist.epochs == 30

    oracle = _net([3, 6, 2])
    f = _objective(oracle, X, Y)
    p = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    torch_opts = {k: options[k] for k in ("lr", "etas", "step_sizes") if k in options}
    opt = torch.optim.Rprop([p], **({"lr": 0.5} | torch_opts))  # bpcore's default lr is 0.5
    for k in range(30):
        _, g = f(p.detach().numpy().copy())
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        np.testing.assert_allclose(steps[k], p.detach().numpy(), rtol=0, atol=1e-10)
    assert not np.array_equal(steps[0], theta0)


# ------------------------------------------------------------------------------------------ lbfgs


@pytest.mark.parametrize("sizes", [[3, 2], [3, 2, 2]])
def test_lbfgs_reaches_scipys_lbfgsb_loss(sizes):
    X, Y = _smooth()
    net = _net(sizes, output="sigmoid")
    theta0 = net.parameters.copy()
    hist = net.fit(X, Y, optimizer="lbfgs", epochs=3000, grad_tol=1e-9, loss_tol=0.0)
    J = net.loss(X, Y)

    oracle = _net(sizes, output="sigmoid")
    res = scipy.optimize.minimize(
        _objective(oracle, X, Y),
        theta0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 20000, "maxfun": 100000, "gtol": 1e-11, "ftol": 1e-16},
    )
    assert hist.stop_reason == "converged" and hist.epochs < 3000
    assert J == pytest.approx(res.fun, rel=1e-6)
    # J falls (weakly) every iteration: the line search's sufficient decrease
    assert all(b <= a for a, b in zip(hist.loss, hist.loss[1:]))


# --------------------------------------------------------------------------------------------- lm


def _fd_jacobian(net: bpcore.Network, X: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d y_hat / d theta by central differences, rows (sample, output) in row-major order."""
    theta = net.parameters.copy()
    cols = []
    for p in range(theta.size):
        net.parameters[...] = theta
        net.parameters[p] += h
        up = net.predict(X).ravel()
        net.parameters[p] -= 2 * h
        down = net.predict(X).ravel()
        cols.append((up - down) / (2 * h))
    net.parameters[...] = theta
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("activation", ["tanh", "prelu"])
def test_lm_normal_equations_are_the_jacobians(activation):
    X, Y = _data(n=45, q=2)  # 45 rows: two full row blocks and a partial one
    net = _net([3, 4, 2], activation)
    w = np.linspace(0.5, 2.0, 45)
    JtJ, Jte, J = core.lm_normal_equations64(net.training_state().core_net, X, Y, w)
    scale = np.repeat(np.sqrt(w / w.sum()), 2)
    Jac = _fd_jacobian(net, X) * scale[:, None]
    e = (Y - net.predict(X)).ravel() * scale
    np.testing.assert_allclose(JtJ, Jac.T @ Jac, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(Jte, Jac.T @ e, rtol=1e-6, atol=1e-9)
    assert J == pytest.approx(net.loss(X, Y, sample_weight=w), rel=1e-12)
    # dJ/dtheta = -Jac^T e: the core's own gradient
    net.backward(X, Y, sample_weight=w)
    np.testing.assert_allclose(-Jte, net.gradient, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "prelu"])
def test_lm_step_is_the_damped_normal_equations_solve(activation):
    X, Y = _data(n=20, q=1)
    net = _net([3, 3, 1], activation)
    theta0 = net.parameters.copy()
    J0 = net.loss(X, Y)
    Jac = _fd_jacobian(net, X) / np.sqrt(20)
    e = (Y - net.predict(X)).ravel() / np.sqrt(20)
    # mu = 1e-3, x10 until the step lowers J
    oracle = _net([3, 3, 1], activation)
    mu = 1e-3
    while True:
        expected = np.linalg.solve(Jac.T @ Jac + mu * np.eye(theta0.size), Jac.T @ e)
        oracle.parameters[...] = theta0 + expected
        if oracle.loss(X, Y) < J0:
            break
        mu *= 10
    hist = net.fit(X, Y, optimizer="lm", epochs=1)
    assert hist.epochs == 1 and hist.loss[0] == pytest.approx(J0, rel=1e-12)
    np.testing.assert_allclose(net.parameters - theta0, expected, rtol=1e-5, atol=1e-8)
    JtJ, Jte, _ = core.lm_normal_equations64(oracle.training_state().core_net, X, Y, None)
    np.testing.assert_allclose(
        core.lm_step(JtJ, Jte, 0.5), np.linalg.solve(JtJ + 0.5 * np.eye(theta0.size), Jte)
    )
    if activation == "prelu":
        assert net.alphas and all(a.item() != 0.25 for a in net.alphas.values())


def test_lm_step_solves_a_system_cholesky_cannot_factor():
    """JtJ + mu I not positive definite (which rounding can make it): the LDLT fallback, on the
    matrix as it was before the failed Cholesky factorisation overwrote it."""
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    A = Q @ np.diag([-3.0, -1.0, 2.0, 4.0, 5.0]) @ Q.T
    b = rng.normal(size=5)
    np.testing.assert_allclose(core.lm_step(A, b, 0.5), np.linalg.solve(A + 0.5 * np.eye(5), b))


def test_lm_is_no_worse_than_scipys_least_squares_lm():
    X, Y = _smooth()
    net = _net([3, 2, 2], output="sigmoid")
    theta0 = net.parameters.copy()
    hist = net.fit(X, Y, optimizer="lm", epochs=500, grad_tol=0.0, loss_tol=0.0)
    J = net.loss(X, Y)

    oracle = _net([3, 2, 2], output="sigmoid")

    def residuals(theta: np.ndarray) -> np.ndarray:
        oracle.parameters[...] = theta
        return (oracle.predict(X) - Y).ravel() / np.sqrt(60)

    res = scipy.optimize.least_squares(
        residuals, theta0, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=100000
    )
    assert hist.stop_reason == "stalled"  # no step lowers J at the minimum
    assert J <= res.cost * (1 + 1e-9)


def test_lm_normal_equations_are_bitwise_the_same_for_any_thread_count():
    X, Y = _data(n=150, d=4, q=3)
    net = _net([4, 20, 3])  # 163 parameters: 3 column tiles, 6 tile tasks
    core_net = net.training_state().core_net
    ref = core.lm_normal_equations64(core_net, X, Y, None, 1)
    for threads in (2, 3, 4):
        out = core.lm_normal_equations64(core_net, X, Y, None, threads)
        assert np.array_equal(out[0], ref[0]) and np.array_equal(out[1], ref[1])
        assert out[2] == ref[2]
    h1 = _net([4, 20, 3]).fit(X, Y, optimizer="lm", epochs=3, n_threads=1)
    h4 = _net([4, 20, 3]).fit(X, Y, optimizer="lm", epochs=3, n_threads=4)
    assert h1.loss == h4.loss


def test_lm_stops_with_a_stop_reason_when_no_step_lowers_j():
    X, Y = _data(n=30, q=1)
    net = _net([3, 1], "identity")  # linear least squares: lm reaches the minimum, then stalls
    hist = net.fit(X, Y, optimizer="lm", epochs=500, grad_tol=0.0, loss_tol=0.0)
    assert hist.stop_reason == "stalled"
    assert hist.epochs < 500
    before = net.parameters.copy()
    again = net.fit(X, Y, optimizer="lm", epochs=5, grad_tol=0.0, loss_tol=0.0)
    assert again.stop_reason in ("stalled", "converged")
    assert net.loss(X, Y) <= hist.loss[-1]
    assert np.allclose(net.parameters, before, atol=1e-10)


# ---------------------------------------------------------------------------------------- via fit


@pytest.mark.parametrize("optimizer", ["rprop", "lbfgs", "lm"])
def test_full_batch_optimizers_train_with_fit_features(optimizer):
    X, Y = _data(n=60)
    Xv, Yv = _data(n=20, seed=5)
    seen: list[int] = []
    net = _net([3, 5, 2])
    hist = net.fit(
        X,
        Y,
        optimizer=optimizer,
        epochs=15,
        lr=0.01,
        validation_data=(Xv, Yv),
        callbacks=lambda n, e, logs: seen.append(e),
    )
    assert hist.epochs == len(hist.val_loss) == len(seen) > 0
    assert hist.loss[-1] < hist.loss[0]
    # the full batch: the history's J of an epoch is J of the data before that epoch's step
    assert hist.loss[0] == pytest.approx(_net([3, 5, 2]).loss(X, Y), rel=1e-12)
    # tol and early stopping
    assert _net([3, 5, 2]).fit(X, Y, optimizer=optimizer, tol=10.0).stop_reason == "tol"
    stopped = _net([3, 5, 2]).fit(
        X,
        Y,
        optimizer=optimizer,
        epochs=50,
        early_stopping=True,
        patience=1,
        validation_data=(Xv[:, ::-1], Yv[::-1]),
    )
    assert stopped.stop_reason in ("early_stopping", "converged", "max_epochs")
    interrupted = _net([3, 5, 2])

    def stop(n: object, e: int, logs: object) -> None:
        if e == 2:
            raise KeyboardInterrupt

    h = interrupted.fit(X, Y, optimizer=optimizer, epochs=10, callbacks=stop)
    assert h.stop_reason == "interrupted" and h.epochs == 2


def test_lbfgs_converges_with_a_stop_reason():
    X, Y = _data(n=30)
    hist = _net([3, 2], "identity").fit(X, Y, optimizer="lbfgs", epochs=500, grad_tol=1e-8)
    assert hist.stop_reason == "converged" and hist.epochs < 500


def test_float32_networks_train_with_every_full_batch_optimizer():
    X, Y = _data()
    for optimizer in ("rprop", "lbfgs", "lm"):
        net = _net([3, 4, 2], dtype="float32")
        hist = net.fit(X, Y, optimizer=optimizer, epochs=10, lr=0.01)
        assert hist.loss[-1] < hist.loss[0]


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("optimizer", ["rprop", "lbfgs", "lm"])
def test_an_explicit_batch_size_is_refused(optimizer):
    X, Y = _data()
    with pytest.raises(ValueError, match=r"^batch_size must be None for optimizer .*full batch"):
        _net([3, 2]).fit(X, Y, optimizer=optimizer, batch_size=8)
    with pytest.raises(ValueError, match=r"^batch_size must be None"):
        _net([3, 2]).fit(X, Y, optimizer=optimizer, batch_size=1)
    assert _net([3, 2]).fit(X, Y, optimizer=optimizer, batch_size=None, epochs=2).epochs >= 1


@pytest.mark.parametrize(
    "options,error,message",
    [
        ({"optimizer": "rprop", "etas": (1.5, 1.2)}, ValueError, r"^etas must be a pair"),
        ({"optimizer": "rprop", "etas": (0.5, 0.9)}, ValueError, r"^etas must be a pair"),
        ({"optimizer": "rprop", "etas": (0.5,)}, TypeError, r"^etas must be a pair of numbers"),
        ({"optimizer": "rprop", "etas": "ab"}, TypeError, r"^etas must be a pair of numbers"),
        ({"optimizer": "rprop", "step_sizes": (1.0, 0.1)}, ValueError, r"^step_sizes must be"),
        ({"optimizer": "rprop", "step_sizes": (0.0, 1.0)}, ValueError, r"^step_sizes must be"),
        ({"optimizer": "rprop", "lr": 0.0}, ValueError, r"^lr must be a positive number"),
        ({"optimizer": "lbfgs", "history_size": 0}, ValueError, r"^history_size must be a posi"),
        ({"optimizer": "lbfgs", "history_size": 2.5}, TypeError, r"^history_size must be an in"),
        ({"optimizer": "lbfgs", "max_fun": 0}, ValueError, r"^max_fun must be a positive int"),
        ({"optimizer": "lbfgs", "grad_tol": -1.0}, ValueError, r"^grad_tol must be a non-neg"),
        ({"optimizer": "lm", "loss_tol": -1e-3}, ValueError, r"^loss_tol must be a non-neg"),
        ({"optimizer": "lbfgs", "weight_decay": 0.1}, ValueError, r"^weight_decay must be 0"),
        ({"optimizer": "lm", "weight_decay": 0.1}, ValueError, r"^weight_decay must be 0"),
    ],
)
def test_bad_options_name_the_option(options, error, message):
    X, Y = _data()
    with pytest.raises(error, match=message):
        _net([3, 2]).fit(X, Y, **options)


def test_lm_refuses_other_losses_and_large_networks():
    X, Y = _data(q=2)
    net = bpcore.Network([3, 2], output_activation="softmax", loss="cross_entropy")
    Yc = np.eye(2)[(Y[:, 0] > 0).astype(int)]
    with pytest.raises(ValueError, match=r"lm needs loss mse.*use lbfgs"):
        net.fit(X, Yc, optimizer="lm")
    big = _net([3, 70, 70, 2])
    assert big.n_params > core.lm_max_params
    with pytest.raises(ValueError, match=rf"at most {core.lm_max_params} parameters.*use lbfgs"):
        big.fit(X, Y, optimizer="lm")


def test_new_options_are_core_fields_with_core_defaults():
    config = bpcore._names.optimizer_config(kind="rprop")
    assert config.etas == (0.5, 1.2) and config.step_sizes == (1e-6, 50.0)
    assert config.history_size == 10 and config.max_fun == 20
    assert bpcore._names.OPTIMIZER_INFO["lbfgs"].full_batch
    assert not bpcore._names.OPTIMIZER_INFO["adam"].full_batch
    assert bpcore.training.FIT_DEFAULTS.etas == (0.5, 1.2)


def test_the_configuration_file_takes_the_new_options():
    from bpcore import config

    cfg = config.loads_config('[training]\noptimizer = "rprop"\netas = [0.4, 1.3]\nepochs = 3\n')
    assert cfg.training.etas == (0.4, 1.3)
    assert cfg.training.fit_kwargs()["batch_size"] is None  # full batch by default
    assert config.loads_config(config.dumps_toml(cfg)).training.etas == (0.4, 1.3)
    with pytest.raises(config.ConfigError, match=r"training\.etas must be a pair"):
        config.loads_config('[training]\noptimizer = "rprop"\netas = [1.4, 1.3]\n')
    with pytest.raises(config.ConfigError, match=r"training\.history_size must be"):
        config.loads_config('[training]\noptimizer = "lbfgs"\nhistory_size = 0\n')
