"""Hardening of bpcore's public surface: bad input, layouts, view lifetime, threads, fork, faults.

Every bad input must end in a clear Python exception (ValueError for a bad value or shape, TypeError
for a bad type, the message naming the parameter), never in a crash or a silently wrong answer.
Tests that could kill the interpreter (huge sizes, huge thread counts, views outliving their
network) run in a child process, so that a crash fails one test instead of the whole run.

Notation as in docs/notation.md: X (n, d), Y (n, q), Z^[l] = H^[l-1] W^[l] + b^[l].
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Callable

import bpcore
import numpy as np
import pytest
from bpcore import _validation as validation
from bpcore._loader import core
from bpcore._names import ACTIVATIONS, HIDDEN_ACTIVATIONS, INITS, LOSSES, OPTIMIZERS, SCHEDULES

D, Q, N = 3, 2, 6  # input size d, output size q, samples n of the small test network


# ---------------------------------------------------------------------------------------- helpers
def _net(dtype: str = "float64", **kwargs: Any) -> bpcore.Network:
    """The small d-4-q network most tests use."""
    options = dict(activation="tanh", output_activation="sigmoid", seed=7)
    options.update(kwargs)
    return bpcore.Network([D, 4, Q], dtype=dtype, **options)


def _data(n: int = N, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, D)), rng.uniform(0.1, 0.9, size=(n, Q))


def _run_python(code: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports this very bpcore (same build and flags)."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(bpcore.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _same_bits(actual: Any, expected: Any) -> None:
    """Bitwise equal: where an array lies in memory must not change a single bit of a result."""
    np.testing.assert_array_equal(actual, expected)


def _assert_clean_exit(proc: subprocess.CompletedProcess, marker: str = "DONE") -> str:
    """The child exited normally (no signal, no sanitizer report) and printed ``marker``."""
    detail = (
        f"exit status {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    )
    assert proc.returncode == 0, "the child process crashed or failed: " + detail
    assert "Sanitizer" not in proc.stderr, detail
    assert marker in proc.stdout, detail
    return proc.stdout


# ================================================================ 1. bad input at every entry point
# ---- the Network constructor: (kwargs, exception, words the message must contain)
BAD_NETWORK_ARGS = [
    (dict(sizes=[]), ValueError, "sizes"),
    (dict(sizes=[3]), ValueError, "sizes"),
    (dict(sizes=[3, 0]), ValueError, "sizes[1]"),
    (dict(sizes=[0, 2]), ValueError, "sizes[0]"),
    (dict(sizes=[3, -4, 2]), ValueError, "sizes[1]"),
    (dict(sizes=[3, 2.0]), TypeError, "sizes[1]"),
    (dict(sizes=[3, None]), TypeError, "sizes[1]"),
    (dict(sizes=[True, 2]), TypeError, "sizes[0]"),
    (dict(sizes="32"), TypeError, "sizes"),
    (dict(sizes=5), TypeError, "sizes"),
    (dict(sizes=[3, 4, 2], activation="swish"), ValueError, ", ".join(HIDDEN_ACTIVATIONS)),
    (dict(sizes=[3, 4, 2], activation="softmax"), ValueError, ", ".join(HIDDEN_ACTIVATIONS)),
    (dict(sizes=[3, 4, 2], activation=["tanh", "relu"]), ValueError, "hidden"),
    (dict(sizes=[3, 4, 2], activation=["tanh", 3]), ValueError, "activation"),
    (dict(sizes=[3, 2], output_activation="swish"), ValueError, ", ".join(ACTIVATIONS)),
    (dict(sizes=[3, 2], output_activation=None), ValueError, "output_activation"),
    (dict(sizes=[3, 2], loss="hinge"), ValueError, ", ".join(LOSSES)),
    (dict(sizes=[3, 2], output_activation="softmax", loss="mse"), ValueError, "cross_entropy"),
    (dict(sizes=[3, 2], output_activation="sigmoid", loss="cross_entropy"), ValueError, "softmax"),
    (
        dict(sizes=[3, 1], output_activation="softmax", loss="cross_entropy"),
        ValueError,
        "2 outputs",
    ),
    (
        dict(sizes=[3, 1], output_activation="tanh", loss="binary_cross_entropy"),
        ValueError,
        "sigmoid",
    ),
    (dict(sizes=[3, 2], init="normal"), ValueError, ", ".join(INITS)),
    (dict(sizes=[3, 2], dtype="int32"), ValueError, "float32, float64"),
    (dict(sizes=[3, 2], dtype="float16"), ValueError, "float32, float64"),
    (dict(sizes=[3, 2], dtype="complex128"), ValueError, "float32, float64"),
    (dict(sizes=[3, 2], dtype="not a dtype"), ValueError, "float32, float64"),
    (dict(sizes=[3, 2], seed=-1), ValueError, "seed"),
    (dict(sizes=[3, 2], seed=1.5), ValueError, "seed"),
    (dict(sizes=[3, 2], seed=2**64), ValueError, "seed"),
    (dict(sizes=[3, 2], seed=True), ValueError, "seed"),
    (dict(sizes=[3, 2], init_scale=0), ValueError, "init_scale"),
    (dict(sizes=[3, 2], init_scale=-0.1), ValueError, "init_scale"),
    (dict(sizes=[3, 2], init_scale=float("nan")), ValueError, "init_scale"),
    (dict(sizes=[3, 2], init_scale=float("inf")), ValueError, "init_scale"),
    (dict(sizes=[3, 2], init_scale="big"), TypeError, "init_scale"),
]


@pytest.mark.parametrize(
    "kwargs, exc, words", BAD_NETWORK_ARGS, ids=[repr(k)[:60] for k, _, _ in BAD_NETWORK_ARGS]
)
def test_bad_network_arguments(kwargs: dict, exc: type, words: str) -> None:
    with pytest.raises(exc) as info:
        bpcore.Network(**kwargs)
    assert words in str(info.value)


# Sizes whose products overflow the core's 64-bit parameter count (n_in * n_out wraps around), or
# whose buffers cannot be allocated: a clear ValueError or MemoryError, never a crash and never a
# network that silently has the wrong number of parameters.
HUGE_SIZES = [
    [2, 2**62, 4],  # 2 * 2^62 overflows int64
    [2**62, 4],  # 2^62 * 4 wraps to 0: a 4-parameter "network"
    [3, 2**62 + 1, 1],
    [2**32, 2**32, 1],
    [10**6, 10**6],  # 8 TB of float64
]


@pytest.mark.parametrize("sizes", HUGE_SIZES, ids=[str(s) for s in HUGE_SIZES])
def test_bad_huge_sizes_are_refused_without_crash(sizes: list[int]) -> None:
    out = _assert_clean_exit(
        _run_python(
            f"""
        import bpcore
        try:
            net = bpcore.Network({sizes!r})
        except (ValueError, MemoryError) as exc:
            print("REFUSED", type(exc).__name__, exc)
        else:
            print("BUILT", net.n_params)
        print("DONE")
    """,
            timeout=60,
        )
    )
    assert "REFUSED" in out, f"Network({sizes}) was built: {out}"


# ---- X, Y and sample weights at forward / predict / loss / backward / fit / trace / gradcheck
def _forward(net, X, Y, w):
    return net.forward(X)


def _predict(net, X, Y, w):
    return net.predict(X)


def _loss(net, X, Y, w):
    return net.loss(X, Y, sample_weight=w)


def _backward(net, X, Y, w):
    return net.backward(X, Y, sample_weight=w)


def _fit(net, X, Y, w):
    return net.fit(X, Y, epochs=1, batch_size=2, sample_weight=w)


def _trace(net, X, Y, w):
    return net.trace(X, Y, lr=0.1, update=True)


def _gradcheck(net, X, Y, w):
    return bpcore.gradcheck(net, X, Y)


X_ENTRY_POINTS = {
    "forward": _forward,
    "predict": _predict,
    "loss": _loss,
    "backward": _backward,
    "fit": _fit,
    "trace": _trace,
    "gradcheck": _gradcheck,
}
Y_ENTRY_POINTS = {k: X_ENTRY_POINTS[k] for k in ("loss", "backward", "fit", "trace", "gradcheck")}
W_ENTRY_POINTS = {k: X_ENTRY_POINTS[k] for k in ("loss", "backward", "fit")}


def _with(X: np.ndarray, index: tuple[int, int], value: float) -> np.ndarray:
    X = X.copy()
    X[index] = value
    return X


def _ragged(X: np.ndarray) -> list:
    return [[1.0, 2.0, 3.0], [1.0, 2.0]] + X.tolist()[2:]


# name -> (make bad X from a good one, exception, words the message must contain)
BAD_X: dict[str, tuple[Callable[[np.ndarray], Any], type, str]] = {
    "3-D": (lambda X: X.reshape(N, D, 1), ValueError, "2-D"),
    "0-D": (lambda X: np.float64(1.0), ValueError, "2-D"),
    "too many features": (lambda X: np.ones((N, D + 1)), ValueError, f"{D} features"),
    "too few features": (lambda X: X[:, :2], ValueError, f"{D} features"),
    "1-D wrong length": (lambda X: np.ones(D + 2), ValueError, f"{D} features"),
    "no samples": (lambda X: np.ones((0, D)), ValueError, "no samples"),
    "zero features": (lambda X: np.ones((N, 0)), ValueError, "features"),
    "NaN": (lambda X: _with(X, (4, 1), np.nan), ValueError, "index (4, 1)"),
    "+inf": (lambda X: _with(X, (0, 2), np.inf), ValueError, "index (0, 2)"),
    "-inf": (lambda X: _with(X, (5, 0), -np.inf), ValueError, "index (5, 0)"),
    # the position is the sample and feature, whatever the memory order of the input
    "NaN Fortran": (
        lambda X: np.asfortranarray(_with(X, (3, 2), np.nan)),
        ValueError,
        "index (3, 2)",
    ),
    "NaN strided": (
        lambda X: np.repeat(_with(X, (2, 1), np.nan), 2, axis=0)[::2],
        ValueError,
        "index (2, 1)",
    ),
    "NaN float32": (
        lambda X: _with(X, (1, 1), np.nan).astype(np.float32),
        ValueError,
        "index (1, 1)",
    ),
    "complex": (lambda X: X + 1j, TypeError, "complex"),
    "object": (lambda X: X.astype(object), TypeError, "object"),
    "strings": (lambda X: X.astype(str), TypeError, "numeric"),
    "bytes": (lambda X: X.astype("S8"), TypeError, "numeric"),
    "datetime64": (lambda X: np.zeros((N, D), dtype="datetime64[s]"), TypeError, "numeric"),
    "timedelta64": (lambda X: np.zeros((N, D), dtype="timedelta64[s]"), TypeError, "numeric"),
    "structured": (
        lambda X: np.zeros(N, dtype=[("a", "f8"), ("b", "f8"), ("c", "f8")]),
        TypeError,
        "numeric",
    ),
    "ragged list": (_ragged, ValueError, "X"),
    "None": (lambda X: None, TypeError, "X"),
    "dict": (lambda X: {"a": 1}, TypeError, "X"),
    "huge Python int": (lambda X: [[10**400, 0, 0]] * N, TypeError, "X"),
    # finite values that only become inf in the cast: say so, not "X contains inf"
    "float128 beyond float64": (
        lambda X: np.full((N, D), np.longdouble(10) ** 400),
        ValueError,
        "range",
    ),
}


@pytest.mark.parametrize("bad", list(BAD_X), ids=list(BAD_X))
@pytest.mark.parametrize("entry", list(X_ENTRY_POINTS), ids=list(X_ENTRY_POINTS))
def test_bad_X(entry: str, bad: str) -> None:
    if bad == "float128 beyond float64" and np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("this platform's long double is float64")
    make, exc, words = BAD_X[bad]
    net = _net()
    X, Y = _data()
    before = net.parameters.copy()
    with pytest.raises(exc) as info:
        X_ENTRY_POINTS[entry](net, make(X), Y, None)
    assert words in str(info.value)
    np.testing.assert_array_equal(net.parameters, before)  # a refused call changes nothing


def test_bad_X_float32_overflow() -> None:
    """float64 values beyond float32's range: refused by a float32 network at every entry point."""
    X, Y = _data()
    X_big = _with(X, (2, 0), 1e39)
    for entry, call in X_ENTRY_POINTS.items():
        net = _net("float32")
        with pytest.raises(ValueError, match="float32") as info:
            call(net, X_big, Y, None)
        assert "X" in str(info.value), entry
    # the same values are fine for a float64 network (finite, if large, outputs)
    assert np.isfinite(_net().predict(X_big)).all()


