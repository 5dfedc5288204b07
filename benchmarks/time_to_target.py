"""T: time to a target J, on the data sets that ship with scikit-learn and a generated 1-D regression.

For each set, one fixed small network (``PROBLEMS``) starts from one set of initial parameters
(bpcore's ``init="xavier"``, seed 0), copied into scikit-learn (a warm start) and PyTorch. The
target J* is the training J that scikit-learn's ``solver="lbfgs"`` reaches at convergence from
there (``alpha=0``, its default ``tol``, ``max_iter`` large enough that it stops by its own
criterion), measured as bpcore's J of scikit-learn's final weights. Then every contender trains,
full batch and float64, until its J first reaches J*:

- bpcore's ``sgd``, ``momentum``, ``adam`` (``batch_size`` = all rows), ``rprop``, ``lbfgs`` and,
  for ``loss="mse"``, ``lm``, one iteration per epoch of ``fit``;
- scikit-learn's ``lbfgs`` (the reference: its time to convergence) and ``adam`` (full batch);
- PyTorch's ``LBFGS`` (strong Wolfe line search, ``history_size=10``) and ``Rprop``.

The clock holds only training, never the J checks: a first, untimed run finds the number of
iterations a contender needs (its J is computed after every iteration, outside any clock), and the
timed runs train exactly that many iterations from the same start, in one call (``fit(epochs=k)``,
``MLP.fit(max_iter=k)``, ``LBFGS.step`` with ``max_iter=k``, k steps of ``Rprop``). Every timed run
is checked afterwards: its final J must be ≤ J*. A contender that has not reached J* when its time
budget runs out (``BUDGET_FACTOR`` × scikit-learn's lbfgs time, at least ``BUDGET_MIN`` seconds)
is reported as "did not reach", with the best J it got.

Losses, as bpcore defines them (docs/notation.md): J is the mean over samples of the per-sample J,
½ Σ_j e_j² for ``mse``, −Σ_j y_j log ŷ_j for softmax + ``cross_entropy``, and the binary
cross-entropy of one sigmoid output. scikit-learn's ``squared_loss`` is ½ · mean over samples of the
mean over outputs, so it is bpcore's J divided by q (the regressions here have q = 1); its
``log_loss`` is bpcore's cross-entropy (clipped at machine ε). PyTorch's losses are written as
bpcore's J. No weight decay anywhere (``alpha=0``).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = [
    "PROBLEMS",
    "QUICK_PROBLEMS",
    "Problem",
    "load_problem",
    "run_problem",
    "BPCORE_METHODS",
]

SEED = 0
# One fixed network per set: (name, hidden units, kind).
PROBLEMS = (
    ("iris", 8, "multiclass"),
    ("wine", 8, "multiclass"),
    ("breast_cancer", 8, "binary"),
    ("digits", 16, "multiclass"),
    ("diabetes", 8, "regression"),
    ("sine", 8, "regression"),
)
QUICK_PROBLEMS = ("iris", "sine")
SINE_ROWS = 200
BUDGET_FACTOR = 10.0
BUDGET_MIN = 0.25
BUDGET_MAX = 4.0
QUICK_BUDGET_MAX = 0.5
SKLEARN_MAX_ITER = 20000
# bpcore's optimizers and their options (all full batch). The first-order ones get rates that
# train these networks stably; rprop's first step is PyTorch's default lr.
BPCORE_METHODS: dict[str, dict[str, Any]] = {
    "sgd": {"optimizer": "sgd", "lr": 0.5},
    "momentum": {"optimizer": "momentum", "lr": 0.1, "momentum": 0.9},
    "adam": {"optimizer": "adam", "lr": 0.01},
    "rprop": {"optimizer": "rprop", "lr": 0.01},
    "lbfgs": {"optimizer": "lbfgs", "grad_tol": 0.0, "loss_tol": 0.0},
    "lm": {"optimizer": "lm", "grad_tol": 0.0, "loss_tol": 0.0},
}
FIRST_ORDER = ("sgd", "momentum", "adam")
SKLEARN_ADAM_LR = 0.01
TORCH_RPROP_LR = 0.01


@dataclass
class Problem:
    """One set: standardised X (n, d), bpcore's targets Y (n, q), scikit-learn's targets y, the
    network (sizes, f of the hidden layer, f of the output, loss) and its initial parameters."""

    name: str
    kind: str  # "multiclass", "binary" or "regression"
    X: np.ndarray
    Y: np.ndarray
    y: np.ndarray
    sizes: list[int]
    hidden: str
    output: str
    loss: str
    init: np.ndarray  # the flat parameter vector Θ of bpcore's initial network

    @property
    def label(self) -> str:
        return f"{'-'.join(map(str, self.sizes))} {self.hidden}, {self.output} + {self.loss}"

    def network(self) -> Any:
        import bpcore

        net = bpcore.Network(
            self.sizes, self.hidden, self.output, self.loss, "float64", init="xavier", seed=SEED
        )
        net.parameters[...] = self.init
        return net

    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        net = self.network()
        return [(W.copy(), b.copy()) for W, b in zip(net.weights, net.biases)]

    def J(self, params: list[tuple[np.ndarray, np.ndarray]]) -> float:
        """bpcore's J of the given (W^[l], b^[l]) on the training set."""
        net = self.network()
        for k, (W, b) in enumerate(params):
            net.weights[k][...] = W
            net.biases[k][...] = b
        return float(net.loss(self.X, self.Y))


