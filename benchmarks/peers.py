"""The peers' runs of the workloads: a NumPy per-sample loop of the notes' formulas, scikit-learn's
MLPRegressor/MLPClassifier, PyTorch, FANN (through ``fann_shim.c``), JAX (the whole loop in one
jit, ``jax_peer.py``) and the fixed-size C++ loop (``fixed_loop.cpp``), each written the way a user
of that library would write it.

Every peer is optional: :func:`available` says which are installed, and nothing here is imported
by bpcore. The PyTorch and NumPy runs start from bpcore's initial parameters ``init`` (a list of
(W^[l], b^[l]), W^[l] of shape (n_{l-1}, n_l); a torch ``Linear`` stores its transpose) and visit
the rows in bpcore's order ``orders[e]`` of each epoch e. scikit-learn cannot be given initial
parameters or an order; it uses its own (``random_state=0``) and is compared on speed only.
FANN starts from bpcore's initial parameters and shuffles with its own ``fann_shuffle_train_data``
(the timed run); JAX draws its own order inside the jit. Both are also run once from bpcore's start
in bpcore's order, for the checks.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import subprocess
import time
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from workloads import Contender, Trial, accuracy

__all__ = [
    "PEERS",
    "available",
    "peer_versions",
    "threads",
    "numpy_w1",
    "sklearn_w1",
    "sklearn_w2",
    "sklearn_w3",
    "torch_w1",
    "torch_w2",
    "torch_w3",
    "torch_w4",
    "torch_model",
    "fann",
    "fann_run",
    "fixed_loop",
    "fixed_w1",
    "jax_contenders",
    "unavailable_reason",
]

NUMPY = "NumPy loop"
SKLEARN = "scikit-learn"
TORCH = "PyTorch"
FANN = "FANN"
JAX = "JAX"
FIXED = "fixed-size C++ loop"
PEERS = (NUMPY, SKLEARN, TORCH, FANN, JAX, FIXED)
# The short names of --peers.
KEYS = {
    "numpy": NUMPY,
    "sklearn": SKLEARN,
    "torch": TORCH,
    "fann": FANN,
    "jax": JAX,
    "fixed": FIXED,
}
_MODULE = {NUMPY: "numpy", SKLEARN: "sklearn.neural_network", TORCH: "torch"}
_AVAILABLE: dict[str, bool] = {}
_WHY: dict[str, str] = {}
_NATIVE: dict[str, Any] = {}


def _native(peer: str) -> Any:
    """The loaded FANN shim or fixed loop (compiled on first use, cached on disk)."""
    if peer not in _NATIVE:
        import native

        _NATIVE[peer] = native.Fann() if peer == FANN else native.FixedLoop()
    return _NATIVE[peer]


def available(peer: str) -> bool:
    """Whether the peer can run here: its library imports (the import is done once, here, and kept),
    its native code compiles (FANN, the fixed loop), or it is installed (JAX, which runs in child
    processes and is never imported by this one)."""
    if peer not in _AVAILABLE:
        ok, why = True, ""
        if peer in _MODULE:
            try:
                importlib.import_module(_MODULE[peer])
            except ImportError:
                ok, why = False, "is not installed"
        elif peer == JAX:
            if (
                importlib.util.find_spec("jax") is None
                or importlib.util.find_spec("jaxlib") is None
            ):
                ok, why = False, "is not installed (pip install jax jaxlib)"
        else:
            from native import NativeUnavailable

            try:
                _native(peer)
            except NativeUnavailable as exc:
                ok, why = False, f"cannot be built: {exc}"
        _AVAILABLE[peer], _WHY[peer] = ok, why
    return _AVAILABLE[peer]


def unavailable_reason(peer: str) -> str:
    """Why :func:`available` said no, as a phrase after the peer's name."""
    available(peer)
    return _WHY.get(peer, "")


