"""Reading, normalising and writing DeepLabCut ``CollectedData_<scorer>.h5`` / ``.csv``
label files (the layout is described in :mod:`posekit.io.labels`, whose
:class:`~posekit.io.labels.LabelTable` is built on these helpers).
"""

from __future__ import annotations

import csv
import errno
import math
import numbers
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posekit.errors import LabelError, UnsafeFileError
from posekit.io.dataframes import object_multiindex
from posekit.io.hdf5 import read_pandas_hdf, write_pandas_hdf
from posekit.project.naming import collected_data_name
from posekit.utils.atomic import atomic_paths, remove_stale_temps

__all__ = [
    "COLUMN_NAMES",
    "H5_FORMAT",
    "H5_KEY",
    "ImageKey",
    "collected_data_paths",
    "read_label_dataframe",
]

ImageKey = tuple[str, str, str]
"""One labelled image: ``("labeled-data", "<video stem>", "img042.png")``."""

#: Column level names of a single-animal label table.
COLUMN_NAMES: tuple[str, str, str] = ("scorer", "bodyparts", "coords")
#: HDF key posekit writes (read by every DLC version and by napari-deeplabcut).
H5_KEY = "df_with_missing"
#: pandas HDF format posekit writes (what DLC >= 2.2.0.4 writes for labels).
H5_FORMAT = "fixed"

_H5_SUFFIXES = (".h5", ".hdf5", ".hdf")
_PREFERRED_H5_KEYS = ("/df_with_missing", "/keypoints")
_SEP = re.compile(r"[\\/]")


# --------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------


def collected_data_paths(folder: str | os.PathLike, scorer: str) -> tuple[Path, Path]:
    """Return the label file paths of one labeled-data folder.

    Parameters
    ----------
    folder
        A ``labeled-data/<video_stem>`` folder (need not exist).
    scorer
        The project's ``scorer`` (config.yaml).

    Returns
    -------
    tuple of pathlib.Path
        ``(folder / "CollectedData_<scorer>.h5", folder / "CollectedData_<scorer>.csv")``.
    """
    _check_scorer(scorer)
    folder = Path(folder)
    return folder / collected_data_name(scorer, ".h5"), folder / collected_data_name(scorer, ".csv")


def _check_scorer(scorer: Any) -> str:
    if not isinstance(scorer, str) or not scorer.strip():
        raise LabelError(f"scorer must be a non-empty string, got {scorer!r}.")
    return scorer


# --------------------------------------------------------------------------------------
# reading and normalising data frames
# --------------------------------------------------------------------------------------


