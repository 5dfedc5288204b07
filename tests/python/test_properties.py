"""Property-based tests: random networks, data, dtypes and memory layouts against the NumPy oracle.

For every generated case the property is "a correct result or a clear Python exception": forward,
predict, loss and backward agree with the pure-NumPy ``ReferenceMLP`` (tests/python/reference.py),
one SGD step of ``fit`` is the reference's step, any memory layout gives the result of a C-ordered
copy, and bad values (NaN, inf, values beyond float32, wrong shapes) raise ValueError naming the
array and the position. Never a crash, never a silently wrong number.

The budget is fixed (``derandomize=True``, a set ``max_examples`` per test) so CI time is bounded
and every run checks the same cases.
"""

from __future__ import annotations

from typing import Any

import bpcore
import numpy as np
import pytest
from bpcore import HIDDEN_ACTIVATIONS, INITS, LOSSES, OPTIMIZERS
from bpcore._names import LOSS_INFO, OPTIMIZER_INFO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import ReferenceMLP

SETTINGS = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EXAMPLES_ORACLE = 600  # forward/predict/loss/backward against the reference
EXAMPLES_LAYOUT = 300  # memory layouts
EXAMPLES_BAD = 400  # bad values and shapes
EXAMPLES_FIT = 250  # one SGD step of fit, and random training runs
EXAMPLES_EXTREME = 200  # huge and tiny magnitudes

# Tolerances of a network's results against the float64 oracle.
# the optimizers that step on mini-batches (the full-batch ones: test_fullbatch.py)
MINIBATCH_OPTIMIZERS = [n for n in OPTIMIZERS if not OPTIMIZER_INFO[n].full_batch]
TOL = {"float64": dict(rtol=1e-9, atol=1e-11), "float32": dict(rtol=2e-4, atol=2e-5)}


# ------------------------------------------------------------------------------------ strategies
@st.composite
def architectures(draw: Any) -> dict[str, Any]:
    """Depth 0–3 hidden layers of width 1–6, any activation per layer, a valid output/loss pair."""
    d = draw(st.integers(1, 5))
    hidden = draw(st.lists(st.integers(1, 6), min_size=0, max_size=3))
    acts = [draw(st.sampled_from(HIDDEN_ACTIVATIONS)) for _ in hidden]
    loss = draw(st.sampled_from([*LOSSES, "mse"]))  # mse (any output activation) twice as often
    info = LOSS_INFO[loss]
    q = draw(st.integers(*_OUTPUTS[info.task]))
    out = info.output_activation or draw(st.sampled_from(HIDDEN_ACTIVATIONS))
    return dict(
        sizes=[d, *hidden, q],
        activation=acts if hidden else "sigmoid",
        output_activation=out,
        loss=loss,
        dtype=draw(st.sampled_from(["float64", "float32"])),
        init=draw(st.sampled_from(INITS)),
        seed=draw(st.integers(0, 2**32)),
        init_scale=draw(st.sampled_from([0.1, 0.5, 1.0])),
    )


# outputs q drawn for a loss's task: exclusive classes need at least two
_OUTPUTS = {"regression": (1, 4), "classification": (2, 4), "multilabel": (1, 3)}


def _targets(rng: np.random.Generator, loss: str, n: int, q: int) -> np.ndarray:
    task = LOSS_INFO[loss].task
    if task == "classification":  # one-hot rows
        return np.eye(q)[rng.integers(0, q, size=n)]
    if task == "multilabel":  # probabilities in [0, 1]
        return rng.uniform(0, 1, size=(n, q)).round(1)
    if loss == "poisson":  # counts, some 0
        return rng.poisson(1.0, size=(n, q)).astype(np.float64)
    return rng.uniform(-2, 2, size=(n, q))


@st.composite
def cases(draw: Any, max_n: int = 150) -> dict[str, Any]:
    """An architecture, a batch (X, Y) drawn from a seeded generator, and maybe sample weights."""
    arch = draw(architectures())
    n = draw(st.one_of(st.integers(1, 8), st.integers(1, max_n)))  # > 64 rows: several row blocks
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    scale = 10.0 ** draw(st.integers(-2, 1))
    d, q = arch["sizes"][0], arch["sizes"][-1]
    X = rng.normal(scale=scale, size=(n, d))
    if draw(st.booleans()):
        X[rng.uniform(size=X.shape) < 0.2] = 0.0  # exact zeros: Z^[l] = b^[l] on some rows
    Y = _targets(rng, arch["loss"], n, q)
    w = None
    if draw(st.booleans()):
        w = rng.uniform(0, 2, size=n)
        w[rng.uniform(size=n) < 0.2] = 0.0
        w[rng.integers(n)] = 1.0  # at least one positive weight
    return dict(arch=arch, X=X, Y=Y, w=w)


