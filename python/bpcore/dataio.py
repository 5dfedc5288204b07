"""Reading data: CSV files (target column by name or index), ``.npy`` and ``.npz`` arrays, and the
built-in data sets of :mod:`bpcore.datasets`.

Every reader returns a :class:`Table` of raw features X (n, d), float64, and raw targets y: class
labels (strings or numbers) or regression values. Standardisation and encoding are the job of
:class:`bpcore.preprocessing.Preprocessing`. Nothing here reaches the network, and no file is
unpickled (``allow_pickle=False``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import datasets
from ._atomic import PathLike

if TYPE_CHECKING:
    from .preprocessing import Preprocessing

__all__ = [
    "BUILTIN_DATASETS",
    "FILE_SUFFIXES",
    "Table",
    "is_builtin",
    "load_for_model",
    "load_table",
    "read_csv",
    "read_npy",
    "read_npz",
]

BUILTIN_DATASETS = ("iris", "xor", "moons", "sine")
FILE_SUFFIXES = (".csv", ".npy", ".npz")


@dataclass
class Table:
    """Raw data read from a source.

    Attributes
    ----------
    X : ndarray of shape (n, d), float64
    y : ndarray of shape (n,) or (n, q), or None
        Labels (str or numeric) or values; None when the source has no target column.
    feature_names : list of str or None
    target : str or int or None
        Name (or index) of the target column in the source.
    source : str
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str] | None
    target: str | int | None
    source: str

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])


def is_builtin(source: object) -> bool:
    """True for the names of the built-in data sets (iris, xor, moons, sine)."""
    return isinstance(source, str) and source in BUILTIN_DATASETS


def _suffix(source: PathLike) -> str:
    return Path(os.fspath(source)).suffix.lower()


def load_table(
    source: PathLike,
    *,
    target: str | int | None = -1,
    features: Sequence[str | int] | None = None,
    header: bool | str = "auto",
    delimiter: str = ",",
    n_samples: int | None = None,
    noise: float | None = None,
    seed: int = 0,
) -> Table:
    """Read a built-in data set by name, or a ``.csv``, ``.npy`` or ``.npz`` file.

    Parameters
    ----------
    source : str or path
        ``"iris"``, ``"xor"``, ``"moons"``, ``"sine"``, or a file path ending in .csv, .npy, .npz.
    target : str, int or None
        The target column: a name (CSV with a header) or an index (negative counts from the end);
        None when the data have no target. Ignored by ``.npz`` (arrays ``X`` and ``y``) and the
        built-in sets.
    features : sequence of str or int, optional
        The feature columns; default every column but the target.
    header : bool or "auto"
        Whether the first CSV row names the columns. ``"auto"``: it does when it holds a
        non-number in a column whose next row holds a number, or holds no number at all.
    delimiter : str
        CSV cell separator.
    n_samples, noise, seed
        Of the generators (xor: ``n_samples`` a multiple of 4, default 4).
    """
    if is_builtin(source):
        return _builtin(source, n_samples, noise, seed)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"data source must be a file path or one of {', '.join(BUILTIN_DATASETS)}; "
            f"got {source!r}"
        )
    suffix = _suffix(source)
    if suffix == ".csv":
        return read_csv(
            source, target=target, features=features, header=header, delimiter=delimiter
        )
    if suffix == ".npy":
        return read_npy(source, target=target, features=features)
    if suffix == ".npz":
        return read_npz(source)
    raise ValueError(
        f"data source must be one of {', '.join(BUILTIN_DATASETS)} or a file ending in "
        f"{', '.join(FILE_SUFFIXES)}; got {os.fspath(source)!r}"
    )