def read_label_dataframe(path: str | os.PathLike) -> pd.DataFrame:
    """Read one ``CollectedData`` file into a normalised DLC-layout frame.

    Parameters
    ----------
    path
        A ``.h5`` file (any key, ``table`` or ``fixed`` format; DLC's ``df_with_missing``
        and napari-deeplabcut's ``keypoints`` are preferred when the file holds several
        objects) or a ``.csv`` file (3 header rows; string or 3-column row index).

    Returns
    -------
    pandas.DataFrame
        Rows: 3-level ``MultiIndex`` of ``(str, str, str)`` image keys (level names None,
        file order kept). Columns: 3-level ``MultiIndex`` named
        ``["scorer", "bodyparts", "coords"]``. Values: ``float64``, NaN where unlabelled.
        Index and column labels are object-dtype strings.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    LabelError
        If the file is not a single-animal label table (multi-animal files, wrong column
        levels, missing ``x``/``y`` coords, non-numeric or infinite values, bad row index).
        The message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "label file not found", str(path))
    if path.is_dir():
        raise LabelError(
            f"{path} is a folder; read_label_dataframe needs a CollectedData_<scorer>.h5 "
            "or .csv file (LabelTable.read accepts folders)."
        )
    suffix = path.suffix.lower()
    if suffix in _H5_SUFFIXES:
        frame = _read_h5(path)
    elif suffix == ".csv":
        frame = _read_csv(path)
    else:
        raise LabelError(
            f"{path}: unsupported label file type {path.suffix!r}; expected .h5 or .csv."
        )
    return _normalise_frame(frame, path)


def _read_h5(path: Path) -> pd.DataFrame:
    try:
        key, obj = read_pandas_hdf(path, _PREFERRED_H5_KEYS)
    except (UnsafeFileError, ImportError):
        raise
    except Exception as exc:  # h5py/PyTables raise many types for corrupt / non-HDF5 files
        raise LabelError(f"{path}: cannot read as a pandas HDF5 label file ({exc}).") from exc
    if not isinstance(obj, pd.DataFrame):
        raise LabelError(
            f"{path}: key {key!r} holds a {type(obj).__name__}, not a label DataFrame."
        )
    return obj


def _read_csv(path: Path) -> pd.DataFrame:
    # Parsed with the csv module rather than pd.read_csv: index cells stay verbatim
    # strings on every pandas version (pandas 2 turns a video stem '007' into 7), and
    # numbers are parsed with float(), which is correctly rounded (pandas 2's default
    # C parser can be 1 ulp off), so a csv written by to_csv reads back bit-identical.
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [row for row in csv.reader(fh) if any(cell.strip() for cell in row)]
    except UnicodeDecodeError as exc:
        raise LabelError(f"{path}: not a UTF-8 text file ({exc}).") from exc
    except csv.Error as exc:
        raise LabelError(f"{path}: malformed label CSV ({exc}).") from exc
    firsts = [row[0].strip() for row in rows[:4]]
    if "individuals" in firsts:
        raise LabelError(
            f"{path} is a multi-animal label file (it has an 'individuals' header row); "
            "multi-animal projects are not supported yet."
        )
    if firsts[:3] != list(COLUMN_NAMES):
        raise LabelError(
            f"{path}: wrong header; the first cells of the first three rows must read "
            f"'scorer', 'bodyparts', 'coords' (DLC layout), found {firsts[:3]}."
        )
    header, data = rows[:3], rows[3:]
    # Empty cells after the level name = extra row-index columns (tuple form).
    n_index = 1
    for cell in header[2][1:]:
        if cell.strip():
            break
        n_index += 1
    if n_index == 1 and data and data[0][0].strip() == "labeled-data":
        raise LabelError(
            f"{path}: wrong header; data rows start with a 3-part row index "
            "('labeled-data', <video>, <image>) but the header rows have no empty cells "
            "for it. Expected 'scorer,,,<scorer>,...'."
        )
    if n_index not in (1, 3):
        raise LabelError(
            f"{path}: wrong header; found {n_index} row-index columns, expected 1 "
            "('labeled-data/<video>/<image>') or 3 ('labeled-data', <video>, <image>)."
        )
    width = max(len(row) for row in header)
    if width <= n_index or any(len(row) != width for row in header):
        raise LabelError(
            f"{path}: wrong header; the scorer, bodyparts and coords rows must have the "
            "same number of cells and at least one data column."
        )
    columns = pd.MultiIndex.from_arrays(
        [[cell.strip() for cell in row[n_index:]] for row in header],
        names=list(COLUMN_NAMES),
    )
    index: list[Any] = []
    values: list[list[Any]] = []
    for line, row in enumerate(data, start=4):
        if len(row) != width:
            raise LabelError(
                f"{path}: data row {line} has {len(row)} cells, expected {width}."
            )
        key = tuple(row[:n_index])
        if not all(key):
            raise LabelError(f"{path}: data row {line} has an empty image name {key!r}.")
        index.append(key[0] if n_index == 1 else key)
        values.append([_csv_cell(cell) for cell in row[n_index:]])
    if n_index == 3:
        row_index: pd.Index = pd.MultiIndex.from_tuples(index) if index else pd.Index([])
    else:
        row_index = pd.Index(index, dtype=object)
    return pd.DataFrame(values, index=row_index, columns=columns, dtype=object)


_CSV_MISSING = frozenset({"", "nan", "NaN", "NAN", "-nan", "-NaN", "NA", "N/A", "n/a", "<NA>"})


def _csv_cell(cell: str) -> Any:
    cell = cell.strip()
    return np.nan if cell in _CSV_MISSING else cell


def _normalise_frame(frame: Any, source: os.PathLike | str) -> pd.DataFrame:
    """Validate a DLC-layout label frame and return it in canonical form."""
    if not isinstance(frame, pd.DataFrame):
        raise LabelError(f"{source}: expected a pandas DataFrame, got {type(frame).__name__}.")
    columns = _normalise_columns(frame.columns, source)
    index = _normalise_rows(frame.index, source)
    values = _to_float(frame, source)
    return pd.DataFrame(values, index=object_multiindex(index, nlevels=3), columns=columns)


def _normalise_columns(columns: pd.Index, source: os.PathLike | str) -> pd.MultiIndex:
    names = list(columns.names)
    if "individuals" in names:
        raise LabelError(
            f"{source} is a multi-animal label table (it has an 'individuals' column "
            "level); multi-animal projects are not supported yet."
        )
    if not isinstance(columns, pd.MultiIndex) or columns.nlevels != 3:
        raise LabelError(
            f"{source}: wrong column levels {names}; a single-animal label table has 3 "
            "column levels named scorer, bodyparts, coords."
        )
    if names != list(COLUMN_NAMES) and names != [None, None, None]:
        raise LabelError(
            f"{source}: wrong column level names {names}; expected "
            f"{list(COLUMN_NAMES)}."
        )
    tuples: list[tuple[str, str, str]] = []
    for position, col in enumerate(columns):
        labels = []
        for level, value in zip(COLUMN_NAMES, col, strict=True):
            if not isinstance(value, str) or not value.strip() or value.startswith("Unnamed: "):
                raise LabelError(
                    f"{source}: data column {position + 1} has an empty or invalid "
                    f"{level} label {value!r}."
                )
            labels.append(str(value))
        tuples.append((labels[0], labels[1], labels[2]))
    coords = {t[2] for t in tuples}
    extra = sorted(coords - {"x", "y"})
    if extra:
        hint = (
            " This looks like a predictions / machinelabels file, not human labels."
            if "likelihood" in extra
            else ""
        )
        raise LabelError(
            f"{source}: unexpected coords {extra}; label tables have only x and y.{hint}"
        )
    seen = set(tuples)
    dupes = sorted(t for t, n in Counter(tuples).items() if n > 1)
    if dupes:
        raise LabelError(f"{source}: duplicated columns {dupes}.")
    for scorer, bodypart in dict.fromkeys((t[0], t[1]) for t in tuples):
        for coord in ("x", "y"):
            if (scorer, bodypart, coord) not in seen:
                raise LabelError(
                    f"{source}: bodypart {bodypart!r} (scorer {scorer!r}) is missing its "
                    f"{coord!r} coords column; every bodypart needs both x and y."
                )
    return object_multiindex(tuples, names=list(COLUMN_NAMES))


def _normalise_rows(index: pd.Index, source: os.PathLike | str) -> list[ImageKey]:
    if len(index) == 0:
        return []
    keys: list[ImageKey] = []
    if isinstance(index, pd.MultiIndex):
        if index.nlevels != 3:
            raise LabelError(
                f"{source}: the row index has {index.nlevels} levels; expected 3 "
                "('labeled-data', <video>, <image>) or one 'labeled-data/<video>/<image>'."
            )
        for row, entry in enumerate(index):
            parts = []
            for value in entry:
                if isinstance(value, str) and value:
                    parts.append(str(value))
                elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
                    parts.append(str(value))  # DLC forces a numeric video stem to str
                else:
                    raise LabelError(
                        f"{source}: row {row + 1} has an invalid image key {entry!r}."
                    )
            keys.append((parts[0], parts[1], parts[2]))
        return keys
    for row, entry in enumerate(index):
        if not isinstance(entry, str):
            raise LabelError(
                f"{source}: row {row + 1} has row label {entry!r}; label rows must be image "
                "paths like 'labeled-data/<video>/img042.png'."
            )
        parts = _SEP.split(entry)
        if len(parts) != 3 or not all(parts):
            raise LabelError(
                f"{source}: row {row + 1} has image path {entry!r}; expected "
                "'labeled-data/<video>/<image>' (3 parts separated by '/' or '\\')."
            )
        keys.append((parts[0], parts[1], parts[2]))
    return keys


def _to_float(frame: pd.DataFrame, source: os.PathLike | str) -> np.ndarray:
    shape = frame.shape
    numeric = all(
        pd.api.types.is_float_dtype(dt)
        or (pd.api.types.is_integer_dtype(dt) and not pd.api.types.is_bool_dtype(dt))
        for dt in frame.dtypes
    )
    if numeric:
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        raw = frame.astype(object).to_numpy()
        values = np.empty(shape, dtype=np.float64)
        for (i, j), cell in np.ndenumerate(raw):
            if cell is None or (isinstance(cell, float) and math.isnan(cell)):
                values[i, j] = np.nan
                continue
            try:
                if isinstance(cell, (bool, np.bool_)):
                    raise TypeError
                values[i, j] = float(cell.strip() if isinstance(cell, str) else cell)
            except (TypeError, ValueError):
                raise LabelError(
                    f"{source}: non-numeric value {cell!r} at row {frame.index[i]!r}, "
                    f"column {frame.columns[j]!r}; coordinates must be numbers (empty = "
                    "not labelled)."
                ) from None
    bad = np.isinf(values)
    if bad.any():
        i, j = (int(k[0]) for k in np.nonzero(bad))
        raise LabelError(
            f"{source}: infinite value at row {frame.index[i]!r}, column "
            f"{frame.columns[j]!r}; leave unlabelled points empty (NaN)."
        )
    return values


# --------------------------------------------------------------------------------------
# file helpers
# --------------------------------------------------------------------------------------


def _resolve_label_files(path: Path, scorer: str | None) -> tuple[Path, Path | None]:
    """Return ``(file to read, its .h5/.csv companion if present)``.

    Temporary files that killed saves left beside the pair are removed on the way.
    """
    primary, companion = _find_label_files(path, scorer)
    for suffix in (".h5", ".csv"):
        remove_stale_temps(primary.with_suffix(suffix))
    return primary, companion


def _find_label_files(path: Path, scorer: str | None) -> tuple[Path, Path | None]:
    if path.is_dir():
        h5s = sorted(path.glob("CollectedData_*.h5"))
        csvs = sorted(path.glob("CollectedData_*.csv"))
        preferred_h5 = preferred_csv = None
        if scorer is not None:
            preferred_h5, preferred_csv = collected_data_paths(path, scorer)
        for found, preferred in ((h5s, preferred_h5), (csvs, preferred_csv)):
            if preferred is not None and preferred.is_file():
                chosen = preferred
            elif len(found) == 1:
                chosen = found[0]
            elif found:
                raise LabelError(
                    f"{path} holds several label files {[p.name for p in found]}; pass "
                    "scorer= to choose CollectedData_<scorer>, or remove the extra files."
                )
            else:
                continue
            other = chosen.with_suffix(".csv" if chosen.suffix == ".h5" else ".h5")
            return chosen, (other if other.is_file() else None)
        raise FileNotFoundError(
            errno.ENOENT, "no CollectedData_<scorer>.h5 or .csv label file in folder", str(path)
        )
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "label file not found", str(path))
    suffix = path.suffix.lower()
    if suffix in _H5_SUFFIXES:
        other = path.with_suffix(".csv")
    elif suffix == ".csv":
        other = path.with_suffix(".h5")
    else:
        return path, None
    return path, (other if other.is_file() else None)


def _write_label_files(frame: pd.DataFrame, h5_path: Path, csv_path: Path) -> None:
    """Write ``frame`` to ``h5_path`` and ``csv_path`` as one atomic pair.

    Both temporary files are written and fsynced before the h5 is renamed into place,
    then the csv, so the two can disagree only if the process dies between two renames.
    """
    with atomic_paths([h5_path, csv_path]) as (tmp_h5, tmp_csv):
        _write_h5(frame, tmp_h5)
        _write_csv(frame, tmp_csv)


def _write_h5(frame: pd.DataFrame, path: Path) -> None:
    write_pandas_hdf(frame, path, H5_KEY, H5_FORMAT)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path)
