"""Built-in data sets and the readers of CSV, .npy and .npz files."""

from __future__ import annotations

import numpy as np
import pytest
from bpcore import datasets
from bpcore.dataio import load_for_model, load_table, read_csv, read_npy, read_npz
from bpcore.preprocessing import Preprocessing


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- built-in sets
def test_iris_is_fishers_data():
    ds = datasets.load_iris()
    assert ds.X.shape == (150, 4) and ds.y.shape == (150,)
    assert np.bincount(ds.y).tolist() == [50, 50, 50]
    assert ds.target_names == ["setosa", "versicolor", "virginica"]
    # well-known column means of the data set (cm)
    np.testing.assert_allclose(ds.X.mean(axis=0), [5.8433, 3.0573, 3.758, 1.1993], atol=1e-3)
    t = load_table("iris")
    assert t.y[0] == "setosa" and t.y[-1] == "virginica" and t.target == "species"
    assert t.feature_names == ds.feature_names


def test_generators_are_seeded():
    a, b = datasets.make_moons(50, seed=1), datasets.make_moons(50, seed=1)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X, datasets.make_moons(50, seed=2).X)
    assert load_table("moons", n_samples=60, seed=3).X.shape == (60, 2)
    xor = load_table("xor", n_samples=8)
    assert xor.X.shape == (8, 2) and xor.y.tolist() == [0, 1, 1, 0] * 2
    sine = load_table("sine", n_samples=30, noise=0.0)
    np.testing.assert_allclose(sine.y, np.sin(sine.X))
    with pytest.raises(ValueError, match="multiple of 4"):
        load_table("xor", n_samples=6)
    with pytest.raises(ValueError, match="not to iris"):
        load_table("iris", n_samples=10)


def test_one_hot():
    Y = datasets.one_hot(np.array([2, 0, 1]))
    assert Y.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match="integer labels"):
        datasets.one_hot(np.array([0.5]))


# ---------------------------------------------------------------------- CSV
def test_csv_with_header_and_named_target(tmp_path):
    p = _write(tmp_path / "d.csv", "a,b,label,c\n1,2,x,3\n4,5,y,6\n\n7,8,x,9\n")
    t = read_csv(p, target="label")
    assert t.X.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert t.y.tolist() == ["x", "y", "x"]
    assert t.feature_names == ["a", "b", "c"] and t.target == "label"
    t = read_csv(p, target="label", features=["c", "a"])
    assert t.X.tolist() == [[3, 1], [6, 4], [9, 7]]


def test_csv_without_header_numeric_target_by_index(tmp_path):
    p = _write(tmp_path / "d.csv", "1;2;0\n3;4;1\n5;6;1\n")
    t = read_csv(p, target=-1, delimiter=";")
    assert t.feature_names is None and t.target == 2
    assert t.X.tolist() == [[1, 2], [3, 4], [5, 6]] and t.y.tolist() == [0.0, 1.0, 1.0]
    t = read_csv(p, target=0, delimiter=";")
    assert t.X.tolist() == [[2, 0], [4, 1], [6, 1]]
    t = read_csv(p, target=None, delimiter=";")
    assert t.y is None and t.X.shape == (3, 3)


def test_csv_header_detection(tmp_path):
    assert read_csv(_write(tmp_path / "h.csv", "x,y\n1,2\n")).feature_names == ["x"]
    assert read_csv(_write(tmp_path / "n.csv", "1,2\n3,4\n")).feature_names is None
    # string labels in every row do not make the first row a header
    assert read_csv(_write(tmp_path / "s.csv", "1,a\n2,b\n")).y.tolist() == ["a", "b"]
    assert read_csv(tmp_path / "h.csv", header=True, target=None).X.tolist() == [[1, 2]]
    with pytest.raises(ValueError, match="line 1, column 0: 'x', not a number"):
        read_csv(tmp_path / "h.csv", header=False)