# ---------------------------------------------------------------------- built-in sets
def _builtin(name: str, n_samples: int | None, noise: float | None, seed: int) -> Table:
    if name == "iris":
        if n_samples is not None or noise is not None:
            raise ValueError(
                "n_samples and noise apply to the generated data sets (xor, moons, "
                "sine), not to iris"
            )
        ds = datasets.load_iris()
        y = np.asarray(ds.target_names)[ds.y]
        return Table(ds.X, y, list(ds.feature_names), "species", "iris")
    kwargs: dict[str, Any] = {"seed": seed}
    if noise is not None:
        kwargs["noise"] = noise
    if name == "xor":
        if n_samples is not None:
            if n_samples % 4:
                raise ValueError(f"n_samples of xor must be a multiple of 4; got {n_samples}")
            kwargs["n_repeats"] = n_samples // 4
        ds = datasets.make_xor(**kwargs)
    else:
        if n_samples is not None:
            kwargs["n_samples"] = n_samples
        ds = datasets.make_moons(**kwargs) if name == "moons" else datasets.make_sine(**kwargs)
    target = "y" if name != "sine" else "sin(x)"
    return Table(np.asarray(ds.X, dtype=np.float64), ds.y, list(ds.feature_names), target, name)


# ---------------------------------------------------------------------- CSV
def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _read_cells(
    path: PathLike, delimiter: str, header: bool | str
) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"delimiter must be a single character; got {delimiter!r}")
    if header not in (True, False, "auto"):
        raise ValueError(f"header must be true, false or 'auto'; got {header!r}")
    p = Path(os.fspath(path))
    if not p.is_file():
        raise FileNotFoundError(f"data file {str(p)!r} does not exist")
    rows: list[tuple[int, list[str]]] = []
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                rows.append((reader.line_num, [c.strip() for c in row]))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{str(p)!r} is not a UTF-8 text file: {exc.reason}") from None
    except csv.Error as exc:
        raise ValueError(f"{str(p)!r} is not a valid CSV file: {exc}") from None
    if not rows:
        raise ValueError(f"{str(p)!r} holds no data rows")
    width = len(rows[0][1])
    for line, row in rows:
        if len(row) != width:
            raise ValueError(
                f"{str(p)!r} line {line} has {len(row)} cells; the first row has "
                f"{width} (delimiter {delimiter!r})"
            )
    if header == "auto":
        first = rows[0][1]
        if len(rows) > 1:
            second = rows[1][1]
            header = any(not _is_number(a) and _is_number(b) for a, b in zip(first, second))
        else:
            header = False
        header = header or not any(_is_number(c) for c in first)
    names = None
    if header:
        names = rows[0][1]
        rows = rows[1:]
        if not rows:
            raise ValueError(f"{str(p)!r} has a header but no data rows")
        if len(set(names)) != len(names):
            raise ValueError(f"{str(p)!r} has repeated column names in its header: {names}")
    return names, rows


def _column(spec: str | int, names: list[str] | None, ncols: int, what: str, source: str) -> int:
    if isinstance(spec, bool) or not isinstance(spec, (str, int, np.integer)):
        raise TypeError(f"{what} must be a column name or index; got {spec!r}")
    if isinstance(spec, str):
        if names is None:
            raise ValueError(
                f"{what} {spec!r} is a column name but {source!r} has no header row; "
                "give a column index instead"
            )
        if spec not in names:
            raise ValueError(
                f"{what} {spec!r} is not a column of {source!r}; its columns are {', '.join(names)}"
            )
        return names.index(spec)
    idx = int(spec)
    if not -ncols <= idx < ncols:
        raise ValueError(f"{what} {idx} is out of range: {source!r} has {ncols} columns")
    return idx % ncols


def _select(
    names: list[str] | None,
    ncols: int,
    target: str | int | None,
    features: Sequence[str | int] | None,
    source: str,
) -> tuple[list[int], int | None]:
    t = None if target is None else _column(target, names, ncols, "target", source)
    if features is None:
        f_idx = [j for j in range(ncols) if j != t]
    else:
        if isinstance(features, (str, bytes)) or not hasattr(features, "__iter__"):
            raise TypeError(f"features must be a list of column names or indices; got {features!r}")
        f_idx = [_column(f, names, ncols, "feature", source) for f in features]
        if len(set(f_idx)) != len(f_idx):
            raise ValueError(f"features lists a column twice: {list(features)}")
        if t is not None and t in f_idx:
            raise ValueError(f"the target column {target!r} is also listed in features")
    if not f_idx:
        raise ValueError(f"{source!r} has no feature column besides the target")
    return f_idx, t


