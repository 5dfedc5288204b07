"""bpcore: a fast, light multilayer perceptron with a C++ core, and a glass box for back-propagation.

The notation is that of shared/NOTATION.md: samples are rows, Z^[l] = H^[l-1] W^[l] + b^[l],
H^[l] = f^[l](Z^[l]), δ^[l] = -∂J/∂Z^[l].
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version as _version

from ._loader import core as _core
from ._names import ACTIVATIONS, HIDDEN_ACTIVATIONS, INITS, LOSSES, OPTIMIZERS, SCHEDULES
from .network import Network
from .training import EarlyStopping, History, StopTraining, TrainingDivergedError

try:
    __version__ = _version("bpcore")
except PackageNotFoundError:  # running from a source tree
    __version__ = _core.__version__

has_openmp: bool = bool(_core.has_openmp())
simd: str = _core.simd

__all__ = [
    "Network",
    "History",
    "EarlyStopping",
    "StopTraining",
    "TrainingDivergedError",
    "ACTIVATIONS",
    "HIDDEN_ACTIVATIONS",
    "LOSSES",
    "INITS",
    "OPTIMIZERS",
    "SCHEDULES",
    "has_openmp",
    "simd",
    "__version__",
]