def _first_line(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


def peer_versions() -> dict[str, str | None]:
    import os
    from importlib import metadata

    out: dict[str, str | None] = {}
    for peer in PEERS:
        out[peer] = None
        if not available(peer):
            continue
        if peer in _MODULE:
            out[peer] = importlib.import_module(_MODULE[peer].split(".")[0]).__version__
        elif peer == JAX:
            out[peer] = f"{metadata.version('jax')} (jaxlib {metadata.version('jaxlib')})"
        elif peer == FANN:
            out[peer] = (
                _first_line(["dpkg-query", "-W", "-f=${Version}", "libfann-dev"]) or "libdoublefann"
            )
        else:
            out[peer] = _first_line([os.environ.get("CXX", "c++"), "--version"])
    return out


@contextlib.contextmanager
def threads(framework: str, n: int | None) -> Iterator[None]:
    """Run a peer at ``n`` threads: ``torch.set_num_threads`` for PyTorch, threadpoolctl's limit of
    the BLAS libraries for NumPy and scikit-learn. The previous setting is restored on exit (bpcore
    shares libgomp with PyTorch, so a leaked torch setting would change bpcore's default)."""
    if n is None or framework == "bpcore" or framework in (FANN, JAX, FIXED):
        # FANN and the fixed loop are single-threaded C; a JAX worker has its thread count fixed.
        yield
    elif framework == TORCH:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)
    else:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # cannot limit: the BLAS runs at its own default
            yield
            return
        with threadpool_limits(limits=n, user_api="blas"):
            yield


# ------------------------------------------------------------------------------------------ NumPy
def numpy_w1(
    X: np.ndarray, Y: np.ndarray, y: np.ndarray, init: list, orders: list, n_threads: int
) -> Contender:
    """The notes' BP rule, one sample at a time, in NumPy (4-5-3, sigmoid, J = ½Σe², α = 0.5)."""
    epochs = len(orders)
    alpha = 0.5

    def run(warm: bool) -> Trial:
        (W1, b1), (W2, b2) = [(W.copy(), b.copy()) for W, b in init]
        order_lists = [o.tolist() for o in orders[: 2 if warm else epochs]]
        t0 = time.perf_counter()
        for order in order_lists:
            for i in order:
                H0 = X[i]
                H1 = 1.0 / (1.0 + np.exp(-(H0 @ W1 + b1)))  # H^[1] = f(Z^[1])
                H2 = 1.0 / (1.0 + np.exp(-(H1 @ W2 + b2)))  # Ŷ = H^[2]
                delta2 = (Y[i] - H2) * H2 * (1.0 - H2)  # δ^[2] = E ⊙ f′(Z^[2])
                delta1 = (W2 @ delta2) * H1 * (1.0 - H1)  # δ^[1] = (δ^[2] W^[2]ᵀ) ⊙ f′(Z^[1])
                W2 += alpha * np.outer(H1, delta2)  # W ← W + α Hᵀ δ
                b2 += alpha * delta2
                W1 += alpha * np.outer(H0, delta1)
                b1 += alpha * delta1
        dt = time.perf_counter() - t0
        H1 = 1.0 / (1.0 + np.exp(-(X @ W1 + b1)))
        Y_hat = 1.0 / (1.0 + np.exp(-(H1 @ W2 + b2)))
        return Trial(dt, {"accuracy": accuracy(Y_hat, y)}, [(W1, b1), (W2, b2)])

    return Contender(NUMPY, n_threads, run)


# ----------------------------------------------------------------------------------- scikit-learn
def _sklearn_fit(model: Any, X: np.ndarray, target: np.ndarray) -> float:
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        model.fit(X, target)
        return time.perf_counter() - t0


def _sgd_options(epochs: int, batch_size: int, lr: float, momentum: float) -> dict:
    # tol=0 and n_iter_no_change > epochs: run every epoch, as the other frameworks do.
    return dict(
        solver="sgd",
        batch_size=batch_size,
        learning_rate="constant",
        learning_rate_init=lr,
        momentum=momentum,
        nesterovs_momentum=False,
        alpha=0.0,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        shuffle=True,
        random_state=0,
    )


def sklearn_w1(
    X: np.ndarray, Y: np.ndarray, y: np.ndarray, epochs: int, n_threads: int
) -> Contender:
    """``MLPRegressor(activation="logistic", solver="sgd", batch_size=1)``: the nearest scikit-learn
    has to the notes' network (its output is linear, its loss the mean over outputs)."""
    from sklearn.neural_network import MLPRegressor

    def run(warm: bool) -> Trial:
        n_ep = 2 if warm else epochs
        model = MLPRegressor(
            hidden_layer_sizes=(5,), activation="logistic", **_sgd_options(n_ep, 1, 0.5, 0.0)
        )
        dt = _sklearn_fit(model, X, Y)
        return Trial(dt, {"accuracy": accuracy(model.predict(X), y), "epochs_run": model.n_iter_})

    return Contender(SKLEARN, n_threads, run)


