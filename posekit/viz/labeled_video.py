"""``create_labeled_video``: draw predicted poses on videos, streamed, in numpy.

Also home of the small reader of ``analyze_videos`` output that the plotting
verbs share: finding ``<stem><scorer>.h5`` for a video (:func:`find_analysis_file`)
and reading it with its crop metadata (:func:`read_analysis`).

The video is never held in memory: a background thread decodes frames
(:meth:`~posekit.io.video.VideoReader.iter_frames`), this thread draws on each
frame as it arrives, and ffmpeg encodes them from a pipe
(:func:`~posekit.io.video.write_video`), so decoding, drawing and encoding run
side by side and memory stays flat whatever the video's length.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.project.project import VIDEO_SUFFIXES, Project, glob_escape
from posekit.viz.check_labels import skeleton_indices
from posekit.viz.colors import bodypart_colors, named_color
from posekit.viz.draw import draw_line, draw_marker

__all__ = [
    "Analysis",
    "LabeledVideoStyle",
    "create_labeled_video",
    "current_scorer",
    "draw_predictions",
    "find_analysis_file",
    "labeled_video_path",
    "read_analysis",
    "resolve_videos",
]

#: DeepLabCut scorer prefixes of analysis files (``DeepCut`` before 2.1).
SCORER_PREFIXES = ("DLC_", "DeepCut")
#: Stem suffix of filterpredictions' output (``<stem><scorer>_filtered.h5``).
_FILTERED = "_filtered"
#: Trail dots are drawn this much fainter than the current position.
TRAIL_ALPHA = 0.75
#: ``codec`` names DeepLabCut users pass (OpenCV fourccs) -> ffmpeg encoders.
_CODEC_ALIASES = {"mp4v": "mpeg4", "avc1": "libx264", "h264": "libx264", "x264": "libx264"}
_SHUFFLE_RE = re.compile(r"shuffle(\d+)_")
#: x264 speed preset: about twice as fast as the default "medium" at the same
#: quality (crf 15) and, for labeled videos, a similar file size.
_X264_PRESET = "veryfast"


# --------------------------------------------------------------------------- #
# Analysis files: locating and reading
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
        """``(x1, y1)`` to add to stored coordinates for full-frame pixels."""
        if self.cropping and self.crop is not None:
            return self.crop[0], self.crop[2]
        return 0, 0


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
    from posekit.predict.results import poses_from_dataframe, read_metadata, read_poses

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
    meta_json = path.with_name(f"{path.stem.removesuffix(_FILTERED)}_meta.json")
    meta: dict[str, Any] = {}
    if meta_json.is_file():
        meta = dict(read_metadata(meta_json))
    elif path.with_name(f"{path.stem}_meta.pickle").is_file():
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


def _scorer_of(path: Path, stem: str) -> str:
    return path.name[len(stem):-len(".h5")]


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
        from posekit.predict.results import filtered_path

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
        from posekit.predict.results import analysis_paths

        preferred = analysis_paths(video, scorer, destfolder).h5
        if preferred.is_file():
            return preferred
    found = sorted({
        p for prefix in SCORER_PREFIXES for p in folder.glob(f"{glob_escape(stem)}{prefix}*.h5")
        if p.is_file() and not p.name.endswith("_filtered.h5")
    })

    def shuffle_of(p: Path) -> int | None:
        m = _SHUFFLE_RE.search(_scorer_of(p, stem))
        return int(m.group(1)) if m else None

    same = [p for p in found if shuffle_of(p) in (shuffle, None)]
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


def resolve_videos(project: Project, videos: str | os.PathLike | Iterable[str | os.PathLike]
                   ) -> list[Path]:
    """Video files from paths, folders (their videos) or project video stems.

    Folders contribute every file with a video suffix except posekit's and
    DeepLabCut's own outputs (names containing ``_labeled.`` or ``_full.``).
    """
    if isinstance(videos, (str, os.PathLike)):
        videos = [videos]
    out: list[Path] = []
    for item in videos:
        p = Path(item).expanduser()
        if p.is_dir():
            out.extend(sorted(
                f for f in p.iterdir()
                if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES
                and "_labeled." not in f.name and "_full." not in f.name))
        elif p.is_file():
            out.append(p)
        elif str(item) in project.video_stems():
            out.append(project.video_path(str(item)))
        else:
            raise FileNotFoundError(
                f"Video '{item}' is neither a file, a folder nor a video of the project "
                f"(its videos: {', '.join(project.video_stems()) or 'none'}).")
    if not out:
        raise ValueError(f"No video found in {videos!r}.")
    # absolute, not resolved: analyses sit beside the path given (a symlink in
    # videos/ when the project links its videos), not beside the link's target
    return list(dict.fromkeys(p.absolute() for p in out))


def labeled_video_path(analysis_path: str | os.PathLike) -> Path:
    """``<stem><scorer>_labeled.mp4`` beside the analysis file (DeepLabCut's names).

    For a filtered analysis ``<stem><scorer>_filtered.h5`` it is
    ``<stem><scorer>filtered_labeled.mp4`` (no underscore before ``filtered``).
    """
    analysis_path = Path(analysis_path)
    if analysis_path.stem.endswith(_FILTERED):
        return analysis_path.with_name(f"{analysis_path.stem[:-len(_FILTERED)]}filtered_labeled.mp4")
    return analysis_path.with_name(f"{analysis_path.stem}_labeled.mp4")


# --------------------------------------------------------------------------- #
# Drawing
# --------------------------------------------------------------------------- #


@dataclass
class LabeledVideoStyle:
    """How predictions are drawn (from config.yaml by :func:`create_labeled_video`).

    Attributes
    ----------
    colors : numpy.ndarray
        (J, 3) uint8 RGB, one per body part of the analysis.
    radius : float
        Dot radius in pixels (config ``dotsize``).
    alpha : float
        Dot and segment opacity (config ``alphavalue``).
    pcutoff : float
        Points with likelihood strictly above it are drawn.
    shown : numpy.ndarray
        (J,) bool: the displayed body parts.
    skeleton : list of (int, int)
        Segments (body-part indices) to draw when both ends are shown.
    skeleton_color : numpy.ndarray
        RGB of the segments.
    thickness : float
        Segment width in pixels.
    trailpoints : int
        Dots per body part counting the current one (DeepLabCut: the previous
        ``trailpoints - 1`` positions are drawn too, at ``TRAIL_ALPHA`` x alpha).
    """

    colors: np.ndarray
    radius: float
    alpha: float
    pcutoff: float
    shown: np.ndarray
    skeleton: list[tuple[int, int]] = field(default_factory=list)
    skeleton_color: np.ndarray = field(default_factory=lambda: np.zeros(3, np.uint8))
    thickness: float = 1.0
    trailpoints: int = 0


def visible_points(xy: np.ndarray, likelihood: np.ndarray, style: LabeledVideoStyle) -> np.ndarray:
    """(n, J) bool: finite, likelihood > pcutoff and displayed."""
    with np.errstate(invalid="ignore"):
        good = likelihood > style.pcutoff
    return good & np.isfinite(xy).all(axis=-1) & style.shown[None, :]


def draw_predictions(image: np.ndarray, index: int, xy: np.ndarray, visible: np.ndarray,
                     style: LabeledVideoStyle) -> np.ndarray:
    """Draw frame ``index``'s pose (and trail) on ``image`` in place.

    Order: trail dots (oldest first), skeleton segments, current dots.

    Parameters
    ----------
    image
        RGB uint8 frame.
    index
        Frame number (row of ``xy``); rows past the end draw nothing.
    xy
        (n, J, 2) coordinates in ``image`` pixels.
    visible
        (n, J) from :func:`visible_points`.
    style
        Colors, sizes, skeleton.

    Returns
    -------
    numpy.ndarray
        ``image``.
    """
    if not 0 <= index < len(xy):
        return image
    trail_alpha = style.alpha * TRAIL_ALPHA
    for k in range(min(style.trailpoints, index + 1) - 1, 0, -1):  # oldest first
        past = index - k
        for j in np.flatnonzero(visible[past]):
            draw_marker(image, xy[past, j, 0], xy[past, j, 1], style.colors[j], style.radius, ".", trail_alpha)
    now, vis = xy[index], visible[index]
    for a, b in style.skeleton:
        if vis[a] and vis[b]:
            draw_line(image, now[a], now[b], style.skeleton_color, style.thickness, style.alpha)
    for j in np.flatnonzero(vis):
        draw_marker(image, now[j, 0], now[j, 1], style.colors[j], style.radius, ".", style.alpha)
    return image


def _even(frame: np.ndarray) -> np.ndarray:
    """Pad an odd width or height by one edge pixel (yuv420p needs even sizes)."""
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame


# --------------------------------------------------------------------------- #
# The verb
# --------------------------------------------------------------------------- #


def displayed_mask(displayedbodyparts: str | Sequence[str], bodyparts: list[str],
                   where: Path) -> np.ndarray:
    """Which of ``bodyparts`` to draw: ``"all"``, one name or a list (unknown names: ValueError)."""
    if isinstance(displayedbodyparts, str):
        if displayedbodyparts == "all":
            return np.ones(len(bodyparts), bool)
        displayedbodyparts = [displayedbodyparts]
    unknown = [bp for bp in displayedbodyparts if bp not in bodyparts]
    if unknown:
        raise ValueError(f"displayedbodyparts {unknown} are not body parts of '{where.name}'; "
                         f"known body parts: {', '.join(bodyparts)} (or 'all').")
    return np.array([bp in displayedbodyparts for bp in bodyparts])


def _style(project: Project, analysis: Analysis, displayedbodyparts, draw_skeleton: bool,
           trailpoints: int) -> LabeledVideoStyle:
    cfg = project.cfg
    parts = analysis.bodyparts
    skeleton = skeleton_indices(project, parts) if draw_skeleton else []
    radius = float(cfg.get("dotsize", 12))
    return LabeledVideoStyle(
        colors=bodypart_colors(cfg.get("colormap", "rainbow"), len(parts)),
        radius=radius,
        alpha=float(cfg.get("alphavalue", 0.7)),
        pcutoff=float(cfg.get("pcutoff", 0.6)),
        shown=displayed_mask(displayedbodyparts, parts, analysis.path),
        skeleton=skeleton,
        skeleton_color=named_color(cfg.get("skeleton_color") or "black"),
        thickness=max(1.0, radius / 4.0),
        trailpoints=max(int(trailpoints), 0),
    )


def create_labeled_video(
    config: str | os.PathLike | Project,
    videos: str | os.PathLike | Iterable[str | os.PathLike],
    shuffle: int = 1,
    trainingsetindex: int = 0,
    draw_skeleton: bool = False,
    trailpoints: int = 0,
    displaycropped: bool = False,
    displayedbodyparts: str | Sequence[str] = "all",
    outputframerate: float | None = None,
    codec: str = "libx264",
    overwrite: bool = False,
    destfolder: str | os.PathLike | None = None,
    filtered: bool = False,
):
    """Draw the predicted poses on videos: ``<stem><scorer>_labeled.mp4``.

    Parameters
    ----------
    config
        Project ``config.yaml`` (or an open Project). Read: ``pcutoff``,
        ``dotsize`` (dot radius in pixels), ``alphavalue``, ``colormap``,
        ``skeleton``, ``skeleton_color``.
    videos
        Video files, folders of videos, or project video stems.
    shuffle, trainingsetindex
        Which network's analysis to draw: the file named after the current
        snapshot of this shuffle when it is trained, else the newest analysis
        of this shuffle (see :func:`find_analysis_file`).
    draw_skeleton
        Join the config ``skeleton`` pairs whose two ends are both drawn.
    trailpoints
        Also draw each body part's previous ``trailpoints - 1`` positions
        (DeepLabCut's meaning: ``trailpoints`` dots in all), fainter.
    displaycropped
        For analyses run on cropped frames: output only the crop. Otherwise
        the crop offset ``(x1, y1)`` is added and the full frame is drawn on.
    displayedbodyparts
        ``"all"`` or a list of body parts to draw.
    outputframerate
        Output frames per second (default: the source video's).
    codec
        ffmpeg encoder. The default H.264 (yuv420p, odd sizes padded by one
        pixel) plays in browsers and notebooks; ``"mp4v"`` maps to ffmpeg's
        ``mpeg4``.
    overwrite
        Re-create labeled videos that exist (otherwise they are skipped).
    destfolder
        Folder holding the analyses and receiving the labeled videos
        (default: each video's folder).
    filtered
        Draw the ``filterpredictions`` output instead, into
        ``<stem><scorer>filtered_labeled.mp4`` (DeepLabCut's name).

    Returns
    -------
    list of Path
        The labeled videos (created or already there).

    Raises
    ------
    FileNotFoundError
        If a video or its analysis is missing (run ``analyze_videos`` first).
        Every video is checked before any is drawn.
    ValueError
        For an unknown body part in ``displayedbodyparts``.
    """
    project = Project.open(config)
    paths = resolve_videos(project, videos)
    scorer = current_scorer(project, shuffle, trainingsetindex)
    codec = _CODEC_ALIASES.get(codec, codec)
    displayed_mask(displayedbodyparts, project.bodyparts, project.config_path)  # fail early
    jobs = []
    for video in paths:  # find every analysis first: fail before any work
        h5 = find_analysis_file(video, shuffle, destfolder, scorer, filtered=filtered)
        jobs.append((video, h5, labeled_video_path(h5)))
    outputs = []
    for video, h5, out in jobs:
        if out.exists() and not overwrite:
            print(f"Labeled video '{out.name}' exists; skipped (overwrite=True re-creates it).")
        else:
            analysis = read_analysis(h5)
            style = _style(project, analysis, displayedbodyparts, draw_skeleton, trailpoints)
            n = _render(video, analysis, style, out, displaycropped, outputframerate, codec)
            print(f"Labeled video '{out}' written ({n} frames).")
        outputs.append(out)
    return outputs


def _render(video: Path, analysis: Analysis, style: LabeledVideoStyle, out: Path,
            displaycropped: bool, outputframerate: float | None, codec: str) -> int:
    """Decode -> draw -> encode one video into ``out`` (atomically); frames written."""
    from posekit.io.video import VideoReader, write_video

    crop = analysis.crop if (analysis.cropping and displaycropped) else None
    xy = analysis.xy if crop is not None else analysis.xy + np.asarray(analysis.offset, float)
    visible = visible_points(xy, analysis.likelihood, style)
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    with VideoReader(video, crop=crop) as reader:
        fps = outputframerate or reader.fps or float(analysis.meta.get("fps") or 0) or 30.0
        decoded = [0]

        def frames() -> Iterator[np.ndarray]:
            for i, frame in reader.iter_frames():
                decoded[0] = i + 1
                yield _even(draw_predictions(frame, i, xy, visible, style))

        try:
            params = ["-preset", _X264_PRESET] if codec == "libx264" else []
            n = write_video(tmp, frames(), fps=float(fps), codec=codec, output_params=params)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    if decoded[0] != analysis.n_frames:
        warnings.warn(f"'{video.name}' has {decoded[0]} frames but its analysis "
                      f"'{analysis.path.name}' covers {analysis.n_frames}; frames without "
                      "predictions were left undrawn.", stacklevel=3)
    return n
