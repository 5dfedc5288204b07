"""Atomic file writes: a temporary file in the target's directory, fsync, then ``os.replace``.

A crash or an exception while writing never leaves a half-written file under the final name, and
a file that already exists there is kept intact until the new one is complete.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Union

__all__ = ["PathLike", "as_path", "atomic_write", "write_bytes", "write_text"]

#: What the file functions accept as a path (anything else raises TypeError).
PathLike = Union[str, "os.PathLike[str]"]

_umask_lock = threading.Lock()


def as_path(path: object, name: str = "path") -> Path:
    """``path`` as a :class:`~pathlib.Path`; TypeError naming ``name`` for anything else."""
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        if str(p) in ("", "."):
            raise ValueError(f"{name} must name a file; got {str(path)!r}")
        return p
    raise TypeError(f"{name} must be a str or os.PathLike file path; got {type(path).__name__}")


def _default_mode() -> int:
    # The mode a plain open() would give a new file: 0o666 minus the process umask.
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(
    path: PathLike, mode: str = "wb", encoding: str | None = None, newline: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on a clean exit it replaces ``path`` atomically.

    The parent directory must exist. On any exception the temporary file is removed and an
    existing ``path`` is left untouched.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w'; got {mode!r}")
    target = as_path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(
            f"directory {str(directory)!r} does not exist (writing {str(target)!r})"
        )
    if target.is_dir():
        raise IsADirectoryError(f"{str(target)!r} is a directory, not a file")
    try:
        keep_mode = target.stat().st_mode & 0o7777
    except OSError:
        keep_mode = _default_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        if mode == "w":
            f = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline=newline)
        else:
            f = os.fdopen(fd, "wb")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, keep_mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as f:
        f.write(data)


def write_text(path: PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (line endings as given)."""
    with atomic_write(path, "w", newline="") as f:
        f.write(text)
