"""ONNX and C export: every activation × dtype × depth through ONNX Runtime and compiled C.

The exported model of a network with preprocessing computes ``net.preprocessing.outputs(net, X)``
from the raw features; without it, ``net.predict(X)``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import bpcore
import numpy as np
import pytest
from bpcore import export
from bpcore._names import ACTIVATION_INFO, ACTIVATIONS, HIDDEN_ACTIVATIONS, LOSS_INFO
from bpcore.preprocessing import Preprocessing
from scipy.special import erf

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL_ONNX = {"float32": 1e-5, "float64": 1e-9}
TOL_C = {"float32": 1e-6, "float64": 1e-12}
DEPTHS = (0, 1, 2)
DTYPES = ("float32", "float64")
C_FLAGS = ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1"]
CXX_FLAGS = ["g++", "-x", "c++", "-Wall", "-Wextra", "-Werror", "-O1"]


# ---------------------------------------------------------------------- references
def reference_activation(name: str, Z: np.ndarray, alpha: float | None = None) -> np.ndarray:
    """f(Z) in NumPy (float64), the definitions of docs/notation.md and the issue."""
    Z = np.asarray(Z, dtype=np.float64)
    if name == "identity":
        return Z.copy()
    if name == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "prelu":
        return np.maximum(Z, 0) + alpha * np.minimum(Z, 0)
    if name == "softmax":
        E = np.exp(Z - Z.max(axis=-1, keepdims=True))
        return E / E.sum(axis=-1, keepdims=True)
    if name == "leaky_relu":
        return np.maximum(Z, 0) + 0.01 * np.minimum(Z, 0)
    if name == "elu":
        return np.where(Z > 0, Z, np.expm1(np.minimum(Z, 0)))
    if name == "softplus":
        return np.logaddexp(0, Z)
    if name == "gelu":
        return 0.5 * Z * (1 + erf(Z / np.sqrt(2)))
    if name == "silu":
        return Z / (1 + np.exp(-Z))
    if name == "exp":
        return np.exp(Z)
    raise KeyError(name)


EMITTED = tuple(export._ONNX_ACTIVATIONS)


def _reference_forward(model: export._Model, X: np.ndarray) -> np.ndarray:
    H = np.asarray(X, dtype=np.float64)
    if model.mean is not None:
        H = (H - model.mean) / model.scale
    for layer in model.layers:
        H = reference_activation(
            layer.activation, H @ layer.W.astype(np.float64) + layer.b, layer.alpha
        )
    if model.target_mean is not None:
        H = H * model.target_scale + model.target_mean
    return H


# ---------------------------------------------------------------------- networks
def _sizes(depth: int) -> list[int]:
    return [[4, 3], [4, 5, 3], [4, 6, 5, 3]][depth]


def _network(act: str, depth: int, dtype: str, prep: bool, seed: int = 0) -> bpcore.Network:
    # an output-only f^[L] (softmax, exp) after tanh layers, with the loss that names it
    if ACTIVATION_INFO[act].hidden:
        hidden, out, loss = act, act, "mse"
    else:
        hidden, out = "tanh", act
        loss = next(n for n, info in LOSS_INFO.items() if info.output_activation == act)
    net = bpcore.Network(
        _sizes(depth),
        activation=hidden,
        output_activation=out,
        loss=loss,
        dtype=dtype,
        init="xavier",
        seed=seed,
    )
    rng = np.random.default_rng(seed + 100)
    for b in net.biases:
        b[...] = rng.uniform(-0.5, 0.5, b.shape)
    for l, a in net.alphas.items():
        a[...] = (-0.3, 0.17, 0.41)[l - 1]  # not the initial 0.25, and one negative
    if out == "exp":  # e^Z grows fast: a smaller last layer keeps Ŷ O(1), as float32's ulp needs
        net.weights[-1][...] *= 0.25
    if prep:
        net.preprocessing = Preprocessing(
            "regression",
            mean=[1.0, -2.0, 0.5, 3.0],
            scale=[2.0, 0.5, 1.5, 4.0],
            target_mean=[0.5, -1.0, 2.0],
            target_scale=[3.0, 0.25, 1.0],
        )
    return net


def _raw_X(n: int = 64, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal([1.0, -2.0, 0.5, 3.0], [4.0, 1.0, 3.0, 8.0], size=(n, 4))


def _inputs(net: bpcore.Network, n: int = 64) -> np.ndarray:
    """Raw features for a network with preprocessing, standardised ones (what the network was
    trained on) without; exactly representable in the network's dtype."""
    X = _raw_X(n)
    if net.preprocessing is None:
        X = (X - [1.0, -2.0, 0.5, 3.0]) / [4.0, 1.0, 3.0, 8.0]
    return X.astype(net.dtype).astype(np.float64)


