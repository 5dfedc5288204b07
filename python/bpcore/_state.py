"""What a :class:`bpcore.Network` owns besides its parameters: its training state.

``Network`` creates one :class:`TrainingState` and hands it to the code that trains or inspects
it (:mod:`bpcore.training`, :mod:`bpcore.glassbox`) through ``Network.training_state()``; no
other module reaches into the network's private attributes.

:class:`NetworkBase` is the nominal base class of ``Network``. The modules that ``network.py``
calls (training, the glass box, the model-file writer) check their ``net`` argument against it,
so they need not import ``network.py``, which imports them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from ._core import Network32, Network64, Optimizer32, Optimizer64
    from .training import EarlyStopping

    CoreNetwork = Union[Network32, Network64]
    CoreOptimizer = Union[Optimizer32, Optimizer64]


class NetworkBase:
    """The base class of :class:`bpcore.Network`; it adds nothing but a type to check against."""

    __slots__ = ()


class TrainingState:
    """A network's training state, kept between calls of ``fit``.

    Attributes
    ----------
    core_net : core.Network64 or core.Network32
        The core network the epochs and the glass box run on.
    lock : threading.RLock
        Held while a call uses the core network's caches (forward, backward, fit, trace).
    fitting : threading.Lock
        Held by ``fit`` for its whole run, so that a second ``fit`` (or ``reinitialize``) on the
        same network fails at once instead of waiting.
    optimizer : core.Optimizer64 or core.Optimizer32 or None
        The optimizer of the last fit (its moments carry over with ``warm_start=True``); None
        before the first fit and after :meth:`reset`.
    epochs : int
        Epochs trained by every fit since the last reset.
    early_stopping : bpcore.training.EarlyStopping or None
        The early-stopping state of the last fit (None when it had none), which checkpoints keep;
        after ``restore_training``, the checkpoint's, for the next fit to go on with.
    """

    __slots__ = ("core_net", "lock", "fitting", "optimizer", "epochs", "early_stopping")

    def __init__(self, core_net: CoreNetwork) -> None:
        self.core_net = core_net
        self.lock = threading.RLock()
        self.fitting = threading.Lock()
        self.optimizer: CoreOptimizer | None = None
        self.epochs = 0
        self.early_stopping: EarlyStopping | None = None

    @property
    def started(self) -> bool:
        """True once a fit has created the optimizer (and until :meth:`reset`)."""
        return self.optimizer is not None

    def reset(self) -> None:
        """Forget the optimizer and the epoch count (a fresh start for the next fit)."""
        self.optimizer = None
        self.epochs = 0
        self.early_stopping = None

    def __repr__(self) -> str:
        kind = "none" if self.optimizer is None else self.optimizer.config.kind
        return f"TrainingState(epochs={self.epochs}, optimizer={kind}, fitting={self.fitting.locked()})"
