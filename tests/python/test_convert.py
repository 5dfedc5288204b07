"""Conversions to and from scikit-learn's MLPs and torch.nn.Sequential, and their round trips."""

from __future__ import annotations

import warnings

import bpcore
import numpy as np
import pytest
import torch
from bpcore import convert
from bpcore._names import ACTIVATIONS, HIDDEN_ACTIVATIONS
from bpcore.preprocessing import Preprocessing
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from test_export import _network, reference_activation

SK_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
TOL = {"float32": 1e-5, "float64": 1e-12}


def _data(kind: str, n: int = 80, seed: int = 0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(dtype)
    s = X @ np.array([1.0, -2.0, 0.5, 1.5]) + 0.3 * rng.normal(size=n)
    if kind == "binary":
        y = np.where(s > 0, "yes", "no")
    elif kind == "multiclass":
        y = np.digitize(s, [-1.0, 1.0]) + 10  # labels 10, 11, 12
    elif kind == "multilabel":
        y = np.column_stack([s > 0, X[:, 0] > 0, X[:, 1] < 0.5]).astype(int)
    elif kind == "regression":
        y = s
    else:  # two targets
        y = np.column_stack([s, X[:, 2] ** 2])
    return X, y


def _fit_sklearn(kind: str, activation: str, hidden: tuple[int, ...], dtype=np.float64):
    X, y = _data(kind, dtype=dtype)
    cls = SkRegressor if kind.startswith("regression") else SkClassifier
    est = cls(hidden_layer_sizes=hidden, activation=activation, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return est, X


def _sklearn_outputs(est, X):
    """What Ŷ = H^[L] is in scikit-learn's terms."""
    if isinstance(est, SkRegressor):
        return est.predict(X).reshape(len(X), -1)
    P = est.predict_proba(X)
    return P[:, 1:] if est.n_outputs_ == 1 else P


# ---------------------------------------------------------------------- scikit-learn → bpcore
@pytest.mark.parametrize("hidden", [(), (6,), (7, 5)], ids=["depth0", "depth1", "depth2"])
@pytest.mark.parametrize(
    "kind", ["binary", "multiclass", "multilabel", "regression", "regression2"]
)
@pytest.mark.parametrize("activation", SK_ACTIVATIONS)
def test_from_sklearn_reproduces_its_predictions(activation, kind, hidden):
    est, X = _fit_sklearn(kind, activation, hidden)
    net = bpcore.Network.from_sklearn(est)
    assert net.sizes == [4, *hidden, est.n_outputs_]
    assert net.dtype == np.float64
    assert np.abs(net.predict(X) - _sklearn_outputs(est, X)).max() <= 1e-12
    if kind in ("binary", "multiclass"):
        labels = net.preprocessing.predict(net, X)
        np.testing.assert_array_equal(labels, est.predict(X))
    else:
        assert net.preprocessing is None


def test_from_sklearn_keeps_float32():
    est, X = _fit_sklearn("multiclass", "tanh", (6,), dtype=np.float32)
    net = bpcore.Network.from_sklearn(est)
    assert net.dtype == np.float32 and est.coefs_[0].dtype == np.float32
    assert np.abs(net.predict(X) - est.predict_proba(X)).max() <= 1e-6


def test_from_sklearn_refuses_unfitted_and_other_estimators():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        bpcore.Network.from_sklearn(SkClassifier())
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="MLPClassifier or MLPRegressor"):
        bpcore.Network.from_sklearn(LogisticRegression())


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression", "regression2"])
@pytest.mark.parametrize("activation", SK_ACTIVATIONS)
def test_round_trip_sklearn_bpcore_sklearn(activation, kind):
    est, X = _fit_sklearn(kind, activation, (6, 4))
    back = convert.network_to_sklearn(bpcore.Network.from_sklearn(est))
    assert type(back) is type(est)
    assert back.activation == est.activation and back.out_activation_ == est.out_activation_
    assert back.n_layers_ == est.n_layers_ and back.n_outputs_ == est.n_outputs_
    for a, b in zip(back.coefs_ + back.intercepts_, est.coefs_ + est.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    if kind in ("binary", "multiclass"):
        np.testing.assert_array_equal(back.classes_, est.classes_)
        np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))


