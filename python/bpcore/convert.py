"""Conversions between bpcore networks and scikit-learn's and PyTorch's multilayer perceptrons.

- :func:`from_sklearn`: a fitted ``sklearn.neural_network.MLPClassifier`` or ``MLPRegressor`` as
  a :class:`bpcore.Network` (``coefs_[l-1]`` is W^[l], ``intercepts_[l-1]`` is b^[l]);
- :func:`network_to_sklearn` and :func:`estimator_to_sklearn`: back to a fitted scikit-learn
  estimator, from a network or from one of bpcore's own estimators (``est.to_sklearn()``);
- :func:`to_torch` and :func:`from_torch`: a ``torch.nn.Sequential`` of ``Linear`` layers and
  activation modules. torch's ``Linear`` stores Wᵀ (n_l, n_{l-1}): ``weight = W^[l]ᵀ``.

scikit-learn and torch are imported by the functions that need them, never by ``import bpcore``.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ._names import ACTIVATIONS, HIDDEN_ACTIVATIONS
from ._validation import check_network

__all__ = [
    "estimator_to_sklearn",
    "from_sklearn",
    "from_torch",
    "network_to_sklearn",
    "to_torch",
]

# scikit-learn's activation names ↔ bpcore's
_FROM_SKLEARN = {
    "identity": "identity",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "softmax": "softmax",
    "exp": "exp",  # the output of loss="poisson"
}
_TO_SKLEARN = {v: k for k, v in _FROM_SKLEARN.items()}
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------- scikit-learn
def _loss_for(output_activation: str) -> str:
    return {"softmax": "cross_entropy", "exp": "poisson"}.get(output_activation, "mse")


def _new_network(
    network_cls: type,
    sizes: list[int],
    hidden: list[str],
    output: str,
    dtype: np.dtype,
    loss: str | None = None,
) -> Any:
    for f in [*hidden, output]:
        if f not in ACTIVATIONS:
            raise ValueError(
                f"activation {f!r} is not one of this bpcore's activations: "
                f"{', '.join(ACTIVATIONS)}"
            )
    if loss is None:
        loss = _loss_for(output)
        if output == "sigmoid":
            loss = "binary_cross_entropy"
    return network_cls(sizes, activation=hidden, output_activation=output, loss=loss, dtype=dtype)


def from_sklearn(est: Any, network_cls: type) -> Any:
    """A :class:`bpcore.Network` with the weights of a fitted scikit-learn MLP.

    ``net.predict(X)`` equals ``est.predict_proba(X)`` of a multi-class classifier,
    ``est.predict_proba(X)[:, 1:]`` of a binary one (scikit-learn gives it one logistic output),
    the indicator probabilities of a multilabel one, and ``est.predict(X)`` (as a column for one
    target) of a regressor. The network's dtype is that of ``coefs_``; the loss follows the
    output (softmax: cross_entropy; logistic: binary_cross_entropy; identity: mse; exp:
    poisson). For
    classifiers with one label per sample, ``net.preprocessing`` carries ``classes_``.
    ``network_cls`` is the class to build (:meth:`bpcore.Network.from_sklearn` passes its own).
    """
    try:
        from sklearn.exceptions import NotFittedError
        from sklearn.neural_network import MLPClassifier, MLPRegressor
    except ImportError:
        raise ImportError(
            "from_sklearn needs scikit-learn: pip install '.[sklearn]' in the bpcore checkout"
        ) from None
    if not isinstance(est, (MLPClassifier, MLPRegressor)):
        raise TypeError(
            "est must be a fitted sklearn.neural_network.MLPClassifier or "
            f"MLPRegressor; got {type(est).__name__}"
        )
    if "coefs_" not in vars(est):
        raise NotFittedError(
            f"This {type(est).__name__} instance is not fitted yet: call fit "
            "before converting it to a bpcore.Network"
        )
    coefs, intercepts = list(est.coefs_), list(est.intercepts_)
    dtype = np.asarray(coefs[0]).dtype
    if dtype not in _FLOATS:
        raise ValueError(f"coefs_ must be float32 or float64; got {dtype}")
    act = est.activation
    if act not in ("identity", "logistic", "tanh", "relu"):
        raise ValueError(f"activation {act!r} of the estimator has no bpcore counterpart")
    out = est.out_activation_
    if out not in ("identity", "logistic", "softmax", "exp"):
        raise ValueError(f"out_activation_ {out!r} of the estimator has no bpcore counterpart")
    sizes = [coefs[0].shape[0]] + [W.shape[1] for W in coefs]
    net = _new_network(
        network_cls, sizes, [_FROM_SKLEARN[act]] * (len(coefs) - 1), _FROM_SKLEARN[out], dtype
    )
    for view, W in zip(net.weights, coefs):
        view[...] = W
    for view, b in zip(net.biases, intercepts):
        view[...] = b
    if isinstance(est, MLPClassifier):
        from .preprocessing import Preprocessing

        kind = getattr(getattr(est, "_label_binarizer", None), "y_type_", None)
        if kind in ("binary", "multiclass"):
            net.preprocessing = Preprocessing(
                "classification", classes=list(est.classes_), one_hot=kind == "multiclass"
            )
    net.metadata["converted_from"] = f"sklearn.neural_network.{type(est).__name__}"
    return net


def _sklearn_hidden(activations: list[str], what: str) -> str:
    hidden = activations[:-1]
    if not hidden:
        return "relu"
    if len(set(hidden)) != 1:
        raise ValueError(
            f"{what} has hidden activations {hidden}; scikit-learn's MLP uses one "
            "activation for every hidden layer"
        )
    f = hidden[0]
    if f not in _TO_SKLEARN:
        raise ValueError(
            f"{what} has hidden activation {f!r}; scikit-learn's MLP offers "
            "identity, logistic (sigmoid), tanh and relu"
        )
    return _TO_SKLEARN[f]


def _fill(
    est: Any, coefs: list[np.ndarray], intercepts: list[np.ndarray], out: str, n_features: int
) -> Any:
    est.coefs_ = [np.array(W, copy=True) for W in coefs]
    est.intercepts_ = [np.array(b, copy=True) for b in intercepts]
    est.n_layers_ = len(coefs) + 1
    est.n_outputs_ = int(coefs[-1].shape[1])
    est.out_activation_ = out
    est.n_features_in_ = int(n_features)
    return est


def network_to_sklearn(net: Any) -> Any:
    """A fitted scikit-learn MLP computing what ``net`` computes on raw features.

    A network whose ``preprocessing`` is a classification gives an ``MLPClassifier`` with its
    ``classes`` (one sigmoid output for two classes, or softmax over one output per class);
    otherwise a network with an identity output gives an ``MLPRegressor``. The standardisation
    of ``net.preprocessing`` is folded into W^[1], b^[1] (scikit-learn's MLP has none) and a
    regression's target scaling into W^[L], b^[L], so ``est.predict`` takes the raw features.
    """
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import LabelBinarizer

    check_network(net)
    acts = net.activations
    hidden = _sklearn_hidden(acts, "the network")
    coefs = [np.array(W, copy=True) for W in net.weights]
    intercepts = [np.array(b, copy=True) for b in net.biases]
    prep = net.preprocessing
    if prep is not None and prep.mean is not None:
        # (x − m)/s W + b = x (W / s) + (b − (m/s) W)
        W = coefs[0].astype(np.float64)
        coefs[0] = (W / prep.scale[:, None]).astype(net.dtype)
        intercepts[0] = (intercepts[0] - (prep.mean / prep.scale) @ W).astype(net.dtype)
    sizes = tuple(net.sizes[1:-1])
    if prep is not None and prep.task == "classification":
        q, k = net.sizes[-1], len(prep.classes)
        if q == 1 and k == 2 and acts[-1] == "sigmoid":
            out = "logistic"
        elif q == k and k > 2 and acts[-1] == "softmax":
            out = "softmax"
        else:
            raise ValueError(
                f"a {q}-output {acts[-1]} network for {k} classes has no "
                "scikit-learn MLPClassifier form; it needs one sigmoid output for "
                "two classes or softmax over one output per class (three or more)"
            )
        est = MLPClassifier(hidden_layer_sizes=sizes, activation=hidden)
        binarizer = LabelBinarizer().fit(np.asarray(prep.classes))
        est._label_binarizer = binarizer
        est.classes_ = binarizer.classes_
        return _fill(est, coefs, intercepts, out, net.sizes[0])
    if acts[-1] != "identity":
        raise ValueError(
            f"the network's output activation is {acts[-1]}: only an identity "
            "output maps onto MLPRegressor, and a classifier needs "
            "net.preprocessing with its classes"
        )
    if prep is not None and prep.target_mean is not None:
        W = coefs[-1].astype(np.float64)
        coefs[-1] = (W * prep.target_scale).astype(net.dtype)
        intercepts[-1] = (intercepts[-1] * prep.target_scale + prep.target_mean).astype(net.dtype)
    est = MLPRegressor(hidden_layer_sizes=sizes, activation=hidden)
    return _fill(est, coefs, intercepts, "identity", net.sizes[0])


_FITTED_COPIES = (
    "n_iter_",
    "t_",
    "loss_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "feature_names_in_",
)


def estimator_to_sklearn(est: Any) -> Any:
    """The ``sklearn.neural_network`` twin of a fitted bpcore MLPClassifier or MLPRegressor.

    Same parameters (those scikit-learn has), ``coefs_``, ``intercepts_``, ``classes_`` and label
    binarizer, so ``predict`` and ``predict_proba`` agree with the bpcore estimator's. Networks
    whose hidden layers differ in activation, use prelu, or (a multi-class classifier trained
    with loss='mse') normalise sigmoid outputs have no scikit-learn form: ValueError.
    """
    from sklearn.base import is_classifier
    from sklearn.exceptions import NotFittedError
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    if not est.__sklearn_is_fitted__():
        raise NotFittedError(
            f"This {type(est).__name__} instance is not fitted yet: call fit before to_sklearn()"
        )
    net = est.network_
    acts = net.activations
    hidden = _sklearn_hidden(acts, f"this {type(est).__name__}")
    classifier = is_classifier(est)
    target = MLPClassifier if classifier else MLPRegressor
    names = target().get_params()
    params = {k: v for k, v in est.get_params(deep=False).items() if k in names}
    params["activation"] = hidden
    if "loss" in names:
        params["loss"] = (
            "log_loss" if classifier else ("poisson" if est.loss == "poisson" else "squared_error")
        )
    if classifier and est._label_binarizer.y_type_ == "multiclass" and acts[-1] != "softmax":
        raise ValueError(
            "a multi-class MLPClassifier trained with loss='mse' has sigmoid outputs "
            "that bpcore normalises in predict_proba; scikit-learn's MLPClassifier "
            "has no such form"
        )
    new = target(**params)
    _fill(new, net.weights, net.biases, est.out_activation_, est.n_features_in_)
    if classifier:
        new.classes_ = np.array(est.classes_, copy=True)
        new._label_binarizer = copy.deepcopy(est._label_binarizer)
    for name in _FITTED_COPIES:
        if name in vars(est):
            setattr(new, name, copy.deepcopy(getattr(est, name)))
    return new


# ---------------------------------------------------------------------- PyTorch
def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError("the PyTorch conversions need torch: pip install torch") from None
    return torch


def _torch_dtype(torch: Any, dtype: np.dtype) -> Any:
    return torch.float32 if dtype == np.float32 else torch.float64


_EXP_MODULE: list[Any] = []


def _exp_module_class(torch: Any) -> Any:
    """``Exp``, the torch module of bpcore's exp activation (torch.nn has none): H = e^Z."""
    if not _EXP_MODULE:

        class Exp(torch.nn.Module):
            """H = e^Z element-wise (bpcore's exp activation)."""

            def forward(self, z: Any) -> Any:
                return torch.exp(z)

        _EXP_MODULE.append(Exp)
    return _EXP_MODULE[0]


def _torch_module(torch: Any, f: str, alpha: float | None, dtype: Any) -> Any:
    nn = torch.nn
    if f == "prelu":
        module = nn.PReLU(num_parameters=1, dtype=dtype)
        with torch.no_grad():
            module.weight.fill_(float(alpha))  # in the network's dtype, not via float32
        return module
    factories = {
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "softmax": lambda: nn.Softmax(dim=-1),
        "leaky_relu": lambda: nn.LeakyReLU(0.01),
        "elu": lambda: nn.ELU(alpha=1.0),
        "softplus": nn.Softplus,
        "gelu": lambda: nn.GELU(approximate="none"),
        "silu": nn.SiLU,
        "exp": _exp_module_class(torch),
    }
    if f not in factories:
        raise ValueError(f"activation {f!r} has no torch module here")
    return factories[f]()


#: the activations :func:`to_torch` writes (identity is no module)
TORCH_ACTIVATIONS = (
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "prelu",
    "softmax",
    "leaky_relu",
    "elu",
    "softplus",
    "gelu",
    "silu",
    "exp",
)


def to_torch(net: Any) -> Any:
    """A ``torch.nn.Sequential`` computing ``net.predict``, in the network's dtype.

    Layer l is ``nn.Linear(n_{l-1}, n_l)`` with ``weight = W^[l]ᵀ`` and ``bias = b^[l]``,
    followed by f^[l]'s module (none for identity): ``nn.Sigmoid``, ``nn.Tanh``, ``nn.ReLU``,
    ``nn.PReLU`` with α^[l], ``nn.Softmax(dim=-1)``, ``nn.LeakyReLU(0.01)``, ``nn.ELU``,
    ``nn.Softplus``, ``nn.GELU()``, ``nn.SiLU``, or a module ``Exp`` (H = e^Z) of this module for
    exp. The preprocessing is not included: feed it
    ``net.preprocessing.transform(X)``.
    """
    torch = _import_torch()
    check_network(net)
    dtype = _torch_dtype(torch, net.dtype)
    alphas = net.alphas
    modules = []
    with torch.no_grad():
        for k, (W, b, f) in enumerate(zip(net.weights, net.biases, net.activations)):
            linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
            linear.weight.copy_(torch.from_numpy(np.array(W.T, copy=True)))
            linear.bias.copy_(torch.from_numpy(np.array(b, copy=True)))
            modules.append(linear)
            if f != "identity":
                a = alphas.get(k + 1)
                modules.append(_torch_module(torch, f, None if a is None else float(a), dtype))
    return torch.nn.Sequential(*modules)


def _activation_of(torch: Any, module: Any, position: int) -> tuple[str, float | None]:
    nn = torch.nn
    kind = type(module).__name__
    where = f"module {position} ({kind})"
    simple = {
        nn.Identity: "identity",
        nn.Sigmoid: "sigmoid",
        nn.Tanh: "tanh",
        nn.ReLU: "relu",
        nn.SiLU: "silu",
    }
    for cls, name in simple.items():
        if type(module) is cls:
            return name, None
    if type(module) is _exp_module_class(torch):
        return "exp", None
    if type(module) is nn.PReLU:
        if module.num_parameters != 1:
            raise ValueError(
                f"{where}: bpcore's prelu has one α per layer; this PReLU has "
                f"num_parameters={module.num_parameters}"
            )
        return "prelu", float(module.weight.detach().reshape(-1)[0])
    if type(module) is nn.Softmax:
        if module.dim not in (-1, 1):
            raise ValueError(
                f"{where}: softmax must act on the last dimension (dim=-1 or 1); "
                f"got dim={module.dim}"
            )
        return "softmax", None
    if type(module) is nn.LeakyReLU:
        if module.negative_slope != 0.01:
            raise ValueError(
                f"{where}: bpcore's leaky_relu has slope 0.01; got "
                f"negative_slope={module.negative_slope} (use PReLU for another)"
            )
        return "leaky_relu", None
    if type(module) is nn.ELU:
        if module.alpha != 1.0:
            raise ValueError(f"{where}: bpcore's elu has α = 1; got alpha={module.alpha}")
        return "elu", None
    if type(module) is nn.Softplus:
        if module.beta != 1:
            raise ValueError(f"{where}: bpcore's softplus has β = 1; got beta={module.beta}")
        return "softplus", None
    if type(module) is nn.GELU:
        if module.approximate != "none":
            raise ValueError(
                f"{where}: bpcore's gelu is the exact (erf) one; got "
                f"approximate={module.approximate!r}"
            )
        return "gelu", None
    raise ValueError(
        f"{where} is not supported: from_torch reads Linear layers, each followed "
        "by at most one of Identity, Sigmoid, Tanh, ReLU, PReLU, Softmax (output "
        "only), LeakyReLU(0.01), ELU, Softplus, GELU, SiLU and bpcore's Exp"
    )


def from_torch(seq: Any, network_cls: type, loss: str | None = None) -> Any:
    """A :class:`bpcore.Network` from a ``torch.nn.Sequential`` of Linear layers and activations.

    Each ``nn.Linear`` starts a layer (``W^[l] = weight.T``, ``b^[l] = bias``, zero without a
    bias), optionally followed by one activation module (see :func:`to_torch`); a Linear with
    none is an identity layer. The dtype is that of the Linear weights (float32 or float64).
    ``loss`` defaults to cross_entropy for a softmax output, binary_cross_entropy for a sigmoid
    one and mse otherwise. Any other module, two activations in a row, or an activation that this
    bpcore does not have gives a ValueError naming the module and its position.
    ``network_cls`` is the class to build (:meth:`bpcore.Network.from_torch` passes its own).
    """
    torch = _import_torch()
    if not isinstance(seq, torch.nn.Sequential):
        raise TypeError(f"seq must be a torch.nn.Sequential; got {type(seq).__name__}")
    modules = list(seq)
    if not modules:
        raise ValueError("seq is empty: it needs at least one Linear layer")
    layers: list[list[Any]] = []  # [linear, activation, alpha]
    for i, m in enumerate(modules):
        if type(m) is torch.nn.Linear:
            if layers and layers[-1][0].out_features != m.in_features:
                raise ValueError(
                    f"module {i} (Linear) has in_features={m.in_features} but the "
                    f"layer before has {layers[-1][0].out_features} outputs"
                )
            layers.append([m, "identity", None])
            continue
        name, alpha = _activation_of(torch, m, i)
        if not layers:
            raise ValueError(
                f"module {i} ({type(m).__name__}) comes before any Linear layer; "
                "the sequence must start with nn.Linear"
            )
        if type(modules[i - 1]) is not torch.nn.Linear:
            raise ValueError(
                f"module {i} ({type(m).__name__}) follows another activation; "
                "bpcore has one activation per layer"
            )
        hidden = len(layers) < sum(type(x) is torch.nn.Linear for x in modules)
        valid = HIDDEN_ACTIVATIONS if hidden else ACTIVATIONS
        if name not in valid:
            where = "a hidden" if hidden else "the output"
            raise ValueError(
                f"module {i} ({type(m).__name__}): {name} is not available for "
                f"{where} layer in this bpcore (choices: {', '.join(valid)})"
            )
        layers[-1][1], layers[-1][2] = name, alpha
    dtypes = {m.weight.dtype for m, _, _ in layers}
    if len(dtypes) != 1 or next(iter(dtypes)) not in (torch.float32, torch.float64):
        raise ValueError(
            f"the Linear weights must all be float32 or all float64; got "
            f"{sorted(str(d) for d in dtypes)}"
        )
    dtype = np.float32 if next(iter(dtypes)) == torch.float32 else np.float64
    sizes = [layers[0][0].in_features] + [m.out_features for m, _, _ in layers]
    net = _new_network(
        network_cls, sizes, [f for _, f, _ in layers[:-1]], layers[-1][1], np.dtype(dtype), loss
    )
    alphas = net.alphas
    with torch.no_grad():
        for k, (m, _, alpha) in enumerate(layers):
            net.weights[k][...] = m.weight.detach().cpu().numpy().T
            if m.bias is not None:
                net.biases[k][...] = m.bias.detach().cpu().numpy()
            else:
                net.biases[k][...] = 0
            if alpha is not None:
                alphas[k + 1][...] = alpha
    net.metadata["converted_from"] = "torch.nn.Sequential"
    return net
