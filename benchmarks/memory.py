"""M1 (peak memory of W3 training above the data) and M2 (import time and memory), each measured in
a fresh child process so that no two measurements share a peak.

M1 child (``python benchmarks/memory.py m1 <bpcore|torch> <rows>``): imports the framework, makes
the W3 data (X, Y, labels), then resets the kernel's peak-RSS mark (``/proc/self/clear_refs`` ← 5,
Linux ≥ 4.0) and records the resident size; builds the network and trains one epoch; reports the
peak resident size (``VmHWM``) minus the resident size before training. Where the peak cannot be
reset, ``ru_maxrss`` is used instead and the data creation's own peak is reported beside it.

M2: ``python -c "import <module>"`` in a fresh process, wall time from spawn to exit (interpreter
start-up included, as a user sees it) and the child's peak RSS (its ``VmHWM``), median of several,
with byte-code cached as it is for an installed package.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

__all__ = ["measure_m1", "measure_m2", "imports_of_bpcore", "M2_MODULES"]

_HERE = os.path.dirname(os.path.abspath(__file__))
M2_MODULES = ("bpcore", "numpy", "sklearn.neural_network", "torch")


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _trim_heap() -> None:
    """Give freed heap pages back to the system (glibc), so that memory freed after making the data
    cannot silently absorb what training allocates."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _maxrss_bytes(ru_maxrss: int) -> int:
    return ru_maxrss if sys.platform == "darwin" else ru_maxrss * 1024


def _child_m1(framework: str, rows: int) -> dict[str, Any]:
    """Runs in the child: one W3 epoch on ``rows`` rows, memory figures in bytes."""
    if framework == "bpcore":
        import bpcore  # noqa: F401
    elif framework == "torch":
        import torch
    else:
        raise ValueError(f"framework must be bpcore or torch; got {framework!r}")
    from workloads import epoch_orders, parameters_of, w3_data, w3_network

    rss_before_data = _status_kb("VmRSS")
    X, Y, y = w3_data(rows)
    net = w3_network()  # bpcore's initial parameters, for PyTorch too (a few MB at most)
    init = parameters_of(net)
    order = epoch_orders(rows, 1)[0]
    gc.collect()
    _trim_heap()
    data_bytes = X.nbytes + Y.nbytes + y.nbytes
    peak_after_data = _maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    reset = _reset_peak()
    rss_data = (_status_kb("VmRSS") or 0) * 1024

    if framework == "bpcore":
        net.fit(X, Y, epochs=1, batch_size=128, lr=0.05, optimizer="sgd")
    else:
        from peers import _torch_train, torch_model

        model = torch_model(init, "relu", None, torch.float32)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        _torch_train(
            model, opt, torch.from_numpy(X), torch.from_numpy(y), [torch.from_numpy(order)], 128
        )

    hwm = _status_kb("VmHWM") if reset else None
    peak = (
        hwm * 1024
        if hwm is not None
        else _maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    )
    return {
        "framework": framework,
        "rows": rows,
        "data_bytes": int(data_bytes),
        "rss_before_data": (rss_before_data or 0) * 1024,
        "rss_with_data": rss_data,
        "peak_during_data_creation": peak_after_data,
        "peak_training": peak,
        "above_data": peak - rss_data,
        "method": "VmHWM after clear_refs" if reset else "ru_maxrss",
    }


def child_env() -> dict[str, str]:
    """The environment of the children: ours, with bpcore's package directory on PYTHONPATH."""
    import bpcore

    root = os.path.dirname(os.path.dirname(os.path.abspath(bpcore.__file__)))
    env = dict(os.environ)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        parts.insert(0, root)
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def measure_m1(framework: str, rows: int, timeout: float = 600) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, os.path.join(_HERE, "memory.py"), "m1", framework, str(rows)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"M1 child ({framework}) failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


_HWM_SUFFIX = (
    "\ntry:\n    print([l for l in open('/proc/self/status') if l.startswith('VmHWM:')]"
    "[0].split()[1])\nexcept (OSError, IndexError):\n    pass\n"
)


def _spawn(code: str, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS bytes of ``python -c code``.

    The peak is the child's own VmHWM, printed as its last act: the ``ru_maxrss`` that ``wait4``
    returns also counts the pages the child shared with this (large) process before its exec.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code + _HWM_SUFFIX],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"python -c {code!r} failed:\n{err.decode(errors='replace')[-2000:]}")
    lines = out.decode().split()
    if not lines:
        raise RuntimeError("cannot read the child's peak resident size (no /proc/self/status)")
    return wall, int(lines[-1]) * 1024


def measure_m2(modules: tuple[str, ...], repeats: int) -> dict[str, Any]:
    """Median wall time and peak RSS of ``python -c "import m"`` for each module and of
    ``python -c pass`` (the interpreter alone), interleaved over ``repeats`` rounds.

    Byte-code is cached as for an installed package (``PYTHONPYCACHEPREFIX``, a fresh temporary
    directory filled by one warm-up run of each command), whatever ``PYTHONDONTWRITEBYTECODE`` says.
    """
    env = child_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cache = tempfile.mkdtemp(prefix="bpcore-bench-pycache-")
    env["PYTHONPYCACHEPREFIX"] = cache
    codes = {"(python alone)": "pass", **{m: f"import {m}" for m in modules}}
    samples: dict[str, list[tuple[float, int]]] = {k: [] for k in codes}
    try:
        for code in codes.values():  # warm-up: byte-code cache and file cache
            _spawn(code, env)
        for _ in range(repeats):
            for key, code in codes.items():
                samples[key].append(_spawn(code, env))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return {
        key: {
            "seconds": statistics.median(s for s, _ in vals),
            "rss_bytes": int(statistics.median(r for _, r in vals)),
            "repeats": repeats,
        }
        for key, vals in samples.items()
    }


def imports_of_bpcore() -> list[str]:
    """Which heavy optional modules ``import bpcore`` pulls in (should be none)."""
    code = (
        "import sys, bpcore; print(' '.join(m for m in ('torch', 'sklearn', 'scipy', "
        "'matplotlib', 'tqdm', 'safetensors', 'mpi4py', 'dask', 'distributed') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), timeout=120
    )
    if out.returncode != 0:
        raise RuntimeError(f"import bpcore failed:\n{out.stderr[-2000:]}")
    return out.stdout.split()


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "m1":
        sys.exit("usage: python benchmarks/memory.py m1 <bpcore|torch> <rows>")
    print(json.dumps(_child_m1(sys.argv[2], int(sys.argv[3]))))
