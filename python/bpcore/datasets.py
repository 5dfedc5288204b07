"""Built-in data sets: Iris (shipped as a CSV in the package) and seeded generators.

Nothing here reaches the network. Every generator takes an explicit ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["Dataset", "load_iris", "make_xor", "make_moons", "make_sine", "one_hot"]


@dataclass
class Dataset:
    """Features X (n, d), targets y (n,) or (n, q), and names."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_names: list[str]
    description: str = ""

    def __iter__(self):  # X, y = load_iris()
        return iter((self.X, self.y))


def load_iris() -> Dataset:
    """Fisher's Iris: X (150, 4) in cm, y (150,) integer classes 0, 1, 2 (setosa, versicolor,
    virginica). The CSV ships inside the package (see ``bpcore/data/README.md``)."""
    text = resources.files("bpcore").joinpath("data/iris.csv").read_text(encoding="utf-8")
    lines = text.strip().splitlines()
    header = lines[0].split(",")
    target_names = ["setosa", "versicolor", "virginica"]
    X = np.empty((len(lines) - 1, 4))
    y = np.empty(len(lines) - 1, dtype=np.int64)
    for i, line in enumerate(lines[1:]):
        cells = line.split(",")
        X[i] = [float(c) for c in cells[:4]]
        y[i] = target_names.index(cells[4])
    return Dataset(X, y, header[:4], target_names, "Fisher's Iris data, 150 samples, 3 classes")


def one_hot(y: np.ndarray, n_classes: int | None = None, dtype: str = "float64") -> np.ndarray:
    """Integer labels 0 … k-1 (n,) as one-hot rows (n, k)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"y must be 1-D integer labels; got shape {y.shape}, dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise ValueError("labels must be non-negative")
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.size and y.max() >= k:
        raise ValueError(f"label {int(y.max())} does not fit n_classes={k}")
    out = np.zeros((y.shape[0], k), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out


def make_xor(n_repeats: int = 1, noise: float = 0.0, seed: int = 0) -> Dataset:
    """The four XOR points (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0, repeated, with optional noise."""
    base = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    X = np.tile(base, (n_repeats, 1))
    y = np.tile(np.array([0, 1, 1, 0]), n_repeats)
    if noise:
        X = X + np.random.default_rng(seed).normal(scale=noise, size=X.shape)
    return Dataset(X, y, ["x1", "x2"], ["0", "1"], "XOR of two binary inputs")


def make_moons(n_samples: int = 200, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles in 2-D, classes 0 and 1."""
    rng = np.random.default_rng(seed)
    n0 = n_samples // 2
    n1 = n_samples - n0
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n1)
    X = np.vstack(
        [
            np.column_stack([np.cos(t0), np.sin(t0)]),
            np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)]),
        ]
    )
    y = np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(n1, dtype=np.int64)])
    if noise:
        X = X + rng.normal(scale=noise, size=X.shape)
    order = rng.permutation(n_samples)
    return Dataset(X[order], y[order], ["x1", "x2"], ["0", "1"], "two moons")


def make_sine(n_samples: int = 200, noise: float = 0.05, seed: int = 0) -> Dataset:
    """Regression: y = sin(x) + noise for x uniform on [-π, π]; X (n, 1), y (n, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, size=(n_samples, 1))
    y = np.sin(x) + (rng.normal(scale=noise, size=x.shape) if noise else 0.0)
    return Dataset(x, y, ["x"], ["sin(x)"], "noisy sine")