def _standardise(X: np.ndarray) -> np.ndarray:
    """Each column to mean 0 and standard deviation 1 (a constant column to 0), as StandardScaler."""
    sd = X.std(axis=0)
    return np.ascontiguousarray((X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0), dtype=np.float64)


def load_problem(name: str) -> Problem:
    """The data and network of one set (the scikit-learn loaders need scikit-learn)."""
    hidden_units, kind = {p[0]: (p[1], p[2]) for p in PROBLEMS}[name]
    if name == "sine":
        rng = np.random.default_rng(SEED)
        x = rng.uniform(-1.0, 1.0, (SINE_ROWS, 1))
        t = np.sin(3.0 * x[:, 0]) + 0.1 * rng.standard_normal(SINE_ROWS)
        X, target = np.ascontiguousarray(x), t
    else:
        from sklearn import datasets

        d = getattr(datasets, f"load_{name}")()
        X, target = _standardise(d.data), d.target
        if kind == "regression":
            target = (target - target.mean()) / target.std()
    if kind == "regression":
        y = np.asarray(target, dtype=np.float64)
        Y, output, loss = y[:, None].copy(), "identity", "mse"
    elif kind == "binary":
        y = np.asarray(target, dtype=np.int64)
        Y, output, loss = y[:, None].astype(np.float64), "sigmoid", "binary_cross_entropy"
    else:
        y = np.asarray(target, dtype=np.int64)
        Y, output, loss = np.eye(int(y.max()) + 1)[y], "softmax", "cross_entropy"
    import bpcore

    sizes = [X.shape[1], hidden_units, Y.shape[1]]
    net = bpcore.Network(sizes, "tanh", output, loss, "float64", init="xavier", seed=SEED)
    return Problem(
        name,
        kind,
        X,
        np.ascontiguousarray(Y),
        y,
        sizes,
        "tanh",
        output,
        loss,
        net.parameters.copy(),
    )


# ------------------------------------------------------------------------------------ contenders
@dataclass
class Reach:
    """The untimed search: the iterations a contender needs to reach J* (None: not within the
    budget), and the best J it got, after how many iterations and seconds (J checks included)."""

    iterations: int | None
    best_J: float
    iterations_run: int
    seconds: float
    note: str = ""


@dataclass
class Method:
    """A contender: ``reach(J*, budget, floor)`` finds the iterations (searching for at least
    ``budget`` seconds, or ``floor`` iterations if that is more), ``timed(k)`` trains k iterations
    from the start and returns (seconds, final J). ``threads`` are the thread counts it is timed at
    (None: bpcore's default)."""

    name: str
    framework: str
    reach: Callable[[float, float, int], Reach]
    timed: Callable[[int], tuple[float, float]]
    threads: tuple[int | None, ...] = (None,)


