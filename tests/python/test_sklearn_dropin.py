"""The estimators as a drop-in for scikit-learn's MLP: solver='lbfgs', loss='poisson' and
divergence handled as scikit-learn handles it.

* lbfgs: scikit-learn's stopping rules (max_iter, max_fun, tol on the gradient's max-norm), its
  fitted attributes (loss_, n_iter_, no loss_curve_), its ConvergenceWarning, warm start, no
  partial_fit, multilabel and multi-output targets, sample weights, float32; the same minimum as
  scikit-learn's lbfgs on a strictly convex problem; the core's objective F = J + ½λΣ‖W‖² is
  stationary where it stops.
* poisson: half the Poisson deviance and its gradient (finite differences), the same training
  path as scikit-learn's poisson MLP from the same initial weights, the same fit as a Poisson GLM,
  targets y ≥ 0 checked.
* divergence: with early stopping a NaN validation score is recorded and the best parameters are
  kept; without it ``fit`` raises scikit-learn's exact message with bpcore's detail as the cause.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is the optional peer bpcore[sklearn]")

import bpcore  # noqa: E402
from bpcore import MLPClassifier, MLPRegressor  # noqa: E402
from bpcore._loader import core  # noqa: E402
from bpcore.training import TrainingDivergedError  # noqa: E402
from scipy.special import xlogy  # noqa: E402
from sklearn import neural_network as skl  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_digits,
    load_iris,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import PoissonRegressor  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

NONFINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values and "
    "need to be preprocessed."
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return MinMaxScaler().fit_transform(X[:400]), y[:400]


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=200, n_features=6, noise=5.0, random_state=3)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


def _counts(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 3))
    y = rng.poisson(np.exp(0.4 * X[:, 0] - 0.7 * X[:, 1] + 0.5)).astype(np.float64)
    return X, y


# ====================================================================== lbfgs
def test_max_fun_is_a_parameter_and_scikit_learn_parameters_copy_over():
    for ours, theirs in ((MLPClassifier, skl.MLPClassifier), (MLPRegressor, skl.MLPRegressor)):
        assert ours().get_params()["max_fun"] == 15000 == theirs().get_params()["max_fun"]
        params = theirs(solver="lbfgs", max_fun=321, hidden_layer_sizes=(7,)).get_params()
        est = ours(**params)
        assert est.get_params()["max_fun"] == 321 and est.solver == "lbfgs"


def test_lbfgs_classifies_digits(digits):
    X, y = digits
    est = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(30,), max_iter=200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.score(X, y) > 0.98
    assert 0 < est.n_iter_ <= 200 and np.isfinite(est.loss_)
    # scikit-learn's lbfgs keeps no per-iteration curve nor the stochastic solvers' state
    for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
        assert not hasattr(est, name)


def test_lbfgs_loss_is_the_reported_loss_plus_the_l2_term(regression):
    X, y = regression
    alpha = 0.3
    est = MLPRegressor(solver="lbfgs", hidden_layer_sizes=(5,), alpha=alpha, max_iter=30)
    est.set_params(random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    e = y - est.predict(X)
    penalty = 0.5 * alpha * sum((W**2).sum() for W in est.coefs_) / len(y)
    assert est.loss_ == pytest.approx(0.5 * np.mean(e**2) + penalty, rel=1e-12)


def test_lbfgs_stops_at_max_iter_with_scikit_learns_warning(regression):
    X, y = regression
    est = MLPRegressor(solver="lbfgs", hidden_layer_sizes=(20,), max_iter=7, random_state=0)
    with pytest.warns(ConvergenceWarning) as record:
        est.fit(X, y)
    assert est.n_iter_ == 7
    text = str(record[0].message)
    assert text.startswith("lbfgs failed to converge after 7 iteration(s) (status=1):")
    assert "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT" in text
    assert "max_iter=7" in text


def test_lbfgs_stops_after_the_iteration_that_passes_max_fun(regression):
    X, y = regression
    est = MLPRegressor(
        solver="lbfgs", hidden_layer_sizes=(20,), max_iter=500, max_fun=12, tol=0.0, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="EVALUATIONS EXCEEDS LIMIT"):
        est.fit(X, y)
    assert 1 <= est.n_iter_ <= 12


def test_lbfgs_tol_is_on_the_largest_gradient_component(regression):
    X, y = regression
    loose = MLPRegressor(
        solver="lbfgs", hidden_layer_sizes=(10,), tol=1e-2, max_iter=1000, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # converged: no warning
        loose.fit(X, y)
    tight = MLPRegressor(
        solver="lbfgs", hidden_layer_sizes=(10,), tol=1e-6, max_iter=1000, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tight.fit(X, y)
    assert loose.n_iter_ < tight.n_iter_
    assert tight.loss_ <= loose.loss_


def test_core_lbfgs_run_stops_where_the_penalised_gradient_is_small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    Y = np.tanh(X @ rng.normal(size=(3, 2)))
    net = bpcore.Network([3, 6, 2], activation="tanh", output_activation="identity", seed=1)
    l2 = 0.05
    res = core.lbfgs_run64(
        net.training_state().core_net, X, Y, None, max_iter=5000, grad_tol=1e-8, loss_tol=0.0, l2=l2
    )
    assert res["stop"] == "converged_grad"
    J, grads = net.backward(X, Y)
    assert res["loss"] == pytest.approx(J, rel=1e-14)
    assert res["penalty"] == pytest.approx(0.5 * l2 * sum((W**2).sum() for W in net.weights))
    # dF/dW = dJ/dW + l2 W and dF/db = dJ/db vanish (to grad_tol) at the point lbfgs_run returns
    worst = max(
        max(np.abs(gW + l2 * W).max(), np.abs(gb).max()) for (gW, gb), W in zip(grads, net.weights)
    )
    assert worst <= 1e-8
    assert res["evaluations"] >= res["iterations"] + 1


def test_partial_fit_is_hidden_for_lbfgs_only():
    for cls in (MLPClassifier, MLPRegressor):
        assert not hasattr(cls(solver="lbfgs"), "partial_fit")
        assert hasattr(cls(solver="sgd"), "partial_fit") and hasattr(cls(), "partial_fit")
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
            cls(solver="lbfgs").partial_fit  # noqa: B018
        assert "lbfgs is not stochastic" in str(info.value.__cause__)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_lbfgs_warm_start_continues_and_counts_this_fits_iterations(cls):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = cls(solver="lbfgs", warm_start=True, max_iter=10, hidden_layer_sizes=(8,))
    est.set_params(random_state=0, n_iter_no_change=np.inf)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert est.n_iter_ == 10
    first, W0 = est.loss_, est.coefs_[0].copy()
    est.set_params(max_iter=20)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert est.n_iter_ == 20
    assert est.loss_ < first and not np.array_equal(est.coefs_[0], W0)


def test_lbfgs_multilabel_and_multi_output():
    X, Y = make_multilabel_classification(n_samples=80, n_classes=4, random_state=0)
    clf = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(30,), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, Y)
    assert clf.score(X, Y) > 0.95 and clf.out_activation_ == "logistic"
    P = clf.predict_proba(X)
    assert P.shape == Y.shape and np.array_equal(P > 0.5, clf.predict(X).astype(bool))
    X, Y = make_regression(n_samples=150, n_features=5, n_targets=3, random_state=2)
    reg = MLPRegressor(solver="lbfgs", hidden_layer_sizes=(20,), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(StandardScaler().fit_transform(X), Y / Y.std())
    assert reg.predict(X).shape == (150, 3)
    assert reg.score(StandardScaler().fit_transform(X), Y / Y.std()) > 0.95


def test_lbfgs_integer_sample_weights_act_as_repetitions(regression):
    X, y = regression
    w = np.tile([1.0, 2.0, 3.0], len(y) // 3 + 1)[: len(y)]
    rep = np.repeat(np.arange(len(y)), w.astype(int))
    params = dict(solver="lbfgs", hidden_layer_sizes=(6,), max_iter=8, alpha=0.1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPRegressor(**params).fit(X, y, sample_weight=w)
        b = MLPRegressor(**params).fit(X[rep], y[rep])
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-7, atol=1e-9)


def test_lbfgs_trains_a_float32_network(regression):
    X, y = regression
    est = MLPRegressor(solver="lbfgs", hidden_layer_sizes=(10,), max_iter=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X.astype(np.float32), y.astype(np.float32))
    assert est.coefs_[0].dtype == np.float32 and est.score(X, y) > 0.9


def test_lbfgs_reaches_scikit_learns_minimum_of_a_convex_problem():
    # no hidden layer and alpha > 0: L2-penalised logistic regression, one minimum
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(
        solver="lbfgs", hidden_layer_sizes=(), alpha=1.0, tol=1e-10, max_iter=5000, random_state=0
    )
    ours = MLPClassifier(**params).fit(X, y)
    theirs = skl.MLPClassifier(**params).fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)


def test_lbfgs_on_overflowing_data_raises_scikit_learns_message():
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.standard_normal(10)
    with pytest.raises(ValueError, match="^" + re.escape(NONFINITE) + "$") as info:
        MLPRegressor(solver="lbfgs").fit(X, y)
    assert isinstance(info.value.__cause__, TrainingDivergedError)
    assert "solver='lbfgs'" in str(info.value.__cause__)


# ====================================================================== poisson
def test_poisson_loss_is_half_the_poisson_deviance_and_its_gradient_checks():
    rng = np.random.default_rng(4)
    net = bpcore.Network(
        [3, 5, 2], activation="tanh", output_activation="exp", loss="poisson", seed=2
    )
    net.parameters[...] = rng.normal(scale=0.5, size=net.n_params)
    X = rng.normal(size=(30, 3))
    Y = rng.poisson(1.2, size=(30, 2)).astype(np.float64)  # zeros included: 0 log 0 = 0
    assert (Y == 0).any()
    Y_hat = net.predict(X)
    half_deviance = (xlogy(Y, Y / Y_hat) - Y + Y_hat).sum(axis=1).mean()
    assert net.loss(X, Y) == pytest.approx(half_deviance, rel=1e-13)
    # δ^[L] = Y − Ŷ
    net.backward(X, Y)
    np.testing.assert_allclose(net.delta[2], Y - Y_hat, rtol=1e-12, atol=1e-15)
    w = rng.uniform(0.5, 2.0, size=30)
    J, grads = net.backward(X, Y, sample_weight=w)
    assert J == pytest.approx(np.average((xlogy(Y, Y / Y_hat) - Y + Y_hat).sum(axis=1), weights=w))
    theta = net.parameters.copy()
    g = net.gradient.copy()
    eps = 1e-6
    num = np.empty_like(theta)
    for p in range(theta.size):
        J_side = []
        for sign in (1, -1):
            net.parameters[...] = theta
            net.parameters[p] += sign * eps
            J_side.append(net.loss(X, Y, sample_weight=w))
        num[p] = (J_side[0] - J_side[1]) / (2 * eps)
    net.parameters[...] = theta
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)
    assert bpcore.gradcheck(net, X, Y).passed


def test_exp_is_an_output_activation_of_poisson_only():
    z = np.linspace(-20, 20, 81)
    np.testing.assert_allclose(bpcore.activate("exp", z), np.exp(z), rtol=1e-15)
    np.testing.assert_allclose(bpcore.derivative("exp", z), np.exp(z), rtol=1e-15)
    assert "exp" in bpcore.ACTIVATIONS and "exp" not in bpcore.HIDDEN_ACTIVATIONS
    with pytest.raises(ValueError, match="exp"):
        bpcore.Network([2, 3, 1], activation="exp")
    with pytest.raises(ValueError, match="poisson"):
        bpcore.Network([2, 1], output_activation="exp", loss="mse")
    with pytest.raises(ValueError, match="exp"):
        bpcore.Network([2, 1], output_activation="identity", loss="poisson")


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_poisson_mlp_follows_scikit_learns_path_from_the_same_weights(solver):
    X, y = _counts(120)
    params = dict(
        loss="poisson",
        solver=solver,
        hidden_layer_sizes=(6,),
        activation="tanh",
        batch_size=120,  # full batches: shuffling cannot matter
        learning_rate_init=0.01,
        max_iter=15,
        random_state=5,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressor(**params).fit(X, y)
        theirs = skl.MLPRegressor(**params).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    # sgd runs the same arithmetic; adam differs only in where ε enters (see README)
    rtol, atol = (1e-5, 1e-6) if solver == "adam" else (1e-10, 1e-12)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=rtol)
    assert (ours.predict(X) > 0).all()


def test_poisson_mlp_fits_the_poisson_glm():
    X, y = _counts(300, seed=1)
    glm = PoissonRegressor(alpha=0, tol=1e-10, max_iter=1000).fit(X, y)
    # one identity hidden unit: the same model class as the GLM
    est = MLPRegressor(
        loss="poisson",
        hidden_layer_sizes=(1,),
        activation="identity",
        alpha=0,
        solver="lbfgs",
        tol=1e-9,
        max_iter=2000,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_allclose(est.predict(X), glm.predict(X), rtol=1e-4)
    deviance = np.mean(xlogy(y, y / est.predict(X)) - y + est.predict(X))
    assert est.loss_ == pytest.approx(deviance, rel=1e-8)


def test_poisson_targets_must_not_be_negative():
    X, y = _counts(20)
    y[3] = -1.0
    with pytest.raises(ValueError, match="y are negative which is not allowed for Poisson"):
        MLPRegressor(loss="poisson").fit(X, y)


# ====================================================================== divergence
def _diverging(early: bool) -> MLPRegressor:
    return MLPRegressor(
        hidden_layer_sizes=(100,),
        activation="identity",
        solver="sgd",
        learning_rate_init=1.0,
        max_iter=20,
        early_stopping=early,
        random_state=0,
    )


def test_divergence_with_early_stopping_keeps_the_best_parameters():
    X, y = load_iris(return_X_y=True)
    est = _diverging(early=True)
    with pytest.warns(ConvergenceWarning, match="diverged in iteration"):
        est.fit(X, y)
    last = est.validation_scores_[-1]
    assert isinstance(last, float) and np.isnan(last)
    assert est.n_iter_ == len(est.loss_curve_) == len(est.validation_scores_)
    assert np.isnan(est.loss_curve_[-1]) and est.n_iter_ < est.max_iter  # training ended
    finite = [s for s in est.validation_scores_ if np.isfinite(s)]
    assert est.best_validation_score_ == max(finite, default=-np.inf)
    assert all(np.isfinite(W).all() for W in est.coefs_ + est.intercepts_)
    assert np.isfinite(est.predict(X)).all()


def test_divergence_without_early_stopping_raises_scikit_learns_exact_message():
    X, y = load_iris(return_X_y=True)
    est = _diverging(early=False)
    with pytest.raises(ValueError, match="^" + re.escape(NONFINITE) + "$") as info:
        est.fit(X, y)
    detail = info.value.__cause__
    assert isinstance(detail, TrainingDivergedError)
    # counted as scikit-learn counts: the iteration of this fit in which the loss overflowed
    assert f"iteration {est.n_iter_}:" in str(detail) and detail.epoch == est.n_iter_
    assert "epoch" not in str(detail)
    assert isinstance(detail.__cause__, TrainingDivergedError)  # the core's own report
    assert np.isnan(est.loss_) and np.isnan(est.loss_curve_[-1])


def test_early_stopping_split_fails_with_scikit_learns_message():
    # one member in a class: the stratified split's error names it as scikit-learn's does
    X, y = [[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1]
    with pytest.raises(ValueError) as ours:
        MLPClassifier(early_stopping=True).fit(X, y)
    with pytest.raises(ValueError) as theirs:
        skl.MLPClassifier(early_stopping=True).fit(X, y)
    assert str(ours.value) == str(theirs.value)
    assert "['True']" in str(ours.value)


def test_network_fit_checks_poisson_targets():
    net = bpcore.Network([2, 1], output_activation="exp", loss="poisson")
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"^Y must be non-negative for loss 'poisson'"):
        net.fit(X, np.array([[1.0], [0.0], [-2.0], [3.0]]), epochs=1)
    with pytest.raises(ValueError, match=r"^Y_val must be non-negative"):
        net.fit(X, np.ones((4, 1)), epochs=1, validation_data=(X, -np.ones((4, 1))))
    hist = net.fit(X, np.array([[1.0], [0.0], [2.0], [3.0]]), epochs=3, lr=0.1)
    assert len(hist.loss) == 3 and np.isfinite(hist.loss).all()


def test_poisson_estimator_converts_to_scikit_learn_and_back():
    X, y = _counts(80)
    est = MLPRegressor(loss="poisson", solver="lbfgs", hidden_layer_sizes=(4,), max_iter=40)
    est.set_params(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    sk = est.to_sklearn()
    assert sk.loss == "poisson" and sk.out_activation_ == "exp" and sk.solver == "lbfgs"
    np.testing.assert_allclose(sk.predict(X), est.predict(X), rtol=1e-14)
    net = bpcore.Network.from_sklearn(sk)
    assert net.activations[-1] == "exp" and net.loss_name == "poisson"
    np.testing.assert_allclose(net.predict(X).ravel(), est.predict(X), rtol=1e-14)
