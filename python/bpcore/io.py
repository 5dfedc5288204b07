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
``seed``), the preprocessing (``task``, ``classes``, ``one_hot``, ``feature_names``, ``target``),
the writer (``version``), the file format (``format``, ``format_version``) and a SHA-256
``checksum`` over the tensors and the ``bpcore.*`` metadata. Other metadata keys are the user's.

:func:`load` returns a :class:`~bpcore.Network` with two attributes set on the instance:
``metadata`` (the user's metadata, a dict of str) and ``preprocessing`` (a
:class:`~bpcore.preprocessing.Preprocessing`, or None). ``net.preprocessing.predict(net, X)``
standardises raw features, runs the forward pass and returns class labels (or values).
The optimizer state is not saved: a model file is for prediction and for a fresh ``fit``.

Files are written atomically (temporary file in the same directory, fsync, ``os.replace``).
Reading checks every number in the header before use; a file that fails any check raises
:class:`ModelFileError` (a ValueError) naming the problem.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ._atomic import as_path, write_bytes

if TYPE_CHECKING:
    from .network import Network
    from .preprocessing import Preprocessing

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_HEADER_BYTES",
    "ModelFileError",
    "load",
    "load_tensors",
    "read_metadata",
    "save",
    "save_tensors",
]

FORMAT = "bpcore-mlp"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 100_000_000  # the limit of the reference safetensors implementation

# safetensors dtype → (item size, NumPy little-endian dtype or None when NumPy has no such type)
_DTYPES: dict[str, tuple[int, str | None]] = {
    "BOOL": (1, "|b1"), "U8": (1, "|u1"), "I8": (1, "|i1"), "F8_E4M3": (1, None),
    "F8_E5M2": (1, None), "U16": (2, "<u2"), "I16": (2, "<i2"), "F16": (2, "<f2"),
    "BF16": (2, None), "U32": (4, "<u4"), "I32": (4, "<i4"), "F32": (4, "<f4"),
    "U64": (8, "<u8"), "I64": (8, "<i8"), "F64": (8, "<f8"),
}
_NAME_OF = {np.dtype(v[1]).str: k for k, v in _DTYPES.items() if v[1] is not None}

_PREFIX = "bpcore."


class ModelFileError(ValueError):
    """A model file that cannot be read: truncated, corrupted, tampered with, or of an unknown
    format version. ``path`` is the file."""

    def __init__(self, message: str, path: Any = None) -> None:
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


# ---------------------------------------------------------------------- generic safetensors
def _dtype_name(arr: np.ndarray) -> str:
    dt = arr.dtype
    name = _NAME_OF.get(dt.str if dt.itemsize == 1 else dt.newbyteorder("<").str)
    if name is None:
        raise TypeError(f"arrays of dtype {dt} cannot be stored in safetensors")
    return name


