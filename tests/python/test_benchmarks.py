"""The benchmark command: ``python benchmarks/run.py --quick`` runs every workload of BENCHMARKS.md
side by side with the installed peers and prints a row and a ratio for each.

Timings are never asserted (the machines are shared and noisy); what the run computed is: bpcore and
PyTorch, started from the same parameters and fed the same order, must reach the same accuracy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "run.py"
WORKLOADS = ("W1", "W2", "W3", "W4", "M1", "M2")


def _env(extra_path: Path | None = None) -> dict[str, str]:
    """The environment of this test run: the child imports the bpcore the tests import."""
    env = dict(os.environ)
    paths = []
    if extra_path is not None:
        paths.insert(0, str(extra_path))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUN), *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=str(ROOT))


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = _run(["--quick", "--json", str(out)], _env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads(out.read_text(encoding="utf-8"))


def _result_rows(stdout: str) -> list[list[str]]:
    """The rows of the results table: from its header line to the blank line after it."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("id ") and "bpcore ×" in line)
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def test_quick_run_is_labelled_quick(quick):
    proc, data = quick
    assert "QUICK" in proc.stdout.splitlines()[0]
    assert data["quick"] is True


def test_quick_run_prints_a_row_with_a_ratio_for_every_workload(quick):
    proc, _ = quick
    rows = _result_rows(proc.stdout)
    for wid in WORKLOADS:
        mine = [r for r in rows if r[0] == wid]
        assert mine, f"no row for {wid}"
        for r in mine:  # the last cell is the ratio, or a dash when no peer is installed
            assert r[-1].endswith("×") or r[-1] == "—", r


def test_quick_run_records_every_workload_and_target(quick):
    _, data = quick
    assert set(data["workloads"]) == set(WORKLOADS)
    assert {t["id"] for t in data["targets"]} == set(WORKLOADS)
    assert all(t["status"] in ("PASS", "FAIL", "SKIP") for t in data["targets"])
    for wid in ("W1", "W2", "W3", "W4"):
        bp = data["workloads"][wid]["results"]["bpcore"]
        assert bp["seconds"] > 0 and bp["runs"] >= 1
    assert data["workloads"]["M1"]["results"]["bpcore"]["above_data"] >= 0
    assert data["workloads"]["M2"]["results"]["bpcore"]["rss_bytes"] > 0
    assert data["peak"]["peak_gflops"] > 0
    assert any(lib["user_api"] == "blas" for lib in data["blas"])


def test_quick_run_results_agree_with_the_peers(quick):
    """Same initial W, b and the same order: bpcore computes what PyTorch and the NumPy loop do."""
    proc, data = quick
    checks = {c["check"]: c for c in data["checks"]}
    assert checks, "no accuracy checks recorded"
    failed = [c for c in data["checks"] if c["status"] == "FAIL"]
    assert not failed, failed
    w1 = data["workloads"]["W1"]["results"]
    assert 0.9 <= w1["bpcore"]["info"]["accuracy"] <= 1.0  # Iris is learnt even in 10 epochs
    if "PyTorch" in w1:
        assert abs(w1["bpcore"]["info"]["accuracy"] - w1["PyTorch"]["info"]["accuracy"]) <= 0.01
    assert not any("loads" in c["shown"] for c in data["checks"] if c["id"] == "M2")


def test_a_missing_peer_is_skipped_with_a_note(tmp_path):
    # A stand-in "torch" that fails to import, as on a machine without PyTorch.
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("raise ImportError('no torch here')\n")
    out = tmp_path / "w1.json"
    proc = _run(["--quick", "--only", "W1", "--json", str(out)], _env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data["workloads"]) == {"W1"}
    assert "PyTorch" not in data["workloads"]["W1"]["results"]
    assert any("PyTorch is not installed" in n for n in data["notes"])
    assert "PyTorch is not installed" in proc.stdout
    skipped = [t for t in data["targets"] if "PyTorch" in t["target"]]
    assert skipped and all(t["status"] == "SKIP" for t in skipped)


def test_only_rejects_an_unknown_workload():
    proc = _run(["--only", "W1,W9"], _env(), timeout=60)
    assert proc.returncode == 2
    assert "--only" in proc.stderr and "W9" in proc.stderr
