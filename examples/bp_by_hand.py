"""The notes' back-propagation derivation, number by number, on a 4-5-3 network and one sample.

Every quantity of the derivation is computed here by hand from its formula (plain Python sums)
and checked against the numbers the C++ core produced in ``net.trace`` (one BP step):

    z_j^[l] = Σ_i h_i^[l-1] w_ij^[l] + b_j^[l]     h_j^[l] = σ(z_j^[l])      (h^[0] = x)
    e = y − ŷ,   J = ½ Σ_k e_k²
    δ_k^[2] = e_k h_k^[2] (1 − h_k^[2])
    δ_i^[1] = (Σ_k w_ik^[2] δ_k^[2]) h_i^[1] (1 − h_i^[1])       i.e. δ^[1] = (δ^[2] W^[2]ᵀ) ⊙ h(1 − h)
    ∂J/∂w_ij^[l] = −δ_j^[l] h_i^[l-1],   ∂J/∂b_j^[l] = −δ_j^[l]
    w_ij ← w_ij + α δ_j h_i,   b_j ← b_j + α δ_j     (the notes print "−": an erratum)

w_ij^[l] joins neuron i of layer l−1 to neuron j of layer l (W^[l] has shape (n_{l-1}, n_l)).

Run: ``python examples/bp_by_hand.py``. It exits with status 1 if any check fails.
``--erratum`` applies the update with the sign the notes print, w ← w − α δ h; the update and
"J falls" checks then fail, which is the point of the erratum.
"""

from __future__ import annotations

import argparse
import math
import sys

import bpcore
import numpy as np

LR = 0.5  # the learning rate α
RTOL = 1e-12  # hand arithmetic vs the core, float64


class Checks:
    """Counts checks, prints ``[ok]`` or ``[FAIL]`` after each value."""

    def __init__(self) -> None:
        self.n = 0
        self.failed: list[str] = []

    def close(
        self, label: str, hand: float | np.ndarray, core: float | np.ndarray, tag: str = ""
    ) -> str:
        """Check that a hand value equals the core's (to rounding)."""
        hand_a, core_a = np.asarray(hand, dtype=float), np.asarray(core, dtype=float)
        ok = hand_a.shape == core_a.shape and bool(
            np.allclose(hand_a, core_a, rtol=RTOL, atol=1e-15)
        )
        return self._record(label, ok, tag)

    def true(self, label: str, ok: bool, tag: str = "") -> str:
        return self._record(label, bool(ok), tag)

    def _record(self, label: str, ok: bool, tag: str) -> str:
        self.n += 1
        if not ok:
            self.failed.append(label)
        mark = "[ok]" if ok else f"[FAIL: {label}]"
        return f"{tag} {mark}" if tag else mark


def f(x: float) -> str:
    """A number for a written-out sum: negatives in parentheses."""
    return f"({x:.6f})" if x < 0 else f"{x:.6f}"


