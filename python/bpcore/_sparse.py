"""Sparse X: any ``scipy.sparse`` matrix or array, converted once to CSR for the core.

Only the first layer reads X, so a sparse X costs memory and time in proportion to its stored
values: Z^[1] = X W^[1] + b^[1] and ∂J/∂W^[1] = −(1/n) Xᵀ δ^[1] are products over the non-zeros
(the core's ``sparse.hpp``), and X is never densified. scipy is optional: it is never imported
here; a sparse X can only come from a program that has imported ``scipy.sparse`` already.

Conversion rule: the CSR form of X with values of the network's dtype, sorted column indices,
duplicates summed (scipy's canonical form) and int32 or int64 indices, made once; a CSR matrix
that already is one is used in place (its arrays are read by the core with no copy).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ._loader import core

__all__ = ["as_csr", "core_matrix", "is_sparse"]


def is_sparse(X: object) -> bool:
    """True for a ``scipy.sparse`` matrix or array (without importing scipy)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(X))


def as_csr(
    X: Any, name: str, dtype: np.dtype, n_features: int, *, allow_empty: bool = False
) -> Any:
    """X as a canonical CSR matrix of ``dtype`` with (n, n_features) shape; see the module."""
    shape = X.shape
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, {n_features}); got shape {shape}")
    if shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} has no samples (shape {shape})")
    if shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} features (columns); got shape {shape}")
    kind = np.dtype(X.dtype).kind
    if kind == "c":
        raise TypeError(f"{name} must be real-valued; got complex dtype {X.dtype}")
    if kind not in "fiub":
        raise TypeError(f"{name} must be numeric (float, int or bool); got dtype {X.dtype}")
    csr = X if X.format == "csr" else X.tocsr()
    owned = csr is not X
    if csr.dtype != dtype:
        if kind == "f" and csr.dtype.itemsize > np.dtype(dtype).itemsize and csr.nnz:
            finite = csr.data[np.isfinite(csr.data)]
            big = float(np.abs(finite).max()) if finite.size else 0.0
            if big > float(np.finfo(dtype).max):
                hint = "; use dtype='float64'" if dtype == np.float32 else ""
                raise ValueError(
                    f"{name} has values up to {big:.3g}, beyond {np.dtype(dtype).name}'s "
                    f"range{hint}"
                )
        csr = csr.astype(dtype)
        owned = True
    if not csr.has_canonical_format:
        if not owned:
            csr = csr.copy()  # the caller's matrix is left as it is
            owned = True
        csr.sum_duplicates()  # sorts the indices of each row and adds up repeated ones
    index = (csr.indices.dtype, csr.indptr.dtype)
    if index not in ((np.int32, np.int32), (np.int64, np.int64)) or not all(
        a.flags.c_contiguous for a in (csr.data, csr.indices, csr.indptr)
    ):
        if not owned:
            csr = csr.copy()
        csr.indices = np.ascontiguousarray(csr.indices, dtype=np.int64)
        csr.indptr = np.ascontiguousarray(csr.indptr, dtype=np.int64)
        csr.data = np.ascontiguousarray(csr.data)
    bad = core.first_nonfinite(csr.data)
    if bad >= 0:
        row = int(np.searchsorted(csr.indptr, bad, side="right")) - 1
        col = int(csr.indices[bad])
        raise ValueError(
            f"{name} contains {csr.data[bad]} at index ({row}, {col}); "
            "NaN and infinite values are not allowed"
        )
    return csr


def core_matrix(X: Any) -> Any:
    """The core's view of X: a dense array as it is, a CSR matrix (from :func:`as_csr`) as a
    ``Csr32``/``Csr64`` over its own arrays."""
    if isinstance(X, np.ndarray) or not is_sparse(X):
        return X
    cls = core.Csr64 if X.dtype == np.float64 else core.Csr32
    return cls(X.data, X.indices, X.indptr, X.shape)
