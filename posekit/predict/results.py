"""Prediction files in DeepLabCut's layout: analysis ``.h5``/``.csv``, JSON metadata.

This module is the only place that names, writes and reads the files that
``analyze_videos`` and ``evaluate_network`` produce (format spec sections 9
and 10):

* ``<video stem><scorer>.h5``: one DataFrame under key ``df_with_missing``,
  pandas ``table`` format (what DeepLabCut's analysis writes), columns a
  3-level MultiIndex ``scorer / bodyparts / coords`` with coords ``x, y,
  likelihood``, float64 values, index = frame number ``0..n-1``;
* ``<video stem><scorer>.csv``: ``DataFrame.to_csv`` of the same frame (three
  header rows whose first cell names the level);
* ``<video stem><scorer>_meta.json``: the fields of DeepLabCut's
  ``_meta.pickle`` (``{"data": {...}}``) as JSON. posekit never writes or reads
  pickles.

Every file is written atomically (temporary file, then rename), so an
interrupted run never leaves a half-written result that would be mistaken for
a finished analysis.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posekit.errors import AnalysisFileError, UnsafeFileError
from posekit.io.dataframes import object_multiindex
from posekit.io.hdf5 import read_pandas_hdf, write_pandas_hdf
from posekit.utils.atomic import atomic_path, atomic_write_text

__all__ = [
    "COORDS",
    "H5_KEY",
    "AnalysisPaths",
    "analysis_paths",
    "filtered_path",
    "pose_columns",
    "poses_from_dataframe",
    "poses_to_dataframe",
    "read_metadata",
    "read_poses",
    "write_metadata",
    "write_poses",
]

#: HDF key of every prediction file (DeepLabCut's; read by every version and by movement).
H5_KEY = "df_with_missing"
#: Coordinates stored per body part, in order.
COORDS: tuple[str, str, str] = ("x", "y", "likelihood")
#: Column level names.
COLUMN_NAMES: tuple[str, str, str] = ("scorer", "bodyparts", "coords")


def pose_columns(scorer: str, bodyparts: Sequence[str]) -> pd.MultiIndex:
    """``MultiIndex.from_product([[scorer], bodyparts, ["x", "y", "likelihood"]])``, named."""
    return object_multiindex(
        [(scorer, bp, c) for bp in bodyparts for c in COORDS], names=COLUMN_NAMES
    )


def poses_to_dataframe(
    poses: np.ndarray,
    scorer: str,
    bodyparts: Sequence[str],
    index: pd.Index | Sequence[Any] | None = None,
) -> pd.DataFrame:
    """DeepLabCut's prediction DataFrame from an ``(n, J, 3)`` array.

    Parameters
    ----------
    poses
        ``(n, J, 3)``: x, y, likelihood per frame and body part.
    scorer
        The network's scorer name (top column level).
    bodyparts
        The ``J`` body part names.
    index
        Row index (default: frame numbers ``0..n-1``).

    Returns
    -------
    pandas.DataFrame
        float64 values, columns :func:`pose_columns`.
    """
    poses = np.asarray(poses)
    if poses.ndim != 3 or poses.shape[1:] != (len(bodyparts), 3):
        raise ValueError(
            f"poses must have shape (n, {len(bodyparts)}, 3) for {len(bodyparts)} body "
            f"parts, got {poses.shape}."
        )
    n = poses.shape[0]
    values = poses.reshape(n, 3 * len(bodyparts)).astype(np.float64)
    if index is None:
        index = pd.RangeIndex(n)
    return pd.DataFrame(values, index=index, columns=pose_columns(scorer, bodyparts))


def poses_from_dataframe(frame: pd.DataFrame) -> tuple[np.ndarray, list[str], str]:
    """``(poses (n, J, 3), bodyparts, scorer)`` back from a prediction DataFrame."""
    columns = frame.columns
    if not isinstance(columns, pd.MultiIndex) or columns.nlevels != 3:
        raise ValueError(
            "Not a single-animal DeepLabCut prediction table: expected 3 column levels "
            f"scorer/bodyparts/coords, got {list(columns.names)}."
        )
    scorer = str(columns.get_level_values(0)[0])
    bodyparts = list(dict.fromkeys(str(b) for b in columns.get_level_values(1)))
    coords = [str(c) for c in columns.get_level_values(2)[:3]]
    if coords != list(COORDS) or len(columns) != 3 * len(bodyparts):
        raise ValueError(
            f"Expected coords {list(COORDS)} for each body part, got {coords} "
            f"({len(columns)} columns for {len(bodyparts)} body parts)."
        )
    values = frame.to_numpy(dtype=np.float64)
    return values.reshape(len(frame), len(bodyparts), 3), bodyparts, scorer


# --------------------------------------------------------------------------- #
# Writing and reading
# --------------------------------------------------------------------------- #


def write_poses(
    frame: pd.DataFrame,
    h5_path: str | os.PathLike,
    *,
    h5_format: str = "table",
    csv: bool | str | os.PathLike = False,
) -> tuple[Path, Path | None]:
    """Write a prediction DataFrame to ``.h5`` (and optionally ``.csv``), atomically.

    Parameters
    ----------
    frame
        From :func:`poses_to_dataframe`.
    h5_path
        Target ``.h5``; it holds exactly one object, key ``df_with_missing``.
    h5_format
        ``"table"`` (DeepLabCut's analysis files) or ``"fixed"`` (its evaluation files).
    csv
        True writes ``<h5 stem>.csv`` beside it; a path writes there.

    Returns
    -------
    (h5 path, csv path or None)
    """
    h5_path = Path(h5_path)
    csv_path = None
    if csv:
        csv_path = h5_path.with_suffix(".csv") if csv is True else Path(csv)
    with atomic_path(h5_path) as tmp:
        write_pandas_hdf(frame, tmp, H5_KEY, h5_format)
    if csv_path is not None:
        with atomic_path(csv_path) as tmp:
            frame.to_csv(tmp)
    return h5_path, csv_path


def read_poses(path: str | os.PathLike) -> pd.DataFrame:
    """Read a prediction file (``.h5`` any key or format, or ``.csv``) as a DataFrame.

    For ``.h5`` the only key is read (``df_with_missing`` is preferred when a
    file holds several). A ``.csv`` with three header rows gets frame-number
    rows (an analysis file) or, when it has three index columns, the
    ``labeled-data/<stem>/<image>`` rows of an evaluation file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    posekit.errors.UnsafeFileError
        If the ``.h5`` holds pickled objects that could run code (nothing is read).
    posekit.errors.AnalysisFileError
        If the ``.h5`` is truncated, corrupt or not a prediction table; the message
        names the file and says how to re-create it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Prediction file '{path}' does not exist.")
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8") as fh:
            fh.readline()
            fh.readline()
            fh.readline()
            first = fh.readline().split(",")
        index_cols = [0, 1, 2] if first and first[0] == "labeled-data" else 0
        return pd.read_csv(path, header=[0, 1, 2], index_col=index_cols)
    try:
        _key, frame = read_pandas_hdf(path, ("/" + H5_KEY,))
    except UnsafeFileError:
        raise
    except Exception as exc:  # h5py/PyTables raise many types for truncated or corrupt files
        raise AnalysisFileError(
            f"'{path}' cannot be read ({type(exc).__name__}: {exc}); it may be truncated or "
            "corrupt, e.g. by an interrupted run. If it is an analysis file, re-create it with "
            "posekit.analyze_videos(config, [video], overwrite=True)."
        ) from exc
    if not isinstance(frame, pd.DataFrame):
        raise AnalysisFileError(f"'{path}' holds a {type(frame).__name__}, not a prediction table.")
    return frame


@dataclass(frozen=True)
class AnalysisPaths:
    """The files of one video's analysis (DeepLabCut's names)."""

    h5: Path
    csv: Path
    meta: Path


def analysis_stem(video: str | os.PathLike, scorer: str) -> str:
    """``<video stem><scorer>`` (no separator, as DeepLabCut)."""
    return f"{Path(video).stem}{scorer}"


def analysis_paths(
    video: str | os.PathLike, scorer: str, destfolder: str | os.PathLike | None = None
) -> AnalysisPaths:
    """Where the analysis of ``video`` by ``scorer`` goes (``destfolder`` or beside the video)."""
    video = Path(video)
    folder = Path(destfolder) if destfolder is not None else video.parent
    stem = analysis_stem(video, scorer)
    return AnalysisPaths(
        h5=folder / f"{stem}.h5", csv=folder / f"{stem}.csv", meta=folder / f"{stem}_meta.json"
    )


def filtered_path(analysis_h5: str | os.PathLike) -> Path:
    """``<stem><scorer>_filtered.h5`` beside an analysis file (``filterpredictions``' output)."""
    analysis_h5 = Path(analysis_h5)
    return analysis_h5.with_name(f"{analysis_h5.stem}_filtered.h5")


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, paths and tuples into JSON types (NaN -> null)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_metadata(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    """Write ``{"data": data}`` as indented JSON (DeepLabCut's ``_meta`` layout), atomically."""
    path = Path(path)
    atomic_write_text(path, json.dumps({"data": _jsonable(data)}, indent=1) + "\n")
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``data`` dict of a ``_meta.json`` file."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return doc.get("data", doc)