def vec(v: np.ndarray, fmt: str = ".6f") -> str:
    return "(" + ", ".join(format(x, fmt) for x in v) + ")"


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--erratum",
        action="store_true",
        help="update with the notes' printed sign w <- w - alpha delta h",
    )
    args = parser.parse_args(argv)
    sign = -1.0 if args.erratum else 1.0

    iris = bpcore.datasets.load_iris()
    x = iris.X[0]  # sample 1: setosa
    y = np.array([1.0, 0.0, 0.0])
    net = bpcore.Network(
        [4, 5, 3],
        activation="sigmoid",
        output_activation="sigmoid",
        loss="mse",
        init="small_uniform",
        seed=0,
    )
    t = net.trace(x, y, lr=LR)  # one BP step by the core, recorded
    c = Checks()

    W1, b1 = t[1].W_before, t[1].b_before
    W2, b2 = t[2].W_before, t[2].b_before
    print(
        f"Network 4-5-3, f = sigmoid in both layers, J = ½ Σ e², one sample, learning rate α = {LR}"
    )
    print(f"x = {vec(x, 'g')} (Iris sample 1, setosa, in cm), y = {vec(y, 'g')}")
    print(
        "Initial parameters: small_uniform (±0.1), seed 0. Checks compare the hand value with the "
        "core's trace.\n"
    )

    # ----------------------------------------------------------------- forward pass
    print("Forward pass, layer 1:  z_j^[1] = x_1 w_1j + x_2 w_2j + x_3 w_3j + x_4 w_4j + b_j")
    print(
        "  (each neuron j has its own bias b_j^[1]; the notes print b_1 for z_2 … z_5, an erratum)"
    )
    z1 = []
    for j in range(5):
        terms = [x[i] * W1[i, j] for i in range(4)]
        z = sum(terms) + b1[j]
        z1.append(z)
        written = " + ".join(f"{x[i]:g}·{f(W1[i, j])}" for i in range(4))
        print(
            f"  z_{j + 1}^[1] = {written} + {f(b1[j])} = {z:.6f}  "
            + c.close(f"z_{j + 1}^[1]", z, t[1].Z[0, j])
        )
    print("  h_j^[1] = σ(z_j^[1]) = 1 / (1 + e^(−z_j^[1]))")
    h1 = []
    for j in range(5):
        h = sigmoid(z1[j])
        h1.append(h)
        print(
            f"  h_{j + 1}^[1] = σ({z1[j]:.6f}) = {h:.6f}  "
            + c.close(f"h_{j + 1}^[1]", h, t[1].H[0, j])
        )

    print(
        "\nForward pass, layer 2:  z_k^[2] = h_1 w_1k + … + h_5 w_5k + b_k,  ŷ_k = h_k^[2] = σ(z_k^[2])"
    )
    z2, h2 = [], []
    for k in range(3):
        z = sum(h1[i] * W2[i, k] for i in range(5)) + b2[k]
        z2.append(z)
        written = " + ".join(f"{h1[i]:.4f}·{f(W2[i, k])}" for i in range(5))
        print(
            f"  z_{k + 1}^[2] = {written} + {f(b2[k])} = {z:.6f}  "
            + c.close(f"z_{k + 1}^[2]", z, t[2].Z[0, k])
        )
    for k in range(3):
        h = sigmoid(z2[k])
        h2.append(h)
        print(
            f"  ŷ_{k + 1} = h_{k + 1}^[2] = σ({z2[k]:.6f}) = {h:.6f}  "
            + c.close(f"ŷ_{k + 1}", h, t.Y_hat[0, k])
        )

    # ----------------------------------------------------------------- loss
    e = [y[k] - h2[k] for k in range(3)]
    J = 0.5 * sum(ek * ek for ek in e)
    print("\nLoss:  e = y − ŷ,  J = ½ Σ_k e_k²")
    print(f"  e = {vec(np.array(e))}  " + c.close("e", e, t.E[0]))
    squares = " + ".join(f"{f(ek)}²" for ek in e)
    print(f"  J = ½ ({squares}) = {J:.6f}  " + c.close("J", J, t.J_before))

    # ----------------------------------------------------------------- δ of the output layer
    print("\nOutput layer:  δ_k^[2] = e_k · h_k^[2] (1 − h_k^[2])     (σ′(z) = σ(z)(1 − σ(z)))")
    d2 = []
    for k in range(3):
        fp = h2[k] * (1.0 - h2[k])
        d = e[k] * fp
        d2.append(d)
        print(
            f"  δ_{k + 1}^[2] = {f(e[k])} · {h2[k]:.6f} · (1 - {h2[k]:.6f}) = {f(e[k])} · "
            f"{fp:.6f} = {d:.6f}  "
            + c.close(f"f′(z_{k + 1}^[2])", fp, t[2].f_prime[0, k], "f′")
            + " "
            + c.close(f"δ_{k + 1}^[2]", d, t[2].delta[0, k], "δ")
        )

    # ----------------------------------------------------------------- δ of the hidden layer
    print(
        "\nHidden layer:  δ_i^[1] = (Σ_k w_ik^[2] δ_k^[2]) · h_i^[1] (1 − h_i^[1])"
        "     (matrix form: δ^[1] = (δ^[2] W^[2]ᵀ) ⊙ h^[1](1 − h^[1]))"
    )
    d1 = []
    for i in range(5):
        back = sum(W2[i, k] * d2[k] for k in range(3))
        fp = h1[i] * (1.0 - h1[i])
        d = back * fp
        d1.append(d)
        written = " + ".join(f"{f(W2[i, k])}·{f(d2[k])}" for k in range(3))
        print(
            f"  δ_{i + 1}^[1] = ({written}) · {fp:.6f} = {d:.6e}  "
            + c.close(f"f′(z_{i + 1}^[1])", fp, t[1].f_prime[0, i], "f′")
            + " "
            + c.close(f"δ_{i + 1}^[1]", d, t[1].delta[0, i], "δ")
        )

    # ----------------------------------------------------------------- gradients
    print("\nGradients:  ∂J/∂w_ij^[l] = −δ_j^[l] h_i^[l-1],   ∂J/∂b_j^[l] = −δ_j^[l]")
    inputs = {1: list(x), 2: h1}
    deltas = {1: d1, 2: d2}
    grads_W, grads_b = {}, {}
    for l in (1, 2):
        h_prev, d = inputs[l], deltas[l]
        gW = np.array([[-d[j] * h_prev[i] for j in range(len(d))] for i in range(len(h_prev))])
        gb = np.array([-dj for dj in d])
        grads_W[l], grads_b[l] = gW, gb
        i, j = 0, 0
        print(
            f"  ∂J/∂w_{i + 1}{j + 1}^[{l}] = −δ_{j + 1}^[{l}] h_{i + 1}^[{l - 1}] = -{f(d[j])}·"
            f"{h_prev[i]:g} = {gW[i, j]:.6e}  "
            + c.close(f"∂J/∂w_11^[{l}]", gW[i, j], t[l].dJ_dW[i, j])
        )
        print(
            f"  ∂J/∂W^[{l}] = −h^[{l - 1}]ᵀ δ^[{l}], all {gW.size} entries "
            f"({gW.shape[0]}×{gW.shape[1]})  " + c.close(f"∂J/∂W^[{l}]", gW, t[l].dJ_dW)
        )
        print(f"  ∂J/∂b^[{l}] = −δ^[{l}] = {vec(gb)}  " + c.close(f"∂J/∂b^[{l}]", gb, t[l].dJ_db))

    # ----------------------------------------------------------------- update
    rule = (
        "w_ij ← w_ij − α δ_j h_i (the notes' printed sign)"
        if args.erratum
        else (
            "w_ij ← w_ij + α δ_j h_i,  b_j ← b_j + α δ_j   (= w − α ∂J/∂w; the notes print −, an erratum)"
        )
    )
    print(f"\nUpdate:  {rule}")
    new_W, new_b = {}, {}
    for l in (1, 2):
        h_prev, d, W, b = inputs[l], deltas[l], t[l].W_before, t[l].b_before
        new_W[l] = np.array(
            [
                [W[i, j] + sign * LR * d[j] * h_prev[i] for j in range(len(d))]
                for i in range(len(h_prev))
            ]
        )
        new_b[l] = np.array([b[j] + sign * LR * d[j] for j in range(len(d))])
        op = "-" if args.erratum else "+"
        print(
            f"  w_11^[{l}]: {W[0, 0]:.6f} {op} {LR}·{f(d[0])}·{h_prev[0]:g} = {new_W[l][0, 0]:.6f}"
        )
        print(
            f"  all of W^[{l}] ({W.shape[0]}×{W.shape[1]}) and b^[{l}] after the step: "
            + c.close(f"W^[{l}] after", new_W[l], t[l].W_after, "W")
            + " "
            + c.close(f"b^[{l}] after", new_b[l], t[l].b_after, "b")
        )

    # ----------------------------------------------------------------- J after the step
    probe = net.copy()
    for l in (1, 2):
        probe.weights[l - 1][...] = new_W[l]
        probe.biases[l - 1][...] = new_b[l]
    J_new = probe.loss(x, y)
    print("\nJ after the step (J of the updated network, computed by the core):")
    print(
        f"  J before = {t.J_before:.6f},  J after = {J_new:.6f}  "
        + c.close("J after", J_new, t.J_after, "same as the trace's")
        + "  "
        + c.true("J falls", J_new < t.J_before, "J after < J before")
    )
    if not args.erratum:
        wrong = net.copy()
        for l in (1, 2):
            wrong.weights[l - 1][...] = t[l].W_before - (new_W[l] - t[l].W_before)
            wrong.biases[l - 1][...] = t[l].b_before - (new_b[l] - t[l].b_before)
        J_wrong = wrong.loss(x, y)
        print(
            f"  with the notes' printed sign (w ← w − α δ h) J would be {J_wrong:.6f}, higher: "
            "that step climbs the loss  "
            + c.true("the printed sign raises J", J_wrong > t.J_before)
        )

    # ----------------------------------------------------------------- central differences
    report = bpcore.gradcheck(net, x, y)
    print(
        "\nCentral differences (J(θ + ε) − J(θ − ε)) / 2ε against the core's gradient, "
        "at the updated parameters:"
    )
    print("  " + str(report).replace("\n", "\n  "))
    print("  " + c.true("gradcheck", report.passed))

    if c.failed:
        print(f"\n{len(c.failed)} of {c.n} checks FAILED: {', '.join(c.failed)}")
        return 1
    print(f"\nAll {c.n} checks passed: the core's numbers are the notes' formulas.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
