"""``bpcore.LivePlot``: a ``fit`` callback that redraws J (and the metrics, and optionally the
decision regions of 2-D data) in place while the network trains in a Jupyter notebook.

Outside a notebook kernel it draws nothing and shows nothing: it only records J per epoch, so a
script that uses it runs unchanged (``out=`` still saves the last figure). matplotlib is
imported only when a figure is drawn.
"""

from __future__ import annotations

import io
import sys
from typing import Any

import numpy as np

__all__ = ["LivePlot", "in_notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter (IPython kernel) session, where figures can be redrawn in place."""
    if "IPython" not in sys.modules:  # never import IPython just to ask
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class LivePlot:
    """Redraw the training curves in place every ``every`` epochs.

    Parameters
    ----------
    every : int
        Epochs between redraws (the figure is also drawn by :meth:`draw` at any time).
    data : (X, y), optional
        2-D inputs and their class labels: the decision regions are drawn next to J.
    preprocessing : Preprocessing, optional
        Passed to :func:`bpcore.plot.plot_decision_regions` (raw X is then expected in ``data``).
    log_scale : bool
        Logarithmic J axis.
    out : str or path, optional
        Save the figure there at every redraw (and at :meth:`draw`).
    display : bool, optional
        Show the figure; default: only in a Jupyter kernel.

    Attributes
    ----------
    loss, val_loss : list of float
        J and J_val per epoch seen.
    metrics : dict of str to list of float
        The metrics in ``logs`` per epoch (``fit(..., metrics=["accuracy"])``).
    draws : int
        How many times the figure was drawn.

    Examples
    --------
    >>> live = bpcore.LivePlot(every=5)                           # doctest: +SKIP
    >>> net.fit(X, Y, epochs=200, metrics=["accuracy"], callbacks=[live])  # doctest: +SKIP
    """

    def __init__(
        self,
        every: int = 1,
        data: tuple[Any, Any] | None = None,
        *,
        preprocessing: Any = None,
        log_scale: bool = False,
        out: Any = None,
        display: bool | None = None,
    ) -> None:
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer; got {every!r}")
        if data is not None:
            try:
                X, y = data
            except (TypeError, ValueError):
                raise ValueError("data must be a pair (X, y) of 2-D inputs and labels") from None
            X = np.asarray(X, dtype=np.float64)
            if X.ndim != 2 or X.shape[1] != 2:
                raise ValueError(f"data's X must have shape (n, 2); got {X.shape}")
            data = (X, np.asarray(y))
        self.every = int(every)
        self.data = data
        self.preprocessing = preprocessing
        self.log_scale = bool(log_scale)
        self.out = out
        self.display = in_notebook() if display is None else bool(display)
        self.loss: list[float] = []
        self.val_loss: list[float] = []
        self.metrics: dict[str, list[float]] = {}
        self.epochs_seen = 0
        self.draws = 0
        self._net: Any = None
        self._handle: Any = None

    def on_epoch_end(self, net: Any, epoch: int, logs: dict[str, float]) -> bool:
        if logs.get("rank", 0) != 0:
            return False
        self._net = net
        self.epochs_seen += 1
        self.loss.append(float(logs["loss"]))
        if "val_loss" in logs:
            self.val_loss.append(float(logs["val_loss"]))
        for key, value in logs.items():
            if key not in ("loss", "val_loss", "lr", "time", "rank", "size"):
                self.metrics.setdefault(key, []).append(float(value))
        if (self.display or self.out is not None) and self.epochs_seen % self.every == 0:
            self.draw()
        return False

    def history(self) -> dict[str, Any]:
        """What was seen, as :func:`bpcore.plot.plot_history` takes it."""
        return {
            "loss": list(self.loss),
            "val_loss": list(self.val_loss),
            **{k: list(v) for k, v in self.metrics.items()},
        }

    def figure(self) -> Any:
        """A new matplotlib Figure of what was seen so far (not managed by pyplot)."""
        from matplotlib.figure import Figure

        from .plot import plot_decision_regions, plot_history

        if not self.loss:
            raise RuntimeError("LivePlot has seen no epoch yet; pass it to fit(callbacks=[...])")
        hist = self.history()
        panels = 1 + bool(self.metrics) + (self.data is not None)
        fig = Figure(figsize=(4.6 * panels, 3.6))
        axes = fig.subplots(1, panels, squeeze=False)[0]
        plot_history(hist, ax=axes[0], log_scale=self.log_scale, title=f"J, epoch {len(self.loss)}")
        k = 1
        if self.metrics:
            for c, (name, vals) in enumerate(sorted(self.metrics.items())):
                style = "--" if name.startswith("val_") else "-"
                axes[k].plot(
                    np.arange(1, len(vals) + 1), vals, style, color=f"C{2 + c // 2}", label=name
                )
            axes[k].set_xlabel("epoch")
            axes[k].grid(True, alpha=0.3)
            axes[k].legend(fontsize="small")
            axes[k].set_title("metrics")
            k += 1
        if self.data is not None and self._net is not None:
            X, y = self.data
            plot_decision_regions(
                self._net, X, y, ax=axes[k], preprocessing=self.preprocessing, resolution=80
            )
        fig.tight_layout()
        return fig

    def draw(self) -> None:
        """Draw the figure now: in place in the notebook, and into ``out`` if given."""
        fig = self.figure()
        self.draws += 1
        if self.out is not None:
            from .plot import save_figure

            save_figure(fig, self.out)
        if self.display:
            from IPython.display import Image, display

            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=90)
            image = Image(data=buf.getvalue(), format="png")
            if self._handle is None:
                self._handle = display(image, display_id=True)
            else:
                self._handle.update(image)

    def __repr__(self) -> str:
        return f"LivePlot(every={self.every}, epochs_seen={self.epochs_seen}, draws={self.draws})"