def test_network_to_sklearn_folds_the_preprocessing():
    rng = np.random.default_rng(2)
    X = rng.normal([5.0, -1.0, 0.0, 2.0], [2.0, 0.5, 3.0, 1.0], size=(50, 4))
    net = bpcore.Network(
        [4, 5, 3],
        activation="tanh",
        output_activation="softmax",
        loss="cross_entropy",
        init="xavier",
        seed=4,
    )
    net.preprocessing = Preprocessing.fit(X, rng.choice(["a", "b", "c"], 50))
    est = convert.network_to_sklearn(net)
    assert np.abs(est.predict_proba(X) - net.preprocessing.outputs(net, X)).max() <= 1e-12
    np.testing.assert_array_equal(est.predict(X), net.preprocessing.predict(net, X))
    reg = bpcore.Network(
        [4, 6, 2], activation="relu", output_activation="identity", init="xavier", seed=5
    )
    reg.preprocessing = Preprocessing(
        "regression",
        mean=X.mean(0),
        scale=X.std(0),
        target_mean=[10.0, -3.0],
        target_scale=[4.0, 0.5],
    )
    est = convert.network_to_sklearn(reg)
    assert np.abs(est.predict(X) - reg.preprocessing.outputs(reg, X)).max() <= 1e-12


def test_network_to_sklearn_refuses_what_scikit_learn_cannot_hold():
    with pytest.raises(ValueError, match="one activation for every hidden layer"):
        convert.network_to_sklearn(
            bpcore.Network([2, 3, 3, 1], activation=["tanh", "relu"], output_activation="identity")
        )
    with pytest.raises(ValueError, match="prelu"):
        convert.network_to_sklearn(
            bpcore.Network([2, 3, 1], activation="prelu", output_activation="identity")
        )
    with pytest.raises(ValueError, match="only an identity output maps onto MLPRegressor"):
        convert.network_to_sklearn(bpcore.Network([2, 3, 1]))
    two = bpcore.Network([2, 3, 2], output_activation="softmax", loss="cross_entropy")
    two.preprocessing = Preprocessing("classification", classes=[0, 1])
    with pytest.raises(ValueError, match="no scikit-learn MLPClassifier form"):
        convert.network_to_sklearn(two)


