"""``extract_frames``: pick frames from each project video and save them as PNG."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posekit.frames.selection import downsample, frame_range, kmeans_indices, uniform_indices
from posekit.io.images import write_png
from posekit.project.project import Project, frame_filename, frame_index_from_name, video_stem
from posekit.utils.prompt import ask_yes_no

ALGORITHMS = ("kmeans", "uniform")


@dataclass
class Extraction:
    """What ``extract_frames`` did for one video."""

    stem: str
    video: Path
    n_frames: int
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def extract_frames(
    config: str | os.PathLike | Project,
    algo: str = "kmeans",
    crop: bool = False,
    userfeedback: bool = False,
    cluster_step: int = 1,
    cluster_resizewidth: int = 30,
    cluster_color: bool = False,
    videos_list: Sequence[str | os.PathLike] | None = None,
    seed: int | None = None,
) -> dict[str, Extraction]:
    """Pick and extract frames to label from the project's videos (``mode="automatic"``).

    Frames are saved as ``labeled-data/<stem>/img<index>.png`` (DeepLabCut's zero
    padding). Frames already on disk are kept and never overwritten; newly
    picked frames avoid the indices already extracted.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    algo
        ``"kmeans"`` (one frame per cluster of downsampled frames, for visual
        diversity) or ``"uniform"`` (uniformly random frames).
    crop
        Crop each frame with the video's ``video_sets`` crop box, so labels are in
        cropped-image coordinates.
    userfeedback
        Ask, per video, whether to extract from it.
    cluster_step
        Consider every ``cluster_step``-th frame for k-means.
    cluster_resizewidth
        Width (pixels) frames are shrunk to for k-means.
    cluster_color
        Cluster on colour instead of gray.
    videos_list
        Only these videos (paths or stems) instead of all the project's videos.
    seed
        Seed for reproducible picks (DeepLabCut's are unseeded).

    Returns
    -------
    dict of str to Extraction
        Per video stem: the frames written and those already there.

    Raises
    ------
    ValueError
        On an unknown algorithm.
    FileNotFoundError, posekit.errors.VideoError
        If a video is missing or unreadable (the message names it).

    Warns
    -----
    posekit.io.video.TruncatedVideoWarning
        A video decodes fewer frames than its container states; frames are
        picked among those that decode, and the warning gives both counts.
    posekit.frames.grabber.FrameSizeWarning
        The folder would hold frames of two sizes (cropped and full).
    """
    if algo not in ALGORITHMS:
        raise ValueError(f"algo={algo!r} is not known; use one of {ALGORITHMS}.")
    if not isinstance(cluster_step, int) or cluster_step < 1:
        raise ValueError(f"cluster_step must be a positive integer, got {cluster_step!r}.")
    project = Project.open(config)
    rng = np.random.default_rng(seed)
    results = {}
    for stem in _selected_stems(project, videos_list):
        if userfeedback and not ask_yes_no(f"Extract frames from '{stem}'? (yes/no) "):
            continue
        results[stem] = _extract_video(
            project, stem, algo, bool(crop), cluster_step, cluster_resizewidth, cluster_color, rng
        )
    return results


def _selected_stems(project: Project, videos_list) -> list[str]:
    stems = project.video_stems()
    if videos_list is None:
        return stems
    wanted = [video_stem(str(v)) for v in videos_list]
    unknown = [w for w in wanted if w not in stems]
    if unknown:
        raise ValueError(
            f"videos_list names videos not in the project: {unknown}. Project videos: "
            f"{stems}. Add them first with posekit.add_new_videos."
        )
    return [s for s in stems if s in wanted]


def _extract_video(
    project: Project,
    stem: str,
    algo: str,
    crop: bool,
    cluster_step: int,
    resize_width: int,
    color: bool,
    rng: np.random.Generator,
) -> Extraction:
    from posekit.io.video import VideoReader, frame_count_problem, warn_truncated

    video = project.video_path(stem)
    folder = project.labeled_folder(stem)
    folder.mkdir(parents=True, exist_ok=True)
    existing = {frame_index_from_name(p.name): p for p in project.frame_images(stem)}
    with VideoReader(video) as probe:
        box = project.checked_crop_box(stem, probe.full_width, probe.full_height) if crop else None
    with VideoReader(video, crop=box) as reader:
        n = reader.n_frames
        problem = frame_count_problem(n, reader.metadata_n_frames)
        if problem:
            warn_truncated(video, problem, n, reader.metadata_n_frames, "the only candidates for extraction",
                           stacklevel=4)
        first, last = frame_range(n, project.cfg["start"], project.cfg["stop"])
        n_pick = project.cfg["numframes2pick"]
        if algo == "uniform":
            candidates = [i for i in range(first, last) if i not in existing]
            picked = uniform_indices(candidates, n_pick, rng)
        else:
            indices, features = [], []
            for index, frame in reader.iter_frames(first, last, cluster_step):
                if index not in existing:
                    indices.append(index)
                    features.append(downsample(frame, resize_width, color))
            picked = kmeans_indices(indices, features, n_pick, rng)
        if len(picked):
            _warn_mixed_sizes(project, stem, (reader.width, reader.height), crop)
        result = Extraction(stem=stem, video=video, n_frames=n, kept=sorted(existing.values()))
        for index in picked:
            path = folder / frame_filename(int(index), n)
            if path.exists():  # same index under another zero padding is still new
                result.kept.append(path)
                continue
            result.written.append(write_png(path, reader.read(int(index))))
    return result


def _warn_mixed_sizes(project: Project, stem: str, size: tuple[int, int], crop: bool) -> None:
    """Warn when the folder holds frames of another size than the ones about to be written."""
    from posekit.frames.grabber import FrameSizeWarning, describe_sizes

    others = {s: n for s, n in project.frame_sizes(stem).items() if s != size}
    if others:
        hint = "" if crop else " If the others were cropped with the video's crop box, pass crop=True."
        warnings.warn(
            f"'{project.labeled_folder(stem)}' holds frames of another size ({describe_sizes(others)}) than "
            f"the {size[0]}x{size[1]} frames extracted now: frames in one folder must share one size "
            f"(label coordinates depend on the crop).{hint}",
            FrameSizeWarning, stacklevel=5,
        )
