"""Shared fixtures of bpcore's Python tests.

``reference.py`` (the pure-NumPy oracle) sits beside this file; its folder is put on ``sys.path``
so that every test module can ``from reference import ReferenceMLP``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np
import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@dataclass(frozen=True)
class IrisData:
    """Standardised Iris: X (150, 4) with zero mean and unit variance per feature, the integer
    classes y (150,) and their one-hot rows Y (150, 3)."""

    X: np.ndarray
    y: np.ndarray
    Y: np.ndarray


def _standardise(X: np.ndarray) -> np.ndarray:
    return (X - X.mean(axis=0)) / X.std(axis=0)


@pytest.fixture(scope="session")
def _iris_arrays() -> IrisData:
    import bpcore.datasets as ds

    X, y = ds.load_iris()
    Xs = _standardise(np.asarray(X, dtype=np.float64))
    Y = ds.one_hot(y, 3)
    for a in (Xs, y, Y):
        a.setflags(write=False)
    return IrisData(Xs, y, Y)


@pytest.fixture
def iris(_iris_arrays: IrisData) -> IrisData:
    """Standardised Iris (fresh writable copies for each test)."""
    return IrisData(_iris_arrays.X.copy(), _iris_arrays.y.copy(), _iris_arrays.Y.copy())


@pytest.fixture
def xor():
    """The four XOR points as (X (4, 2), Y (4, 1)) of float64."""
    import bpcore.datasets as ds

    X, y = ds.make_xor()
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64).reshape(-1, 1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def kwargs_id(value):
    """pytest ids for parametrised keyword-argument dicts."""
    if isinstance(value, dict):
        return ",".join(
            f"{k}={type(v).__name__ if callable(v) else v!r}"[:30] for k, v in value.items()
        )
    return None
