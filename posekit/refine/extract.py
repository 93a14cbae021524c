"""``extract_outlier_frames``: find frames where the network fails, extract them with its labels.

Two stages, so a notebook can show what was found before anything is written:

1. :func:`find_outliers` reads each video's analysis (``<stem><scorer>.h5``,
   written by ``analyze_videos``; found by
   :func:`~posekit.predict.results.find_analysis_file`: the current snapshot's,
   else the newest of the shuffle with a warning), adds the analysis crop
   offset (DeepLabCut 2.3, :attr:`~posekit.predict.results.Analysis.offset`),
   and scores the frames within config ``start``/``stop`` with one detector
   of :mod:`posekit.refine.outliers`. Nothing is written.
2. :func:`extract_candidates` thins the candidates to ``numframes2pick``
   (uniform or k-means, shared with ``extract_frames``), adds the video to the
   project if needed, saves the frames as ``labeled-data/<stem>/img<idx>.png``
   (existing images are never overwritten, and frames already extracted are not
   picked again) and the network's predictions for them in
   ``machinelabels-iter<N>.h5`` / ``machinelabels.csv`` (merged with an
   existing file, its rows first).

The predictions come from the analysis file (what DeepLabCut does), so no
network is loaded; the network's scorer only names that file.

Deliberate differences from DeepLabCut 2.3: candidates are frame numbers for
every detector (DeepLabCut's ``fitting`` returns positions within the
start/stop slice); frames that already have an image are not picked again;
images are named with the video's frame count (as ``extract_frames``), not
the length of the start/stop slice; and when config ``cropping`` is true the
saved frames are cropped with the video's ``video_sets`` box *and* the machine
labels are shifted into that box, so labels always match their image.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.frames.selection import (
    downsample,
    frame_range,
    kmeans_indices,
    uniform_indices,
)
from posekit.predict.predictor import snapshot_scorer
from posekit.predict.results import find_analysis_file, read_analysis
from posekit.project.project import (
    Project,
    frame_filename,
    frame_index_from_name,
    list_videos,
    video_stem,
)
from posekit.refine.machinelabels import (
    MachineLabels,
    machinelabels_csv_path,
    machinelabels_path,
)
from posekit.refine.outliers import (
    ALGORITHMS,
    DETECTORS,
    OutlierScores,
    check_algorithm,
    detect_outliers,
    select_bodyparts,
)
from posekit.viz.style import PlotStyle

__all__ = [
    "EXTRACTION_ALGORITHMS",
    "OutlierCandidates",
    "OutlierExtraction",
    "OutlierSearch",
    "ensure_project_video",
    "extract_candidates",
    "find_outlier_candidates",
    "find_outliers",
    "outlier_videos",
]

EXTRACTION_ALGORITHMS = ("kmeans", "uniform")
#: Up to this many candidates are read one by one for k-means; more are decoded in one pass.
_RANDOM_READS_MAX = 64


# --------------------------------------------------------------------------- #
# Stage 1: candidates
# --------------------------------------------------------------------------- #


@dataclass
class OutlierSearch:
    """The outlier candidates of one video (nothing written yet).

    Attributes
    ----------
    stem, video : str, Path
        The video.
    analysis : Path
        The analysis ``.h5`` the predictions come from.
    scorer : str
        The network's scorer.
    bodyparts : list of str
        The network's body parts (all of them; ``compared`` are the ones scored).
    compared : list of str
        ``comparisonbodyparts``.
    poses : numpy.ndarray
        (n, J, 3) predictions in full-frame pixels (crop offset added).
    first : int
        Frame number of ``scores.score[0]`` (config ``start``).
    scores : OutlierScores or None
        The detector's per-frame scores (None for ``list``).
    candidates : numpy.ndarray
        Outlier frame numbers within start/stop.
    already_extracted : list of int
        Candidates that already have an image in ``labeled-data/<stem>`` (not picked again).
    parameters : dict
        The detection parameters (for display).
    """

    stem: str
    video: Path
    analysis: Path
    scorer: str
    bodyparts: list[str]
    compared: list[str]
    poses: np.ndarray = field(repr=False)
    first: int
    scores: OutlierScores | None
    candidates: np.ndarray
    already_extracted: list[int]
    parameters: dict[str, Any]

    @property
    def new_candidates(self) -> np.ndarray:
        """Candidates without an image yet: what extraction picks from."""
        done = set(self.already_extracted)
        return np.asarray([c for c in self.candidates if int(c) not in done], dtype=np.int64)

    def summary(self) -> str:
        return (
            f"{self.stem}: {len(self.candidates)} outlier frame(s) by "
            f"'{self.parameters['outlieralgorithm']}' out of {len(self.poses)}"
            + (f" ({len(self.already_extracted)} already extracted)" if self.already_extracted else "")
        )


def _existing_frames(project: Project, stem: str) -> set[int]:
    return {frame_index_from_name(p.name) for p in project.frame_images(stem)}


def find_outliers(
    config: str | os.PathLike | Project,
    videos: Sequence[str | os.PathLike],
    shuffle: int = 1,
    trainingsetindex: int = 0,
    outlieralgorithm: str = "jump",
    comparisonbodyparts: str | Sequence[str] = "all",
    epsilon: float = 20,
    p_bound: float = 0.01,
    ARdegree: int = 3,
    MAdegree: int = 1,
    alpha: float = 0.01,
    destfolder: str | os.PathLike | None = None,
    frames2use: Sequence[int] | None = None,
    scorer: str | None = None,
    n_jobs: int | None = None,
) -> list[OutlierSearch]:
    """Stage 1 of ``extract_outlier_frames``: the outlier candidates of each video.

    Parameters are those of :func:`extract_outlier_frames`; ``scorer``
    overrides the network scorer (default: :func:`snapshot_scorer`) and
    ``n_jobs`` the worker processes of ``fitting``.

    Raises
    ------
    ValueError
        For an unknown algorithm or body part (the message lists the valid ones).
    FileNotFoundError
        For a missing video or analysis file (the message says what to run).
    """
    check_algorithm(outlieralgorithm, (*DETECTORS, "list"))
    if outlieralgorithm == "list" and frames2use is None:
        raise ValueError("outlieralgorithm='list' needs frames2use=[frame numbers].")
    project = Project.open(config)
    scorer = scorer or snapshot_scorer(project, shuffle, trainingsetindex)
    parameters = {
        "outlieralgorithm": outlieralgorithm,
        "comparisonbodyparts": comparisonbodyparts,
        "epsilon": epsilon,
        "p_bound": p_bound,
        "ARdegree": ARdegree,
        "MAdegree": MAdegree,
        "alpha": alpha,
        "numframes2pick": project.cfg["numframes2pick"],
        "start": project.cfg["start"],
        "stop": project.cfg["stop"],
    }
    searches = []
    for video in (Path(v) for v in videos):
        if not video.is_file():
            raise FileNotFoundError(f"Video '{video}' does not exist.")
        h5 = find_analysis_file(video, shuffle, destfolder, scorer)
        analysis = read_analysis(h5)
        poses, bodyparts = analysis.full_frame_poses(), analysis.bodyparts
        parts = select_bodyparts(bodyparts, comparisonbodyparts)
        n = len(poses)
        first, last = frame_range(n, project.cfg["start"], project.cfg["stop"])
        if outlieralgorithm == "list":
            frames = np.unique(np.asarray(list(frames2use), dtype=np.int64))
            bad = frames[(frames < 0) | (frames >= n)]
            if len(bad):
                raise ValueError(
                    f"frames2use holds {bad.tolist()}, outside the {n} analysed frames of "
                    f"'{video.name}' (0..{n - 1})."
                )
            scores, candidates = None, frames
        else:
            scores = detect_outliers(
                poses[first:last][:, parts],
                outlieralgorithm,
                epsilon=epsilon,
                p_bound=p_bound,
                ARdegree=ARdegree,
                MAdegree=MAdegree,
                alpha=alpha,
                n_min=2 * int(project.cfg["numframes2pick"]),
                n_jobs=n_jobs,
            )
            candidates = scores.candidates + first
        stem = video_stem(str(video))
        existing = _existing_frames(project, stem) if stem in project.video_stems() else set()
        searches.append(
            OutlierSearch(
                stem=stem,
                video=video,
                analysis=h5,
                scorer=analysis.scorer,  # the file's: another snapshot's when it fell back
                bodyparts=bodyparts,
                compared=[bodyparts[j] for j in parts],
                poses=poses,
                first=first,
                scores=scores,
                candidates=np.asarray(candidates, dtype=np.int64),
                already_extracted=sorted(int(c) for c in candidates if int(c) in existing),
                parameters=parameters,
            )
        )
    return searches


# --------------------------------------------------------------------------- #
# Stage 2: extraction
# --------------------------------------------------------------------------- #


@dataclass
class OutlierExtraction:
    """What extraction did for one video.

    Attributes
    ----------
    stem, video
        The video.
    picked : list of int
        Frame numbers chosen among the candidates.
    written : list of Path
        New images.
    machinelabels : Path or None
        The machinelabels ``.h5`` (None when nothing was picked).
    added_video : bool
        Whether the video was added to the project.
    """

    stem: str
    video: Path
    picked: list[int] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    labeled: list[Path] = field(default_factory=list)
    machinelabels: Path | None = None
    added_video: bool = False

    def summary(self) -> str:
        if not self.picked:
            return f"{self.stem}: no new frame to extract."
        return (
            f"{self.stem}: extracted {len(self.written)} frame(s) "
            f"({', '.join(str(i) for i in self.picked[:12])}{' ...' if len(self.picked) > 12 else ''}) "
            f"with machine labels in {self.machinelabels.name}"
        )


def ensure_project_video(project: Project, video: Path) -> bool:
    """Add ``video`` to the project unless a video of that stem is there; True if added."""
    from posekit.project.create import add_new_videos

    if video_stem(str(video)) in project.video_stems():
        return False
    coords = None
    if project.cfg.get("cropping"):
        # DeepLabCut adds the video with the analysis crop box as its crop.
        coords = [[project.cfg[k] for k in ("x1", "x2", "y1", "y2")]]
    add_new_videos(project.config_path, [video], coords=coords)
    project.reload()
    return True


def _pick(
    reader,
    candidates: np.ndarray,
    n_pick: int,
    algorithm: str,
    resize_width: int,
    color: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    if len(candidates) <= n_pick:
        return np.sort(candidates)
    if algorithm == "uniform":
        return uniform_indices(candidates, n_pick, rng)
    wanted = {int(c) for c in candidates}
    features = {}
    if len(candidates) <= _RANDOM_READS_MAX:
        for c in candidates:
            features[int(c)] = downsample(reader.read(int(c)), resize_width, color)
    else:
        for index, frame in reader.iter_frames(int(candidates.min()), int(candidates.max()) + 1):
            if index in wanted:
                features[index] = downsample(frame, resize_width, color)
    indices = sorted(features)
    return kmeans_indices(indices, [features[i] for i in indices], n_pick, rng)


def extract_candidates(
    config: str | os.PathLike | Project,
    search: OutlierSearch,
    extractionalgorithm: str = "kmeans",
    cluster_resizewidth: int = 30,
    cluster_color: bool = False,
    savelabeled: bool = False,
    seed: int | None = None,
) -> OutlierExtraction:
    """Stage 2 of ``extract_outlier_frames`` for one video (see the module docstring).

    Raises
    ------
    ValueError
        For an unknown extraction algorithm.
    """
    from posekit.io.images import write_png
    from posekit.io.video import VideoReader

    if extractionalgorithm not in EXTRACTION_ALGORITHMS:
        raise ValueError(
            f"extractionalgorithm={extractionalgorithm!r} is not known; use one of "
            f"{list(EXTRACTION_ALGORITHMS)}."
        )
    project = Project.open(config)
    rng = np.random.default_rng(seed)
    added = ensure_project_video(project, search.video)
    stem = search.stem
    result = OutlierExtraction(stem=stem, video=search.video, added_video=added)
    folder = project.labeled_folder(stem)
    folder.mkdir(parents=True, exist_ok=True)
    existing = _existing_frames(project, stem)
    candidates = np.asarray([c for c in search.candidates if int(c) not in existing], np.int64)
    with VideoReader(search.video) as probe:
        width, height = probe.full_width, probe.full_height
    box = project.checked_crop_box(stem, width, height) if project.cfg.get("cropping") else None
    with VideoReader(search.video, crop=box) as reader:
        n_frames = reader.n_frames
        beyond = candidates[candidates >= n_frames]
        if len(beyond):
            warnings.warn(
                f"The analysis of '{search.video.name}' has {len(search.poses)} frames but the "
                f"video decodes {n_frames}; candidates {beyond.tolist()[:5]} are left out.",
                stacklevel=2,
            )
            candidates = candidates[candidates < n_frames]
        n_pick = int(project.cfg["numframes2pick"])
        picked = _pick(
            reader, candidates, n_pick, extractionalgorithm, cluster_resizewidth, cluster_color, rng
        )
        if not len(picked):
            return result
        offset = np.array([box[0], box[2]], dtype=np.float64) if box else np.zeros(2)
        new = MachineLabels(search.scorer, list(search.bodyparts))
        style = PlotStyle.from_config(project.cfg)
        colors = None
        for index in (int(i) for i in picked):
            name = frame_filename(index, n_frames)
            path = folder / name
            frame = None
            if not path.exists():
                frame = reader.read(index)
                result.written.append(write_png(path, frame))
            pose = search.poses[index].copy()
            pose[:, :2] -= offset  # image coordinates of the saved (cropped) frame
            new.rows[("labeled-data", stem, name)] = pose
            result.picked.append(index)
            if savelabeled:
                if frame is None:
                    frame = reader.read(index)
                colors = colors if colors is not None else style.colors(len(search.bodyparts))
                result.labeled.append(
                    write_png(folder / name.replace(".png", "labeled.png"),
                              _draw(style, frame, pose, colors))
                )
    h5 = machinelabels_path(project, stem)
    merged = MachineLabels.read(h5).merge(new) if h5.is_file() else new
    merged.save(h5, machinelabels_csv_path(project, stem))
    result.machinelabels = h5
    return result


def _draw(style: PlotStyle, frame: np.ndarray, pose: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """The frame with the predictions above ``pcutoff`` drawn (``savelabeled``)."""
    from posekit.viz.draw import draw_pose

    points = pose[:, :2].copy()
    points[~(pose[:, 2] > style.pcutoff)] = np.nan
    return draw_pose(frame.copy(), points, colors, style.marker_size, marker=".", alpha=style.alphavalue)


# --------------------------------------------------------------------------- #
# The verb
# --------------------------------------------------------------------------- #


@dataclass
class OutlierCandidates:
    """The outlier candidates of some videos, and what was extracted of them.

    Made by :func:`find_outlier_candidates`; :meth:`extract` saves the picked frames
    and machine labels of one video (or of all).

    Attributes
    ----------
    project : Project
    searches : list of OutlierSearch
        Per video, the candidates found.
    options : dict
        ``extract_candidates`` options (extraction algorithm, k-means size and colour,
        ``savelabeled``, ``seed``).
    results : dict of str to OutlierExtraction
        Per video stem, what was extracted so far.
    """

    project: Project
    searches: list[OutlierSearch]
    options: dict[str, Any]
    results: dict[str, OutlierExtraction] = field(default_factory=dict)

    def extract(self, search: OutlierSearch | None = None) -> dict[str, OutlierExtraction]:
        """Extract the candidates of ``search`` (default: of every video not extracted yet)."""
        for one in [search] if search is not None else self.searches:
            if one.stem not in self.results:
                self.results[one.stem] = self.extract_one(one)
        return self.results

    def extract_one(self, search: OutlierSearch) -> OutlierExtraction:
        """Extract one video's candidates (again, if it was extracted before)."""
        n_pick = min(len(search.new_candidates), int(self.project.cfg["numframes2pick"]))
        result = (extract_candidates(self.project, search, **self.options) if n_pick
                  else OutlierExtraction(search.stem, search.video))
        self.results[search.stem] = result
        return result

    def summary(self) -> str:
        """What was found (and extracted) per video."""
        lines = []
        for search in self.searches:
            done = self.results.get(search.stem)
            lines.append(done.summary() if done is not None else search.summary())
        return "\n".join(lines)


