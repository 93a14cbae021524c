"""Workflow verbs A-D: create a project, add videos, extract frames, label them, check labels."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from posekit.frames.extract import Extraction
from posekit.project import Project
from posekit.workflow.dlc_compat import UNSET, note_ignored, refuse
from posekit.workflow.results import CropEditing, FrameGrabbing, LabelCheckReport, LabelingView

__all__ = [
    "add_new_videos",
    "check_labels",
    "create_new_project",
    "create_project",
    "crop_editor",
    "extract_frames",
    "label_frames",
]

PathLike = str | os.PathLike


def create_project(
    project: str,
    experimenter: str,
    videos: PathLike | Sequence[PathLike],
    working_directory: PathLike | None = None,
    copy_videos: bool = False,
    videotype: str = "",
    multianimal: bool = False,
    individuals: Any = UNSET,
    *,
    bodyparts: Sequence[str] | None = None,
) -> str:
    """Create a DeepLabCut-layout project from videos; return its ``config.yaml`` path.

    DeepLabCut's ``create_new_project`` signature (also available under that name).
    See :func:`posekit.project.create.create_project` for the layout and options.

    Parameters
    ----------
    project, experimenter
        Task name and scorer (``<Task>-<scorer>-<date>/``).
    videos
        Video files and/or folders.
    working_directory
        Where the project folder goes (default: the current folder).
    copy_videos
        Copy the videos into ``videos/`` instead of linking them.
    videotype
        Suffix of the videos taken from folders (default: every known one).
    multianimal
        Multi-animal projects are not supported (an error says so).
    individuals
        DeepLabCut's multi-animal option; ignored.
    bodyparts
        Body parts to write into config.yaml (default: DeepLabCut's template).

    Returns
    -------
    str
        The path of ``config.yaml``.
    """
    from posekit.project.create import create_project as create

    if multianimal:
        refuse("create_project", "multianimal", multianimal,
               "posekit handles single-animal projects; leave multianimal=False.")
    note_ignored("create_project", "it describes multi-animal projects", individuals=individuals)
    return create(project, experimenter, videos, working_directory, copy_videos, videotype, bodyparts)


create_new_project = create_project


def add_new_videos(
    config: PathLike,
    videos: PathLike | Sequence[PathLike],
    copy_videos: bool = False,
    coords: Sequence[Sequence[int]] | None = None,
    extract_frames: bool = False,
    *,
    videotype: str = "",
) -> list[str]:
    """Add videos to a project (DeepLabCut's signature); optionally extract frames from them.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml``.
    videos
        Video files and/or folders.
    copy_videos
        Copy instead of linking.
    coords
        One ``[x1, x2, y1, y2]`` crop box per video (default: the whole frame).
    extract_frames
        Then extract frames (k-means) from the new videos.
    videotype
        Suffix of the videos taken from folders.

    Returns
    -------
    list of str
        The added videos' paths in the project.
    """
    from posekit.frames.extract import extract_frames as extract
    from posekit.project.create import add_new_videos as add

    added = add(config, videos, copy_videos, coords, videotype)
    if extract_frames and added:
        extract(config, videos_list=added)
    return added


def extract_frames(
    config: PathLike | Project,
    mode: str = "automatic",
    algo: str = "kmeans",
    crop: bool | str = False,
    userfeedback: bool = False,
    cluster_step: int = 1,
    cluster_resizewidth: int = 30,
    cluster_color: bool = False,
    opencv: Any = UNSET,
    slider_width: Any = UNSET,
    config3d: Any = UNSET,
    extracted_cam: Any = UNSET,
    videos_list: Sequence[PathLike] | None = None,
    *,
    checkcropping: Any = UNSET,
    seed: int | None = None,
) -> dict[str, Extraction] | FrameGrabbing | CropEditing:
    """Extract frames to label (DeepLabCut's signature).

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    mode
        ``"automatic"`` (pick with ``algo``) or ``"manual"`` (a frame grabber: scrub a
        video and grab frames; in a notebook it shows as a widget).
    algo
        ``"kmeans"`` (visually diverse frames) or ``"uniform"``.
    crop
        True: crop with each video's ``video_sets`` box. ``"GUI"``: crop-box editors
        (one per video); Apply writes the box and extracts through it.
    userfeedback
        Ask per video whether to extract from it.
    cluster_step, cluster_resizewidth, cluster_color
        k-means: every n-th frame, the width frames are shrunk to, colour or gray.
    opencv, slider_width, config3d, extracted_cam, checkcropping
        DeepLabCut options with no effect here (ffmpeg decodes; no 3D projects; the crop
        box is checked against the frame anyway).
    videos_list
        Only these videos (paths or stems).
    seed
        Seed for reproducible picks.

    Returns
    -------
    dict of str to Extraction, FrameGrabbing or CropEditing
        Automatic: per video stem, the frames written and kept. Manual: the grabber.
        ``crop="GUI"``: the editors (their ``results`` fill in on Apply).
    """
    from posekit.frames.extract import extract_frames as extract
    from posekit.frames.grabber import FrameGrabber

    note_ignored("extract_frames", "posekit decodes with ffmpeg and has no 3D projects",
                 opencv=opencv, slider_width=slider_width, config3d=config3d, extracted_cam=extracted_cam)
    note_ignored("extract_frames", "the crop box is always checked against the video", checkcropping=checkcropping)
    if mode not in ("automatic", "manual"):
        raise ValueError(f"mode={mode!r} is not known; use 'automatic' or 'manual'.")
    if crop not in (True, False, "GUI"):
        raise ValueError(f"crop={crop!r} is not known; use True, False or 'GUI'.")
    options = {"algo": algo, "cluster_step": cluster_step, "cluster_resizewidth": cluster_resizewidth,
               "cluster_color": cluster_color, "seed": seed}
    if mode == "manual":
        first = str(videos_list[0]) if videos_list else None
        return FrameGrabbing(FrameGrabber(config, stem=_stem(first), crop=crop is True))
    if crop == "GUI":
        project = Project.open(config)
        stems = [_stem(str(v)) for v in videos_list] if videos_list else project.video_stems()

        def on_apply(stem: str, _box: tuple[int, int, int, int]) -> Extraction:
            editing.results.update(extract(project.config_path, crop=True, videos_list=[stem], **options))
            return editing.results[stem]  # the editor's status says what was extracted

        editing = CropEditing(project, stems, on_apply=on_apply)
        return editing
    return extract(config, crop=bool(crop), userfeedback=userfeedback, videos_list=videos_list, **options)


def _stem(video: str | None) -> str | None:
    from posekit.project.project import video_stem

    return None if video is None else video_stem(video)


def crop_editor(
    config: PathLike | Project,
    stem: str | None = None,
    *,
    frame_index: int = 0,
    canvas_size: tuple[int, int] = (800, 600),
) -> CropEditing:
    """Edit a video's ``video_sets`` crop box on one of its frames (a widget in a notebook).

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    stem
        The video; default: the project's first.
    frame_index
        Which frame to show.
    canvas_size
        ``(width, height)`` of the canvas in screen pixels.

    Returns
    -------
    CropEditing

    Raises
    ------
    ValueError
        If the project has no videos.
    KeyError
        If ``stem`` is not one of them.
    FileNotFoundError
        If the video file is missing.
    """
    project = Project.open(config)
    stems = project.video_stems()
    if stem is None and not stems:
        raise ValueError(f"{project.config_path} lists no videos in video_sets; add one with posekit.add_new_videos.")
    stem = stem or stems[0]
    project.video_path(stem)  # an unknown or missing video is an error now, not when the editor shows
    return CropEditing(project, [stem], frame_index=frame_index, canvas_size=canvas_size)


def label_frames(
    config: PathLike | Project,
    multiple_individualsGUI: bool = False,
    imtypes: Any = UNSET,
    config3d: Any = None,
    sourceCam: Any = None,
    jump_unlabeled: Any = UNSET,
    *,
    stem: str | None = None,
    canvas_size: tuple[int, int] = (800, 600),
    image_format: str = "jpeg",
) -> LabelingView:
    """Label the extracted frames of one video (a labeling canvas in a notebook).

    Every change is saved to ``CollectedData_<scorer>.h5`` and ``.csv`` at once.
    DeepLabCut's signature; the video to label is the keyword ``stem``.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    multiple_individualsGUI, config3d, sourceCam
        Multi-animal and 3D labeling are not supported (an error says so).
    imtypes, jump_unlabeled
        No effect (frames are ``img*.png``; the canvas opens on the first frame to label).
    stem
        The video (``labeled-data`` folder); default: the first one with frames.
    canvas_size
        ``(width, height)`` of the canvas in screen pixels.
    image_format
        ``"jpeg"`` (small) or ``"png"`` (lossless) frame transfer.

    Returns
    -------
    LabelingView
        Its ``session`` (:class:`~posekit.labeling.session.LabelingSession`) drives the
        same state from code.

    Raises
    ------
    FileNotFoundError
        If there are no extracted frames (run ``extract_frames`` first).
    """
    from posekit.labeling.session import LabelingSession

    note_ignored("label_frames", "frames are img*.png and the canvas opens where labels are missing",
                 imtypes=imtypes, jump_unlabeled=jump_unlabeled)
    for name, value in (("multiple_individualsGUI", multiple_individualsGUI), ("config3d", config3d),
                        ("sourceCam", sourceCam)):
        if value:
            refuse("label_frames", name, value, "posekit labels single-animal 2D projects.")
    return LabelingView(LabelingSession(config, stem), canvas_size=canvas_size, image_format=image_format)


def check_labels(
    config: PathLike | Project,
    Labels: Sequence[str] | str = ("+", ".", "x"),  # DeepLabCut's name
    scale: float = 1,
    dpi: Any = UNSET,
    draw_skeleton: bool = True,
    visualizeindividuals: Any = UNSET,
    *,
    workers: int = 2,
) -> LabelCheckReport:
    """Draw the labels onto their frames (``labeled-data/<stem>_labeled/``); a gallery in a notebook.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    Labels
        DeepLabCut's markers; the first is the one drawn (``"+"``, ``"."``, ``"x"``...).
    scale
        Must be 1: images are drawn at their own size.
    dpi, visualizeindividuals
        DeepLabCut options with no effect here (images are drawn pixel for pixel;
        single-animal projects).
    draw_skeleton
        Join the config ``skeleton`` pairs.
    workers
        Images drawn in parallel.

    Returns
    -------
    LabelCheckReport
        Per video stem, a :class:`~posekit.viz.check_labels.LabelCheck`.
    """
    from posekit.viz.check_labels import write_labeled_images

    note_ignored("check_labels", "images are drawn pixel for pixel, one animal", dpi=dpi,
                 visualizeindividuals=visualizeindividuals)
    if scale != 1:
        refuse("check_labels", "scale", scale, "images are drawn at their own size; leave scale=1.")
    marker = Labels if isinstance(Labels, str) else Labels[0]
    return LabelCheckReport(write_labeled_images(config, draw_skeleton, marker, workers))
