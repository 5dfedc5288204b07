"""Sparse X (scipy.sparse): the same numbers as the densified X, in every path that takes X.

The first layer reads a CSR X's stored values only (the core's sparse.hpp); everything after it is
the dense network. So every result must equal the one of ``X.toarray()`` up to rounding (1e-12 in
float64): forward, predict, loss, gradients, and training with each optimizer, sample weights and
validation data. Threads never change a bit. Bad input gives clear errors, and a data set whose
dense form would take 80 GB trains in a small fraction of that memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import bpcore
import numpy as np
import pytest
import scipy.sparse as sp
from bpcore import _sparse

TOL = 1e-12


def _data(n: int = 240, d: int = 50, q: int = 3, density: float = 0.08, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=np.float64)
    X.data = rng.normal(size=X.nnz)
    Y = rng.normal(size=(n, q))
    return X, Y


def _pair(sizes, **kwargs):
    kwargs.setdefault("activation", "tanh")
    kwargs.setdefault("output_activation", "identity")
    kwargs.setdefault("init", "xavier")
    kwargs.setdefault("seed", 3)
    return bpcore.Network(sizes, **kwargs), bpcore.Network(sizes, **kwargs)


FORMATS = {
    "csr": lambda X: X.tocsr(),
    "csc": lambda X: X.tocsc(),
    "coo": lambda X: X.tocoo(),
    "lil": lambda X: X.tolil(),
    "csr_array": lambda X: sp.csr_array(X),
    "int64 indices": lambda X: sp.csr_matrix(
        (X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)), shape=X.shape
    ),
}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_forward_predict_loss_backward_equal_the_dense_input(fmt):
    X, Y = _data()
    Xs, D = FORMATS[fmt](X), X.toarray()
    w = np.random.default_rng(1).uniform(0.1, 2.0, size=X.shape[0])
    sparse, dense = _pair([50, 7, 3])
    np.testing.assert_allclose(sparse.predict(Xs), dense.predict(D), rtol=0, atol=TOL)
    np.testing.assert_allclose(sparse.forward(Xs), dense.forward(D), rtol=0, atol=TOL)
    for k in sparse.Z:
        np.testing.assert_allclose(sparse.Z[k], dense.Z[k], rtol=0, atol=TOL)
    assert abs(sparse.loss(Xs, Y, w) - dense.loss(D, Y, w)) < TOL
    Js, gs = sparse.backward(Xs, Y, w)
    Jd, gd = dense.backward(D, Y, w)
    assert abs(Js - Jd) < TOL
    for (gWs, gbs), (gWd, gbd) in zip(gs, gd):
        np.testing.assert_allclose(gWs, gWd, rtol=0, atol=TOL)
        np.testing.assert_allclose(gbs, gbd, rtol=0, atol=TOL)
    # H^[0] = X stays sparse, as a copy
    H0 = sparse.H[0]
    assert sp.issparse(H0) and H0 is not Xs
    np.testing.assert_array_equal(H0.toarray(), D)


def test_sparse_gradient_matches_central_differences():
    X, Y = _data(n=40, d=20, q=2, density=0.2)
    net = bpcore.Network([20, 5, 2], activation="tanh", output_activation="identity", seed=1)
    _, grads = net.backward(X, Y)
    gW1 = grads[0][0]
    W1 = net.weights[0]
    rows, cols = X.nonzero()
    h = 1e-6
    for i, o in [(int(cols[0]), 0), (int(cols[5]), 3), (int(cols[-1]), 4)]:
        old = W1[i, o]
        W1[i, o] = old + h
        up = net.loss(X, Y)
        W1[i, o] = old - h
        down = net.loss(X, Y)
        W1[i, o] = old
        assert abs((up - down) / (2 * h) - gW1[i, o]) < 1e-8
    # a column with no stored value gets no gradient
    empty = np.setdiff1d(np.arange(20), cols)
    if empty.size:
        assert np.all(gW1[empty] == 0)


CASES = {
    "online sgd": dict(optimizer="sgd", batch_size=1, lr=0.02),
    "momentum, batches of 16": dict(optimizer="momentum", batch_size=16, lr=0.02),
    "adam, no shuffle": dict(optimizer="adam", batch_size=32, lr=0.01, shuffle=False),
    "rprop": dict(optimizer="rprop"),
    "lbfgs": dict(optimizer="lbfgs"),
    "lm": dict(optimizer="lm"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_training_equals_training_on_the_dense_input(case):
    X, Y = _data(n=200, d=30, q=2, density=0.1, seed=2)
    Xv, Yv = _data(n=60, d=30, q=2, density=0.1, seed=3)
    w = np.random.default_rng(4).uniform(0.0, 2.0, size=X.shape[0])
    sparse, dense = _pair([30, 6, 2])
    opts = dict(CASES[case], epochs=4, seed=5, sample_weight=w)
    hs = sparse.fit(X, Y, validation_data=(Xv, Yv), **opts)
    hd = dense.fit(X.toarray(), Y, validation_data=(Xv.toarray(), Yv), **opts)
    assert hs.epochs == hd.epochs
    np.testing.assert_allclose(hs.loss, hd.loss, rtol=0, atol=TOL)
    np.testing.assert_allclose(hs.val_loss, hd.val_loss, rtol=0, atol=TOL)
    np.testing.assert_allclose(sparse.parameters, dense.parameters, rtol=0, atol=TOL)
    assert hs.loss[-1] < hs.loss[0]


def test_validation_fraction_and_metrics_on_sparse_input():
    X, Y = _data(n=150, d=25, q=1, density=0.15, seed=6)
    sparse, dense = _pair([25, 4, 1])
    opts = dict(epochs=3, batch_size=10, optimizer="adam", lr=0.01, seed=1)
    hs = sparse.fit(X, Y, validation_fraction=0.2, metrics=["mae"], **opts)
    hd = dense.fit(X.toarray(), Y, validation_fraction=0.2, metrics=["mae"], **opts)
    np.testing.assert_allclose(hs.val_loss, hd.val_loss, rtol=0, atol=TOL)
    np.testing.assert_allclose(hs.metrics["val_mae"], hd.metrics["val_mae"], rtol=0, atol=TOL)


def test_float32_network_on_sparse_input():
    X, Y = _data(n=100, d=20, q=2, density=0.2, seed=7)
    sparse, dense = _pair([20, 5, 2], dtype="float32")
    np.testing.assert_allclose(sparse.predict(X), dense.predict(X.toarray()), rtol=0, atol=1e-6)
    hs = sparse.fit(X, Y, epochs=2, batch_size=8, optimizer="adam", lr=0.01)
    hd = dense.fit(X.toarray(), Y, epochs=2, batch_size=8, optimizer="adam", lr=0.01)
    np.testing.assert_allclose(hs.loss, hd.loss, rtol=1e-5)
    assert sparse.predict(X).dtype == np.float32


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_sparse_results_are_bitwise_the_same_for_any_thread_count(optimizer):
    # enough rows and columns for the core to use threads over several row blocks
    X, Y = _data(n=4000, d=600, q=3, density=0.03, seed=8)
    a, b = _pair([600, 32, 3])
    opts = dict(epochs=2, optimizer=optimizer, seed=2)
    if optimizer == "adam":
        opts.update(batch_size=512, lr=0.01)
    ha = a.fit(X, Y, n_threads=1, **opts)
    hb = b.fit(X, Y, n_threads=2, **opts)
    assert ha.loss == hb.loss
    assert a.parameters.tobytes() == b.parameters.tobytes()
    assert a.predict(X, n_threads=1).tobytes() == a.predict(X, n_threads=2).tobytes()
    Ja, ga = a.backward(X, Y, n_threads=1)
    Jb, gb = a.backward(X, Y, n_threads=2)
    assert Ja == Jb and all(x[0].tobytes() == y[0].tobytes() for x, y in zip(ga, gb))


def test_unsorted_and_duplicate_indices_are_summed_and_the_input_left_alone():
    # row 0 lists columns 3, 1, 3 (unsorted, 3 twice); row 1 is empty; row 2 has column 0
    data = np.array([1.0, 2.0, 0.5, -1.0])
    indices = np.array([3, 1, 3, 0], dtype=np.int32)
    indptr = np.array([0, 3, 3, 4], dtype=np.int32)
    X = sp.csr_matrix((data, indices, indptr), shape=(3, 4))
    X.has_sorted_indices = False  # as scipy leaves a matrix built from raw arrays like these
    before = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    net = bpcore.Network([4, 3, 2], activation="tanh", seed=2)
    expected = net.predict(np.array([[0, 2.0, 0, 1.5], [0, 0, 0, 0], [-1.0, 0, 0, 0]]))
    np.testing.assert_allclose(net.predict(X), expected, rtol=0, atol=TOL)
    for a, b in zip(before, (X.data, X.indices, X.indptr)):
        np.testing.assert_array_equal(a, b)
    # the core's own check, for a matrix handed to it directly
    with pytest.raises(ValueError, match="sorted without duplicates"):
        bpcore._core.Csr64(data, indices, indptr, (3, 4))
    with pytest.raises(ValueError, match="outside"):
        bpcore._core.Csr64(data, np.array([0, 1, 9, 0], np.int32), indptr, (3, 4))
    with pytest.raises(ValueError, match="indptr"):
        bpcore._core.Csr64(data, indices, indptr[:-1], (3, 4))
    with pytest.raises(ValueError, match="int32 or int64"):
        bpcore._core.Csr64(data, indices.astype(np.int64), indptr, (3, 4))


def test_a_canonical_csr_of_the_right_dtype_is_read_in_place():
    X, _ = _data()
    assert _sparse.as_csr(X, "X", np.dtype(np.float64), X.shape[1]) is X
    converted = _sparse.as_csr(X, "X", np.dtype(np.float32), X.shape[1])
    assert converted is not X and converted.dtype == np.float32 and X.dtype == np.float64


def test_bad_sparse_input_gives_clear_errors():
    X, Y = _data(n=20, d=10, q=1, density=0.3)
    net = bpcore.Network([10, 3, 1])
    bad = X.copy()
    bad.data[5] = np.nan
    row = int(np.searchsorted(bad.indptr, 5, side="right")) - 1
    col = int(bad.indices[5])
    with pytest.raises(ValueError, match=rf"X contains nan at index \({row}, {col}\)"):
        net.predict(bad)
    bad.data[5] = np.inf
    with pytest.raises(ValueError, match="NaN and infinite values are not allowed"):
        net.fit(bad, Y, epochs=1)
    with pytest.raises(ValueError, match="X_val contains inf"):
        net.fit(X, Y, epochs=1, validation_data=(bad, Y))
    with pytest.raises(ValueError, match="must have 10 features"):
        net.predict(sp.random(4, 11, density=0.5, format="csr"))
    with pytest.raises(ValueError, match="no samples"):
        net.predict(sp.csr_matrix((0, 10)))
    with pytest.raises(ValueError, match="different numbers of samples"):
        net.fit(X, Y[:-1], epochs=1)
    with pytest.raises(TypeError, match="complex"):
        net.predict(X.astype(np.complex128))
    with pytest.raises(ValueError, match="beyond float32's range"):
        bpcore.Network([10, 3, 1], dtype="float32").predict(X * 1e300)


def test_the_glass_box_refuses_sparse_input_and_says_what_to_do():
    X, Y = _data(n=5, d=10, q=1, density=0.3)
    net = bpcore.Network([10, 3, 1])
    with pytest.raises(TypeError, match=r"X is a scipy.sparse matrix.*X.toarray\(\)"):
        net.trace(X, Y)


def test_bpcore_does_not_import_scipy_for_dense_input():
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import bpcore
        net = bpcore.Network([3, 2, 1])
        net.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1)
        net.predict(np.ones((2, 3)))
        print("scipy" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- scikit-learn estimators


@pytest.mark.parametrize("batch_size", [1, 16])
def test_dropout_training_on_sparse_input_equals_the_dense_input(batch_size):
    # the masks follow each row's index in the data set, whichever way the batch reaches the core
    X, Y = _data(n=120, d=30, q=2, density=0.1, seed=6)
    sparse, dense = _pair([30, 8, 6, 2], dropout=[0.4, 0.2])
    opts = dict(optimizer="momentum", batch_size=batch_size, lr=0.02, epochs=3, seed=7)
    hs = sparse.fit(X, Y, **opts)
    hd = dense.fit(X.toarray(), Y, **opts)
    np.testing.assert_allclose(hs.loss, hd.loss, rtol=1e-12, atol=TOL)
    # the first layer's sums run in another order: rounding grows over 3 epochs of momentum
    np.testing.assert_allclose(sparse.parameters, dense.parameters, rtol=0, atol=1e-8)
    plain = bpcore.Network(
        [30, 8, 6, 2], activation="tanh", output_activation="identity", init="xavier", seed=3
    )
    plain.fit(X, Y, **opts)
    assert np.max(np.abs(plain.parameters - sparse.parameters)) > 1e-6  # the masks acted
    Js, _ = sparse.backward(X[:10], Y[:10], dropout_seed=1)
    Jd, _ = dense.backward(X[:10].toarray(), Y[:10], dropout_seed=1)
    assert abs(Js - Jd) <= 1e-9 * abs(Jd)  # the trained parameters agree to 1e-8
    for k, M in dense.mask.items():
        np.testing.assert_array_equal(sparse.mask[k], M)


def test_estimators_lbfgs_on_sparse_input_equals_dense():
    X, _ = _data(n=150, d=40, q=1, density=0.1, seed=11)
    y = np.random.default_rng(11).integers(0, 3, size=150)
    params = dict(solver="lbfgs", hidden_layer_sizes=(10,), max_iter=40, random_state=0)
    with pytest.warns(Warning):  # 40 iterations do not converge
        sparse = bpcore.MLPClassifier(**params).fit(X, y)
    with pytest.warns(Warning):
        dense = bpcore.MLPClassifier(**params).fit(X.toarray(), y)
    assert sparse.n_iter_ == dense.n_iter_
    assert abs(sparse.loss_ - dense.loss_) <= 1e-10
    np.testing.assert_allclose(
        sparse.predict_proba(X), dense.predict_proba(X.toarray()), rtol=0, atol=1e-9
    )


def test_classifier_on_sparse_input_equals_dense():
    X, _ = _data(n=180, d=40, q=1, density=0.1, seed=9)
    y = np.random.default_rng(9).integers(0, 3, size=180)
    params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, batch_size=32)
    sparse = bpcore.MLPClassifier(**params)
    dense = bpcore.MLPClassifier(**params)
    with pytest.warns(Warning):
        sparse.fit(X.tocsc(), y)
    with pytest.warns(Warning):
        dense.fit(X.toarray(), y)
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=0, atol=TOL)
    np.testing.assert_allclose(
        sparse.predict_proba(X), dense.predict_proba(X.toarray()), rtol=0, atol=TOL
    )
    np.testing.assert_array_equal(sparse.predict(X), dense.predict(X.toarray()))
    assert sparse.score(X, y) == dense.score(X.toarray(), y)
    sparse.partial_fit(X, y)
    dense.partial_fit(X.toarray(), y)
    np.testing.assert_allclose(sparse.coefs_[0], dense.coefs_[0], rtol=0, atol=TOL)
    assert sparse.__sklearn_tags__().input_tags.sparse is True


def test_regressor_on_sparse_input_with_weights_and_early_stopping_equals_dense():
    X, Y = _data(n=200, d=30, q=2, density=0.1, seed=10)
    w = np.random.default_rng(10).uniform(0.5, 1.5, size=200)
    params = dict(hidden_layer_sizes=(6,), max_iter=6, random_state=1, early_stopping=True, tol=0.0)
    sparse = bpcore.MLPRegressor(**params)
    dense = bpcore.MLPRegressor(**params)
    with pytest.warns(Warning):
        sparse.fit(sp.coo_matrix(X), Y, sample_weight=w)
    with pytest.warns(Warning):
        dense.fit(X.toarray(), Y, sample_weight=w)
    np.testing.assert_allclose(sparse.validation_scores_, dense.validation_scores_, atol=TOL)
    np.testing.assert_allclose(sparse.predict(X), dense.predict(X.toarray()), rtol=0, atol=TOL)
    assert abs(sparse.score(X, Y) - dense.score(X.toarray(), Y)) < TOL
    assert sparse.__sklearn_tags__().input_tags.sparse is True


# ---------------------------------------------------------------- memory


MEMORY_SCRIPT = """
import sys
import numpy as np
import scipy.sparse as sp
import bpcore

def kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])

n, d, per_row = 200_000, 50_000, 25          # 5 000 000 stored values: 0.05 % of n d
rng = np.random.default_rng(0)
# per row 25 distinct columns in increasing order: cumulative gaps of 1 … 1999
indices = np.cumsum(rng.integers(1, 2000, size=(n, per_row), dtype=np.int32), axis=1) - 1
indices = indices.astype(np.int32).ravel()
data = rng.uniform(0.5, 1.5, size=n * per_row)
indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int32)
X = sp.csr_matrix((data, indices, indptr), shape=(n, d))
del data, indices, indptr
Y = rng.uniform(0, 1, size=(n, 1))
net = bpcore.Network([d, 8, 1], activation="relu", init="he", seed=0)
before = kib("VmRSS")
hist = net.fit(X, Y, epochs=1, batch_size=500, optimizer="sgd", lr=0.05, n_threads=1)
print(X.nnz, before, kib("VmHWM"), hist.loss[0], hist.epoch_time[0])
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_a_200000_by_50000_csr_trains_without_densifying():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    nnz, before_kib, peak_kib, loss, _ = out.stdout.split()
    assert int(nnz) == 5_000_000
    assert np.isfinite(float(loss))
    dense_bytes = 200_000 * 50_000 * 8  # 80 GB as float64
    peak = int(peak_kib) * 1024
    assert peak < dense_bytes / 100  # under 800 MB: the whole process, data set included
    # training itself adds memory for its batches and the network only, not for X
    assert (int(peak_kib) - int(before_kib)) * 1024 < 200e6


def test_the_data_parallel_epoch_of_one_shard_equals_the_plain_epoch_on_csr_rows():
    # the reducer path of the CSR epoch (sums, then the batch mean), on a single shard
    X, Y = _data(n=120, d=20, q=2, density=0.2, seed=11)
    core = bpcore._core
    C = core.Csr64(X.data, X.indices, X.indptr, X.shape)
    results = []
    for sharded in (False, True):
        net = core.Network64([20, 4, 2], ["tanh", "identity"], "mse")
        net.initialize("xavier", 1)
        opt = core.Optimizer64(core.OptimizerConfig(kind="adam", lr=0.01), net.n_params)
        calls: list[int] = []
        options = core.EpochOptions(batch_size=16, seed=2)
        if sharded:
            options.global_rows, options.row_offset = 120, 0
        reduce = (lambda g, s, calls=calls: calls.append(1)) if sharded else None
        r = core.train_epoch64(net, opt, C, Y, None, options, reduce)
        assert r.status == "ok" and r.batches == 8
        assert len(calls) == (8 if sharded else 0)
        results.append(net.params().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=0, atol=1e-15)