def _set_row_count(Y: np.ndarray, n: int) -> np.ndarray:
    return np.resize(Y, (n, Q))


BAD_Y: dict[str, tuple[Callable[[np.ndarray], Any], type, str]] = {
    "too many outputs": (lambda Y: np.ones((N, Q + 1)), ValueError, "Y"),
    "too few samples": (lambda Y: Y[:-1], ValueError, "samples"),
    "too many samples": (lambda Y: _set_row_count(Y, N + 3), ValueError, "samples"),
    "no samples": (lambda Y: np.ones((0, Q)), ValueError, "Y"),
    "3-D": (lambda Y: Y.reshape(N, Q, 1), ValueError, "Y"),
    "1-D length n for q=2": (lambda Y: Y[:, 0], ValueError, "Y"),
    "NaN": (lambda Y: _with(Y, (3, 1), np.nan), ValueError, "index (3, 1)"),
    "inf": (lambda Y: _with(Y, (0, 0), np.inf), ValueError, "index (0, 0)"),
    "complex": (lambda Y: Y + 0j, TypeError, "complex"),
    "object": (lambda Y: Y.astype(object), TypeError, "object"),
    "strings": (lambda Y: Y.astype(str), TypeError, "numeric"),
    "None": (lambda Y: None, TypeError, "Y"),
}


@pytest.mark.parametrize("bad", list(BAD_Y), ids=list(BAD_Y))
@pytest.mark.parametrize("entry", list(Y_ENTRY_POINTS), ids=list(Y_ENTRY_POINTS))
def test_bad_Y(entry: str, bad: str) -> None:
    make, exc, words = BAD_Y[bad]
    net = _net()
    X, Y = _data()
    before = net.parameters.copy()
    with pytest.raises(exc) as info:
        Y_ENTRY_POINTS[entry](net, X, make(Y), None)
    assert words in str(info.value)
    np.testing.assert_array_equal(net.parameters, before)


def test_bad_Y_float32_overflow() -> None:
    X, Y = _data()
    for call in Y_ENTRY_POINTS.values():
        with pytest.raises(ValueError, match="float32"):
            call(_net("float32"), X, _with(Y, (1, 1), -1e40), None)


BAD_W: dict[str, tuple[Callable[[], Any], type, str]] = {
    "too short": (lambda: np.ones(N - 1), ValueError, "sample_weight"),
    "2-D": (lambda: np.ones((N, 1)), ValueError, "sample_weight"),
    "scalar": (lambda: 1.0, ValueError, "sample_weight"),
    "negative": (lambda: np.r_[np.ones(N - 1), -1.0], ValueError, "non-negative"),
    "all zero": (lambda: np.zeros(N), ValueError, "sample_weight"),
    "NaN": (lambda: np.r_[np.ones(N - 1), np.nan], ValueError, "sample_weight"),
    "inf": (lambda: np.r_[np.inf, np.ones(N - 1)], ValueError, "sample_weight"),
    "complex": (lambda: np.ones(N) + 1j, TypeError, "sample_weight"),
    "strings": (lambda: np.array(["1"] * N), TypeError, "sample_weight"),
}


