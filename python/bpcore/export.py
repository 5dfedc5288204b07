"""Use a trained network elsewhere: an ONNX model, or one dependency-free C99 header.

Both reproduce the forward pass of docs/notation.md,

    Z^[l] = H^[l-1] W^[l] + b^[l],   H^[l] = f^[l](Z^[l]),   H^[0] = X,   Ŷ = H^[L],

and, when the network carries a :class:`~bpcore.preprocessing.Preprocessing` (``net.preprocessing``,
saved in model files) and ``preprocessing=True`` (the default), its numeric part as well:

- leading: the standardisation X ← (X − mean) / scale of the raw features;
- trailing, for regression with standardised targets: Ŷ ← Ŷ · target_scale + target_mean.

So the exported model maps the raw features to what ``net.preprocessing.outputs(net, X)``
returns (which is ``net.predict(net.preprocessing.transform(X))`` in target units), and a network
without preprocessing (or ``preprocessing=False``) to ``net.predict(X)``. Turning Ŷ into class
labels (argmax of a row, or Ŷ > 0.5 for one output) is left to the caller; the class labels are
listed in the ONNX metadata and in the C header's comment.

:func:`to_onnx` needs the ``onnx`` package (``pip install ".[onnx]"`` from the checkout); :func:`to_c` needs
nothing. ``import bpcore`` imports neither this module nor ``onnx``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._atomic import write_bytes, write_text
from ._validation import check_network
from ._version import __version__

__all__ = ["FORMATS", "c_source", "export", "onnx_model", "to_c", "to_onnx"]

FORMATS = ("onnx", "c")


# ---------------------------------------------------------------------- what is exported
@dataclass
class _Layer:
    W: np.ndarray  # (n_{l-1}, n_l), the network's dtype
    b: np.ndarray  # (n_l,)
    activation: str
    alpha: float | None  # prelu's α^[l]


@dataclass
class _Model:
    """The numbers an export needs, independent of the core (tests build ones of their own)."""

    layers: list[_Layer]
    dtype: np.dtype
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    target_mean: np.ndarray | None = None
    target_scale: np.ndarray | None = None
    classes: list[Any] | None = None
    description: str = ""

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].W.shape[0]] + [layer.W.shape[1] for layer in self.layers]


def _model_of(net: Any, preprocessing: bool = True) -> _Model:
    check_network(net)
    if not isinstance(preprocessing, (bool, np.bool_)):
        raise TypeError(f"preprocessing must be True or False; got {preprocessing!r}")
    alphas = net.alphas
    layers = []
    for k, (W, b, f) in enumerate(zip(net.weights, net.biases, net.activations)):
        a = alphas.get(k + 1)
        layers.append(
            _Layer(
                np.array(W, copy=True), np.array(b, copy=True), f, None if a is None else float(a)
            )
        )
    for k, layer in enumerate(layers):
        for what, arr in (("W", layer.W), ("b", layer.b)):
            if not np.isfinite(arr).all():
                raise ValueError(
                    f"the network's {what}^[{k + 1}] holds NaN or infinite values; "
                    "only a network with finite parameters can be exported"
                )
        if layer.alpha is not None and not math.isfinite(layer.alpha):
            raise ValueError(f"the network's prelu alpha^[{k + 1}] is not finite")
    acts = net.activations
    hidden = ", ".join(acts[:-1]) if len(acts) > 1 else "none"
    model = _Model(
        layers,
        net.dtype,
        description=f"bpcore network {'-'.join(map(str, net.sizes))}; hidden "
        f"activations: {hidden}; output: {acts[-1]}; {net.dtype.name}",
    )
    prep = getattr(net, "preprocessing", None)
    if preprocessing and prep is not None:
        if prep.mean is not None:
            if prep.mean.shape[0] != net.sizes[0]:
                raise ValueError(
                    f"net.preprocessing standardises {prep.mean.shape[0]} features "
                    f"but the network has {net.sizes[0]} inputs"
                )
            model.mean, model.scale = prep.mean.copy(), prep.scale.copy()
        if prep.task == "regression" and prep.target_mean is not None:
            if prep.target_mean.shape[0] != net.sizes[-1]:
                raise ValueError(
                    f"net.preprocessing has {prep.target_mean.shape[0]} target "
                    f"statistics but the network has {net.sizes[-1]} outputs"
                )
            model.target_mean = prep.target_mean.copy()
            model.target_scale = prep.target_scale.copy()
        if prep.task == "classification":
            model.classes = list(prep.classes)
    return model


# ---------------------------------------------------------------------- ONNX
# The first opset from which each operator, with the semantics used here (numpy-style
# broadcasting, float and double inputs), is in the default ONNX domain.
_OP_SINCE = {
    "Gemm": 7,
    "Add": 7,
    "Sub": 7,
    "Mul": 7,
    "Div": 7,
    "Max": 8,
    "Min": 8,
    "Abs": 6,
    "Neg": 6,
    "Exp": 6,
    "Log": 6,
    "Sigmoid": 6,
    "Tanh": 6,
    "Relu": 6,
    "Softmax": 1,
    "Greater": 9,
    "Where": 9,
    "Erf": 9,
    "Gelu": 20,
    "Identity": 1,
}
_LOWEST_OPSET = 7  # ONNX Runtime supports opset 7 and later

# Cephes' rational approximations of erf and erfc (double precision), highest power first:
# |x| ≤ 1: erf x = x T(x²)/U(x²); 1 < |x| < 8: erfc |x| = e^(−x²) P(|x|)/Q(|x|); |x| ≥ 8: R/S.
# U, Q and S are monic (their leading 1 is implied).
_ERF_T = (
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
)
_ERF_U = (
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
)
_ERFC_P = (
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
)
_ERFC_Q = (
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
)
_ERFC_R = (
    5.64189583547755073984e-1,
    1.27536670759978104416e0,
    5.01905042251180477414e0,
    6.16021097993053585195e0,
    7.40974269950448939160e0,
    2.97886665372100240670e0,
)
_ERFC_S = (
    2.26052863220117276590e0,
    9.39603524938001434673e0,
    1.20489539808096656605e1,
    1.70814450747565897222e1,
    9.60896809063285878198e0,
    3.36907645100081516050e0,
)
_SQRT1_2 = 0.70710678118654752440


class _Graph:
    """Nodes and initializers of one ONNX graph, with the opset each operator needs."""

    def __init__(self, dtype: np.dtype, opset: int | None, reserved: tuple[str, ...] = ()) -> None:
        self.dtype = dtype
        self.opset = opset  # None: use the lowest opset (prefer composed operators)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.needed = _LOWEST_OPSET
        self._count = 0
        self._names: set[str] = set(reserved)
        self._scalars: dict[bytes, str] = {}

    def fresh(self, hint: str) -> str:
        while True:
            self._count += 1
            name = f"{hint}_{self._count}"
            if name not in self._names:
                self._names.add(name)
                return name

    def has(self, op: str) -> bool:
        return self.opset is not None and self.opset >= _OP_SINCE[op]

    def const(self, value: Any, hint: str = "c") -> str:
        """An initializer holding ``value`` in the graph's dtype; unnamed scalars are shared."""
        from onnx import numpy_helper

        arr = np.asarray(value, dtype=self.dtype)
        shared = arr.ndim == 0 and hint == "c"
        if shared and arr.tobytes() in self._scalars:
            return self._scalars[arr.tobytes()]
        if hint != "c" and hint not in self._names:
            name = hint
            self._names.add(name)
        else:
            name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(arr, name))
        if shared:
            self._scalars[arr.tobytes()] = name
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        out = self.fresh(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{out}_node", **attrs))
        self.needed = max(self.needed, _OP_SINCE[op_type])
        return out

    def horner(self, x: str, coefficients: tuple[float, ...], monic: bool) -> str:
        """Σ c_k x^(n−k) with the coefficients c_0 … c_n (monic: a leading 1 before c_0)."""
        if monic:
            acc = self.op("Add", [x, self.const(coefficients[0])])
            rest = coefficients[1:]
        else:
            acc = self.const(coefficients[0])
            rest = coefficients[1:]
        for c in rest:
            acc = self.op("Add", [self.op("Mul", [acc, x]), self.const(c)])
        return acc

    def erf(self, x: str) -> str:
        """erf x: the Erf operator in float32; Cephes' approximation from basic operators in
        float64 (ONNX Runtime has no double Erf kernel)."""
        if self.dtype == np.float32:
            return self.op("Erf", [x])
        ax = self.op("Abs", [x])
        # below 1: x T(x²) / U(x²)
        x2 = self.op("Mul", [x, x])
        small = self.op(
            "Div",
            [self.op("Mul", [x, self.horner(x2, _ERF_T, False)]), self.horner(x2, _ERF_U, True)],
        )
        # erfc |x| = e^(−x²) P/Q or R/S; |x| is capped at 26 (erfc 26 < 1e-294), so that no
        # branch overflows
        a = self.op("Min", [ax, self.const(26.0)])
        e = self.op("Exp", [self.op("Neg", [self.op("Mul", [a, a])])])
        mid = self.op("Div", [self.horner(a, _ERFC_P, False), self.horner(a, _ERFC_Q, True)])
        far = self.op("Div", [self.horner(a, _ERFC_R, False), self.horner(a, _ERFC_S, True)])
        ratio = self.op("Where", [self.op("Greater", [self.const(8.0), a]), mid, far])
        one_minus = self.op("Sub", [self.const(1.0), self.op("Mul", [e, ratio])])
        large = self.op(
            "Where",
            [self.op("Greater", [x, self.const(0.0)]), one_minus, self.op("Neg", [one_minus])],
        )
        return self.op("Where", [self.op("Greater", [ax, self.const(1.0)]), large, small])


def _slope(g: _Graph, z: str, alpha: str) -> str:
    # max(Z, 0) + α min(0, Z), the core's formula
    zero = g.const(0.0)
    return g.op("Add", [g.op("Max", [z, zero]), g.op("Mul", [alpha, g.op("Min", [z, zero])])])


def _onnx_prelu(g: _Graph, z: str, layer: _Layer, l: int) -> str:
    if layer.alpha is None:
        raise ValueError(f"layer {l} is prelu but has no alpha")
    return _slope(g, z, g.const(layer.alpha, f"alpha{l}"))


def _onnx_softmax(g: _Graph, z: str, layer: _Layer, l: int) -> str:
    # opsets before 13 coerce to 2-D at axis 1, which for the (N, q) Z is the row
    return g.op("Softmax", [z], axis=1)


def _onnx_gelu(g: _Graph, z: str, layer: _Layer, l: int) -> str:
    # ½ Z (1 + erf(Z / √2)), the exact gelu
    if g.dtype == np.float32 and g.has("Gelu"):
        return g.op("Gelu", [z])
    u = g.op("Mul", [z, g.const(_SQRT1_2)])
    half_z = g.op("Mul", [z, g.const(0.5)])
    return g.op("Mul", [half_z, g.op("Add", [g.const(1.0), g.erf(u)])])


def _onnx_elu(g: _Graph, z: str, layer: _Layer, l: int) -> str:
    # Z for Z > 0, e^Z − 1 otherwise (α = 1)
    zero = g.const(0.0)
    neg = g.op("Sub", [g.op("Exp", [g.op("Min", [z, zero])]), g.const(1.0)])
    return g.op("Where", [g.op("Greater", [z, zero]), z, neg])


def _onnx_softplus(g: _Graph, z: str, layer: _Layer, l: int) -> str:
    # log(1 + e^Z) = max(Z, 0) + log(1 + e^(−|Z|)), which cannot overflow
    t = g.op("Exp", [g.op("Neg", [g.op("Abs", [z])])])
    return g.op(
        "Add", [g.op("Max", [z, g.const(0.0)]), g.op("Log", [g.op("Add", [g.const(1.0), t])])]
    )


#: ONNX emitter of each activation: (graph, Z, layer, l) → name of H^[l]
_ONNX_ACTIVATIONS: dict[str, Callable[[_Graph, str, _Layer, int], str]] = {
    "identity": lambda g, z, layer, l: z,
    "sigmoid": lambda g, z, layer, l: g.op("Sigmoid", [z]),
    "tanh": lambda g, z, layer, l: g.op("Tanh", [z]),
    "relu": lambda g, z, layer, l: g.op("Relu", [z]),
    "prelu": _onnx_prelu,
    "softmax": _onnx_softmax,
    "leaky_relu": lambda g, z, layer, l: _slope(g, z, g.const(0.01)),
    "elu": _onnx_elu,
    "softplus": _onnx_softplus,
    "gelu": _onnx_gelu,
    "silu": lambda g, z, layer, l: g.op("Mul", [z, g.op("Sigmoid", [z])]),
    "exp": lambda g, z, layer, l: g.op("Exp", [z]),
}


def _check_opset(opset: Any) -> int | None:
    import onnx

    if opset is None:
        return None
    newest = onnx.defs.onnx_opset_version()
    if (
        isinstance(opset, (bool, np.bool_))
        or not isinstance(opset, (int, np.integer))
        or not _LOWEST_OPSET <= opset <= newest
    ):
        raise ValueError(
            f"opset must be None (the lowest that has every operator used) or an "
            f"integer from {_LOWEST_OPSET} to {newest}; got {opset!r}"
        )
    return int(opset)


def _check_io_name(value: Any, parameter: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{parameter} must be a non-empty string; got {value!r}")
    return value


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "ONNX export needs the onnx package: pip install '.[onnx]' in the bpcore checkout"
        ) from None
    return onnx


def _onnx_from_model(
    model: _Model,
    opset: int | None = None,
    input_name: str = "X",
    output_name: str = "Y_hat",
    graph_name: str = "bpcore",
) -> Any:
    onnx = _import_onnx()
    from onnx import TensorProto, helper

    opset = _check_opset(opset)
    _check_io_name(input_name, "input_name")
    _check_io_name(output_name, "output_name")
    if input_name == output_name:
        raise ValueError(f"input_name and output_name must differ; both are {input_name!r}")
    g = _Graph(model.dtype, opset, (input_name, output_name))
    h = input_name
    if model.mean is not None:
        h = g.op("Sub", [h, g.const(model.mean, "mean")], hint="centred")
        h = g.op("Div", [h, g.const(model.scale, "scale")], hint="standardised")
    for l, layer in enumerate(model.layers, start=1):
        emit = _ONNX_ACTIVATIONS.get(layer.activation)
        if emit is None:
            raise ValueError(
                f"layer {l}: activation {layer.activation!r} has no ONNX form; "
                f"known: {', '.join(_ONNX_ACTIVATIONS)}"
            )
        z = g.op("Gemm", [h, g.const(layer.W, f"W{l}"), g.const(layer.b, f"b{l}")], hint=f"Z{l}")
        h = emit(g, z, layer, l)
    if model.target_mean is not None:
        h = g.op("Mul", [h, g.const(model.target_scale, "target_scale")])
        h = g.op("Add", [h, g.const(model.target_mean, "target_mean")])
    if h == input_name:  # an identity network without standardisation: one explicit node
        h = g.op("Identity", [h])
    g.nodes[-1].output[0] = output_name
    g.nodes[-1].name = f"{output_name}_node"
    if opset is not None and g.needed > opset:
        raise ValueError(f"this network needs opset {g.needed} or later; got opset={opset}")
    version = opset if opset is not None else g.needed
    elem = TensorProto.FLOAT if model.dtype == np.float32 else TensorProto.DOUBLE
    sizes = model.sizes
    graph = helper.make_graph(
        g.nodes,
        graph_name,
        [helper.make_tensor_value_info(input_name, elem, ["N", sizes[0]])],
        [helper.make_tensor_value_info(output_name, elem, ["N", sizes[-1]])],
        initializer=g.initializers,
        doc_string=model.description,
    )
    opsets = [helper.make_opsetid("", version)]
    onnx_model = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="bpcore",
        producer_version=__version__,
        doc_string=model.description,
    )
    # the oldest IR that allows initializers outside the graph inputs is 4
    onnx_model.ir_version = max(4, helper.find_min_ir_version_for(opsets))
    meta = {
        "bpcore.sizes": json.dumps(sizes),
        "bpcore.activations": json.dumps([layer.activation for layer in model.layers]),
        "bpcore.standardized": json.dumps(model.mean is not None),
    }
    if model.classes is not None:
        meta["bpcore.classes"] = json.dumps(
            [c if isinstance(c, (int, float)) else str(c) for c in model.classes]
        )
    helper.set_model_props(onnx_model, meta)
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def onnx_model(
    net: Any,
    opset: int | None = None,
    *,
    preprocessing: bool = True,
    input_name: str = "X",
    output_name: str = "Y_hat",
) -> Any:
    """The network as a checked ``onnx.ModelProto`` (see :func:`to_onnx`)."""
    return _onnx_from_model(_model_of(net, preprocessing), opset, input_name, output_name)


