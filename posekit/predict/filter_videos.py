"""``filterpredictions``: filter the analyses of videos into ``<stem><scorer>_filtered.h5``.

The maths is in :mod:`posekit.predict.filtering`; this module reads one
analysis file (:func:`filter_analysis_file`), filters its poses and writes the
result beside it with the same index and columns, in DeepLabCut's layout
(``table`` format, key ``df_with_missing``, plus ``.csv`` on request), so
every DeepLabCut tool that reads ``_filtered.h5`` reads it. Plotting verbs
use it with ``filtered=True``.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from posekit.predict.filtering import FILTERS, filter_predictions
from posekit.predict.results import (
    current_scorer,
    filtered_path,
    find_analysis_file,
    poses_from_dataframe,
    read_poses,
    write_poses,
)
from posekit.project.project import Project, list_videos

__all__ = ["FilterReport", "filter_analysis_file", "filterpredictions"]


@dataclass
class FilterReport:
    """What ``filterpredictions`` wrote.

    Attributes
    ----------
    filtertype : str
        The filter used.
    params : dict
        The filter's parameters as applied.
    filtered : dict of Path to Path
        Per video filtered now, its ``<stem><scorer>_filtered.h5``.
    skipped : dict of Path to Path
        Per video already filtered (left as it was), its filtered file.
    csv : list of Path
        The ``_filtered.csv`` files written (``save_as_csv``).
    failed : dict of Path to str
        Per video whose task failed on a Dask cluster, why (a local run raises instead).
    """

    filtertype: str
    params: dict[str, Any]
    filtered: dict[Path, Path] = field(default_factory=dict)
    skipped: dict[Path, Path] = field(default_factory=dict)
    csv: list[Path] = field(default_factory=list)
    failed: dict[Path, str] = field(default_factory=dict)

    @property
    def written(self) -> list[Path]:
        """Every file written: the ``.h5`` files, then the ``.csv`` files."""
        return [*self.filtered.values(), *self.csv]


def filter_analysis_file(
    analysis_h5: str | os.PathLike,
    filtertype: str = "median",
    save_as_csv: bool = True,
    **params: Any,
) -> tuple[Path, Path | None]:
    """Filter one analysis file into ``<stem><scorer>_filtered.h5`` beside it.

    Parameters
    ----------
    analysis_h5
        ``<stem><scorer>.h5`` written by ``analyze_videos`` (or DeepLabCut).
    filtertype
        See :func:`~posekit.predict.filtering.filter_predictions`.
    save_as_csv
        Also write ``<stem><scorer>_filtered.csv``.
    **params
        The filter's parameters.

    Returns
    -------
    (h5 path, csv path or None)
        An existing filtered file is replaced (atomically).

    Raises
    ------
    FileNotFoundError
        If ``analysis_h5`` does not exist.
    posekit.errors.AnalysisFileError, posekit.errors.UnsafeFileError
        If it cannot be read safely (see :func:`~posekit.predict.results.read_poses`).
    ValueError
        If it is not a single-animal prediction table, or for bad filter parameters.
    """
    analysis_h5 = Path(analysis_h5)
    frame = read_poses(analysis_h5)
    try:
        poses, _bodyparts, _scorer = poses_from_dataframe(frame)
    except ValueError as exc:
        raise ValueError(f"'{analysis_h5}' cannot be filtered: {exc}") from None
    filtered = filter_predictions(poses, filtertype, **params)
    out = pd.DataFrame(filtered.reshape(len(frame), -1), index=frame.index, columns=frame.columns)
    target = filtered_path(analysis_h5)
    stale_csv = target.with_suffix(".csv")
    if not save_as_csv and stale_csv.is_file():
        warnings.warn(f"'{stale_csv.name}' is from an earlier filterpredictions run and no longer "
                      f"matches '{target.name}'; pass save_as_csv=True to rewrite it.", stacklevel=2)
    return write_poses(out, target, h5_format="table", csv=bool(save_as_csv))


def filterpredictions(
    config: str | os.PathLike | Project,
    video: str | os.PathLike | Iterable[str | os.PathLike],
    videotype: str = "",
    shuffle: int = 1,
    trainingsetindex: int = 0,
    filtertype: str = "median",
    windowlength: int = 5,
    p_bound: float = 0.001,
    ARdegree: int = 3,
    MAdegree: int = 1,
    alpha: float = 0.01,
    save_as_csv: bool = True,
    destfolder: str | os.PathLike | None = None,
    modelprefix: str = "",
    track_method: str = "",
    *,
    measurement_noise: float | None = None,
    process_noise: float | None = None,
    overwrite: bool = False,
    client: Any = None,
) -> FilterReport:
    """Filter the predictions of analysed videos (DeepLabCut's ``filterpredictions``).

    For each video, its analysis ``<stem><scorer>.h5`` (found as by
    ``create_labeled_video``) is filtered into ``<stem><scorer>_filtered.h5``
    (and ``.csv``) beside it, with the same index and columns. A video whose
    filtered file exists is skipped, as in DeepLabCut (``overwrite=True`` filters
    it again). Use them with ``create_labeled_video(...,
    filtered=True)`` and ``plot_trajectories(..., filtered=True)``.

    Parameters
    ----------
    config
        Project ``config.yaml`` (or an open Project).
    video
        Video files, folders of videos, or project video stems.
    videotype
        Only videos with this suffix (e.g. ``".mp4"``); ``""``: every video.
    shuffle, trainingsetindex
        Which network's analysis to filter.
    filtertype
        ``"median"`` (default), ``"arima"``, ``"spline"`` or ``"kalman"`` (see
        :mod:`posekit.predict.filtering`).
    windowlength
        ``median``: the window (odd number of frames). ``spline`` and
        ``kalman``: the longest gap to fill, in frames (``<= 0``: any).
    p_bound
        ``arima`` and ``kalman``: likelihood below which a detection is missing.
    ARdegree, MAdegree, alpha
        ``arima``: the ARMA orders and the prediction-interval level.
    save_as_csv
        Also write ``_filtered.csv``.
    destfolder
        Folder holding the analyses (default: each video's folder); the
        filtered files go beside them.
    modelprefix, track_method
        DeepLabCut's; only the defaults are supported (one model folder, single animal).
    measurement_noise, process_noise
        ``kalman``: detection noise in px at likelihood 1, and acceleration
        noise; estimated from the data when None.
    overwrite
        Filter again videos that have a filtered file.
    client
        A ``dask.distributed.Client``: filter on its cluster, one task per video
        (the workers read and write the analyses at the same paths: a shared
        filesystem). A video that fails is reported in ``failed`` and the others go on.

    Returns
    -------
    FilterReport
        The files written, and those skipped (and failed, with ``client``).

    Raises
    ------
    FileNotFoundError
        If a video or its analysis is missing (run ``analyze_videos`` first);
        every video is checked before any is filtered.
    ValueError
        For an unknown ``filtertype``, a bad parameter, or no video of ``videotype``.
    """
    if modelprefix:
        raise ValueError(f"modelprefix={modelprefix!r} is not supported: posekit reads models from "
                         "the project's dlc-models/ folder; pass the shuffle= of the network instead.")
    if track_method:
        raise ValueError(f"track_method={track_method!r} is not supported: posekit analyses single-animal "
                         "projects; leave track_method empty.")
    if filtertype not in FILTERS:
        raise ValueError(f"Unknown filtertype {filtertype!r}; choose one of "
                         f"{', '.join(repr(f) for f in FILTERS)}.")
    params = {"windowlength": windowlength, "p_bound": p_bound, "ARdegree": ARdegree,
              "MAdegree": MAdegree, "alpha": alpha, "measurement_noise": measurement_noise,
              "process_noise": process_noise}
    params = {k: v for k, v in params.items() if k in FILTERS[filtertype][1]}
    project = Project.open(config)
    paths = list_videos(video, project=project, required=True)
    if videotype:
        suffix = videotype.lower() if videotype.startswith(".") else f".{videotype.lower()}"
        paths = [p for p in paths if p.suffix.lower() == suffix]
        if not paths:
            raise ValueError(f"No video with suffix {suffix!r} in {video!r}; check videotype.")
    scorer = current_scorer(project, shuffle, trainingsetindex)
    analyses = {v: find_analysis_file(v, shuffle, destfolder, scorer) for v in paths}  # fail early
    report = FilterReport(filtertype=filtertype, params=params)
    jobs, replaced = {}, set()
    for video_path, h5 in analyses.items():
        existing = filtered_path(h5)
        if existing.exists() and not overwrite:  # DeepLabCut skips a video already filtered
            print(f"'{h5.name}' is already filtered ('{existing.name}'); skipped (overwrite=True filters again).")
            report.skipped[video_path] = existing
            continue
        if existing.exists():
            replaced.add(video_path)
        jobs[video_path] = functools.partial(filter_analysis_file, h5, filtertype, save_as_csv, **params)
    if client is None:  # one at a time, each reported as it is written
        written: Iterable = ((video_path, job()) for video_path, job in jobs.items())
    else:
        from posekit.predict.distributed import map_videos

        results, report.failed = map_videos(client, jobs, "filterpredictions")
        written = results.items()
    for video_path, (out_h5, out_csv) in written:
        report.filtered[video_path] = out_h5
        if out_csv is not None:
            report.csv.append(out_csv)
        print(f"Filtered ({filtertype}) '{analyses[video_path].name}' -> '{out_h5}'"
              + (" (replaced)." if video_path in replaced else "."))
    return report
