"""Workflow verbs H-I: analyse videos, labeled videos, trajectory plots."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from posekit.predict.analyze import AnalysisResult
from posekit.predict.distributed import DEFAULT_CHUNK_FRAMES, ClusterProgress, analyze_videos_on_cluster
from posekit.predict.dynamic_crop import parse_dynamic
from posekit.predict.filter_videos import filterpredictions
from posekit.predict.time_lapse import TimeLapseAnalysis
from posekit.project import Project
from posekit.workflow.dlc_compat import UNSET, check_gputouse, note_ignored, refuse
from posekit.workflow.results import LabeledVideos, TrajectoryReport

# filterpredictions takes DeepLabCut's arguments as it is.
__all__ = ["analyze_time_lapse_frames", "analyze_videos", "create_labeled_video", "filterpredictions",
           "plot_trajectories"]

PathLike = str | os.PathLike
Videos = PathLike | Iterable[PathLike]


def _videotype(videotype: str | Sequence[str], video_extensions: str | Sequence[str] | None) -> str | Sequence[str]:
    """DeepLabCut 2's ``videotype`` or DeepLabCut 3's ``video_extensions`` (not both)."""
    if video_extensions is not None:
        if videotype:
            raise ValueError("Give videotype or video_extensions (DeepLabCut 3's name for it), not both.")
        return video_extensions
    return videotype


def _single_animal_only(verb: str, **given: Any) -> None:
    for name, value in given.items():
        if value:
            refuse(verb, name, value, "posekit handles single-animal projects; leave it unset.")


def _style_in_config(verb: str, **given: Any) -> None:
    for name, value in given.items():
        if value is not None:
            refuse(verb, name, value, f"set `{name}` in config.yaml (posekit.edit_config(config, "
                   f"{{{name!r}: ...}})): every drawing verb reads it from there.")


def _one_destfolder(destfolder: PathLike | None, dest_folder: PathLike | None) -> PathLike | None:
    if dest_folder is not None and destfolder is not None:
        raise ValueError("Give destfolder or dest_folder (DeepLabCut 3's name for it), not both.")
    return destfolder if dest_folder is None else dest_folder


def analyze_videos(
    config: PathLike | Project,
    videos: Videos,
    videotype: str | Sequence[str] = "",
    shuffle: int = 1,
    trainingsetindex: int = 0,
    gputouse: int | None = None,
    save_as_csv: bool = False,
    in_random_order: Any = UNSET,
    destfolder: PathLike | None = None,
    batchsize: int | None = None,
    cropping: Sequence[int] | None = None,
    TFGPUinference: Any = UNSET,  # DeepLabCut's name
    dynamic: tuple[bool, float, int] = (False, 0.5, 10),
    modelprefix: str = "",
    robust_nframes: Any = UNSET,
    allow_growth: Any = UNSET,
    use_shelve: Any = UNSET,
    auto_track: Any = UNSET,
    n_tracks: int | None = None,
    calibrate: bool = False,
    identity_only: bool = False,
    use_openvino: Any = UNSET,
    *,
    video_extensions: str | Sequence[str] | None = None,
    overwrite: bool = False,
    client: Any = None,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    precision: str = "auto",
) -> AnalysisResult:
    """Predict the pose in every frame of videos; write DeepLabCut's analysis files.

    DeepLabCut's signature; see :func:`posekit.predict.analyze.analyze_videos` for the
    files written.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    videos
        Video files and/or folders.
    videotype, video_extensions
        Suffix(es) of the videos taken from folders (DeepLabCut 2's and 3's names).
    shuffle, trainingsetindex
        Which trained network.
    gputouse
        None, or 0 (posekit runs on the first GPU JAX sees, or the CPU).
    save_as_csv
        Also write the ``.csv``.
    destfolder
        Where the files go (default: beside each video).
    batchsize
        Frames per network call (default: config ``batch_size``).
    cropping
        ``[x1, x2, y1, y2]``: analyse only this box (coordinates stay in the box).
    dynamic
        DeepLabCut's dynamic cropping ``(state, pcutoff, margin)``: with ``state``
        True only a window around the tracked animal is analysed (see
        :func:`posekit.predict.analyze.analyze_videos`); not with ``client``.
    modelprefix
        Must be empty.
    in_random_order, TFGPUinference, robust_nframes, allow_growth, use_shelve, use_openvino
        No effect (posekit analyses in order, counts frames exactly, has no TensorFlow and
        runs ONNX Runtime on the CPU).
    auto_track, n_tracks, calibrate, identity_only
        Multi-animal tracking: not supported (``n_tracks``, ``calibrate`` and
        ``identity_only`` raise an error; ``auto_track`` has no effect).
    overwrite
        Analyse again videos that have an analysis.
    client
        A ``dask.distributed.Client``: analyse on its cluster (see
        :func:`posekit.predict.distributed.analyze_videos_on_cluster`), one task per
        video or per ``chunk_frames`` frames of a long one, with the same files and
        skip rule. The workers need the project and the videos at the same paths (a
        shared filesystem). A video that fails is reported and the others go on. In
        a notebook a widget shows the progress and the Dask dashboard link.
    chunk_frames
        With ``client``: most frames per task.
    precision
        ``"auto"`` (default: int8 on CPUs with int8 dot-product instructions,
        float32 elsewhere; ``POSEKIT_PRECISION`` overrides it), ``"fp32"``,
        ``"int8"`` (ONNX Runtime int8 model calibrated on the training images,
        cached beside the snapshot) or ``"bf16"`` (JAX in bfloat16); recorded in
        ``_meta.json``, with or without ``client`` (see
        :func:`posekit.predict.analyze.analyze_videos`).

    Returns
    -------
    AnalysisResult
    """
    from posekit.predict.analyze import analyze_videos as analyze

    note_ignored("analyze_videos", "posekit analyses in order, counts frames exactly and has no TensorFlow",
                 in_random_order=in_random_order, TFGPUinference=TFGPUinference,
                 robust_nframes=robust_nframes, allow_growth=allow_growth, use_shelve=use_shelve,
                 use_openvino=use_openvino, auto_track=auto_track)
    _single_animal_only("analyze_videos", n_tracks=n_tracks, calibrate=calibrate, identity_only=identity_only)
    check_gputouse("analyze_videos", gputouse)
    if modelprefix:
        refuse("analyze_videos", "modelprefix", modelprefix, "posekit has no model prefixes.")
    dynamic_cropping = parse_dynamic(dynamic)
    args = (config, videos, _videotype(videotype, video_extensions), shuffle, trainingsetindex, save_as_csv,
            batchsize, cropping, destfolder, overwrite)
    if client is None:
        return analyze(*args, dynamic=dynamic, precision=precision)
    if dynamic_cropping is not None:
        # each Dask task starts a frame range without knowing where the animal was
        refuse("analyze_videos", "dynamic", dynamic,
               "dynamic cropping runs in this process only; drop client= or pass dynamic=(False, 0.5, 10).")
    return analyze_videos_on_cluster(client, *args, chunk_frames=chunk_frames, progress=_cluster_progress(),
                                     precision=precision)


def _cluster_progress() -> ClusterProgress | None:
    """In a notebook, a progress shown now as a widget (the run blocks the cell); None: tqdm."""
    from posekit.workflow.display import show_live_progress

    progress = ClusterProgress()

    def make_widget():
        from posekit.widgets.cluster_progress import ClusterProgressWidget

        return ClusterProgressWidget(progress)

    return progress if show_live_progress(make_widget) else None


def analyze_time_lapse_frames(
    config: PathLike | Project,
    directory: PathLike,
    frametype: str = ".png",
    shuffle: int = 1,
    trainingsetindex: int = 0,
    gputouse: int | None = None,
    save_as_csv: bool = False,
    modelprefix: str = "",
    *,
    batchsize: int | None = None,
    overwrite: bool = False,
    precision: str = "auto",
) -> TimeLapseAnalysis:
    """Predict the pose on every image of a folder: ``<folder name><scorer>.h5`` (DeepLabCut's signature).

    One row per image, the file names as the index; images may differ in size (see
    :func:`posekit.predict.time_lapse.analyze_time_lapse_frames`).

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    directory
        The folder of images.
    frametype
        Their suffix (``.png``, ``.jpg``...).
    shuffle, trainingsetindex
        Which trained network.
    gputouse
        None, or 0 (posekit runs on the first GPU JAX sees, or the CPU).
    save_as_csv
        Also write the ``.csv``.
    modelprefix
        Must be empty.
    batchsize
        Images per network call.
    overwrite
        Analyse a folder again that has its file.
    precision
        ``"auto"`` (default: int8 on CPUs with int8 dot-product instructions, float32
        elsewhere), ``"fp32"``, ``"int8"`` or ``"bf16"``, as for :func:`analyze_videos`.

    Returns
    -------
    TimeLapseAnalysis
    """
    from posekit.predict.time_lapse import analyze_time_lapse_frames as analyze

    check_gputouse("analyze_time_lapse_frames", gputouse)
    if modelprefix:
        refuse("analyze_time_lapse_frames", "modelprefix", modelprefix, "posekit has no model prefixes.")
    return analyze(config, directory, frametype, shuffle, trainingsetindex, save_as_csv, batchsize=batchsize,
                   overwrite=overwrite, precision=precision)


def create_labeled_video(
    config: PathLike | Project,
    videos: Videos,
    videotype: str | Sequence[str] = "",
    shuffle: int = 1,
    trainingsetindex: int = 0,
    filtered: bool = False,
    fastmode: Any = UNSET,
    save_frames: bool = False,
    keypoints_only: bool = False,
    Frames2plot: Sequence[int] | None = None,  # DeepLabCut's name
    displayedbodyparts: str | Sequence[str] = "all",
    displayedindividuals: Any = UNSET,
    codec: str = "libx264",
    outputframerate: float | None = None,
    destfolder: PathLike | None = None,
    draw_skeleton: bool = False,
    trailpoints: int = 0,
    displaycropped: bool = False,
    color_by: str = "bodypart",
    modelprefix: str = "",
    init_weights: str = "",
    track_method: str = "",
    superanimal_name: str = "",
    pcutoff: float | None = None,
    skeleton: Sequence[Sequence[str]] | None = None,
    skeleton_color: str | None = None,
    dest_folder: PathLike | None = None,
    *,
    video_extensions: str | Sequence[str] | None = None,
    overwrite: bool = False,
    client: Any = None,
) -> LabeledVideos:
    """Draw the predicted poses on videos: ``<stem><scorer>_labeled.mp4`` (DeepLabCut's signature).

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    videos
        Video files, folders of videos, or project video stems.
    videotype, video_extensions
        Suffix(es) of the videos taken from folders.
    shuffle, trainingsetindex
        Which network's analysis to draw.
    filtered
        Draw ``filterpredictions``' output (``<stem><scorer>_filtered.h5``) into
        ``<stem><scorer>filtered_labeled.mp4``.
    displayedbodyparts
        ``"all"`` or the body parts to draw.
    codec
        ffmpeg encoder; the default H.264 plays in browsers (``"mp4v"``: MPEG-4 part 2).
    outputframerate
        Output frames per second (default: the video's).
    destfolder
        Folder holding the analyses and receiving the labeled videos.
    draw_skeleton
        Join the config ``skeleton`` pairs.
    trailpoints
        Draw each body part's last ``trailpoints`` positions.
    displaycropped
        For cropped analyses: output only the crop.
    color_by
        ``"bodypart"`` (the only colouring of single-animal projects).
    fastmode, displayedindividuals
        No effect (one drawing path; one animal).
    save_frames, keypoints_only, Frames2plot, modelprefix, init_weights, track_method, superanimal_name
        Not supported: an error says what to do instead.
    pcutoff, skeleton, skeleton_color
        Read from config.yaml; passing them is an error that says so.
    dest_folder
        DeepLabCut 3's name for ``destfolder``.
    overwrite
        Re-create labeled videos that exist.
    client
        A ``dask.distributed.Client``: one task per video on its cluster (the workers
        need the videos and analyses at the same paths: a shared filesystem). A video
        that fails is left out with a warning naming it; the others go on.

    Returns
    -------
    LabeledVideos
        The labeled video files; in a notebook, a player.
    """
    from posekit.viz.labeled_video import create_labeled_video as create

    note_ignored("create_labeled_video", "posekit has one drawing path and one animal", fastmode=fastmode,
                 displayedindividuals=displayedindividuals)
    if save_frames or keypoints_only or Frames2plot is not None:
        name, value = next((n, v) for n, v in (("save_frames", save_frames), ("keypoints_only", keypoints_only),
                                                ("Frames2plot", Frames2plot)) if v)
        refuse("create_labeled_video", name, value, "posekit writes the whole labeled video; read single "
               "frames from it with posekit.VideoReader.")
    if color_by != "bodypart":
        refuse("create_labeled_video", "color_by", color_by, "single-animal videos are coloured by body part.")
    if modelprefix or init_weights:
        refuse("create_labeled_video", "modelprefix" if modelprefix else "init_weights",
               modelprefix or init_weights, "posekit draws the analysis of the shuffle's own network.")
    _single_animal_only("create_labeled_video", track_method=track_method, superanimal_name=superanimal_name)
    _style_in_config("create_labeled_video", pcutoff=pcutoff, skeleton=skeleton, skeleton_color=skeleton_color)
    destfolder = _one_destfolder(destfolder, dest_folder)
    return LabeledVideos(create(
        config, videos, shuffle, trainingsetindex, draw_skeleton, trailpoints, displaycropped,
        displayedbodyparts, outputframerate, codec, overwrite, destfolder, filtered,
        _videotype(videotype, video_extensions), client,
    ))


def plot_trajectories(
    config: PathLike | Project,
    videos: Videos,
    videotype: str | Sequence[str] = "",
    shuffle: int = 1,
    trainingsetindex: int = 0,
    filtered: bool = False,
    displayedbodyparts: str | Sequence[str] = "all",
    displayedindividuals: Any = UNSET,
    showfigures: Any = UNSET,
    destfolder: PathLike | None = None,
    modelprefix: str = "",
    imagetype: str = ".png",
    resolution: int = 100,
    linewidth: Any = UNSET,
    track_method: str = "",
    pcutoff: float | None = None,
    *,
    video_extensions: str | Sequence[str] | None = None,
) -> TrajectoryReport:
    """Plot the predicted trajectories of analysed videos (DeepLabCut's signature).

    Writes ``<folder>/plot-poses/<stem>/`` with DeepLabCut's four figures (see
    :func:`posekit.viz.trajectories.plot_trajectories`).

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    videos
        Video files, folders of videos, or project video stems.
    videotype, video_extensions
        Suffix(es) of the videos taken from folders.
    shuffle, trainingsetindex
        Which network's analysis.
    filtered
        Plot ``filterpredictions``' output (``trajectory_filtered.png``, ...).
    displayedbodyparts
        ``"all"`` or the body parts to plot.
    destfolder
        Folder holding the analyses and receiving ``plot-poses/``.
    imagetype
        Image suffix (``.png``, ``.pdf``, ``.svg``...).
    resolution
        Dots per inch.
    showfigures, displayedindividuals, linewidth
        No effect (the returned report shows interactive plots in a notebook).
    modelprefix, track_method
        Must be empty.
    pcutoff
        Read from config.yaml; passing it is an error that says so.

    Returns
    -------
    TrajectoryReport
        Per video stem, the figures and their files; in a notebook, interactive plots.
    """
    from posekit.viz.trajectories import plot_trajectories as plot

    note_ignored("plot_trajectories", "the returned report shows the plots in a notebook",
                 showfigures=showfigures, displayedindividuals=displayedindividuals, linewidth=linewidth)
    if modelprefix:
        refuse("plot_trajectories", "modelprefix", modelprefix, "posekit has no model prefixes.")
    _single_animal_only("plot_trajectories", track_method=track_method)
    _style_in_config("plot_trajectories", pcutoff=pcutoff)
    return TrajectoryReport(plot(config, videos, shuffle, trainingsetindex, destfolder, imagetype, resolution,
                                 filtered, displayedbodyparts, _videotype(videotype, video_extensions)))