@pytest.mark.parametrize(
    "text,kwargs,match",
    [
        ("a,b\n1,2\n3\n", {}, "line 3 has 1 cells; the first row has 2"),
        ("a,b,c\n1,,2\n", {}, "line 2, column 'b': empty"),
        ("a,b,c\n1,zz,2\n", {}, "line 2, column 'b': 'zz', not a number"),
        ("a,b\n1,nan\n", {"target": 0}, "NaN and infinite"),
        ("a,b\n1,\n", {}, "target column 'b' is empty"),
        ("a,b\n1,2\n", {"target": "z"}, "'z' is not a column .* its columns are a, b"),
        ("1,2\n3,4\n", {"target": "z"}, "no header row"),
        ("a,b\n1,2\n", {"target": 5}, "out of range"),
        ("a,b\n1,2\n", {"target": "a", "features": ["a"]}, "also listed in features"),
        ("a,b\n1,2\n", {"features": ["a", "a"], "target": None}, "twice"),
        ("a\n1\n", {}, "no feature column"),
        ("a,a\n1,2\n", {}, "repeated column names"),
        ("a,b\n", {}, "no data rows"),
        ("", {}, "no data rows"),
    ],
)
def test_csv_errors_name_the_place(tmp_path, text, kwargs, match):
    p = _write(tmp_path / "bad.csv", text)
    with pytest.raises(ValueError, match=match):
        read_csv(p, **kwargs)


def test_missing_files_and_unknown_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_table(tmp_path / "none.csv")
    with pytest.raises(ValueError, match="iris, xor, moons, sine or a file ending in"):
        load_table("cifar")
    with pytest.raises(TypeError, match="file path"):
        load_table(3)


# ---------------------------------------------------------------------- NumPy files
def test_npy_and_npz(tmp_path):
    arr = np.column_stack([np.arange(5.0), np.arange(5.0) ** 2, [0, 1, 0, 1, 1]])
    np.save(tmp_path / "d.npy", arr)
    t = read_npy(tmp_path / "d.npy")
    assert np.array_equal(t.X, arr[:, :2]) and np.array_equal(t.y, arr[:, 2]) and t.target == 2
    t = load_table(tmp_path / "d.npy", target=0)
    assert np.array_equal(t.X, arr[:, 1:]) and np.array_equal(t.y, arr[:, 0])
    with pytest.raises(ValueError, match="column indices"):
        read_npy(tmp_path / "d.npy", target="y")
    np.savez(tmp_path / "d.npz", X=arr[:, :2], y=np.array(["a", "b", "a", "b", "b"]))
    t = read_npz(tmp_path / "d.npz")
    assert np.array_equal(t.X, arr[:, :2]) and t.y.tolist() == ["a", "b", "a", "b", "b"]
    np.savez(tmp_path / "noX.npz", A=arr)
    with pytest.raises(ValueError, match="array named 'X'"):
        read_npz(tmp_path / "noX.npz")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="without pickle"):
        read_npy(tmp_path / "obj.npy")
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="NaN"):
        read_npy(tmp_path / "nan.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="not a valid NumPy file|without pickle"):
        read_npy(tmp_path / "junk.npy")


# ---------------------------------------------------------------------- data for a trained model
def test_load_for_model_by_names_and_by_count(tmp_path):
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    prep = Preprocessing.fit(X, ["u", "v", "u"], feature_names=["f1", "f2"], target="cls")
    # columns found by name, in another order, target present
    p = _write(tmp_path / "named.csv", "cls,f2,extra,f1\nu,2,0,1\nv,4,0,3\n")
    t = load_for_model(p, prep, 2, need_target=True)
    assert t.X.tolist() == [[1, 2], [3, 4]] and t.y.tolist() == ["u", "v"]
    # features only
    p = _write(tmp_path / "plain.csv", "1,2\n3,4\n")
    t = load_for_model(p, prep, 2, need_target=False)
    assert t.X.tolist() == [[1, 2], [3, 4]] and t.y is None
    with pytest.raises(ValueError, match="no target column .*'cls'"):
        load_for_model(p, prep, 2, need_target=True)
    # d + 1 columns: the last one is the target
    p = _write(tmp_path / "withy.csv", "1,2,u\n3,4,v\n")
    t = load_for_model(p, prep, 2, need_target=True)
    assert t.y.tolist() == ["u", "v"]
    p = _write(tmp_path / "wide.csv", "1,2,3,4\n")
    with pytest.raises(ValueError, match="has 4 columns; the model needs its 2 feature columns"):
        load_for_model(p, prep, 2, need_target=False)
    np.save(tmp_path / "x.npy", X)
    assert load_for_model(tmp_path / "x.npy", prep, 2, need_target=False).X.shape == (3, 2)
    with pytest.raises(ValueError, match="expects 4"):
        load_for_model("moons", prep, 4, need_target=False)
