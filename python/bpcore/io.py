"""Model files: a trained network in the safetensors format, written and read natively (no pickle).

Layout of a safetensors file: 8 bytes (unsigned little-endian) giving the length N of a UTF-8 JSON
header, the header, then the raw little-endian bytes of every tensor. The header maps each tensor
name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets into the byte buffer) and
holds a ``__metadata__`` map of strings to strings.

A bpcore model file holds, for each layer l = 1 … L,

- ``W{l}``: W^[l], shape (n_{l-1}, n_l) — the notation's orientation, Z^[l] = H^[l-1] W^[l] + b^[l];
- ``b{l}``: b^[l], shape (n_l,);
- ``alpha{l}``: the prelu slope α^[l], shape () — prelu layers only;

in the network's dtype (F32 or F64); and, when the network was trained on raw data, its
:class:`~bpcore.preprocessing.Preprocessing` as F64 tensors ``preprocessing.mean``,
``preprocessing.scale`` (X ← (X − mean) / scale) and, for standardised regression targets,
``preprocessing.target_mean``, ``preprocessing.target_scale``. The metadata keys ``bpcore.*``
describe the network (``sizes``, ``activations``, ``loss``, ``dtype``, ``init``, ``init_scale``,
``seed``, ``dropout``: the JSON list of the hidden layers' dropout rates, 0 when a file written
before dropout has none), the preprocessing (``task``, ``classes``, ``one_hot``, ``feature_names``, ``target``),
the writer (``version``), the file format (``format``, ``format_version``) and a SHA-256
``checksum`` over the tensors and the ``bpcore.*`` metadata. Other metadata keys are the user's.

:func:`load` returns a :class:`~bpcore.Network` with two attributes set on the instance:
``metadata`` (the user's metadata, a dict of str) and ``preprocessing`` (a
:class:`~bpcore.preprocessing.Preprocessing`, or None). ``net.preprocessing.predict(net, X)``
standardises raw features, runs the forward pass and returns class labels (or values).
A checkpoint (``ModelCheckpoint``, or ``bpcore train`` when interrupted) also holds what resuming
needs: the optimizer's moments as the tensors ``training.m`` and ``training.s`` and the JSON
metadata ``bpcore.training`` (optimizer kind, step count, epoch count, history so far); read them
with :func:`load_checkpoint`. A plain model file holds no optimizer state.

Files are written atomically (temporary file in the same directory, fsync, ``os.replace``).
Reading checks every number in the header before use; a file that fails any check raises
:class:`ModelFileError` (a ValueError) naming the problem.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from ._atomic import PathLike, as_path
from ._modelfile import DTYPES as _DTYPES
from ._modelfile import FORMAT, FORMAT_VERSION, save_tensors, write_network
from ._modelfile import PREFIX as _PREFIX
from ._modelfile import checksum as _checksum
from ._version import __version__
from .network import Network
from .preprocessing import Preprocessing

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_HEADER_BYTES",
    "ModelFileError",
    "load",
    "load_checkpoint",
    "load_tensors",
    "read_metadata",
    "save",
    "save_tensors",
]

MAX_HEADER_BYTES = 100_000_000  # the limit of the reference safetensors implementation


class ModelFileError(ValueError):
    """A model file that cannot be read: truncated, corrupted, tampered with, or of an unknown
    format version. ``path`` is the file."""

    def __init__(self, message: str, path: PathLike | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


# ---------------------------------------------------------------------- generic safetensors
def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, val in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = val
    return out


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _read_header(
    f: IO[bytes], size: int, path: PathLike
) -> tuple[dict[str, Any], dict[str, str], int]:
    """Parse and check the header; returns (entries, metadata, start of the byte buffer)."""
    if size < 8:
        raise ModelFileError(
            f"the file is {size} bytes, too short for a safetensors file (truncated?)", path
        )
    (n,) = struct.unpack("<Q", f.read(8))
    if n == 0 or n > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"header length {n} is not in 1 … {MAX_HEADER_BYTES}: not a "
            "safetensors file, or a corrupted one",
            path,
        )
    if n > size - 8:
        raise ModelFileError(
            f"header length {n} runs past the end of the {size}-byte file (truncated or corrupted)",
            path,
        )
    raw = f.read(n)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError("the header is not UTF-8 text (corrupted)", path) from None
    if not text.startswith("{"):
        raise ModelFileError("the header does not start with '{' (corrupted)", path)
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates)
    except ValueError as exc:
        raise ModelFileError(f"the header is not valid JSON: {exc}", path) from None
    except RecursionError:
        raise ModelFileError("the header nests JSON too deeply (corrupted)", path) from None
    if not isinstance(header, dict):
        raise ModelFileError("the header is not a JSON object", path)
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFileError("__metadata__ must map strings to strings", path)
    buffer_len = size - 8 - n
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ModelFileError(
                f"tensor {name!r}: an entry needs exactly dtype, shape and data_offsets", path
            )
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise ModelFileError(f"tensor {name!r}: unknown dtype {dtype!r}", path)
        if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
            raise ModelFileError(
                f"tensor {name!r}: shape must be a list of non-negative integers; got {shape!r}",
                path,
            )
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_int(o) and o >= 0 for o in offsets)
            or offsets[0] > offsets[1]
        ):
            raise ModelFileError(
                f"tensor {name!r}: data_offsets must be [begin, end] with "
                f"0 <= begin <= end; got {offsets!r}",
                path,
            )
        if offsets[1] > buffer_len:
            raise ModelFileError(
                f"tensor {name!r}: data_offsets {offsets} run past the end of the "
                f"{buffer_len}-byte data (truncated or corrupted)",
                path,
            )
        nbytes = math.prod(shape) * _DTYPES[dtype][0]
        if offsets[1] - offsets[0] != nbytes:
            raise ModelFileError(
                f"tensor {name!r}: shape {shape} of {dtype} needs {nbytes} bytes "
                f"but data_offsets {offsets} span {offsets[1] - offsets[0]}",
                path,
            )
        spans.append((offsets[0], offsets[1], name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            what = "overlaps the tensor before it" if begin < position else "leaves a gap before it"
            raise ModelFileError(f"tensor {name!r}: data_offsets [{begin}, {end}] {what}", path)
        position = end
    if position != buffer_len:
        raise ModelFileError(
            f"the data holds {buffer_len} bytes but the tensors cover {position} "
            "(extra bytes or a corrupted header)",
            path,
        )
    return header, metadata, 8 + n


def load_tensors(path: PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a safetensors file: ``(tensors, metadata)``, tensors as native-order NumPy arrays.

    Raises
    ------
    ModelFileError
        Truncated, corrupted or non-conforming file, or a dtype NumPy cannot represent.
    """
    path = as_path(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header, metadata, start = _read_header(f, size, path)
        f.seek(start)
        buffer = f.read()
    if len(buffer) != size - start:
        raise ModelFileError("the file changed while it was read", path)
    tensors = {}
    for name, entry in header.items():
        np_dtype = _DTYPES[entry["dtype"]][1]
        if np_dtype is None:
            raise ModelFileError(f"tensor {name!r}: dtype {entry['dtype']} is not supported", path)
        begin, end = entry["data_offsets"]
        arr = np.frombuffer(
            buffer, dtype=np.dtype(np_dtype), count=math.prod(entry["shape"]), offset=begin
        ).reshape(entry["shape"])
        tensors[name] = arr.astype(arr.dtype.newbyteorder("="), copy=True)
    return tensors, metadata


def read_metadata(path: PathLike) -> dict[str, str]:
    """The ``__metadata__`` map of a safetensors file (bpcore's ``bpcore.*`` keys and the user's),
    read from the header only."""
    path = as_path(path)
    with open(path, "rb") as f:
        _, metadata, _ = _read_header(f, os.fstat(f.fileno()).st_size, path)
    return metadata


# ---------------------------------------------------------------------- bpcore models
def save(
    net: Network, path: PathLike, *, preprocessing: Preprocessing | None = None, **metadata: object
) -> None:
    """Write ``net`` to a safetensors model file at ``path``, atomically.

    Parameters
    ----------
    net : Network
    path : str or os.PathLike
        The file to write (conventionally ``*.safetensors``); its directory must exist. An existing
        file is replaced only once the new one is complete.
    preprocessing : Preprocessing, optional
        Standardisation statistics and classes to store; default ``net.preprocessing`` when the
        network has one (as networks from :func:`load` and ``train_from_config`` do).
    **metadata
        Extra str → str entries (other values are stored as JSON). ``net.metadata`` from
        :func:`load` is kept; these entries are added on top.
    """
    write_network(net, path, preprocessing=preprocessing, **metadata)


def _json_meta(meta: Mapping[str, str], key: str, path: PathLike, default: Any = ...) -> Any:
    full = _PREFIX + key
    if full not in meta:
        if default is not ...:
            return default
        raise ModelFileError(f"metadata {full!r} is missing", path)
    try:
        return json.loads(meta[full])
    except (ValueError, RecursionError):
        raise ModelFileError(f"metadata {full!r} is not valid JSON: {meta[full]!r}", path) from None


def load_checkpoint(path: PathLike) -> tuple[Network, dict[str, Any] | None]:
    """Read a model file and the training state it holds, if any: ``(net, training)``.

    ``training`` is None for a plain model file; for a checkpoint a dict with ``m`` and ``s`` (the
    optimizer's moments), ``optimizer``, ``steps``, ``epochs`` and ``history`` (a dict as
    :meth:`bpcore.History.to_dict`), and ``early_stopping`` when the run had it, ready for
    :func:`bpcore.training.restore_training`.
    """
    net, tensors, meta = _load(path)
    if _PREFIX + "training" not in meta:
        return net, None
    record = _json_meta(meta, "training", as_path(path))
    if not isinstance(record, dict) or not {"optimizer", "steps", "epochs", "history"} <= set(
        record
    ):
        raise ModelFileError(
            "metadata bpcore.training must hold optimizer, steps, epochs and history",
            as_path(path),
        )
    record["m"] = tensors["training.m"]
    record["s"] = tensors["training.s"]
    stopping = record.get("early_stopping")
    if stopping is not None:
        if not isinstance(stopping, dict):
            raise ModelFileError(
                "metadata bpcore.training's early_stopping must be a dict", as_path(path)
            )
        stopping["best_parameters"] = tensors.get("training.best_parameters")
    return net, record


def load(path: PathLike) -> Network:
    """Read a bpcore model file written by :func:`save` (or ``Network.save``).

    Returns
    -------
    Network
        With the saved parameters, and two attributes set on the instance: ``metadata`` (dict of
        the user's str entries) and ``preprocessing`` (:class:`~bpcore.preprocessing.Preprocessing`
        or None).

    Raises
    ------
    ModelFileError
        The file is truncated, corrupted, tampered with (shapes that do not match the sizes,
        offsets out of range or overlapping, bad JSON, a checksum mismatch …), not a bpcore model,
        or of a format version this bpcore does not read.
    FileNotFoundError
    """
    return _load(path)[0]


def _load(path: PathLike) -> tuple[Network, dict[str, np.ndarray], dict[str, str]]:
    path = as_path(path)
    tensors, meta = load_tensors(path)
    fmt = meta.get(_PREFIX + "format")
    if fmt != FORMAT:
        raise ModelFileError(
            f"not a bpcore model file (metadata bpcore.format is {fmt!r}, expected {FORMAT!r})",
            path,
        )
    version_text = meta.get(_PREFIX + "format_version", "")
    try:
        version = int(version_text)
    except ValueError:
        raise ModelFileError(f"format version {version_text!r} is not an integer", path) from None
    if version != FORMAT_VERSION:
        newer = " written by a newer bpcore; upgrade bpcore" if version > FORMAT_VERSION else ""
        raise ModelFileError(
            f"format version {version}{newer}; bpcore {__version__} reads version {FORMAT_VERSION}",
            path,
        )
    sizes = _json_meta(meta, "sizes", path)
    acts = _json_meta(meta, "activations", path)
    if (
        not isinstance(sizes, list)
        or not all(_is_int(s) and s >= 1 for s in sizes)
        or len(sizes) < 2
    ):
        raise ModelFileError(
            f"metadata bpcore.sizes must list at least two positive integers; got {sizes!r}", path
        )
    if not isinstance(acts, list) or len(acts) != len(sizes) - 1:
        raise ModelFileError(
            f"metadata bpcore.activations must list {len(sizes) - 1} names; got {acts!r}", path
        )
    # the network is allocated before its tensors are checked: bound it by what the file holds
    held = sum(t.size for t in tensors.values())
    needed = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    if needed > held:
        raise ModelFileError(
            f"metadata bpcore.sizes {sizes} describe {needed} weights and biases "
            f"but the file holds {held} values (tampered or corrupted)",
            path,
        )
    try:
        init_scale = float(meta.get(_PREFIX + "init_scale", "0.1"))
        seed = int(meta.get(_PREFIX + "seed", "0"))
        dropout = _json_meta(meta, "dropout", path, None)
        net = Network(
            sizes,
            acts[:-1] if len(acts) > 1 else "sigmoid",
            acts[-1],
            meta.get(_PREFIX + "loss", ""),
            meta.get(_PREFIX + "dtype", ""),
            meta.get(_PREFIX + "init", "small_uniform"),
            seed,
            init_scale,
            0.0 if dropout is None else dropout,
        )
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"the metadata describes no valid network: {exc}", path) from None
    dt = net.dtype
    expected: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    for l in range(1, len(sizes)):
        expected[f"W{l}"] = ((sizes[l - 1], sizes[l]), dt)
        expected[f"b{l}"] = ((sizes[l],), dt)
        if acts[l - 1] == "prelu":
            expected[f"alpha{l}"] = ((), dt)
    task = meta.get(_PREFIX + "task")
    prep = None
    if task is not None:
        try:
            prep = Preprocessing(
                task=task,
                classes=_json_meta(meta, "classes", path, None),
                one_hot=meta.get(_PREFIX + "one_hot", "true") == "true",
                mean=tensors.get("preprocessing.mean"),
                scale=tensors.get("preprocessing.scale"),
                target_mean=tensors.get("preprocessing.target_mean"),
                target_scale=tensors.get("preprocessing.target_scale"),
                feature_names=_json_meta(meta, "feature_names", path, None),
                target=_json_meta(meta, "target", path, None),
            )
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"the stored preprocessing is invalid: {exc}", path) from None
        for name in ("mean", "scale"):
            if getattr(prep, name) is not None:
                expected[f"preprocessing.{name}"] = ((sizes[0],), np.dtype(np.float64))
        for name in ("target_mean", "target_scale"):
            if getattr(prep, name) is not None:
                expected[f"preprocessing.{name}"] = ((sizes[-1],), np.dtype(np.float64))
        if prep.n_outputs is not None and prep.n_outputs != sizes[-1]:
            raise ModelFileError(
                f"the stored classes need {prep.n_outputs} outputs but the network has {sizes[-1]}",
                path,
            )
    if _PREFIX + "training" in meta:
        n_params = net.n_params
        expected["training.m"] = ((n_params,), dt)
        if "training.s" in tensors and tensors["training.s"].shape != (0,):
            expected["training.s"] = ((n_params,), dt)
        else:
            expected["training.s"] = ((0,), dt)
        if "training.best_parameters" in tensors:
            expected["training.best_parameters"] = ((n_params,), dt)
    for name in tensors:
        if name not in expected:
            raise ModelFileError(f"unexpected tensor {name!r} for a network of sizes {sizes}", path)
    for name, (shape, dtype) in expected.items():
        if name not in tensors:
            raise ModelFileError(f"tensor {name!r} is missing", path)
        arr = tensors[name]
        if arr.shape != shape:
            raise ModelFileError(
                f"tensor {name!r} has shape {list(arr.shape)}; sizes {sizes} need {list(shape)}",
                path,
            )
        if arr.dtype != dtype:
            raise ModelFileError(
                f"tensor {name!r} has dtype {arr.dtype.name}; expected {dtype.name}", path
            )
    stored = meta.get(_PREFIX + "checksum")
    if stored is None:
        raise ModelFileError("metadata bpcore.checksum is missing", path)
    if stored != _checksum(tensors, meta):
        raise ModelFileError(
            "checksum mismatch: the tensors or the bpcore metadata were changed "
            "or corrupted after the file was written",
            path,
        )
    for name, arr in tensors.items():
        if not np.isfinite(arr).all():
            raise ModelFileError(f"tensor {name!r} holds NaN or infinite values", path)
    alphas = net.alphas
    for l in range(1, len(sizes)):
        net.weights[l - 1][...] = tensors[f"W{l}"]
        net.biases[l - 1][...] = tensors[f"b{l}"]
        if l in alphas:
            alphas[l][...] = tensors[f"alpha{l}"]
    net.metadata = {k: val for k, val in meta.items() if not k.startswith(_PREFIX)}
    net.preprocessing = prep
    return net, tensors, meta
