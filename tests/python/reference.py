"""A small, independent pure-NumPy multilayer perceptron: the test oracle of bpcore.

Written from the mathematics of docs/notation.md, not from the C++ core. Samples are rows::

    Z^[l] = H^[l-1] W^[l] + b^[l],   H^[l] = f^[l](Z^[l]),   H^[0] = X,   Y_hat = H^[L]
    δ^[L] = E ⊙ f'(Z^[L]) (mse, E = Y - Y_hat)   or   Y - Y_hat (softmax + cross_entropy,
                                                       sigmoid + binary_cross_entropy,
                                                       exp + poisson)
    δ^[l] = (δ^[l+1] (W^[l+1])ᵀ) ⊙ f'(Z^[l])
    ∂J/∂W^[l] = -Σ_i p_i (H^[l-1]_i)ᵀ δ^[l]_i,   ∂J/∂b^[l] = -Σ_i p_i δ^[l]_i

with p_i = 1/n, or p_i = w_i / Σ w when sample weights are given (then J = Σ w_i J_i / Σ w_i).
δ^[l] = -∂J_i/∂Z^[l] is per sample, unweighted. Every computation runs in float64.

The flat parameter layout used by :meth:`ReferenceMLP.flat_parameters` is bpcore's: per layer,
W^[l] row by row, then b^[l], then α^[l] for a prelu layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "ReferenceMLP",
    "activate",
    "derivative",
    "sgd_reference",
    "momentum_reference",
    "adam_reference",
    "learning_rate_reference",
    "online_bp_reference",
]


# ------------------------------------------------------------------------- activations
def activate(name: str, Z: np.ndarray, alpha: float = 0.25) -> np.ndarray:
    """H = f(Z) for the activation ``name`` (softmax acts on each row)."""
    Z = np.asarray(Z, dtype=np.float64)
    if name == "identity":
        return Z.copy()
    if name == "sigmoid":
        # 1 / (1 + e^(-z)) without overflow for large |z|
        out = np.empty_like(Z)
        pos = Z >= 0
        out[pos] = 1.0 / (1.0 + np.exp(-Z[pos]))
        ez = np.exp(Z[~pos])
        out[~pos] = ez / (1.0 + ez)
        return out
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0.0)
    if name == "prelu":
        return np.maximum(Z, 0.0) + alpha * np.minimum(Z, 0.0)
    if name == "softmax":
        E = np.exp(Z - Z.max(axis=-1, keepdims=True))
        return E / E.sum(axis=-1, keepdims=True)
    if name == "leaky_relu":  # slope 0.01 below 0
        return np.where(Z > 0, Z, LEAKY_SLOPE * Z)
    if name == "elu":  # α = 1
        return np.where(Z > 0, Z, np.expm1(np.minimum(Z, 0.0)))
    if name == "softplus":
        return _softplus(Z)
    if name == "gelu":  # exact: z Φ(z)
        return Z * _normal_cdf(Z)
    if name == "silu":  # z σ(z)
        return Z * activate("sigmoid", Z)
    if name == "exp":  # e^z
        return np.exp(Z)
    raise ValueError(f"unknown activation {name!r}")


def derivative(name: str, Z: np.ndarray, alpha: float = 0.25) -> np.ndarray:
    """f'(Z) element-wise (relu'(0) = 0, prelu'(0) = α). Not defined for softmax."""
    Z = np.asarray(Z, dtype=np.float64)
    if name == "identity":
        return np.ones_like(Z)
    if name == "sigmoid":
        s = activate("sigmoid", Z)
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(Z) ** 2
    if name == "relu":
        return (Z > 0).astype(np.float64)
    if name == "prelu":
        return np.where(Z > 0, 1.0, alpha)
    if name == "leaky_relu":
        return np.where(Z > 0, 1.0, LEAKY_SLOPE)
    if name == "elu":
        return np.where(Z > 0, 1.0, np.exp(np.minimum(Z, 0.0)))
    if name == "softplus":
        return activate("sigmoid", Z)
    if name == "gelu":  # Φ(z) + z φ(z)
        return _normal_cdf(Z) + Z * np.exp(-0.5 * Z**2) / math.sqrt(2.0 * math.pi)
    if name == "silu":  # σ(z) (1 + z (1 − σ(z)))
        s = activate("sigmoid", Z)
        return s * (1.0 + Z * (1.0 - s))
    if name == "exp":  # e^z
        return np.exp(Z)
    raise ValueError(f"activation {name!r} has no element-wise derivative")