def to_onnx(
    net: Any,
    path: Any,
    opset: int | None = None,
    *,
    preprocessing: bool = True,
    input_name: str = "X",
    output_name: str = "Y_hat",
) -> None:
    """Write the network as an ONNX model file, atomically.

    Parameters
    ----------
    net : bpcore.Network
    path : str or os.PathLike
    opset : int, optional
        ONNX opset of the default domain. None: the lowest that has every operator the network
        needs (7, 8 or 9; with opset ≥ 20 a float32 gelu uses the Gelu operator).
    preprocessing : bool
        Include ``net.preprocessing``: standardisation as leading nodes and, for regression with
        standardised targets, the back-scaling of Ŷ as trailing nodes.
    input_name, output_name : str
        Names of the graph's input, shape (N, d), and output, shape (N, q); N is dynamic.

    The graph computes in the network's dtype (float32 or float64 tensors). ONNX Runtime's
    outputs equal ``net.predict`` (or ``net.preprocessing.outputs``) to about 1e-7 (float32)
    and 1e-15 (float64).
    """
    model = onnx_model(
        net, opset, preprocessing=preprocessing, input_name=input_name, output_name=output_name
    )
    write_bytes(path, model.SerializeToString())


# ---------------------------------------------------------------------- C
_C_KEYWORDS = frozenset(
    """
auto break case char const continue default do double else enum extern float for goto if inline
int long register restrict return short signed sizeof static struct switch typedef union
unsigned void volatile while _Bool _Complex _Imaginary
alignas alignof and and_eq asm bitand bitor bool catch char16_t char32_t class compl constexpr
const_cast decltype delete dynamic_cast explicit export false friend mutable namespace new
noexcept not not_eq nullptr operator or or_eq private protected public reinterpret_cast
static_assert static_cast template this thread_local throw true try typeid typename using
virtual wchar_t xor xor_eq
""".split()
)
_C_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def check_c_name(name: Any) -> str:
    """``name`` if it can prefix the C identifiers of a header; ValueError otherwise."""
    if not isinstance(name, str) or not _C_IDENTIFIER.match(name) or "__" in name:
        raise ValueError(
            f"name must be a C identifier (a letter, then letters, digits or single "
            f"underscores), the prefix of the header's functions; got {name!r}"
        )
    if name in _C_KEYWORDS:
        raise ValueError(f"name must not be a C or C++ keyword; got {name!r}")
    return name