@pytest.mark.parametrize("bad", list(BAD_W), ids=list(BAD_W))
@pytest.mark.parametrize("entry", list(W_ENTRY_POINTS), ids=list(W_ENTRY_POINTS))
def test_bad_sample_weight(entry: str, bad: str) -> None:
    make, exc, words = BAD_W[bad]
    net = _net()
    X, Y = _data()
    with pytest.raises(exc) as info:
        W_ENTRY_POINTS[entry](net, X, Y, make())
    assert words in str(info.value)


# ---- fit's own arguments: (kwargs, exception, words)
BAD_FIT_ARGS = [
    (dict(lr=0), ValueError, "lr"),
    (dict(lr=-0.5), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(lr=float("inf")), ValueError, "lr"),
    (dict(lr=True), TypeError, "lr"),
    (dict(lr=None), TypeError, "lr"),
    (dict(lr="0.5"), TypeError, "lr"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=-2), ValueError, "batch_size"),
    (dict(batch_size=N + 1), ValueError, "batch_size"),
    (dict(batch_size=2.0), TypeError, "batch_size"),
    (dict(batch_size=True), TypeError, "batch_size"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(epochs=1.5), TypeError, "epochs"),
    (dict(epochs=None), TypeError, "epochs"),
    (dict(n_threads=0), ValueError, "n_threads"),
    (dict(n_threads=-1), ValueError, "n_threads"),
    (dict(n_threads=2.0), TypeError, "n_threads"),
    (dict(n_threads=True), TypeError, "n_threads"),
    (dict(optimizer="rmsprop"), ValueError, ", ".join(OPTIMIZERS)),
    (dict(optimizer=None), ValueError, ", ".join(OPTIMIZERS)),
    (dict(lr_schedule="cosine"), ValueError, ", ".join(SCHEDULES)),
    (dict(optimizer="momentum", momentum=1.0), ValueError, "momentum"),
    (dict(optimizer="momentum", momentum=-0.1), ValueError, "momentum"),
    (dict(optimizer="nesterov", momentum="high"), TypeError, "momentum"),
    (dict(optimizer="adam", beta1=1.0), ValueError, "beta1"),
    (dict(optimizer="adam", beta2=-0.1), ValueError, "beta2"),
    (dict(optimizer="adam", epsilon=0), ValueError, "epsilon"),
    (dict(weight_decay=-1e-3), ValueError, "weight_decay"),
    (dict(weight_decay="x"), TypeError, "weight_decay"),
    (dict(lr_schedule="invscaling", power_t=-1), ValueError, "power_t"),
    (dict(lr_schedule="step", step_size=0), ValueError, "step_size"),
    (dict(lr_schedule="step", gamma=0), ValueError, "gamma"),
    (dict(lr_schedule="step", gamma=1.5), ValueError, "gamma"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(tol=float("nan")), ValueError, "tol"),
    (dict(tol="small"), TypeError, "tol"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed=0.5), ValueError, "seed"),
    (dict(learning_rate=0.1), TypeError, "learning_rate"),
    (dict(callbacks=[5]), TypeError, "callbacks"),
    (dict(callbacks=5), TypeError, "callbacks"),
    (dict(validation_fraction=0.0), ValueError, "validation_fraction"),
    (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
    (dict(validation_fraction=0.01), ValueError, "validation_fraction"),
    (dict(validation_fraction="x"), TypeError, "validation_fraction"),
    (dict(validation_data=(1, 2, 3)), ValueError, "validation_data"),
    (dict(validation_data=(np.ones((2, D + 1)), np.ones((2, Q)))), ValueError, "X_val"),
    (dict(validation_data=(np.ones((2, D)), np.ones((3, Q)))), ValueError, "Y_val"),
    (dict(validation_data=(np.full((2, D), np.nan), np.ones((2, Q)))), ValueError, "X_val"),
    (
        dict(validation_data=(np.ones((2, D)), np.ones((2, Q))), validation_fraction=0.5),
        ValueError,
        "validation_fraction",
    ),
    (dict(early_stopping=True, patience=0), ValueError, "patience"),
    (dict(early_stopping=True, min_delta=-1.0), ValueError, "min_delta"),
    (dict(early_stopping=True, min_delta="x"), TypeError, "min_delta"),
    # flags: a string such as "no" is truthy, so accepting it would silently do the opposite
    (dict(shuffle="no"), TypeError, "shuffle"),
    (dict(drop_last="yes"), TypeError, "drop_last"),
    (dict(warm_start="false"), TypeError, "warm_start"),
]


@pytest.mark.parametrize(
    "kwargs, exc, words", BAD_FIT_ARGS, ids=[repr(k)[:60] for k, _, _ in BAD_FIT_ARGS]
)
def test_bad_fit_arguments(kwargs: dict, exc: type, words: str) -> None:
    net = _net()
    X, Y = _data()
    before = net.parameters.copy()
    options = dict(epochs=2, batch_size=2)
    options.update(kwargs)
    with pytest.raises(exc) as info:
        net.fit(X, Y, **options)
    assert words in str(info.value)
    np.testing.assert_array_equal(net.parameters, before)
    net.fit(X, Y, epochs=1)  # the network is still usable (its lock was released)


@pytest.mark.parametrize("n_threads", [0, -3, 1.0, "2", True])
@pytest.mark.parametrize("entry", ["forward", "predict", "loss", "backward"])
def test_bad_n_threads_at_every_entry_point(entry: str, n_threads: Any) -> None:
    net = _net()
    X, Y = _data()
    args = (X,) if entry in ("forward", "predict") else (X, Y)
    with pytest.raises((TypeError, ValueError), match="n_threads"):
        getattr(net, entry)(*args, n_threads=n_threads)


@pytest.mark.parametrize("n_threads", [100_000, 2**31, 2**40])
def test_bad_huge_n_threads_no_crash(n_threads: int) -> None:
    """More threads than the system can start: a clear ValueError or the usual result, no crash.

    The core runs at most one thread per row block, so a large request must be capped (or
    refused); asking OpenMP for 100 000 threads aborts or crashes the process."""
    out = _assert_clean_exit(
        _run_python(
            f"""
        import numpy as np, bpcore
        rng = np.random.default_rng(0)
        net = bpcore.Network([30, 300, 30], seed=0)
        X = rng.normal(size=(4096, 30))
        expected = net.predict(X, n_threads=1)
        for call in ("predict", "fit"):
            try:
                if call == "predict":
                    same = np.array_equal(net.predict(X, n_threads={n_threads}), expected)
                    print("predict", "SAME" if same else "DIFFERENT")
                else:
                    net.fit(X, X, epochs=1, batch_size=None, n_threads={n_threads})
                    print("fit OK")
            except ValueError as exc:
                assert "n_threads" in str(exc), exc
                print(call, "REFUSED")
        print("DONE")
    """,
            timeout=120,
        )
    )
    assert "DIFFERENT" not in out


def test_bad_reinitialize_arguments_leave_the_network_unchanged() -> None:
    """A refused reinitialize() changes nothing: not the parameters, not ``init`` nor ``seed``."""
    net = _net()
    before = net.parameters.copy()
    for kwargs in (
        dict(seed=-1),
        dict(init="normal"),
        dict(seed=-1, init="he"),
        dict(seed=3, init="bad"),
    ):
        with pytest.raises(ValueError):
            net.reinitialize(**kwargs)
        assert (net.init, net.seed) == ("small_uniform", 7), kwargs
        np.testing.assert_array_equal(net.parameters, before)


