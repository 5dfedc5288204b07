"""bpcore.MLPClassifier / MLPRegressor against scikit-learn's own MLP, and in scikit-learn's tools.

* Quality: with the same hyperparameters, data and seeds, held-out accuracy (iris, digits, breast
  cancer) and R² (diabetes, a noisy sine) are within 2 points of scikit-learn's MLP.
* Training path: on full batches (n ≤ 200, so shuffling cannot matter) the loss curve, the number
  of epochs and the predictions equal scikit-learn's for every solver, schedule and option, which
  pins down the mapping of alpha, momentum, Nesterov, adam, invscaling, adaptive, tol,
  n_iter_no_change, early stopping, sample weights and warm start.
* Pipelines, grid search in worker processes, pickling into a fresh process, partial_fit, sample
  weights, multilabel and multi-output targets, per-layer activations and prelu, dtype, errors.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is the optional peer bpcore[sklearn]")

import bpcore  # noqa: E402
from bpcore import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn import neural_network as skl  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ------------------------------------------------------------------------ data
def _sine(n: int = 600, seed: int = 0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, (n, 1))
    return X, np.sin(2 * X[:, 0]) + 0.1 * rng.randn(n)


_LOADERS = {
    "iris": lambda: load_iris(return_X_y=True),
    "digits": lambda: load_digits(return_X_y=True),
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "diabetes": lambda: load_diabetes(return_X_y=True),
    "sine": _sine,
}


def _split(name: str):
    """Held-out split (25 %), inputs standardised on the training part; regression targets too."""
    X, y = _LOADERS[name]()
    regression = name in ("diabetes", "sine")
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=None if regression else y
    )
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    if regression:
        mean, std = y_tr.mean(), y_tr.std()
        y_tr, y_te = (y_tr - mean) / std, (y_te - mean) / std
    return X_tr, X_te, y_tr, y_te


@pytest.fixture(scope="module")
def iris_std():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# ------------------------------------------------------------------------ import
def test_import_bpcore_does_not_import_sklearn():
    code = (
        "import sys, bpcore; assert 'sklearn' not in sys.modules; "
        "bpcore.MLPClassifier; assert 'sklearn' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_child_env())


# ------------------------------------------------------------------------ quality vs scikit-learn
QUALITY = [
    ("iris", dict(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=200)),
    ("digits", dict(hidden_layer_sizes=(64,), max_iter=100)),
    ("breast_cancer", dict(hidden_layer_sizes=(32,), max_iter=150)),
    ("diabetes", dict(hidden_layer_sizes=(32,), learning_rate_init=0.003, max_iter=150)),
    (
        "sine",
        dict(hidden_layer_sizes=(32, 32), activation="tanh", learning_rate_init=0.01, max_iter=300),
    ),
]
FLOOR = {"iris": 0.95, "digits": 0.95, "breast_cancer": 0.93, "diabetes": 0.2, "sine": 0.9}


@pytest.mark.parametrize("name,params", QUALITY, ids=[q[0] for q in QUALITY])
def test_held_out_score_within_2_points_of_sklearn(name, params):
    X_tr, X_te, y_tr, y_te = _split(name)
    regression = name in ("diabetes", "sine")
    ours_cls, theirs_cls = (
        (MLPRegressor, skl.MLPRegressor) if regression else (MLPClassifier, skl.MLPClassifier)
    )
    # The mean over seeds: both draw the same initial weights from a seed, but the order of
    # the mini-batches comes from different generators. One thread keeps the test quick on a
    # busy machine; the thread count does not change bpcore's results (tested below).
    seeds = range(3) if name == "digits" else range(5)
    ours = [
        ours_cls(random_state=s, n_threads=1, **params).fit(X_tr, y_tr).score(X_te, y_te)
        for s in seeds
    ]
    theirs = [theirs_cls(random_state=s, **params).fit(X_tr, y_tr).score(X_te, y_te) for s in seeds]
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.02, (ours, theirs)
    assert np.mean(ours) > FLOOR[name]


def test_thread_count_does_not_change_results():
    X_tr, X_te, y_tr, _ = _split("digits")
    kw = dict(hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    one = MLPClassifier(n_threads=1, **kw).fit(X_tr[:600], y_tr[:600])
    two = MLPClassifier(n_threads=2, **kw).fit(X_tr[:600], y_tr[:600])
    assert one.loss_curve_ == two.loss_curve_
    np.testing.assert_array_equal(one.network_.parameters, two.network_.parameters)
    # predictions of a row may differ in the last bit with the size of its chunk of rows
    np.testing.assert_allclose(one.predict_proba(X_te), two.predict_proba(X_te), rtol=1e-12)


# ------------------------------------------------------------------------ training path
def _regression_data():
    X, Y = make_regression(150, 5, n_targets=2, noise=1.0, random_state=0)
    return X, Y / Y.std(axis=0)


PATHS = [
    ("sgd-nesterov", dict(solver="sgd", learning_rate_init=0.1)),
    (
        "sgd-momentum-alpha",
        dict(solver="sgd", nesterovs_momentum=False, learning_rate_init=0.05, alpha=0.1),
    ),
    ("sgd-plain", dict(solver="sgd", momentum=0.0, learning_rate_init=0.1)),
    (
        "sgd-invscaling",
        dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5, power_t=0.3),
    ),
    (
        "sgd-adaptive",
        dict(
            solver="sgd",
            learning_rate="adaptive",
            learning_rate_init=0.2,
            tol=1e-2,
            n_iter_no_change=2,
        ),
    ),
    ("adam-alpha", dict(solver="adam", alpha=0.05)),
    ("adam-logistic", dict(solver="adam", activation="logistic", learning_rate_init=0.01)),
    (
        "adam-early-stopping",
        dict(
            solver="adam",
            learning_rate_init=0.01,
            early_stopping=True,
            validation_fraction=0.2,
            n_iter_no_change=5,
        ),
    ),
    ("sgd-no-hidden-layer", dict(solver="sgd", learning_rate_init=0.1, hidden_layer_sizes=())),
]


@pytest.mark.parametrize("target", ["multiclass", "binary", "multilabel", "multioutput"])
@pytest.mark.parametrize("label,params", PATHS, ids=[p[0] for p in PATHS])
def test_full_batch_training_path_equals_sklearn(label, params, target, iris_std):
    X, y = iris_std
    if target == "multioutput":
        X, y = _regression_data()
    elif target == "binary":
        y = (y == 1).astype(int)
    elif target == "multilabel":
        y = np.c_[y == 0, y == 1, X[:, 0] > 0].astype(int)
    kw = dict(hidden_layer_sizes=(10,), random_state=1, max_iter=60)
    kw.update(params)
    ours_cls, theirs_cls = (
        (MLPRegressor, skl.MLPRegressor)
        if target == "multioutput"
        else (MLPClassifier, skl.MLPClassifier)
    )
    ours = ours_cls(**kw).fit(X, y)
    theirs = theirs_cls(**kw).fit(X, y)
    # sgd runs the same arithmetic; adam differs only in where ε enters (see README)
    adam = kw["solver"] == "adam"
    rtol, atol = (1e-4, 1e-3) if adam else (1e-9, 1e-12)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    for W_ours, W_theirs in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(W_ours, W_theirs, rtol=rtol, atol=atol)
    if kw.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, atol=1e-4)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, abs=1e-4)
        assert ours.best_loss_ is None
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=rtol)
        assert ours.validation_scores_ is None
    if target == "multioutput":
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-3, atol=1e-4)
    else:
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-4)
        assert ours.out_activation_ == theirs.out_activation_
    assert ours.n_layers_ == theirs.n_layers_ and ours.n_outputs_ == theirs.n_outputs_


def test_mini_batches_without_shuffle_equal_sklearn(iris_std):
    X, y = iris_std
    kw = dict(
        hidden_layer_sizes=(8,),
        random_state=3,
        solver="sgd",
        learning_rate_init=0.05,
        max_iter=50,
        batch_size=50,
        shuffle=False,
        alpha=0.01,
    )
    ours, theirs = MLPClassifier(**kw).fit(X, y), skl.MLPClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-12)
    # scikit-learn adds the L2 term of each batch's weights to the loss; bpcore that of the
    # epoch's starting weights
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-3)


def test_warm_start_and_partial_fit_paths_equal_sklearn(iris_std):
    X, y = iris_std
    kw = dict(
        hidden_layer_sizes=(8,),
        random_state=3,
        max_iter=20,
        solver="sgd",
        learning_rate_init=0.05,
        warm_start=True,
    )
    ours, theirs = MLPClassifier(**kw), skl.MLPClassifier(**kw)
    for _ in range(3):
        ours.fit(X, y)
        theirs.fit(X, y)
    assert len(ours.loss_curve_) == 60 and ours.t_ == theirs.t_ == 60 * len(y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)

    kw = dict(hidden_layer_sizes=(8,), random_state=3, learning_rate_init=0.05)
    ours, theirs = MLPClassifier(**kw), skl.MLPClassifier(**kw)
    for _ in range(20):
        ours.partial_fit(X, y, classes=[0, 1, 2])
        theirs.partial_fit(X, y, classes=[0, 1, 2])
    assert ours.n_iter_ == 1 and len(ours.loss_curve_) == 20
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)


# ------------------------------------------------------------------------ scikit-learn tools
def test_pipeline(iris_std):
    X, y = load_iris(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    pipe = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=300, random_state=0
        ),
    )
    assert pipe.fit(X_tr, y_tr).score(X_te, y_te) > 0.9
    assert pipe.predict_proba(X_te).shape == (len(y_te), 3)


def test_grid_search_with_two_worker_processes(iris_std):
    X, y = iris_std
    est = MLPClassifier(max_iter=150, random_state=0, n_threads=1)
    grid = GridSearchCV(
        est,
        {"hidden_layer_sizes": [(4,), (16,)], "learning_rate_init": [0.001, 0.01]},
        cv=3,
        n_jobs=2,
    )
    grid.fit(X, y)
    assert grid.best_params_ == {"hidden_layer_sizes": (16,), "learning_rate_init": 0.01}
    assert grid.best_score_ > 0.9
    assert grid.best_estimator_.coefs_[0].shape == (4, 16)


def _child_env() -> dict[str, str]:
    """The environment of a child interpreter that imports this bpcore."""
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(bpcore.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
    return env


_LOAD_AND_PREDICT = """
import pickle, sys
import numpy as np
with open(sys.argv[1], "rb") as f:
    model, X = pickle.load(f)
