"""A network without hidden layers is linear; one hidden layer is enough for XOR.

Reproduces the notes' opening argument:

1. The output layer's linear part z = (1, 10, 2) already puts the sample in class 2; a monotone
   activation such as sigmoid gives (0.73106, 0.99995, 0.88080) and cannot change that.
2. So a network with no hidden layer (2-1, sigmoid output) cannot learn XOR: its decision rule is
   the sign of a linear function of x, and no line separates XOR's classes. A 2-2-1 sigmoid
   network, trained with the notes' BP (online SGD, mse), can.

Run: ``python examples/single_layer_is_linear.py``. Exits with status 1 if a claim fails.
"""

from __future__ import annotations

import sys

import bpcore
import numpy as np
from bpcore.datasets import make_xor

SEEDS = range(20)  # seeds over which the XOR success rate is reported; seed 0 is shown
EPOCHS = 5000
LR = 0.5


def part1_monotone_output() -> bool:
    print("1. A monotone output activation never changes the class")
    z = np.array([[1.0, 10.0, 2.0]])
    print(f"   z^(1) = {z[0].tolist()}  ->  argmax gives class {int(np.argmax(z)) + 1}")
    ok = True
    for name in ("sigmoid", "tanh", "relu", "identity"):
        o = bpcore.activate(name, z)
        values = ", ".join(f"{x:.5f}" for x in o[0])
        cls = int(np.argmax(o)) + 1
        print(f"   {name:<8} o = ({values})  ->  class {cls}")
        ok &= cls == 2
    sig = bpcore.activate("sigmoid", z)[0]
    # the notes' values: 0.73106, 0.99995, 0.88080
    ok &= bool(np.allclose(sig, [0.73106, 0.99995, 0.88080], atol=5e-6))
    return ok


def train_xor(sizes: list[int], seed: int) -> tuple[bpcore.Network, float, float]:
    X, y = make_xor()
    Y = y.reshape(-1, 1).astype(np.float64)
    net = bpcore.Network(
        sizes,
        activation="sigmoid",
        output_activation="sigmoid",
        loss="mse",
        init="small_uniform",
        seed=seed,
    )
    hist = net.fit(X, Y, epochs=EPOCHS, batch_size=1, lr=LR, optimizer="sgd", seed=seed)
    accuracy = float(np.mean((net.predict(X)[:, 0] > 0.5) == y))
    return net, hist.loss[-1], accuracy


def part2_xor() -> bool:
    X, y = make_xor()
    print(f"\n2. XOR, trained with online BP (sgd, lr={LR}, {EPOCHS} epochs, mse, sigmoid)")
    ok = True

    runs = [train_xor([2, 1], s) for s in SEEDS]
    linear_acc = [r[2] for r in runs]
    net, J, acc = runs[0]
    print(f"   2-1 (no hidden layer), seed 0: J = {J:.4f}, accuracy {acc:.2f}")
    for x, target, out in zip(X, y, net.predict(X)[:, 0]):
        print(f"      x = {x.astype(int).tolist()}  y = {target}  ŷ = {out:.3f}")
    print(
        f"   best accuracy over seeds {SEEDS.start}-{SEEDS.stop - 1}: {max(linear_acc):.2f} "
        "(a line separates at most 3 of the 4 points)"
    )
    ok &= max(linear_acc) <= 0.75

    runs = [train_xor([2, 2, 1], s) for s in SEEDS]
    hidden_acc = [r[2] for r in runs]
    net, J, acc = runs[0]
    print(f"   2-2-1 (one hidden layer of 2), seed 0: J = {J:.4f}, accuracy {acc:.2f}")
    for x, target, out in zip(X, y, net.predict(X)[:, 0]):
        print(f"      x = {x.astype(int).tolist()}  y = {target}  ŷ = {out:.3f}")
    solved = sum(a == 1.0 for a in hidden_acc)
    print(
        f"   2-2-1 solves XOR for {solved} of the {len(SEEDS)} seeds "
        f"{SEEDS.start}-{SEEDS.stop - 1}; the others stop in a local minimum of J"
    )
    ok &= acc == 1.0
    return ok


def main() -> int:
    ok = part1_monotone_output()
    ok &= part2_xor()
    print("\nall claims hold" if ok else "\nA CLAIM FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
