"""Standardisation, target encoding, the seeded split, and prediction through Preprocessing."""

from __future__ import annotations

import bpcore
import numpy as np
import pytest
from bpcore.preprocessing import (
    Preprocessing,
    encode_labels,
    infer_task,
    standardization_statistics,
    train_validation_split,
)


def test_standardization_statistics_match_numpy_and_guard_constant_columns():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[1, -3, 7], scale=[0.5, 4, 1], size=(50, 3))
    X[:, 2] = 7.0
    mean, scale = standardization_statistics(X)
    np.testing.assert_allclose(mean, X.mean(axis=0))
    np.testing.assert_allclose(scale[:2], X[:, :2].std(axis=0))
    assert scale[2] == 1.0
    Z = Preprocessing.fit(
        X, np.zeros((50, 1)) + rng.normal(size=(50, 1)), task="regression"
    ).transform(X)
    np.testing.assert_allclose(Z[:, :2].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z[:, :2].std(axis=0), 1, atol=1e-12)
    assert np.all(Z[:, 2] == 0)


def test_train_validation_split_is_seeded_and_disjoint():
    tr, va = train_validation_split(100, 0.2, seed=3)
    assert len(va) == 20 and len(tr) == 80
    assert np.array_equal(np.sort(np.concatenate([tr, va])), np.arange(100))
    tr2, va2 = train_validation_split(100, 0.2, seed=3)
    assert np.array_equal(va, va2) and np.array_equal(tr, tr2)
    _, va3 = train_validation_split(100, 0.2, seed=4)
    assert not np.array_equal(va, va3)
    tr0, va0 = train_validation_split(7, 0.0)
    assert np.array_equal(tr0, np.arange(7)) and va0.size == 0
    with pytest.raises(ValueError, match="validation_fraction must be in"):
        train_validation_split(10, 1.0)
    with pytest.raises(ValueError, match="leaves no validation"):
        train_validation_split(3, 0.1)
    with pytest.raises(ValueError, match="seed"):
        train_validation_split(10, 0.5, seed=-1)
    with pytest.raises(ValueError, match="n_samples"):
        train_validation_split(0, 0.5)


def test_encode_labels_sorts_and_unifies_numbers():
    idx, classes = encode_labels(["b", "a", "c", "a"])
    assert classes == ["a", "b", "c"] and idx.tolist() == [1, 0, 2, 0]
    idx, classes = encode_labels(np.array([10.0, 2.0, 2.0]))
    assert classes == [2, 10] and idx.tolist() == [1, 0, 0]
    idx, _ = encode_labels(["1", "2.0", "1.0"], classes=[1, 2])
    assert idx.tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="label 'x' of sample 1 is not one of the classes"):
        encode_labels(["a", "x"], classes=["a", "b"])
    with pytest.raises(ValueError, match="distinct"):
        encode_labels(["a"], classes=["a", "a"])
    with pytest.raises(ValueError, match="1-D"):
        encode_labels(np.zeros((3, 2)))


def test_infer_task():
    assert infer_task(["a", "b"]) == "classification"
    assert infer_task(np.array([0, 1, 2])) == "classification"
    assert infer_task(np.array([0.0, 1.0, 3.0])) == "classification"
    assert infer_task(np.array([0.5, 1.0])) == "regression"
    assert infer_task(np.zeros((4, 2))) == "regression"


def test_classification_encode_decode_one_hot():
    X = np.arange(12.0).reshape(6, 2)
    y = np.array(["cat", "dog", "emu", "dog", "cat", "emu"])
    p = Preprocessing.fit(X, y)
    assert p.task == "classification" and p.classes == ["cat", "dog", "emu"] and p.n_outputs == 3
    Y = p.encode(y)
    assert Y.shape == (6, 3) and np.array_equal(Y.argmax(axis=1), [0, 1, 2, 1, 0, 2])
    assert np.array_equal(Y.sum(axis=1), np.ones(6))
    assert p.decode(Y).tolist() == y.tolist()
    with pytest.raises(ValueError, match="not one of the model's classes"):
        p.encode(["cat", "yak"])
    # one-hot rows given as targets are read as labels
    assert p.class_indices(Y).tolist() == [0, 1, 2, 1, 0, 2]