# ---- accepted dtypes: converted exactly as _validation documents
CONVERTED = {
    "bool": lambda X: X > 0,
    "int8": lambda X: np.round(X * 10).astype(np.int8),
    "uint16": lambda X: np.round(np.abs(X) * 100).astype(np.uint16),
    "int64": lambda X: np.round(X * 1000).astype(np.int64),
    "float16": lambda X: X.astype(np.float16),
    "float32": lambda X: X.astype(np.float32),
    "big-endian float64": lambda X: X.astype(">f8"),
    "nested list": lambda X: X.tolist(),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", list(CONVERTED), ids=list(CONVERTED))
def test_real_dtypes_are_converted_like_an_explicit_cast(kind: str, dtype: str) -> None:
    net = _net(dtype)
    X, Y = _data()
    X_in = CONVERTED[kind](X)
    X_cast = np.asarray(X_in).astype(dtype)  # what the documented conversion must give
    _same_bits(net.predict(X_in), net.predict(X_cast))
    np.testing.assert_array_equal(net.forward(X_in), net.forward(X_cast))
    _same_bits(net.loss(X_in, Y), net.loss(X_cast, Y))
    J_in, g_in = net.backward(X_in, Y)
    J_cast, g_cast = net.backward(X_cast, Y)
    assert J_in == J_cast
    np.testing.assert_array_equal(g_in[0][0], g_cast[0][0])
    Y_in = (Y > 0.5) if kind == "bool" else CONVERTED[kind](Y)
    J_in, _ = net.backward(X_cast, Y_in)
    assert J_in == net.backward(X_cast, np.asarray(Y_in).astype(dtype))[0]


def test_matching_C_ordered_input_is_used_in_place_and_others_are_copied() -> None:
    """The conversion rule of bpcore._validation: no copy for a C-ordered array of the network's
    dtype; one C-ordered copy of the network's dtype for anything else."""
    X, _ = _data()
    assert validation.as_matrix(X, "X", np.dtype(np.float64), D) is X
    for other in (np.asfortranarray(X), X.astype(np.float32), np.repeat(X, 2, axis=0)[::2]):
        out = validation.as_matrix(other, "X", np.dtype(np.float64), D)
        assert out.flags.c_contiguous and out.dtype == np.float64
        assert not np.shares_memory(out, other)
        np.testing.assert_array_equal(out, np.asarray(other, dtype=np.float64))


def test_inputs_are_never_modified() -> None:
    net = _net()
    X, Y = _data(40)
    w = np.linspace(0.5, 1.5, 40)
    copies = (X.copy(), Y.copy(), w.copy())
    net.forward(X)
    net.backward(X, Y, sample_weight=w)
    net.fit(X, Y, epochs=3, batch_size=4, shuffle=True, sample_weight=w, validation_fraction=0.25)
    for a, b in zip((X, Y, w), copies):
        np.testing.assert_array_equal(a, b)


# ================================================================ 1b. memory layouts
def _fortran(a: np.ndarray, tmp: Any) -> np.ndarray:
    return np.asfortranarray(a)


def _strided(a: np.ndarray, tmp: Any) -> np.ndarray:
    if a.ndim == 1:
        wide = np.zeros(a.shape[0] * 2)
        wide[::2] = a
        return wide[::2]
    wide = np.zeros((a.shape[0] * 2, a.shape[1] * 3))
    wide[::2, ::3] = a
    return wide[::2, ::3]


def _reversed(a: np.ndarray, tmp: Any) -> np.ndarray:
    return a[::-1].copy()[::-1]


def _read_only(a: np.ndarray, tmp: Any) -> np.ndarray:
    b = a.copy()
    b.setflags(write=False)
    return b


def _memmap(a: np.ndarray, tmp: Any) -> np.ndarray:
    m = np.memmap(tmp / f"m{id(a)}.bin", dtype=a.dtype, mode="w+", shape=a.shape)
    m[...] = a
    m.flush()
    return np.memmap(tmp / f"m{id(a)}.bin", dtype=a.dtype, mode="r", shape=a.shape)


def _memmap_fortran(a: np.ndarray, tmp: Any) -> np.ndarray:
    m = np.memmap(tmp / f"f{id(a)}.bin", dtype=a.dtype, mode="w+", shape=a.shape, order="F")
    m[...] = a
    m.flush()
    return m


def _npy_mmap(a: np.ndarray, tmp: Any) -> np.ndarray:
    path = tmp / f"a{id(a)}.npy"
    np.save(path, a)
    return np.load(path, mmap_mode="r")


LAYOUTS = {
    "fortran": _fortran,
    "strided": _strided,
    "negative strides": _reversed,
    "read-only": _read_only,
    "memmap r": _memmap,
    "memmap Fortran w+": _memmap_fortran,
    "np.load mmap_mode=r": _npy_mmap,
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layout", list(LAYOUTS), ids=list(LAYOUTS))
def test_layouts_give_the_same_results_as_C_ordered_copies(
    layout: str, dtype: str, tmp_path: Any
) -> None:
    make = LAYOUTS[layout]
    X, Y = _data(300, seed=3)  # enough rows for several row blocks
    w = np.linspace(0.1, 2.0, 300)
    Xl, Yl, wl = make(X, tmp_path), make(Y, tmp_path), make(w, tmp_path)
    Xc, Yc, wc = (np.ascontiguousarray(a, dtype=dtype) for a in (X, Y, w))
    a, b = _net(dtype), _net(dtype)
    np.testing.assert_array_equal(a.forward(Xl), b.forward(Xc))
    _same_bits(a.predict(Xl, n_threads=2), b.predict(Xc, n_threads=2))
    _same_bits(a.loss(Xl, Yl, sample_weight=wl), b.loss(Xc, Yc, sample_weight=wc))
    Ja, ga = a.backward(Xl, Yl, sample_weight=wl)
    Jb, gb = b.backward(Xc, Yc, sample_weight=wc)
    assert Ja == Jb
    for (gWa, gba), (gWb, gbb) in zip(ga, gb):
        np.testing.assert_array_equal(gWa, gWb)
        np.testing.assert_array_equal(gba, gbb)
    a.fit(Xl, Yl, epochs=2, batch_size=16, sample_weight=wl, validation_data=(Xl, Yl))
    b.fit(Xc, Yc, epochs=2, batch_size=16, sample_weight=wc, validation_data=(Xc, Yc))
    np.testing.assert_array_equal(a.parameters, b.parameters)


def _at_offset(a: np.ndarray, offset: int) -> np.ndarray:
    """A C-ordered copy of ``a`` whose data starts ``offset`` bytes past a 64-byte boundary."""
    buf = np.empty(a.nbytes + 128, dtype=np.uint8)
    start = (-buf.ctypes.data) % 64 + offset
    out = buf[start : start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


SAME_BITS_CASES = [
    # (sizes, hidden activation, output activation, loss, rows)
    ([5, 7, 2], "tanh", "sigmoid", "mse", 300),
    ([5, 7, 3], "sigmoid", "softmax", "cross_entropy", 300),
    ([1, 1, 1, 2, 4], "identity", "identity", "mse", 1),  # tiny products, one row
    ([3, 9, 5], "relu", "tanh", "mse", 7),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", SAME_BITS_CASES, ids=[str(c[0]) for c in SAME_BITS_CASES])
def test_same_input_gives_the_same_bits_wherever_buffers_land(case: tuple, dtype: str) -> None:
    """The same X gives bitwise the same Ŷ, J and ∂J/∂θ call after call, wherever NumPy puts the
    input and the output. (The core promises bitwise results for any thread count; the address of
    a buffer must not matter either: Eigen's vector kernels start with a scalar head up to the first
    aligned address, and the scalar path rounds exp, tanh and multiply-adds differently.)"""
    sizes, hidden, output, loss, rows = case
    rng = np.random.default_rng(11)
    net = bpcore.Network(
        sizes,
        activation=hidden,
        output_activation=output,
        loss=loss,
        seed=2,
        init="xavier",
        dtype=dtype,
    )
    X = rng.normal(size=(rows, sizes[0])).astype(dtype)
    Y = rng.uniform(size=(rows, sizes[-1])).astype(dtype)
    ref_pred, ref_loss, ref_fwd = net.predict(X), net.loss(X, Y), net.forward(X)
    ref_J, ref_g = net.backward(X, Y)
    keep: list[np.ndarray] = []  # results and padding stay alive: every call gets fresh memory
    mismatches = []
    for i in range(64):
        keep.append(np.empty(int(rng.integers(1, 700)), dtype=np.uint8))
        Xi = _at_offset(X, (i * X.itemsize) % 64)
        keep += [Xi, net.predict(Xi)]
        if not np.array_equal(keep[-1], ref_pred):
            mismatches.append(f"predict, call {i}")
        if net.loss(Xi, Y) != ref_loss:
            mismatches.append(f"loss, call {i}")
        keep.append(net.forward(Xi))
        if not np.array_equal(keep[-1], ref_fwd):
            mismatches.append(f"forward, call {i}")
        J, g = net.backward(Xi, Y)
        if J != ref_J or not all(
            np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(g, ref_g)
        ):
            mismatches.append(f"backward, call {i}")
    assert not mismatches, (
        f"{net!r} on the {bpcore.simd} core: {mismatches[:6]} "
        f"({len(mismatches)} of 256 calls differ)"
    )


# ================================================================ 1c. the private core: C++ errors
def _core_net(loss: str = "mse") -> Any:
    return core.Network64([D, 4, Q], ["tanh", "sigmoid"], loss)


def _trained_epoch(**overrides: Any) -> Any:
    net = _core_net()
    opt = core.Optimizer64(core.OptimizerConfig(), net.n_params)
    X, Y = _data()
    args = dict(net=net, optimizer=opt, X=X, Y=Y, sample_weight=None, options=core.EpochOptions())
    args.update(overrides)
    return core.train_epoch64(**args)


X_OK, Y_OK = _data()
CORE_CALLS: dict[str, tuple[Callable[[], Any], type]] = {
    "Network64 no sizes": (lambda: core.Network64([], [], "mse"), ValueError),
    "Network64 one size": (lambda: core.Network64([3], [], "mse"), ValueError),
    "Network64 zero size": (lambda: core.Network64([3, 0], ["sigmoid"], "mse"), ValueError),
    "Network64 negative size": (lambda: core.Network64([3, -2], ["sigmoid"], "mse"), ValueError),
    "Network64 too many activations": (
        lambda: core.Network64([3, 2], ["tanh", "tanh"], "mse"),
        ValueError,
    ),
    "Network64 too few activations": (
        lambda: core.Network64([3, 4, 2], ["tanh"], "mse"),
        ValueError,
    ),
    "Network64 hidden softmax": (
        lambda: core.Network64([3, 4, 2], ["softmax", "softmax"], "cross_entropy"),
        ValueError,
    ),
    "Network64 unknown activation": (lambda: core.Network64([3, 2], ["swish"], "mse"), ValueError),
    "Network64 unknown loss": (lambda: core.Network64([3, 2], ["sigmoid"], "hinge"), ValueError),
    "Network64 softmax + mse": (lambda: core.Network64([3, 2], ["softmax"], "mse"), ValueError),
    "Network32 1-output softmax": (
        lambda: core.Network32([3, 1], ["softmax"], "cross_entropy"),
        ValueError,
    ),
    "forward wrong columns": (lambda: _core_net().forward(np.ones((2, D + 1))), ValueError),
    "forward 1-D": (lambda: _core_net().forward(np.ones(D)), ValueError),
    "forward 3-D": (lambda: _core_net().forward(np.ones((2, D, 1))), ValueError),
    "forward no rows": (lambda: _core_net().forward(np.ones((0, D))), ValueError),
    "forward float32 into Network64": (
        lambda: _core_net().forward(np.ones((2, D), np.float32)),
        TypeError,
    ),
    "forward Fortran": (lambda: _core_net().forward(np.asfortranarray(np.ones((4, D)))), TypeError),
    "forward list": (lambda: _core_net().forward([[1.0, 2.0, 3.0]]), TypeError),
    "predict wrong columns": (lambda: _core_net().predict(np.ones((2, 1))), ValueError),
    "backward Y rows": (lambda: _core_net().backward(X_OK, Y_OK[:-1]), ValueError),
    "backward Y columns": (lambda: _core_net().backward(X_OK, np.ones((N, Q + 1))), ValueError),
    "backward no rows": (
        lambda: _core_net().backward(np.ones((0, D)), np.ones((0, Q))),
        ValueError,
    ),
    "backward weight shape": (lambda: _core_net().backward(X_OK, Y_OK, np.ones(N + 1)), ValueError),
    "backward negative weight": (lambda: _core_net().backward(X_OK, Y_OK, -np.ones(N)), ValueError),
    "backward zero weights": (lambda: _core_net().backward(X_OK, Y_OK, np.zeros(N)), ValueError),
    "backward NaN weight": (
        lambda: _core_net().backward(X_OK, Y_OK, np.full(N, np.nan)),
        ValueError,
    ),
    "loss Y rows": (lambda: _core_net().loss(X_OK, Y_OK[:2]), ValueError),
    "loss weight 2-D": (lambda: _core_net().loss(X_OK, Y_OK, np.ones((N, 1))), ValueError),
    "loss inf weight": (lambda: _core_net().loss(X_OK, Y_OK, np.full(N, np.inf)), ValueError),
    "loss no rows": (lambda: _core_net().loss(np.ones((0, D)), np.ones((0, Q))), ValueError),
    "weight index too large": (lambda: _core_net().weight(2), IndexError),
    "weight index negative": (lambda: _core_net().weight(-1), IndexError),
    "bias index too large": (lambda: _core_net().bias(5), IndexError),
    "layout index too large": (lambda: _core_net().layout(2), IndexError),
    "cached_Z before forward": (lambda: _core_net().cached_Z(0), ValueError),
    "cached_H before forward": (lambda: _core_net().cached_H(0), ValueError),
    "cached_delta before backward": (lambda: _core_net().cached_delta(0), ValueError),
    "initialize unknown init": (lambda: _core_net().initialize("normal", 0, 0.1), ValueError),
    "initialize NaN scale": (
        lambda: _core_net().initialize("small_uniform", 0, float("nan")),
        ValueError,
    ),
    "initialize zero scale": (lambda: _core_net().initialize("small_uniform", 0, 0.0), ValueError),
    "initialize negative seed": (lambda: _core_net().initialize("he", -1, 0.1), TypeError),
    "OptimizerConfig unknown kind": (lambda: core.OptimizerConfig(kind="rmsprop"), ValueError),
    "OptimizerConfig lr 0": (lambda: core.OptimizerConfig(lr=0.0), ValueError),
    "OptimizerConfig lr NaN": (lambda: core.OptimizerConfig(lr=float("nan")), ValueError),
    "OptimizerConfig momentum 1": (lambda: core.OptimizerConfig(momentum=1.0), ValueError),
    "OptimizerConfig beta2 1": (lambda: core.OptimizerConfig(beta2=1.0), ValueError),
    "OptimizerConfig epsilon 0": (lambda: core.OptimizerConfig(epsilon=0.0), ValueError),
    "OptimizerConfig schedule": (lambda: core.OptimizerConfig(schedule="cosine"), ValueError),
    "OptimizerConfig step_size 0": (lambda: core.OptimizerConfig(step_size=0), ValueError),
    "OptimizerConfig gamma 2": (lambda: core.OptimizerConfig(gamma=2.0), ValueError),
    "Optimizer64 no parameters": (lambda: core.Optimizer64(core.OptimizerConfig(), 0), ValueError),
    "Optimizer64 negative size": (lambda: core.Optimizer64(core.OptimizerConfig(), -5), ValueError),
    "Optimizer step other network": (
        lambda: core.Optimizer64(core.OptimizerConfig(), 3).step(_core_net(), 0.1),
        ValueError,
    ),
    "Optimizer32 step Network64": (
        lambda: core.Optimizer32(core.OptimizerConfig(), 26).step(_core_net(), 0.1),
        TypeError,
    ),
    "train_epoch X columns": (lambda: _trained_epoch(X=np.ones((N, D + 2))), ValueError),
    "train_epoch Y rows": (lambda: _trained_epoch(Y=Y_OK[:3]), ValueError),
    "train_epoch no rows": (
        lambda: _trained_epoch(X=np.ones((0, D)), Y=np.ones((0, Q))),
        ValueError,
    ),
    "train_epoch weight shape": (lambda: _trained_epoch(sample_weight=np.ones(2)), ValueError),
    "train_epoch negative batch": (
        lambda: _trained_epoch(options=core.EpochOptions(batch_size=-1)),
        ValueError,
    ),
    "train_epoch negative epoch": (
        lambda: _trained_epoch(options=core.EpochOptions(epoch=-1)),
        ValueError,
    ),
    "train_epoch optimizer size": (
        lambda: _trained_epoch(optimizer=core.Optimizer64(core.OptimizerConfig(), 3)),
        ValueError,
    ),
    "train_epoch32 Network64": (
        lambda: core.train_epoch32(
            _core_net(),
            core.Optimizer32(core.OptimizerConfig(), 26),
            X_OK.astype(np.float32),
            Y_OK.astype(np.float32),
            None,
            core.EpochOptions(),
        ),
        TypeError,
    ),
    "activate unknown": (lambda: core.activate("swish", np.ones(3)), ValueError),
    "activate softmax 1-D": (lambda: core.activate("softmax", np.ones(3)), ValueError),
    "activate int array": (lambda: core.activate("relu", np.ones(3, dtype=np.int64)), TypeError),
    "derivative softmax": (lambda: core.derivative("softmax", np.ones((2, 3))), ValueError),
    "derivative unknown": (lambda: core.derivative("swish", np.ones(3)), ValueError),
    "first_nonfinite int": (lambda: core.first_nonfinite(np.ones(3, dtype=np.int32)), TypeError),
    "epoch_permutation negative n": (lambda: core.epoch_permutation(-1, 0, 0), ValueError),
    "epoch_permutation negative epoch": (lambda: core.epoch_permutation(5, 0, -1), ValueError),
    "epoch_permutation too large": (
        lambda: core.epoch_permutation(2**62, 0, 0),
        (ValueError, MemoryError),
    ),
}


@pytest.mark.parametrize("case", list(CORE_CALLS), ids=list(CORE_CALLS))
def test_bad_core_call_raises_a_python_exception(case: str) -> None:
    """Every C++ exception of the private core reaches Python as an exception, never a crash."""
    call, exc = CORE_CALLS[case]
    with pytest.raises(exc):
        call()


def test_core_bad_call_leaves_the_network_usable() -> None:
    net = _core_net()
    net.forward(X_OK)
    expected = net.cached_H(1)
    with pytest.raises(ValueError):
        net.forward(np.ones((2, D + 1)))
    with pytest.raises(ValueError):
        net.backward(X_OK, Y_OK, -np.ones(N))
    np.testing.assert_array_equal(net.cached_H(1), expected)  # the cache of the last good call


# ================================================================ 2. lifetime of the weight views
def test_views_have_the_network_as_base() -> None:
    net = _net(activation="prelu")
    for view in (net.weights[0], net.biases[1], net.parameters, net.gradient, net.alphas[1]):
        base = view
        while isinstance(base, np.ndarray):
            base = base.base
        assert base is net or base is net._net, type(base)


def test_views_outlive_their_network() -> None:
    """A view kept after ``del net`` still reads and writes the (kept alive) parameters."""
    _assert_clean_exit(
        _run_python("""
        import gc, numpy as np, bpcore
        net = bpcore.Network([3, 4, 2], activation="prelu", output_activation="sigmoid", seed=1)
        X, Y = np.ones((5, 3)), np.zeros((5, 2))
        net.backward(X, Y)
        W, b, theta, g, alpha = (net.weights[0], net.biases[1], net.parameters, net.gradient,
                                 net.alphas[1])
        saved = [a.copy() for a in (W, b, theta, g, alpha)]
        del net
        gc.collect()
        junk = [np.full(64, float(i)) for i in range(5000)]  # reuse freed memory, if any was freed
        for a, s in zip((W, b, theta, g, alpha), saved):
            assert np.array_equal(a, s), (a, s)
        W[...] = 7.0
        alpha[...] = 0.5
        assert (theta[:12] == 7.0).all() and theta[16] == 0.5, theta
        del W, b, g, alpha, junk
        gc.collect()
        assert theta[0] == 7.0
        theta[...] = -1.0
        print("DONE", float(theta.sum()))
    """)
    )


def test_network_is_collected_once_its_views_are_gone() -> None:
    """No reference cycle keeps the core network alive after the last view dies."""
    import weakref

    net = _net()
    W = net.weights[0]
    ref = weakref.ref(net)
    del net
    gc.collect()
    assert ref() is None  # the Python Network goes; the core object stays with W
    W[...] = 1.0
    assert W.sum() == W.size
    base = W.base
    while isinstance(base, np.ndarray):
        base = base.base
    assert base is not None
    core_ref = weakref.ref(base)
    del W, base
    gc.collect()
    assert core_ref() is None  # and the core network goes with the last view


def test_reinitialize_updates_existing_views_in_place() -> None:
    net = _net(activation="prelu")
    W, b, theta, alpha = net.weights[0], net.biases[0], net.parameters, net.alphas[1]
    first = theta.copy()
    alpha[...] = 0.9
    net.reinitialize(seed=99, init="xavier")
    assert not np.array_equal(theta, first)
    np.testing.assert_array_equal(W, net.weights[0])
    np.testing.assert_array_equal(b, net.biases[0])
    np.testing.assert_array_equal(theta, net.parameters)
    assert float(alpha) == 0.25  # α^[l] back to its initial value, seen through the old view
    assert np.all(b == 0)  # xavier: biases 0
    net.reinitialize(seed=7, init="small_uniform")
    np.testing.assert_array_equal(theta, first)  # same seed, same parameters, same memory
    assert np.shares_memory(W, net.parameters)


def test_copies_and_pickles_are_independent() -> None:
    net = _net()
    dup = net.copy()
    back = pickle.loads(pickle.dumps(net))
    net.weights[0][...] = 5.0
    assert not np.any(dup.weights[0] == 5.0)
    assert not np.any(back.weights[0] == 5.0)
    assert not np.shares_memory(dup.parameters, net.parameters)


# ================================================================ 3. concurrency
def _big_case(seed: int = 0) -> tuple[bpcore.Network, list[np.ndarray], np.ndarray]:
    net = bpcore.Network([8, 32, 16, 4], activation="tanh", output_activation="identity", seed=seed)
    rng = np.random.default_rng(seed)
    # 1500 rows x 832 multiply-adds per row: above the core's threshold for OpenMP in each call
    Xs = [rng.normal(size=(1500, 8)) for _ in range(4)]
    return net, Xs, rng.normal(size=(1500, 4))


def test_forward_and_predict_from_many_threads_match_serial_results() -> None:
    net, Xs, Y = _big_case()
    serial_fwd = [net.forward(X) for X in Xs]
    serial_pred = [net.predict(X) for X in Xs]
    serial_loss = [net.loss(X, Y) for X in Xs]
    serial_back = [net.backward(X, Y) for X in Xs]
    errors: list[str] = []
    start = threading.Barrier(4)

    def work(k: int) -> None:
        start.wait()
        for it in range(25):
            i = (k + it) % len(Xs)
            X = Xs[i]
            if not np.array_equal(net.forward(X, n_threads=2), serial_fwd[i]):
                errors.append(f"forward thread {k} iteration {it}")
            if not np.array_equal(net.predict(X, n_threads=1 + it % 2), serial_pred[i]):
                errors.append(f"predict thread {k} iteration {it}")
            if net.loss(X, Y) != serial_loss[i]:
                errors.append(f"loss thread {k} iteration {it}")
            J, grads = net.backward(X, Y)
            if J != serial_back[i][0] or not all(
                np.array_equal(g[0], s[0]) and np.array_equal(g[1], s[1])
                for g, s in zip(grads, serial_back[i][1])
            ):
                errors.append(f"backward thread {k} iteration {it}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors[:5]


class _Gate:
    """A callback that parks ``fit`` after its first epoch until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, net: bpcore.Network, epoch: int, logs: dict) -> bool:
        self.entered.set()
        self.release.wait(60)
        return False


def test_second_fit_from_another_thread_raises() -> None:
    net = _net()
    X, Y = _data(40)
    gate = _Gate()
    result: dict[str, Any] = {}
    t = threading.Thread(
        target=lambda: result.setdefault("hist", net.fit(X, Y, epochs=2, callbacks=[gate]))
    )
    t.start()
    try:
        assert gate.entered.wait(60)
        with pytest.raises(RuntimeError, match="already"):
            net.fit(X, Y, epochs=1)
    finally:
        gate.release.set()
        t.join(60)
    assert result["hist"].epochs == 2
    net.fit(X, Y, epochs=1)  # free again afterwards


def test_fit_from_inside_a_fit_callback_raises() -> None:
    """A callback that calls fit() on the network being trained gets a RuntimeError too."""
    net = _net()
    X, Y = _data(20)
    seen: list[BaseException] = []

    def nested(n: bpcore.Network, epoch: int, logs: dict) -> bool:
        try:
            n.fit(X, Y, epochs=1)
        except RuntimeError as exc:
            seen.append(exc)
        return True

    net.fit(X, Y, epochs=3, callbacks=[nested])
    assert len(seen) == 1 and "already" in str(seen[0])


def test_reinitialize_from_a_fit_callback_is_refused_clearly() -> None:
    """reinitialize() during fit() (here from a callback) raises a RuntimeError that says why,
    rather than breaking fit's bookkeeping (a KeyError from inside fit)."""
    net = _net()
    X, Y = _data(20)

    def restart(n: bpcore.Network, epoch: int, logs: dict) -> bool:
        n.reinitialize(seed=5)
        return False

    with pytest.raises(RuntimeError, match="fit"):
        net.fit(X, Y, epochs=3, callbacks=[restart])
    net.fit(X, Y, epochs=1)


def test_fit_is_not_refused_because_another_thread_runs_forward() -> None:
    """``fit`` refuses only a second *fit*; a forward pass running in another thread just makes it
    wait, it must not be reported as "fit() is already running"."""
    net = bpcore.Network([50, 400, 50], seed=0)
    X = np.random.default_rng(0).normal(size=(3000, 50))
    stop, running = threading.Event(), threading.Event()

    def forward_loop() -> None:
        while not stop.is_set():
            net.forward(X)
            running.set()

    t = threading.Thread(target=forward_loop)
    t.start()
    refused = 0
    try:
        assert running.wait(60)
        attempts = 0
        deadline = time.perf_counter() + 1.0
        while time.perf_counter() < deadline:
            attempts += 1
            try:
                net.fit(X[:10], X[:10], epochs=1, batch_size=None)
            except RuntimeError:
                refused += 1
    finally:
        stop.set()
        t.join(60)
    assert refused == 0, f"fit was refused {refused} of {attempts} times though no fit was running"


def _child_work(net: bpcore.Network, X: np.ndarray, Y: np.ndarray, conn: Any) -> None:
    Y_hat = net.predict(X, n_threads=2)
    net.forward(X, n_threads=2)
    net.fit(X, Y, epochs=1, batch_size=None, shuffle=False, n_threads=2)
    conn.send((Y_hat, net.parameters.copy()))
    conn.close()


def _pool_predict(X: np.ndarray) -> np.ndarray:
    return _FORK_NET.predict(X, n_threads=2)


_FORK_NET: bpcore.Network | None = None


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="the platform has no fork()"
)
def test_forked_child_after_training_does_not_hang() -> None:
    """Training starts OpenMP threads in the parent; a forked child (multiprocessing "fork",
    as joblib and Dask may use) must still run bpcore, on one thread, with the same results."""
    global _FORK_NET
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 8))
    net = bpcore.Network([16, 64, 8], activation="tanh", output_activation="identity", seed=3)
    net.fit(X, Y, epochs=2, batch_size=None, n_threads=2)  # OpenMP's pool now exists here
    expected = net.predict(X, n_threads=2)
    twin = net.copy()
    twin.fit(X, Y, epochs=1, batch_size=None, shuffle=False, n_threads=2)

    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_work, args=(net, X, Y, send))
    child.start()
    send.close()
    try:
        assert receive.poll(90), "the forked child did not answer within 90 s (hung?)"
        Y_hat, params = receive.recv()
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    np.testing.assert_array_equal(Y_hat, expected)
    np.testing.assert_array_equal(params, twin.parameters)

    _FORK_NET = net
    try:
        with ctx.Pool(2) as pool:
            parts = pool.map_async(_pool_predict, np.array_split(X, 4)).get(timeout=90)
    finally:
        _FORK_NET = None
    np.testing.assert_array_equal(np.vstack(parts), expected)


# ================================================================ faults during training
def test_exception_in_a_callback_propagates_and_keeps_finished_epochs() -> None:
    X, Y = _data(30)
    net, twin = _net(), _net()

    def boom(n: bpcore.Network, epoch: int, logs: dict) -> bool:
        if epoch == 3:
            raise ZeroDivisionError("callback failed")
        return False

    with pytest.raises(ZeroDivisionError):
        net.fit(X, Y, epochs=6, batch_size=4, callbacks=[boom])
    twin.fit(X, Y, epochs=3, batch_size=4)
    np.testing.assert_array_equal(net.parameters, twin.parameters)  # epoch 3 finished before
    net.fit(X, Y, epochs=1)  # and the network is free


def test_divergence_keeps_the_last_finite_weights() -> None:
    X, Y = _data(30)
    X, Y = X * 10, Y * 10
    net = bpcore.Network([D, 8, Q], activation="relu", output_activation="identity", seed=0)
    twin = net.copy()
    with pytest.raises(bpcore.TrainingDivergedError) as info:
        net.fit(X, Y, epochs=200, batch_size=None, lr=0.5)
    epoch = info.value.epoch
    assert epoch >= 2
    assert len(info.value.history.loss) == epoch - 1
    assert np.isfinite(net.parameters).all()
    twin.fit(X, Y, epochs=epoch - 1, batch_size=None, lr=0.5)
    np.testing.assert_array_equal(net.parameters, twin.parameters)
    net.reinitialize()
    net.fit(X / 10, Y / 10, epochs=1)  # free again


def test_keyboard_interrupt_during_fit_leaves_a_usable_network() -> None:
    """Ctrl-C in the middle of training: fit stops (stop_reason "interrupted", or the
    KeyboardInterrupt propagates if it lands between epochs), the weights are finite and those of
    a finished epoch, and the network can be trained again."""
    import _thread

    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(4000, D)), rng.uniform(size=(4000, Q))
    net = _net()
    finished: list[int] = [0]

    def record(n: bpcore.Network, epoch: int, logs: dict) -> bool:
        finished.append(epoch)
        return False

    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    t0 = time.perf_counter()
    try:
        hist = net.fit(X, Y, epochs=10_000, batch_size=1, callbacks=[record])
        assert hist.stop_reason == "interrupted"
    except KeyboardInterrupt:
        pass
    finally:
        timer.cancel()
    assert time.perf_counter() - t0 < 60
    assert np.isfinite(net.parameters).all()
    # the weights are those after the last finished epoch (the one the callback saw, or the next
    # one when the interrupt landed in the callback itself)
    matches = []
    for epochs in (finished[-1], finished[-1] + 1):
        twin = _net()
        if epochs:
            twin.fit(X, Y, epochs=epochs, batch_size=1)
        matches.append(np.array_equal(net.parameters, twin.parameters))
    assert any(matches), f"after {finished[-1]} epochs: weights of no finished epoch"
    net.fit(X[:50], Y[:50], epochs=1)


