"""The type stub python/bpcore/_core.pyi matches the compiled module, by mypy's stubtest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bpcore

ROOT = Path(__file__).resolve().parents[2]
ALLOWLIST = ROOT / "cpp" / "bindings" / "stubtest-allowlist.txt"


def test_stubtest_passes_against_the_installed_core():
    stub = Path(bpcore.__file__).with_name("_core.pyi")
    assert stub.read_text(encoding="utf-8") == (ROOT / "python/bpcore/_core.pyi").read_text(
        encoding="utf-8"
    ), "the installed stub is not this checkout's: reinstall bpcore"
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "bpcore._core", "--allowlist", str(ALLOWLIST)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 1 module" in result.stdout
