"""Fuzzing of the two parsers that read files from outside: model files and TOML configurations.

Model files (:func:`bpcore.load`, :func:`bpcore.io.load_tensors`, :func:`bpcore.io.read_metadata`)
are safetensors: 8 bytes little-endian header length N, N bytes of JSON header, then the tensor
bytes. Configurations (:func:`bpcore.load_config`) are TOML. Every input, however damaged, must
give a loaded object or the documented error — ``ModelFileError`` / ``ConfigError``, both
ValueError subclasses — never a crash, a hang, a MemoryError from a huge allocation, a stray
exception type (RecursionError, KeyError, TypeError …), or a silently wrong model: whatever loads
is bit for bit the network that was saved (the checksum covers tensors and bpcore metadata).

Inputs are mutations of valid files (truncation, bit flips, random bytes, insertions and
deletions, header length and JSON header edits, metadata edits re-signed with a fresh checksum so
that the checks behind the checksum are reached too), random byte strings, random TOML documents
and character-level edits of a valid configuration. The budget is fixed (``derandomize=True``).
Edits that can make the process allocate terabytes or crash run in a child process.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from functools import cache
from pathlib import Path
from typing import Any

import bpcore
import numpy as np
import pytest
from bpcore import io as bpio
from bpcore._names import ACTIVATIONS, INITS, LOSSES
from bpcore.config import Config, ConfigError, load_config
from bpcore.io import ModelFileError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
# A longer campaign: BPCORE_FUZZ_SCALE=20 runs twenty times as many inputs (still derandomised).
_SCALE = max(1, int(os.environ.get("BPCORE_FUZZ_SCALE", "1")))
EXAMPLES_BYTES = 1500 * _SCALE  # byte-level mutations of model files
EXAMPLES_HEADER = 1000 * _SCALE  # structured header edits (valid length prefix, edited JSON)
EXAMPLES_RESIGNED = 600 * _SCALE  # metadata edits with a recomputed checksum
EXAMPLES_RANDOM = 300 * _SCALE  # random byte strings
EXAMPLES_TOML = 800 * _SCALE  # random TOML documents
EXAMPLES_TOML_EDITS = 800 * _SCALE  # character-level edits of a valid configuration
SLOWEST_INPUT_S = 10.0  # one input taking longer than this counts as a hang

_WORK = Path(tempfile.mkdtemp(prefix="bpcore-fuzz-"))


# --------------------------------------------------------------------------- valid seed files
@cache
def _seed_models() -> tuple[tuple[bytes, dict[str, Any]], ...]:
    """Valid model files (bytes) and what they hold: a prelu float64 network with user metadata,
    a float32 network, and a classifier with its preprocessing (from ``train_from_config``)."""
    out = []
    net = bpcore.Network([3, 4, 2], activation="prelu", output_activation="sigmoid", seed=1)
    net.alphas[1][...] = 0.3
    net32 = bpcore.Network(
        [2, 3, 3, 1],
        activation=["tanh", "relu"],
        output_activation="identity",
        dtype="float32",
        init="xavier",
        seed=5,
    )
    run = bpcore.train_from_config(
        {
            "network": {"hidden": [3]},
            "training": {"epochs": 1},
            "data": {"source": "xor", "n_samples": 8},
        },
        write=False,
    )
    for i, (network, meta) in enumerate(
        ((net, {"note": "seed model", "epochs": 3}), (net32, {}), (run.network, {}))
    ):
        path = _WORK / f"seed{i}.safetensors"
        network.save(path, **meta)
        out.append((path.read_bytes(), _describe(network)))
    return tuple(out)


def _describe(net: bpcore.Network) -> dict[str, Any]:
    return dict(
        sizes=net.sizes,
        activations=net.activations,
        loss=net.loss_name,
        dtype=net.dtype.name,
        parameters=net.parameters.copy(),
    )


def _split(raw: bytes) -> tuple[dict[str, Any], bytes]:
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _join(header: Any, data: bytes, *, text: bytes | None = None) -> bytes:
    body = json.dumps(header, separators=(",", ":")).encode() if text is None else text
    body += b" " * (-len(body) % 8)
    return struct.pack("<Q", len(body)) + body + data


_counter = iter(range(10**9))


def _write(raw: bytes, suffix: str = ".safetensors") -> Path:
    path = _WORK / f"in{next(_counter) % 64}{suffix}"
    path.write_bytes(raw)
    return path


def _tame_sizes(header: Any) -> None:
    """Keep in-process inputs from describing networks of more than ~10^5 parameters: those (and
    sizes whose products overflow) are tested in a child process by
    test_huge_sizes_in_a_model_file_fail_fast, since today they can crash the interpreter."""
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("bpcore.sizes"), str):
        return
    try:
        sizes = json.loads(meta["bpcore.sizes"])
    except ValueError:
        return
    if isinstance(sizes, list) and any(isinstance(s, int) and abs(s) > 300 for s in sizes):
        meta["bpcore.sizes"] = json.dumps(
            [min(abs(s), 300) if isinstance(s, int) else s for s in sizes]
        )


def _load_outcome(raw: bytes, original: dict[str, Any] | None) -> str:
    """Feed ``raw`` to the three readers; check the property; return what happened."""
    path = _write(raw)
    t0 = time.perf_counter()
    outcome = "loaded"
    for reader in (bpio.read_metadata, bpio.load_tensors, bpcore.load):
        try:
            result = reader(path)
        except ModelFileError:
            outcome = "error"
            continue
        except (MemoryError, RecursionError) as exc:
            raise AssertionError(
                f"{reader.__name__}: {type(exc).__name__} instead of ModelFileError: {exc}"
            ) from None
        except ValueError as exc:
            # a ValueError is acceptable, but the documented type is ModelFileError
            raise AssertionError(
                f"{reader.__name__}: ValueError that is not a ModelFileError: {exc!r}"
            ) from None
        if reader is bpcore.load:
            assert original is not None, "random bytes loaded as a model"
            got = _describe(result)
            for key in ("sizes", "activations", "loss", "dtype"):
                assert got[key] == original[key], (key, got[key], original[key])
            np.testing.assert_array_equal(got["parameters"], original["parameters"])
    elapsed = time.perf_counter() - t0
    assert elapsed < SLOWEST_INPUT_S, f"one input took {elapsed:.1f} s"
    return outcome


# --------------------------------------------------------------------------- byte mutations
@st.composite
def byte_mutations(draw: Any) -> tuple[bytes, dict[str, Any]]:
    raw, original = draw(st.sampled_from(_seed_models()))
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(
            st.sampled_from(
                [
                    "truncate",
                    "flip",
                    "overwrite",
                    "insert",
                    "delete",
                    "length",
                    "header byte",
                    "data byte",
                ]
            )
        )
        size = len(data)
        (n,) = struct.unpack("<Q", bytes(data[:8]).ljust(8, b"\0")) if size >= 8 else (0,)
        if op == "truncate":
            del data[draw(st.integers(0, max(0, size - 1))) :]
        elif op == "flip" and size:
            i = draw(st.integers(0, size - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite" and size:
            i = draw(st.integers(0, size - 1))
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[i : i + len(chunk)] = chunk
        elif op == "insert":
            i = draw(st.integers(0, size))
            data[i:i] = draw(st.binary(min_size=1, max_size=32))
        elif op == "delete" and size:
            i = draw(st.integers(0, size - 1))
            del data[i : i + draw(st.integers(1, 32))]
        elif op == "length" and size >= 8:
            near = st.integers(max(0, n - 16), min(n + 16, 2**64 - 1))
            new = draw(
                st.one_of(
                    st.integers(0, 2**64 - 1),
                    near,
                    st.sampled_from(
                        [0, 1, 7, 2**31, 2**32, 2**63, 2**64 - 1, 100_000_000, 100_000_001]
                    ),
                )
            )
            data[:8] = struct.pack("<Q", new)
        elif op == "header byte" and 8 < min(size, 8 + n):
            i = draw(st.integers(8, min(size, 8 + n) - 1))
            data[i] = draw(st.sampled_from(b'{}[]":,0123456789-eE.ntfl \\\x00\xff'))
        elif op == "data byte" and size > 8 + n:
            i = draw(st.integers(8 + n, size - 1))
            data[i] = draw(st.integers(0, 255))
    return bytes(data), original


@settings(max_examples=EXAMPLES_BYTES, **SETTINGS)
@given(case=byte_mutations())
def test_fuzz_model_file_bytes(case: tuple[bytes, dict[str, Any]]) -> None:
    raw, original = case
    _load_outcome(raw, original)


@settings(max_examples=EXAMPLES_RANDOM, **SETTINGS)
@given(
    raw=st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(lambda b: struct.pack("<Q", len(b)) + b),
        st.tuples(st.integers(0, 400), st.binary(max_size=400)).map(
            lambda t: struct.pack("<Q", t[0]) + t[1]
        ),
    )
)
def test_fuzz_random_bytes_are_not_models(raw: bytes) -> None:
    assert _load_outcome(raw, None) == "error"


# --------------------------------------------------------------------------- header edits
def _json_containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    )


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False),
        st.text(max_size=8),
        st.sampled_from(["F64", "F32", "I64", "BF16", "F8_E4M3", "U8"]),
    ),
    _json_containers,
    max_leaves=8,
)

SHAPES = st.one_of(
    st.lists(st.integers(0, 8), max_size=3),
    st.lists(
        st.sampled_from([-1, 2**31, 2**32, 2**62, 2**63, 2**64, 10**30]), min_size=1, max_size=3
    ),
    st.lists(st.sampled_from([0, 2**40, 2**62]), min_size=2, max_size=4),  # zero-size, huge dims
    JSON_VALUES,
)

OFFSETS = st.one_of(
    st.lists(st.integers(0, 300), min_size=2, max_size=2),
    st.lists(
        st.sampled_from([-8, 0, 8, 2**31, 2**63, 2**64, 2**64 + 8, 10**30]), min_size=2, max_size=2
    ),
    st.lists(st.integers(-5, 300), max_size=3),
    JSON_VALUES,
)


@st.composite
def header_edits(draw: Any) -> tuple[bytes, dict[str, Any]]:
    raw, original = draw(st.sampled_from(_seed_models()))
    header, data = _split(raw)
    names = [k for k in header if k != "__metadata__"]
    text = None
    for _ in range(draw(st.integers(1, 3))):
        op = draw(
            st.sampled_from(
                [
                    "dtype",
                    "shape",
                    "offsets",
                    "drop key",
                    "extra key",
                    "drop tensor",
                    "rename tensor",
                    "copy offsets",
                    "swap offsets",
                    "metadata",
                    "metadata value",
                    "entry",
                    "top level",
                    "duplicate key",
                    "deep nesting",
                    "extra data",
                    "cut data",
                ]
            )
        )
        name = draw(st.sampled_from(names))
        entry = header.get(name)
        if op == "dtype" and isinstance(entry, dict):
            entry["dtype"] = draw(st.one_of(st.sampled_from(sorted(bpio._DTYPES)), JSON_VALUES))
        elif op == "shape" and isinstance(entry, dict):
            entry["shape"] = draw(SHAPES)
        elif op == "offsets" and isinstance(entry, dict):
            entry["data_offsets"] = draw(OFFSETS)
        elif op == "drop key" and isinstance(entry, dict) and entry:
            entry.pop(draw(st.sampled_from(sorted(entry))))
        elif op == "extra key" and isinstance(entry, dict):
            entry[draw(st.text(max_size=6))] = draw(JSON_VALUES)
        elif op == "drop tensor":
            header.pop(name, None)
        elif op == "rename tensor" and name in header:
            header[draw(st.text(max_size=10))] = header.pop(name)
        elif op == "copy offsets" and isinstance(entry, dict):  # overlapping tensors
            other = header.get(draw(st.sampled_from(names)))
            if isinstance(other, dict) and "data_offsets" in other:
                entry["data_offsets"] = list(other["data_offsets"])
        elif op == "swap offsets" and isinstance(entry, dict):
            other = header.get(draw(st.sampled_from(names)))
            if isinstance(other, dict) and "data_offsets" in other and "data_offsets" in entry:
                entry["data_offsets"], other["data_offsets"] = (
                    other["data_offsets"],
                    entry["data_offsets"],
                )
        elif op == "metadata":
            header["__metadata__"] = draw(JSON_VALUES)
        elif op == "metadata value" and isinstance(header.get("__metadata__"), dict):
            meta = header["__metadata__"]
            key = draw(
                st.one_of(st.sampled_from(sorted(meta)), st.text(max_size=8))
                if meta
                else st.text(max_size=8)
            )
            meta[key] = draw(st.one_of(JSON_VALUES, JSON_VALUES.map(json.dumps)))
        elif op == "entry":
            header[name] = draw(JSON_VALUES)
        elif op == "top level":
            header = draw(JSON_VALUES)
            if not isinstance(header, dict):
                text = json.dumps(header).encode()
                break
        elif op == "duplicate key":
            body = json.dumps(header, separators=(",", ":"))
            text = (
                (
                    body[:-1] + "," + json.dumps(name) + ':{"dtype":"F64","shape":[],'
                    '"data_offsets":[0,8]}}'
                ).encode()
                if body.endswith("}")
                else body.encode()
            )
        elif op == "deep nesting":
            depth = draw(st.sampled_from([50, 3000]))
            text = b'{"__metadata__":{},"x":' + b"[" * depth + b"]" * depth + b"}"
        elif op == "extra data":
            data += draw(st.binary(min_size=1, max_size=24))
        elif op == "cut data" and data:
            data = data[: draw(st.integers(0, len(data) - 1))]
    _tame_sizes(header)
    return _join(header, data, text=text), original


@settings(max_examples=EXAMPLES_HEADER, **SETTINGS)
@given(case=header_edits())
def test_fuzz_model_file_header_edits(case: tuple[bytes, dict[str, Any]]) -> None:
    raw, original = case
    _load_outcome(raw, original)


# --------------------------------------------------------------------------- re-signed metadata
def _resign(header: dict[str, Any], data: bytes) -> bytes:
    """The file with its bpcore.checksum recomputed over (unchanged) tensors and edited metadata."""
    tensors, _ = bpio.load_tensors(_write(_join(header, data)))
    meta = header["__metadata__"]
    meta["bpcore.checksum"] = bpio._checksum(tensors, meta)
    return _join(header, data)


# Architecture values small enough to build in-process; sizes that overflow or need terabytes are
# in test_huge_sizes_in_a_model_file_fail_fast (child process).
META_EDITS = {
    "bpcore.sizes": st.one_of(
        st.lists(st.integers(-2, 6), max_size=5),
        st.lists(st.integers(1, 300), min_size=2, max_size=3),
        JSON_VALUES,
    ).map(json.dumps),
    "bpcore.activations": st.lists(st.sampled_from([*ACTIVATIONS, "swish", ""]), max_size=4).map(
        json.dumps
    ),
    "bpcore.loss": st.sampled_from([*LOSSES, "", "hinge"]),
    "bpcore.dtype": st.sampled_from(["float64", "float32", "float16", "int64", ""]),
    "bpcore.init": st.sampled_from([*INITS, "normal"]),
    "bpcore.init_scale": st.sampled_from(["0.1", "0", "-1", "nan", "inf", "1e999", "x", ""]),
    "bpcore.seed": st.sampled_from(["0", "-1", "1.5", str(2**64), "9" * 5000, "x"]),
    "bpcore.format": st.sampled_from(["bpcore-mlp", "other", ""]),
    "bpcore.format_version": st.sampled_from(["1", "2", "0", "-1", "1.0", "", "9" * 5000]),
    "bpcore.task": st.sampled_from(["classification", "regression", "clustering", ""]),
    "bpcore.classes": st.one_of(
        JSON_VALUES.map(json.dumps),
        st.just("[0, 1]"),
        st.just("[1]"),
        st.just("[[]]"),
        st.just("[" * 3000 + "]" * 3000),
    ),
    "bpcore.one_hot": st.sampled_from(["true", "false", "yes", ""]),
    "bpcore.feature_names": st.one_of(JSON_VALUES.map(json.dumps), st.just('["a", "b"]')),
    "bpcore.target": st.one_of(JSON_VALUES.map(json.dumps), st.just('"y"')),
}


@st.composite
def resigned_edits(draw: Any) -> tuple[bytes, dict[str, Any], dict[str, str]]:
    raw, original = draw(st.sampled_from(_seed_models()))
    header, data = _split(raw)
    meta = header["__metadata__"]
    edits = {}
    for key in draw(
        st.lists(st.sampled_from(sorted(META_EDITS)), min_size=1, max_size=3, unique=True)
    ):
        if draw(st.integers(0, 9)) == 0:
            meta.pop(key, None)
            edits[key] = None
        else:
            meta[key] = edits[key] = draw(META_EDITS[key])
    _tame_sizes(header)
    return _resign(header, data), original, edits


@settings(max_examples=EXAMPLES_RESIGNED, **SETTINGS)
@given(case=resigned_edits())
def test_fuzz_model_metadata_behind_the_checksum(
    case: tuple[bytes, dict[str, Any], dict[str, str]],
) -> None:
    """Metadata edits that keep the checksum valid: the deeper checks still refuse every
    inconsistency, and a file that loads gives a network that matches its metadata and tensors."""
    raw, original, edits = case
    path = _write(raw)
    try:
        net = bpcore.load(path)
    except ModelFileError:
        return
    except Exception as exc:  # noqa: BLE001 - the property is about the exception type
        raise AssertionError(
            f"{type(exc).__name__} instead of ModelFileError after editing {edits}: {exc}"
        ) from None
    meta = bpio.read_metadata(path)
    assert net.sizes == json.loads(meta["bpcore.sizes"])
    assert net.activations == json.loads(meta["bpcore.activations"])
    assert net.loss_name == meta["bpcore.loss"] and net.dtype.name == meta["bpcore.dtype"]
    tensors, _ = bpio.load_tensors(path)
    for l in range(1, net.n_layers + 1):
        np.testing.assert_array_equal(net.weights[l - 1], tensors[f"W{l}"])
        np.testing.assert_array_equal(net.biases[l - 1], tensors[f"b{l}"])


HUGE_SIZE_EDITS = [
    [2, 2**62, 4],  # 2 · 2^62 overflows the core's 64-bit parameter count
    [2**62, 4, 2],  # wraps to 0 parameters for W^[1]
    [2**32, 2**32, 2],
    [10**6, 10**6, 2],  # 8 TB
    [30_000, 30_000, 2],  # 7 GB: allocated and filled before the tensors are checked
    [2**70, 2],  # beyond int64
]


@pytest.mark.parametrize("resign", [False, True], ids=["checksum stale", "checksum recomputed"])
@pytest.mark.parametrize("sizes", HUGE_SIZE_EDITS, ids=[str(s) for s in HUGE_SIZE_EDITS])
def test_huge_sizes_in_a_model_file_fail_fast(sizes: list[int], resign: bool) -> None:
    """A few hundred bytes claiming a huge network: ModelFileError within a second, no crash, no
    MemoryError, no gigabytes allocated. (The sizes must be checked against the tensors actually
    in the file before any network is built.)"""
    raw, _ = _seed_models()[0]
    header, data = _split(raw)
    header["__metadata__"]["bpcore.sizes"] = json.dumps(sizes)
    header["__metadata__"]["bpcore.activations"] = json.dumps(["sigmoid"] * (len(sizes) - 1))
    path = _write(_resign(header, data) if resign else _join(header, data))
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(bpcore.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    code = textwrap.dedent(f"""
        import os, time, bpcore
        from bpcore.io import ModelFileError
        try:
            import resource
        except ImportError:  # not on Windows
            resource = None
        # fail fast instead of swapping (not under ASan, which reserves terabytes of addresses)
        if resource is not None and "asan" not in os.environ.get("LD_PRELOAD", ""):
            resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        t0 = time.perf_counter()
        try:
            bpcore.load({str(path)!r})
        except ModelFileError as exc:
            print("REFUSED", exc)
        seconds = time.perf_counter() - t0
        rss_mb = 0.0  # peak resident memory of this process (ru_maxrss would include the parent's)
        if os.path.exists("/proc/self/status"):
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    rss_mb = int(line.split()[1]) / 1024
        print(f"SECONDS {{seconds:.3f}} RSS_MB {{rss_mb:.0f}}")
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    detail = f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, "the loader crashed or raised: " + detail
    assert "REFUSED" in proc.stdout, detail
    seconds = float(proc.stdout.split("SECONDS ")[1].split()[0])
    rss_mb = float(proc.stdout.split("RSS_MB ")[1].split()[0])
    assert seconds < 2.0, detail
    assert rss_mb < 1000, detail


