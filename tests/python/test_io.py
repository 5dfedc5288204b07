"""Model files: safetensors written natively, read back exactly, checked against damage, atomic."""

from __future__ import annotations

import json
import os
import struct

import bpcore
import numpy as np
import pytest
from bpcore import io as bio
from bpcore.dataio import load_table
from bpcore.preprocessing import Preprocessing

PAIRS = [  # (output activation, loss) — every pairing the core accepts
    ("sigmoid", "mse"),
    ("identity", "mse"),
    ("tanh", "mse"),
    ("relu", "mse"),
    ("prelu", "mse"),
    ("softmax", "cross_entropy"),
    ("sigmoid", "binary_cross_entropy"),
]


def _random_net(hidden_act, out_act, loss, dtype, seed=0, sizes=(3, 4, 5, 2)):
    net = bpcore.Network(
        list(sizes),
        activation=hidden_act,
        output_activation=out_act,
        loss=loss,
        dtype=dtype,
        init="xavier",
        seed=seed,
    )
    rng = np.random.default_rng(seed + 100)
    net.parameters[...] = rng.normal(scale=0.7, size=net.n_params)
    for a in net.alphas.values():  # prelu slopes away from their initial 0.25
        a[...] = rng.uniform(0.05, 0.5)
    return net


def _split(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _join(path, header, data, pad=True):
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


@pytest.fixture
def iris_model(tmp_path):
    t = load_table("iris")
    prep = Preprocessing.fit(t.X, t.y, feature_names=t.feature_names, target=t.target)
    net = bpcore.Network([4, 5, 3], seed=0)
    net.fit(prep.transform(t.X), prep.encode(t.y), epochs=20, lr=0.5)
    path = tmp_path / "iris.safetensors"
    net.save(path, preprocessing=prep, author="test")
    return net, prep, t, path


# ---------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("out_act,loss", PAIRS)
@pytest.mark.parametrize("hidden_act", bpcore.HIDDEN_ACTIVATIONS)
def test_save_load_identical(tmp_path, hidden_act, out_act, loss, dtype):
    net = _random_net(hidden_act, out_act, loss, dtype)
    path = tmp_path / "m.safetensors"
    net.save(path)
    back = bpcore.load(path)
    assert back.sizes == net.sizes
    assert back.activations == net.activations
    assert back.loss_name == loss and back.dtype == net.dtype
    assert back.init == net.init and back.seed == net.seed
    assert back.parameters.dtype == net.parameters.dtype
    assert np.array_equal(back.parameters, net.parameters)
    assert {l: float(a) for l, a in back.alphas.items()} == {
        l: float(a) for l, a in net.alphas.items()
    }
    X = np.random.default_rng(1).normal(size=(37, 3))
    assert np.array_equal(back.forward(X), net.forward(X))
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(back.predict(X), net.predict(X), rtol=tol, atol=tol)
    Y = net.predict(X)
    assert back.loss(X, Y) == pytest.approx(net.loss(X, Y), rel=tol, abs=tol)
    assert back.preprocessing is None and back.metadata == {}


def test_metadata_and_preprocessing_travel(iris_model):
    net, prep, t, path = iris_model
    back = bpcore.load(path)
    assert back.metadata == {"author": "test"}
    assert back.preprocessing == prep
    assert back.preprocessing.classes == ["setosa", "versicolor", "virginica"]
    assert back.preprocessing.feature_names == t.feature_names
    assert back.preprocessing.target == "species"
    labels = back.preprocessing.predict(back, t.X)
    assert np.array_equal(labels, prep.predict(net, t.X))
    assert set(labels) <= {"setosa", "versicolor", "virginica"}
    meta = bio.read_metadata(path)
    assert meta["bpcore.format"] == "bpcore-mlp" and meta["bpcore.format_version"] == "1"
    assert meta["bpcore.version"] == bpcore.__version__
    assert json.loads(meta["bpcore.sizes"]) == [4, 5, 3]
    assert json.loads(meta["bpcore.activations"]) == ["sigmoid", "sigmoid"]
    assert meta["bpcore.loss"] == "mse" and meta["bpcore.dtype"] == "float64"
    assert meta["bpcore.checksum"].startswith("sha256:")


def test_resave_keeps_metadata_and_preprocessing(iris_model, tmp_path):
    _, prep, t, path = iris_model
    back = bpcore.load(path)
    back.fit(prep.transform(t.X), prep.encode(t.y), epochs=2, lr=0.1)
    again = tmp_path / "again.safetensors"
    back.save(again, note={"epochs": 22})
    third = bpcore.load(again)
    assert third.metadata == {"author": "test", "note": '{"epochs": 22}'}
    assert third.preprocessing == prep
    assert np.array_equal(third.parameters, back.parameters)


def test_regression_target_statistics_round_trip(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = 100 + 30 * X[:, :1] - 5 * X[:, 1:]
    prep = Preprocessing.fit(X, y, task="regression", standardize_target=True)
    net = bpcore.Network([2, 6, 1], activation="tanh", output_activation="identity", seed=1)
    net.fit(prep.transform(X), prep.encode(y), epochs=30, batch_size=4, lr=0.05)
    net.save(tmp_path / "r.safetensors", preprocessing=prep)
    back = bpcore.load(tmp_path / "r.safetensors")
    assert back.preprocessing == prep
    np.testing.assert_allclose(
        back.preprocessing.predict(back, X), prep.predict(net, X), rtol=1e-12
    )
    assert abs(back.preprocessing.predict(back, X).mean() - 100) < 30


def test_file_layout_is_plain_safetensors(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and raw[8:9] == b"{"
    W1 = header["W1"]
    assert W1["dtype"] == "F64" and W1["shape"] == [4, 5]
    begin, end = W1["data_offsets"]
    W = np.frombuffer(data[begin:end], dtype="<f8").reshape(4, 5)
    assert np.array_equal(W, bpcore.load(path).weights[0])
    assert set(header) == {
        "__metadata__",
        "W1",
        "b1",
        "W2",
        "b2",
        "preprocessing.mean",
        "preprocessing.scale",
    }


def test_safetensors_library_reads_our_files_and_we_read_its(iris_model, tmp_path):
    st_numpy = pytest.importorskip(
        "safetensors.numpy", reason="the safetensors package is a test peer"
    )
    from safetensors import safe_open

    net, _, t, path = iris_model
    arrays = st_numpy.load_file(str(path))
    assert np.array_equal(arrays["W2"], net.weights[1])
    with safe_open(str(path), "np") as f:
        meta = f.metadata()
    assert meta == bio.read_metadata(path)
    # the library writes tensors in its own order; the checksum is order-independent
    other = tmp_path / "rewritten.safetensors"
    st_numpy.save_file(arrays, str(other), metadata=meta)
    back = bpcore.load(other)
    assert np.array_equal(back.parameters, net.parameters)
    assert np.array_equal(
        back.preprocessing.predict(back, t.X), bpcore.load(path).preprocessing.predict(net, t.X)
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "hidden_act,out_act,loss",
    [
        ("sigmoid", "sigmoid", "mse"),
        ("tanh", "softmax", "cross_entropy"),
        ("relu", "identity", "mse"),
        ("prelu", "prelu", "mse"),
        ("identity", "tanh", "mse"),
        ("prelu", "sigmoid", "binary_cross_entropy"),
    ],
)
def test_torch_rebuilds_the_same_predictions(tmp_path, hidden_act, out_act, loss, dtype):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional test peer")
    st_torch = pytest.importorskip(
        "safetensors.torch", reason="safetensors is an optional test peer"
    )
    net = _random_net(hidden_act, out_act, loss, dtype, seed=3)
    Xraw = np.random.default_rng(2).normal(loc=5, scale=3, size=(25, 3))
    prep = Preprocessing.fit(Xraw, np.random.default_rng(3).normal(size=(25, 2)), task="regression")
    path = tmp_path / "t.safetensors"
    net.save(path, preprocessing=prep)

    tensors = st_torch.load_file(str(path))
    meta = bio.read_metadata(path)
    sizes, acts = json.loads(meta["bpcore.sizes"]), json.loads(meta["bpcore.activations"])
    H = (torch.from_numpy(Xraw) - tensors["preprocessing.mean"]) / tensors["preprocessing.scale"]
    H = H.to(tensors["W1"].dtype)
    for l in range(1, len(sizes)):
        Z = H @ tensors[f"W{l}"] + tensors[f"b{l}"]
        f = acts[l - 1]
        if f == "sigmoid":
            H = torch.sigmoid(Z)
        elif f == "tanh":
            H = torch.tanh(Z)
        elif f == "relu":
            H = torch.relu(Z)
        elif f == "prelu":
            H = torch.where(Z > 0, Z, tensors[f"alpha{l}"] * Z)
        elif f == "softmax":
            H = torch.softmax(Z, dim=1)
        else:
            H = Z
    ours = bpcore.load(path)
    expected = ours.preprocessing.outputs(ours, Xraw)
    tol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(H.numpy(), expected, rtol=tol, atol=tol)


# ---------------------------------------------------------------------- bad input on save
def test_save_rejects_bad_arguments(tmp_path):
    net = bpcore.Network([2, 2])
    with pytest.raises(TypeError, match="bpcore.Network"):
        bio.save("not a net", tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="path"):
        net.save(42)
    with pytest.raises(ValueError, match="reserved"):
        net.save(tmp_path / "x.safetensors", **{"bpcore.sizes": "[1]"})
    with pytest.raises(TypeError, match="JSON"):
        net.save(tmp_path / "x.safetensors", thing=object())
    with pytest.raises(ValueError, match="features"):
        net.save(
            tmp_path / "x.safetensors",
            preprocessing=Preprocessing.fit(np.ones((4, 3)), [0, 1, 0, 1]),
        )
    with pytest.raises(ValueError, match="outputs"):
        net.save(
            tmp_path / "x.safetensors",
            preprocessing=Preprocessing.fit(np.ones((3, 2)), ["a", "b", "c"]),
        )
    with pytest.raises(FileNotFoundError, match="does not exist"):
        net.save(tmp_path / "missing-dir" / "x.safetensors")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- atomic writes
def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    old = bpcore.Network([2, 3, 1], seed=1)
    old.save(path)
    before = path.read_bytes()

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr("bpcore._atomic.os.fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        bpcore.Network([2, 3, 1], seed=2).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
    assert np.array_equal(bpcore.load(path).parameters, old.parameters)


def test_non_finite_parameters_are_not_saved(tmp_path):
    path = tmp_path / "m.safetensors"
    net = bpcore.Network([2, 3, 1], seed=1)
    net.save(path)
    before = path.read_bytes()
    net.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="W1 holds NaN"):
        net.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_overwrite_replaces_completely(tmp_path):
    path = tmp_path / "m.safetensors"
    bpcore.Network([2, 30, 30, 1], seed=1).save(path)
    small = bpcore.Network([2, 1], seed=2)
    small.save(path)
    assert bpcore.load(path).sizes == [2, 1]
    assert path.stat().st_size < 2000


def test_new_files_get_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    path = tmp_path / "m.safetensors"
    bpcore.Network([2, 1]).save(path)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


# ---------------------------------------------------------------------- damaged files
def _expect_error(path, pattern):
    with pytest.raises(bio.ModelFileError, match=pattern) as info:
        bpcore.load(path)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("keep", [0, 5, 8, 20, -9, -1])
def test_truncated_files(iris_model, keep):
    _, _, _, path = iris_model
    raw = path.read_bytes()
    path.write_bytes(raw[:keep] if keep >= 0 else raw[: len(raw) + keep])
    _expect_error(path, "truncated|too short|runs past|cover")


def test_huge_header_length(iris_model):
    _, _, _, path = iris_model
    raw = path.read_bytes()
    path.write_bytes(struct.pack("<Q", 2**62) + raw[8:])
    _expect_error(path, "header length")


def test_header_length_past_the_end(iris_model):
    _, _, _, path = iris_model
    raw = path.read_bytes()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw[8:])
    _expect_error(path, "runs past the end")


def test_zero_header_length(iris_model):
    _, _, _, path = iris_model
    raw = path.read_bytes()
    path.write_bytes(struct.pack("<Q", 0) + raw[8:])
    _expect_error(path, "header length 0")


def test_bad_json(iris_model):
    _, _, _, path = iris_model
    raw = bytearray(path.read_bytes())
    raw[20:24] = b"}}}}"
    path.write_bytes(bytes(raw))
    _expect_error(path, "not valid JSON")


def test_header_not_an_object(iris_model):
    _, _, _, path = iris_model
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    path.write_bytes(raw[:8] + b"[" + raw[9 : 8 + n] + raw[8 + n :])
    _expect_error(path, "start with")


def test_non_utf8_header(iris_model):
    _, _, _, path = iris_model
    raw = bytearray(path.read_bytes())
    raw[12] = 0xFF
    path.write_bytes(bytes(raw))
    _expect_error(path, "UTF-8")


def test_duplicate_keys(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    text = json.dumps(header)
    w1 = json.dumps({"W1": header["W1"]})[1:-1]
    text = text[:-1] + ", " + w1 + "}"
    raw = text.encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    _expect_error(path, "duplicate key 'W1'")


def test_shapes_that_do_not_match_sizes(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    header["W1"]["shape"] = [5, 4]  # same bytes, wrong orientation
    _join(path, header, data)
    _expect_error(path, "tensor 'W1' has shape \\[5, 4\\]; sizes \\[4, 5, 3\\] need \\[4, 5\\]")


def test_sizes_metadata_tampered(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    header["__metadata__"]["bpcore.sizes"] = "[4, 6, 3]"
    _join(path, header, data)
    _expect_error(path, "shape")


def test_shape_and_offsets_disagree(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    header["W1"]["shape"] = [4, 6]
    _join(path, header, data)
    _expect_error(path, "needs 192 bytes")


def test_offsets_out_of_range(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    b, e = header["b2"]["data_offsets"]
    header["b2"]["data_offsets"] = [b + 10**6, e + 10**6]
    _join(path, header, data)
    _expect_error(path, "run past the end")


def test_overlapping_offsets(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    header["b1"]["data_offsets"] = [0, 40]  # inside W1's bytes
    _join(path, header, data)
    _expect_error(path, "overlaps")


def test_trailing_bytes(iris_model):
    _, _, _, path = iris_model
    path.write_bytes(path.read_bytes() + b"\0" * 8)
    _expect_error(path, "extra bytes")


def test_negative_or_malformed_offsets(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    header["b1"]["data_offsets"] = [-8, 32]
    _join(path, header, data)
    _expect_error(path, "0 <= begin <= end")


def test_unknown_dtype_and_wrong_dtype(iris_model, tmp_path):
    _, _, _, path = iris_model
    header, data = _split(path)
    header["b1"]["dtype"] = "F128"
    _join(path, header, data)
    _expect_error(path, "unknown dtype")
    header["b1"]["dtype"] = "I64"  # same size, wrong type
    _join(path, header, data)
    _expect_error(path, "dtype int64; expected float64")


def test_renamed_tensor(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    header["c2"] = header.pop("b2")
    _join(path, header, data)
    _expect_error(path, "unexpected tensor 'c2'")


def test_bit_flip_in_the_weights(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    flipped = bytearray(data)
    flipped[header["W2"]["data_offsets"][0] + 3] ^= 0x10
    _join(path, header, bytes(flipped))
    _expect_error(path, "checksum mismatch")


def test_activation_metadata_tampered(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    header["__metadata__"]["bpcore.activations"] = '["relu", "sigmoid"]'
    _join(path, header, data)
    _expect_error(path, "checksum mismatch")


def test_wrong_format_version(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    header["__metadata__"]["bpcore.format_version"] = "2"
    _join(path, header, data)
    _expect_error(path, "format version 2 written by a newer bpcore")
    header["__metadata__"]["bpcore.format_version"] = "one"
    _join(path, header, data)
    _expect_error(path, "not an integer")


def test_not_a_bpcore_model(tmp_path):
    path = tmp_path / "plain.safetensors"
    bio.save_tensors(path, {"x": np.zeros(3)}, {"format": "pt"})
    _expect_error(path, "not a bpcore model file")
    tensors, meta = bio.load_tensors(path)
    assert np.array_equal(tensors["x"], np.zeros(3)) and meta == {"format": "pt"}


def test_metadata_values_must_be_strings(iris_model):
    _, _, _, path = iris_model
    header, data = _split(path)
    header["__metadata__"]["author"] = 3
    _join(path, header, data)
    _expect_error(path, "strings to strings")


def test_non_finite_values_in_a_consistent_file(iris_model):
    _, _, _, path = iris_model
    tensors, meta = bio.load_tensors(path)
    tensors["W1"][0, 0] = np.inf
    meta["bpcore.checksum"] = bio._checksum(tensors, meta)
    bio.save_tensors(path, tensors, meta)
    _expect_error(path, "tensor 'W1' holds NaN or infinite")


def test_invalid_network_in_metadata(iris_model):
    _, _, _, path = iris_model
    tensors, meta = bio.load_tensors(path)
    meta["bpcore.loss"] = "hinge"
    meta["bpcore.checksum"] = bio._checksum(tensors, meta)
    bio.save_tensors(path, tensors, meta)
    _expect_error(path, "describes no valid network: loss must be one of")


def test_missing_file_and_bad_path_type(tmp_path):
    with pytest.raises(FileNotFoundError):
        bpcore.load(tmp_path / "nope.safetensors")
    with pytest.raises(TypeError, match="path"):
        bpcore.load(3.5)


def test_generic_tensors_round_trip(tmp_path):
    arrays = {
        "a": np.arange(6, dtype=np.int32).reshape(2, 3),
        "b": np.array(2.5, dtype=np.float32),
        "c": np.array([True, False]),
        "empty": np.zeros((0, 4)),
        "big_endian": np.arange(3, dtype=">f8"),
    }
    bio.save_tensors(tmp_path / "g.safetensors", arrays, {"k": "v"})
    back, meta = bio.load_tensors(tmp_path / "g.safetensors")
    assert meta == {"k": "v"}
    for name, arr in arrays.items():
        assert back[name].shape == arr.shape and np.array_equal(back[name], arr)
    assert back["big_endian"].dtype == np.float64
    with pytest.raises(TypeError, match="str to str"):
        bio.save_tensors(tmp_path / "g.safetensors", arrays, {"k": 1})
    with pytest.raises(TypeError, match="cannot be stored"):
        bio.save_tensors(tmp_path / "g.safetensors", {"z": np.zeros(2, dtype=complex)})