def _max_error(got: np.ndarray, expected: np.ndarray, dtype: str) -> float:
    """Largest difference; in float32 relative to the largest |Ŷ| when that exceeds 1 (float32
    resolves 8 to 1e-6 only)."""
    err = float(np.abs(got - expected).max())
    return err / max(1.0, float(np.abs(expected).max())) if dtype == "float32" else err


def _expected(net: bpcore.Network, X: np.ndarray) -> np.ndarray:
    if net.preprocessing is not None:
        return net.preprocessing.outputs(net, X)
    return np.asarray(net.predict(X), dtype=np.float64)


def _session(path_or_bytes):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path_or_bytes, options, providers=["CPUExecutionProvider"])


def _run_onnx(model_or_path, X: np.ndarray, dtype: str) -> np.ndarray:
    data = (
        model_or_path.SerializeToString()
        if hasattr(model_or_path, "SerializeToString")
        else str(model_or_path)
    )
    sess = _session(data)
    (out,) = sess.run(None, {sess.get_inputs()[0].name: np.ascontiguousarray(X, dtype=dtype)})
    assert out.dtype == np.dtype(dtype)
    return out.astype(np.float64)


def _cases():
    for act in ACTIVATIONS:
        for depth in DEPTHS:
            for dtype in DTYPES:
                yield act, depth, dtype


# ---------------------------------------------------------------------- emitter tables
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_activation_has_an_onnx_and_a_c_emitter(name):
    assert name in export._ONNX_ACTIVATIONS
    assert name in export._C_FUNCTIONS


