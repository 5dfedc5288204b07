"""Build the C++ unit tests (tests/cpp, doctest) with CMake and run them under ctest.

The build directory is ``$BPCORE_CTEST_BUILD_DIR`` when set (reused between runs), else a fresh
temporary directory. ``BPCORE_SANITIZE=1`` builds the core and the tests with AddressSanitizer and
UndefinedBehaviorSanitizer. Warnings are errors, in the core and in the tests alike.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CPP_TESTS = ROOT / "tests" / "cpp"

CONFIGURE_TIMEOUT = 600
BUILD_TIMEOUT = 2400
CTEST_TIMEOUT = 1200


def _find_tool(name: str) -> str | None:
    """Return the path of `name` on PATH, else in this interpreter's scripts directory."""
    found = shutil.which(name)
    if found is None:
        found = shutil.which(name, path=sysconfig.get_path("scripts"))
    if found is None:
        found = shutil.which(name, path=str(Path(sys.executable).parent))
    return found


def _run(command: list[str], timeout: int, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `command`, capturing stdout and stderr together as text."""
    return subprocess.run(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def _tail(text: str, lines: int = 60) -> str:
    """Return the last `lines` lines of `text`."""
    return "\n".join(text.splitlines()[-lines:])


def _expected_tests() -> set[str]:
    """One ctest entry per tests/cpp/test_<unit>.cpp."""
    return {path.stem for path in CPP_TESTS.glob("test_*.cpp")}


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CMake build directory of the C++ tests."""
    configured = os.environ.get("BPCORE_CTEST_BUILD_DIR")
    if configured:
        path = Path(configured).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("cpp-tests")


def test_cpp_suite(build_dir: Path) -> None:
    """Configure, build and run every C++ unit test; each test executable is one ctest entry."""
    cmake = _find_tool("cmake")
    assert cmake is not None, (
        "cmake was not found on PATH; install the test extra (pip install -e '.[test]'), "
        "which provides the cmake and ninja packages"
    )
    ctest = shutil.which("ctest", path=str(Path(cmake).parent)) or _find_tool("ctest")
    assert ctest is not None, f"ctest was not found next to {cmake} nor on PATH"

    sanitize = os.environ.get("BPCORE_SANITIZE") == "1"
    configure = [
        cmake,
        "-S",
        str(ROOT),
        "-B",
        str(build_dir),
        "-DCMAKE_BUILD_TYPE=Release",
        "-DBPCORE_BUILD_TESTS=ON",
        "-DBPCORE_BUILD_PYTHON=OFF",
        "-DBPCORE_SIMD_VARIANTS=OFF",
        "-DBPCORE_WERROR=ON",
        f"-DBPCORE_SANITIZE={'ON' if sanitize else 'OFF'}",
    ]
    if sanitize:
        # the optimisation level AddressSanitizer's documentation recommends, with line tables
        # for its reports: the build takes about half as long as at -O3
        configure.append("-DCMAKE_CXX_FLAGS_RELEASE=-O1 -g1 -DNDEBUG")
    ninja = _find_tool("ninja")
    if ninja is not None and not (build_dir / "CMakeCache.txt").exists():
        # the generator can only be chosen for a new build directory
        configure += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
    result = _run(configure, CONFIGURE_TIMEOUT)
    assert result.returncode == 0, f"CMake configure failed:\n{_tail(result.stdout)}"

    jobs = str(os.cpu_count() or 2)
    result = _run([cmake, "--build", str(build_dir), "--parallel", jobs], BUILD_TIMEOUT)
    assert result.returncode == 0, f"building the C++ tests failed:\n{_tail(result.stdout, 120)}"

    listing = _run([ctest, "--show-only=json-v1"], CTEST_TIMEOUT, cwd=build_dir)
    assert listing.returncode == 0, f"ctest could not list the tests:\n{_tail(listing.stdout)}"
    registered = {test["name"] for test in json.loads(listing.stdout)["tests"]}
    expected = _expected_tests()
    assert len(expected) >= 7
    assert registered == expected, (
        f"ctest entries {sorted(registered)} differ from tests/cpp/test_*.cpp {sorted(expected)}"
    )

    # -V shows each executable's own output, with its doctest summary
    run = _run([ctest, "-V", "--timeout", "600"], CTEST_TIMEOUT, cwd=build_dir)
    numbers = dict(re.findall(r"^\s*Start\s+(\d+): (\S+)", run.stdout, re.MULTILINE))
    cases = dict(re.findall(r"^(\d+): \[doctest\] test cases:(.*)$", run.stdout, re.MULTILINE))
    checks = dict(re.findall(r"^(\d+): \[doctest\] assertions:(.*)$", run.stdout, re.MULTILINE))
    doctest_summary = {
        name: (
            " ".join(cases.get(number, "none").split()),
            " ".join(checks.get(number, "").split()),
        )
        for number, name in numbers.items()
    }
    # ctest's closing lines: "100% tests passed out of 7" (CMake 4) or "…, 0 tests failed out of 7"
    closing = re.search(
        r"^(\d+)% tests passed(?:, (\d+) tests? failed)? out of (\d+)$", run.stdout, re.MULTILINE
    )
    print(f"\nC++ unit tests (doctest) built in {build_dir}:")
    for name, (test_cases, assertions) in sorted(doctest_summary.items()):
        print(f"  {name}: test cases {test_cases}; assertions {assertions}")
    print(run.stdout[closing.start() :].strip() if closing else _tail(run.stdout, 30))

    assert run.returncode == 0, f"ctest failed:\n{_tail(run.stdout, 200)}"
    assert closing is not None, f"no ctest summary in:\n{_tail(run.stdout)}"
    assert int(closing.group(1)) == 100
    assert int(closing.group(2) or 0) == 0
    assert int(closing.group(3)) == len(expected), (
        f"ctest ran {closing.group(3)} tests, {len(expected)} are registered"
    )
    # every executable ran test cases, and none failed
    assert set(doctest_summary) == expected
    for name, (test_cases, _) in doctest_summary.items():
        counts = re.search(r"(\d+) \| (\d+) passed \| (\d+) failed", test_cases)
        assert counts is not None, f"{name}: no doctest summary"
        assert int(counts.group(2)) > 0 and int(counts.group(3)) == 0, f"{name}: {test_cases}"
