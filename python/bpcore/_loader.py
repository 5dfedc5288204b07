"""Pick the build of the C++ core that this CPU runs best.

The package ships a portable ``_core`` and, on x86-64, ``_core_avx2`` and ``_core_avx512`` built from
the same sources with wider vector instructions. ``BPCORE_SIMD=baseline|avx2|avx512`` forces one.

OpenMP threads that wait for work spin by default (GNU OpenMP: 300000 rounds, some milliseconds);
when other processes share the cores (a busy machine) the spinning threads take the time of the
working one and training can get many times slower. Sleeping at once costs the other way: waking a
thread takes tens of microseconds, paid at every parallel call. Unless ``OMP_WAIT_POLICY`` is set,
the core's OpenMP runtime is therefore started with ``OMP_WAIT_POLICY=PASSIVE`` and, unless
``GOMP_SPINCOUNT`` is set, ``GOMP_SPINCOUNT=1000``: a waiting thread spins about ten microseconds,
long enough for the next call of a training loop, then sleeps (and never spins when there are more
threads than cores). Measured on 2 cores, digits' full-batch iterations (lbfgs, rprop) took
1.35-1.4x less time than with sleeping at once on an idle machine, and 1.1x more next to two busy
processes. The variables are set only while the core loads, so other libraries' OpenMP runtimes are
not affected.
"""

from __future__ import annotations

import os
from importlib import import_module
from types import ModuleType

_VARIANTS = ("avx512", "avx2")


_WAIT = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "1000"}


def load_core() -> ModuleType:
    # the user's OMP_WAIT_POLICY is taken as it is (GNU OpenMP derives the spin count from it)
    added = [] if "OMP_WAIT_POLICY" in os.environ else [k for k in _WAIT if k not in os.environ]
    for name in added:
        os.environ[name] = _WAIT[name]
    try:
        return _pick_core()
    finally:
        for name in added:
            os.environ.pop(name, None)


def _pick_core() -> ModuleType:
    # bpcore._cpu answers which builds this CPU runs without loading one: only the chosen build is
    # loaded (each is a 2 MB library whose types pybind11 registers at import)
    from ._cpu import supports

    wanted = os.environ.get("BPCORE_SIMD", "").strip().lower()
    if wanted in ("baseline", "none"):
        return import_module("bpcore._core")
    if wanted and wanted not in _VARIANTS:
        raise ImportError(f"BPCORE_SIMD must be one of baseline, avx2, avx512; got {wanted!r}")
    for variant in _VARIANTS:
        if wanted and wanted != variant:
            continue
        if not supports(variant):
            continue
        try:
            return import_module(f"bpcore._core_{variant}")
        except ImportError:
            continue
    return import_module("bpcore._core")


core = load_core()
