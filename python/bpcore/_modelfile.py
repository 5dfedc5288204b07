"""Writing model files: safetensors encoding, the bpcore model layout and its checksum.

The file format is described in :mod:`bpcore.io`, which reads it. This module writes it, and
knows nothing of ``network.py`` (only the public attributes of a network), so that both
``Network.save`` and :func:`bpcore.io.save` can use it without an import cycle.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._atomic import PathLike, as_path, write_bytes
from ._validation import check_network
from ._version import __version__

if TYPE_CHECKING:
    from .network import Network
    from .preprocessing import Preprocessing

__all__ = [
    "DTYPES",
    "FORMAT",
    "FORMAT_VERSION",
    "PREFIX",
    "checksum",
    "dtype_name",
    "save_tensors",
    "write_network",
]

FORMAT = "bpcore-mlp"
FORMAT_VERSION = 1

# safetensors dtype → (item size, NumPy little-endian dtype or None when NumPy has no such type)
DTYPES: dict[str, tuple[int, str | None]] = {
    "BOOL": (1, "|b1"),
    "U8": (1, "|u1"),
    "I8": (1, "|i1"),
    "F8_E4M3": (1, None),
    "F8_E5M2": (1, None),
    "U16": (2, "<u2"),
    "I16": (2, "<i2"),
    "F16": (2, "<f2"),
    "BF16": (2, None),
    "U32": (4, "<u4"),
    "I32": (4, "<i4"),
    "F32": (4, "<f4"),
    "U64": (8, "<u8"),
    "I64": (8, "<i8"),
    "F64": (8, "<f8"),
}
_NAME_OF = {np.dtype(v[1]).str: k for k, v in DTYPES.items() if v[1] is not None}

PREFIX = "bpcore."


def dtype_name(arr: np.ndarray) -> str:
    dt = arr.dtype
    name = _NAME_OF.get(dt.str if dt.itemsize == 1 else dt.newbyteorder("<").str)
    if name is None:
        raise TypeError(f"arrays of dtype {dt} cannot be stored in safetensors")
    return name


def _encode(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name, arr in tensors.items():
        dtype = dtype_name(arr)
        data = np.ascontiguousarray(arr, dtype=np.dtype(DTYPES[dtype][1])).tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # keep the byte buffer 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def save_tensors(
    path: PathLike, tensors: Mapping[str, npt.ArrayLike], metadata: Mapping[str, str] | None = None
) -> None:
    """Write arrays and a str → str metadata map to a safetensors file, atomically."""
    path = as_path(path)
    meta = dict(metadata or {})
    for k, val in meta.items():
        if not isinstance(k, str) or not isinstance(val, str):
            raise TypeError(f"metadata must map str to str; got {k!r}: {val!r}")
    arrays = {}
    for name, arr in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(
                f"tensor names must be non-empty strings other than __metadata__; got {name!r}"
            )
        arrays[name] = np.asarray(arr)
    write_bytes(path, _encode(arrays, meta))


def checksum(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> str:
    """SHA-256 over the tensors (sorted by name) and the bpcore.* metadata but the checksum."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        dtype = dtype_name(arr)
        h.update(json.dumps([name, dtype, list(arr.shape)]).encode("utf-8"))
        h.update(np.ascontiguousarray(arr, dtype=np.dtype(DTYPES[dtype][1])).tobytes())
    for key in sorted(metadata):
        if key.startswith(PREFIX) and key != PREFIX + "checksum":
            h.update(json.dumps([key, metadata[key]]).encode("utf-8"))
    return "sha256:" + h.hexdigest()


def _user_value(key: object, value: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"metadata keys must be strings; got {key!r}")
    if key.startswith(PREFIX) or key == "__metadata__":
        raise ValueError(
            f"metadata key {key!r} is reserved (keys starting with {PREFIX!r} are bpcore's own)"
        )
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"metadata {key!r} must be a string or JSON-serialisable; got {type(value).__name__}"
        ) from None


def write_network(
    net: Network,
    path: PathLike,
    *,
    preprocessing: Preprocessing | None = None,
    training: Mapping[str, Any] | None = None,
    **metadata: object,
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
    training : dict, optional
        What resuming the training needs (a checkpoint, see
        :func:`bpcore.training.training_checkpoint`): the optimizer's moments ``m`` and ``s``
        (stored as the tensors ``training.m`` and ``training.s``) and, as the JSON metadata
        ``bpcore.training``, its kind, step count, the epoch count and the history so far; with
        early stopping, its state too (the best epoch's parameters as the tensor
        ``training.best_parameters``).
    **metadata
        Extra str → str entries (other values are stored as JSON). ``net.metadata`` from
        :func:`load` is kept; these entries are added on top.
    """
    from .preprocessing import Preprocessing

    check_network(net)
    path = as_path(path)
    suffix = os.path.splitext(os.fspath(path))[1]
    if suffix.lower() != ".safetensors":
        warnings.warn(
            f"{os.fspath(path)!r}: a bpcore model is always written in the safetensors format, "
            f"whatever the suffix ({suffix or 'none'} here); name it *.safetensors so that other "
            "tools recognise it (pickle is never used)",
            UserWarning,
            stacklevel=3,
        )
    if preprocessing is None:
        preprocessing = getattr(net, "preprocessing", None)
    if preprocessing is not None and not isinstance(preprocessing, Preprocessing):
        raise TypeError(
            f"preprocessing must be a bpcore.preprocessing.Preprocessing; got "
            f"{type(preprocessing).__name__}"
        )
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
            raise ValueError(
                f"the network's {name} holds NaN or infinite values; it cannot be saved"
            )
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
        "dropout": json.dumps(net.dropout),
    }
    if preprocessing is not None:
        p = preprocessing
        if p.n_features is not None and p.n_features != sizes[0]:
            raise ValueError(
                f"preprocessing is for {p.n_features} features but the network takes "
                f"{sizes[0]} inputs"
            )
        if p.n_outputs is not None and p.n_outputs != sizes[-1]:
            raise ValueError(
                f"preprocessing expects {p.n_outputs} outputs but the network has {sizes[-1]}"
            )
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
    if training is not None:
        record = {k: val for k, val in training.items() if k not in ("m", "s")}
        stopping = record.get("early_stopping")
        if stopping is not None:  # its best parameters are a tensor, the rest JSON
            best = stopping.get("best_parameters")
            record["early_stopping"] = {k: x for k, x in stopping.items() if k != "best_parameters"}
            if best is not None:
                tensors["training.best_parameters"] = np.array(best, dtype=dt, copy=True).ravel()
        ours["training"] = json.dumps(record)
        tensors["training.m"] = np.array(training["m"], dtype=dt, copy=True).reshape(-1)
        tensors["training.s"] = np.array(training["s"], dtype=dt, copy=True).reshape(-1)
    for k, val in ours.items():
        meta[PREFIX + k] = val
    meta[PREFIX + "checksum"] = checksum(tensors, meta)
    save_tensors(path, tensors, meta)