def _table_from_cells(
    names: list[str] | None,
    rows: list[tuple[int, list[str]]],
    f_idx: list[int],
    t: int | None,
    source: str,
) -> Table:
    n = len(rows)
    X = np.empty((n, len(f_idx)), dtype=np.float64)
    col_name = (lambda j: repr(names[j])) if names else (lambda j: str(j))
    for i, (line, row) in enumerate(rows):
        for k, j in enumerate(f_idx):
            cell = row[j]
            try:
                value = float(cell)
            except ValueError:
                what = "empty" if not cell else f"{cell!r}, not a number"
                raise ValueError(
                    f"{source!r} line {line}, column {col_name(j)}: {what}; feature "
                    "columns must be numeric"
                ) from None
            if not np.isfinite(value):
                raise ValueError(
                    f"{source!r} line {line}, column {col_name(j)}: {cell!r}; NaN and "
                    "infinite values are not allowed"
                )
            X[i, k] = value
    y = None
    if t is not None:
        cells = [row[t] for _, row in rows]
        for (line, _), cell in zip(rows, cells):
            if not cell:
                raise ValueError(
                    f"{source!r} line {line}: the target column {col_name(t)} is empty"
                )
        if all(_is_number(c) for c in cells):
            y = np.array([float(c) for c in cells])
            if not np.isfinite(y).all():
                bad = int(np.flatnonzero(~np.isfinite(y))[0])
                raise ValueError(
                    f"{source!r} line {rows[bad][0]}: the target is {cells[bad]!r}; NaN "
                    "and infinite values are not allowed"
                )
        else:
            y = np.array(cells, dtype=str)
    feature_names = [names[j] for j in f_idx] if names else None
    target = (names[t] if names else t) if t is not None else None
    return Table(X, y, feature_names, target, source)


def read_csv(
    path: PathLike,
    *,
    target: str | int | None = -1,
    features: Sequence[str | int] | None = None,
    header: bool | str = "auto",
    delimiter: str = ",",
) -> Table:
    """Read a CSV file: numeric feature columns and a target column (by name or index).

    A target column of numbers gives float labels or values; any other text gives string labels.
    Errors name the file, line and column of the first bad cell.
    """
    source = os.fspath(path)
    names, rows = _read_cells(path, delimiter, header)
    f_idx, t = _select(names, len(rows[0][1]), target, features, source)
    return _table_from_cells(names, rows, f_idx, t, source)


# ---------------------------------------------------------------------- NumPy files
def _load_numpy(path: PathLike) -> np.ndarray | np.lib.npyio.NpzFile:
    p = Path(os.fspath(path))
    if not p.is_file():
        raise FileNotFoundError(f"data file {str(p)!r} does not exist")
    try:
        return np.load(p, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(
            f"{str(p)!r} could not be read as a NumPy file without pickle: {exc}"
        ) from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"{str(p)!r} is not a valid NumPy file: {exc}") from None


def _numeric(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{what} must be numeric; got dtype {arr.dtype}")
    out = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(out).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
        raise ValueError(
            f"{what} contains {out[where]} at index {where}; NaN and infinite values "
            "are not allowed"
        )
    return out


def read_npy(
    path: PathLike, *, target: int | None = -1, features: Sequence[int] | None = None
) -> Table:
    """Read a 2-D ``.npy`` array (n, columns); ``target`` is the index of the target column."""
    source = os.fspath(path)
    arr = _load_numpy(path)
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{source!r} is not a .npy array file")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(
            f"{source!r} must hold a non-empty 2-D array (samples × columns); got shape {arr.shape}"
        )
    if isinstance(target, str) or (
        features is not None and any(isinstance(f, str) for f in features)
    ):
        raise ValueError(f"{source!r} is a .npy array: give target and features as column indices")
    arr = _numeric(arr, source)
    f_idx, t = _select(None, arr.shape[1], target, features, source)
    y = None if t is None else arr[:, t].copy()
    return Table(np.ascontiguousarray(arr[:, f_idx]), y, None, t, source)


