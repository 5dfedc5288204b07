"""The benchmark's native peers, compiled at run time and loaded with ctypes.

- ``fann_shim.c``: FANN 2.2's double build (Debian's ``libfann-dev``) trained online, its epoch
  loop timed in C. Built with the system C compiler: ``cc -O2 -shared -fPIC … -ldoublefann -lm``.
- ``fixed_loop.cpp``: the notes' online BP with the sizes 4-5-3 fixed at compile time, a reference
  ceiling for W1 (not shipped code). Built with ``c++ -O2 -march=native -shared -fPIC``.
- ``fma_peak.c``: chains of float32 vector multiply-adds, the CPU's arithmetic peak for the
  report's limits. Built with ``cc -O2 -march=native -shared -fPIC``.

Each library is compiled once per source text and compiler command into a cache directory
(``$BPCORE_BENCH_CACHE``, else ``<tmp>/bpcore-bench-<uid>``) and reused by later runs. Parameters
cross the boundary in bpcore's layout: for l = 1 … L, W^[l] (n_{l-1}, n_l) row-major, then b^[l].
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

import numpy as np

__all__ = [
    "NativeUnavailable",
    "build",
    "Fann",
    "FixedLoop",
    "FmaPeak",
    "flatten",
    "unflatten",
    "FANN_INSTALL",
]

_HERE = os.path.dirname(os.path.abspath(__file__))
FANN_INSTALL = "apt-get install libfann-dev"


class NativeUnavailable(RuntimeError):
    """A native peer cannot be built here (no compiler, or a missing library); ``str`` says why."""


def _cache_dir() -> str:
    path = os.environ.get("BPCORE_BENCH_CACHE") or os.path.join(
        tempfile.gettempdir(), f"bpcore-bench-{os.getuid() if hasattr(os, 'getuid') else 0}"
    )
    os.makedirs(path, exist_ok=True)
    return path


def build(source: str, compiler: str, flags: Sequence[str], libs: Sequence[str] = ()) -> str:
    """Compile ``benchmarks/<source>`` into a shared library (cached) and return its path."""
    src = os.path.join(_HERE, source)
    exe = shutil.which(compiler)
    if exe is None:
        raise NativeUnavailable(f"no {compiler!r} compiler on PATH to build {source}")
    with open(src, "rb") as fh:
        text = fh.read()
    command = [exe, *flags, "-shared", "-fPIC"]
    key = hashlib.sha256(text + repr((command, list(libs))).encode()).hexdigest()[:16]
    stem = os.path.splitext(source)[0]
    path = os.path.join(_cache_dir(), f"{stem}-{key}.so")
    if os.path.exists(path):
        return path
    tmp = f"{path}.{os.getpid()}.tmp"
    proc = subprocess.run(
        [*command, src, "-o", tmp, *libs], capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise NativeUnavailable(
            f"compiling {source} failed ({' '.join(command)}):\n" + proc.stderr.strip()[-2000:]
        )
    os.replace(tmp, path)
    return path


def flatten(params: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """bpcore's [(W^[l], b^[l])] as one float64 vector: W^[1] row-major, b^[1], W^[2], …"""
    return np.ascontiguousarray(
        np.concatenate([np.concatenate([np.ravel(W), np.ravel(b)]) for W, b in params]),
        dtype=np.float64,
    )