def find_outlier_candidates(
    config: str | os.PathLike | Project,
    videos: str | os.PathLike | Sequence[str | os.PathLike],
    shuffle: int = 1,
    trainingsetindex: int = 0,
    outlieralgorithm: str = "jump",
    comparisonbodyparts: str | Sequence[str] = "all",
    epsilon: float = 20,
    p_bound: float = 0.01,
    ARdegree: int = 3,
    MAdegree: int = 1,
    alpha: float = 0.01,
    extractionalgorithm: str = "kmeans",
    cluster_resizewidth: int = 30,
    cluster_color: bool = False,
    savelabeled: bool = False,
    seed: int | None = None,
    destfolder: str | os.PathLike | None = None,
    *,
    videotype: str = "",
    frames2use: Sequence[int] | None = None,
) -> OutlierCandidates:
    """Find frames where the network is probably wrong (stage 1 of ``extract_outlier_frames``).

    Reads the analysis of each video (run ``analyze_videos`` first) and flags
    outlier frames within config ``start``/``stop``; nothing is written until
    :meth:`OutlierCandidates.extract`, which picks at most ``numframes2pick`` of
    them and saves them to ``labeled-data/<stem>/`` with the network's predictions
    in ``machinelabels-iter<N>.h5`` (correct them with ``refine_labels``, then
    ``merge_datasets``).

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    videos
        Video files and/or folders (analysed with this network).
    shuffle, trainingsetindex
        The network whose analysis is read (snapshot per config ``snapshotindex``).
    outlieralgorithm
        ``"jump"`` (a body part moved more than ``epsilon`` px since the previous
        frame), ``"uncertain"`` (a likelihood below ``p_bound``), ``"fitting"``
        (deviation from per-body-part ARMA fits above ``epsilon``) or ``"list"``
        (``frames2use``).
    comparisonbodyparts
        ``"all"`` or the body parts to look at.
    epsilon, p_bound, ARdegree, MAdegree, alpha
        Detector parameters (see :mod:`posekit.refine.outliers`).
    extractionalgorithm
        ``"kmeans"`` (visually diverse frames) or ``"uniform"`` (random) to thin
        the candidates to ``numframes2pick``.
    cluster_resizewidth, cluster_color
        k-means frame size and colour (as ``extract_frames``).
    savelabeled
        Also write ``img<idx>labeled.png`` with the predictions drawn.
    seed
        Seed for reproducible picks (DeepLabCut's are unseeded).
    destfolder
        Folder holding the analysis files (default: beside each video).
    videotype
        Suffix of the videos taken from folders.
    frames2use
        Frame numbers for ``outlieralgorithm="list"``.

    Returns
    -------
    OutlierCandidates

    Raises
    ------
    ValueError
        Unknown algorithm, extraction algorithm or body part (the valid ones are listed).
    FileNotFoundError
        Missing video, snapshot or analysis file (the message says what to run).
    """
    check_algorithm(outlieralgorithm, [a for a in ALGORITHMS if a != "manual"])
    if extractionalgorithm not in EXTRACTION_ALGORITHMS:
        raise ValueError(
            f"extractionalgorithm={extractionalgorithm!r} is not known; use one of "
            f"{list(EXTRACTION_ALGORITHMS)}."
        )
    project = Project.open(config)
    files = outlier_videos(project, videos, videotype)
    searches = find_outliers(
        project, files, shuffle, trainingsetindex, outlieralgorithm, comparisonbodyparts,
        epsilon, p_bound, ARdegree, MAdegree, alpha, destfolder, frames2use,
    )
    options = {
        "extractionalgorithm": extractionalgorithm,
        "cluster_resizewidth": cluster_resizewidth,
        "cluster_color": cluster_color,
        "savelabeled": savelabeled,
        "seed": seed,
    }
    return OutlierCandidates(project, searches, options)


def outlier_videos(
    project: Project, videos: str | os.PathLike | Sequence[str | os.PathLike], videotype: str = ""
) -> list[Path]:
    """The video files ``extract_outlier_frames`` looks at.

    Raises
    ------
    FileNotFoundError
        If ``videos`` names no video.
    """
    return list_videos(videos, videotype, required=True)
