"""Input checks and conversions shared by every public entry point.

Conversion rule: X, Y and sample weights become C-ordered arrays of the network's dtype. An array
that already is one is used in place (no copy); any other real-valued array — another float dtype,
integers, booleans, Fortran order, a non-contiguous or read-only view, a memory map — is converted
once. Complex, object and string arrays are rejected, as are NaN and inf (the message gives the
first bad position) and float64 values too large for a float32 network.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._loader import core

__all__ = [
    "as_matrix",
    "as_targets",
    "as_sample_weight",
    "check_positive_int",
    "check_positive_float",
    "check_number",
]


def _as_real_array(a: Any, name: str, dtype: np.dtype) -> np.ndarray:
    if isinstance(a, np.ndarray):
        arr = a
    else:
        try:
            arr = np.asarray(a)
        except Exception as exc:  # ragged lists and the like
            raise ValueError(f"{name} could not be read as a numeric array: {exc}") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real-valued; got complex dtype {arr.dtype}")
    if kind not in "fiub":
        raise TypeError(f"{name} must be numeric (float, int or bool); got dtype {arr.dtype}")
    if kind == "f" and arr.dtype.itemsize > dtype.itemsize and arr.size:
        finite = arr[np.isfinite(arr)]
        big = np.abs(finite).max() if finite.size else 0.0
        if big > np.finfo(dtype).max:
            hint = "; use dtype='float64'" if dtype == np.float32 else ""
            raise ValueError(f"{name} has values up to {big:.3g}, beyond {dtype.name}'s range{hint}")
    if arr.dtype == dtype and arr.flags.c_contiguous:
        return arr
    return np.ascontiguousarray(arr, dtype=dtype)


def _check_finite(arr: np.ndarray, name: str) -> None:
    bad = core.first_nonfinite(arr)
    if bad >= 0:
        where = np.unravel_index(bad, arr.shape)
        raise ValueError(f"{name} contains {arr[where]} at index {tuple(int(i) for i in where)}; "
                         "NaN and infinite values are not allowed")


def as_matrix(X: Any, name: str, dtype: np.dtype, n_features: int, *,
              allow_empty: bool = False) -> np.ndarray:
    """X as a (n, n_features) C-ordered array of ``dtype``; a 1-D X is one sample.

    ``allow_empty``: n = 0 is allowed (a rank's shard in distributed training may be empty)."""
    arr = _as_real_array(X, name, dtype)
    if arr.ndim == 1 and not (allow_empty and arr.size == 0):
        arr = arr.reshape(1, -1)
    elif arr.ndim == 1:
        arr = arr.reshape(0, n_features)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, {n_features}); got shape {arr.shape}")
    if arr.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} has no samples (shape {arr.shape})")
    if arr.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} features (columns); got shape {arr.shape}")
    _check_finite(arr, name)
    return arr


def as_targets(Y: Any, name: str, dtype: np.dtype, n_outputs: int, n_samples: int) -> np.ndarray:
    """Y as a (n_samples, n_outputs) C-ordered array; 1-D Y is one sample, or a column when q = 1."""
    arr = _as_real_array(Y, name, dtype)
    if arr.ndim == 1 and n_samples == 0 and arr.size == 0:
        arr = arr.reshape(0, n_outputs)
    elif arr.ndim == 1:
        arr = arr.reshape(-1, 1) if n_outputs == 1 and n_samples != 1 else arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != n_outputs:
        raise ValueError(f"{name} must have shape ({n_samples}, {n_outputs}); got {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"X and {name} have different numbers of samples: {n_samples} and {arr.shape[0]}"
        )
    _check_finite(arr, name)
    return arr


def as_sample_weight(w: Any, dtype: np.dtype, n_samples: int, *,
                     require_positive: bool = True) -> np.ndarray | None:
    """``require_positive=False`` skips the check for a positive weight (a shard's weights may all
    be zero in distributed training; the check is then made over all shards)."""
    if w is None:
        return None
    arr = _as_real_array(w, "sample_weight", dtype)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have shape ({n_samples},); got {arr.shape}")
    _check_finite(arr, "sample_weight")
    if (arr < 0).any():
        raise ValueError("sample_weight must be non-negative")
    if require_positive and not (arr > 0).any():
        raise ValueError("sample_weight must have at least one positive weight")
    return arr


def check_positive_int(value: Any, name: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    return int(value)


def check_number(value: Any, name: str, *, minimum: float = 0.0, strict: bool = False) -> float:
    """``value`` as a finite float ≥ ``minimum`` (> with ``strict``); errors name ``name``."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number; got {value!r}") from None
    if not np.isfinite(out) or out < minimum or (strict and out == minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
    return out


def check_positive_float(value: Any, name: str) -> float:
    """``value`` as a positive, finite float; errors name ``name``."""
    return check_number(value, name, minimum=0.0, strict=True)