def _c_literal(value: float, dtype: np.dtype) -> str:
    """A literal that reads back as exactly ``value`` in ``dtype`` (shortest round-trip digits)."""
    if dtype == np.float32:
        text = np.format_float_scientific(np.float32(value), unique=True, trim="-")
        return text.replace("e+", "e") + "f"
    text = repr(float(value))
    return text if ("." in text or "e" in text) else text + ".0"


def _c_array(name: str, ctype: str, values: np.ndarray, dtype: np.dtype, per_line: int = 6) -> str:
    flat = [_c_literal(v, dtype) for v in np.asarray(values).reshape(-1).tolist()]
    lines = [", ".join(flat[i : i + per_line]) for i in range(0, len(flat), per_line)]
    body = ",\n    ".join(lines)
    return f"static const {ctype} {name}[{len(flat)}] = {{\n    {body}\n}};\n"


def _c_comment_text(text: str) -> str:
    return text.replace("*/", "* /").replace("\n", " ")


# C emitter of each activation: (the static inline function, or "" if none, and the expression
# of H from Z given the name of that function); f is float math's suffix ("f" or "").
_C_FUNCTIONS: dict[str, tuple[str, str]] = {
    "identity": ("", "{z}"),
    "sigmoid": ("return ({T})1 / (({T})1 + exp{f}(-z));", "{fn}({z})"),
    "tanh": ("return tanh{f}(z);", "{fn}({z})"),
    "relu": ("return z > 0 ? z : ({T})0;", "{fn}({z})"),
    "prelu": ("return (z > 0 ? z : ({T})0) + a * (z < 0 ? z : ({T})0);", "{fn}({z}, {alpha})"),
    "softmax": ("", ""),
    "leaky_relu": ("return (z > 0 ? z : ({T})0) + ({T})0.01 * (z < 0 ? z : ({T})0);", "{fn}({z})"),
    "elu": ("return z > 0 ? z : expm1{f}(z);", "{fn}({z})"),
    "softplus": ("return (z > 0 ? z : ({T})0) + log1p{f}(exp{f}(-fabs{f}(z)));", "{fn}({z})"),
    "gelu": (
        "return ({T})0.5 * z * (({T})1 + erf{f}(z * ({T})0.70710678118654752440));",
        "{fn}({z})",
    ),
    "silu": ("return z / (({T})1 + exp{f}(-z));", "{fn}({z})"),
    "exp": ("return exp{f}(z);", "{fn}({z})"),
}
#: the activations the C export knows
_C_ACTIVATIONS = tuple(_C_FUNCTIONS)


