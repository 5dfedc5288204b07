"""Figures of the notes and of training: activations f and f′, loss curves, decision regions.

matplotlib is optional (``pip install ".[plot]" in the bpcore checkout``) and imported on first use. With no display
(no DISPLAY or WAYLAND_DISPLAY on Linux) and no backend chosen by the user, the Agg backend is
selected, so plotting works on servers and in CI. Nothing here calls ``show()``: each function
returns the matplotlib Figure and, given ``out=``, saves it (PNG unless the file name ends in
.svg or .pdf), atomically.

Every curve is computed by the C++ core: the activations through :func:`bpcore.activate` and
:func:`bpcore.derivative`, decision regions through the network's forward pass.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._names import ACTIVATION_INFO, HIDDEN_ACTIVATIONS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .network import Network
    from .preprocessing import Preprocessing

__all__ = [
    "animate_training",
    "close",
    "plot_activations",
    "plot_decision_regions",
    "plot_history",
    "plot_network",
    "plot_predictions",
    "save_figure",
]

DEFAULT_ACTIVATIONS = ("relu", "sigmoid", "tanh")  # the notes' three figures


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            'plotting needs matplotlib: pip install ".[plot]" in the bpcore checkout'
        ) from None
    headless = (sys.platform.startswith("linux") or "bsd" in sys.platform) and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if headless and "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Figure, out: Any, dpi: int = 120) -> Path:
    """Save ``fig`` to ``out`` atomically; the format follows the suffix (png, svg, pdf; default png)."""
    from ._atomic import as_path, atomic_write

    path = as_path(out, "out")
    fmt = path.suffix.lower().lstrip(".") or "png"
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"out must end in .png, .svg or .pdf; got {str(out)!r}")
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format=fmt, dpi=dpi, bbox_inches="tight")
    return path


def close(fig: Figure) -> None:
    """Release a figure made by this module (pyplot keeps figures until closed)."""
    _pyplot().close(fig)


def _check_ax(ax: Any) -> None:
    if ax is not None and not hasattr(ax, "plot"):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")


def _x_grid(x: Any) -> np.ndarray:
    if x is None:
        return np.arange(-8.0, 8.0, 0.1)
    try:
        arr = np.array(x, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"x must be a 1-D array of numbers; got {type(x).__name__}") from None
    if arr.size < 2 or not np.isfinite(arr).all():
        raise ValueError("x must hold at least two finite numbers")
    return np.ascontiguousarray(arr)


def plot_activations(
    names: Sequence[str] | str = DEFAULT_ACTIVATIONS,
    x: Any = None,
    ax: Axes | None = None,
    out: Any = None,
    derivative: bool = True,
    *,
    alpha: float = 0.25,
) -> Figure:
    """The notes' activation figures: f(x) and, dashed, f′(x), as computed by the core.

    Parameters
    ----------
    names : sequence of str
        Element-wise activations, any of ``bpcore.HIDDEN_ACTIVATIONS`` (identity, sigmoid, tanh,
        relu, prelu, leaky_relu, elu, softplus, gelu, silu); default the notes' relu, sigmoid and
        tanh. ``bpcore.HIDDEN_ACTIVATIONS`` draws them all.
    x : array, optional
        Points; default ``np.arange(-8, 8, 0.1)``, the notes' x ∈ [−8, 8) with step 0.1.
    ax : Axes, optional
        Draw every curve on this Axes; default: a new figure with one panel per activation.
    out : str or path, optional
        Also save the figure there.
    derivative : bool
        Draw f′ beside f.
    alpha : float
        α of prelu (its initial value in a network is 0.25).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .activations import activate
    from .activations import derivative as fprime

    if isinstance(names, str):
        names = (names,)
    names = list(names)
    if not names:
        raise ValueError("names must list at least one activation")
    for n in names:
        if not isinstance(n, str) or n not in HIDDEN_ACTIVATIONS:
            row_wise = isinstance(n, str) and n in ACTIVATION_INFO
            extra = f" ({n} acts on whole rows and is not plotted)" if row_wise else ""
            raise ValueError(
                f"names must be among {', '.join(HIDDEN_ACTIVATIONS)}; got {n!r}{extra}"
            )
    _check_ax(ax)
    xs = _x_grid(x)
    alpha = float(alpha)
    curves = [
        (n, activate(n, xs, alpha), fprime(n, xs, alpha) if derivative else None) for n in names
    ]
    plt = _pyplot()
    if ax is not None:
        fig = ax.figure
        for n, f, d in curves:
            (line,) = ax.plot(xs, f, label=f"{n}(x)")
            if d is not None:
                ax.plot(xs, d, "--", color=line.get_color(), label=f"{n}′(x)")
        ax.set_xlabel("x")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    else:
        k = len(curves)
        ncols = min(k, 3)
        nrows = -(-k // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
        for a, (n, f, d) in zip(axes.flat, curves):
            a.plot(xs, f, color="C0", label=f"{n}(x)")
            if d is not None:
                a.plot(xs, d, "--", color="C1", label=f"{n}′(x)")
            a.set_title(f"{n} (α = {alpha:g})" if ACTIVATION_INFO[n].learnable else n)
            a.set_xlabel("x")
            a.axhline(0, color="0.6", lw=0.6)
            a.axvline(0, color="0.6", lw=0.6)
            a.grid(True, alpha=0.3)
            a.legend(fontsize="small", loc="upper left")
        for a in list(axes.flat)[k:]:
            a.set_visible(False)
        fig.tight_layout()
    if out is not None:
        save_figure(fig, out)
    return fig


def _history_dict(history: Any) -> dict[str, Any]:
    if hasattr(history, "to_dict"):
        data = history.to_dict()
        data["epochs_before"] = getattr(history, "epochs_before", 0)
        return data
    if isinstance(history, dict) and "loss" in history:
        return history
    raise TypeError(
        "history must be a bpcore History or a dict with a 'loss' list (History.to_dict()); "
        f"got {type(history).__name__}"
    )


def plot_history(
    history: Any,
    ax: Axes | None = None,
    out: Any = None,
    *,
    title: str | None = None,
    log_scale: bool = False,
) -> Figure:
    """J per epoch: the training loss and, when recorded, the validation loss.

    Parameters
    ----------
    history : History or dict
        What :meth:`bpcore.Network.fit` returned, or its ``to_dict()`` (e.g. read from a run's
        history.json).
    ax : Axes, optional
    out : str or path, optional
        Also save the figure there.
    title : str, optional
    log_scale : bool
        Logarithmic J axis.

    With metrics recorded (``fit(..., metrics=["accuracy"])``) and no ``ax``, a second panel shows
    them per epoch (training solid, validation dashed); given ``ax`` only J is drawn there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = _history_dict(history)
    metrics = _epoch_metrics(data)
    try:
        loss = np.asarray(data["loss"], dtype=np.float64).reshape(-1)
        val = np.asarray(data.get("val_loss") or [], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError("history 'loss' and 'val_loss' must be lists of numbers") from None
    if loss.size == 0:
        raise ValueError("history has no epochs to plot")
    _check_ax(ax)
    plt = _pyplot()
    max_ax = None
    if ax is None and metrics:
        fig, (ax, max_ax) = plt.subplots(1, 2, figsize=(10.5, 3.6))
    elif ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.6))
    else:
        fig = ax.figure
    first = int(data.get("epochs_before") or 0) + 1
    epochs = np.arange(first, first + loss.size)
    ax.plot(epochs, loss, color="C0", label="J (training)")
    if val.size:
        ax.plot(epochs[: val.size], val, "--", color="C1", label="J (validation)")
    best = data.get("best_epoch")
    if best:
        ax.axvline(first + int(best) - 1, color="0.5", lw=0.8, ls=":", label=f"best epoch {best}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("J")
    if log_scale:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title(title or "loss per epoch")
    if max_ax is not None:
        _plot_metrics(max_ax, metrics, first)
    fig.tight_layout()
    if out is not None:
        save_figure(fig, out)
    return fig


def _epoch_metrics(data: dict[str, Any]) -> dict[str, list[float]]:
    """The per-epoch metrics of a history dict: "accuracy", "val_accuracy", "mae", ..."""
    from ._report import METRICS

    names = [*METRICS, *("val_" + m for m in METRICS)]
    return {k: list(data[k]) for k in names if isinstance(data.get(k), list) and data[k]}


def _plot_metrics(ax: Any, metrics: dict[str, list[float]], first: int) -> None:
    names = [k for k in metrics if not k.startswith("val_")]
    for c, name in enumerate(names):
        vals = np.asarray(metrics[name], dtype=np.float64)
        ax.plot(np.arange(first, first + vals.size), vals, color=f"C{c + 2}", label=name)
        if "val_" + name in metrics:
            vv = np.asarray(metrics["val_" + name], dtype=np.float64)
            ax.plot(
                np.arange(first, first + vv.size), vv, "--", color=f"C{c + 2}", label="val_" + name
            )
    ax.set_xlabel("epoch")
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title("metrics per epoch")


def plot_decision_regions(
    net: Network,
    X: Any,
    y: Any = None,
    ax: Axes | None = None,
    out: Any = None,
    *,
    preprocessing: Preprocessing | None = None,
    resolution: int = 200,
) -> Figure:
    """The class a 2-D classifier picks at every point of the plane, with the samples on top.

    Parameters
    ----------
    net : Network
        A network with 2 inputs.
    X : array of shape (n, 2)
        Raw features (standardised through ``preprocessing`` before the forward pass).
    y : array of shape (n,), optional
        The samples' labels, to colour the points.
    preprocessing : Preprocessing, optional
        Default ``net.preprocessing`` if set. Without one, X goes in as it is and the class is the
        argmax of Ŷ (or Ŷ > 0.5 for one output).
    resolution : int
        Grid points per axis.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a bpcore.Network; got {type(net).__name__}")
    if net.sizes[0] != 2:
        raise ValueError(
            f"decision regions need a network with 2 inputs; this one has {net.sizes[0]}"
        )
    prep = preprocessing if preprocessing is not None else getattr(net, "preprocessing", None)
    if prep is not None and prep.task != "classification":
        raise ValueError("decision regions are for classifiers; this model does regression")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (n, 2); got {X.shape}")
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, (int, np.integer))
        or resolution < 2
    ):
        raise ValueError(f"resolution must be an integer >= 2; got {resolution!r}")
    _check_ax(ax)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * np.where(hi > lo, hi - lo, 1.0)
    g0 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], int(resolution))
    g1 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], int(resolution))
    G0, G1 = np.meshgrid(g0, g1)
    grid = np.column_stack([G0.ravel(), G1.ravel()])

    if prep is not None:
        classes = list(prep.classes)
        region = prep.decode_indices(net.predict(prep.transform(grid)))
        labels = None if y is None else prep.class_indices(y)
    else:
        Y_hat = net.predict(grid)
        region = Y_hat.argmax(axis=1) if Y_hat.shape[1] > 1 else (Y_hat[:, 0] > 0.5).astype(int)
        k = max(net.sizes[-1], 2)
        classes = list(range(k))
        labels = None if y is None else np.asarray(y).astype(np.int64).reshape(-1)
    if labels is not None and labels.shape[0] != X.shape[0]:
        raise ValueError(f"y must have {X.shape[0]} labels; got {labels.shape[0]}")
    k = len(classes)

    plt = _pyplot()
    from matplotlib.colors import ListedColormap

    colors = [plt.get_cmap("tab10")(i % 10) for i in range(k)]
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
    else:
        fig = ax.figure
    ax.contourf(
        G0,
        G1,
        region.reshape(G0.shape),
        levels=np.arange(k + 1) - 0.5,
        cmap=ListedColormap(colors),
        alpha=0.3,
    )
    if labels is not None:
        for j in range(k):
            mask = labels == j
            if mask.any():
                ax.scatter(
                    X[mask, 0],
                    X[mask, 1],
                    s=18,
                    color=colors[j],
                    edgecolors="k",
                    linewidths=0.4,
                    label=str(classes[j]),
                )
        ax.legend(fontsize="small", title="class")
    else:
        ax.scatter(X[:, 0], X[:, 1], s=12, color="k")
    names = prep.feature_names if prep is not None and prep.feature_names else ["x1", "x2"]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    sizes = "-".join(str(s) for s in net.sizes)
    ax.set_title(f"decision regions of the {sizes} network")
    fig.tight_layout()
    if out is not None:
        save_figure(fig, out)
    return fig