# ---------------------------------------------------------------------- bpcore's estimators
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "kind", ["binary", "multiclass", "multilabel", "regression", "regression2"]
)
def test_estimator_to_sklearn_predicts_the_same(kind, dtype):
    X, y = _data(kind)
    cls = bpcore.MLPRegressor if kind.startswith("regression") else bpcore.MLPClassifier
    est = cls(
        hidden_layer_sizes=(6, 5), activation="tanh", max_iter=15, random_state=0, dtype=dtype
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    sk = est.to_sklearn()
    assert type(sk).__module__.startswith("sklearn.neural_network")
    assert type(sk).__name__ == type(est).__name__
    assert sk.get_params()["hidden_layer_sizes"] == (6, 5) and sk.activation == "tanh"
    assert sk.n_iter_ == est.n_iter_ and sk.loss_curve_ == est.loss_curve_
    if kind.startswith("regression"):
        assert np.abs(sk.predict(X) - est.predict(X)).max() <= TOL[dtype] * 10
    else:
        np.testing.assert_array_equal(sk.classes_, est.classes_)
        assert np.abs(sk.predict_proba(X) - est.predict_proba(X)).max() <= TOL[dtype]
        # the labels agree wherever the probabilities are not within rounding of a tie
        P = est.predict_proba(X)
        clear = (
            np.abs(P - 0.5).min(axis=1) > 1e-4 if kind != "multiclass" else np.ones(len(X), bool)
        )
        np.testing.assert_array_equal(
            np.asarray(sk.predict(X))[clear], np.asarray(est.predict(X))[clear]
        )
    # the copy is independent of the bpcore estimator
    sk.coefs_[0][...] = 0
    assert np.abs(est.coefs_[0]).max() > 0


def test_estimator_to_sklearn_errors():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        bpcore.MLPClassifier().to_sklearn()
    X, y = _data("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        prelu = bpcore.MLPClassifier((4,), activation="prelu", max_iter=2, random_state=0)
        prelu.fit(X, y)
        mse = bpcore.MLPClassifier((4,), loss="mse", max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="hidden activation 'prelu'"):
        prelu.to_sklearn()
    with pytest.raises(ValueError, match="loss='mse'"):
        mse.to_sklearn()


# ---------------------------------------------------------------------- PyTorch
def _torch_out(seq, X: np.ndarray, dtype: str) -> np.ndarray:
    with torch.no_grad():
        return seq(torch.from_numpy(np.ascontiguousarray(X, dtype=dtype))).numpy().astype(float)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("depth", [0, 1, 2])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_to_torch_equals_predict(act, depth, dtype):
    net = _network(act, depth, dtype, prep=False)
    seq = net.to_torch()
    linears = [m for m in seq if isinstance(m, torch.nn.Linear)]
    assert len(linears) == depth + 1
    assert all(m.weight.dtype == getattr(torch, dtype) for m in linears)
    for m, W, b in zip(linears, net.weights, net.biases):
        np.testing.assert_array_equal(m.weight.detach().numpy(), W.T)
        np.testing.assert_array_equal(m.bias.detach().numpy(), b)
    prelus = [m for m in seq if isinstance(m, torch.nn.PReLU)]
    assert [float(m.weight.detach()) for m in prelus] == [float(a) for a in net.alphas.values()]
    if act == "softmax":
        assert isinstance(seq[-1], torch.nn.Softmax) and seq[-1].dim == -1
    X = np.random.default_rng(0).normal(size=(40, 4)).astype(dtype)
    assert np.abs(_torch_out(seq, X, dtype) - net.predict(X)).max() <= TOL[dtype]


@pytest.mark.parametrize("name", convert.TORCH_ACTIVATIONS[1:])
def test_torch_module_of_every_activation_matches_the_definition(name):
    z = torch.linspace(-30, 30, 6000, dtype=torch.float64).reshape(-1, 3)
    module = convert._torch_module(torch, name, 0.3, torch.float64)
    with torch.no_grad():
        got = module(z).numpy()
    ref = reference_activation(name, z.numpy(), 0.3)
    # torch's softplus returns z itself above z = 20, where log(1 + e^z) − z < 2.1e-9
    tol = 2.1e-9 if name == "softplus" else 1e-15
    assert np.all(np.abs(got - ref) <= tol * np.maximum(1, np.abs(ref)))
    assert convert._activation_of(torch, module, 1) == (name, 0.3 if name == "prelu" else None)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trip_torch_bpcore_torch(dtype):
    torch.manual_seed(0)
    nn = torch.nn
    seq = nn.Sequential(
        nn.Linear(4, 6),
        nn.Tanh(),
        nn.Linear(6, 5),
        nn.PReLU(init=0.3),
        nn.Linear(5, 5),
        nn.ReLU(),
        nn.Linear(5, 3),
        nn.Softmax(dim=-1),
    ).to(dtype)
    net = bpcore.Network.from_torch(seq)
    assert net.sizes == [4, 6, 5, 5, 3]
    assert net.activations == ["tanh", "prelu", "relu", "softmax"]
    assert net.loss_name == "cross_entropy" and net.alphas[2] == np.float32(0.3)
    name = "float32" if dtype == torch.float32 else "float64"
    X = np.random.default_rng(1).normal(size=(30, 4)).astype(name)
    assert np.abs(net.predict(X) - _torch_out(seq, X, name)).max() <= TOL[name]
    back = net.to_torch()
    assert [type(m) for m in back] == [type(m) for m in seq]
    a, b = seq.state_dict(), back.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key])
    np.testing.assert_array_equal(_torch_out(back, X, name), _torch_out(seq, X, name))