def read_npz(path: PathLike) -> Table:
    """Read a ``.npz`` archive with an array ``X`` (n, d) and, optionally, ``y`` (n,) or (n, q)."""
    source = os.fspath(path)
    archive = _load_numpy(path)
    if isinstance(archive, np.ndarray):
        raise ValueError(f"{source!r} is a .npy array, not a .npz archive")
    with archive:
        keys = set(archive.files)
        if "X" not in keys:
            raise ValueError(
                f"{source!r} must hold an array named 'X' (and 'y' for targets); it "
                f"holds {', '.join(sorted(keys)) or 'nothing'}"
            )
        try:
            X = archive["X"]
            y = archive["y"] if "y" in keys else None
        except ValueError as exc:
            raise ValueError(f"{source!r} could not be read without pickle: {exc}") from None
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X in {source!r} must be a non-empty 2-D array; got shape {X.shape}")
    X = _numeric(X, f"X in {source!r}")
    if y is not None:
        if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
            raise ValueError(
                f"y in {source!r} must have {X.shape[0]} rows like X; got shape {y.shape}"
            )
        if y.dtype.kind not in "US":
            y = _numeric(y, f"y in {source!r}")
    return Table(np.ascontiguousarray(X), y, None, "y" if y is not None else None, source)


# ---------------------------------------------------------------------- data for a trained model
def load_for_model(
    source: PathLike,
    preprocessing: Preprocessing | None,
    n_features: int,
    *,
    need_target: bool,
    header: bool | str = "auto",
    delimiter: str = ",",
) -> Table:
    """Read data for a trained model with d = ``n_features`` inputs.

    A CSV with a header whose columns include the model's feature names gives those columns (and
    the model's target column when present). Otherwise a file with d columns holds features only,
    and one with d + 1 columns also holds the target, at the model's target index (default: the
    last column).
    """
    d = int(n_features)
    prep = preprocessing
    if is_builtin(source) or _suffix(source) == ".npz":
        table = load_table(source)
        if table.n_features != d:
            raise ValueError(f"{source!r} has {table.n_features} features; the model expects {d}")
    elif _suffix(source) in (".csv", ".npy"):
        if _suffix(source) == ".csv":
            names, rows = _read_cells(source, delimiter, header)
            ncols = len(rows[0][1])
        else:
            arr = read_npy(source, target=None)
            names, ncols = None, arr.n_features
        src = os.fspath(source)
        known = prep.feature_names if prep is not None else None
        target_spec = prep.target if prep is not None else None
        f_idx: list[int]
        t: int | None = None
        if names is not None and known and all(f in names for f in known):
            f_idx = [names.index(f) for f in known]
            t = _try_column(target_spec, names, ncols)
            if t is not None and t in f_idx:
                t = None
        elif ncols == d:
            f_idx = list(range(d))
        elif ncols == d + 1:
            t = _try_column(target_spec, names, ncols)
            if t is None:
                t = ncols - 1
            f_idx = [j for j in range(ncols) if j != t]
        else:
            raise ValueError(
                f"{src!r} has {ncols} columns; the model needs its {d} feature columns "
                f"(or {d + 1} with the target column)"
            )
        if _suffix(source) == ".csv":
            table = _table_from_cells(names, rows, f_idx, t, src)
        else:
            table = read_npy(source, target=t, features=f_idx)
    else:
        table = load_table(source)  # raises the message about accepted sources
    if need_target and table.y is None:
        hint = (
            f" (the model's target column is {prep.target!r})"
            if prep and prep.target is not None
            else ""
        )
        raise ValueError(
            f"{os.fspath(source)!r} has no target column{hint}; evaluating needs the targets"
        )
    return table


def _try_column(spec: str | int | None, names: list[str] | None, ncols: int) -> int | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        return names.index(spec) if names is not None and spec in names else None
    return spec % ncols if -ncols <= spec < ncols else None
