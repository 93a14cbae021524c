"""Prediction files in DeepLabCut's layout: analysis ``.h5``/``.csv``, JSON metadata.

This module is the only place that writes, finds and reads the files that
``analyze_videos`` and ``evaluate_network`` produce (format spec sections 9
and 10; the names come from :mod:`posekit.project.naming`). Every verb that
reads an analysis finds it with :func:`find_analysis_file` (one strictness
rule) and reads it with :func:`read_analysis` (one crop-offset rule,
:attr:`Analysis.offset`):

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
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posekit.errors import AnalysisFileError, UnsafeFileError
from posekit.io.dataframes import object_multiindex
from posekit.io.hdf5 import read_pandas_hdf, write_pandas_hdf
from posekit.project.naming import (
    SCORER_PREFIXES,
    analysis_stem,
    filtered_name,
    glob_escape,
    meta_name,
    shuffle_of_scorer,
    unfiltered_stem,
)
from posekit.project.project import Project
from posekit.utils.atomic import atomic_path, atomic_write_text

__all__ = [
    "COORDS",
    "H5_KEY",
    "Analysis",
    "AnalysisPaths",
    "analysis_paths",
    "analysis_stem",
    "current_scorer",
    "filtered_path",
    "find_analysis_file",
    "pose_columns",
    "poses_from_dataframe",
    "poses_to_dataframe",
    "read_analysis",
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


def analysis_paths(
    video: str | os.PathLike, scorer: str, destfolder: str | os.PathLike | None = None
) -> AnalysisPaths:
    """Where the analysis of ``video`` by ``scorer`` goes (``destfolder`` or beside the video)."""
    video = Path(video)
    folder = Path(destfolder) if destfolder is not None else video.parent
    stem = analysis_stem(video, scorer)
    return AnalysisPaths(
        h5=folder / f"{stem}.h5", csv=folder / f"{stem}.csv", meta=folder / meta_name(stem)
    )


def filtered_path(analysis_h5: str | os.PathLike) -> Path:
    """``<stem><scorer>_filtered.h5`` beside an analysis file (``filterpredictions``' output)."""
    analysis_h5 = Path(analysis_h5)
    return analysis_h5.with_name(filtered_name(analysis_h5.name))


# --------------------------------------------------------------------------- #
# Finding and reading an analysis: the one rule of every verb that reads one
# --------------------------------------------------------------------------- #


@dataclass
class Analysis:
    """One ``analyze_videos`` result, as dense arrays.

    Attributes
    ----------
    path : Path
        The ``<stem><scorer>.h5`` file.
    scorer : str
        The scorer (network) name.
    bodyparts : list of str
        Body parts in the file's column order.
    xy : numpy.ndarray
        (n_frames, J, 2) float64 x, y as stored (crop-relative when the
        analysis was cropped). Frames missing from the file's index are NaN.
    likelihood : numpy.ndarray
        (n_frames, J) float64; NaN for missing frames.
    cropping : bool
        Whether the analysis ran on cropped frames.
    crop : tuple of int or None
        ``(x1, x2, y1, y2)`` when ``cropping``.
    meta : dict
        The metadata read beside the file (``{}`` when there is none).
    """

    path: Path
    scorer: str
    bodyparts: list[str]
    xy: np.ndarray
    likelihood: np.ndarray
    cropping: bool = False
    crop: tuple[int, int, int, int] | None = None
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_frames(self) -> int:
        """Rows of the arrays (last frame number in the file + 1)."""
        return len(self.xy)

    @property
    def offset(self) -> tuple[int, int]:
        """``(x1, y1)`` to add to stored coordinates for full-frame pixels.

        The one place the analysis crop offset is decided (DeepLabCut 2.3 adds
        it before looking for outliers and when drawing the full frame).
        """
        if self.cropping and self.crop is not None:
            return self.crop[0], self.crop[2]
        return 0, 0

    @property
    def full_frame_xy(self) -> np.ndarray:
        """(n_frames, J, 2) x, y in full-frame pixels (:attr:`offset` added)."""
        return self.xy + np.asarray(self.offset, dtype=np.float64)

    def full_frame_poses(self) -> np.ndarray:
        """(n_frames, J, 3) x, y (full-frame pixels), likelihood."""
        return np.concatenate([self.full_frame_xy, self.likelihood[..., None]], axis=-1)


def read_analysis(path: str | os.PathLike) -> Analysis:
    """Read an analysis ``.h5`` (DeepLabCut layout) and its crop metadata.

    Parameters
    ----------
    path
        ``<stem><scorer>.h5`` (key ``df_with_missing`` or the file's only key;
        columns ``scorer/bodyparts/coords`` with ``x, y, likelihood``; index =
        frame number), read with :mod:`posekit.predict.results`.

    Returns
    -------
    Analysis

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a single-animal analysis table.

    Notes
    -----
    Crop metadata comes from ``<stem><scorer>_meta.json`` (what posekit's
    ``analyze_videos`` writes). posekit does not unpickle DeepLabCut's
    ``_meta.pickle``; when only that exists a warning says the crop offset is
    unknown and none is applied.
    """
    path = Path(path)
    frame = read_poses(path)
    poses, bodyparts, scorer = poses_from_dataframe(frame)
    index = np.asarray(frame.index, dtype=np.int64)
    if len(index) and index.min() < 0:
        raise ValueError(f"'{path}' has negative frame numbers in its index.")
    n = int(index.max()) + 1 if len(index) else 0
    xy = np.full((n, len(bodyparts), 2), np.nan)
    likelihood = np.full((n, len(bodyparts)), np.nan)
    xy[index] = poses[..., :2]
    likelihood[index] = poses[..., 2]
    # a filtered file's metadata (crop) is its analysis's: <stem><scorer>_meta.json
    meta_json = path.with_name(meta_name(unfiltered_stem(path.stem)))
    meta: dict[str, Any] = {}
    if meta_json.is_file():
        meta = dict(read_metadata(meta_json))
    elif meta_json.with_suffix(".pickle").is_file():
        warnings.warn(
            f"'{path.name}' has DeepLabCut's _meta.pickle but no _meta.json; posekit does not "
            "unpickle files, so any analysis crop is unknown and no offset is applied. If "
            "the video was analysed cropped, re-run posekit.analyze_videos.", stacklevel=3)
    cropping = bool(meta.get("cropping", False))
    crop = None
    if cropping:
        params = meta.get("cropping_parameters")
        try:
            x1, x2, y1, y2 = (round(float(v)) for v in params)
        except (TypeError, ValueError):
            raise ValueError(f"The metadata of '{path}' says the analysis was cropped but its "
                             f"cropping_parameters are {params!r}, not [x1, x2, y1, y2].") from None
        crop = (x1, x2, y1, y2)
    return Analysis(path=path, scorer=scorer, bodyparts=bodyparts, xy=xy,
                    likelihood=likelihood, cropping=cropping, crop=crop, meta=meta)


def current_scorer(config: str | os.PathLike | Project, shuffle: int = 1,
                   trainingsetindex: int = 0) -> str | None:
    """:func:`~posekit.predict.predictor.snapshot_scorer`, or None if the shuffle is untrained."""
    from posekit.predict.predictor import snapshot_scorer
    from posekit.train.snapshots import list_snapshots

    project = Project.open(config)
    train_dir = project.model_dir(project.training_fraction(trainingsetindex), shuffle) / "train"
    if not list_snapshots(train_dir):
        return None
    return snapshot_scorer(project, shuffle, trainingsetindex)


def find_analysis_file(
    video: str | os.PathLike,
    shuffle: int = 1,
    destfolder: str | os.PathLike | None = None,
    scorer: str | None = None,
    filtered: bool = False,
) -> Path:
    """The ``analyze_videos`` output of ``video`` (or its ``filterpredictions`` output).

    Looks in ``destfolder`` (default: the video's folder) for
    ``<stem><scorer>.h5``. With ``scorer`` (the current snapshot's, see
    :func:`current_scorer`) that exact file wins. Otherwise, or when it is
    missing, any ``<stem>DLC_*.h5`` (or legacy ``DeepCut*``) of the same
    ``shuffle`` is taken, the most recently written one if there are several,
    with a warning saying which (``_filtered`` files are never picked).
    With ``filtered``, that analysis's ``<stem><scorer>_filtered.h5`` is returned.

    Raises
    ------
    FileNotFoundError
        If there is no analysis of this video and shuffle; the message says to
        run ``analyze_videos``. With ``filtered``, also if the analysis has no
        filtered file; the message says to run ``filterpredictions``.
    """
    if filtered:
        analysis = find_analysis_file(video, shuffle, destfolder, scorer)
        path = filtered_path(analysis)
        if not path.is_file():
            raise FileNotFoundError(
                f"No filtered analysis of video '{video}': '{path.name}' does not exist in "
                f"'{path.parent}'. Run posekit.filterpredictions(config, ['{video}'], shuffle={shuffle}"
                + (f", destfolder='{destfolder}'" if destfolder is not None else "")
                + ") first, or pass filtered=False.")
        return path
    video = Path(video)
    folder = Path(destfolder) if destfolder is not None else video.parent
    stem = video.stem
    if scorer:
        preferred = analysis_paths(video, scorer, destfolder).h5
        if preferred.is_file():
            return preferred
    found = sorted({
        p for prefix in SCORER_PREFIXES for p in folder.glob(f"{glob_escape(stem)}{prefix}*.h5")
        if p.is_file() and unfiltered_stem(p.stem) == p.stem
    })
    same = [p for p in found if shuffle_of_scorer(p.stem[len(stem):]) in (shuffle, None)]
    if not same:
        wanted = f"'{stem}{scorer}.h5'" if scorer else f"'{stem}DLC_*shuffle{shuffle}_*.h5'"
        others = ""
        if found:
            others = (" Analyses of other shuffles are there: "
                      + ", ".join(p.name for p in found) + "; pass their shuffle= to use them.")
        raise FileNotFoundError(
            f"No analysis of video '{video}' found in '{folder}' (looked for {wanted}).{others} "
            f"Run posekit.analyze_videos(config, ['{video}'], shuffle={shuffle}"
            + (f", destfolder='{folder}'" if destfolder is not None else "")
            + ") first.")
    chosen = max(same, key=lambda p: (p.stat().st_mtime, p.name))
    if scorer:
        warnings.warn(
            f"No analysis of '{video.name}' by the current snapshot ({scorer}) in '{folder}'; "
            f"using '{chosen.name}' (another snapshot's analysis). Run posekit.analyze_videos "
            "to analyse it with the current one.", stacklevel=2)
    elif len(same) > 1:
        warnings.warn(
            f"{len(same)} analyses of '{video.name}' for shuffle {shuffle} in '{folder}' "
            f"({', '.join(p.name for p in same)}); using the newest, '{chosen.name}'.",
            stacklevel=2)
    return chosen


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
