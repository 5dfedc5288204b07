"""Input checks and conversions shared by every public entry point.

Conversion rule: X, Y and sample weights become C-ordered arrays of the network's dtype. An array
that already is one is used in place (no copy); any other real-valued array — another float dtype,
integers, booleans, Fortran order, a non-contiguous or read-only view, a memory map — is converted
once. Complex, object and string arrays are rejected, as are NaN and inf (the message gives the
first bad position) and float64 values too large for a float32 network.

Parameter checks: one family serves every module. Each check returns the value converted
(``bool``, ``int``, ``float``, ``str``) or raises TypeError (wrong type) or ValueError (out of
range) with a message that names the parameter and what it accepts. The wording has three
dialects, because each surface speaks its users' language: ``style="python"`` (the functions and
methods: "True or False", "a positive integer", "a finite number > 0"), ``"toml"`` (configuration
files: "true or false", "a positive number", "a number in [0, 1)") and ``"sklearn"`` (the
estimators, as scikit-learn words it: "an integer >= 1", "in [0, inf)", quoted choices).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import _sparse
from ._loader import core
from ._names import DTYPES, check_name, suggest

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "as_input",
    "as_integer",
    "as_matrix",
    "as_number",
    "as_targets",
    "as_sample_weight",
    "check_choice",
    "check_dropout",
    "check_dtype",
    "check_finite",
    "check_flag",
    "check_int",
    "check_network",
    "check_number",
    "check_positive_float",
    "check_positive_int",
    "check_real",
    "check_seed",
    "check_sizes",
    "check_threads",
    "validation_split",
]

Style = Literal["python", "toml", "sklearn"]


def _as_real_array(a: npt.ArrayLike, name: str, dtype: np.dtype) -> np.ndarray:
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
            raise ValueError(
                f"{name} has values up to {big:.3g}, beyond {dtype.name}'s range{hint}"
            )
    if arr.dtype == dtype and arr.flags.c_contiguous:
        return arr
    return np.ascontiguousarray(arr, dtype=dtype)


def check_finite(arr: np.ndarray, name: str) -> None:
    """A ValueError naming ``name`` and the first NaN or infinite value's index, if there is one."""
    bad = core.first_nonfinite(arr)
    if bad >= 0:
        where = np.unravel_index(bad, arr.shape)
        raise ValueError(
            f"{name} contains {arr[where]} at index {tuple(int(i) for i in where)}; "
            "NaN and infinite values are not allowed"
        )