def unflatten(flat: np.ndarray, sizes: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    out, off = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = flat[off : off + n_in * n_out].reshape(n_in, n_out).copy()
        off += n_in * n_out
        out.append((W, flat[off : off + n_out].copy()))
        off += n_out
    if off != flat.size:
        raise ValueError(f"params has {flat.size} values; sizes {list(sizes)} need {off}")
    return out


def _f64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def _orders_array(orders: Sequence[np.ndarray] | None, n: int) -> np.ndarray | None:
    if orders is None:
        return None
    arr = np.ascontiguousarray(np.stack([np.asarray(o) for o in orders]), dtype=np.int32)
    if arr.ndim != 2 or arr.shape[1] != n:
        raise ValueError(f"orders must be epochs × {n} row indices, got shape {arr.shape}")
    return arr


_P = ctypes.POINTER
_dbl_p = _P(ctypes.c_double)
_int_p = _P(ctypes.c_int)
_uint_p = _P(ctypes.c_uint)


def _ptr(a: np.ndarray | None, kind: object) -> object:
    return None if a is None else a.ctypes.data_as(kind)


class Fann:
    """FANN's double build through ``fann_shim.c``. Raises :class:`NativeUnavailable` with the
    ``apt-get`` line when ``doublefann.h`` or ``libdoublefann`` is missing."""

    _ERRORS = {
        1: "fann_create_standard_array failed",
        2: "the network's connections are not fully connected layers of these sizes",
        3: "fann_create_train failed",
        4: "an order holds a row index out of range",
    }

    def __init__(self) -> None:
        cc = os.environ.get("CC", "cc")
        try:
            path = build("fann_shim.c", cc, ["-O2"], ["-ldoublefann", "-lm"])
        except NativeUnavailable as exc:
            text = str(exc)
            if "doublefann" in text or "fann.h" in text:
                raise NativeUnavailable(
                    f"FANN (doublefann.h, libdoublefann) is not installed: {FANN_INSTALL}"
                ) from None
            raise
        lib = ctypes.CDLL(path)
        fn = lib.fann_shim_train
        fn.restype = ctypes.c_int
        fn.argtypes = [
            ctypes.c_uint,
            _uint_p,
            _dbl_p,
            _int_p,
            ctypes.c_uint,
            ctypes.c_uint,
            _dbl_p,
            _dbl_p,
            ctypes.c_double,
            ctypes.c_uint,
            _dbl_p,
            _dbl_p,
            _dbl_p,
        ]
        self._train = fn
        self.path = path

    def train(
        self,
        sizes: Sequence[int],
        X: np.ndarray,
        Y: np.ndarray,
        lr: float,
        epochs: int,
        init: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
        orders: Sequence[np.ndarray] | None = None,
        seed: int = 0,
    ) -> tuple[float, list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """Online BP for ``epochs`` epochs (FANN's shuffle each epoch, or the rows in ``orders``),
        from ``init`` (else FANN's ±0.1). Returns (seconds of the epoch loop, trained [(W, b)],
        the trained network's outputs on X)."""
        X, Y = _f64(X), _f64(Y)
        n = X.shape[0]
        if X.shape[1] != sizes[0] or Y.shape != (n, sizes[-1]):
            raise ValueError(f"X {X.shape} and Y {Y.shape} do not fit sizes {list(sizes)}")
        sz = np.ascontiguousarray(sizes, dtype=np.uintc)
        flat_init = None if init is None else flatten(init)
        n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
        if flat_init is not None and flat_init.size != n_params:
            raise ValueError(
                f"init has {flat_init.size} values; sizes {list(sizes)} need {n_params}"
            )
        order_arr = _orders_array(orders, n)
        if order_arr is not None:
            epochs = order_arr.shape[0]
        out = np.empty(n_params, dtype=np.float64)
        outputs = np.empty((n, sizes[-1]), dtype=np.float64)
        seconds = ctypes.c_double(0.0)
        rc = self._train(
            len(sizes),
            _ptr(sz, _uint_p),
            _ptr(flat_init, _dbl_p),
            _ptr(order_arr, _int_p),
            seed,
            n,
            _ptr(X, _dbl_p),
            _ptr(Y, _dbl_p),
            float(lr),
            epochs,
            _ptr(out, _dbl_p),
            _ptr(outputs, _dbl_p),
            ctypes.byref(seconds),
        )
        if rc != 0:
            raise RuntimeError(f"fann_shim_train: {self._ERRORS.get(rc, rc)}")
        return seconds.value, unflatten(out, sizes), outputs


class FixedLoop:
    """``fixed_loop.cpp``: W1's 4-5-3 online BP with the sizes fixed at compile time."""

    SIZES = (4, 5, 3)
    FLAGS = ("-O2", "-march=native", "-std=c++17")

    def __init__(self) -> None:
        path = build("fixed_loop.cpp", os.environ.get("CXX", "c++"), list(self.FLAGS))
        lib = ctypes.CDLL(path)
        fn = lib.fixed_loop_train
        fn.restype = ctypes.c_double
        fn.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            _dbl_p,
            _dbl_p,
            _int_p,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_double,
            _dbl_p,
        ]
        self._train = fn
        self.path = path

    def train(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        init: Sequence[tuple[np.ndarray, np.ndarray]],
        orders: Sequence[np.ndarray],
        alpha: float,
    ) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
        """Returns (seconds of the epoch loop, trained [(W, b)])."""
        X, Y = _f64(X), _f64(Y)
        d, h, q = self.SIZES
        n = X.shape[0]
        if X.shape[1] != d or Y.shape != (n, q):
            raise ValueError(
                f"X {X.shape}, Y {Y.shape}: the fixed loop is compiled for {d}-{h}-{q}"
            )
        params = flatten(init)
        order_arr = _orders_array(orders, n)
        seconds = self._train(
            d,
            h,
            q,
            _ptr(X, _dbl_p),
            _ptr(Y, _dbl_p),
            _ptr(order_arr, _int_p),
            n,
            order_arr.shape[0],
            float(alpha),
            _ptr(params, _dbl_p),
        )
        if seconds < 0:
            raise RuntimeError("fixed_loop_train refused its input (sizes or an order)")
        return seconds, unflatten(params, self.SIZES)


class FmaPeak:
    """``fma_peak.c``: the CPU's float32 multiply-add peak on the calling thread. ``run(rounds)``
    releases the GIL (ctypes does), so threads calling it at once load as many cores."""

    FLAGS = ("-O2", "-march=native")

    def __init__(self) -> None:
        path = build("fma_peak.c", os.environ.get("CC", "cc"), list(self.FLAGS))
        lib = ctypes.CDLL(path)
        lib.fma_peak_run.restype = ctypes.c_double
        lib.fma_peak_run.argtypes = [ctypes.c_long]
        lib.fma_peak_flop_per_round.restype = ctypes.c_long
        lib.fma_peak_flop_per_round.argtypes = []
        self.run = lib.fma_peak_run
        self.flop_per_round = int(lib.fma_peak_flop_per_round())
        self.path = path
