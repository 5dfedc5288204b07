"""What ``fit`` shows and records after each epoch besides J: metrics, the verbose line, the bar.

:class:`EpochReport` is made by :func:`bpcore.training.fit` from its ``metrics``, ``verbose`` and
``progress`` options and called once per finished epoch, before the stopping rules and the
callbacks (which see the metrics in ``logs``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import logging

    from ._parallel import Strategy


def logger() -> logging.Logger:
    """bpcore's logger, ``logging.getLogger("bpcore")``; :mod:`logging` is imported when first asked
    for, as it was a sixth of what ``import bpcore`` took beyond NumPy."""
    import logging

    return logging.getLogger("bpcore")


#: name → (Y, Ŷ) → mean over the rows of a per-row score
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {}


def _accuracy(Y: np.ndarray, Y_hat: np.ndarray) -> np.ndarray:
    """1 where the class of Ŷ (argmax, or Ŷ > 0.5 for one output) is the class of Y."""
    if Y.shape[1] == 1:
        return ((Y_hat[:, 0] > 0.5) == (Y[:, 0] > 0.5)).astype(np.float64)
    return (Y_hat.argmax(axis=1) == Y.argmax(axis=1)).astype(np.float64)


def _mae(Y: np.ndarray, Y_hat: np.ndarray) -> np.ndarray:
    """Mean absolute error of each row, |y − ŷ| averaged over the outputs."""
    return np.abs(np.asarray(Y, np.float64) - Y_hat).mean(axis=1)


METRICS["accuracy"] = _accuracy
METRICS["mae"] = _mae


def check_metrics(metrics: Any) -> list[str]:
    """The metric names of fit's ``metrics`` argument (None, a name, or a sequence of names)."""
    if metrics is None:
        return []
    names = [metrics] if isinstance(metrics, str) else metrics
    if not isinstance(names, Sequence):
        raise TypeError(f"metrics must be a list of names such as ['accuracy']; got {metrics!r}")
    out: list[str] = []
    for name in names:
        if not isinstance(name, str) or name not in METRICS:
            raise ValueError(f"metrics must be among {', '.join(METRICS)}; got {name!r}")
        if name not in out:
            out.append(name)
    return out


def epoch_line(epoch: int, total: int, logs: dict[str, float], metrics: Sequence[str]) -> str:
    """``epoch 3/100: J = 0.4012, J_val = 0.4110, accuracy = 0.8333, val_accuracy = 0.8``."""
    parts = [f"J = {logs['loss']:.6g}"]
    if "val_loss" in logs:
        parts.append(f"J_val = {logs['val_loss']:.6g}")
    for name in metrics:
        for key in (name, "val_" + name):
            if key in logs:
                parts.append(f"{key} = {logs[key]:.4g}")
    width = len(str(total))
    return f"epoch {epoch:>{width}}/{total}: " + ", ".join(parts)


class EpochReport:
    """Per epoch: compute the metrics (into ``logs`` and ``metrics_history``), print or log the
    verbose line, tick the progress bar."""

    def __init__(
        self,
        *,
        metrics: Sequence[str],
        verbose: bool,
        progress: bool,
        epochs: int,
        data: tuple[np.ndarray, np.ndarray],
        validation: tuple[np.ndarray, np.ndarray] | None,
        strategy: Strategy,
        threads: int | None = None,
    ) -> None:
        self.metrics = list(metrics)
        self.verbose = verbose
        self.epochs = epochs
        self.data = data
        self.validation = validation
        self.strategy = strategy
        self.threads = threads
        self.bar: Any = None
        if progress and strategy.rank == 0:
            self.bar = _tqdm_bar(epochs)

    @property
    def active(self) -> bool:
        return bool(self.metrics or self.verbose or self.bar is not None)

    def _score(self, net: Any, name: str, X: np.ndarray, Y: np.ndarray) -> float:
        n = X.shape[0]
        value = 0.0
        if n:
            Y_hat = np.asarray(net.predict(X, self.threads), dtype=np.float64)
            value = float(METRICS[name](np.asarray(Y, np.float64), Y_hat).mean())
        return self.strategy.mean_loss(value, n)

    def epoch_end(
        self, net: Any, epoch: int, logs: dict[str, float], metrics_history: dict[str, list[float]]
    ) -> None:
        for name in self.metrics:
            value = self._score(net, name, *self.data)
            logs[name] = value
            metrics_history.setdefault(name, []).append(value)
            if self.validation is not None:
                value = self._score(net, name, *self.validation)
                logs["val_" + name] = value
                metrics_history.setdefault("val_" + name, []).append(value)
        if self.verbose and self.strategy.rank == 0:
            line = epoch_line(epoch, self.epochs, logs, self.metrics)
            import logging  # loaded by logger()

            log = logger()
            if log.isEnabledFor(logging.INFO) and log.hasHandlers():
                log.info("%s", line)
            else:  # no logging set up (a notebook, a script): print the line
                print(line, flush=True)
        if self.bar is not None:
            post = {"J": f"{logs['loss']:.4g}"}
            if "val_loss" in logs:
                post["J_val"] = f"{logs['val_loss']:.4g}"
            for name in self.metrics:
                for key in (name, "val_" + name):
                    if key in logs:
                        post[key] = f"{logs[key]:.3g}"
            self.bar.set_postfix(post, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _tqdm_bar(total: int) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(
            'progress=True needs tqdm: pip install tqdm (or ".[notebook]" in the bpcore checkout)'
        ) from None
    return tqdm(total=total, desc="fit", unit="epoch", leave=True)
