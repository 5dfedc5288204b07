"""The glass box: one back-propagation step laid open, and a finite-difference gradient check.

Everything is named as in docs/notation.md (samples are rows)::

    Z^[l] = H^[l-1] W^[l] + b^[l],   H^[l] = f^[l](Z^[l]),   H^[0] = X,   Ŷ = H^[L],   E = Y − Ŷ
    δ^[L] = E ⊙ f′(Z^[L])  (mse)      or   Y − Ŷ  (softmax + cross_entropy, sigmoid + binary_cross_entropy)
    δ^[l] = (δ^[l+1] (W^[l+1])ᵀ) ⊙ f′(Z^[l])
    ∂J/∂W^[l] = −(1/n) (H^[l-1])ᵀ δ^[l],   ∂J/∂b^[l] = −(1/n) Σ_rows δ^[l]
    ΔW^[l] = −α ∂J/∂W^[l],   W^[l] ← W^[l] + ΔW^[l]     (α: the learning rate ``lr``)

With dropout (``Network(..., dropout=p)``) a training step masks each hidden layer,
H^[l] = f^[l](Z^[l]) ⊙ M^[l] / (1 − p_l), and δ^[l] = ((δ^[l+1] (W^[l+1])ᵀ) ⊙ M^[l] / (1 − p_l)) ⊙
f′(Z^[l]); :func:`trace` shows M^[l].

:func:`trace` reads these quantities from the C++ core (it does not recompute the forward or
backward pass in Python) and :func:`gradcheck` compares the core's gradients with central
differences of the core's J.

In attribute names, lowercase ``delta`` is δ^[l] = −∂J/∂Z^[l] and capitalised ``Delta_W`` is the
update ΔW^[l], mirroring the Greek letters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import _validation as v
from ._names import ACTIVATION_INFO, EPOCH_DEFAULTS, LOSS_INFO, OPTIMIZER_DEFAULTS
from .activations import derivative

if TYPE_CHECKING:
    from .network import Network

__all__ = ["trace", "Trace", "LayerTrace", "gradcheck", "GradcheckReport", "TensorCheck"]

# Arrays with at most this many entries are printed in full by Trace.__str__; larger ones as a
# one-line summary.
_PRINT_MAX = 60
# the learning rate α of a step: the core's default, the notes' α
_LR = float(OPTIMIZER_DEFAULTS["lr"])  # type: ignore[arg-type]
# the seed of a step's dropout masks: fit's default seed, the core's
_SEED = int(EPOCH_DEFAULTS["seed"])  # type: ignore[call-overload]


# ============================================================================ trace
@dataclass
class LayerTrace:
    """Every quantity of layer l in one BP step (arrays of the network's dtype, rows = samples).

    Attributes
    ----------
    l : int
        The layer, 1 … L.
    activation : str
        f^[l].
    H_prev : ndarray (n, n_{l-1})
        H^[l-1], the layer's input (H^[0] = X).
    Z : ndarray (n, n_l)
        Z^[l] = H^[l-1] W^[l] + b^[l].
    H : ndarray (n, n_l)
        H^[l] = f^[l](Z^[l]).
    f_prime : ndarray (n, n_l) or None
        f′(Z^[l]) element-wise; None for a softmax layer, whose derivative is a Jacobian per sample
        (with cross-entropy, δ^[L] = Y − Ŷ needs none).
    delta : ndarray (n, n_l)
        δ^[l] = −∂J_i/∂Z^[l] of each sample i (row).
    delta_rule : str
        How the core formed δ^[l].
    dJ_dW, dJ_db : ndarray
        ∂J/∂W^[l] (n_{l-1}, n_l) and ∂J/∂b^[l] (n_l,) of the batch mean J.
    Delta_W, Delta_b : ndarray
        The update ΔW^[l] = −α ∂J/∂W^[l] and Δb^[l] = −α ∂J/∂b^[l].
    W_before, W_after, b_before, b_after : ndarray
        W^[l] and b^[l] before and after the step (after = before + Δ).
    alpha_before, alpha_after, dJ_dalpha, Delta_alpha : float or None
        The prelu slope α^[l], ∂J/∂α^[l] and Δα^[l]; None unless f^[l] is prelu.
    dropout : float
        p_l, the layer's dropout rate (0: none).
    mask : ndarray (n, n_l) or None
        M^[l] of the step when the layer was masked: 1 keeps unit j of sample i, 0 drops it.
        ``H`` is then f^[l](Z^[l]) ⊙ M^[l] / (1 − p_l), the input of layer l + 1. None when the
        layer was not masked (no dropout, the output layer, or ``dropout_seed=None``).
    """

    l: int
    activation: str
    H_prev: np.ndarray
    Z: np.ndarray
    H: np.ndarray
    f_prime: np.ndarray | None
    delta: np.ndarray
    delta_rule: str
    dJ_dW: np.ndarray
    dJ_db: np.ndarray
    Delta_W: np.ndarray
    Delta_b: np.ndarray
    W_before: np.ndarray
    W_after: np.ndarray
    b_before: np.ndarray
    b_after: np.ndarray
    alpha_before: float | None = None
    alpha_after: float | None = None
    dJ_dalpha: float | None = None
    Delta_alpha: float | None = None
    dropout: float = 0.0
    mask: np.ndarray | None = None

    _FIELDS = (
        "l",
        "activation",
        "H_prev",
        "Z",
        "H",
        "f_prime",
        "delta",
        "delta_rule",
        "dJ_dW",
        "dJ_db",
        "Delta_W",
        "Delta_b",
        "W_before",
        "W_after",
        "b_before",
        "b_after",
        "alpha_before",
        "alpha_after",
        "dJ_dalpha",
        "Delta_alpha",
    )

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (arrays are copied); ``dropout`` and ``mask`` only for a layer
        that the step masked."""
        out = {k: _copy(getattr(self, k)) for k in self._FIELDS}
        if self.mask is not None:
            out["dropout"] = self.dropout
            out["mask"] = self.mask.copy()
        return out

    def __str__(self) -> str:
        l = self.l
        info = ACTIVATION_INFO.get(self.activation)
        formula = f" ({info.formula}; {info.derivative_formula})" if info else ""
        lines = [
            f"layer l = {l}: f^[{l}] = {self.activation}{formula}, W^[{l}] {_shape(self.W_before)}"
        ]
        masked = self.mask is not None
        H_rule = f"f(Z^[{l}]) ⊙ M^[{l}] / (1 − {self.dropout:g})" if masked else f"f(Z^[{l}])"
        rows = [
            (f"H^[{l - 1}]", self.H_prev),
            (f"Z^[{l}] = H^[{l - 1}] W^[{l}] + b^[{l}]", self.Z),
        ]
        if masked:
            rows.append((f"M^[{l}] (dropout p = {self.dropout:g}; 0 drops a unit)", self.mask))
        rows += [
            (f"H^[{l}] = {H_rule}", self.H),
            (f"f′(Z^[{l}])", self.f_prime),
            (f"δ^[{l}] = {self.delta_rule}", self.delta),
            (f"∂J/∂W^[{l}] = −(1/n) H^[{l - 1}]ᵀ δ^[{l}]", self.dJ_dW),
            (f"∂J/∂b^[{l}] = −(1/n) Σ δ^[{l}]", self.dJ_db),
            (f"ΔW^[{l}] = −α ∂J/∂W^[{l}]", self.Delta_W),
            (f"Δb^[{l}] = −α ∂J/∂b^[{l}]", self.Delta_b),
            (f"W^[{l}] before", self.W_before),
            (f"W^[{l}] after", self.W_after),
            (f"b^[{l}] before", self.b_before),
            (f"b^[{l}] after", self.b_after),
        ]
        if self.alpha_before is not None:
            rows += [
                (f"α^[{l}] before", self.alpha_before),
                (f"∂J/∂α^[{l}]", self.dJ_dalpha),
                (f"Δα^[{l}] = −α ∂J/∂α^[{l}]", self.Delta_alpha),
                (f"α^[{l}] after", self.alpha_after),
            ]
        for label, value in rows:
            lines.append(_format_row(label, value))
        return "\n".join(lines)


@dataclass
class Trace:
    """The record of one BP step: the quantities of every layer, and J before and after.

    Index it by layer: ``t[l]`` is the :class:`LayerTrace` of layer l (1 … L); iterating yields
    the layers in order l = 1 … L.

    Attributes
    ----------
    network : str
        ``repr`` of the network.
    loss : str
        The loss name.
    lr : float
        The learning rate α of the step.
    updated : bool
        True when the step was applied to the network (``update=True``). When False, the "after"
        values are those the step would give; the network's parameters were not changed.
    X, Y : ndarray (n, d), (n, q)
        The batch, as converted to the network's dtype.
    Y_hat : ndarray (n, q)
        Ŷ = H^[L] before the step.
    E : ndarray (n, q)
        E = Y − Ŷ, the notes' e.
    J_before, J_after : float
        The batch mean J before and after the step.
    layers : list of LayerTrace
        ``layers[l-1]`` is layer l.
    """

    network: str
    loss: str
    lr: float
    updated: bool
    X: np.ndarray
    Y: np.ndarray
    Y_hat: np.ndarray
    E: np.ndarray
    J_before: float
    J_after: float
    layers: list[LayerTrace] = field(default_factory=list)

    @property
    def n(self) -> int:
        """The number of samples in the batch."""
        return int(self.X.shape[0])

    @property
    def L(self) -> int:
        """The number of layers with weights."""
        return len(self.layers)

    def __getitem__(self, l: int) -> LayerTrace:
        if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not 1 <= l <= self.L:
            raise IndexError(f"layer l must be an integer in 1 … {self.L}; got {l!r}")
        return self.layers[int(l) - 1]

    def __iter__(self) -> Iterator[LayerTrace]:
        return iter(self.layers)

    def __len__(self) -> int:
        return self.L

    def to_dict(self) -> dict[str, Any]:
        """A plain dict: the batch-level fields and ``"layers": {l: LayerTrace.to_dict()}``."""
        return {
            "network": self.network,
            "loss": self.loss,
            "lr": self.lr,
            "updated": self.updated,
            "n": self.n,
            "X": self.X.copy(),
            "Y": self.Y.copy(),
            "Y_hat": self.Y_hat.copy(),
            "E": self.E.copy(),
            "J_before": self.J_before,
            "J_after": self.J_after,
            "layers": {layer.l: layer.to_dict() for layer in self.layers},
        }

    def __str__(self) -> str:
        applied = (
            "applied to the network (update=True)"
            if self.updated
            else "not applied: the network is unchanged (update=False)"
        )
        L = self.L
        head = [
            f"One BP step of {self.network}",
            f"batch n = {self.n}, loss = {self.loss}, learning rate α = {self.lr:g}, "
            f"update {applied}",
            _format_row(f"Ŷ = H^[{L}]", self.Y_hat),
            _format_row("Y", self.Y),
            _format_row("E = Y − Ŷ", self.E),
            f"J before = {self.J_before:.10g}",
            f"J after  = {self.J_after:.10g}   (change {self.J_after - self.J_before:+.4g})",
        ]
        return "\n".join(head + ["", *(str(layer) + "\n" for layer in self.layers)]).rstrip() + "\n"

    __repr__ = __str__


def trace(
    net: Network,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
    lr: float = _LR,
    update: bool = False,
    dropout_seed: int | None = _SEED,
    dropout_epoch: int = 0,
) -> Trace:
    """Run one BP step (forward, δ backward, gradient-descent update) on a batch and record it.

    Parameters
    ----------
    net : bpcore.Network
    X : array-like (n, d)
        The batch; a 1-D X is one sample, as in the notes.
    Y : array-like (n, q)
        Targets.
    lr : float
        Learning rate α of W^[l] ← W^[l] − α ∂J/∂W^[l] (plain SGD, the notes' rule with its sign
        corrected; the same step as ``fit(..., optimizer="sgd", batch_size=n, shuffle=False)``).
    update : bool
        Apply the step to ``net`` (True) or leave its parameters unchanged (False, the default:
        looking does not train; the record then shows what the step would do, computed on a
        copy).
    dropout_seed, dropout_epoch : int or None, int
        With :attr:`~bpcore.Network.dropout` on, the step masks the hidden layers as training
        does: the masks of rows 0 … n-1 in epoch ``dropout_epoch`` of a fit seeded
        ``dropout_seed`` (default: fit's default seed, epoch 0 — the masks of the first epoch of
        ``fit(..., batch_size=n, shuffle=False)``), and each layer's ``mask`` shows M^[l].
        ``dropout_seed=None`` takes the step with no mask. Ignored without dropout.

    Returns
    -------
    Trace
        Per layer: H^[l-1], Z^[l], H^[l], f′(Z^[l]), δ^[l], ∂J/∂W^[l], ∂J/∂b^[l], ΔW^[l], Δb^[l],
        W^[l] and b^[l] before and after (and α^[l], ∂J/∂α^[l] for prelu); J before and after.

    Notes
    -----
    Z, H and δ come from the core's cache after ``net.backward(X, Y)``; f′(Z^[l]) from
    :func:`bpcore.derivative` (the core's f′). For a softmax output with cross-entropy f′ is not element-wise and is
    reported as None: δ^[L] = Y − Ŷ. For a sigmoid output with binary cross-entropy f′ is reported
    but δ^[L] = Y − Ŷ as well, because ∂J/∂Ŷ = −E / (Ŷ(1 − Ŷ)) cancels f′ = Ŷ(1 − Ŷ).
    After the call ``net.Z``, ``net.H``, ``net.delta`` and ``net.gradient`` hold this batch's values
    (those of the parameters before the step). With a mask, J before and after are both the
    masked J of the same masks.
    """
    v.check_network(net)
    lr = v.check_positive_float(lr, "lr")
    update = v.check_flag(update, "update")
    if dropout_seed is not None:
        dropout_seed = v.check_seed(dropout_seed, "dropout_seed")
    dropout_epoch = v.check_int(dropout_epoch, "dropout_epoch", minimum=0)
    rates = [*net.dropout, 0.0]
    masked = dropout_seed is not None and any(rates)
    drop = {"dropout_seed": dropout_seed, "dropout_epoch": dropout_epoch} if masked else {}
    dtype = net.dtype
    Xc = v.as_matrix(X, "X", dtype, net.sizes[0])
    Yc = v.as_targets(Y, "Y", dtype, net.sizes[-1], Xc.shape[0])
    L = net.n_layers
    acts = net.activations
    lr_t = dtype.type(lr)

    with net.training_state().lock:
        J_before, grads = net.backward(Xc, Yc, **drop)  # type: ignore[arg-type]
        Zs, Hs, deltas = net.Z, net.H, net.delta
        masks = net.mask
        alpha_grads = net.alpha_gradients
        alphas = {l: float(a) for l, a in net.alphas.items()}
        W_before = [W.copy() for W in net.weights]
        b_before = [b.copy() for b in net.biases]

        layers: list[LayerTrace] = []
        for l in range(1, L + 1):
            name = acts[l - 1]
            alpha = alphas.get(l)
            try:
                z64 = np.asarray(Zs[l], dtype=np.float64)
                d = derivative(name, z64, 0.25 if alpha is None else alpha)
                f_prime = np.asarray(d, dtype=dtype)
            except ValueError:  # no element-wise f′ (softmax: a Jacobian per sample)
                f_prime = None
            dJ_dW, dJ_db = grads[l - 1]
            # W + (−α g) is exactly the core's sgd W − α g (one ulp at most where a build fuses
            # the core's step into a multiply-add)
            Delta_W = -(lr_t * dJ_dW)
            Delta_b = -(lr_t * dJ_db)
            layer = LayerTrace(
                l=l,
                activation=name,
                H_prev=Hs[l - 1],
                Z=Zs[l],
                H=Hs[l],
                f_prime=f_prime,
                delta=deltas[l],
                delta_rule=_delta_rule(
                    l, L, net.loss_name, name, rates[l - 1] if l in masks else 0
                ),
                dJ_dW=dJ_dW,
                dJ_db=dJ_db,
                Delta_W=Delta_W,
                Delta_b=Delta_b,
                W_before=W_before[l - 1],
                W_after=W_before[l - 1] + Delta_W,
                b_before=b_before[l - 1],
                b_after=b_before[l - 1] + Delta_b,
                dropout=float(rates[l - 1]),
                mask=masks.get(l),
            )
            if alpha is not None:
                g = alpha_grads[l]
                Delta_alpha = -(lr_t * dtype.type(g))
                layer.alpha_before = alpha
                layer.dJ_dalpha = float(g)
                layer.Delta_alpha = float(Delta_alpha)
                layer.alpha_after = float(dtype.type(alpha) + Delta_alpha)
            layers.append(layer)

        target = net if update else net.copy()
        _apply(target, layers)
        if masked:  # J after under the same masks, on a copy: net's cache stays this step's
            J_after = target.copy().backward(Xc, Yc, **drop)[0]  # type: ignore[arg-type]
        else:
            J_after = target.loss(Xc, Yc)

    return Trace(
        network=repr(net),
        loss=net.loss_name,
        lr=lr,
        updated=bool(update),
        X=Xc.copy(),
        Y=Yc.copy(),
        Y_hat=Hs[L],
        E=Yc - Hs[L],
        J_before=float(J_before),
        J_after=float(J_after),
        layers=layers,
    )


def _apply(net: Network, layers: list[LayerTrace]) -> None:
    """W^[l] ← W^[l] + ΔW^[l] (and b, α) in place on the network's parameter views."""
    weights, biases, alphas = net.weights, net.biases, net.alphas
    for layer in layers:
        k = layer.l - 1
        weights[k] += layer.Delta_W
        biases[k] += layer.Delta_b
        if layer.Delta_alpha is not None:
            a = alphas[layer.l]
            a[...] = a + a.dtype.type(layer.Delta_alpha)


def _delta_rule(l: int, L: int, loss: str, activation: str, dropout: float = 0.0) -> str:
    if l < L and dropout:
        return f"(δ^[{l + 1}] W^[{l + 1}]ᵀ ⊙ M^[{l}] / (1 − {dropout:g})) ⊙ f′(Z^[{l}])"
    if l < L:
        return f"(δ^[{l + 1}] W^[{l + 1}]ᵀ) ⊙ f′(Z^[{l}])"
    info = LOSS_INFO[loss]
    if not info.delta_is_error:
        return f"E ⊙ f′(Z^[{L}])"
    # the loss's ∂J/∂Ŷ cancels f′ of its output activation
    return f"Y − Ŷ ({activation} with {loss}: {info.formula}, so f′ cancels)"


def _copy(value: object) -> object:
    return value.copy() if isinstance(value, np.ndarray) else value


def _shape(a: np.ndarray) -> str:
    return "×".join(str(s) for s in a.shape) if a.ndim else "scalar"


def _format_row(label: str, value: np.ndarray | float | None) -> str:
    pad = "  " + label + " "
    if value is None:
        return f"{pad}: None (not element-wise)"
    if not isinstance(value, np.ndarray):
        return f"{pad}: {value:.6g}"
    if value.size <= _PRINT_MAX:
        text = np.array2string(
            value, precision=6, suppress_small=False, max_line_width=100, floatmode="maxprec"
        )
        indent = " " * 6
        body = text.replace("\n", "\n" + indent)
        return f"{pad}[{_shape(value)}]:\n{indent}{body}"
    finite = value.astype(np.float64)
    return (
        f"{pad}[{_shape(value)}]: min {finite.min():.6g}, max {finite.max():.6g}, "
        f"mean {finite.mean():.6g}, ‖·‖ {np.linalg.norm(finite):.6g}"
    )


# ============================================================================ gradcheck
@dataclass
class TensorCheck:
    """The comparison of one parameter tensor's analytic and numerical gradient.

    Attributes
    ----------
    name : str
        ``"W^[l]"``, ``"b^[l]"`` or ``"alpha^[l]"``.
    layer : int
    kind : {"W", "b", "alpha"}
    analytic : ndarray
        ∂J/∂θ from the core's back-propagation.
    numeric : ndarray
        (J(θ + ε) − J(θ − ε)) / (2ε), entry by entry.
    max_abs_error : float
        max |analytic − numeric|.
    max_rel_error : float
        max |analytic − numeric| / max(|analytic|, |numeric|) (0 where both are 0).
    worst_index : tuple of int
        The entry that is furthest outside (or closest to) the tolerance.
    passed : bool
        |analytic − numeric| ≤ atol + rtol |numeric| for every entry.
    """

    name: str
    layer: int
    kind: str
    analytic: np.ndarray
    numeric: np.ndarray
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    passed: bool


@dataclass
class GradcheckReport:
    """The result of :func:`gradcheck`; ``bool(report)`` is ``report.passed``."""

    checks: list[TensorCheck]
    eps: float
    rtol: float
    atol: float
    dtype: str
    J: float
    near_kink: dict[int, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[str]:
        """Names of the tensors whose gradient disagrees."""
        return [c.name for c in self.checks if not c.passed]

    @property
    def max_abs_error(self) -> float:
        return max((c.max_abs_error for c in self.checks), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((c.max_rel_error for c in self.checks), default=0.0)

    def __getitem__(self, name: str) -> TensorCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no tensor named {name!r}; the tensors are {[c.name for c in self.checks]}")

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "eps": self.eps,
            "rtol": self.rtol,
            "atol": self.atol,
            "dtype": self.dtype,
            "J": self.J,
            "near_kink": dict(self.near_kink),
            "tensors": {
                c.name: {
                    "shape": tuple(c.analytic.shape),
                    "max_abs_error": c.max_abs_error,
                    "max_rel_error": c.max_rel_error,
                    "worst_index": c.worst_index,
                    "passed": c.passed,
                }
                for c in self.checks
            },
        }

    def __str__(self) -> str:
        verdict = "passed" if self.passed else f"FAILED for {', '.join(self.failed)}"
        fd = "float64 copy" if self.dtype == "float32" else "the network"
        lines = [
            f"gradcheck {verdict}: central differences of J on {fd} "
            f"(eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g}; J = {self.J:.6g})",
            f"  {'tensor':<11}{'shape':<9}{'max abs err':>13}{'max rel err':>13}  ok",
        ]
        for c in self.checks:
            shape = "×".join(str(s) for s in c.analytic.shape) or "scalar"
            line = (
                f"  {c.name:<11}{shape:<9}{c.max_abs_error:>13.3e}{c.max_rel_error:>13.3e}  "
                f"{'yes' if c.passed else 'NO'}"
            )
            if not c.passed:
                i = c.worst_index
                line += f"   worst at {i}: analytic {c.analytic[i]:.8g}, numeric {c.numeric[i]:.8g}"
            lines.append(line)
        for l, count in self.near_kink.items():
            lines.append(
                f"  note: {count} entries of Z^[{l}] lie within {_KINK_BAND * self.eps:g} "
                "of the kink of f at 0; differences across a kink are one-sided, so a "
                "mismatch there does not mean a wrong gradient"
            )
        return "\n".join(lines)

    __repr__ = __str__


# Defaults: float64 as torch.autograd.gradcheck; float32 differences are taken on a float64 copy
# (same parameters and data, exactly representable), so only the float32 rounding of the analytic
# gradient remains, a few ulps of float32 (≈ 1e-7 relative) per operation.
# Z^[l] entries of layers whose f′ jumps at 0 (relu, prelu, ...) closer than _KINK_BAND·ε to 0 are reported as near a kink.
_KINK_BAND = 100.0
_DEFAULTS = {"float64": (1e-6, 1e-3, 1e-5), "float32": (1e-6, 1e-2, 1e-4)}


def gradcheck(
    net: Network,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    dropout_seed: int | None = None,
    dropout_epoch: int = 0,
) -> GradcheckReport:
    """Compare every analytic gradient (W^[l], b^[l], prelu α^[l]) with central differences of J.

    The analytic gradient is ``net.backward(X, Y)`` (and ``net.alpha_gradients``); the numerical
    one is ``(J(θ_k + ε) − J(θ_k − ε)) / (2ε)`` for every parameter θ_k, with J = ``net.loss``.
    An entry passes when ``|analytic − numeric| ≤ atol + rtol·|numeric|`` (the test of
    ``torch.allclose`` used by ``torch.autograd.gradcheck``).

    Parameters
    ----------
    net : bpcore.Network
    X, Y : array-like
        A batch (a few samples are enough; the cost is 2 evaluations of J per parameter).
    eps : float, optional
        The step ε. Default 1e-6.
    rtol, atol : float, optional
        Tolerances. Defaults: float64 networks 1e-3 and 1e-5 (those of
        ``torch.autograd.gradcheck``); float32 networks 1e-2 and 1e-4.
    dropout_seed, dropout_epoch : int or None, int
        With dropout on, check the gradient of the masked J of a training step instead: the
        masks of rows 0 … n-1 in that epoch of a fit with that seed (see
        :meth:`bpcore.Network.backward`). A mask does not depend on θ, so J and the gradient
        are those of one fixed mask, and every J of the differences is taken under it.

    Returns
    -------
    GradcheckReport
        Max absolute and relative error per tensor, the failing tensors, and ``passed``.

    Notes
    -----
    For a float32 network the differences are computed on a float64 copy of it, fed the same
    float32-rounded data: a float32 J cannot resolve a step of 1e-6, while float64 can, and
    float32 → float64 is exact, so the copy has the very same parameters. The analytic gradient is
    the float32 network's own. Every parameter is restored exactly (bitwise) afterwards, even on
    error. A kink of f (relu, prelu, ...) within ε of some Z^[l] entry spoils the difference there; random
    data and parameters make that unlikely.
    """
    v.check_network(net)
    d_eps, d_rtol, d_atol = _DEFAULTS[net.dtype.name]
    eps = d_eps if eps is None else v.check_positive_float(eps, "eps")
    rtol = d_rtol if rtol is None else _non_negative(rtol, "rtol")
    atol = d_atol if atol is None else _non_negative(atol, "atol")

    if dropout_seed is not None:
        dropout_seed = v.check_seed(dropout_seed, "dropout_seed")
    dropout_epoch = v.check_int(dropout_epoch, "dropout_epoch", minimum=0)
    Xc = v.as_matrix(X, "X", net.dtype, net.sizes[0])
    Yc = v.as_targets(Y, "Y", net.dtype, net.sizes[-1], Xc.shape[0])
    saved = net.parameters.copy()
    try:
        if dropout_seed is not None:
            J, grads = net.backward(Xc, Yc, dropout_seed=dropout_seed, dropout_epoch=dropout_epoch)

            def J_of(fd: Network, X: np.ndarray, Y: np.ndarray) -> float:
                return fd.backward(X, Y, dropout_seed=dropout_seed, dropout_epoch=dropout_epoch)[0]

        else:
            J, grads = net.backward(Xc, Yc)

            def J_of(fd: Network, X: np.ndarray, Y: np.ndarray) -> float:
                return fd.loss(X, Y)

        alpha_grads = dict(net.alpha_gradients)
        near_kink = _near_kink(net, Xc, _KINK_BAND * eps)
        if net.dtype == np.float64:
            fd_net, Xf, Yf = net, Xc, Yc
        else:
            fd_net = _float64_copy(net)
            Xf, Yf = Xc.astype(np.float64), Yc.astype(np.float64)

        def check(name: str, l: int, kind: str, analytic: Any, values: np.ndarray) -> Any:
            return _check_tensor(
                name, l, kind, analytic, values, fd_net, Xf, Yf, eps, rtol, atol, J_of
            )

        checks = []
        for l in range(1, net.n_layers + 1):
            gW, gb = grads[l - 1]
            checks.append(check(f"W^[{l}]", l, "W", gW, fd_net.weights[l - 1]))
            checks.append(check(f"b^[{l}]", l, "b", gb, fd_net.biases[l - 1]))
            if l in alpha_grads:
                checks.append(
                    check(f"alpha^[{l}]", l, "alpha", np.asarray(alpha_grads[l]), fd_net.alphas[l])
                )
    finally:
        net.parameters[...] = saved
    return GradcheckReport(
        checks=checks,
        eps=eps,
        rtol=rtol,
        atol=atol,
        dtype=net.dtype.name,
        J=float(J),
        near_kink=near_kink,
    )


def _near_kink(net: Network, X: np.ndarray, band: float) -> dict[int, int]:
    """``{l: count}`` of Z^[l] entries with |Z| ≤ band in the layers whose f′ jumps at 0."""
    layers = [l for l, f in enumerate(net.activations, start=1) if _has_kink(f)]
    if not layers:
        return {}
    net.forward(X)
    Zs = net.Z
    counts = {l: int(np.count_nonzero(np.abs(Zs[l]) <= band)) for l in layers}
    return {l: c for l, c in counts.items() if c}


def _has_kink(activation: str) -> bool:
    """f′ jumps at z = 0 (relu, prelu, leaky_relu), read from the core's own f′ on either side."""
    try:
        left, right = derivative(activation, np.array([-1e-9, 1e-9]))
    except ValueError:  # no element-wise f′ (softmax): smooth
        return False
    return bool(abs(right - left) > 1e-6)


def _check_tensor(
    name: str,
    layer: int,
    kind: str,
    analytic: npt.ArrayLike,
    view: np.ndarray,
    fd_net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    eps: float,
    rtol: float,
    atol: float,
    J_of: Callable[[Network, np.ndarray, np.ndarray], float],
) -> TensorCheck:
    analytic = np.asarray(analytic, dtype=np.float64).reshape(view.shape)
    numeric = np.empty(view.shape, dtype=np.float64)
    for idx in np.ndindex(view.shape):
        theta = view[idx].copy()
        try:
            view[idx] = theta + eps
            J_plus = J_of(fd_net, X, Y)
            view[idx] = theta - eps
            J_minus = J_of(fd_net, X, Y)
        finally:
            view[idx] = theta
        numeric[idx] = (J_plus - J_minus) / (2.0 * eps)
    err = np.abs(analytic - numeric)
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    rel = np.divide(err, scale, out=np.zeros_like(err), where=scale > 0)
    bound = atol + rtol * np.abs(numeric)
    ok = bool(np.all(err <= bound))
    # how far each entry is from its bound; inf where the bound is 0 and the entry is off
    ratio = np.divide(err, bound, out=np.where(err > 0, np.inf, 0.0), where=bound > 0)
    worst = np.unravel_index(int(np.argmax(ratio)), view.shape) if view.size else ()
    return TensorCheck(
        name=name,
        layer=layer,
        kind=kind,
        analytic=analytic,
        numeric=numeric,
        max_abs_error=float(err.max(initial=0.0)),
        max_rel_error=float(rel.max(initial=0.0)),
        worst_index=tuple(int(i) for i in worst),
        passed=ok,
    )


def _float64_copy(net: Network) -> Network:
    state = net.__getstate__()
    state["dtype"] = "float64"
    copy = object.__new__(type(net))
    copy.__setstate__(state)
    return copy


def _non_negative(value: Any, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a non-negative number; got {value!r}") from None
    if isinstance(value, (bool, np.bool_)) or not np.isfinite(out) or out < 0:
        raise ValueError(f"{name} must be a non-negative, finite number; got {value!r}")
    return out