# ============================================================================ the network drawn
#: what the edges can show: W^[l] of the network (or of the trace, before its step), or of a Trace
EDGE_QUANTITIES = ("W", "W_after", "dJ_dW", "Delta_W")
#: what the neurons can show, from a Trace, for one sample
NEURON_QUANTITIES = ("Z", "H", "f_prime", "delta")
_EDGE_TEX = {"W": "W", "W_after": "W (after the step)", "dJ_dW": "∂J/∂W", "Delta_W": "ΔW"}
_BIAS_OF = {"W": "b", "W_after": "b_after", "dJ_dW": "dJ_db", "Delta_W": "Delta_b"}
_NEURON_TEX = {"Z": "Z", "H": "H", "f_prime": "f′(Z)", "delta": "δ"}


def _shown(n: int, most: int) -> list[int]:
    """The neuron indices drawn of a layer of n: all when n <= most, else the first and last few
    (the rest is summarised by a '⋮' and a count)."""
    if n <= most:
        return list(range(n))
    head = (most + 1) // 2
    tail = most - head
    return list(range(head)) + list(range(n - tail, n))


def _neuron_label(l: int, L: int, i: int) -> str:
    if l == 0:
        return f"$x_{{{i + 1}}}$"
    if l == L:
        return f"$\\hat{{y}}_{{{i + 1}}}$"
    return f"$h_{{{i + 1}}}^{{[{l}]}}$"