def _c_from_model(model: _Model, name: str = "model") -> str:
    name = check_c_name(name)
    for l, layer in enumerate(model.layers, start=1):
        if layer.activation not in _C_FUNCTIONS:
            raise ValueError(
                f"layer {l}: activation {layer.activation!r} has no C form; known: "
                f"{', '.join(_C_FUNCTIONS)}"
            )
        if layer.activation == "softmax" and l != len(model.layers):
            raise ValueError(f"layer {l}: softmax is only an output activation")
    dtype = model.dtype
    ctype = "float" if dtype == np.float32 else "double"
    T = f"{name}_real"
    suffix = "f" if dtype == np.float32 else ""
    upper = name.upper()
    sizes = model.sizes
    d, q, L = sizes[0], sizes[-1], len(model.layers)
    lit = lambda v: _c_literal(v, dtype)  # noqa: E731

    out: list[str] = []
    out.append(
        f"/* {name}.h: {_c_comment_text(model.description)}.\n"
        " * Generated by bpcore's export; plain C99 (also valid C++), depends on <math.h>.\n"
        " *\n"
        f" *   {name}_predict(x, y):          x holds {upper}_N_INPUTS features of one "
        "sample,\n"
        f" *                                   y receives its {upper}_N_OUTPUTS outputs.\n"
        f" *   {name}_predict_batch(x, y, n): n samples, rows one after the other.\n"
        " *\n"
        " * Layer l computes Z = H W + b (W row-major, n_{l-1} x n_l), then H = f(Z).\n"
    )
    if model.mean is not None:
        out.append(" * The raw features are standardised first: (x - mean) / scale.\n")
    if model.target_mean is not None:
        out.append(
            " * The outputs are brought back to target units: y * target_scale + target_mean.\n"
        )
    if model.classes is not None:
        labels = ", ".join(repr(c) for c in model.classes)
        which = (
            "output j is the score of class j"
            if q == len(model.classes)
            else "the output is the probability of the second class"
        )
        out.append(f" * Classes: {_c_comment_text(labels)} ({which}).\n")
    out.append(
        " * x and y must not overlap. No allocation: the scratch space is on the stack.\n */\n"
    )
    guard = f"{upper}_H_INCLUDED"
    out.append(f"#ifndef {guard}\n#define {guard}\n\n#include <math.h>\n#include <stddef.h>\n\n")
    out.append(
        f"#define {upper}_N_INPUTS {d}\n#define {upper}_N_OUTPUTS {q}\n"
        f"#define {upper}_N_LAYERS {L}\n\n"
    )
    out.append(f"typedef {ctype} {T};\n\n")
    if model.mean is not None:
        out.append(_c_array(f"{name}_mean", T, model.mean, dtype))
        out.append(_c_array(f"{name}_scale", T, model.scale, dtype))
    for l, layer in enumerate(model.layers, start=1):
        out.append(_c_array(f"{name}_W{l}", T, layer.W, dtype))
        out.append(_c_array(f"{name}_b{l}", T, layer.b, dtype))
        if layer.activation == "prelu":
            if layer.alpha is None:
                raise ValueError(f"layer {l} is prelu but has no alpha")
            out.append(f"static const {T} {name}_alpha{l} = {lit(layer.alpha)};\n")
    if model.target_mean is not None:
        out.append(_c_array(f"{name}_target_mean", T, model.target_mean, dtype))
        out.append(_c_array(f"{name}_target_scale", T, model.target_scale, dtype))
    out.append("\n")

    out.append(
        f"/* out = in W + b for one sample: in has n_in values, out n_out. */\n"
        f"static inline void {name}_dense(const {T} *in, {T} *out, const {T} *W, "
        f"const {T} *b,\n"
        f"    size_t n_in, size_t n_out) {{\n"
        f"  size_t i, j;\n"
        f"  for (j = 0; j < n_out; ++j) out[j] = b[j];\n"
        f"  for (i = 0; i < n_in; ++i) {{\n"
        f"    const {T} h = in[i];\n"
        f"    const {T} *w = W + i * n_out;\n"
        f"    for (j = 0; j < n_out; ++j) out[j] += h * w[j];\n"
        f"  }}\n}}\n\n"
    )
    used = []
    for layer in model.layers:
        if layer.activation not in used:
            used.append(layer.activation)
    for f in used:
        body, _ = _C_FUNCTIONS[f]
        if body:
            params = f"{T} z, {T} a" if f == "prelu" else f"{T} z"
            out.append(
                f"static inline {T} {name}_{f}({params}) {{\n  {body.format(T=T, f=suffix)}\n}}\n\n"
            )
    if "softmax" in used:
        out.append(
            f"/* H_j = e^(Z_j - max Z) / sum_k e^(Z_k - max Z), in place. */\n"
            f"static inline void {name}_softmax({T} *z, size_t n) {{\n"
            f"  size_t j;\n  {T} top = z[0], total = 0;\n"
            f"  for (j = 1; j < n; ++j) if (z[j] > top) top = z[j];\n"
            f"  for (j = 0; j < n; ++j) {{ z[j] = exp{suffix}(z[j] - top); total += z[j]; }}\n"
            f"  for (j = 0; j < n; ++j) z[j] /= total;\n}}\n\n"
        )

    # one sample: ping-pong between two stack buffers sized by the widest layer that uses them
    body: list[str] = []
    used_buffers: dict[str, int] = {}
    need_i = False
    src, turn = "x", 0
    if model.mean is not None:
        used_buffers["a"] = d
        body.append(
            f"  for (i = 0; i < {d}; ++i) a[i] = (x[i] - {name}_mean[i]) / {name}_scale[i];"
        )
        need_i, src, turn = True, "a", 1
    for l, layer in enumerate(model.layers, start=1):
        n_in, n_out = layer.W.shape
        dst = "y" if l == L else "ab"[turn % 2]
        if dst != "y":
            used_buffers[dst] = max(used_buffers.get(dst, 0), n_out)
        body.append(f"  {name}_dense({src}, {dst}, {name}_W{l}, {name}_b{l}, {n_in}, {n_out});")
        f = layer.activation
        if f == "softmax":
            body.append(f"  {name}_softmax({dst}, {n_out});")
        elif f != "identity":
            expr = _C_FUNCTIONS[f][1].format(
                fn=f"{name}_{f}", z=f"{dst}[i]", alpha=f"{name}_alpha{l}"
            )
            body.append(f"  for (i = 0; i < {n_out}; ++i) {dst}[i] = {expr};")
            need_i = True
        src = dst
        turn += 1
    if model.target_mean is not None:
        body.append(
            f"  for (i = 0; i < {q}; ++i) y[i] = y[i] * {name}_target_scale[i] + "
            f"{name}_target_mean[i];"
        )
        need_i = True
    if used_buffers:
        width = max(used_buffers.values())  # one size for both: the widest layer
        decl = ", ".join(f"{buf}[{width}]" for buf in sorted(used_buffers))
        head = [f"  {T} {decl};"]
    else:
        head = []
    if need_i:
        head.append("  size_t i;")
    body = head + body
    out.append(
        f"/* y ({upper}_N_OUTPUTS values) of one sample x ({upper}_N_INPUTS values). */\n"
        f"static inline void {name}_predict(const {T} *x, {T} *y) {{\n"
        + "\n".join(body)
        + "\n}\n\n"
    )
    out.append(
        f"/* n samples: x is n x {upper}_N_INPUTS, y is n x {upper}_N_OUTPUTS, row-major. "
        "*/\n"
        f"static inline void {name}_predict_batch(const {T} *x, {T} *y, size_t n) {{\n"
        f"  size_t k;\n"
        f"  for (k = 0; k < n; ++k) {name}_predict(x + k * {upper}_N_INPUTS, "
        f"y + k * {upper}_N_OUTPUTS);\n}}\n\n"
    )
    out.append(f"#endif /* {guard} */\n")
    return "".join(out)


