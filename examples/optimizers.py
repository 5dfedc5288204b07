"""J per iteration for sgd, adam, rprop, lbfgs and lm on one small problem (docs/optimizers.md).

The problem: y = sin(2x) on 64 points of [-2, 2], a 1-8-1 tanh network with J = ½ Σ e², the same
initial weights for every optimizer, and one iteration per epoch on the full batch (sgd and adam
with batch_size=None, so that every method sees the same J). Prints J after 1, 10, 50 and 200
iterations and, with ``--plot FILE``, draws log J against the iteration.

Claims checked (exit status 1 if one fails): every optimizer lowers J; the second-order methods
lbfgs and lm reach a J at least 100 times lower than the notes' gradient descent (sgd) in the
same 200 iterations; lm, the damped Gauss–Newton step, is the lowest of all.
"""

from __future__ import annotations

import argparse
import sys

import bpcore
import numpy as np

ITERATIONS = 200
SETTINGS = {
    "sgd": {"lr": 0.5},
    "adam": {"lr": 0.05},
    "rprop": {"lr": 0.01},
    "lbfgs": {},
    "lm": {},
}


def curves() -> dict[str, list[float]]:
    X = np.linspace(-2, 2, 64).reshape(-1, 1)
    Y = np.sin(2 * X)
    out: dict[str, list[float]] = {}
    for name, options in SETTINGS.items():
        net = bpcore.Network([1, 8, 1], activation="tanh", output_activation="identity", seed=3)
        batch = {"batch_size": None}
        hist = net.fit(
            X, Y, optimizer=name, epochs=ITERATIONS, grad_tol=0.0, loss_tol=0.0, **batch, **options
        )
        # J before every iteration, then J after the last one
        out[name] = [*hist.loss, float(net.loss(X, Y))]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", metavar="FILE", help="save log J per iteration as a PNG")
    args = parser.parse_args()

    J = curves()
    shown = (1, 10, 50, ITERATIONS)
    print(f"{'optimizer':<10}" + "".join(f"{'J after ' + str(k):>16}" for k in shown))
    for name, values in J.items():
        row = "".join(f"{values[min(k, len(values) - 1)]:>16.3e}" for k in shown)
        note = "" if len(values) == ITERATIONS + 1 else f"   (stopped after {len(values) - 1})"
        print(f"{name:<10}{row}{note}")

    final = {name: values[-1] for name, values in J.items()}
    checks = {
        "every optimizer lowers J": all(v[-1] < v[0] for v in J.values()),
        "lbfgs and lm reach 100x lower J than sgd": max(final["lbfgs"], final["lm"])
        < final["sgd"] / 100,
        "lm is the lowest": final["lm"] == min(final.values()),
    }
    for claim, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {claim}")

    if args.plot:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for name, values in J.items():
            ax.semilogy(range(len(values)), values, label=name)
        ax.set_xlabel("iteration (epoch on the full batch)")
        ax.set_ylabel("J")
        ax.set_title("y = sin(2x), 1-8-1 tanh network")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"saved {args.plot}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