def test_from_torch_identity_layers_and_missing_bias():
    nn = torch.nn
    seq = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Linear(4, 2), nn.Sigmoid()).double()
    net = bpcore.Network.from_torch(seq)
    assert net.activations == ["identity", "sigmoid"] and net.loss_name == "binary_cross_entropy"
    np.testing.assert_array_equal(net.biases[0], 0)
    X = np.random.default_rng(2).normal(size=(10, 3))
    assert np.abs(net.predict(X) - _torch_out(seq, X, "float64")).max() <= 1e-12
    assert bpcore.Network.from_torch(seq, loss="mse").loss_name == "mse"
    assert [type(m) for m in net.to_torch()] == [nn.Linear, nn.Linear, nn.Sigmoid]


def test_from_torch_extra_activations_follow_this_bpcore():
    # converted when the core has them, a clear error naming the module when not
    nn = torch.nn
    for module, name in [
        (nn.LeakyReLU(0.01), "leaky_relu"),
        (nn.ELU(), "elu"),
        (nn.Softplus(), "softplus"),
        (nn.GELU(), "gelu"),
        (nn.SiLU(), "silu"),
    ]:
        seq = nn.Sequential(nn.Linear(3, 4), module, nn.Linear(4, 2)).double()
        if name in HIDDEN_ACTIVATIONS:
            net = bpcore.Network.from_torch(seq)
            assert net.activations == [name, "identity"]
            X = np.random.default_rng(3).normal(size=(10, 3))
            assert np.abs(net.predict(X) - _torch_out(seq, X, "float64")).max() <= 1e-12
        else:
            with pytest.raises(ValueError, match=rf"module 1 \({type(module).__name__}\)"):
                bpcore.Network.from_torch(seq)


@pytest.mark.parametrize(
    "modules,message",
    [
        (
            lambda nn: [nn.Linear(3, 4), nn.Dropout(0.1), nn.Linear(4, 2)],
            r"module 1 \(Dropout\) is not supported",
        ),
        (
            lambda nn: [nn.Linear(3, 4), nn.ReLU(), nn.Tanh(), nn.Linear(4, 2)],
            r"module 2 \(Tanh\) follows another activation",
        ),
        (lambda nn: [nn.ReLU(), nn.Linear(3, 4)], r"module 0 \(ReLU\) comes before any Linear"),
        (lambda nn: [nn.Linear(3, 4), nn.PReLU(4), nn.Linear(4, 2)], r"num_parameters=4"),
        (lambda nn: [nn.Linear(3, 4), nn.LeakyReLU(0.2)], r"slope 0.01"),
        (lambda nn: [nn.Linear(3, 4), nn.Softmax(dim=0)], r"dim=0"),
        (
            lambda nn: [nn.Linear(3, 4), nn.Softmax(dim=-1), nn.Linear(4, 2)],
            r"module 1 \(Softmax\): softmax is not available for a hidden layer",
        ),
        (lambda nn: [nn.Linear(3, 4), nn.GELU(approximate="tanh")], r"exact \(erf\)"),
        (lambda nn: [nn.Linear(3, 4), nn.Linear(5, 2)], r"module 1 \(Linear\) has in_features=5"),
        (lambda nn: [nn.Linear(3, 4), nn.Sequential(nn.ReLU())], r"module 1 \(Sequential\)"),
        (lambda nn: [], r"seq is empty"),
    ],
)
def test_from_torch_refuses_what_bpcore_does_not_have(modules, message):
    seq = torch.nn.Sequential(*modules(torch.nn))
    with pytest.raises(ValueError, match=message):
        bpcore.Network.from_torch(seq)


def test_from_torch_type_and_dtype_errors():
    with pytest.raises(TypeError, match="torch.nn.Sequential"):
        bpcore.Network.from_torch(torch.nn.Linear(2, 2))
    mixed = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1).double())
    with pytest.raises(ValueError, match="float32 or all float64"):
        bpcore.Network.from_torch(mixed)
    half = torch.nn.Sequential(torch.nn.Linear(2, 3).half())
    with pytest.raises(ValueError, match="float32 or all float64"):
        bpcore.Network.from_torch(half)
