"""Pick the build of the C++ core that this CPU runs best.

The package ships a portable ``_core`` and, on x86-64, ``_core_avx2`` and ``_core_avx512`` built from
the same sources with wider vector instructions. ``BPCORE_SIMD=baseline|avx2|avx512`` forces one.

OpenMP threads that wait for work spin by default; when other processes share the cores (a
GridSearchCV with n_jobs, a busy machine) the spinning threads take the time of the working one
and training can get many times slower. Unless ``OMP_WAIT_POLICY`` is set, the core's OpenMP
runtime is therefore started with ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep); the variable
is set only while the core loads, so other libraries' OpenMP runtimes are not affected.
"""

from __future__ import annotations

import os
from importlib import import_module
from types import ModuleType

_VARIANTS = ("avx512", "avx2")


def load_core() -> ModuleType:
    set_policy = "OMP_WAIT_POLICY" not in os.environ
    if set_policy:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        return _pick_core()
    finally:
        if set_policy:
            os.environ.pop("OMP_WAIT_POLICY", None)


def _pick_core() -> ModuleType:
    base = import_module("bpcore._core")
    wanted = os.environ.get("BPCORE_SIMD", "").strip().lower()
    if wanted in ("baseline", "none"):
        return base
    if wanted and wanted not in _VARIANTS:
        raise ImportError(f"BPCORE_SIMD must be one of baseline, avx2, avx512; got {wanted!r}")
    for variant in _VARIANTS:
        if wanted and wanted != variant:
            continue
        if not base.cpu_supports(variant):
            continue
        try:
            return import_module(f"bpcore._core_{variant}")
        except ImportError:
            continue
    return base


core = load_core()