def as_matrix(
    X: npt.ArrayLike,
    name: str,
    dtype: np.dtype,
    n_features: int,
    *,
    allow_empty: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """X as a (n, n_features) C-ordered array of ``dtype``; a 1-D X is one sample.

    ``allow_empty``: n = 0 is allowed (a rank's shard in distributed training may be empty).
    ``finite=False`` leaves the NaN/inf check to the caller (:func:`check_finite`)."""
    if _sparse.is_sparse(X):
        raise TypeError(
            f"{name} is a scipy.sparse matrix; this function needs a dense array "
            f"({name}.toarray()). Network.fit/predict/forward/backward/loss take sparse X."
        )
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
    if finite:
        check_finite(arr, name)
    return arr


def as_input(
    X: Any,
    name: str,
    dtype: np.dtype,
    n_features: int,
    *,
    allow_empty: bool = False,
    finite: bool = True,
) -> Any:
    """:func:`as_matrix` for a dense X; a ``scipy.sparse`` X becomes a canonical CSR matrix of
    ``dtype`` instead (:func:`bpcore._sparse.as_csr`, which checks its values), never a dense
    array."""
    if _sparse.is_sparse(X):
        return _sparse.as_csr(X, name, dtype, n_features, allow_empty=allow_empty)
    return as_matrix(X, name, dtype, n_features, allow_empty=allow_empty, finite=finite)


def as_targets(
    Y: npt.ArrayLike, name: str, dtype: np.dtype, n_outputs: int, n_samples: int
) -> np.ndarray:
    """Y as a (n_samples, n_outputs) C-ordered array; 1-D Y is one sample, or a column when q = 1.

    Class labels given where targets are expected (text, or 1-D integers with q > 1 outputs)
    raise an error that says how to encode them."""
    _check_labels(Y, name, n_outputs, n_samples)
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
    check_finite(arr, name)
    return arr


def _check_labels(Y: npt.ArrayLike, name: str, n_outputs: int, n_samples: int) -> None:
    """Raise a hint when ``Y`` holds class labels instead of the network's target rows."""
    try:
        arr = Y if isinstance(Y, np.ndarray) else np.asarray(Y)
    except Exception:  # ragged lists: _as_real_array says so
        return
    if arr.dtype.kind in "OUS" and arr.ndim <= 2:
        raise TypeError(
            f"{name} must be numeric; got labels of dtype {arr.dtype}: encode them first, e.g. "
            "prep = bpcore.preprocessing.Preprocessing.fit(X, y, task='classification'); "
            f"{name} = prep.encode(y) (one column per class), or use "
            "bpcore.MLPClassifier, which takes labels as scikit-learn does"
        )
    if (
        arr.ndim == 1
        and n_outputs > 1
        and n_samples != 1
        and arr.shape[0] == n_samples
        and arr.dtype.kind in "iub"
    ):
        raise ValueError(
            f"{name} must have shape ({n_samples}, {n_outputs}); got 1-D class labels of shape "
            f"{arr.shape}: the network has {n_outputs} outputs, one per class, so give one-hot "
            f"targets, e.g. {name} = bpcore.datasets.one_hot(y, {n_outputs}) (or "
            "bpcore.preprocessing.Preprocessing for other labels)"
        )


def as_sample_weight(
    w: npt.ArrayLike | None, dtype: np.dtype, n_samples: int, *, require_positive: bool = True
) -> np.ndarray | None:
    """``require_positive=False`` skips the check for a positive weight (a shard's weights may all
    be zero in distributed training; the check is then made over all shards)."""
    if w is None:
        return None
    arr = _as_real_array(w, "sample_weight", dtype)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have shape ({n_samples},); got {arr.shape}")
    check_finite(arr, "sample_weight")
    if (arr < 0).any():
        raise ValueError("sample_weight must be non-negative")
    if require_positive and not (arr > 0).any():
        raise ValueError(
            "sample_weight must not be all zero: at least one positive weight is needed"
        )
    return arr


def check_flag(value: object, name: str, *, style: Style = "python") -> bool:
    """``value`` as a bool; only True/False (and NumPy's bools) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        words = "true or false" if style == "toml" else "True or False"
        raise TypeError(f"{name} must be {words}; got {value!r}")
    return bool(value)


def check_int(value: object, name: str, *, minimum: int = 1, style: Style = "python") -> int:
    """``value`` as an int ≥ ``minimum``; bools are not integers here."""
    if style == "sklearn" or minimum != 1:
        what = f"an integer >= {minimum}"
    else:
        what = "a positive integer"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {what}; got {value!r}")
    if value < minimum:
        got = repr(value) if style == "toml" else str(value)
        raise ValueError(f"{name} must be {what}; got {got}")
    return int(value)


def as_number(value: object, name: str) -> float:
    """``value`` as a finite float, with no range: for options whose range the core checks.

    TypeError for what ``float()`` cannot read and for bools and strings, ValueError for NaN and
    infinities, which no option accepts."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number; got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return x


def as_integer(value: object, name: str) -> int:
    """``value`` as an int, with no range (the core checks it); bools are not integers here."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    return int(value)


def check_positive_int(value: object, name: str) -> int:
    """``value`` as an int ≥ 1; errors name ``name``."""
    return check_int(value, name, minimum=1)


def check_number(value: object, name: str, *, minimum: float = 0.0, strict: bool = False) -> float:
    """``value`` as a finite float ≥ ``minimum`` (> with ``strict``); errors name ``name``.

    Accepts anything ``float()`` reads but bools and strings (``style="python"``)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number; got {value!r}") from None
    if not np.isfinite(out) or out < minimum or (strict and out == minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
    return out


def check_positive_float(value: object, name: str) -> float:
    """``value`` as a positive, finite float; errors name ``name``."""
    return check_number(value, name, minimum=0.0, strict=True)


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    left = "(" if low_open or low == -math.inf else "["
    right = ")" if high_open or high == math.inf else "]"
    hi = "inf" if high == math.inf else f"{high:g}"
    lo = "-inf" if low == -math.inf else f"{low:g}"
    return f"{left}{lo}, {hi}{right}"


def check_real(
    value: object,
    name: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    style: Style = "toml",
) -> float:
    """``value`` as a finite float in the interval from ``low`` to ``high`` (open ends as told).

    Only real numbers are accepted (``numbers.Real``: int, float and NumPy's), never bools.
    ``style="toml"`` words the range as "a positive number", "a non-negative number" or "a
    number in [0, 1)"; ``style="sklearn"`` as "in [0, inf)".
    """
    if style == "sklearn":
        expected = f"in {_interval(low, high, low_open, high_open)}"
        type_expected = "a real number"
    else:
        if high == math.inf and low == 0:
            expected = "a positive number" if low_open else "a non-negative number"
        elif high == math.inf and low == -math.inf:
            expected = "a finite number"
        else:
            expected = f"a number in {_interval(low, high, low_open, high_open)}"
        type_expected = expected
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {type_expected}; got {value!r}")
    x = float(value)
    if (
        not math.isfinite(x)
        or x < low
        or x > high
        or (low_open and x == low)
        or (high_open and x == high)
    ):
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return x


def check_choice(value: object, name: str, valid: Sequence[str], *, style: Style = "python") -> str:
    """``value`` if it is one of ``valid`` (ValueError naming the choices otherwise)."""
    if style == "sklearn":
        if not isinstance(value, str) or value not in valid:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, valid))}; got {value!r}")
        return value
    return check_name(value, tuple(valid), name)