def sklearn_w2(X: np.ndarray, y: np.ndarray, epochs: int, n_threads: int) -> Contender:
    from sklearn.neural_network import MLPClassifier

    def run(warm: bool) -> Trial:
        n_ep = 1 if warm else epochs
        model = MLPClassifier(
            hidden_layer_sizes=(64,), activation="relu", **_sgd_options(n_ep, 32, 0.05, 0.9)
        )
        dt = _sklearn_fit(model, X, y)
        return Trial(dt, {"accuracy": float(model.score(X, y)), "epochs_run": model.n_iter_})

    return Contender(SKLEARN, n_threads, run)


def sklearn_w3(X: np.ndarray, y: np.ndarray, n_threads: int) -> Contender:
    from sklearn.neural_network import MLPClassifier

    warm_rows = min(4096, max(X.shape[0] // 4, 512))

    def run(warm: bool) -> Trial:
        model = MLPClassifier(
            hidden_layer_sizes=(256, 128), activation="relu", **_sgd_options(1, 128, 0.05, 0.0)
        )
        Xr, yr = (X[:warm_rows], y[:warm_rows]) if warm else (X, y)
        dt = _sklearn_fit(model, Xr, yr)
        return Trial(dt, {} if warm else {"loss": float(model.loss_)})

    return Contender(SKLEARN, n_threads, run)


# ---------------------------------------------------------------------------------------- PyTorch
def torch_model(init: list, activation: str, output: str | None, dtype: Any) -> Any:
    """``nn.Sequential`` of Linear layers with bpcore's parameters ``init`` (W^[l] transposed into
    ``Linear.weight``), ``activation`` between them and ``output`` (or nothing) after the last."""
    import torch
    from torch import nn

    act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}
    layers: list[Any] = []
    for k, (W, b) in enumerate(init):
        lin = nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        last = k == len(init) - 1
        if not last:
            layers.append(act[activation]())
        elif output is not None:
            layers.append(act[output]())
    return nn.Sequential(*layers)


def torch_w1(
    X: np.ndarray, Y: np.ndarray, y: np.ndarray, init: list, orders: list, n_threads: int
) -> Contender:
    """Online SGD in a Python loop over the shuffled rows, J = ½Σe² of the sample, lr 0.5."""
    import torch

    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    epochs = len(orders)

    def run(warm: bool) -> Trial:
        model = torch_model(init, "sigmoid", "sigmoid", torch.float64)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        order_lists = [o.tolist() for o in orders[: 2 if warm else epochs]]
        t0 = time.perf_counter()
        for order in order_lists:
            for i in order:
                opt.zero_grad()
                loss = 0.5 * ((model(Xt[i : i + 1]) - Yt[i : i + 1]) ** 2).sum()
                loss.backward()
                opt.step()
        dt = time.perf_counter() - t0
        with torch.no_grad():
            Y_hat = model(Xt).numpy()
        return Trial(dt, {"accuracy": accuracy(Y_hat, y)})

    return Contender(TORCH, n_threads, run)


def _torch_train(model: Any, opt: Any, Xt: Any, yt: Any, orders: list, batch_size: int) -> float:
    import torch.nn.functional as F

    t0 = time.perf_counter()
    for order in orders:
        for start in range(0, order.shape[0], batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def torch_w2(X: np.ndarray, y: np.ndarray, init: list, orders: list, n_threads: int) -> Contender:
    """Mini-batches of 32 in bpcore's order, softmax + cross-entropy, SGD momentum 0.9, lr 0.05."""
    import torch

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    orders_t = [torch.from_numpy(o) for o in orders]

    def run(warm: bool) -> Trial:
        model = torch_model(init, "relu", None, torch.float32)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        dt = _torch_train(model, opt, Xt, yt, orders_t[:1] if warm else orders_t, 32)
        with torch.no_grad():
            scores = model(Xt).numpy()
        return Trial(dt, {"accuracy": accuracy(scores, y)})

    return Contender(TORCH, n_threads, run)


def torch_w3(
    X: np.ndarray, y: np.ndarray, init: list, order: np.ndarray, n_threads: int
) -> Contender:
    """One epoch of mini-batches of 128 in bpcore's order, plain SGD lr 0.05."""
    import torch
    import torch.nn.functional as F

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    warm_rows = min(4096, max(X.shape[0] // 4, 512))
    full = torch.from_numpy(order)
    warm_order = torch.from_numpy(order[order < warm_rows])

    def run(warm: bool) -> Trial:
        model = torch_model(init, "relu", None, torch.float32)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        dt = _torch_train(model, opt, Xt, yt, [warm_order if warm else full], 128)
        info = {}
        if not warm:
            with torch.no_grad():
                logits = model(Xt)
                info = {
                    "loss": float(F.cross_entropy(logits, yt)),
                    "accuracy": accuracy(logits.numpy(), y),
                }
        return Trial(dt, info)

    return Contender(TORCH, n_threads, run)


def torch_w4(X: np.ndarray, params: list, n_threads: int) -> Contender:
    """Inference of all rows at once with the given (trained) parameters: softmax(model(X))."""
    import torch

    Xt = torch.from_numpy(X)
    model = torch_model(params, "relu", None, torch.float32).eval()

    def run(warm: bool) -> Trial:
        Xr = Xt[:4096] if warm else Xt
        t0 = time.perf_counter()
        with torch.inference_mode():
            Y_hat = torch.softmax(model(Xr), dim=1)
        return Trial(time.perf_counter() - t0, {}, Y_hat.numpy())

    return Contender(TORCH, n_threads, run)


# ------------------------------------------------------------------------------------------- FANN
def fann() -> Any:
    """The loaded FANN shim (``native.Fann``)."""
    return _native(FANN)


def fann_run(
    sizes: Any,
    X: np.ndarray,
    Y: np.ndarray,
    y: np.ndarray,
    init: list,
    epochs: int,
    lr: float = 0.5,
    warm_epochs: int = 2,
) -> Contender:
    """FANN's online BP as its users write it: ``fann_shuffle_train_data`` then
    ``fann_train_epoch`` (FANN_TRAIN_INCREMENTAL) for each epoch, timed in C, from bpcore's
    initial parameters ``init``. Single-threaded."""

    def run(warm: bool) -> Trial:
        dt, params, outputs = fann().train(
            sizes, X, Y, lr, warm_epochs if warm else epochs, init=init, seed=0
        )
        return Trial(dt, {"accuracy": accuracy(outputs, y)}, params)

    return Contender(FANN, 1, run)


# ------------------------------------------------------------------------------ fixed-size loop
def fixed_loop() -> Any:
    """The loaded fixed-size loop (``native.FixedLoop``)."""
    return _native(FIXED)


def fixed_w1(X: np.ndarray, Y: np.ndarray, y: np.ndarray, init: list, orders: list) -> Contender:
    """W1 by the fixed-size C++ loop, from bpcore's start in bpcore's order, timed in C++."""

    def run(warm: bool) -> Trial:
        dt, params = fixed_loop().train(X, Y, init, orders[:2] if warm else orders, 0.5)
        (W1, b1), (W2, b2) = params
        Y_hat = 1.0 / (1.0 + np.exp(-((1.0 / (1.0 + np.exp(-(X @ W1 + b1)))) @ W2 + b2)))
        return Trial(dt, {"accuracy": accuracy(Y_hat, y)}, params)

    return Contender(FIXED, 1, run)


# -------------------------------------------------------------------------------------------- JAX
def jax_contenders(workers: list, unrolls: tuple) -> list[Contender]:
    """One contender per (worker, unroll): the program the worker has compiled for that unroll.
    The runs time themselves in the worker; a warm-up is one full run."""
    out = []
    for w in workers:
        for u in unrolls:

            def run(warm: bool, w: Any = w, u: int = u) -> Trial:
                r = w.call("run", unroll=u)
                return Trial(r["seconds"], r["info"])

            out.append(Contender(JAX, w.threads, run))
    return out