out = {"predict": model.predict(X), "type": type(model).__module__ + "." + type(model).__name__}
if hasattr(model, "predict_proba"):
    out["proba"] = model.predict_proba(X)
with open(sys.argv[2], "wb") as f:
    pickle.dump(out, f)
"""


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_pickled_model_predicts_the_same_in_a_fresh_process(kind, tmp_path, iris_std):
    X, y = iris_std
    if kind == "classifier":
        model = MLPClassifier(
            hidden_layer_sizes=(8, 4),
            activation=["tanh", "prelu"],
            learning_rate_init=0.01,
            max_iter=50,
            random_state=0,
        ).fit(X, y)
    else:
        model = MLPRegressor(
            hidden_layer_sizes=(8,), max_iter=50, random_state=0, dtype="float32"
        ).fit(X[:, :3], X[:, 3])
        X = X[:, :3]
    src, dst = tmp_path / "model.pkl", tmp_path / "out.pkl"
    src.write_bytes(pickle.dumps((model, X)))
    subprocess.run(
        [sys.executable, "-c", _LOAD_AND_PREDICT, str(src), str(dst)], check=True, env=_child_env()
    )
    out = pickle.loads(dst.read_bytes())
    assert out["type"] == f"bpcore.sklearn.{type(model).__name__}"
    np.testing.assert_array_equal(out["predict"], model.predict(X))
    if kind == "classifier":
        np.testing.assert_array_equal(out["proba"], model.predict_proba(X))


def test_pickle_keeps_arrays_not_handles_and_clone_is_unfitted(iris_std):
    X, y = iris_std
    model = MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0).fit(X, y)
    state = model.__getstate__()
    assert "_net" in state and isinstance(state["_net"], bpcore.Network)
    assert isinstance(state["_net"].__getstate__()["parameters"], np.ndarray)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    again.coefs_[0][...] = 0.0  # the copy is independent
    assert np.abs(model.coefs_[0]).sum() > 0
    fresh = clone(model)
    assert fresh.get_params() == model.get_params()
    assert not hasattr(fresh, "coefs_") and not hasattr(fresh, "n_iter_")


def test_predict_does_not_change_the_estimator(iris_std):
    X, y = iris_std
    model = MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0).fit(X, y)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(model).items()}
    params = model.network_.parameters.copy()
    model.predict(X), model.predict_proba(X), model.score(X, y)
    assert set(vars(model)) == set(before)
    np.testing.assert_array_equal(model.network_.parameters, params)
    assert model.loss_curve_ == before["loss_curve_"] and model.t_ == before["t_"]


def test_coefs_are_views_of_the_network(iris_std):
    X, y = iris_std
    model = MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0).fit(X, y)
    W1 = model.coefs_[0]
    assert W1.shape == (4, 5) and model.intercepts_[1].shape == (3,)
    np.testing.assert_array_equal(W1, model.network_.weights[0])
    model.coefs_ = [np.zeros_like(W) for W in model.coefs_]
    model.intercepts_ = [np.zeros(5), np.array([0.0, 5.0, 0.0])]
    assert (model.predict(X) == 1).all()
    with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape \(4, 5\)"):
        model.coefs_ = [np.zeros((5, 5)), np.zeros((5, 3))]


# ------------------------------------------------------------------------ partial_fit
def test_classifier_partial_fit(iris_std):
    X, y = iris_std
    model = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, y)
    rng = np.random.RandomState(0)
    for epoch in range(60):
        for part in np.array_split(rng.permutation(len(y)), 3):
            model.partial_fit(X[part], y[part], classes=[0, 1, 2] if epoch == 0 else None)
    assert model.score(X, y) > 0.9
    assert len(model.loss_curve_) == 180 and model.t_ == 60 * len(y)
    assert np.mean(model.loss_curve_[-10:]) < 0.5 * np.mean(model.loss_curve_[:10])
    with pytest.raises(ValueError, match="classes not in"):
        model.partial_fit(X[:3], np.array([0, 1, 7]))
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_regressor_partial_fit_matches_fit_epoch_by_epoch():
    X, y = _sine(200)
    a = MLPRegressor(
        hidden_layer_sizes=(16,),
        solver="sgd",
        learning_rate_init=0.05,
        random_state=0,
        max_iter=30,
        tol=0.0,
        n_iter_no_change=10**6,
    )
    b = clone(a)
    a.fit(X, y)
    for _ in range(30):
        b.partial_fit(X, y)
    # fit draws one shuffling seed per call, partial_fit one per call as well; with a full
    # batch (n = 200) the order does not matter, so both paths are the same
    np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(b.predict(X), a.predict(X), rtol=1e-9)


# ------------------------------------------------------------------------ sample weights
def test_zero_weights_equal_dropping_and_integer_weights_equal_repeating_on_full_batches(iris_std):
    X, y = iris_std
    rng = np.random.RandomState(0)
    w = rng.randint(0, 4, len(y))
    kw = dict(
        hidden_layer_sizes=(8,),
        solver="sgd",
        learning_rate_init=0.05,
        max_iter=80,
        random_state=0,
        batch_size=len(y) + w.sum(),
    )  # one batch for both
    with pytest.warns(UserWarning, match="batch_size"):  # clipped to n, as scikit-learn
        weighted = MLPClassifier(**kw).fit(X, y, sample_weight=w)
        repeated = MLPClassifier(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-7)
    assert weighted.t_ == repeated.t_ == 80 * w.sum()


def test_sample_weight_approximates_dropping_and_repeating_with_mini_batches():
    X, y = _sine(1500, seed=1)
    X_te, y_te = _sine(500, seed=2)
    w = np.random.RandomState(3).randint(0, 3, len(y))
    kw = dict(
        hidden_layer_sizes=(32, 32),
        activation="tanh",
        learning_rate_init=0.01,
        max_iter=120,
        random_state=0,
        batch_size=64,
    )
    weighted = MLPRegressor(**kw).fit(X, y, sample_weight=w)
    repeated = MLPRegressor(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    dropped = MLPRegressor(**kw).fit(X[w > 0], y[w > 0])
    r2 = [m.score(X_te, y_te) for m in (weighted, repeated, dropped)]
    assert min(r2) > 0.9
    assert max(r2) - min(r2) < 0.02, r2
    # the weights matter: weighting one half of the range heavily changes the fit there
    skew = np.where(X[:, 0] > 0, 1.0, 1e-3)
    skewed = MLPRegressor(**kw).fit(X, y, sample_weight=skew)
    right, left = X_te[:, 0] > 0, X_te[:, 0] <= 0
    err = lambda m, mask: np.mean((m.predict(X_te[mask]) - y_te[mask]) ** 2)  # noqa: E731
    assert err(skewed, right) < err(skewed, left)


def test_sample_weight_errors(iris_std):
    X, y = iris_std
    model = MLPClassifier(max_iter=5)
    with pytest.raises(ValueError, match="non-negative"):
        model.fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="all zero"):
        model.fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(X, y, sample_weight=np.ones(3))


# ------------------------------------------------------------------------ targets
def test_multilabel_classification(iris_std):
    X, y = iris_std
    Y = np.c_[y == 0, y == 2, X[:, 1] > 0].astype(int)
    model = MLPClassifier(
        hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=300, random_state=0
    ).fit(X, Y)
    assert model.out_activation_ == "logistic" and model.n_outputs_ == 3
    assert model.network_.loss_name == "binary_cross_entropy"
    assert model.predict(X).shape == (150, 3)
    P = model.predict_proba(X)
    assert P.shape == (150, 3) and ((P >= 0) & (P <= 1)).all()
    assert model.score(X, Y) > 0.9  # subset accuracy


def test_multiclass_and_binary_outputs(iris_std):
    X, y = iris_std
    multi = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X, y)
    assert multi.out_activation_ == "softmax" and multi.network_.loss_name == "cross_entropy"
    np.testing.assert_allclose(multi.predict_proba(X).sum(axis=1), 1.0)
    labels = np.array(["no", "yes"])[(y == 2).astype(int)]
    binary = MLPClassifier(
        hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=200, random_state=0
    ).fit(X, labels)
    assert binary.out_activation_ == "logistic" and binary.n_outputs_ == 1
    assert list(binary.classes_) == ["no", "yes"]
    assert set(binary.predict(X)) <= {"no", "yes"} and binary.score(X, labels) > 0.9
    P = binary.predict_proba(X)
    np.testing.assert_allclose(P[:, 1], binary.network_.predict(X)[:, 0])
    np.testing.assert_allclose(np.exp(binary.predict_log_proba(X)), P)


def test_multi_output_regression():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, (400, 2))
    Y = np.c_[np.sin(X[:, 0]), np.cos(X[:, 1]) * X[:, 0]]
    model = MLPRegressor(
        hidden_layer_sizes=(32,),
        activation="tanh",
        learning_rate_init=0.01,
        max_iter=400,
        random_state=0,
    ).fit(X, Y)
    assert model.predict(X).shape == (400, 2) and model.n_outputs_ == 2
    assert model.out_activation_ == "identity"
    assert model.score(X, Y) > 0.9
    single = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, Y[:, 0])
    assert single.predict(X).shape == (400,)


def test_regressor_loss_names_differ_only_in_the_reported_loss():
    X, Y = _regression_data()
    kw = dict(
        hidden_layer_sizes=(8,),
        solver="sgd",
        learning_rate_init=0.05,
        max_iter=20,
        random_state=0,
        tol=0.0,
        n_iter_no_change=100,
        alpha=0.0,
    )
    sq = MLPRegressor(loss="squared_error", **kw).fit(X, Y)
    mse = MLPRegressor(loss="mse", **kw).fit(X, Y)
    np.testing.assert_allclose(sq.predict(X), mse.predict(X), rtol=1e-12)
    # squared_error reports ½ mean_j e_j² like scikit-learn; mse the notes' J = ½ Σ_j e_j², the
    # mean over samples of what Network.loss computes (full batch: J before the last update)
    np.testing.assert_allclose(mse.loss_curve_, 2 * np.array(sq.loss_curve_), rtol=1e-12)
    J = 0.5 * np.mean(np.sum((Y - mse.predict(X)) ** 2, axis=1))
    assert mse.network_.loss(X, Y) == pytest.approx(J, rel=1e-12)
    assert mse.loss_curve_[-1] > J  # J falls with the last update


def test_classifier_with_the_notes_mse_loss(iris_std):
    X, y = iris_std
    model = MLPClassifier(
        hidden_layer_sizes=(16,), loss="mse", learning_rate_init=0.01, max_iter=300, random_state=0
    ).fit(X, y)
    assert model.network_.activations[-1] == "sigmoid" and model.network_.loss_name == "mse"
    assert model.out_activation_ == "logistic"
    P = model.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(P.argmax(axis=1), model.predict(X))
    assert model.score(X, y) > 0.9


# ------------------------------------------------------------------------ bpcore's own options
def test_per_layer_activations_and_prelu(iris_std):
    X, y = iris_std
    model = MLPClassifier(
        hidden_layer_sizes=(16, 8),
        activation=["logistic", "prelu"],
        learning_rate_init=0.01,
        max_iter=200,
        random_state=0,
    ).fit(X, y)
    assert model.network_.activations == ["sigmoid", "prelu", "softmax"]
    assert set(model.prelu_alphas_) == {2} and model.prelu_alphas_[2] != 0.25
    assert model.score(X, y) > 0.9
    relu = MLPClassifier(
        hidden_layer_sizes=(4,), activation="prelu", max_iter=3, random_state=0
    ).fit(X, y)
    assert relu.network_.activations == ["prelu", "softmax"]
    with pytest.raises(ValueError, match="activation lists 1 names but hidden_layer_sizes has 2"):
        MLPClassifier(hidden_layer_sizes=(4, 4), activation=["relu"]).fit(X, y)


def test_dtype_follows_X_unless_given(iris_std):
    X, y = iris_std
    kw = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    m32 = MLPClassifier(**kw).fit(X.astype(np.float32), y)
    assert m32.network_.dtype == np.float32 and m32.coefs_[0].dtype == np.float32
    assert m32.predict_proba(X).dtype == np.float32
    m64 = MLPClassifier(**kw).fit(X, y)
    assert m64.coefs_[0].dtype == np.float64
    assert MLPClassifier(**kw).fit(np.round(X * 10).astype(int), y).coefs_[0].dtype == np.float64
    forced = MLPRegressor(dtype="float32", **kw).fit(X[:, :3], X[:, 3])
    assert forced.coefs_[0].dtype == np.float32 and forced.predict(X[:, :3]).dtype == np.float32
    # float32 and float64 networks from the same seed start alike and train alike
    a = MLPRegressor(dtype="float32", hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    b = MLPRegressor(dtype="float64", hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    a.fit(X[:, :3], X[:, 3]), b.fit(X[:, :3], X[:, 3])
    np.testing.assert_allclose(a.predict(X[:, :3]), b.predict(X[:, :3]), rtol=1e-3, atol=1e-3)
    # a warm start keeps the network's dtype whatever X is
    warm = MLPClassifier(warm_start=True, **kw).fit(X.astype(np.float32), y)
    warm.fit(X, y)
    assert warm.coefs_[0].dtype == np.float32


def test_warm_start_continues_and_cold_start_restarts(iris_std):
    X, y = iris_std
    kw = dict(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=20, random_state=0)
    warm = MLPClassifier(warm_start=True, **kw).fit(X, y)
    first = list(warm.loss_curve_)
    warm.fit(X, y)
    assert warm.loss_curve_[:20] == first and len(warm.loss_curve_) == 40
    assert warm.loss_curve_[20] < first[0] and warm.loss_curve_[20] < first[-1] * 1.05
    cold = MLPClassifier(warm_start=False, **kw).fit(X, y)
    cold.fit(X, y)
    assert cold.loss_curve_ == first
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        warm.fit(X[y < 2], y[y < 2])
    warm.set_params(hidden_layer_sizes=(9,))
    with pytest.raises(ValueError, match="set warm_start=False"):
        warm.fit(X, y)


def test_early_stopping_keeps_the_best_parameters(iris_std):
    X, y = iris_std
    model = MLPClassifier(
        hidden_layer_sizes=(16,),
        learning_rate_init=0.02,
        early_stopping=True,
        validation_fraction=0.3,
        n_iter_no_change=5,
        max_iter=500,
        random_state=0,
    ).fit(X, y)
    assert model.n_iter_ < 500 and len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.best_loss_ is None


def test_tol_stops_training_and_max_iter_warns(iris_std, capsys):
    X, y = iris_std
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = MLPClassifier(
            hidden_layer_sizes=(8,),
            learning_rate_init=0.05,
            tol=1e-3,
            max_iter=1000,
            random_state=0,
        ).fit(X, y)
    assert model.n_iter_ < 1000
    tail = np.array(model.loss_curve_[-(model.n_iter_no_change + 1) :])
    assert (tail > model.best_loss_ - 1e-3).all()
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, verbose=True).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("Iteration") == 3 and "Iteration 3, loss = " in out


def test_int_hidden_layer_sizes_and_unbounded_patience(iris_std):
    X, y = iris_std
    model = MLPClassifier(
        hidden_layer_sizes=7, max_iter=15, tol=1.0, n_iter_no_change=np.inf, random_state=0
    ).fit(X, y)
    assert model.coefs_[0].shape == (4, 7) and model.n_layers_ == 3 and model.n_iter_ == 15


def test_failed_first_partial_fit_leaves_the_estimator_unfitted(iris_std):
    X, y = iris_std
    model = MLPClassifier(hidden_layer_sizes=(4,))
    with pytest.raises(ValueError, match="feature"):
        model.partial_fit(X[:, :0], y, classes=[0, 1, 2])
    assert not hasattr(model, "classes_") and not hasattr(model, "coefs_")
    with pytest.raises(ValueError, match="classes must be passed"):
        model.partial_fit(X, y)


def test_adaptive_learning_rate_divides_by_five(iris_std, capsys):
    X, y = iris_std
    MLPClassifier(
        hidden_layer_sizes=(8,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.2,
        tol=1e-2,
        n_iter_no_change=2,
        max_iter=200,
        random_state=0,
        verbose=True,
    ).fit(X, y)
    rates = [
        float(line.rsplit(" ", 1)[1])
        for line in capsys.readouterr().out.splitlines()
        if "Setting learning rate to" in line
    ]
    assert len(rates) >= 2
    np.testing.assert_allclose(rates[:2], [0.2 / 5, 0.2 / 25], rtol=1e-5)


def test_divergence_is_a_clear_error():
    X, y = _sine(200)
    model = MLPRegressor(
        hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=50.0, max_iter=50, random_state=0
    )
    with pytest.raises(ValueError, match="non-finite"):
        model.fit(X * 1e3, y * 1e6)


@pytest.mark.parametrize(
    "params,error,match",
    [
        (dict(solver="lbfgs", max_fun=0), ValueError, "max_fun must be an integer >= 1"),
        (dict(solver="newton"), ValueError, "solver must be one of 'sgd', 'adam'"),
        (dict(activation="maxout"), ValueError, "activation must be one of"),
        (dict(activation=3), TypeError, "activation must be a name or a list"),
        (dict(hidden_layer_sizes=(4, 0)), ValueError, "hidden_layer_sizes must be an integer >= 1"),
        (
            dict(hidden_layer_sizes="10"),
            TypeError,
            "hidden_layer_sizes must be an int or a sequence",
        ),
        (dict(momentum=1.0, solver="sgd"), ValueError, r"momentum in \[0, 1\)"),
        (dict(momentum=1.5), ValueError, r"momentum must be in \[0, 1\]"),
        (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
        (dict(learning_rate="cosine"), ValueError, "learning_rate must be one of"),
        (dict(learning_rate_init=0.0), ValueError, r"learning_rate_init must be in \(0, inf\)"),
        (dict(alpha=-1.0), ValueError, "alpha must be in"),
        (dict(max_iter=0), ValueError, "max_iter must be an integer >= 1"),
        (dict(early_stopping=True, validation_fraction=0.0), ValueError, "validation_fraction"),
        (dict(beta_2=1.0), ValueError, "beta_2 must be in"),
        (dict(n_iter_no_change=0), ValueError, "n_iter_no_change"),
        (dict(dtype="float16"), ValueError, "dtype must be None"),
        (dict(n_threads=0), ValueError, "n_threads must be an integer >= 1"),
        (dict(loss="hinge"), ValueError, "loss must be one of 'log_loss', 'mse'"),
    ],
)
def test_bad_parameters_are_named(params, error, match, iris_std):
    X, y = iris_std
    with pytest.raises(error, match=match):
        MLPClassifier(**params).fit(X, y)


def test_regressor_rejects_negative_poisson_targets():
    X, y = _sine(50)
    with pytest.raises(ValueError, match="y are negative which is not allowed for Poisson"):
        MLPRegressor(loss="poisson").fit(X, y - y.min() - 1.0)