def check_seed(seed: object, name: str = "seed") -> int:
    """A seed of the core's generators: an integer in [0, 2**64)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {seed!r}")
    if seed >= 2**64:
        raise ValueError(f"{name} must be below 2**64; got {seed}")
    return int(seed)


def check_threads(n_threads: object) -> int:
    """Threads over the batch; None gives 0, the OpenMP default (OMP_NUM_THREADS, threadpoolctl)."""
    if n_threads is None:
        return 0
    # OpenMP cannot start tens of thousands of threads; more threads than CPUs never helps
    return min(check_positive_int(n_threads, "n_threads"), 4 * (os.cpu_count() or 1))


def check_dtype(dtype: npt.DTypeLike) -> np.dtype:
    """The network dtype, float32 or float64, as a NumPy dtype."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        close = suggest(dtype, DTYPES) if isinstance(dtype, str) else None
        hint = f" (did you mean {close!r}?)" if close else ""
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}{hint}")
    return dt


def check_sizes(sizes: Any) -> list[int]:
    """``[d, n_1, …, q]``: at least two positive integers."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a sequence of layer sizes like [4, 5, 3]; got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least the input and output sizes; got {list(sizes)}")
    out = []
    for i, s in enumerate(sizes):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"sizes[{i}] must be a positive integer; got {s!r}")
        if s < 1:
            raise ValueError(f"sizes[{i}] must be a positive integer; got {s}")
        out.append(int(s))
    return out


def check_dropout(value: object, n_hidden: int, name: str = "dropout") -> list[float]:
    """Dropout rates p_l of the hidden layers: one number for all of them or a sequence of
    ``n_hidden`` numbers, each in [0, 1) (the probability of dropping a unit)."""

    def rate(p: object, where: str) -> float:
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
            raise TypeError(f"{where} must be a number in [0, 1); got {p!r}")
        x = float(p)
        if not 0.0 <= x < 1.0:  # NaN fails too
            raise ValueError(
                f"{where} must be a number in [0, 1) (the probability of dropping a unit); "
                f"got {p!r}"
            )
        return x

    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        x = rate(value, name)
        if x > 0 and n_hidden == 0:
            raise ValueError(
                f"{name} applies to hidden layers and the network has none; got {value!r}"
            )
        return [x] * n_hidden
    if isinstance(value, (str, bytes, bool, np.bool_)) or not hasattr(value, "__len__"):
        raise TypeError(
            f"{name} must be a number in [0, 1) or a list of {n_hidden} such numbers (one per "
            f"hidden layer); got {value!r}"
        )
    rates = list(value)  # type: ignore[call-overload]
    if len(rates) != n_hidden:
        raise ValueError(
            f"{name} lists {len(rates)} rates but the network has {n_hidden} hidden layers; "
            "give one rate per hidden layer or a single number"
        )
    return [rate(p, f"{name}[{i}]") for i, p in enumerate(rates)]


def check_network(net: object, name: str = "net") -> None:
    """TypeError unless ``net`` is a :class:`bpcore.Network`."""
    from ._state import NetworkBase

    if not isinstance(net, NetworkBase):
        raise TypeError(f"{name} must be a bpcore.Network; got {type(net).__name__}")


def validation_split(n_samples: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seeded hold-out split: sorted (training, validation) row indices of ``range(n)``.

    ``round(fraction · n)`` rows (chosen by a permutation drawn from ``seed``) go to validation;
    the same seed gives the same split. A fraction of 0 gives an empty validation set; a positive
    one that leaves no validation or no training row is an error. The arguments are assumed
    checked: ``n_samples`` ≥ 1, ``fraction`` in [0, 1), ``seed`` ≥ 0.
    """
    n_val = int(round(fraction * n_samples))
    if fraction > 0 and (n_val < 1 or n_val >= n_samples):
        raise ValueError(
            f"validation_fraction={fraction:g} of {n_samples} samples leaves no "
            "validation or no training sample"
        )
    order = np.random.default_rng(int(seed)).permutation(int(n_samples))
    return np.sort(order[n_val:]), np.sort(order[:n_val])