def c_source(net: Any, name: str = "model", *, preprocessing: bool = True) -> str:
    """The text of the C99 header :func:`to_c` writes."""
    name = check_c_name(name)
    return _c_from_model(_model_of(net, preprocessing), name)


def to_c(net: Any, path: Any, name: str = "model", *, preprocessing: bool = True) -> None:
    """Write the network as one self-contained C99 header, atomically.

    Parameters
    ----------
    net : bpcore.Network
    path : str or os.PathLike
        The header file, e.g. ``model.h``.
    name : str
        Prefix of every identifier: ``NAME_predict(const T *x, T *y)`` for one sample,
        ``NAME_predict_batch(const T *x, T *y, size_t n)``, the macros ``NAME_N_INPUTS``,
        ``NAME_N_OUTPUTS`` (upper case) and the type ``NAME_real`` (float or double, the
        network's dtype). Must be a C identifier.
    preprocessing : bool
        Include ``net.preprocessing``'s standardisation (and target back-scaling).

    The weights are ``static const`` arrays whose literals read back exactly; the functions are
    ``static inline``, allocate nothing (two stack buffers of the widest hidden layer) and use
    only ``<math.h>`` and ``<stddef.h>``.
    """
    write_text(path, c_source(net, name, preprocessing=preprocessing))


# ---------------------------------------------------------------------- one entry point
def export(
    net: Any, fmt: str, path: Any, *, name: str | None = None, opset: int | None = None
) -> str:
    """Write ``net`` to ``path`` as ``fmt`` ("onnx" or "c"); returns a one-line summary.

    ``name`` is the C prefix (default "model") or the ONNX graph name; ``opset`` is for ONNX.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if fmt == "c":
        if opset is not None:
            raise ValueError("opset is for the onnx format only")
        to_c(net, path, name or "model")
        return f"wrote C header {path} ({name or 'model'}_predict)"
    model = _onnx_from_model(_model_of(net), opset, graph_name=name or "bpcore")
    write_bytes(path, model.SerializeToString())
    return f"wrote ONNX model {path} (opset {model.opset_import[0].version})"
