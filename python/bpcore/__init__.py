"""bpcore: a fast, light multilayer perceptron with a C++ core, and a glass box for back-propagation.

The notation is that of docs/notation.md: samples are rows, Z^[l] = H^[l-1] W^[l] + b^[l],
H^[l] = f^[l](Z^[l]), δ^[l] = -∂J/∂Z^[l].
"""

from ._loader import core as _core
from ._names import ACTIVATIONS, HIDDEN_ACTIVATIONS, INITS, LOSSES, OPTIMIZERS, SCHEDULES
from ._version import __version__
from .activations import activate, derivative
from .network import Network
from .training import EarlyStopping, History, ModelCheckpoint, StopTraining, TrainingDivergedError

has_openmp: bool = bool(_core.has_openmp())
simd: str = _core.simd

# Submodules and names that pull in more than NumPy are imported on first use.
_LAZY = {
    "datasets": ("bpcore.datasets", None),
    "glassbox": ("bpcore.glassbox", None),
    "io": ("bpcore.io", None),
    "plot": ("bpcore.plot", None),
    "config": ("bpcore.config", None),
    "preprocessing": ("bpcore.preprocessing", None),
    "dataio": ("bpcore.dataio", None),
    "distributed": ("bpcore.distributed", None),
    "load": ("bpcore.io", "load"),
    "load_config": ("bpcore.config", "load_config"),
    "train_from_config": ("bpcore.config", "train_from_config"),
    "gradcheck": ("bpcore.glassbox", "gradcheck"),
    "MLPClassifier": ("bpcore.sklearn", "MLPClassifier"),
    "MLPRegressor": ("bpcore.sklearn", "MLPRegressor"),
    "LivePlot": ("bpcore.live", "LivePlot"),
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        module_name, attr = _LAZY[name]
        module = import_module(module_name)
        value = module if attr is None else getattr(module, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bpcore' has no attribute {name!r}")


def __dir__():
    # the public names and the submodules; not `annotations` (of `from __future__`) nor the
    # private helpers
    return sorted(n for n in set(globals()) | set(_LAZY) if not n.startswith("_") or n in _DUNDER)


_DUNDER = {"__version__", "__all__", "__doc__", "__name__", "__file__", "__path__"}


__all__ = [
    "Network",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "StopTraining",
    "TrainingDivergedError",
    "activate",
    "derivative",
    "ACTIVATIONS",
    "HIDDEN_ACTIVATIONS",
    "LOSSES",
    "INITS",
    "OPTIMIZERS",
    "SCHEDULES",
    "has_openmp",
    "simd",
    "__version__",
    *_LAZY,
]
