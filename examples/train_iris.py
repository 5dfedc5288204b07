"""The notes' BP algorithm on Iris: a 4-5-3 sigmoid network, J = ½ Σ e², online SGD, stop at J < ε.

The algorithm, step by step, and where each step happens:

1. Set the parameters to small random non-zero values  -> ``init="small_uniform"`` (±0.1), a seed.
2. Take an input/output pair, run the forward pass     -> ``fit(..., batch_size=1)``: one sample
                                                           per step, in a new seeded order each epoch.
3. Compute J; if J < ε, stop                            -> ``tol=ε``: the test is made after each
                                                           epoch on its mean J.

Two J's are printed at the end. The test of step 3 uses the **mean J during the epoch**
(``hist.loss[-1]``): each sample's J taken before that sample's update, averaged over the epoch.
The **J of the trained network** (``net.loss(X, Y)``) is that of the final weights on every
training sample. They differ: after a ``tol`` stop the first is below ε while the second may be
a little above it, since each online step lowers J on its own sample and can raise it on others.
4. Back-propagate δ and update every W, b, go to 2      -> ``optimizer="sgd"``:
                                                           W ← W − α ∂J/∂W = W + α δ h.

30 of the 150 flowers (10 per class, drawn with the seed) are held out to measure accuracy on
unseen data. The inputs are standardised (zero mean, unit variance per feature, from the training
flowers): the BP algorithm is unchanged, but online steps on the raw measurements (up to 7.9 cm)
are large and J jumps about from sample to sample. ``--raw`` feeds the measurements in cm as the
notes do.

Run: ``python examples/train_iris.py [--tol 0.02] [--lr 0.5] [--epochs 2000] [--seed 0] [--raw]``.
Exits with status 1 if J never falls below ε within the epoch budget.
"""

from __future__ import annotations

import argparse
import sys

import bpcore
import numpy as np
from bpcore.datasets import load_iris, one_hot


def split(y: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a training set and a test set with ``per_class`` test samples of each class."""
    rng = np.random.default_rng(seed)
    test = np.concatenate(
        [rng.choice(np.flatnonzero(y == k), per_class, replace=False) for k in np.unique(y)]
    )
    train = np.setdiff1d(np.arange(y.size), test)
    return train, np.sort(test)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tol", type=float, default=0.02, help="ε: stop when J < ε (default 0.02)")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate α (default 0.5)")
    parser.add_argument("--epochs", type=int, default=2000, help="most epochs (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of init, order and split")
    parser.add_argument("--raw", action="store_true", help="do not standardise the inputs")
    args = parser.parse_args(argv)

    X, y = load_iris()
    Y = one_hot(y, 3)
    train, test = split(y, 10, args.seed)
    if not args.raw:
        mean, std = X[train].mean(axis=0), X[train].std(axis=0)
        X = (X - mean) / std

    net = bpcore.Network(
        [4, 5, 3],
        activation="sigmoid",
        output_activation="sigmoid",
        loss="mse",
        init="small_uniform",
        seed=args.seed,
    )
    print(f"{net}")
    inputs = "raw, in cm" if args.raw else "standardised"
    print(
        f"Iris: {train.size} training and {test.size} test flowers, inputs {inputs}; online BP "
        f"with α = {args.lr}, ε = {args.tol}, at most {args.epochs} epochs"
    )

    def report(net: bpcore.Network, epoch: int, logs: dict) -> None:
        if epoch == 1 or epoch % 25 == 0:
            print(f"  epoch {epoch:4d}   J = {logs['loss']:.5f}")

    hist = net.fit(
        X[train],
        Y[train],
        epochs=args.epochs,
        batch_size=1,
        lr=args.lr,
        optimizer="sgd",
        tol=args.tol,
        shuffle=True,
        seed=args.seed,
        callbacks=[report],
    )

    def accuracy(idx: np.ndarray) -> float:
        return float(np.mean(net.predict(X[idx]).argmax(axis=1) == y[idx]))

    J_epoch = hist.loss[-1]
    J_net = net.loss(X[train], Y[train])
    print(
        f"stopped after {hist.epochs} epochs ({hist.stop_reason}): mean J of the last epoch "
        f"{J_epoch:.5f} (mean J during epoch {hist.epochs}); J of the trained network on the "
        f"training set {J_net:.5f}"
    )
    if hist.stop_reason == "tol" and J_net >= args.tol:
        print(
            f"  (the ε test uses the mean J during the epoch, below ε = {args.tol}; the trained "
            "network's J is measured after the epoch's last update, on all samples at once, and "
            "online steps that fit one sample can raise J on the others)"
        )
    print(f"accuracy: training {accuracy(train):.3f}, test {accuracy(test):.3f}")
    if hist.stop_reason != "tol":
        print(f"J did not fall below ε = {args.tol} in {args.epochs} epochs")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