def _encode(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name, arr in tensors.items():
        dtype = _dtype_name(arr)
        data = np.ascontiguousarray(arr, dtype=np.dtype(_DTYPES[dtype][1])).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # keep the byte buffer 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def save_tensors(path: Any, tensors: Mapping[str, np.ndarray],
                 metadata: Mapping[str, str] | None = None) -> None:
    """Write arrays and a str → str metadata map to a safetensors file, atomically."""
    path = as_path(path)
    meta = dict(metadata or {})
    for k, val in meta.items():
        if not isinstance(k, str) or not isinstance(val, str):
            raise TypeError(f"metadata must map str to str; got {k!r}: {val!r}")
    arrays = {}
    for name, arr in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"tensor names must be non-empty strings other than __metadata__; "
                             f"got {name!r}")
        arrays[name] = np.asarray(arr)
    write_bytes(path, _encode(arrays, meta))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, val in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = val
    return out


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _read_header(f: Any, size: int, path: Any) -> tuple[dict[str, Any], dict[str, str], int]:
    """Parse and check the header; returns (entries, metadata, start of the byte buffer)."""
    if size < 8:
        raise ModelFileError(f"the file is {size} bytes, too short for a safetensors file "
                             "(truncated?)", path)
    (n,) = struct.unpack("<Q", f.read(8))
    if n == 0 or n > MAX_HEADER_BYTES:
        raise ModelFileError(f"header length {n} is not in 1 … {MAX_HEADER_BYTES}: not a "
                             "safetensors file, or a corrupted one", path)
    if n > size - 8:
        raise ModelFileError(f"header length {n} runs past the end of the {size}-byte file "
                             "(truncated or corrupted)", path)
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
            raise ModelFileError(f"tensor {name!r}: an entry needs exactly dtype, shape and "
                                 "data_offsets", path)
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise ModelFileError(f"tensor {name!r}: unknown dtype {dtype!r}", path)
        if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
            raise ModelFileError(f"tensor {name!r}: shape must be a list of non-negative integers; "
                                 f"got {shape!r}", path)
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_int(o) and o >= 0 for o in offsets) or offsets[0] > offsets[1]):
            raise ModelFileError(f"tensor {name!r}: data_offsets must be [begin, end] with "
                                 f"0 <= begin <= end; got {offsets!r}", path)
        if offsets[1] > buffer_len:
            raise ModelFileError(f"tensor {name!r}: data_offsets {offsets} run past the end of the "
                                 f"{buffer_len}-byte data (truncated or corrupted)", path)
        nbytes = math.prod(shape) * _DTYPES[dtype][0]
        if offsets[1] - offsets[0] != nbytes:
            raise ModelFileError(f"tensor {name!r}: shape {shape} of {dtype} needs {nbytes} bytes "
                                 f"but data_offsets {offsets} span {offsets[1] - offsets[0]}", path)
        spans.append((offsets[0], offsets[1], name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            what = "overlaps the tensor before it" if begin < position else "leaves a gap before it"
            raise ModelFileError(f"tensor {name!r}: data_offsets [{begin}, {end}] {what}", path)
        position = end
    if position != buffer_len:
        raise ModelFileError(f"the data holds {buffer_len} bytes but the tensors cover {position} "
                             "(extra bytes or a corrupted header)", path)
    return header, metadata, 8 + n


def load_tensors(path: Any) -> tuple[dict[str, np.ndarray], dict[str, str]]:
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
        arr = np.frombuffer(buffer, dtype=np.dtype(np_dtype), count=math.prod(entry["shape"]),
                            offset=begin).reshape(entry["shape"])
        tensors[name] = arr.astype(arr.dtype.newbyteorder("="), copy=True)
    return tensors, metadata


def read_metadata(path: Any) -> dict[str, str]:
    """The ``__metadata__`` map of a safetensors file (bpcore's ``bpcore.*`` keys and the user's),
    read from the header only."""
    path = as_path(path)
    with open(path, "rb") as f:
        _, metadata, _ = _read_header(f, os.fstat(f.fileno()).st_size, path)
    return metadata


# ---------------------------------------------------------------------- bpcore models
def _checksum(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> str:
    """SHA-256 over the tensors (sorted by name) and the bpcore.* metadata but the checksum."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        dtype = _dtype_name(arr)
        h.update(json.dumps([name, dtype, list(arr.shape)]).encode("utf-8"))
        h.update(np.ascontiguousarray(arr, dtype=np.dtype(_DTYPES[dtype][1])).tobytes())
    for key in sorted(metadata):
        if key.startswith(_PREFIX) and key != _PREFIX + "checksum":
            h.update(json.dumps([key, metadata[key]]).encode("utf-8"))
    return "sha256:" + h.hexdigest()


def _user_value(key: Any, value: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"metadata keys must be strings; got {key!r}")
    if key.startswith(_PREFIX) or key == "__metadata__":
        raise ValueError(f"metadata key {key!r} is reserved (keys starting with {_PREFIX!r} are "
                         "bpcore's own)")
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        raise TypeError(f"metadata {key!r} must be a string or JSON-serialisable; got "
                        f"{type(value).__name__}") from None


def save(net: Network, path: Any, *, preprocessing: Preprocessing | None = None,
         **metadata: Any) -> None:
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
    from . import __version__
    from .network import Network
    from .preprocessing import Preprocessing

    if not isinstance(net, Network):
        raise TypeError(f"net must be a bpcore.Network; got {type(net).__name__}")
    path = as_path(path)
    if preprocessing is None:
        preprocessing = getattr(net, "preprocessing", None)
    if preprocessing is not None and not isinstance(preprocessing, Preprocessing):
        raise TypeError(f"preprocessing must be a bpcore.preprocessing.Preprocessing; got "
                        f"{type(preprocessing).__name__}")
    user = dict(getattr(net, "metadata", None) or {})
    user.update(metadata)
    meta = {k: _user_value(k, val) for k, val in user.items()}

    sizes, acts = net.sizes, net.activations
    dt = np.dtype(net.dtype)
    tensors: dict[str, np.ndarray] = {}
    alphas = net.alphas
    for l in range(1, net.n_layers + 1):
        tensors[f"W{l}"] = np.array(net.weights[l - 1], dtype=dt, copy=True)
        tensors[f"b{l}"] = np.array(net.biases[l - 1], dtype=dt, copy=True)
        if l in alphas:
            tensors[f"alpha{l}"] = np.array(alphas[l], dtype=dt, copy=True).reshape(())
    for name, arr in tensors.items():
        if not np.isfinite(arr).all():
            raise ValueError(f"the network's {name} holds NaN or infinite values; it cannot be saved")
    ours = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "version": __version__,
        "sizes": json.dumps(sizes),
        "activations": json.dumps(acts),
        "loss": net.loss_name,
        "dtype": dt.name,
        "init": net.init,
        "init_scale": repr(float(net.init_scale)),
        "seed": str(net.seed),
    }
    if preprocessing is not None:
        p = preprocessing
        if p.n_features is not None and p.n_features != sizes[0]:
            raise ValueError(f"preprocessing is for {p.n_features} features but the network takes "
                             f"{sizes[0]} inputs")
        if p.n_outputs is not None and p.n_outputs != sizes[-1]:
            raise ValueError(f"preprocessing expects {p.n_outputs} outputs but the network has "
                             f"{sizes[-1]}")
        ours["task"] = p.task
        ours["one_hot"] = "true" if p.one_hot else "false"
        if p.classes is not None:
            ours["classes"] = json.dumps(p.classes)
        if p.feature_names is not None:
            ours["feature_names"] = json.dumps(p.feature_names)
        if p.target is not None:
            ours["target"] = json.dumps(p.target)
        for name in ("mean", "scale", "target_mean", "target_scale"):
            value = getattr(p, name)
            if value is not None:
                tensors[f"preprocessing.{name}"] = np.asarray(value, dtype=np.float64)
    for k, val in ours.items():
        meta[_PREFIX + k] = val
    meta[_PREFIX + "checksum"] = _checksum(tensors, meta)
    save_tensors(path, tensors, meta)


def _json_meta(meta: Mapping[str, str], key: str, path: Any, default: Any = ...) -> Any:
    full = _PREFIX + key
    if full not in meta:
        if default is not ...:
            return default
        raise ModelFileError(f"metadata {full!r} is missing", path)
    try:
        return json.loads(meta[full])
    except (ValueError, RecursionError):
        raise ModelFileError(f"metadata {full!r} is not valid JSON: {meta[full]!r}", path) from None


def load(path: Any) -> Network:
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
    from . import __version__
    from .network import Network
    from .preprocessing import Preprocessing

    path = as_path(path)
    tensors, meta = load_tensors(path)
    fmt = meta.get(_PREFIX + "format")
    if fmt != FORMAT:
        raise ModelFileError(f"not a bpcore model file (metadata bpcore.format is {fmt!r}, "
                             f"expected {FORMAT!r})", path)
    version_text = meta.get(_PREFIX + "format_version", "")
    try:
        version = int(version_text)
    except ValueError:
        raise ModelFileError(f"format version {version_text!r} is not an integer", path) from None
    if version != FORMAT_VERSION:
        newer = " written by a newer bpcore; upgrade bpcore" if version > FORMAT_VERSION else ""
        raise ModelFileError(f"format version {version}{newer}; bpcore {__version__} reads "
                             f"version {FORMAT_VERSION}", path)
    sizes = _json_meta(meta, "sizes", path)
    acts = _json_meta(meta, "activations", path)
    if (not isinstance(sizes, list) or not all(_is_int(s) and s >= 1 for s in sizes)
            or len(sizes) < 2):
        raise ModelFileError(f"metadata bpcore.sizes must list at least two positive integers; "
                             f"got {sizes!r}", path)
    if not isinstance(acts, list) or len(acts) != len(sizes) - 1:
        raise ModelFileError(f"metadata bpcore.activations must list {len(sizes) - 1} names; got "
                             f"{acts!r}", path)
    # the network is allocated before its tensors are checked: bound it by what the file holds
    held = sum(t.size for t in tensors.values())
    needed = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    if needed > held:
        raise ModelFileError(f"metadata bpcore.sizes {sizes} describe {needed} weights and biases "
                             f"but the file holds {held} values (tampered or corrupted)", path)
    try:
        init_scale = float(meta.get(_PREFIX + "init_scale", "0.1"))
        seed = int(meta.get(_PREFIX + "seed", "0"))
        net = Network(sizes, acts[:-1] if len(acts) > 1 else "sigmoid", acts[-1],
                      meta.get(_PREFIX + "loss", ""), meta.get(_PREFIX + "dtype", ""),
                      meta.get(_PREFIX + "init", "small_uniform"), seed, init_scale)
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
            raise ModelFileError(f"the stored classes need {prep.n_outputs} outputs but the network "
                                 f"has {sizes[-1]}", path)
    for name in tensors:
        if name not in expected:
            raise ModelFileError(f"unexpected tensor {name!r} for a network of sizes {sizes}", path)
    for name, (shape, dtype) in expected.items():
        if name not in tensors:
            raise ModelFileError(f"tensor {name!r} is missing", path)
        arr = tensors[name]
        if arr.shape != shape:
            raise ModelFileError(f"tensor {name!r} has shape {list(arr.shape)}; sizes {sizes} "
                                 f"need {list(shape)}", path)
        if arr.dtype != dtype:
            raise ModelFileError(f"tensor {name!r} has dtype {arr.dtype.name}; expected "
                                 f"{dtype.name}", path)
    stored = meta.get(_PREFIX + "checksum")
    if stored is None:
        raise ModelFileError("metadata bpcore.checksum is missing", path)
    if stored != _checksum(tensors, meta):
        raise ModelFileError("checksum mismatch: the tensors or the bpcore metadata were changed "
                             "or corrupted after the file was written", path)
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
    return net
