"""``create_labeled_video``: draw predicted poses on videos, streamed, in numpy.

The analysis is found and read by :mod:`posekit.predict.results`
(:func:`find_analysis_file`, :func:`read_analysis`, re-exported here).

The video is never held in memory: a background thread decodes frames
(:meth:`~posekit.io.video.VideoReader.iter_frames`), this thread draws on each
frame as it arrives, and ffmpeg encodes them from a pipe
(:func:`~posekit.io.video.write_video`), so decoding, drawing and encoding run
side by side and memory stays flat whatever the video's length.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.predict.results import Analysis, current_scorer, find_analysis_file, read_analysis
from posekit.project.naming import labeled_video_name
from posekit.project.project import Project, list_videos
from posekit.viz.draw import draw_line, draw_marker
from posekit.viz.style import PlotStyle

__all__ = [
    "Analysis",
    "LabeledVideoStyle",
    "create_labeled_video",
    "current_scorer",
    "draw_predictions",
    "find_analysis_file",
    "labeled_video_path",
    "read_analysis",
]

#: Trail dots are drawn this much fainter than the current position.
TRAIL_ALPHA = 0.75
#: ``codec`` names DeepLabCut users pass (OpenCV fourccs) -> ffmpeg encoders.
_CODEC_ALIASES = {"mp4v": "mpeg4", "avc1": "libx264", "h264": "libx264", "x264": "libx264"}
#: x264 speed preset: about twice as fast as the default "medium" at the same
#: quality (crf 15) and, for labeled videos, a similar file size.
_X264_PRESET = "veryfast"


# --------------------------------------------------------------------------- #
# Labeled video names
# --------------------------------------------------------------------------- #


def labeled_video_path(analysis_path: str | os.PathLike) -> Path:
    """``<stem><scorer>_labeled.mp4`` beside the analysis file (DeepLabCut's names).

    For a filtered analysis ``<stem><scorer>_filtered.h5`` it is
    ``<stem><scorer>filtered_labeled.mp4`` (no underscore before ``filtered``).
    """
    analysis_path = Path(analysis_path)
    return analysis_path.with_name(labeled_video_name(analysis_path.name))


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
    plot = PlotStyle.from_config(project.cfg)
    parts = analysis.bodyparts
    return LabeledVideoStyle(
        colors=plot.colors(len(parts)),
        radius=plot.dotsize,
        alpha=plot.alphavalue,
        pcutoff=plot.pcutoff,
        shown=displayed_mask(displayedbodyparts, parts, analysis.path),
        skeleton=plot.skeleton_indices(parts) if draw_skeleton else [],
        skeleton_color=plot.skeleton_rgb(),
        thickness=max(1.0, plot.dotsize / 4.0),
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
    videotype: str | Sequence[str] = "",
    client: Any = None,
) -> list[Path]:
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
    videotype
        Suffix(es) of the videos taken from folders (default: every video suffix).
    client
        A ``dask.distributed.Client``: draw on its cluster, one task per video (the
        workers read the videos and analyses and write the labeled videos at the same
        paths: a shared filesystem). A video whose task fails is left out of the
        result with a warning naming it, and the others go on.

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
    paths = list_videos(videos, videotype, project=project, required=True)
    scorer = current_scorer(project, shuffle, trainingsetindex)
    codec = _CODEC_ALIASES.get(codec, codec)
    displayed_mask(displayedbodyparts, project.bodyparts, project.config_path)  # fail early
    jobs = []
    for video in paths:  # find every analysis first: fail before any work
        h5 = find_analysis_file(video, shuffle, destfolder, scorer, filtered=filtered)
        jobs.append((video, h5, labeled_video_path(h5)))
    todo = {}
    for video, h5, out in jobs:
        if out.exists() and not overwrite:
            print(f"Labeled video '{out.name}' exists; skipped (overwrite=True re-creates it).")
        else:
            todo[video] = functools.partial(_draw_video, project, video, h5, out, displayedbodyparts, draw_skeleton,
                                            trailpoints, displaycropped, outputframerate, codec)
    failures: dict[Path, str] = {}
    if client is None:  # one at a time, each reported as it is written
        drawn: Iterable = ((video, job()) for video, job in todo.items())
    else:
        from posekit.predict.distributed import map_videos

        results, failures = map_videos(client, todo, "create_labeled_video")
        drawn = results.items()
        for video, error in failures.items():
            warnings.warn(f"No labeled video for '{video}': its task failed on the cluster ({error}).",
                          stacklevel=2)
    for _video, (out, n) in drawn:
        print(f"Labeled video '{out}' written ({n} frames).")
    return [out for video, _h5, out in jobs if video not in failures]


def _draw_video(project: Project, video: Path, h5: Path, out: Path, displayedbodyparts, draw_skeleton: bool,
                trailpoints: int, displaycropped: bool, outputframerate: float | None,
                codec: str) -> tuple[Path, int]:
    """Read ``h5``, draw it on ``video`` into ``out``: (out, frames written). One Dask task with ``client``."""
    analysis = read_analysis(h5)
    style = _style(project, analysis, displayedbodyparts, draw_skeleton, trailpoints)
    return out, _render(video, analysis, style, out, displaycropped, outputframerate, codec)


def _render(video: Path, analysis: Analysis, style: LabeledVideoStyle, out: Path,
            displaycropped: bool, outputframerate: float | None, codec: str) -> int:
    """Decode -> draw -> encode one video into ``out`` (atomically); frames written."""
    from posekit.io.video import VideoReader, write_video

    crop = analysis.crop if (analysis.cropping and displaycropped) else None
    xy = analysis.xy if crop is not None else analysis.full_frame_xy
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