def has_kink_at_zero(name: str) -> bool:
    """f′ jumps at z = 0 (relu, prelu, leaky_relu): finite differences across 0 are one-sided."""
    if name == "softmax":
        return False
    left, right = derivative(name, np.array([-1e-9, 1e-9]))
    return bool(abs(right - left) > 1e-6)


LEAKY_SLOPE = 0.01


def _normal_cdf(Z: np.ndarray) -> np.ndarray:
    """Φ(z) = erfc(−z/√2) / 2, element by element with math.erfc (accurate for z ≪ 0 too)."""
    erfc = np.vectorize(math.erfc, otypes=[np.float64])
    return 0.5 * erfc(-np.asarray(Z, dtype=np.float64) / math.sqrt(2.0))


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) without overflow."""
    return np.logaddexp(0.0, x)


# ------------------------------------------------------------------------- the network
class ReferenceMLP:
    """The notes' MLP in plain NumPy (float64).

    Parameters
    ----------
    weights : list of ndarray
        ``weights[l-1]`` is W^[l], shape (n_{l-1}, n_l).
    biases : list of ndarray
        ``biases[l-1]`` is b^[l], shape (n_l,).
    activations : list of str
        f^[l] for l = 1 … L.
    loss : {"mse", "cross_entropy", "binary_cross_entropy", "poisson"}
    alphas : dict of int to float, optional
        prelu slopes α^[l] (default 0.25 for every prelu layer).
    """

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        biases: Sequence[np.ndarray],
        activations: Sequence[str],
        loss: str,
        alphas: dict[int, float] | None = None,
    ) -> None:
        self.W = [np.array(W, dtype=np.float64, copy=True) for W in weights]
        self.b = [np.array(b, dtype=np.float64, copy=True).reshape(-1) for b in biases]
        self.activations = list(activations)
        self.loss_name = loss
        self.L = len(self.W)
        if not (len(self.b) == len(self.activations) == self.L):
            raise ValueError("weights, biases and activations need one entry per layer")
        for k in range(self.L):
            if self.b[k].shape != (self.W[k].shape[1],):
                raise ValueError(f"b^[{k + 1}] does not match W^[{k + 1}]")
            if k and self.W[k].shape[0] != self.W[k - 1].shape[1]:
                raise ValueError(f"W^[{k + 1}] does not follow W^[{k}]")
        if loss not in ("mse", "cross_entropy", "binary_cross_entropy", "poisson"):
            raise ValueError(f"unknown loss {loss!r}")
        given = dict(alphas or {})
        self.alphas = {
            l: float(given.get(l, 0.25))
            for l in range(1, self.L + 1)
            if self.activations[l - 1] == "prelu"
        }

    @classmethod
    def from_network(cls, net: Any) -> ReferenceMLP:
        """A reference copy of a ``bpcore.Network``'s architecture and parameters."""
        alphas = {l: float(a) for l, a in net.alphas.items()}
        return cls(
            [np.array(W) for W in net.weights],
            [np.array(b) for b in net.biases],
            net.activations,
            net.loss_name,
            alphas,
        )

    def copy(self) -> ReferenceMLP:
        return ReferenceMLP(self.W, self.b, self.activations, self.loss_name, self.alphas)

    @property
    def sizes(self) -> list[int]:
        return [self.W[0].shape[0]] + [W.shape[1] for W in self.W]

    # ------------------------------------------------------------- flat layout (bpcore's)
    def flat_parameters(self) -> np.ndarray:
        """θ in bpcore's layout: per layer W^[l] row by row, b^[l], α^[l] (prelu)."""
        parts = []
        for l in range(1, self.L + 1):
            parts += [self.W[l - 1].ravel(), self.b[l - 1]]
            if l in self.alphas:
                parts.append(np.array([self.alphas[l]]))
        return np.concatenate(parts)

    def set_flat_parameters(self, theta: np.ndarray) -> None:
        theta = np.asarray(theta, dtype=np.float64)
        pos = 0
        for l in range(1, self.L + 1):
            n_in, n_out = self.W[l - 1].shape
            self.W[l - 1] = theta[pos : pos + n_in * n_out].reshape(n_in, n_out).copy()
            pos += n_in * n_out
            self.b[l - 1] = theta[pos : pos + n_out].copy()
            pos += n_out
            if l in self.alphas:
                self.alphas[l] = float(theta[pos])
                pos += 1
        if pos != theta.shape[0]:
            raise ValueError(f"theta has {theta.shape[0]} entries; the network has {pos}")

    def flat_gradient(
        self,
        grads: Sequence[tuple[np.ndarray, np.ndarray]],
        alpha_grads: dict[int, float] | None = None,
    ) -> np.ndarray:
        """∂J/∂θ in the layout of :meth:`flat_parameters`."""
        parts = []
        for l in range(1, self.L + 1):
            gW, gb = grads[l - 1]
            parts += [np.asarray(gW, dtype=np.float64).ravel(), np.asarray(gb, dtype=np.float64)]
            if l in self.alphas:
                parts.append(np.array([(alpha_grads or {}).get(l, 0.0)]))
        return np.concatenate(parts)

    def weight_mask(self) -> np.ndarray:
        """1 where θ is an entry of some W^[l], 0 for b^[l] and α^[l] (where weight decay acts)."""
        parts = []
        for l in range(1, self.L + 1):
            parts += [np.ones(self.W[l - 1].size), np.zeros(self.b[l - 1].size)]
            if l in self.alphas:
                parts.append(np.zeros(1))
        return np.concatenate(parts)

    # ------------------------------------------------------------- forward pass and J
    def forward(self, X: Any) -> dict[str, dict[int, np.ndarray]]:
        """``{"Z": {l: Z^[l]}, "H": {l: H^[l]}}`` with H[0] = X; a 1-D X is one sample."""
        H = np.atleast_2d(np.asarray(X, dtype=np.float64))
        Zs: dict[int, np.ndarray] = {}
        Hs: dict[int, np.ndarray] = {0: H}
        for l in range(1, self.L + 1):
            Z = Hs[l - 1] @ self.W[l - 1] + self.b[l - 1]
            Zs[l] = Z
            Hs[l] = activate(self.activations[l - 1], Z, self.alphas.get(l, 0.25))
        return {"Z": Zs, "H": Hs}

    def per_sample_loss(self, X: Any, Y: Any) -> np.ndarray:
        """J_i of every sample (n,)."""
        cache = self.forward(X)
        Z, Y_hat = cache["Z"][self.L], cache["H"][self.L]
        Y = self._targets(Y, Y_hat.shape)
        if self.loss_name == "mse":
            return 0.5 * ((Y - Y_hat) ** 2).sum(axis=1)  # J = ½ Σ_j e_j²
        if self.loss_name == "cross_entropy":
            zmax = Z.max(axis=1, keepdims=True)
            log_softmax = Z - zmax - np.log(np.exp(Z - zmax).sum(axis=1, keepdims=True))
            return -(Y * log_softmax).sum(axis=1)
        if self.loss_name == "poisson":  # half the Poisson deviance from Z = log ŷ, 0 log 0 = 0
            safe = np.where(Y > 0, Y, 1.0)
            return (Y_hat - Y + np.where(Y > 0, Y * (np.log(safe) - Z), 0.0)).sum(axis=1)
        # binary cross-entropy from Z: log σ(z) = -softplus(-z), log(1 - σ(z)) = -softplus(z)
        return (Y * _softplus(-Z) + (1.0 - Y) * _softplus(Z)).sum(axis=1)

    def loss(self, X: Any, Y: Any, sample_weight: Any = None) -> float:
        """The batch (weighted) mean of the per-sample J."""
        J = self.per_sample_loss(X, Y)
        return float(J @ self._sample_share(sample_weight, J.shape[0]))

    # ------------------------------------------------------------- back-propagation
    def backward(self, X: Any, Y: Any, sample_weight: Any = None):
        """δ back-propagation of a batch.

        Returns
        -------
        J : float
            The (weighted) batch mean J.
        grads : list of (ndarray, ndarray)
            ``grads[l-1] = (∂J/∂W^[l], ∂J/∂b^[l])``.
        alpha_grads : dict of int to float
            ∂J/∂α^[l] of the prelu layers.
        cache : dict
            ``{"Z": {l}, "H": {l}, "delta": {l}, "fprime": {l}}``; δ^[l] = -∂J_i/∂Z^[l] per sample
            (not weighted); ``fprime[l]`` = f'(Z^[l]) (absent for a softmax layer).
        """
        cache = self.forward(X)
        Zs, Hs = cache["Z"], cache["H"]
        L = self.L
        Y_hat = Hs[L]
        Y = self._targets(Y, Y_hat.shape)
        n = Y_hat.shape[0]
        p = self._sample_share(sample_weight, n)
        J = float(self.per_sample_loss(X, Y) @ p)

        fprime: dict[int, np.ndarray] = {}
        for l in range(1, L + 1):
            if self.activations[l - 1] != "softmax":
                fprime[l] = derivative(self.activations[l - 1], Zs[l], self.alphas.get(l, 0.25))

        E = Y - Y_hat
        delta: dict[int, np.ndarray] = {}
        # G^[l] = -∂J_i/∂H^[l]; δ^[l] = G^[l] ⊙ f'(Z^[l])
        if self.loss_name == "mse":
            G = E
            delta[L] = E * fprime[L]
        else:
            G = None  # the loss gives δ^[L] directly
            delta[L] = E
        alpha_grads: dict[int, float] = {}
        if L in self.alphas:
            alpha_grads[L] = float(-(p @ (G * np.minimum(Zs[L], 0.0)).sum(axis=1)))
        for l in range(L - 1, 0, -1):
            G = delta[l + 1] @ self.W[l].T
            delta[l] = G * fprime[l]
            if l in self.alphas:
                # ∂f/∂α = min(0, z)
                alpha_grads[l] = float(-(p @ (G * np.minimum(Zs[l], 0.0)).sum(axis=1)))

        grads = []
        for l in range(1, L + 1):
            weighted = delta[l] * p[:, None]
            grads.append((-(Hs[l - 1].T @ weighted), -weighted.sum(axis=0)))
        cache = {"Z": Zs, "H": Hs, "delta": delta, "fprime": fprime}
        return J, grads, alpha_grads, cache

    def sgd_step(
        self,
        grads: Sequence[tuple[np.ndarray, np.ndarray]],
        lr: float,
        alpha_grads: dict[int, float] | None = None,
    ) -> None:
        """Gradient descent: W^[l] ← W^[l] - lr ∂J/∂W^[l], the same for b^[l] and α^[l]."""
        for l in range(1, self.L + 1):
            gW, gb = grads[l - 1]
            self.W[l - 1] = self.W[l - 1] - lr * gW
            self.b[l - 1] = self.b[l - 1] - lr * gb
        for l, g in (alpha_grads or {}).items():
            self.alphas[l] = self.alphas[l] - lr * g

    # ------------------------------------------------------------- helpers
    @staticmethod
    def _targets(Y: Any, shape: tuple[int, int]) -> np.ndarray:
        return np.asarray(Y, dtype=np.float64).reshape(shape)

    @staticmethod
    def _sample_share(sample_weight: Any, n: int) -> np.ndarray:
        """p_i = 1/n, or w_i / Σ w."""
        if sample_weight is None:
            return np.full(n, 1.0 / n)
        w = np.asarray(sample_weight, dtype=np.float64).reshape(n)
        return w / w.sum()