def _bpcore_method(p: Problem, method: str) -> Method:
    opts = dict(BPCORE_METHODS[method], shuffle=False)  # the rows in order, as the peers see them
    if method in FIRST_ORDER:
        opts["batch_size"] = p.X.shape[0]

    def reach(target: float, budget: float, floor: int) -> Reach:
        net = p.network()
        Js: list[float] = []
        t0 = time.perf_counter()

        def stop(n: Any, epoch: int, logs: dict) -> bool:
            Js.append(float(n.loss(p.X, p.Y)))
            return Js[-1] <= target or time.perf_counter() - t0 > budget

        hist = net.fit(p.X, p.Y, epochs=10**7, callbacks=[stop], **opts)
        dt = time.perf_counter() - t0
        best = min(Js) if Js else float(net.loss(p.X, p.Y))
        hit = bool(Js) and Js[-1] <= target
        note = "" if hist.stop_reason == "callback" else f"stopped: {hist.stop_reason}"
        return Reach(len(Js) if hit else None, best, len(Js), dt, note)

    def timed(k: int) -> tuple[float, float]:
        net = p.network()
        t0 = time.perf_counter()
        net.fit(p.X, p.Y, epochs=k, **opts)
        dt = time.perf_counter() - t0
        return dt, float(net.loss(p.X, p.Y))

    return Method(f"bpcore {method}", "bpcore", reach, timed)


def _sklearn_model(p: Problem, solver: str, **options: Any) -> Any:
    """A scikit-learn MLP of p's network, started from p's initial parameters: one iteration to
    create it (outside the clock), then its coefs_ and intercepts_ overwritten and warm_start set,
    so that the next fit starts from bpcore's Θ."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cls = MLPRegressor if p.kind == "regression" else MLPClassifier
    model = cls(
        hidden_layer_sizes=tuple(p.sizes[1:-1]),
        activation=p.hidden,
        solver=solver,
        alpha=0.0,
        random_state=SEED,
        max_iter=1,
        **options,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(p.X, p.y)
    for k, (W, b) in enumerate(p.layers()):
        model.coefs_[k][...] = W
        model.intercepts_[k][...] = b
    model.set_params(warm_start=True)
    return model


def _sklearn_params(model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(zip(model.coefs_, model.intercepts_))


def _sklearn_fit(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - t0


def sklearn_lbfgs_target(p: Problem) -> dict[str, Any]:
    """J*: bpcore's J of the weights scikit-learn's lbfgs converges to from p's start; also its
    own ``loss_`` converted to bpcore's J (× q for the squared loss), iterations and stop."""
    model = _sklearn_model(p, "lbfgs", max_fun=10**6)
    model.set_params(max_iter=SKLEARN_MAX_ITER)
    seconds = _sklearn_fit(model, p.X, p.y)
    J = p.J(_sklearn_params(model))
    q = p.Y.shape[1]
    own = float(model.loss_) * (q if p.kind == "regression" else 1)
    return {
        "J": J,
        "sklearn_loss_as_J": own,
        "iterations": int(model.n_iter_),
        "converged": int(model.n_iter_) < SKLEARN_MAX_ITER,
        "seconds_untimed_run": seconds,
    }


def _sklearn_lbfgs_method(p: Problem, iterations: int) -> Method:
    def reach(target: float, budget: float, floor: int) -> Reach:
        return Reach(iterations, target, iterations, 0.0)

    def timed(k: int) -> tuple[float, float]:
        model = _sklearn_model(p, "lbfgs", max_fun=10**6)
        model.set_params(max_iter=SKLEARN_MAX_ITER)
        dt = _sklearn_fit(model, p.X, p.y)
        return dt, p.J(_sklearn_params(model))

    return Method("scikit-learn lbfgs", "scikit-learn", reach, timed, (1, 2))


