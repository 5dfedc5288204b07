"""A tqdm progress bar over epochs, as a ``fit`` callback, showing the running J."""

from __future__ import annotations

import logging
import sys
from typing import IO

log = logging.getLogger("bpcore")


class ProgressBar:
    """``fit`` callback: one tick per epoch, with J (and J_val) of the last epoch as postfix.

    tqdm is an optional dependency (``pip install ".[cli]"`` from the checkout); without it the bar is replaced by
    a warning and training goes on.
    """

    def __init__(self, total: int, desc: str = "train", file: IO[str] | None = None) -> None:
        self._bar = None
        try:
            from tqdm import tqdm
        except ImportError:
            log.warning(
                "tqdm is not installed, so there is no progress bar (pip install '.[cli]' in the bpcore checkout)"
            )
            return
        self._bar = tqdm(
            total=total,
            desc=desc,
            unit="epoch",
            file=file or sys.stderr,
            dynamic_ncols=True,
            leave=True,
        )

    def on_epoch_end(self, net: object, epoch: int, logs: dict[str, float]) -> bool:
        if self._bar is not None:
            post = {"J": f"{logs['loss']:.4g}"}
            if "val_loss" in logs:
                post["J_val"] = f"{logs['val_loss']:.4g}"
            self._bar.set_postfix(post, refresh=False)
            self._bar.update(1)
        return False

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