def _network(arch: dict[str, Any]) -> bpcore.Network:
    return bpcore.Network(**arch)


def _as_net_dtype(a: np.ndarray | None, net: bpcore.Network) -> np.ndarray | None:
    """The values the network really sees (float32 networks round their inputs)."""
    return None if a is None else np.asarray(a, dtype=net.dtype).astype(np.float64)


def _near_kink(ref: ReferenceMLP, X: np.ndarray, band: float) -> bool:
    """Some relu/prelu Z^[l] within ``band`` of 0, where a float32 Z may fall on the other side."""
    Zs = ref.forward(X)["Z"]
    return any(
        np.any(np.abs(Zs[l]) < band) for l in Zs if ref.activations[l - 1] in ("relu", "prelu")
    )


# ------------------------------------------------------------------------------------ properties
@settings(max_examples=EXAMPLES_ORACLE, **SETTINGS)
@given(case=cases())
def test_results_match_the_reference(case: dict[str, Any]) -> None:
    """Ŷ, J, ∂J/∂W^[l], ∂J/∂b^[l], ∂J/∂α^[l], Z^[l], H^[l] and δ^[l] equal the oracle's."""
    net = _network(case["arch"])
    tol = TOL[net.dtype.name]
    X, Y, w = case["X"], case["Y"], case["w"]
    ref = ReferenceMLP.from_network(net)
    Xr, Yr, wr = _as_net_dtype(X, net), _as_net_dtype(Y, net), _as_net_dtype(w, net)

    expected = ref.forward(Xr)
    L = net.n_layers
    np.testing.assert_allclose(net.forward(X), expected["H"][L], **tol)
    for l in range(1, L + 1):
        np.testing.assert_allclose(net.Z[l], expected["Z"][l], **tol)
        np.testing.assert_allclose(net.H[l], expected["H"][l], **tol)
    np.testing.assert_allclose(net.predict(X), expected["H"][L], **tol)
    J_ref = ref.loss(Xr, Yr, wr)
    assert net.loss(X, Y, sample_weight=w) == pytest.approx(
        J_ref, rel=tol["rtol"] * 10, abs=tol["atol"] * 10
    )

    J, grads = net.backward(X, Y, sample_weight=w)
    J_b, grads_ref, alpha_ref, cache = ref.backward(Xr, Yr, wr)
    assert J == pytest.approx(J_b, rel=tol["rtol"] * 10, abs=tol["atol"] * 10)
    if net.dtype == np.float32 and _near_kink(ref, Xr, 1e-4):
        return  # f′ may legitimately differ at a relu/prelu kink; Ŷ and J were checked above
    scale = max(1.0, max(float(np.abs(g).max()) for pair in grads_ref for g in pair))
    for (gW, gb), (gW_ref, gb_ref) in zip(grads, grads_ref):
        np.testing.assert_allclose(gW, gW_ref, rtol=tol["rtol"] * 10, atol=tol["atol"] * 10 * scale)
        np.testing.assert_allclose(gb, gb_ref, rtol=tol["rtol"] * 10, atol=tol["atol"] * 10 * scale)
    for l, g in alpha_ref.items():
        assert net.alpha_gradients[l] == pytest.approx(
            g, rel=tol["rtol"] * 10, abs=tol["atol"] * 10 * scale
        )
    if w is None:  # δ^[l] per sample (the core scales the rows of δ by n w_i / Σw when weighted)
        for l in range(1, L + 1):
            np.testing.assert_allclose(
                net.delta[l],
                cache["delta"][l],
                rtol=tol["rtol"] * 10,
                atol=tol["atol"] * 10 * scale,
            )


def _layout(a: np.ndarray, kind: str) -> np.ndarray:
    if kind == "C":
        return np.ascontiguousarray(a)
    if kind == "F":
        return np.asfortranarray(a)
    if kind == "strided":
        wide = np.zeros((a.shape[0] * 2,) + tuple(s * 2 for s in a.shape[1:]), dtype=a.dtype)
        index = (slice(None, None, 2),) * a.ndim
        wide[index] = a
        return wide[index]
    if kind == "reversed":
        return np.ascontiguousarray(a[::-1])[::-1]
    if kind == "read-only":
        b = a.copy()
        b.setflags(write=False)
        return b
    if kind == "float32 input":
        return a.astype(np.float32)
    if kind == "big-endian":
        return a.astype(a.dtype.newbyteorder(">"))
    raise AssertionError(kind)


LAYOUT_KINDS = ["F", "strided", "reversed", "read-only", "float32 input", "big-endian"]