def _sklearn_adam_method(p: Problem) -> Method:
    n = p.X.shape[0]

    def model_for(epochs: int) -> Any:
        m = _sklearn_model(
            p,
            "adam",
            batch_size=n,
            learning_rate_init=SKLEARN_ADAM_LR,
            shuffle=False,
            tol=0.0,
            n_iter_no_change=SKLEARN_MAX_ITER * 10,
        )
        m.set_params(max_iter=epochs)
        return m

    def reach(target: float, budget: float, floor: int) -> Reach:
        probe = model_for(100)
        per_epoch = _sklearn_fit(probe, p.X, p.y) / 100
        epochs = int(min(max(budget / max(per_epoch, 1e-7), 20), 10**6))
        m = model_for(epochs)
        dt = _sklearn_fit(m, p.X, p.y)
        # loss_curve_[k] is J(Θ_k) for a full batch (the loss of the pass before update k+1)
        curve = np.asarray(m.loss_curve_, dtype=np.float64)
        if p.kind == "regression":
            curve = curve * p.Y.shape[1]
        final = p.J(_sklearn_params(m))
        hits = np.flatnonzero(curve <= target)
        if hits.size and hits[0] > 0:
            return Reach(int(hits[0]), float(min(curve.min(), final)), epochs, dt)
        if final <= target:
            return Reach(epochs, final, epochs, dt)
        return Reach(None, float(min(curve.min(), final)), epochs, dt)

    def timed(k: int) -> tuple[float, float]:
        m = model_for(k)
        dt = _sklearn_fit(m, p.X, p.y)
        return dt, p.J(_sklearn_params(m))

    return Method("scikit-learn adam", "scikit-learn", reach, timed, (1, 2))


def _torch_setup(p: Problem) -> tuple[Any, Any, Callable[[Any], Any]]:
    """PyTorch's network of p from p's initial parameters, and J of it as bpcore defines it."""
    import torch
    from torch import nn

    X = torch.from_numpy(p.X)
    if p.kind == "multiclass":
        labels = torch.from_numpy(p.y)
    else:
        T = torch.from_numpy(p.Y)
    layers: list[Any] = []
    for k, (W, b) in enumerate(p.layers()):
        lin = nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if k < len(p.sizes) - 2:
            layers.append(nn.Tanh())
    model = nn.Sequential(*layers)
    F = nn.functional

    def J(out: Any) -> Any:
        if p.kind == "multiclass":  # mean over samples of −Σ y log softmax(z)
            return F.cross_entropy(out, labels)
        if p.kind == "binary":
            return F.binary_cross_entropy_with_logits(out, T)
        return 0.5 * ((out - T) ** 2).sum(dim=1).mean()

    return model, X, J


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _torch_lbfgs_method(p: Problem) -> Method:
    import torch

    def make(max_iter: int) -> tuple[Any, Any, Callable[[], Any]]:
        model, X, J = _torch_setup(p)
        opt = torch.optim.LBFGS(
            model.parameters(),
            lr=1.0,
            max_iter=max_iter,
            max_eval=25 * max_iter + 25,
            tolerance_grad=0.0,
            tolerance_change=0.0,
            history_size=10,
            line_search_fn="strong_wolfe",
        )

        def closure() -> Any:
            opt.zero_grad()
            loss = J(model(X))
            loss.backward()
            return loss

        return model, opt, closure

    def loss_of(model: Any) -> float:
        _, X, J = _torch_setup(p)
        with torch.no_grad():
            return float(J(model(X)))

    def reach(target: float, budget: float, floor: int) -> Reach:
        # one iteration per step() call: the same iterates as one call of max_iter=k (the state
        # carries over; each call evaluates J once more at its start, outside the timed run)
        model, opt, closure = make(1)
        _, X, J = _torch_setup(p)
        t0 = time.perf_counter()
        best, k = float("inf"), 0
        while time.perf_counter() - t0 <= budget or k < floor:
            opt.step(closure)
            k += 1
            with torch.no_grad():
                now = float(J(model(X)))
            best = min(best, now)
            if now <= target:
                return Reach(k, best, k, time.perf_counter() - t0)
            if not np.isfinite(now):
                break
        return Reach(None, best, k, time.perf_counter() - t0)

    def timed(k: int) -> tuple[float, float]:
        model, opt, closure = make(k)
        t0 = time.perf_counter()
        opt.step(closure)
        dt = time.perf_counter() - t0
        return dt, loss_of(model)

    return Method("PyTorch LBFGS", "PyTorch", reach, timed, (1, 2))