# ================================================================ estimators, config, CLI, load
BAD_ESTIMATOR_PARAMS = [
    (dict(hidden_layer_sizes=0), ValueError),
    (dict(hidden_layer_sizes=(5, -1)), ValueError),
    (dict(hidden_layer_sizes="10"), TypeError),
    (dict(activation="swish"), ValueError),
    (dict(solver="rmsprop"), ValueError),
    (dict(learning_rate_init=0.0), ValueError),
    (dict(batch_size=0), ValueError),
    (dict(max_iter=0), ValueError),
    (dict(momentum=1.5), ValueError),
    (dict(alpha=-1.0), ValueError),
    (dict(dtype="int32"), ValueError),
    (dict(n_threads=0), ValueError),
]


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")  # max_iter=2 does not converge
@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize(
    "params, exc", BAD_ESTIMATOR_PARAMS, ids=[repr(p) for p, _ in BAD_ESTIMATOR_PARAMS]
)
def test_bad_estimator_parameters(kind: str, params: dict, exc: type) -> None:
    X, Y = _data(20)
    y = (Y[:, 0] > 0.5).astype(int) if kind == "MLPClassifier" else Y[:, 0]
    est = getattr(bpcore, kind)(**{"max_iter": 2, "random_state": 0, **params})
    with pytest.raises(exc) as info:
        est.fit(X, y)
    assert next(iter(params)) in str(info.value)


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("bad", ["NaN", "inf", "complex", "3-D", "no samples", "strings"])
def test_bad_estimator_data(kind: str, bad: str) -> None:
    X, Y = _data(20)
    y = (Y[:, 0] > 0.5).astype(int) if kind == "MLPClassifier" else Y[:, 0]
    Xb = {
        "NaN": _with(X, (1, 1), np.nan),
        "inf": _with(X, (2, 2), np.inf),
        "complex": X + 1j,
        "3-D": X.reshape(20, D, 1),
        "no samples": X[:0],
        "strings": np.full(X.shape, "abc", dtype=object),
    }[bad]
    yb = y[:0] if bad == "no samples" else y
    est = getattr(bpcore, kind)(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with pytest.raises((ValueError, TypeError)):
        est.fit(Xb, yb)
    est.fit(X, y)
    with pytest.raises(ValueError):
        est.predict(X[:, :2])  # wrong number of features after fit


BAD_CONFIGS = [
    ({"network": {"hidden": [0]}}, "network.hidden[0]"),
    ({"network": {"hidden": "5"}}, "network.hidden"),
    ({"network": {"activation": "swish"}}, "network.activation"),
    ({"network": {"loss": "hinge"}}, "network.loss"),
    ({"network": {"output_activation": "softmax", "loss": "mse"}}, "network.output_activation"),
    ({"training": {"lr": 0}}, "training.lr"),
    ({"training": {"lr": "fast"}}, "training.lr"),
    ({"training": {"batch_size": 0}}, "training.batch_size"),
    ({"training": {"epochs": 0}}, "training.epochs"),
    ({"training": {"n_threads": 0}}, "training.n_threads"),
    ({"training": {"optimizer": "rmsprop"}}, "training.optimizer"),
    ({"training": {"shuffle": "no"}}, "training.shuffle"),
    ({"training": {"learning_rate": 0.1}}, "learning_rate"),
    ({"data": {"source": "data.xlsx"}}, "data.source"),
    ({"data": {"validation_fraction": 1.0}}, "data.validation_fraction"),
    ({"output": {"model": "../model.safetensors"}}, "output"),
    ({"networks": {}}, "networks"),
    ({"network": 5}, "network"),
]


@pytest.mark.parametrize("data, words", BAD_CONFIGS, ids=[repr(d)[:60] for d, _ in BAD_CONFIGS])
def test_bad_config_values(data: dict, words: str) -> None:
    from bpcore.config import Config, ConfigError

    with pytest.raises(ConfigError) as info:
        Config.from_dict(data)
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_files_for_load_and_load_config(tmp_path: Any) -> None:
    from bpcore.config import ConfigError
    from bpcore.io import ModelFileError

    with pytest.raises(FileNotFoundError):
        bpcore.load(tmp_path / "missing.safetensors")
    with pytest.raises(FileNotFoundError):
        bpcore.load_config(tmp_path / "missing.toml")
    with pytest.raises((IsADirectoryError, ModelFileError, PermissionError)):
        bpcore.load(tmp_path)
    text = tmp_path / "model.safetensors"
    text.write_text("[network]\nhidden = [3]\n")
    with pytest.raises(ModelFileError):
        bpcore.load(text)
    binary = tmp_path / "config.toml"
    binary.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError):
        bpcore.load_config(binary)
    with pytest.raises(TypeError):
        bpcore.load_config(42)


