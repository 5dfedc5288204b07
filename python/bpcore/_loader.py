"""Pick the build of the C++ core that this CPU runs best.

The package ships a portable ``_core`` and, on x86-64, ``_core_avx2`` and ``_core_avx512`` built from
the same sources with wider vector instructions. ``BPCORE_SIMD=baseline|avx2|avx512`` forces one.
"""

from __future__ import annotations

import os
from importlib import import_module
from types import ModuleType

_VARIANTS = ("avx512", "avx2")


def load_core() -> ModuleType:
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