def test_binary_single_output():
    X = np.random.default_rng(0).normal(size=(8, 2))
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    p = Preprocessing.fit(X, y, one_hot=False)
    assert p.n_outputs == 1 and p.classes == [0, 1]
    assert p.encode(y).ravel().tolist() == y.tolist()
    assert p.decode(np.array([[0.2], [0.7], [0.5]])).tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="exactly two classes"):
        Preprocessing.fit(X, np.arange(8) % 3, one_hot=False)


def test_regression_with_target_statistics():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    y = rng.normal(loc=50, scale=10, size=(30, 1))
    p = Preprocessing.fit(X, y, task="regression", standardize_target=True)
    Y = p.encode(y)
    np.testing.assert_allclose(Y.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(Y.std(), 1, atol=1e-12)
    np.testing.assert_allclose(p.decode(Y), y)
    plain = Preprocessing.fit(X, y, task="regression", standardize=False)
    assert plain.mean is None and np.array_equal(plain.transform(X), X)
    assert np.array_equal(plain.encode(y), y)


def test_predict_and_evaluate_with_a_network():
    from bpcore.datasets import load_iris

    ds = load_iris()
    y = np.asarray(ds.target_names)[ds.y]
    p = Preprocessing.fit(ds.X, y)
    net = bpcore.Network([4, 5, 3], seed=0)
    net.fit(p.transform(ds.X), p.encode(y), epochs=60, lr=0.5)
    labels = p.predict(net, ds.X)
    m = p.evaluate(net, ds.X, y)
    assert m["n"] == 150
    assert m["correct"] == int((labels == y).sum())
    assert m["accuracy"] == pytest.approx(m["correct"] / 150)
    assert m["accuracy"] > 0.9
    assert m["loss"] == pytest.approx(net.loss(p.transform(ds.X), p.encode(y)))
    np.testing.assert_allclose(p.outputs(net, ds.X), net.predict(p.transform(ds.X)))


def test_regression_evaluate_reports_rmse_in_target_units():
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, size=(40, 1))
    y = 1000 + 200 * X
    p = Preprocessing.fit(X, y, task="regression", standardize_target=True)
    net = bpcore.Network([1, 1], output_activation="identity", seed=0)
    net.parameters[...] = 0.0  # Ŷ = 0 in standardised units: the prediction is the mean of y
    m = p.evaluate(net, X, y)
    np.testing.assert_allclose(m["rmse"], y.std(), rtol=1e-12)
    np.testing.assert_allclose(p.predict(net, X), np.full((40, 1), y.mean()))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"task": "clustering"}, "task must be one of"),
        ({"task": "classification"}, "needs the list of classes"),
        ({"task": "classification", "classes": ["a", "b", "c"], "one_hot": False}, "exactly two"),
        ({"task": "regression", "classes": ["a"]}, "classification only"),
        ({"task": "regression", "mean": [0.0]}, "go together"),
        ({"task": "regression", "mean": [0.0], "scale": [0.0]}, "scale must be positive"),
        ({"task": "regression", "mean": [0.0, 1.0], "scale": [1.0]}, "same shape"),
        ({"task": "regression", "target_mean": [0.0], "target_scale": [-1.0]}, "positive"),
        ({"task": "regression", "mean": [np.nan], "scale": [1.0]}, "finite"),
        (
            {"task": "regression", "mean": [0.0], "scale": [1.0], "feature_names": ["a", "b"]},
            "2 names",
        ),
    ],
)
def test_preprocessing_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Preprocessing(**kwargs)


def test_transform_checks_the_feature_count():
    p = Preprocessing.fit(np.ones((4, 3)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="3 features"):
        p.transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        p.transform(np.array([[1.0, np.nan, 2.0]]))
    with pytest.raises(TypeError, match="numeric"):
        p.transform(np.array([["a", "b", "c"]]))
