"""The activation functions f and their derivatives f′, evaluated by the C++ core.

``activate(name, z)`` is H = f(Z) and ``derivative(name, z)`` is f′(Z), element by element, for
any real array: the same kernels a network runs in its forward and backward passes. float32 input
stays float32; float64 and any other real input is computed in float64. softmax acts on the last
axis and has no element-wise derivative. The names and their formulas are in
``bpcore.ACTIVATIONS`` and ``bpcore._names.ACTIVATION_INFO``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._loader import core
from ._names import ACTIVATION_INFO, ACTIVATIONS, check_name

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["activate", "derivative"]


def _as_real(z: npt.ArrayLike) -> np.ndarray:
    arr = np.asarray(z)
    if arr.dtype == np.float32:
        return np.asarray(arr, order="C")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"z must be an array of real numbers; got dtype {arr.dtype}")
    return np.asarray(arr, dtype=np.float64, order="C")  # keeps a 0-d array 0-d


def _alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(f"alpha must be a real number; got {type(alpha).__name__}")
    if not np.isfinite(alpha):
        raise ValueError(f"alpha must be finite; got {alpha!r}")
    return float(alpha)


def activate(name: str, z: npt.ArrayLike, alpha: float = 0.25) -> np.ndarray:
    """H = f(Z) for the activation ``name``, computed by the core.

    Parameters
    ----------
    name : str
        One of ``bpcore.ACTIVATIONS``: identity, sigmoid, tanh, relu, prelu, softmax, leaky_relu,
        elu, softplus, gelu, silu, exp (e^z, the output of the poisson loss).
    z : array-like of real numbers, any shape
        Z; softmax normalises over the last axis.
    alpha : float
        α of prelu, max(z, 0) + α min(z, 0) (its initial value in a network is 0.25).

    Returns
    -------
    ndarray of the shape of ``z``; float32 for float32 input, float64 otherwise.
    """
    check_name(name, ACTIVATIONS, "name")
    arr = _as_real(z)
    a = _alpha(alpha)
    if not ACTIVATION_INFO[name].hidden:  # softmax: the core acts on the rows of a 2-D array
        rows = arr.reshape(-1, arr.shape[-1] if arr.ndim else 1)
        return core.activate(name, np.asarray(rows, order="C"), a).reshape(arr.shape)
    return core.activate(name, arr, a)


# the output-only activations without an element-wise f′ (softmax; exp has one, f′ = h)
_ROW_WISE = frozenset(
    n for n, info in ACTIVATION_INFO.items() if not info.hidden and not info.from_output
)


def derivative(name: str, z: npt.ArrayLike, alpha: float = 0.25) -> np.ndarray:
    """f′(Z) element-wise for the activation ``name``, computed by the core.

    Where f′ is a function of H (sigmoid′ = h(1 − h), tanh′ = 1 − h², elu, softplus) the core
    computes H first, exactly as in back-propagation. relu′(0) = 0, prelu′(0) = α,
    leaky_relu′(0) = 0.01: the point 0 belongs to the negative side.

    Parameters
    ----------
    name : str
        One of ``bpcore.HIDDEN_ACTIVATIONS`` or exp (softmax has no element-wise derivative:
        ValueError).
    z : array-like of real numbers, any shape
    alpha : float
        α of prelu.

    Returns
    -------
    ndarray of the shape of ``z``; float32 for float32 input, float64 otherwise.
    """
    check_name(name, ACTIVATIONS, "name")
    arr = _as_real(z)
    a = _alpha(alpha)
    if name in _ROW_WISE:
        raise ValueError(
            f"{name} has no element-wise derivative; with cross_entropy, δ^[L] = Y − Ŷ directly"
        )
    return core.derivative(name, arr, a)
