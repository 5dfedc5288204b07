"""The machine a benchmark ran on: CPU, libraries, BLAS configuration, its measured float32 peak.

The peak is measured, not computed from a data sheet: a large float32 matrix product C = A B
(n × n, 2n³ FLOP) through PyTorch (``torch.matmul``, MKL/oneDNN sgemm) and NumPy (its BLAS sgemm),
at 1 and 2 threads, best of a few runs after a warm-up. The best of the two libraries at a thread
count is that thread count's peak: the large-GEMM rate the workloads are compared with. Beside it,
the CPU's own float32 multiply-add peak (``fma_peak.c``, one to two threads), which a library's
GEMM reaches only where its kernels use the CPU's widest vectors.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from typing import Any

import numpy as np

__all__ = ["cpu_info", "blas_info", "software_info", "measure_peak", "measure_fma_peak"]

_FLAGS_OF_NOTE = (
    "sse4_2",
    "avx",
    "fma",
    "avx2",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
)


def cpu_info() -> dict[str, Any]:
    """Model name, cores and threads (``lscpu``), and the vector-instruction flags of note."""
    info: dict[str, Any] = {"machine": platform.machine(), "os_cpu_count": os.cpu_count()}
    try:
        out = subprocess.run(
            ["lscpu"], capture_output=True, text=True, timeout=10, env={**os.environ, "LC_ALL": "C"}
        ).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    info["model_name"] = fields.get("Model name", platform.processor() or "unknown")
    for key, name in (
        ("CPU(s)", "cpus"),
        ("Core(s) per socket", "cores_per_socket"),
        ("Socket(s)", "sockets"),
        ("Thread(s) per core", "threads_per_core"),
        ("Hypervisor vendor", "hypervisor"),
        ("L2 cache", "l2_cache"),
        ("L3 cache", "l3_cache"),
        ("CPU max MHz", "max_mhz"),
    ):
        if key in fields:
            info[name] = fields[key]
    flags = set(fields.get("Flags", "").split())
    if not flags and os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            m = re.search(r"^flags\s*:\s*(.*)$", fh.read(), re.M)
            flags = set(m.group(1).split()) if m else set()
    info["flags"] = [f for f in _FLAGS_OF_NOTE if f in flags]
    try:
        info["affinity"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    return info


def blas_info() -> list[dict[str, Any]]:
    """threadpoolctl's view of the loaded BLAS and OpenMP libraries (call after importing peers)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = (
        "user_api",
        "internal_api",
        "version",
        "num_threads",
        "threading_layer",
        "architecture",
        "filepath",
    )
    rows = []
    for lib in threadpool_info():
        row = {k: lib.get(k) for k in keep}
        row["filepath"] = os.path.basename(str(row["filepath"]))
        rows.append(row)
    return rows


def software_info() -> dict[str, Any]:
    import bpcore
    from bpcore._loader import core

    env = {
        k: os.environ.get(k)
        for k in (
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "OPENBLAS_CORETYPE",
            "OPENBLAS_L2_SIZE",
            "MKL_NUM_THREADS",
            "BPCORE_SIMD",
        )
    }
    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "bpcore": bpcore.__version__,
        "bpcore_core": os.path.basename(core.__file__),
        "bpcore_simd": bpcore.simd,
        "bpcore_openmp": bpcore.has_openmp,
        "bpcore_default_threads": int(core.default_threads()),
        "env": {k: v for k, v in env.items() if v is not None},
    }


def _best_matmul_seconds(matmul: Any, n: int, rounds: int) -> float:
    matmul()  # warm-up: page in, thread pool up
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        matmul()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_peak(
    n: int, thread_counts: tuple[int, ...] = (1, 2), rounds: int = 3
) -> dict[str, Any]:
    """GFLOP/s of an n × n float32 sgemm per library and thread count; the best per thread count."""
    from peers import NUMPY, TORCH, available, threads

    flops = 2.0 * n**3
    rng = np.random.default_rng(0)
    A = rng.random((n, n), dtype=np.float32)
    B = rng.random((n, n), dtype=np.float32)
    C = np.empty((n, n), dtype=np.float32)
    runs: list[dict[str, Any]] = []
    libs: list[tuple[str, str, Any]] = [
        ("numpy.matmul (BLAS sgemm)", NUMPY, lambda: np.matmul(A, B, out=C))
    ]
    if available(TORCH):
        import torch

        At, Bt, Ct = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(C)
        libs.append(("torch.matmul (MKL sgemm)", TORCH, lambda: torch.matmul(At, Bt, out=Ct)))
    for k in thread_counts:
        for label, framework, fn in libs:
            with threads(framework, k):
                seconds = _best_matmul_seconds(fn, n, rounds)
            runs.append(
                {
                    "library": label,
                    "threads": k,
                    "seconds": seconds,
                    "gflops": flops / seconds / 1e9,
                }
            )
    best = {k: max(r["gflops"] for r in runs if r["threads"] == k) for k in thread_counts}
    return {
        "n": n,
        "flop": flops,
        "rounds": rounds,
        "runs": runs,
        "best_gflops": best,
        "peak_gflops": max(best.values()),
    }


def measure_fma_peak(
    thread_counts: tuple[int, ...] = (1, 2), rounds: int = 3, seconds: float = 0.2
) -> dict[int, float]:
    """GFLOP/s of float32 vector multiply-adds (``fma_peak.c``) at each thread count: that many
    threads run it at once, best of ``rounds`` runs of about ``seconds`` each. Raises
    ``native.NativeUnavailable`` when it cannot be compiled here."""
    import threading

    from native import FmaPeak

    peak = FmaPeak()
    # calibrate: the rounds that take about `seconds` on one thread
    n = 1 << 20
    while True:
        t0 = time.perf_counter()
        peak.run(n)
        dt = time.perf_counter() - t0
        if dt > 0.02:
            break
        n *= 4
    n = max(1, int(n * seconds / dt))
    best: dict[int, float] = {}
    for k in thread_counts:
        for _ in range(rounds):
            workers = [threading.Thread(target=peak.run, args=(n,)) for _ in range(k)]
            t0 = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            dt = time.perf_counter() - t0
            best[k] = max(best.get(k, 0.0), k * n * peak.flop_per_round / dt / 1e9)
    return best
