"""How a fit runs: in one process, or data-parallel over the ranks of an MPI job.

:func:`bpcore.training.fit` trains through a :class:`Strategy` and has no branch of its own for
MPI. :class:`SingleProcess` is the plain case, where every hook does nothing (or raises at once);
:class:`bpcore.distributed.DataParallel` is the MPI one, where the ranks agree on every decision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from mpi4py.MPI import Intracomm

    from .network import Network
    from .training import _Run

__all__ = ["Reducer", "SingleProcess", "Strategy", "strategy_for"]

#: The core's gradient reducer hook: ``reduce(gradient, sums)`` sums both over the ranks in place.
Reducer = Callable[[np.ndarray, np.ndarray], None]


class Strategy(Protocol):
    """What the training loop asks of the processes it runs on.

    Attributes
    ----------
    rank, size : int
        This process's rank and the number of ranks (0 and 1 in one process).
    sharded : bool
        Each process holds a shard of the rows (which may be empty).
    """

    rank: int
    size: int
    sharded: bool

    def agree(self, error: BaseException | None, what: str) -> None:
        """Raise ``error`` (or, on the others, an error naming it) wherever any process failed."""

    def join(self, run: _Run, net: Network) -> None:
        """Before the first epoch: check that the processes agree and set up the run."""

    def reducer(self) -> Reducer | None:
        """The core's gradient reducer, or None for a single process."""

    def mean_loss(self, J: float, n: int) -> float:
        """The mean J over every process of this process's mean ``J`` over its ``n`` rows."""

    def decide_stop(self, callbacks: Callable[[], bool], epoch: int) -> bool:
        """Run the callbacks; True when training stops (together, over the processes)."""


class SingleProcess:
    """One process: nothing to agree on, nothing to reduce."""

    rank = 0
    size = 1
    sharded = False

    def agree(self, error: BaseException | None, what: str) -> None:
        if error is not None:
            raise error

    def join(self, run: _Run, net: Network) -> None:
        return None

    def reducer(self) -> Reducer | None:
        return None

    def mean_loss(self, J: float, n: int) -> float:
        return J

    def decide_stop(self, callbacks: Callable[[], bool], epoch: int) -> bool:
        return callbacks()

    def __repr__(self) -> str:
        return "SingleProcess()"


def strategy_for(comm: Intracomm | None) -> Strategy:
    """:class:`SingleProcess` for ``comm=None``, else data-parallel over the mpi4py ``comm``."""
    if comm is None:
        return SingleProcess()
    from .distributed import DataParallel

    return DataParallel(comm)