def _torch_rprop_method(p: Problem) -> Method:
    import torch

    def make() -> tuple[Any, Any, Callable[[], Any]]:
        model, X, J = _torch_setup(p)
        opt = torch.optim.Rprop(model.parameters(), lr=TORCH_RPROP_LR)

        def step() -> Any:
            opt.zero_grad()
            loss = J(model(X))
            loss.backward()
            opt.step()
            return loss

        return model, opt, step

    def reach(target: float, budget: float, floor: int) -> Reach:
        model, _, step = make()
        t0 = time.perf_counter()
        best, k = float("inf"), 0
        while time.perf_counter() - t0 <= budget or k < floor:
            now = float(step())  # J(Θ_k) before step k+1
            best = min(best, now)
            if now <= target:
                return Reach(k, best, k, time.perf_counter() - t0)
            k += 1
        return Reach(None, best, k, time.perf_counter() - t0)

    def timed(k: int) -> tuple[float, float]:
        model, _, step = make()
        t0 = time.perf_counter()
        for _ in range(k):
            step()
        dt = time.perf_counter() - t0
        _, X, J = _torch_setup(p)
        with torch.no_grad():
            return dt, float(J(model(X)))

    return Method("PyTorch Rprop", "PyTorch", reach, timed, (1, 2))


# ------------------------------------------------------------------------------------ measuring
def _threads(framework: str, n: int | None) -> contextlib.AbstractContextManager:
    if framework == "PyTorch":
        return _torch_threads(n)
    if framework == "scikit-learn" and n is not None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return contextlib.nullcontext()
        return threadpool_limits(limits=n, user_api="blas")
    return contextlib.nullcontext()


def _time(runs: list[tuple[Method, int | None, int]], rounds: int) -> dict[tuple[str, Any], dict]:
    """A warm-up run each, then ``rounds`` rounds interleaved across the runs (a run under 0.1 s
    is repeated within a round, up to 10 times); per (method, threads): the fastest run, the
    run count and the largest final J of any run."""
    out: dict[tuple[str, Any], dict] = {}
    for m, n, k in runs:
        with _threads(m.framework, n):
            m.timed(k)
    for _ in range(rounds):
        for m, n, k in runs:
            rec = out.setdefault((m.name, n), {"seconds": float("inf"), "runs": 0, "J": -1.0})
            spent = 0.0
            while True:
                with _threads(m.framework, n):
                    dt, J = m.timed(k)
                rec["seconds"] = min(rec["seconds"], dt)
                rec["J"] = max(rec["J"], J)
                rec["runs"] += 1
                spent += dt
                if spent >= 0.1 or rec["runs"] >= 10 * rounds:
                    break
    return out


def methods_for(p: Problem, peers: dict[str, bool], sk_iterations: int | None) -> list[Method]:
    """The contenders of one set: bpcore's optimizers (lm only for mse), then the installed peers."""
    out = [_bpcore_method(p, m) for m in BPCORE_METHODS if m != "lm" or p.loss == "mse"]
    if peers.get("scikit-learn") and sk_iterations is not None:
        out.append(_sklearn_lbfgs_method(p, sk_iterations))
        out.append(_sklearn_adam_method(p))
    if peers.get("PyTorch"):
        out.append(_torch_lbfgs_method(p))
        out.append(_torch_rprop_method(p))
    return out