def _colorbar(
    fig: Any, ax: Any, cmap: Any, m: float, per_layer: bool, positive: bool, label: str, pad: float
) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize, TwoSlopeNorm

    m = max(m, 1e-300)
    if per_layer:  # the colours are relative to each layer's largest |value|
        norm = Normalize(0.0, 1.0) if positive else TwoSlopeNorm(0.0, -1.0, 1.0)
        label += ", scaled per layer"
    else:
        norm = Normalize(0.0, m) if positive else TwoSlopeNorm(0.0, -m, m)
    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.6, pad=pad)
    cb.set_label(label, fontsize=8)
    if per_layer:
        ticks = [0.0, 1.0] if positive else [-1.0, 0.0, 1.0]
        cb.set_ticks(ticks)
        cb.set_ticklabels(["0", "max"] if positive else ["−max", "0", "+max"])
    cb.ax.tick_params(labelsize=7)


def plot_network(
    net: Network,
    trace: Any = None,
    show: str = "W",
    ax: Axes | None = None,
    out: Any = None,
    *,
    neurons: str | None = None,
    sample: int = 0,
    bias: bool = False,
    max_neurons: int = 12,
    values: bool | None = None,
    scale: str | None = None,
) -> Figure:
    """The network as the notes draw it: columns of neurons joined by the weights.

    Inputs are labelled x_j, hidden neurons h_i^[l], outputs ŷ_k. Each edge i → j of layer l is
    coloured by the sign and value of W^[l]_ij (red positive, blue negative) and is wider the
    larger |W^[l]_ij|. Given a :class:`bpcore.glassbox.Trace` (``net.trace(X, Y)``), the neurons can
    be coloured by Z^[l], H^[l], f′(Z^[l]) or δ^[l] of one sample and the edges can show ∂J/∂W^[l]
    or ΔW^[l] instead: the backward pass on the figure.

    Parameters
    ----------
    net : Network
    trace : Trace, optional
        One BP step of ``net``: its values colour the figure.
    show : {"W", "W_after", "dJ_dW", "Delta_W"}
        What the edges show. "W" is W^[l] (of the trace, before its step, when a trace is given);
        the others need a trace.
    neurons : {"Z", "H", "f_prime", "delta"}, optional
        What colours the neurons (needs a trace; default "delta" when a trace is given). H colours
        the inputs by x too.
    sample : int
        The row of the trace's batch whose neuron values are drawn.
    bias : bool
        Draw a bias node "1" above each layer's inputs, with edges for b^[l] (or ∂J/∂b, Δb).
    max_neurons : int
        Layers with more neurons are summarised: the first and last few are drawn, with "⋮" and
        the count of those left out (their edges are not drawn).
    values : bool, optional
        Write each neuron's value beside it (default: when neurons are coloured and no layer has
        more than 8 drawn neurons).
    scale : {"layer", "shared"}, optional
        "layer": each layer's colours span its own largest |value| (δ^[1] is often far smaller
        than δ^[L], and would be invisible on a shared scale); "shared": one scale for the
        whole figure. Default: "layer" for the neurons and for ∂J/∂W, ΔW; "shared" for W.

    Returns
    -------
    matplotlib.figure.Figure
        The neurons are ``matplotlib.patches.Circle`` patches with gid ``"neuron"`` (bias nodes:
        ``"bias"``), the edges one ``LineCollection`` per layer with gid ``"edges"``.
    """
    from ._validation import check_network

    check_network(net)
    sizes = list(net.sizes)
    L = len(sizes) - 1
    if show not in EDGE_QUANTITIES:
        raise ValueError(f"show must be one of {', '.join(EDGE_QUANTITIES)}; got {show!r}")
    if trace is not None:
        if not (hasattr(trace, "layers") and hasattr(trace, "J_before")):
            raise TypeError(f"trace must be a bpcore Trace (net.trace(X, Y)); got {trace!r}")
        if len(trace.layers) != L or any(
            t.W_before.shape != (sizes[k], sizes[k + 1]) for k, t in enumerate(trace.layers)
        ):
            raise ValueError("trace is of a network with other layer sizes than net")
    if neurons is None and trace is not None:
        neurons = "delta"
    if neurons is not None:
        if neurons not in NEURON_QUANTITIES:
            raise ValueError(
                f"neurons must be one of {', '.join(NEURON_QUANTITIES)} or None; got {neurons!r}"
            )
        if trace is None:
            raise ValueError(
                f"neurons={neurons!r} needs a trace: plot_network(net, net.trace(X, Y))"
            )
    if show != "W" and trace is None:
        raise ValueError(f"show={show!r} needs a trace: plot_network(net, net.trace(X, Y))")
    if isinstance(max_neurons, bool) or not isinstance(max_neurons, (int, np.integer)):
        raise TypeError(f"max_neurons must be an integer >= 2; got {max_neurons!r}")
    if max_neurons < 2:
        raise ValueError(f"max_neurons must be an integer >= 2; got {max_neurons!r}")
    if trace is not None:
        if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)):
            raise TypeError(f"sample must be a row index of the trace's batch; got {sample!r}")
        if not 0 <= sample < trace.n:
            raise ValueError(
                f"sample must be in 0 … {trace.n - 1} (the trace's rows); got {sample}"
            )
    if scale not in (None, "layer", "shared"):
        raise ValueError(f"scale must be 'layer', 'shared' or None; got {scale!r}")
    edge_scale = scale or ("shared" if show in ("W", "W_after") else "layer")
    node_scale = scale or "layer"
    _check_ax(ax)

    # ---- the values
    if trace is None:
        edge_vals = [np.asarray(W, dtype=np.float64) for W in net.weights]
        bias_vals = [np.asarray(b, dtype=np.float64) for b in net.biases]
    else:
        attr = "W_before" if show == "W" else show
        battr = "b_before" if show == "W" else _BIAS_OF[show]
        edge_vals = [np.asarray(getattr(t, attr), dtype=np.float64) for t in trace.layers]
        bias_vals = [np.asarray(getattr(t, battr), dtype=np.float64) for t in trace.layers]
    node_vals: list[np.ndarray | None] = [None] * (L + 1)
    if neurons is not None:
        if neurons == "H":
            node_vals[0] = np.asarray(trace.X[sample], dtype=np.float64)
        for t in trace.layers:
            a = getattr(t, neurons)
            node_vals[t.l] = None if a is None else np.asarray(a[sample], dtype=np.float64)

    shown = [_shown(n, int(max_neurons)) for n in sizes]
    most = max(len(s) + (1 if len(s) < n else 0) for s, n in zip(shown, sizes))
    if values is None:
        values = neurons is not None and max(len(s) for s in shown) <= 8

    # ---- geometry: layer l is the column x = 3 l; neurons 1 apart, centred on y = 0
    dx, r = 3.0, 0.32

    def ys(l: int) -> dict[int, float]:
        idx = shown[l]
        gap = len(idx) < sizes[l]  # a '⋮' slot between the head and the tail
        slots = len(idx) + (1 if gap else 0)
        top = (slots - 1) / 2.0
        pos, k = {}, 0
        for j, i in enumerate(idx):
            if gap and j == (len(idx) + 1) // 2:
                k += 1
            pos[i] = top - k
            k += 1
        return pos

    pos = [ys(l) for l in range(L + 1)]
    bias_y = [max(p.values()) + 1.3 for p in pos]

    plt = _pyplot()
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize, TwoSlopeNorm
    from matplotlib.patches import Circle, FancyBboxPatch

    if ax is None:
        fig, ax = plt.subplots(figsize=(2.0 * (L + 1) + 2.8, max(3.4, 0.62 * most + 1.6)))
    else:
        fig = ax.figure

    # edges, one collection per layer
    def _absmax(arrays: list[np.ndarray]) -> float:
        return max([float(np.abs(a).max()) for a in arrays if a.size] + [1e-300])

    layer_emax = [_absmax([edge_vals[k]] + ([bias_vals[k]] if bias else [])) for k in range(L)]
    if edge_scale == "shared":
        layer_emax = [max(layer_emax)] * L
    ecmap = plt.get_cmap("RdBu_r")
    for l in range(1, L + 1):
        emax = layer_emax[l - 1]
        enorm = TwoSlopeNorm(vcenter=0.0, vmin=-emax, vmax=emax)
        segs, vals = [], []
        for i in shown[l - 1]:
            for j in shown[l]:
                segs.append([(dx * (l - 1) + r, pos[l - 1][i]), (dx * l - r, pos[l][j])])
                vals.append(edge_vals[l - 1][i, j])
        if bias:
            for j in shown[l]:
                segs.append([(dx * (l - 1) + r, bias_y[l - 1]), (dx * l - r, pos[l][j])])
                vals.append(bias_vals[l - 1][j])
        v = np.asarray(vals)
        thick = 3.6 * min(1.0, 40.0 / len(segs)) ** 0.5  # thinner when there are many edges
        lc = LineCollection(
            segs,
            colors=ecmap(enorm(v)),
            linewidths=0.3 + thick * np.abs(v) / emax,
            zorder=1,
            gid="edges",
        )
        ax.add_collection(lc)

    # neurons
    all_nodes = [a for a in node_vals if a is not None]
    lo = 0.0
    node_max = [0.0] * (L + 1)
    if all_nodes:
        flat = np.concatenate(all_nodes)
        lo = float(flat.min())
        ncmap = plt.get_cmap("Greens" if lo >= 0 else "PuOr_r")
        for k, a in enumerate(node_vals):
            if a is not None:
                node_max[k] = _absmax([a])
        if node_scale == "shared":
            node_max = [max(node_max)] * (L + 1)

    def _node_norm(k: int) -> Any:
        m = max(node_max[k], 1e-300)
        return Normalize(vmin=0.0, vmax=m) if lo >= 0 else TwoSlopeNorm(0.0, -m, m)

    sym = _NEURON_TEX.get(neurons or "", "")
    for l in range(L + 1):
        vals_l = node_vals[l]
        nnorm = _node_norm(l)
        for i in shown[l]:
            y = pos[l][i]
            face = "white"
            if vals_l is not None:
                face = ncmap(nnorm(vals_l[i]))
            ax.add_patch(
                Circle(
                    (dx * l, y), r, facecolor=face, edgecolor="0.15", lw=1.0, zorder=3, gid="neuron"
                )
            )
            frac = float(nnorm(vals_l[i])) if vals_l is not None else 0.0
            dark = vals_l is not None and (frac > 0.7 if lo >= 0 else abs(frac - 0.5) > 0.35)
            ax.text(
                dx * l,
                y,
                _neuron_label(l, L, i),
                ha="center",
                va="center",
                fontsize=9 if sizes[l] < 100 else 7,
                zorder=4,
                color="white" if dark else "black",
            )
            if values and vals_l is not None:
                ax.text(
                    dx * l + r + 0.06,
                    y + r * 0.55,
                    f"{vals_l[i]:.3g}",
                    ha="left",
                    va="bottom",
                    fontsize=7,
                    color="0.1",
                    zorder=5,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85},
                )
        if len(shown[l]) < sizes[l]:
            head = (len(shown[l]) + 1) // 2
            y_gap = pos[l][shown[l][head - 1]] - 1.0
            ax.text(dx * l, y_gap, "⋮", ha="center", va="center", fontsize=14, zorder=4)
            ax.text(
                dx * l + r + 0.1,
                y_gap,
                f"{sizes[l] - len(shown[l])} more",
                ha="left",
                va="center",
                fontsize=7,
                color="0.2",
                zorder=5,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "0.6"},
            )
        if bias and l < L:
            ax.add_patch(
                FancyBboxPatch(
                    (dx * l - r * 0.8, bias_y[l] - r * 0.8),
                    1.6 * r,
                    1.6 * r,
                    boxstyle="round,pad=0.02",
                    facecolor="0.92",
                    edgecolor="0.3",
                    zorder=3,
                    gid="bias",
                )
            )
            ax.text(dx * l, bias_y[l], "1", ha="center", va="center", fontsize=9, zorder=4)
        name = "input X" if l == 0 else (f"output Ŷ = H^[{L}]" if l == L else f"hidden H^[{l}]")
        sub = "" if l == 0 else f"\nf^[{l}] = {net.activations[l - 1]}"
        rng = ""
        if vals_l is not None and node_scale == "layer":
            rng = f"\n|{_NEURON_TEX[neurons or 'H']}| ≤ {node_max[l]:.3g}"
        ax.text(
            dx * l,
            max(bias_y) + (0.9 if bias else 0.0),
            f"{name}{sub}\n{sizes[l]} neurons{rng}",
            ha="center",
            va="bottom",
            fontsize=8,
        )

    ymax = max(bias_y) + (2.2 if bias else 1.3)
    ymin = min(min(p.values()) for p in pos) - 0.8
    ax.set_xlim(-1.0, dx * L + 1.4)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.axis("off")
    edge_name = _EDGE_TEX[show] + "^[l]" + (" (before the step)" if show == "W" and trace else "")
    _colorbar(
        fig, ax, ecmap, layer_emax[0], edge_scale == "layer", False, f"edges: {edge_name}", 0.01
    )
    if all_nodes:
        _colorbar(
            fig,
            ax,
            ncmap,
            max(node_max),
            node_scale == "layer",
            lo >= 0,
            f"neurons: {sym}^[l] of sample {sample + 1}",
            0.04,
        )
    sizes_txt = "-".join(str(s) for s in sizes)
    title = f"the {sizes_txt} network: edges {_EDGE_TEX[show]}^[l]"
    if neurons is not None:
        title += f", neurons {sym}^[l] of sample {sample + 1}"
    if trace is not None:
        title += f"\n(J = {trace.J_before:.4g} before the step, {trace.J_after:.4g} after)"
    ax.set_title(title, fontsize=10)
    if out is not None:
        save_figure(fig, out)
    return fig


