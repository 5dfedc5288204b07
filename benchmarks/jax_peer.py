"""JAX as a peer: the whole training loop of W1, W2 or W3 inside one ``jax.jit``.

What an expert would write for speed in Python: ``lax.scan`` over the samples (W1) or the
mini-batches (W2, W3) inside a ``lax.scan`` over the epochs, each epoch's order drawn inside the
jit (``jax.random.permutation`` of a key split from the run's key), gradients by ``jax.grad``,
and the program compiled ahead of time (``jax.jit(train).lower(...).compile()``) so that
compilation is outside the clock; its time is reported apart. The inner scan is compiled for a
few ``unroll`` factors and each is timed.

XLA's CPU thread pool is fixed when the process starts, so JAX runs in child processes, one per
thread count: :class:`Worker` starts ``python jax_peer.py worker`` (at one thread: pinned to one
CPU with ``sched_setaffinity`` and ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false``; at two: XLA's
defaults) and talks to it over its stdin/stdout, so its runs interleave with the other
contenders' in the benchmark's rounds. The child times each run itself (``perf_counter`` around
the compiled call and ``block_until_ready``), so the pipe is outside the clock.

For the same-algorithm check, the same program is also compiled with the epochs' orders passed
in instead of drawn (bpcore's ``epoch_permutation``) and run from bpcore's initial parameters:
it must reach bpcore's trained parameters. The algorithms are bpcore's: J = ½Σe² per sample with
sigmoid units (W1); softmax + cross-entropy, the batch mean, with momentum m ← μm − α∂J/∂θ,
θ ← θ + m (W2) or plain SGD θ ← θ − α∂J/∂θ (W3); the last, partial batch of an epoch is a batch
of its own, as in bpcore.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import time
from typing import Any, BinaryIO

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))

# Per workload: (batch size, epochs key, hidden activation, output, loss, lr, momentum, dtype)
CONFIG: dict[str, dict[str, Any]] = {
    "W1": dict(batch=1, hidden="sigmoid", loss="mse", lr=0.5, momentum=0.0, dtype="float64"),
    "W2": dict(
        batch=32, hidden="relu", loss="cross_entropy", lr=0.05, momentum=0.9, dtype="float32"
    ),
    "W3": dict(
        batch=128, hidden="relu", loss="cross_entropy", lr=0.05, momentum=0.0, dtype="float32"
    ),
}
ONE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false"


# ------------------------------------------------------------------------- the programs (child)
def _make_train(workload: str, n: int, epochs: int, unroll: int, ordered: bool) -> Any:
    """train(params, X, Y, key_or_orders) -> trained params, all of it one traceable function."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    cfg = CONFIG[workload]
    batch, lr, mu = cfg["batch"], cfg["lr"], cfg["momentum"]
    hidden = jax.nn.sigmoid if cfg["hidden"] == "sigmoid" else jax.nn.relu
    n_full, rem = divmod(n, batch)

    def forward(params: Any, H: Any) -> Any:
        for W, b in params[:-1]:
            H = hidden(H @ W + b)
        W, b = params[-1]
        return H @ W + b  # Z^[L]

    def loss(params: Any, Xb: Any, Yb: Any) -> Any:
        Z = forward(params, Xb)
        if cfg["loss"] == "mse":  # one sample: J = ½ Σ_j (ŷ_j − y_j)², ŷ = f(Z^[L])
            return 0.5 * jnp.sum((jax.nn.sigmoid(Z) - Yb) ** 2)
        return -jnp.mean(jnp.sum(Yb * jax.nn.log_softmax(Z, axis=-1), axis=-1))

    grad = jax.grad(loss)

    def train(params: Any, X: Any, Y: Any, epoch_xs: Any) -> Any:
        def step(state: Any, idx: Any) -> tuple[Any, None]:
            theta, m = state
            g = grad(theta, X[idx], Y[idx])
            if mu:
                m = jax.tree.map(lambda m_, g_: mu * m_ - lr * g_, m, g)
                theta = jax.tree.map(lambda t_, m_: t_ + m_, theta, m)
            else:
                theta = jax.tree.map(lambda t_, g_: t_ - lr * g_, theta, g)
            return (theta, m), None

        def epoch(state: Any, ex: Any) -> tuple[Any, None]:
            perm = ex if ordered else jax.random.permutation(ex, n)
            idxs = perm if batch == 1 else perm[: n_full * batch].reshape(n_full, batch)
            state, _ = lax.scan(step, state, idxs, unroll=unroll)
            if batch > 1 and rem:
                state, _ = step(state, perm[n_full * batch :])
            return state, None

        m0 = jax.tree.map(jnp.zeros_like, params) if mu else ()
        xs = epoch_xs if ordered else jax.random.split(epoch_xs, epochs)
        (params, _), _ = lax.scan(epoch, (params, m0), xs)
        return params

    def evaluate(params: Any, X: Any, Y: Any) -> tuple[Any, Any]:
        Z = forward(params, X)
        if cfg["loss"] == "mse":
            return jnp.mean(0.5 * jnp.sum((jax.nn.sigmoid(Z) - Y) ** 2, axis=1)), Z
        return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(Z, axis=-1), axis=-1)), Z

    return train, evaluate


