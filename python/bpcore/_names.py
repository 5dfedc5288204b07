"""The name tables of bpcore, derived from the core's own tables (nothing is restated here).

Activations, losses, initialisations, optimizers and schedules, each in the core's order, with the
properties the core keeps as data: which activations a hidden layer may use and whether f′ is read
from H; which output activation a loss needs, whether δ^[L] = Y − Ŷ and its task; which
``OptimizerConfig`` fields each optimizer reads. The defaults of the optimizer and epoch options
are read from default-constructed core structs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._loader import core

if TYPE_CHECKING:
    from ._core import OptimizerConfig


@dataclass(frozen=True)
class ActivationInfo:
    """One activation f of the core's table."""

    name: str
    hidden: bool  # usable in a hidden layer (all but softmax)
    from_output: bool  # f′ is computed from H = f(Z)
    learnable: bool  # has a learnable slope α^[l] (prelu)
    formula: str  # f, plain text in the project notation
    derivative_formula: str  # f′


@dataclass(frozen=True)
class LossInfo:
    """One loss J of the core's table."""

    name: str
    output_activation: str | None  # the f^[L] it needs; None: any with an element-wise f′
    delta_is_error: bool  # δ^[L] = Y − Ŷ, with no f′ factor
    task: str  # "regression", "classification" or "multilabel"
    formula: str  # J per sample, plain text


@dataclass(frozen=True)
class OptimizerInfo:
    """One optimizer of the core's table and the OptimizerConfig fields its rule reads."""

    name: str
    options: tuple[str, ...]
    full_batch: bool = False  # trains on the whole data set, one iteration per epoch


ACTIVATION_INFO: dict[str, ActivationInfo] = {
    e["name"]: ActivationInfo(**e) for e in core.activation_table()
}
LOSS_INFO: dict[str, LossInfo] = {e["name"]: LossInfo(**e) for e in core.loss_table()}
OPTIMIZER_INFO: dict[str, OptimizerInfo] = {
    e["name"]: OptimizerInfo(e["name"], tuple(e["options"]), e["full_batch"])
    for e in core.optimizer_table()
}
COMMON_OPTIMIZER_OPTIONS: tuple[str, ...] = tuple(core.common_optimizer_options)

ACTIVATIONS: tuple[str, ...] = tuple(ACTIVATION_INFO)
HIDDEN_ACTIVATIONS: tuple[str, ...] = tuple(n for n, a in ACTIVATION_INFO.items() if a.hidden)
LOSSES: tuple[str, ...] = tuple(LOSS_INFO)
INITS: tuple[str, ...] = tuple(core.init_names())
OPTIMIZERS: tuple[str, ...] = tuple(OPTIMIZER_INFO)
SCHEDULES: tuple[str, ...] = tuple(core.schedule_names())
DTYPES = ("float32", "float64")


def _fields(obj: object) -> dict[str, object]:
    """The public data fields of a bound core struct, in the order the binding defines them."""
    names = [n for n, v in vars(type(obj)).items() if isinstance(v, property)]
    return {n: getattr(obj, n) for n in names}


OPTIMIZER_DEFAULTS: dict[str, object] = _fields(core.OptimizerConfig())
EPOCH_DEFAULTS: dict[str, object] = _fields(core.EpochOptions())

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_INFO",
    "COMMON_OPTIMIZER_OPTIONS",
    "DTYPES",
    "EPOCH_DEFAULTS",
    "HIDDEN_ACTIVATIONS",
    "INITS",
    "LOSSES",
    "LOSS_INFO",
    "OPTIMIZERS",
    "OPTIMIZER_DEFAULTS",
    "OPTIMIZER_INFO",
    "SCHEDULES",
    "ActivationInfo",
    "LossInfo",
    "OptimizerInfo",
    "check_name",
    "optimizer_config",
]


def check_name(value: object, valid: tuple[str, ...], parameter: str) -> str:
    """Return ``value`` if it is one of ``valid``; otherwise raise ValueError naming the choices,
    with "did you mean …" when a name is close (``sigmod``, ``ReLU``, ``SGD``)."""
    if not isinstance(value, str) or value not in valid:
        hint = ""
        if isinstance(value, str):
            close = suggest(value, valid)
            if close is not None:
                hint = f" (did you mean {close!r}?)"
        raise ValueError(f"{parameter} must be one of {', '.join(valid)}; got {value!r}{hint}")
    return value


def suggest(value: str, valid: tuple[str, ...]) -> str | None:
    """The name of ``valid`` closest to ``value`` (case does not count), or None."""
    lowered = {name.lower(): name for name in valid}
    if value.lower() in lowered:
        return lowered[value.lower()]
    import difflib  # here, not at import: only a misspelt name needs it

    close = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def optimizer_config(**fields: Any) -> OptimizerConfig:
    """A core ``OptimizerConfig`` with the core's defaults and the given fields, validated.

    ``kind`` and ``schedule`` are given by name. Raises the core's TypeError for an unknown field or
    a value of the wrong type, and its ValueError (whose message starts with the field name, e.g.
    ``"lr must be a positive number; got 0"``) for a value out of range.
    """
    # the core's keyword constructor: defaults, then each field, then validate_config
    return core.OptimizerConfig(**fields)
