"""Figures of the notes and of training: activations f and f′, loss curves, decision regions.

matplotlib is optional (``pip install "bpcore[plot]"``) and imported on first use. With no display
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

__all__ = ["close", "plot_activations", "plot_decision_regions", "plot_history", "save_figure"]

DEFAULT_ACTIVATIONS = ("relu", "sigmoid", "tanh")  # the notes' three figures


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError('plotting needs matplotlib: pip install "bpcore[plot]"') from None
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

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = _history_dict(history)
    try:
        loss = np.asarray(data["loss"], dtype=np.float64).reshape(-1)
        val = np.asarray(data.get("val_loss") or [], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError("history 'loss' and 'val_loss' must be lists of numbers") from None
    if loss.size == 0:
        raise ValueError("history has no epochs to plot")
    _check_ax(ax)
    plt = _pyplot()
    if ax is None:
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
    fig.tight_layout()
    if out is not None:
        save_figure(fig, out)
    return fig


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