# ---------------------------------------------------------------------- ONNX
@pytest.mark.parametrize("prep", [False, True], ids=["raw", "preprocessing"])
@pytest.mark.parametrize("act,depth,dtype", list(_cases()))
def test_onnx_runtime_equals_predict(tmp_path, act, depth, dtype, prep):
    net = _network(act, depth, dtype, prep)
    path = tmp_path / "model.onnx"
    net.to_onnx(path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    X = _inputs(net)
    got = _run_onnx(path, X, dtype)
    assert np.abs(got - _expected(net, X)).max() <= TOL_ONNX[dtype]
    # the batch dimension is dynamic: one sample gives the same row
    one = _run_onnx(path, X[:1], dtype)
    np.testing.assert_array_equal(one.shape, (1, 3))
    assert np.abs(one - got[:1]).max() <= TOL_ONNX[dtype]
    ops = [n.op_type for n in model.graph.node]
    assert (ops[:2] == ["Sub", "Div"]) == prep  # the standardisation leads
    assert (ops[-2:] == ["Mul", "Add"]) or not prep


def test_onnx_graph_signature_and_metadata(tmp_path):
    net = _network("sigmoid", 1, "float64", prep=False)
    net.preprocessing = Preprocessing(
        "classification",
        classes=["setosa", "versicolor", "virginica"],
        mean=[0, 1, 2, 3],
        scale=[1, 2, 3, 4],
    )
    model = export.onnx_model(net, input_name="features", output_name="scores")
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "features" and out.name == "scores"
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["N", 4]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["N", 3]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    props = {p.key: p.value for p in model.metadata_props}
    assert props["bpcore.classes"] == '["setosa", "versicolor", "virginica"]'
    assert props["bpcore.sizes"] == "[4, 5, 3]"
    assert model.producer_name == "bpcore"
    # preprocessing=False: the graph starts at the network and reproduces net.predict
    bare = export.onnx_model(net, preprocessing=False)
    assert bare.graph.node[0].op_type == "Gemm"
    X = _raw_X()
    assert np.abs(_run_onnx(bare, X, "float64") - net.predict(X)).max() <= 1e-12


def test_onnx_prelu_carries_each_layers_alpha():
    net = _network("prelu", 2, "float64", prep=False)
    model = export.onnx_model(net)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert [float(inits[f"alpha{l}"]) for l in (1, 2, 3)] == [-0.3, 0.17, 0.41]
    net.alphas[2][...] = 0.9  # a changed α changes the export
    X = _raw_X()
    assert np.abs(_run_onnx(export.onnx_model(net), X, "float64") - net.predict(X)).max() <= 1e-12


def test_default_opset_is_the_lowest_the_operators_need():
    assert export.onnx_model(_network("sigmoid", 1, "float32", False)).opset_import[0].version == 7
    assert export.onnx_model(_network("prelu", 1, "float32", False)).opset_import[0].version == 8
    for name in ("elu", "gelu"):
        model = export._onnx_from_model(_spec_model(name, "float64"))
        assert model.opset_import[0].version == 9
    # every operator exists in the default domain at the opset it is listed with
    for op, since in export._OP_SINCE.items():
        assert onnx.defs.get_schema(op, since).since_version <= since


@pytest.mark.parametrize("opset", [9, 13, 17, 21])
@pytest.mark.parametrize("dtype", DTYPES)
def test_explicit_opsets_run(opset, dtype):
    net = _network("softmax", 2, dtype, prep=True)
    model = export.onnx_model(net, opset=opset)
    assert model.opset_import[0].version == opset
    X = _raw_X().astype(dtype).astype(np.float64)
    assert np.abs(_run_onnx(model, X, dtype) - _expected(net, X)).max() <= TOL_ONNX[dtype]


def test_bad_opsets_and_names_are_refused(tmp_path):
    net = _network("prelu", 1, "float32", False)
    with pytest.raises(ValueError, match="needs opset 8"):
        export.onnx_model(net, opset=7)
    for bad in (6, onnx.defs.onnx_opset_version() + 1, "13", 13.0, True):
        with pytest.raises(ValueError, match="opset must be"):
            net.to_onnx(tmp_path / "m.onnx", opset=bad)
    with pytest.raises(ValueError, match="input_name and output_name must differ"):
        export.onnx_model(net, input_name="X", output_name="X")
    with pytest.raises(ValueError, match="input_name"):
        export.onnx_model(net, input_name="")
    with pytest.raises(TypeError, match="net must be a bpcore.Network"):
        export.onnx_model("model.safetensors")


def test_a_failed_export_keeps_the_existing_file(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"previous")
    net = _network("sigmoid", 1, "float64", False)
    net.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        net.to_onnx(path)
    with pytest.raises(ValueError, match="finite"):
        net.to_c(tmp_path / "model.h")
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    with pytest.raises(FileNotFoundError):
        _network("sigmoid", 1, "float64", False).to_onnx(tmp_path / "missing" / "m.onnx")


# ---------------------------------------------------------------------- emitters of every name
def _spec_model(name: str, dtype: str, seed: int = 3, prep: bool = True) -> export._Model:
    """A 4-6-5-3 model whose hidden layers (or, for an output-only f such as softmax and exp,
    output) use ``name``; weights large enough that Z spans about ±10."""
    rng = np.random.default_rng(seed)
    sizes = [4, 6, 5, 3]
    layers = []
    output_only = not ACTIVATION_INFO[name].hidden
    for k in range(3):
        f = (
            name
            if (not output_only and k < 2) or (output_only and k == 2)
            else ("identity" if not output_only else "tanh")
        )
        W = rng.normal(0, 2.5, (sizes[k], sizes[k + 1])).astype(dtype)
        b = rng.normal(0, 1, sizes[k + 1]).astype(dtype)
        layers.append(export._Layer(W, b, f, 0.2 - 0.3 * k if f == "prelu" else None))
    model = export._Model(layers, np.dtype(dtype), description="test model")
    if prep:
        model.mean, model.scale = np.array([1.0, -2.0, 0.5, 3.0]), np.array([2.0, 0.5, 1.5, 4.0])
    return model


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", EMITTED)
def test_onnx_emitter_matches_the_definition(name, dtype):
    model = _spec_model(name, dtype)
    X = _raw_X(200).astype(dtype).astype(np.float64)
    got = _run_onnx(export._onnx_from_model(model), X, dtype)
    ref = _reference_forward(model, X)
    # the weighted sums cancel: errors relative to the largest output
    assert np.abs(got - ref).max() / max(1.0, np.abs(ref).max()) <= TOL_ONNX[dtype] / 10


def test_onnx_gelu_opset20_uses_the_gelu_operator():
    model = export._onnx_from_model(_spec_model("gelu", "float32"), opset=20)
    assert "Gelu" in [n.op_type for n in model.graph.node]
    assert "Erf" not in [n.op_type for n in model.graph.node]
    X = _raw_X(100).astype(np.float32).astype(np.float64)
    ref = _reference_forward(_spec_model("gelu", "float32"), X)
    assert np.abs(_run_onnx(model, X, "float32") - ref).max() <= 1e-5 * np.abs(ref).max()
    # float64 has no Gelu kernel in ONNX Runtime: built from basic operators at any opset
    model64 = export._onnx_from_model(_spec_model("gelu", "float64"), opset=20)
    assert not {"Gelu", "Erf"} & {n.op_type for n in model64.graph.node}


def test_double_erf_from_basic_operators_is_accurate_on_every_branch():
    # one 1-1 identity layer then gelu: H = ½ z (1 + erf(z/√2)) on a grid over every branch
    layer = export._Layer(np.ones((1, 1)), np.zeros(1), "identity", None)
    gelu = export._Layer(np.ones((1, 1)), np.zeros(1), "gelu", None)
    model = export._Model([layer, gelu], np.dtype(np.float64))
    z = np.concatenate(
        [
            np.linspace(-60, 60, 4001),
            np.sqrt(2) * np.array([-8, -1, 1, 8]),
            [0.0, 1e-300, -1e-300, 1e300, -1e300],
        ]
    )
    got = _run_onnx(export._onnx_from_model(model), z[:, None], "float64")[:, 0]
    ref = 0.5 * z * (1 + erf(z / np.sqrt(2)))
    assert np.all(np.isfinite(got))
    assert np.all(np.abs(got - ref) <= 1e-15 * np.maximum(np.abs(z), 1))


# ---------------------------------------------------------------------- C
def _compile(tmp_path, header: str, name: str, driver: str, cxx: bool = False):
    (tmp_path / f"{name}.h").write_text(header)
    src = tmp_path / f"driver_{name}.c"
    src.write_text(driver)
    exe = tmp_path / (f"drv_{name}_cxx" if cxx else f"drv_{name}")
    flags = CXX_FLAGS if cxx else C_FLAGS
    assert shutil.which(flags[0]), f"{flags[0]} is needed to test the C export"
    proc = subprocess.run(
        [*flags, "-I", str(tmp_path), str(src), "-o", str(exe), "-lm"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return exe


def _driver(name: str) -> str:
    up = name.upper()
    return f"""#include <stdio.h>
#include <stdlib.h>
#include "{name}.h"

int main(void) {{
  size_t n, i, j;
  {name}_real *x, *y, one[{up}_N_OUTPUTS];
  if (scanf("%lu", (unsigned long *)&n) != 1) return 2;
  x = ({name}_real *)malloc(n * {up}_N_INPUTS * sizeof *x);
  y = ({name}_real *)malloc(n * {up}_N_OUTPUTS * sizeof *y);
  if (!x || !y) return 3;
  for (i = 0; i < n * {up}_N_INPUTS; ++i) {{
    double v;
    if (scanf("%lf", &v) != 1) return 4;
    x[i] = ({name}_real)v;
  }}
  {name}_predict_batch(x, y, n);
  for (i = 0; i < n * {up}_N_OUTPUTS; ++i) printf("%a\\n", (double)y[i]);
  for (i = 0; i < n; ++i) {{
    {name}_predict(x + i * {up}_N_INPUTS, one);
    for (j = 0; j < {up}_N_OUTPUTS; ++j)
      if (one[j] != y[i * {up}_N_OUTPUTS + j]) return 5;
  }}
  free(x);
  free(y);
  return 0;
}}
"""


def _run_c(exe, X: np.ndarray, q: int) -> np.ndarray:
    text = f"{X.shape[0]}\n" + "\n".join(" ".join(repr(float(v)) for v in row) for row in X)
    proc = subprocess.run([str(exe)], input=text, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    values = [float.fromhex(v) for v in proc.stdout.split()]
    return np.array(values).reshape(X.shape[0], q)


def _c_case_ids():
    return [f"{a}-{d}-{t}" for a, d, t in _cases()]


@pytest.mark.parametrize("act,depth,dtype", list(_cases()), ids=_c_case_ids())
def test_compiled_c_equals_predict(tmp_path, act, depth, dtype):
    prep = depth == 1  # the standardisation (and target scaling) in one depth of each case
    net = _network(act, depth, dtype, prep)
    name = f"net_{act}"
    net.to_c(tmp_path / f"{name}.h", name=name)
    header = (tmp_path / f"{name}.h").read_text()
    assert ("_mean[4]" in header) == prep
    X = _inputs(net)
    expected = _expected(net, X)
    for cxx in (False, True):
        exe = _compile(tmp_path, header, name, _driver(name), cxx=cxx)
        got = _run_c(exe, X, 3)
        assert _max_error(got, expected, dtype) <= TOL_C[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", EMITTED)
def test_c_emitter_matches_the_definition(tmp_path, name, dtype):
    model = _spec_model(name, dtype)
    header = export._c_from_model(model, "m")
    exe = _compile(tmp_path, header, "m", _driver("m"))
    X = _raw_X(200).astype(dtype).astype(np.float64)
    ref = _reference_forward(model, X)
    got = _run_c(exe, X, 3)
    # the weighted sums cancel: errors relative to the largest output
    assert np.abs(got - ref).max() / max(1.0, np.abs(ref).max()) <= TOL_C[dtype] * 10


@pytest.mark.parametrize("dtype", DTYPES)
def test_c_literals_read_back_exactly(tmp_path, dtype):
    net = bpcore.Network([3, 4, 2], activation="prelu", output_activation="identity", dtype=dtype)
    rng = np.random.default_rng(5)
    for W in net.weights:
        W[...] = rng.choice([-1, 1], W.shape) * 10.0 ** rng.uniform(-30, 30, W.shape)
    net.biases[0][...] = [np.finfo(dtype).tiny, -np.finfo(dtype).max, 1 / 3, 0.1]
    net.alphas[1][...] = 2 / 3
    header = export.c_source(net, "lit")
    program = (
        '#include <stdio.h>\n#include "lit.h"\nint main(void) {\n  size_t i;\n'
        + "".join(
            f"  for (i = 0; i < sizeof lit_{arr} / sizeof lit_{arr}[0]; ++i) "
            f'printf("%a\\n", (double)lit_{arr}[i]);\n'
            for arr in ("W1", "b1", "W2", "b2")
        )
        + '  printf("%a\\n", (double)lit_alpha1);\n  return 0;\n}\n'
    )
    exe = _compile(tmp_path, header, "lit", program)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    got = np.array([float.fromhex(v) for v in proc.stdout.split()]).astype(dtype)
    want = np.concatenate(
        [
            net.weights[0].ravel(),
            net.biases[0],
            net.weights[1].ravel(),
            net.biases[1],
            [net.alphas[1]],
        ]
    ).astype(dtype)
    np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), want.view(f"u{want.itemsize}"))


def test_c_header_alone_compiles_warning_free_and_has_the_promised_shape(tmp_path):
    net = _network("softmax", 2, "float32", prep=True)
    header = export.c_source(net, "iris")
    unused = (
        '#include "iris.h"\nint main(void) { return IRIS_N_INPUTS - 4 + IRIS_N_OUTPUTS - 3; }\n'
    )
    for cxx in (False, True):
        exe = _compile(tmp_path, header, "iris", unused, cxx=cxx)
        assert subprocess.run([str(exe)]).returncode == 0
    includes = re.findall(r"#include <([^>]+)>", header)
    assert includes == ["math.h", "stddef.h"]
    assert "malloc" not in header and "static float" not in header
    assert "typedef float iris_real;" in header
    assert "static inline void iris_predict(const iris_real *x, iris_real *y)" in header
    assert (
        "static inline void iris_predict_batch(const iris_real *x, iris_real *y, size_t n)"
        in header
    )
    assert "#define IRIS_N_INPUTS 4" in header and "#define IRIS_N_OUTPUTS 3" in header
    assert "iris_real a[6], b[6];" in header  # the widest layer that uses the scratch
    assert re.search(r"static const iris_real iris_W1\[24\]", header)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1model",
        "my-model",
        "a b",
        "a__b",
        "_model",
        "int",
        "class",
        "model\n",
        "naïve",
        3,
        None,
    ],
)
def test_c_name_must_be_an_identifier(tmp_path, bad):
    net = _network("sigmoid", 0, "float64", False)
    with pytest.raises(ValueError, match="name must"):
        net.to_c(tmp_path / "m.h", name=bad)
    assert not (tmp_path / "m.h").exists()


# ---------------------------------------------------------------------- command and imports
def _saved_model(tmp_path):
    net = _network("softmax", 1, "float64", prep=False)
    net.preprocessing = Preprocessing(
        "classification",
        classes=["a", "b", "c"],
        mean=[1.0, -2.0, 0.5, 3.0],
        scale=[2.0, 0.5, 1.5, 4.0],
    )
    path = tmp_path / "model.safetensors"
    net.save(path)
    return net, path


def test_command_exports_onnx_and_c(tmp_path, capsys):
    from bpcore.cli import main

    net, path = _saved_model(tmp_path)
    out = tmp_path / "model.onnx"
    assert main(["export", str(path), "--format", "onnx", "--out", str(out)]) == 0
    assert "wrote ONNX model" in capsys.readouterr().out
    X = _raw_X()
    assert np.abs(_run_onnx(out, X, "float64") - net.preprocessing.outputs(net, X)).max() <= 1e-12
    header = tmp_path / "iris.h"
    assert main(["export", str(path), "--format", "c", "--out", str(header), "--name", "iris"]) == 0
    assert "iris_predict" in capsys.readouterr().out
    exe = _compile(tmp_path, header.read_text(), "iris", _driver("iris"))
    assert np.abs(_run_c(exe, X, 3) - net.preprocessing.outputs(net, X)).max() <= 1e-12


def test_command_errors(tmp_path, capsys):
    from bpcore.cli import main

    _, path = _saved_model(tmp_path)
    assert main(["export", str(path), "--format", "tflite", "--out", "x"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert (
        main(
            [
                "export",
                str(path),
                "--format",
                "c",
                "--out",
                str(tmp_path / "m.h"),
                "--name",
                "bad-name",
            ]
        )
        == 1
    )
    assert "name must be a C identifier" in capsys.readouterr().err
    assert (
        main(
            ["export", str(path), "--format", "c", "--out", str(tmp_path / "m.h"), "--opset", "13"]
        )
        == 1
    )
    assert "opset is for the onnx format only" in capsys.readouterr().err
    assert (
        main(
            [
                "export",
                str(tmp_path / "none.safetensors"),
                "--format",
                "onnx",
                "--out",
                str(tmp_path / "m.onnx"),
            ]
        )
        == 1
    )
    assert "does not exist" in capsys.readouterr().err


def test_import_bpcore_stays_light_and_c_export_needs_no_onnx(tmp_path):
    code = (
        "import sys, bpcore\n"
        "heavy = ('onnx', 'onnxruntime', 'torch', 'sklearn')\n"
        "assert not [m for m in heavy if m in sys.modules]\n"
        "net = bpcore.Network([2, 3, 1])\n"
        f"net.to_c({str(tmp_path / 'm.h')!r})\n"
        "assert not [m for m in heavy if m in sys.modules], 'to_c imported a heavy module'\n"
        f"net.to_onnx({str(tmp_path / 'm.onnx')!r})\n"
        "assert 'onnx' in sys.modules and 'torch' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "m.h").stat().st_size > 0 and (tmp_path / "m.onnx").stat().st_size > 0


def test_hidden_activations_are_a_subset_of_the_emitters():
    assert set(HIDDEN_ACTIVATIONS) <= set(EMITTED) and set(EMITTED) == set(export._C_FUNCTIONS)