def run_problem(
    p: Problem,
    peers: dict[str, bool],
    rounds: int,
    quick: bool,
    progress: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    """Everything of one set: J* (scikit-learn's lbfgs), then for each contender the iterations
    it needs and its best time to J*, or its best J within the budget."""
    from threadpoolctl import threadpool_limits

    progress(f"T: {p.name} ({p.label}): scikit-learn's lbfgs to convergence for J*")
    with threadpool_limits(limits=1, user_api="blas"):
        target = sklearn_lbfgs_target(p)
    J_star = target["J"]
    cap = QUICK_BUDGET_MAX if quick else BUDGET_MAX
    budget = min(max(BUDGET_FACTOR * target["seconds_untimed_run"], BUDGET_MIN), cap)
    methods = methods_for(p, peers, target["iterations"])
    reached: dict[str, Reach] = {}
    for m in methods:
        # PyTorch's Rprop and LBFGS search at least 1.5× as many iterations as bpcore's rprop
        # and lbfgs needed, so that the iteration counts can be compared even where PyTorch is
        # too slow to get there within the time budget
        twin = {"PyTorch Rprop": "bpcore rprop", "PyTorch LBFGS": "bpcore lbfgs"}.get(m.name)
        floor = 0
        if twin in reached and reached[twin].iterations is not None:
            floor = int(1.5 * reached[twin].iterations) + 1
        progress(f"T: {p.name}: {m.name}, iterations to J* (budget {budget:.2f} s)")
        with _threads(m.framework, 1 if m.framework != "bpcore" else None):
            reached[m.name] = m.reach(J_star, budget, floor)
    runs = [
        (m, n, reached[m.name].iterations)
        for m in methods
        if reached[m.name].iterations is not None
        for n in m.threads
    ]
    progress(f"T: {p.name}: timing {len(runs)} runs to J*, {rounds} round(s)")
    timings = _time(runs, rounds)  # type: ignore[arg-type]
    results: dict[str, dict[str, Any]] = {}
    for m in methods:
        r = reached[m.name]
        entry: dict[str, Any] = {
            "framework": m.framework,
            "iterations": r.iterations,
            "reached": r.iterations is not None,
            "best_J": r.best_J,
            "search_iterations": r.iterations_run,
            "search_seconds": r.seconds,
            "note": r.note,
        }
        if r.iterations is not None:
            by_threads = {n: timings[(m.name, n)] for n in m.threads}
            entry["final_J"] = max(t["J"] for t in by_threads.values())
            entry["timed_runs_reach"] = entry["final_J"] <= J_star * (1 + 1e-9)
            # A peer's sums can round differently at another thread count and take another
            # path: a thread count whose timed runs ended above J* is not quoted.
            ok = {n: t for n, t in by_threads.items() if t["J"] <= J_star * (1 + 1e-9)}
            dropped = [n for n in by_threads if n not in ok]
            if dropped:
                entry["note"] = (
                    f"timed runs at {', '.join(str(n) for n in dropped)} thread(s) ended above J* "
                    f"(J = {max(by_threads[n]['J'] for n in dropped):.4e}); not quoted"
                )
            if ok:
                n_best = min(ok, key=lambda n: ok[n]["seconds"])
                entry.update(
                    seconds=ok[n_best]["seconds"],
                    threads=n_best,
                    runs=sum(t["runs"] for t in by_threads.values()),
                    by_threads={str(n): t["seconds"] for n, t in ok.items()},
                )
            else:
                entry.update(reached=False, best_J=min(t["J"] for t in by_threads.values()))
        results[m.name] = entry
    return {
        "set": p.name,
        "network": p.label,
        "sizes": p.sizes,
        "rows": int(p.X.shape[0]),
        "n_params": int(p.init.size),
        "J_star": J_star,
        "sklearn": target,
        "budget_seconds": budget,
        "results": results,
    }


def best_bpcore(res: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """bpcore's fastest optimizer to J* on one set, or None when none reached it."""
    mine = [
        (name, r)
        for name, r in res["results"].items()
        if r["framework"] == "bpcore" and r["reached"]
    ]
    return min(mine, key=lambda nr: nr[1]["seconds"]) if mine else None


def _seconds(s: float) -> str:
    return f"{1e3 * s:.2f} ms" if s < 1 else f"{s:.2f} s"


def table_rows(sets: list[dict[str, Any]]) -> list[list[str]]:
    """The T table: one row per (set, contender): iterations, time to J*, and the time as a
    multiple of scikit-learn's lbfgs (its time over the contender's: higher is faster)."""
    rows = []
    for res in sets:
        ref = res["results"].get("scikit-learn lbfgs")
        first = True
        for name, r in res["results"].items():
            head = [res["set"], f"{res['J_star']:.4e}"] if first else ["", ""]
            first = False
            if r["reached"]:
                threads = "default" if r["threads"] is None else str(r["threads"])
                ratio = (
                    f"{ref['seconds'] / r['seconds']:.3g}×"
                    if ref is not None and ref.get("seconds")
                    else "—"
                )
                flag = f" ({r['note']})" if r["note"] else ""
                rows.append(
                    head
                    + [name, str(r["iterations"]), _seconds(r["seconds"]) + flag, threads, ratio]
                )
            else:
                rows.append(
                    head
                    + [
                        name,
                        f">{r['search_iterations']}",
                        f"did not reach (best J {r['best_J']:.4e} in {r['search_seconds']:.2f} s"
                        + (f"; {r['note']}" if r["note"] else "")
                        + ")",
                        "1" if r["framework"] != "bpcore" else "default",
                        "—",
                    ]
                )
    return rows


TABLE_HEADER = ["set", "J*", "contender", "iterations", "time to J*", "threads", "× sklearn lbfgs"]


# ---------------------------------------------------------------------------- benchmarks/run.py
SKLEARN_NAME = "scikit-learn"
TORCH_NAME = "PyTorch"
PEER_METHODS = ("scikit-learn lbfgs", "scikit-learn adam", "PyTorch LBFGS", "PyTorch Rprop")


def run_t(suite: Any, progress: Callable[[str], None]) -> None:
    """Workload T of ``benchmarks/run.py``: every set, its targets and checks, into ``suite``."""
    import peers

    names = QUICK_PROBLEMS if suite.spec.quick else tuple(p[0] for p in PROBLEMS)
    on: dict[str, bool] = {}
    for peer in (peers.SKLEARN, peers.TORCH):
        on[peer] = bool(suite.peers[peer])
        if peer in suite.selected and not suite.peers[peer]:
            why = peers.unavailable_reason(peer) or "is not installed"
            suite.notes.append(f"T: {peer} {why}; its rows are skipped.")
    if not on[peers.SKLEARN]:
        suite.notes.append(
            "T: skipped: its target J* is scikit-learn's lbfgs at convergence and five of its "
            "six sets ship with scikit-learn, which is not installed (or left out with --peers)."
        )
        suite.target(
            "T",
            "bpcore's best ≥ 5× scikit-learn lbfgs to J*",
            None,
            5,
            "",
            skip_reason="scikit-learn not run",
        )
        return
    sets = [
        run_problem(load_problem(name), on, suite.spec.rounds, suite.spec.quick, progress)
        for name in names
    ]
    suite.workloads["T"] = {
        "id": "T",
        "metric": "time to J*",
        "unit": "s",
        "kind": "time to target",
        "budget": {"factor": BUDGET_FACTOR, "min_s": BUDGET_MIN},
        "bpcore_options": BPCORE_METHODS,
        "sets": sets,
        "results": {},
    }
    for res in sets:
        _targets_and_checks(suite, res)


def _targets_and_checks(suite: Any, res: dict[str, Any]) -> None:
    name, r = res["set"], res["results"]
    ref = r.get("scikit-learn lbfgs")
    best = best_bpcore(res)
    text = f"{name}: bpcore's best ≥ 5× scikit-learn lbfgs to J*"
    if best is None:
        suite.target("T", text, 0.0, 5, "no bpcore optimizer reached J*")
    else:
        ratio = ref["seconds"] / best[1]["seconds"]
        suite.target("T", text, ratio, 5, f"{ratio:.3g}× ({best[0]})")
    if "bpcore lm" in r:
        lm = r["bpcore lm"]
        text = f"{name}: bpcore lm ≥ 5× scikit-learn lbfgs to J*"
        if lm["reached"]:
            ratio = ref["seconds"] / lm["seconds"]
            suite.target("T", text, ratio, 5, f"{ratio:.3g}× ({lm['iterations']} iterations)")
        else:
            suite.target("T", text, 0.0, 5, f"did not reach J* (best J {lm['best_J']:.4e})")
    bp, pt = r["bpcore rprop"], r.get("PyTorch Rprop")
    it_text = f"{name}: bpcore rprop's iterations to J* within 1.2× PyTorch Rprop's"
    t_text = f"{name}: bpcore rprop ≥ 10× PyTorch Rprop to J*"
    if pt is None:
        suite.target("T", it_text, None, 1.2, "", skip_reason="PyTorch not run")
        suite.target("T", t_text, None, 10, "", skip_reason="PyTorch not run")
    elif not (bp["reached"] and pt["reached"]):
        why = "neither reached J*" if not (bp["reached"] or pt["reached"]) else None
        if why is None and not bp["reached"]:
            suite.target("T", it_text, 0.0, 1.2, "bpcore rprop did not reach J*")
            suite.target("T", t_text, 0.0, 10, "bpcore rprop did not reach J*")
        else:
            why = why or "PyTorch Rprop did not reach J*"
            suite.target("T", it_text, None, 1.2, "", skip_reason=why)
            suite.target("T", t_text, None, 10, "", skip_reason=why)
    else:
        q = bp["iterations"] / max(pt["iterations"], 1)
        suite.target(
            "T",
            it_text,
            q,
            1.2,
            f"{bp['iterations']} vs {pt['iterations']} ({q:.3g}×)",
            higher_is_better=False,
        )
        ratio = pt["seconds"] / bp["seconds"]
        suite.target(
            "T",
            t_text,
            ratio,
            10,
            f"{ratio:.3g}× ({_seconds(bp['seconds'])} vs {_seconds(pt['seconds'])})",
        )
    sk = res["sklearn"]
    diff = abs(sk["sklearn_loss_as_J"] - sk["J"]) / max(abs(sk["J"]), 1e-300)
    suite.check(
        "T",
        f"{name}: J* — scikit-learn's loss_ as bpcore's J equals bpcore's J of its weights",
        diff <= 1e-8,
        f"J* = {sk['J']:.6e}, loss_ → {sk['sklearn_loss_as_J']:.6e} (rel. {diff:.1e} ≤ 1e-8)",
    )
    suite.check(
        "T",
        f"{name}: scikit-learn's lbfgs stopped by its own criterion (max_iter {SKLEARN_MAX_ITER})",
        bool(sk["converged"]),
        f"{sk['iterations']} iterations",
    )
    timed = {m: x for m, x in r.items() if "timed_runs_reach" in x}
    above = [m for m, x in timed.items() if not x["timed_runs_reach"]]
    mine = [m for m in above if r[m]["framework"] == "bpcore"]
    suite.check(
        "T",
        f"{name}: every timed run of bpcore ended at J ≤ J* (peers: runs above J* not quoted)",
        not mine,
        (f"{len(timed)} contenders timed" if not above else "above J*: " + ", ".join(above)),
    )


def _figure(r: dict[str, Any] | None) -> str:
    if r is None:
        return "not run"
    return _seconds(r["seconds"]) if r["reached"] else "did not reach"


def result_rows(entry: dict[str, Any]) -> list[list[str]]:
    """T's rows of run.py's results table: per set and peer, bpcore's best time to J* (and which
    optimizer), the peer's, and the ratio (the peer's time over bpcore's)."""
    rows = []
    for res in entry["sets"]:
        best = best_bpcore(res)
        mine = "did not reach" if best is None else f"{_figure(best[1])} ({best[0][7:]})"
        metric = f"{res['set']}: time to J*"
        peers = [m for m in PEER_METHODS if m in res["results"]]
        for m in peers:
            r = res["results"][m]
            threads = str(r.get("threads") or 1) if r["reached"] else "1"
            ratio = "—"
            if best is not None and r["reached"]:
                ratio = f"{r['seconds'] / best[1]['seconds']:.3g}×"
            rows.append(["T", metric, mine, m, _figure(r), threads, ratio])
        if not peers:
            rows.append(["T", metric, mine, "—", "—", "—", "—"])
    return rows


def report_lines(
    entry: dict[str, Any], quick: bool, table: Callable[[list[str], list[list[str]]], str]
) -> list[str]:
    """The T section of the report: how J* is set, the networks, and the table (``table`` lays
    out a header and rows, as run.py's other tables)."""
    out = [
        "",
        "Time to target (T)"
        + ("  [QUICK: two sets, short budgets]" if quick else "")
        + ": J* = bpcore's J of the weights scikit-learn's lbfgs converges to (alpha=0, "
        "its default tol) from the same initial W, b (bpcore's xavier, seed 0, copied into "
        "scikit-learn and PyTorch); full batch, float64. Time = the fastest timed run of "
        "exactly the iterations an untimed run needed to first reach J*; 'did not reach' = "
        f"not within {BUDGET_FACTOR:g}× scikit-learn lbfgs's time (at least {BUDGET_MIN:g} s).",
        "  networks: "
        + "; ".join(
            f"{s['set']} {s['network']} ({s['rows']} rows, {s['n_params']} parameters)"
            for s in entry["sets"]
        ),
        "  options: "
        + "; ".join(
            f"{m} "
            + ", ".join(
                f"{k}={v:g}" for k, v in o.items() if k != "optimizer" and not isinstance(v, str)
            )
            for m, o in BPCORE_METHODS.items()
        )
        + f" (sgd, momentum, adam: batch = all rows); scikit-learn adam full batch, "
        f"learning_rate_init={SKLEARN_ADAM_LR:g}; PyTorch LBFGS strong Wolfe, history 10; "
        f"PyTorch Rprop lr={TORCH_RPROP_LR:g}",
    ]
    out.append(table(TABLE_HEADER, table_rows(entry["sets"])))
    return out