class _Program:
    """One workload in the child: its data on the device, the compiled programs, the runs."""

    def __init__(self, msg: dict) -> None:
        import jax
        import jax.numpy as jnp

        self.workload = msg["workload"]
        cfg = CONFIG[self.workload]
        dtype = cfg["dtype"]
        if "rows" in msg:  # W3: the data are made here (seed 0), not sent through the pipe
            sys.path.insert(0, _HERE)
            from workloads import w3_data

            X, Y, y = w3_data(msg["rows"])
        else:
            X, Y, y = msg["X"], msg["Y"], msg["y"]
        self.y = np.asarray(y)
        self.X = jax.device_put(jnp.asarray(X, dtype=dtype))
        self.Y = jax.device_put(jnp.asarray(Y, dtype=dtype))
        self.init = [
            (jnp.asarray(W, dtype=dtype), jnp.asarray(b, dtype=dtype)) for W, b in msg["init"]
        ]
        self.epochs = int(msg["epochs"])
        n = int(self.X.shape[0])
        self.key = jax.random.key(0)
        self.compiled: dict[int, Any] = {}
        self.compile_seconds: dict[int, float] = {}
        evaluate = None
        for u in msg["unrolls"]:
            train, evaluate = _make_train(self.workload, n, self.epochs, int(u), ordered=False)
            t0 = time.perf_counter()
            self.compiled[int(u)] = (
                jax.jit(train).lower(self.init, self.X, self.Y, self.key).compile()
            )
            self.compile_seconds[int(u)] = time.perf_counter() - t0
        self.evaluate = jax.jit(evaluate)
        self.orders = None
        if msg.get("orders") is not None:
            orders = np.stack([np.asarray(o) for o in msg["orders"]]).astype(np.int32)
            self.orders = jax.device_put(orders)
            train, _ = _make_train(self.workload, n, orders.shape[0], 1, ordered=True)
            t0 = time.perf_counter()
            self.check_program = (
                jax.jit(train).lower(self.init, self.X, self.Y, self.orders).compile()
            )
            self.compile_seconds_check = time.perf_counter() - t0

    def _info(self, params: Any) -> dict:
        J, Z = self.evaluate(params, self.X, self.Y)
        Z = np.asarray(Z)
        return {"loss": float(J), "accuracy": float(np.mean(Z.argmax(axis=1) == self.y))}

    def run(self, unroll: int) -> dict:
        import jax

        fn = self.compiled[unroll]
        t0 = time.perf_counter()
        out = fn(self.init, self.X, self.Y, self.key)
        jax.block_until_ready(out)
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "info": {**self._info(out), "unroll": unroll}}

    def check(self) -> dict:
        import jax

        out = jax.block_until_ready(self.check_program(self.init, self.X, self.Y, self.orders))
        params = [(np.asarray(W), np.asarray(b)) for W, b in out]
        return {"params": params, "info": self._info(out)}


def _read(fh: BinaryIO) -> Any:
    head = fh.read(8)
    if len(head) < 8:
        return None
    (size,) = struct.unpack("<Q", head)
    return pickle.loads(fh.read(size))


def _write(fh: BinaryIO, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(struct.pack("<Q", len(data)) + data)
    fh.flush()


def worker_main(argv: list[str]) -> int:
    """The child: ``jax_peer.py worker [--cpu N]``. Requests and replies are pickled dicts."""
    if "--cpu" in argv:
        os.sched_setaffinity(0, {int(argv[argv.index("--cpu") + 1])})
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything JAX or XLA prints goes to stderr, not into the protocol
    proto_in = os.fdopen(os.dup(0), "rb")
    program: _Program | None = None
    while True:
        msg = _read(proto_in)
        if msg is None or msg["cmd"] == "quit":
            return 0
        try:
            if msg["cmd"] == "prepare":
                import jax

                jax.config.update("jax_enable_x64", CONFIG[msg["workload"]]["dtype"] == "float64")
                program = None
                program = _Program(msg)
                reply = {
                    "compile_seconds": program.compile_seconds,
                    "compile_seconds_check": getattr(program, "compile_seconds_check", None),
                    "jax": jax.__version__,
                    "devices": [str(d) for d in jax.devices()],
                    "cpus": len(os.sched_getaffinity(0)),
                }
            elif msg["cmd"] == "run":
                assert program is not None, "prepare first"
                reply = program.run(int(msg["unroll"]))
            elif msg["cmd"] == "check":
                assert program is not None and program.orders is not None, "prepare with orders"
                reply = program.check()
            else:
                raise ValueError(f"unknown command {msg['cmd']!r}")
        except Exception as exc:  # reported to the parent, which raises it
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        _write(proto_out, reply)


# ----------------------------------------------------------------------------- the parent's side
class Worker:
    """A JAX child process at ``threads`` threads (1: pinned to the first CPU this process may
    use; 2 or more: XLA's defaults)."""

    def __init__(self, threads: int) -> None:
        env = dict(os.environ)
        cmd = [sys.executable, os.path.abspath(__file__), "worker"]
        if threads == 1:
            env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {ONE_THREAD_XLA_FLAGS}".strip()
            cmd += ["--cpu", str(min(os.sched_getaffinity(0)))]
        self.threads = threads
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=_HERE
        )

    def call(self, cmd: str, **kwargs: Any) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        _write(self.proc.stdin, {"cmd": cmd, **kwargs})
        reply = _read(self.proc.stdout)
        if reply is None:
            raise RuntimeError(
                f"the JAX worker ({self.threads} thread(s)) exited with status {self.proc.wait()}"
            )
        if "error" in reply:
            raise RuntimeError(f"the JAX worker ({self.threads} thread(s)): {reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                _write(self.proc.stdin, {"cmd": "quit"})
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "worker":
        sys.exit(worker_main(sys.argv[2:]))
    sys.exit("usage: jax_peer.py worker [--cpu N]  (started by benchmarks/run.py)")