@settings(max_examples=EXAMPLES_LAYOUT, **SETTINGS)
@given(
    case=cases(max_n=100),
    kind_X=st.sampled_from(LAYOUT_KINDS),
    kind_Y=st.sampled_from(["C", *LAYOUT_KINDS]),
    kind_w=st.sampled_from(["C", *LAYOUT_KINDS]),
)
def test_memory_layouts_give_the_result_of_a_C_copy(
    case: dict[str, Any], kind_X: str, kind_Y: str, kind_w: str
) -> None:
    net = _network(case["arch"])
    dt = net.dtype
    X, Y, w = case["X"], case["Y"], case["w"]
    Xl, Yl = _layout(X, kind_X), _layout(Y, kind_Y)
    wl = None if w is None else _layout(w, kind_w)
    Xc, Yc = np.ascontiguousarray(Xl, dtype=dt), np.ascontiguousarray(Yl, dtype=dt)
    wc = None if wl is None else np.ascontiguousarray(wl, dtype=dt)
    same = dict(rtol=0, atol=0)
    np.testing.assert_array_equal(net.forward(Xl), net.forward(Xc))
    np.testing.assert_allclose(net.predict(Xl), net.predict(Xc), **same)
    np.testing.assert_allclose(
        net.loss(Xl, Yl, sample_weight=wl), net.loss(Xc, Yc, sample_weight=wc), **same
    )
    J1, g1 = net.backward(Xl, Yl, sample_weight=wl)
    J2, g2 = net.backward(Xc, Yc, sample_weight=wc)
    assert J1 == J2
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert not (kind_X == "read-only" and Xl.flags.writeable)  # the input stayed as it was


BAD_KINDS = [
    "nan",
    "inf",
    "-inf",
    "float32 overflow",
    "extra column",
    "missing column",
    "extra row",
    "3-D",
    "empty",
]


@settings(max_examples=EXAMPLES_BAD, **SETTINGS)
@given(
    case=cases(max_n=40),
    target=st.sampled_from(["X", "Y", "sample_weight"]),
    bad=st.sampled_from(BAD_KINDS),
    entry=st.sampled_from(["forward", "predict", "loss", "backward", "fit"]),
    where=st.integers(0, 10**6),
)
def test_bad_values_and_shapes_raise_a_clear_error(
    case: dict[str, Any], target: str, bad: str, entry: str, where: int
) -> None:
    net = _network(case["arch"])
    before = net.parameters.copy()
    X, Y = case["X"].copy(), case["Y"].copy()
    w = np.ones(X.shape[0]) if case["w"] is None else case["w"].copy()
    if entry in ("forward", "predict"):
        target = "X"
    arrays = {"X": X, "Y": Y, "sample_weight": w}
    a = arrays[target]
    position = np.unravel_index(where % a.size, a.shape)
    words: tuple[str, ...] = (target,)
    if bad in ("nan", "inf", "-inf"):
        a[position] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}[bad]
        if target != "sample_weight":
            words += (f"index {tuple(int(i) for i in position)}",)
    elif bad == "float32 overflow":
        if net.dtype != np.float32:
            return
        a[position] = 1e39 * (1 if target == "sample_weight" else -1)
        words += ("float32",)
    elif bad == "extra column":
        if target == "sample_weight":
            a = np.stack([a, a], axis=1)
        else:
            a = np.concatenate([a, a[:, :1]], axis=1)
    elif bad == "missing column":
        if target == "sample_weight":
            a = a[:-1]
        elif a.shape[1] == 1:
            a = a[:, :0]
        else:
            a = a[:, 1:]
    elif bad == "extra row":
        if target == "X":
            return  # more samples in X is the mismatch of Y and sample_weight
        a = np.concatenate([a, a[:1]])
    elif bad == "3-D":
        a = a[..., None] if target != "sample_weight" else a[:, None, None]
    elif bad == "empty":
        a = a[:0]
    arrays[target] = a
    X, Y, w = arrays["X"], arrays["Y"], arrays["sample_weight"]
    call = {
        "forward": lambda: net.forward(X),
        "predict": lambda: net.predict(X),
        "loss": lambda: net.loss(X, Y, sample_weight=w),
        "backward": lambda: net.backward(X, Y, sample_weight=w),
        "fit": lambda: net.fit(X, Y, epochs=1, batch_size=None, sample_weight=w),
    }[entry]
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    if bad == "extra row" or (bad == "empty" and target != "X"):
        words = ()  # a length mismatch names both arrays in its own words
    for word in words:
        assert word in message, (word, message)
    np.testing.assert_array_equal(net.parameters, before)


