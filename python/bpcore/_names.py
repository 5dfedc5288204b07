"""The one name table of bpcore: activations, losses, initialisations, optimizers, schedules.

The names are the core's own (``bpcore._core.*_names()``); a test checks that this mirror matches.
"""

from __future__ import annotations

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "prelu", "softmax")
HIDDEN_ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "prelu")
LOSSES = ("mse", "cross_entropy", "binary_cross_entropy")
INITS = ("small_uniform", "xavier", "he")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
SCHEDULES = ("constant", "invscaling", "step")
DTYPES = ("float32", "float64")

__all__ = ["ACTIVATIONS", "HIDDEN_ACTIVATIONS", "LOSSES", "INITS", "OPTIMIZERS", "SCHEDULES", "DTYPES"]


def check_name(value: object, valid: tuple[str, ...], parameter: str) -> str:
    """Return ``value`` if it is one of ``valid``; otherwise raise ValueError naming the choices."""
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"{parameter} must be one of {', '.join(valid)}; got {value!r}")
    return value