def test_cli_reports_bad_input_in_one_line(tmp_path: Any, capsys: Any) -> None:
    from bpcore.cli import main

    assert main(["no-such-command"]) == 2
    assert main(["train", "--set", "training.lr=-1", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "training.lr" in err and "Traceback" not in err
    assert main(["predict", str(tmp_path / "missing.safetensors"), "iris"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "--set", "network.hidden=[0]", "--out", str(tmp_path / "o")]) == 1
    assert "network.hidden" in capsys.readouterr().err


def test_cli_huge_hidden_layer_fails_cleanly(tmp_path: Any) -> None:
    """``bpcore train --set network.hidden=[2**62]`` ends with exit status 1 and a message."""
    out = tmp_path / "o"
    proc = _run_python(
        f"""
        import sys
        from bpcore.cli import main
        code = main(["train", "-q", "--set", "network.hidden=[{2**62}]", "--set",
                     "training.epochs=1", "--out", {str(out)!r}])
        print("DONE", code)
        sys.exit(0 if code == 1 else 3)
    """,
        timeout=60,
    )
    _assert_clean_exit(proc)
    assert "error" in proc.stderr


def test_the_loader_asks_the_cpu_the_same_as_the_core_and_loads_one_build() -> None:
    # bpcore._cpu answers before any build is loaded; its answer is the core's own check
    from bpcore import _cpu

    for feature in ("avx2", "avx512", "sse9"):
        assert _cpu.supports(feature) is core.cpu_supports(feature)
    with pytest.raises(TypeError, match="feature must be a str"):
        _cpu.supports(3)  # type: ignore[arg-type]
    import importlib.util

    best = next(
        (
            f"bpcore._core_{v}"
            for v in ("avx512", "avx2")
            if _cpu.supports(v) and importlib.util.find_spec(f"bpcore._core_{v}") is not None
        ),
        "bpcore._core",
    )
    code = (
        "import sys, bpcore; print(sorted(m for m in sys.modules if m.startswith('bpcore._core')))"
    )
    for simd, expected in (("", best), ("baseline", "bpcore._core")):
        env = {k: v for k, v in os.environ.items() if k != "BPCORE_SIMD"}
        if simd:
            env["BPCORE_SIMD"] = simd
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == repr([expected]), (simd, out.stdout)


@pytest.mark.parametrize(
    "user, during",
    [
        ({}, {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "1000"}),
        ({"OMP_WAIT_POLICY": "ACTIVE"}, {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": None}),
        ({"GOMP_SPINCOUNT": "5"}, {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "5"}),
    ],
)
def test_the_core_loads_with_a_short_spin_unless_the_user_chose(
    monkeypatch: pytest.MonkeyPatch, user: dict, during: dict
) -> None:
    # OpenMP reads its wait policy when the core loads: a short spin, then sleep, unless the
    # user set either variable; afterwards the environment is the user's again
    from bpcore import _loader

    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in user.items():
        monkeypatch.setenv(name, value)
    seen: dict = {}

    def pick() -> Any:
        seen.update({name: os.environ.get(name) for name in during})
        return core

    monkeypatch.setattr(_loader, "_pick_core", pick)
    assert _loader.load_core() is core
    assert seen == during
    assert {name: os.environ.get(name) for name in during} == {
        name: user.get(name) for name in during
    }