# --------------------------------------------------------------------------- configurations
_KNOWN_KEYS = {
    section: [f.name for f in dataclasses.fields(getattr(Config(), section))]
    for section in ("network", "training", "data", "output")
}

TOML_SCALARS = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, -1, 2, 10**6]),
    st.floats(allow_nan=True),
    st.sampled_from([0.0, 0.5, 1.0, 1e-8, -0.1]),
    st.text(max_size=12),
    st.sampled_from(
        [
            "full",
            "auto",
            "iris",
            "xor",
            "moons",
            "sine",
            "sigmoid",
            "relu",
            "softmax",
            "mse",
            "cross_entropy",
            "adam",
            "sgd",
            "float32",
            "data.csv",
            "x.npz",
            "model.safetensors",
            "h.json",
            "",
            "../up.png",
            "a/b.toml",
        ]
    ),
    st.dates(),
    st.datetimes(),
    st.times(),
)


def _toml_containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=3),
    )


TOML_VALUES = st.recursive(TOML_SCALARS, _toml_containers, max_leaves=10)


def _toml_key(key: str) -> str:
    return key if key and all(c.isalnum() or c in "_-" for c in key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    """A TOML rendering of ``value`` (strings as JSON strings, which TOML basic strings accept
    except for a few escapes that we avoid with \\u escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value == math.inf else "-inf" if value == -math.inf else repr(value))
        )
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return value.isoformat()  # dates, datetimes, times


@st.composite
def toml_documents(draw: Any) -> tuple[str, dict[str, dict[str, Any]]]:
    """A TOML text of sections (mostly the real ones) with keys (mostly real) and random values."""
    doc: dict[str, dict[str, Any]] = {}
    for _ in range(draw(st.integers(0, 4))):
        section = draw(
            st.one_of(st.sampled_from(sorted(_KNOWN_KEYS)), st.text(min_size=1, max_size=8))
        )
        keys = doc.setdefault(section, {})
        for _ in range(draw(st.integers(0, 5))):
            choices = _KNOWN_KEYS.get(section, [])
            key = draw(
                st.sampled_from(choices)
                if choices and draw(st.integers(0, 4))
                else st.text(min_size=1, max_size=8)
            )
            keys[key] = draw(TOML_VALUES)
    lines = []
    for section, keys in doc.items():
        lines.append(f"[{_toml_key(section)}]")
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n", doc


def _config_outcome(text: str | bytes) -> Any:
    path = _write(
        text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text, suffix=".toml"
    )
    t0 = time.perf_counter()
    try:
        cfg = load_config(path)
    except ConfigError:
        cfg = None
    except Exception as exc:  # noqa: BLE001 - the property is about the exception type
        raise AssertionError(f"{type(exc).__name__} instead of ConfigError: {exc}") from None
    assert time.perf_counter() - t0 < SLOWEST_INPUT_S
    if cfg is not None:  # what loads is a valid configuration that survives a round trip
        assert isinstance(cfg, Config)
        again = load_config(_write(cfg.to_toml().encode(), suffix=".toml"))
        assert again.to_dict() == cfg.to_dict()
    return cfg


@settings(max_examples=EXAMPLES_TOML, **SETTINGS)
@given(case=toml_documents())
def test_fuzz_random_toml_configurations(case: tuple[str, dict[str, dict[str, Any]]]) -> None:
    text, doc = case
    cfg = _config_outcome(text)
    if cfg is None:
        return
    # the values given are the values loaded (ints may become floats, lists stay lists)
    for section, keys in doc.items():
        for key, value in keys.items():
            loaded = getattr(getattr(cfg, section), key)
            if (
                key == "source"
                and section == "data"
                and isinstance(value, str)
                and value.endswith((".csv", ".npy", ".npz"))
            ):
                assert Path(loaded).name == Path(value).name
                continue
            if isinstance(value, float) and math.isnan(value):
                raise AssertionError(f"{section}.{key} accepted NaN")
            assert loaded == value or (isinstance(value, int) and loaded == float(value)), (
                section,
                key,
                value,
                loaded,
            )


VALID_TOML = Config(
    training=dict(epochs=3, batch_size="full"),  # type: ignore[arg-type]
    data=dict(source="xor", n_samples=8),
).to_toml()  # type: ignore[arg-type]


@st.composite
def toml_edits(draw: Any) -> str:
    text = VALID_TOML
    for _ in range(draw(st.integers(1, 4))):
        op = draw(
            st.sampled_from(
                [
                    "delete",
                    "insert",
                    "replace",
                    "truncate",
                    "duplicate line",
                    "swap lines",
                    "bom",
                    "nesting",
                ]
            )
        )
        i = draw(st.integers(0, len(text)))
        if op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)) :]
        elif op == "insert":
            text = (
                text[:i]
                + draw(
                    st.one_of(
                        st.text(max_size=8),
                        st.sampled_from(
                            list("[]{}=\"'#\n\\.,")
                            + [
                                "\x00",
                                "\ufeff",
                                "\ud800",
                                "1e999",
                                "nan",
                                "[network]\n",
                                "epochs = 5\n",
                                "= =",
                            ]
                        ),
                    )
                )
                + text[i:]
            )
        elif op == "replace" and i < len(text):
            text = text[:i] + draw(st.characters()) + text[i + 1 :]
        elif op == "truncate":
            text = text[:i]
        elif op in ("duplicate line", "swap lines"):
            lines = text.split("\n")
            a, b = (draw(st.integers(0, len(lines) - 1)) for _ in range(2))
            if op == "duplicate line":
                lines.insert(b, lines[a])
            else:
                lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
        elif op == "bom":
            text = "\ufeff" + text
        elif op == "nesting":
            depth = draw(st.sampled_from([10, 1500]))
            text += f"\n[network]\nhidden = {'[' * depth}{']' * depth}\n"
    return text


@settings(max_examples=EXAMPLES_TOML_EDITS, **SETTINGS)
@given(text=toml_edits())
def test_fuzz_edited_configuration_files(text: str) -> None:
    _config_outcome(text)


def test_deeply_nested_inputs_give_the_documented_errors() -> None:
    """Deep nesting in a model header or a TOML value: the parsers' recursion must end in
    ModelFileError / ConfigError, not RecursionError."""
    header = b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(ModelFileError):
        bpcore.load(_write(_join(None, b"", text=header)))
    with pytest.raises(ConfigError):
        load_config(_write(("a = " + "[" * 5000 + "]" * 5000 + "\n").encode(), suffix=".toml"))
    with pytest.raises(ConfigError):
        load_config(
            _write(("a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n").encode(), suffix=".toml")
        )