# ============================================================================ regression
def _regression_outputs(net: Any, X: np.ndarray, prep: Any) -> np.ndarray:
    if prep is not None:
        if prep.task != "regression":
            raise ValueError("plot_predictions is for regression; this model is a classifier")
        return np.asarray(prep.outputs(net, X), dtype=np.float64)
    return np.asarray(net.predict(X), dtype=np.float64)


def plot_predictions(
    net: Network,
    X: Any,
    Y: Any,
    ax: Axes | None = None,
    out: Any = None,
    *,
    preprocessing: Preprocessing | None = None,
) -> Figure:
    """A regression's fit: ŷ against y (the diagonal is a perfect fit) and, for 1-D inputs, y and
    ŷ against x.

    Parameters
    ----------
    net : Network
    X : array of shape (n, d)
        Raw inputs (standardised through ``preprocessing`` when given or set on the network).
    Y : array of shape (n, q) or (n,)
        The targets, in their own units.
    ax : Axes, optional
        Draw only ŷ against y there.
    preprocessing : Preprocessing, optional
        Default ``net.preprocessing`` if set.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ._validation import check_network

    check_network(net)
    prep = preprocessing if preprocessing is not None else getattr(net, "preprocessing", None)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1 and net.sizes[0] == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2 or X.shape[1] != net.sizes[0] or X.shape[0] == 0:
        raise ValueError(f"X must have shape (n, {net.sizes[0]}); got {X.shape}")
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    if Y.shape != (X.shape[0], net.sizes[-1]):
        raise ValueError(f"Y must have shape ({X.shape[0]}, {net.sizes[-1]}); got {Y.shape}")
    _check_ax(ax)
    Y_hat = _regression_outputs(net, X, prep)
    plt = _pyplot()
    one_d = X.shape[1] == 1 and ax is None
    if ax is None:
        fig, axes = plt.subplots(
            1, 2 if one_d else 1, figsize=(10 if one_d else 4.8, 4.2), squeeze=False
        )
        ax = axes[0, 0]
    else:
        fig = ax.figure
    q = Y.shape[1]
    for k in range(q):
        ax.scatter(
            Y[:, k],
            Y_hat[:, k],
            s=14,
            alpha=0.7,
            color=f"C{k}",
            label=f"output {k + 1}" if q > 1 else None,
        )
    lo = float(min(Y.min(), Y_hat.min()))
    hi = float(max(Y.max(), Y_hat.max()))
    ax.plot([lo, hi], [lo, hi], color="0.4", lw=0.9, ls="--", label="ŷ = y")
    ax.set_xlabel("y (target)")
    ax.set_ylabel("ŷ (prediction)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    rmse = float(np.sqrt(np.mean((Y - Y_hat) ** 2)))
    ax.set_title(f"ŷ against y (RMSE {rmse:.4g})")
    if one_d:
        ax2 = axes[0, 1]
        _draw_fit_1d(ax2, net, X, Y, prep)
    fig.tight_layout()
    if out is not None:
        save_figure(fig, out)
    return fig


def _draw_fit_1d(ax: Any, net: Any, X: np.ndarray, Y: np.ndarray, prep: Any) -> None:
    lo, hi = float(X[:, 0].min()), float(X[:, 0].max())
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    xs = np.linspace(lo - pad, hi + pad, 300).reshape(-1, 1)
    ys = _regression_outputs(net, xs, prep)
    for k in range(Y.shape[1]):
        ax.scatter(X[:, 0], Y[:, k], s=12, color=f"C{k}", alpha=0.6, label="y" if k == 0 else None)
        ax.plot(xs[:, 0], ys[:, k], color=f"C{k}", lw=2, label="ŷ = net(x)" if k == 0 else None)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title("the fit against x")


# ============================================================================ animation
def animate_training(
    net: Network,
    X: Any,
    Y: Any,
    epochs: int = 100,
    every: int = 5,
    out: Any = "training.gif",
    *,
    y: Any = None,
    fps: int = 5,
    dpi: int = 80,
    preprocessing: Preprocessing | None = None,
    **fit_options: Any,
) -> Any:
    """Train ``net`` while recording, and write an animation of it learning.

    Each frame shows, after every ``every`` epochs (and before the first), the decision regions
    (2-D inputs, classification) or the fit (1-D inputs, regression) next to the J curve so far.
    The file is a GIF (through Pillow) or, when ``out`` ends in .mp4, an MP4 (needs ffmpeg).

    Parameters
    ----------
    net : Network
        Trained in place, as by ``net.fit(X, Y, epochs=epochs, **fit_options)``.
    X, Y : arrays
        The training data as ``fit`` takes it (standardised inputs, one-hot or value targets).
    epochs, every : int
        Epochs to train; a frame every ``every`` epochs.
    out : str or path
        ``.gif`` or ``.mp4``.
    y : array of shape (n,), optional
        Class labels to colour the points (default: the argmax of Y for classifiers).
    fps, dpi : int
        Frames per second and resolution of the file.
    preprocessing : Preprocessing, optional
        To draw raw X (``fit`` then gets ``preprocessing.transform(X)``); default none.
    **fit_options
        Passed to :meth:`bpcore.Network.fit` (lr, optimizer, batch_size, callbacks, ...).

    Returns
    -------
    History
        The fit's history; its ``frames`` attribute is the number of frames written and ``path``
        the file.
    """
    from ._atomic import as_path
    from ._validation import check_network

    check_network(net)
    d = net.sizes[0]
    if d not in (1, 2):
        raise ValueError(
            f"animate_training draws 2-D decision regions or a 1-D fit; net has {d} inputs"
        )
    for name, value in (("epochs", epochs), ("every", every), ("fps", fps), ("dpi", dpi)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    path = as_path(out, "out")
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("gif", "mp4"):
        raise ValueError(f"out must end in .gif or .mp4; got {str(out)!r}")
    plt = _pyplot()
    from matplotlib import animation

    if fmt == "mp4" and not animation.writers.is_available("ffmpeg"):
        raise RuntimeError("an .mp4 needs ffmpeg on the PATH; install it or write a .gif")
    if fmt == "gif":
        try:
            import PIL  # noqa: F401
        except ImportError:
            raise ImportError(
                'a GIF needs Pillow: pip install pillow (or ".[notebook]" in the bpcore checkout)'
            ) from None
    prep = preprocessing
    X_raw = np.asarray(X, dtype=np.float64)
    if X_raw.ndim == 1 and d == 1:
        X_raw = X_raw.reshape(-1, 1)
    X_fit = prep.transform(X_raw) if prep is not None else X_raw
    classify = d == 2
    Y_arr = np.asarray(Y, dtype=np.float64)
    if Y_arr.ndim == 1:
        Y_arr = Y_arr.reshape(-1, 1)

    snapshots: list[tuple[int, np.ndarray]] = [(0, net.parameters.copy())]
    every_i = int(every)

    def record(n: Any, epoch: int, logs: dict[str, float]) -> None:
        if epoch % every_i == 0:
            snapshots.append((epoch, n.parameters.copy()))

    cbs = fit_options.pop("callbacks", None)
    cbs = (
        []
        if cbs is None
        else ([cbs] if callable(cbs) or hasattr(cbs, "on_epoch_end") else list(cbs))
    )
    hist = net.fit(X_fit, Y, epochs=int(epochs), callbacks=[*cbs, record], **fit_options)
    if snapshots[-1][0] != hist.epochs:
        snapshots.append((hist.epochs, net.parameters.copy()))
    final = net.parameters.copy()
    labels = None
    if classify:
        if y is not None:
            labels = np.asarray(y)
        elif Y_arr.shape[1] > 1:
            labels = Y_arr.argmax(axis=1)
        else:
            labels = (Y_arr[:, 0] > 0.5).astype(int)

    probe = net.copy()
    probe.preprocessing = prep
    loss = np.asarray(hist.loss, dtype=np.float64)
    fig, (ax_l, ax_r) = plt.subplots(1, 2, figsize=(10, 4.2))

    def draw(k: int) -> list[Any]:
        epoch, params = snapshots[k]
        probe.parameters[...] = params
        ax_l.clear()
        if classify:
            plot_decision_regions(probe, X_raw, labels, ax=ax_l, preprocessing=prep)
        else:
            _draw_fit_1d(ax_l, probe, X_raw, Y_arr, prep)
        ax_l.set_title(f"epoch {epoch}")
        ax_r.clear()
        ax_r.plot(np.arange(1, loss.size + 1), loss, color="0.85", lw=1)
        if epoch:
            ax_r.plot(np.arange(1, epoch + 1), loss[:epoch], color="C0", lw=2)
            ax_r.plot([epoch], [loss[epoch - 1]], "o", color="C0")
            ax_r.set_title(f"J = {loss[epoch - 1]:.4g} after epoch {epoch}")
        else:
            ax_r.set_title("J per epoch (before training)")
        ax_r.set_xlabel("epoch")
        ax_r.set_ylabel("J")
        ax_r.grid(True, alpha=0.3)
        return []

    draw(0)
    fig.tight_layout()  # laid out with the first frame's labels, then kept for every frame
    anim = animation.FuncAnimation(fig, draw, frames=len(snapshots), blit=False)
    writer: Any = (
        animation.PillowWriter(fps=int(fps))
        if fmt == "gif"
        else animation.FFMpegWriter(fps=int(fps))
    )
    from ._atomic import atomic_write

    tmp_dir = path.parent
    tmp_path = tmp_dir / f".{path.stem}.partial.{fmt}"
    try:
        anim.save(str(tmp_path), writer=writer, dpi=int(dpi))
        with open(tmp_path, "rb") as src, atomic_write(path, "wb") as dst:
            dst.write(src.read())
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
        plt.close(fig)
    net.parameters[...] = final
    hist.frames = len(snapshots)  # type: ignore[attr-defined]
    hist.path = path  # type: ignore[attr-defined]
    return hist