@settings(max_examples=EXAMPLES_FIT, **SETTINGS)
@given(case=cases(max_n=80), lr=st.sampled_from([0.01, 0.1, 0.5]))
def test_one_full_batch_sgd_step_of_fit_is_the_reference_step(
    case: dict[str, Any], lr: float
) -> None:
    """fit(epochs=1, batch_size=None, shuffle=False) is θ ← θ − lr ∂J/∂θ of the whole batch."""
    net = _network(case["arch"])
    tol = TOL[net.dtype.name]
    ref = ReferenceMLP.from_network(net)
    Xr, Yr, wr = (_as_net_dtype(a, net) for a in (case["X"], case["Y"], case["w"]))
    if net.dtype == np.float32 and _near_kink(ref, Xr, 1e-4):
        return
    _, grads, alpha_grads, _ = ref.backward(Xr, Yr, wr)
    ref.sgd_step(grads, lr, alpha_grads)
    hist = net.fit(
        case["X"],
        case["Y"],
        epochs=1,
        batch_size=None,
        shuffle=False,
        lr=lr,
        sample_weight=case["w"],
    )
    assert hist.epochs == 1 and np.isfinite(hist.loss[0])
    np.testing.assert_allclose(
        net.parameters,
        ref.flat_parameters(),
        rtol=tol["rtol"] * 10,
        atol=tol["atol"] * 10 * max(1.0, lr * 10),
    )


@settings(max_examples=EXAMPLES_FIT, **SETTINGS)
@given(
    case=cases(max_n=60),
    epochs=st.integers(1, 3),
    optimizer=st.sampled_from(MINIBATCH_OPTIMIZERS),
    lr=st.sampled_from([1e-3, 0.1, 1.0, 50.0]),
    batch=st.integers(1, 60),
    drop_last=st.booleans(),
    n_threads=st.sampled_from([None, 1, 2]),
)
def test_training_ends_in_a_history_or_a_clear_divergence(
    case: dict[str, Any],
    epochs: int,
    optimizer: str,
    lr: float,
    batch: int,
    drop_last: bool,
    n_threads: Any,
) -> None:
    """Any valid fit() returns a History with finite parameters, or raises TrainingDivergedError
    and keeps the (finite) parameters of the last finite epoch; n_threads never changes a bit."""
    net = _network(case["arch"])
    twin = net.copy()
    n = case["X"].shape[0]
    kwargs = dict(
        epochs=epochs,
        optimizer=optimizer,
        lr=lr,
        batch_size=min(batch, n),
        drop_last=drop_last,
        sample_weight=case["w"],
        seed=3,
    )
    outcome = []
    for network, threads in ((net, n_threads), (twin, 1)):
        try:
            hist = network.fit(case["X"], case["Y"], n_threads=threads, **kwargs)
            assert hist.epochs == epochs and all(np.isfinite(hist.loss))
            outcome.append(("history", hist.loss))
        except bpcore.TrainingDivergedError as exc:
            assert 1 <= exc.epoch <= epochs
            outcome.append(("diverged", exc.epoch))
        assert np.isfinite(network.parameters).all()
    assert outcome[0] == outcome[1]
    np.testing.assert_array_equal(net.parameters, twin.parameters)


@settings(max_examples=EXAMPLES_EXTREME, **SETTINGS)
@given(
    arch=architectures(),
    exponent=st.sampled_from([-300, -150, -30, 30, 150, 300]),
    n=st.integers(1, 20),
    seed=st.integers(0, 2**32),
)
def test_extreme_magnitudes_give_the_reference_result_or_a_clear_error(
    arch: dict[str, Any], exponent: int, n: int, seed: int
) -> None:
    """Finite inputs of any magnitude: the float64 oracle's outputs wherever those are finite; a
    float32 network refuses what it cannot represent; fit ends in a History or a clear
    TrainingDivergedError."""
    net = _network(arch)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, arch["sizes"][0])) * 10.0**exponent
    Y = _targets(rng, arch["loss"], n, arch["sizes"][-1])
    if net.dtype == np.float32 and np.abs(X).max() > np.finfo(np.float32).max:
        with pytest.raises(ValueError, match="float32"):
            net.predict(X)
        return
    with np.errstate(all="ignore"):
        expected = ReferenceMLP.from_network(net).forward(_as_net_dtype(X, net))["H"][net.n_layers]
        Y_hat = net.predict(X)
    assert Y_hat.shape == expected.shape and Y_hat.dtype == net.dtype
    finite = np.isfinite(expected)
    tol = TOL[net.dtype.name]
    np.testing.assert_allclose(
        Y_hat[finite], expected[finite], rtol=tol["rtol"] * 100, atol=tol["atol"] * 100
    )
    try:
        net.fit(X, Y, epochs=2, batch_size=None, lr=0.1)
    except bpcore.TrainingDivergedError:
        pass
    assert np.isfinite(net.parameters).all()