# ------------------------------------------------------------------------- optimizers
# Update rules of cpp/include/bpcore/optimizer.hpp on a flat θ with gradient g = ∂J/∂θ.
def sgd_reference(theta: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
    """θ ← θ - lr g."""
    return theta - lr * g


def momentum_reference(
    theta: np.ndarray, g: np.ndarray, v: np.ndarray, lr: float, mu: float, nesterov: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Momentum: v ← μ v - lr g; θ ← θ + v.  Nesterov: v ← μ v - lr g; θ ← θ + μ v - lr g.

    Returns the new (θ, v).
    """
    v = mu * v - lr * g
    if nesterov:
        return theta + mu * v - lr * g, v
    return theta + v, v


def adam_reference(
    theta: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    s: np.ndarray,
    t: int,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Adam: m ← β1 m + (1-β1) g; s ← β2 s + (1-β2) g²; t ← t + 1;
    θ ← θ - lr (m / (1-β1^t)) / (sqrt(s / (1-β2^t)) + ε).  Returns the new (θ, m, s, t)."""
    m = beta1 * m + (1.0 - beta1) * g
    s = beta2 * s + (1.0 - beta2) * g * g
    t = t + 1
    m_hat = m / (1.0 - beta1**t)
    s_hat = s / (1.0 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(s_hat) + epsilon), m, s, t


def learning_rate_reference(
    lr: float,
    epoch: int,
    schedule: str = "constant",
    power_t: float = 0.5,
    step_size: int = 10,
    gamma: float = 0.1,
) -> float:
    """The learning rate of 0-based epoch e: constant lr; invscaling lr / (e+1)^power_t;
    step lr γ^floor(e / step_size)."""
    if schedule == "constant":
        return lr
    if schedule == "invscaling":
        return lr / (epoch + 1) ** power_t
    if schedule == "step":
        return lr * gamma ** (epoch // step_size)
    raise ValueError(f"unknown schedule {schedule!r}")


# ------------------------------------------------------------------------- the notes' BP
def online_bp_reference(
    net_or_params: Any,
    X: Any,
    Y: Any,
    lr: float,
    epochs: int,
    seed: int,
    first_epoch: int = 0,
) -> ReferenceMLP:
    """The notes' BP algorithm: one sample at a time, forward, J, δ back, W ← W - lr ∂J/∂W.

    Epoch e (e = first_epoch, first_epoch + 1, …) visits the samples in the order
    ``bpcore._loader.core.epoch_permutation(n, seed, e)``, as ``fit(..., batch_size=1,
    shuffle=True, seed=seed)`` does.

    Parameters
    ----------
    net_or_params : bpcore.Network, ReferenceMLP or tuple
        The starting parameters (copied; the argument is not changed). A tuple holds the
        arguments of :class:`ReferenceMLP`: ``(weights, biases, activations, loss[, alphas])``.

    Returns
    -------
    ReferenceMLP
        The trained copy; its attribute ``epoch_losses`` lists, per epoch, the mean over the
        samples of each sample's J before its update.
    """
    from bpcore._loader import core

    if isinstance(net_or_params, ReferenceMLP):
        ref = net_or_params.copy()
    elif isinstance(net_or_params, (tuple, list)):
        ref = ReferenceMLP(*net_or_params)
    else:
        ref = ReferenceMLP.from_network(net_or_params)
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y = np.asarray(Y, dtype=np.float64).reshape(X.shape[0], -1)
    n = X.shape[0]
    losses = []
    for e in range(first_epoch, first_epoch + epochs):
        total = 0.0
        for i in core.epoch_permutation(n, seed, e):
            J, grads, alpha_grads, _ = ref.backward(X[i : i + 1], Y[i : i + 1])
            total += J
            ref.sgd_step(grads, lr, alpha_grads)
        losses.append(total / n)
    ref.epoch_losses = losses
    return ref
