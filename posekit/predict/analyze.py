"""``analyze_videos``: predict every frame of videos, write DeepLabCut's analysis files.

Plans the run (arguments checked, the model, each video's output files, the skip
rule) and writes each video's files; :mod:`posekit.predict.frame_loop` predicts
the frames.

Outputs (format spec section 10): ``<stem><scorer>.h5`` (key ``df_with_missing``,
``table`` format), optional ``.csv``, and ``<stem><scorer>_meta.json`` with
the fields of DeepLabCut's ``_meta.pickle`` (no pickle is ever written).
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posekit.errors import VideoError
from posekit.io.video import TruncatedVideoWarning, frame_count_problem, warn_truncated
from posekit.predict.dynamic_crop import DynamicCropping, parse_dynamic
from posekit.predict.frame_loop import FramePredictions, predict_video_range
from posekit.predict.results import (
    AnalysisPaths,
    analysis_paths,
    poses_to_dataframe,
    read_poses,
    write_metadata,
    write_poses,
)
from posekit.project.project import Project, list_videos
from posekit.utils.atomic import atomic_path

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["AnalysisPlan", "AnalysisResult", "ModelInfo", "TruncatedVideoWarning", "VideoAnalysis",
           "already_analysed", "analyze_videos", "check_writable", "list_videos", "plan_analysis", "write_analysis"]


@dataclass
class VideoAnalysis:
    """What ``analyze_videos`` did with one video.

    Attributes
    ----------
    video : Path
    paths : AnalysisPaths
        ``h5``, ``csv`` and ``meta`` files (the csv exists only with ``save_as_csv``).
    skipped : bool
        Already analysed by this scorer (and ``overwrite`` was False).
    nframes : int
        Frames analysed (= frames truly decoded).
    frames_stated : int
        Frame count the container states (0 when unknown).
    seconds : float
        Wall time of decoding + prediction.
    startup_seconds : float
        Part of ``seconds`` spent dispatching the first batch (tracing and
        compiling the network for this frame size, or loading it from the cache).
    problem : str or None
        Why the video looks truncated/corrupt, if it does.
    error : str or None
        Why the video could not be analysed (Dask runs go on with the other
        videos; nothing was written for this one).
    frames_cropped : int
        Frames predicted from a window around the animal (``dynamic`` cropping).
    """

    video: Path
    paths: AnalysisPaths
    skipped: bool = False
    nframes: int = 0
    frames_stated: int = 0
    seconds: float = 0.0
    startup_seconds: float = 0.0
    problem: str | None = None
    error: str | None = None
    frames_cropped: int = 0

    @property
    def state(self) -> str:
        """``"done"``, ``"skipped"`` or ``"failed"``."""
        return "failed" if self.error is not None else "skipped" if self.skipped else "done"

    @property
    def frames_per_second(self) -> float:
        """Frames analysed per second of the decode + predict loop."""
        return self.nframes / self.seconds if self.seconds > 0 else float("nan")

    @property
    def steady_frames_per_second(self) -> float:
        """Like :attr:`frames_per_second` without the first dispatch (compilation)."""
        rest = self.seconds - self.startup_seconds
        return self.nframes / rest if rest > 0 else float("nan")


class AnalysisResult(str):
    """The scorer name (what DeepLabCut's ``analyze_videos`` returns) plus per-video details.

    It *is* the scorer string, so DeepLabCut-style code keeps working
    (``scorer = analyze_videos(...)``); ``.videos`` lists a
    :class:`VideoAnalysis` per video, and in a notebook it displays as a table.
    """

    videos: list[VideoAnalysis]

    def __new__(cls, scorer: str, videos: Iterable[VideoAnalysis] = ()) -> Self:
        obj = super().__new__(cls, scorer)
        obj.videos = list(videos)
        return obj

    @property
    def scorer(self) -> str:
        return str(self)

    @property
    def h5_files(self) -> list[Path]:
        return [v.paths.h5 for v in self.videos]

    @property
    def failed(self) -> list[VideoAnalysis]:
        """The videos that could not be analysed (``error`` says why)."""
        return [v for v in self.videos if v.error is not None]

    def summary(self) -> str:
        """One line per video, after a count of the videos done, skipped and failed."""
        counts = {state: sum(v.state == state for v in self.videos) for state in ("done", "skipped", "failed")}
        lines = [f"scorer {self.scorer}: " + ", ".join(f"{n} {state}" for state, n in counts.items())]
        for v in self.videos:
            if v.error is not None:
                lines.append(f"  {v.video.name}: FAILED: {v.error}")
                continue
            state = "skipped (already analysed)" if v.skipped else (
                f"{v.nframes} frames, {v.frames_per_second:.1f} frames/s")
            extra = f"  WARNING: {v.problem}" if v.problem else ""
            lines.append(f"  {v.video.name}: {state} -> {v.paths.h5.name}{extra}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                escape(v.video.name),
                v.nframes if v.state == "done" else v.state,
                f"{v.frames_per_second:.1f}" if v.state == "done" else "",
                escape(str(v.paths.h5)),
                escape(v.error or v.problem or ""),
            )
            for v in self.videos
        )
        return (
            f"<div><b>analyze_videos</b>: scorer <code>{escape(self.scorer)}</code>"
            "<table><tr><th>video</th><th>frames</th><th>frames/s</th><th>output</th>"
            f"<th>problem</th></tr>{rows}</table></div>"
        )


# --------------------------------------------------------------------------- #
# Inputs
# --------------------------------------------------------------------------- #


def _train_dir(project: Project, fraction: float, shuffle: int) -> Path:
    """The shuffle's ``train/`` folder, or an error that names the shuffles that exist."""
    model_dir = project.model_dir(fraction, shuffle)
    if not (model_dir / "train").is_dir():
        parent = model_dir.parent
        suffix = model_dir.name.rsplit("shuffle", 1)[0] + "shuffle"
        existing = sorted(
            int(p.name[len(suffix):]) for p in parent.glob(f"{suffix}*")
            if p.name[len(suffix):].isdigit()
        ) if parent.is_dir() else []
        raise FileNotFoundError(
            f"Unknown shuffle {shuffle} for TrainingFraction {fraction} (iteration "
            f"{project.iteration}): '{model_dir}' does not exist. Existing shuffles: "
            f"{existing or 'none'}. Create it with posekit.create_training_dataset(config, "
            f"Shuffles=[{shuffle}]) and train it with posekit.train_network."
        )
    return model_dir / "train"


def _crop_box(project: Project, cropping: Sequence[int] | None) -> tuple[int, int, int, int] | None:
    """``cropping=[x1, x2, y1, y2]`` argument, else the config's when ``cropping: true``."""
    from posekit.project.config import parse_crop

    if cropping is not None and cropping is not False:
        return parse_crop(list(cropping), where="cropping")
    cfg = project.cfg
    if cfg.get("cropping"):
        return parse_crop([cfg["x1"], cfg["x2"], cfg["y1"], cfg["y2"]], where="config x1, x2, y1, y2")
    return None


# --------------------------------------------------------------------------- #
# Planning and writing
# --------------------------------------------------------------------------- #


def check_writable(folder: Path, destfolder: str | os.PathLike | None) -> None:
    """Fail before the analysis, naming the output folder, if no file can be created in it.

    A real probe (an unnamed temporary file), not permission bits: they say nothing
    for root, on read-only mounts or on network file systems.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if destfolder is None:
            message = (f"Cannot write the analysis files beside the video, in '{folder}': {reason}. "
                       "Pass destfolder=<a folder you can write to>.")
        else:
            message = (f"Cannot write the analysis files to destfolder '{folder}': {reason}. "
                       "Choose a folder you can write to.")
        raise type(exc)(message) from None


def _model_config(model: ModelInfo) -> dict[str, Any]:
    cfg = dict(model.pose_cfg)
    cfg["init_weights"] = str(Path(model.snapshot).with_suffix(""))
    cfg["snapshot"] = str(model.snapshot)
    return cfg


@dataclass(frozen=True)
class ModelInfo:
    """What the analysis files record about the network, read from its files (no weights loaded).

    The files are written from this in every run, so a Dask client, which never loads
    the network, writes what a local run writes.

    Attributes
    ----------
    scorer : str
        DeepLabCut's scorer name (the same as the loaded ``Predictor.scorer``).
    bodyparts : list of str
    snapshot : Path
    pose_cfg : dict
        The shuffle's ``train/pose_cfg.yaml``.
    batch_size : int
        Frames per network call.
    """

    scorer: str
    bodyparts: list[str]
    snapshot: Path
    pose_cfg: dict[str, Any]
    batch_size: int

    @classmethod
    def from_snapshot(cls, project: Project, shuffle: int, snapshot: Path, iteration: int,
                      batch_size: int | None) -> ModelInfo:
        """Read ``snapshot``'s metadata and its ``pose_cfg.yaml`` (``iteration``: from its file name)."""
        from posekit.dataset.pose_cfg import read_pose_cfg
        from posekit.predict.predictor import scorer_name
        from posekit.train.snapshots import read_snapshot_metadata

        meta = read_snapshot_metadata(snapshot)
        pose_cfg = read_pose_cfg(snapshot.parent / "pose_cfg.yaml")
        net_type = meta.get("net_type") or pose_cfg["net_type"]
        return cls(
            scorer=scorer_name(project, shuffle, int(meta.get("iteration", iteration)), net_type),
            bodyparts=list(pose_cfg["all_joints_names"]),
            snapshot=snapshot,
            pose_cfg=pose_cfg,
            batch_size=int(batch_size or project.cfg["batch_size"]),
        )


@dataclass
class AnalysisPlan:
    """The arguments of one ``analyze_videos`` call, checked, and where each video's files go.

    Attributes
    ----------
    project : Project
    shuffle, trainingsetindex : int
    fraction : float
        ``TrainingFraction[trainingsetindex]``.
    model : ModelInfo
        The snapshot config ``snapshotindex`` names.
    crop : tuple of int or None
        ``(x1, x2, y1, y2)``.
    videos : dict of Path to AnalysisPaths
        The videos, in order, and their output files.
    save_as_csv, overwrite : bool
    destfolder : path or None
    dynamic : DynamicCropping or None
        Dynamic cropping settings (None: full frames).
    precision : str
        ``"fp32"``, ``"int8"`` or ``"bf16"`` (:mod:`posekit.predict.quantize`).
    """

    project: Project
    shuffle: int
    trainingsetindex: int
    fraction: float
    model: ModelInfo
    crop: tuple[int, int, int, int] | None
    videos: dict[Path, AnalysisPaths]
    save_as_csv: bool
    overwrite: bool
    destfolder: str | os.PathLike | None
    dynamic: DynamicCropping | None = None
    precision: str = "fp32"


def plan_analysis(
    config: str | os.PathLike | Project,
    videos: str | os.PathLike | Iterable[str | os.PathLike],
    videotype: str = "",
    shuffle: int = 1,
    trainingsetindex: int = 0,
    save_as_csv: bool = False,
    batchsize: int | None = None,
    cropping: Sequence[int] | None = None,
    destfolder: str | os.PathLike | None = None,
    overwrite: bool = False,
    dynamic: tuple[bool, float, int] | None = None,
    precision: str = "auto",
    *,
    backend: str = "auto",
    decide_precision: Callable[[str], str] | None = None,
) -> AnalysisPlan:
    """Check the arguments of :func:`analyze_videos` (same parameters) and plan its outputs.

    Shared by the local run and the Dask run (:mod:`posekit.predict.distributed`), so
    both take the same videos, snapshot, file names and precision. ``precision="auto"``
    is decided here (:func:`~posekit.predict.quantize.resolve_precision`), for
    ``backend``, by ``decide_precision`` (default: this process's CPU; a Dask run asks
    a worker). Raises as :func:`analyze_videos`.
    """
    from posekit.predict.predictor import select_snapshots
    from posekit.predict.quantize import calibration_images, parse_precision, resolve_precision

    dynamic_cropping = parse_dynamic(dynamic)
    requested = parse_precision(precision, allow_auto=True)  # a bad value fails before anything is opened
    project = Project.open(config)
    fraction = project.training_fraction(trainingsetindex)
    train_dir = _train_dir(project, fraction, shuffle)
    files = list_videos(videos, videotype)
    if batchsize is not None and int(batchsize) < 1:
        raise ValueError(f"batchsize must be >= 1, got {batchsize}.")
    index = project.cfg.get("snapshotindex", -1)
    iteration, snapshot = select_snapshots(train_dir, -1 if index == "all" else index)[0]
    model = ModelInfo.from_snapshot(project, shuffle, snapshot, iteration, batchsize)
    precision = resolve_precision(
        requested, backend, snapshot=snapshot, decide=decide_precision,
        calibration=lambda: calibration_images(project, shuffle, trainingsetindex))
    if requested == "auto" and precision != "fp32":
        print(f"precision='{requested}' runs {precision} on this machine; pass precision='fp32' for float32.")
    crop = _crop_box(project, cropping)
    if not files:
        warnings.warn(f"No video found in {videos!r} (videotype {videotype!r}); nothing analysed.",
                      stacklevel=3)
    planned = {video: analysis_paths(video, model.scorer, destfolder) for video in files}
    targets: dict[Path, Path] = {}
    for video, paths in planned.items():
        other = targets.setdefault(paths.h5.resolve(), video)
        if other != video:
            raise ValueError(
                f"Videos '{other}' and '{video}' would both be saved as '{paths.h5}' (same "
                "file stem). Analyse them in separate calls with different destfolder values."
            )
    return AnalysisPlan(project, shuffle, trainingsetindex, fraction, model, crop, planned,
                        bool(save_as_csv), bool(overwrite), destfolder, dynamic_cropping, precision)


def already_analysed(plan: AnalysisPlan, video: Path) -> bool:
    """The skip rule of every run: True if ``video`` has a finished analysis by this scorer.

    Finished means its ``.h5`` and its metadata exist (the ``.h5`` is written last);
    with ``save_as_csv`` a missing ``.csv`` is written from the ``.h5``. Always False
    with ``overwrite``. Prints what it decided.
    """
    paths = plan.videos[video]
    if plan.overwrite or not paths.h5.exists():
        return False
    # DeepLabCut's own runs leave a _meta.pickle instead of posekit's _meta.json.
    if paths.meta.exists() or paths.meta.with_suffix(".pickle").exists():
        if plan.save_as_csv and not paths.csv.exists():
            check_writable(paths.csv.parent, plan.destfolder)
            with atomic_path(paths.csv) as tmp:
                read_poses(paths.h5).to_csv(tmp)
        print(f"'{video.name}' is already analysed by {plan.model.scorer} ({paths.h5}); "
              "skipped. Pass overwrite=True to analyse it again.")
        return True
    # Only an interrupted run (or an older posekit, which wrote the .h5 first) leaves
    # an .h5 without its metadata: finish the job rather than skip a half-written video.
    print(f"'{video.name}': {paths.h5.name} exists but {paths.meta.name} does not (an "
          "interrupted run?); analysing it again.")
    return False


def write_analysis(plan: AnalysisPlan, video: Path, result: FramePredictions, started: float) -> VideoAnalysis:
    """Write one video's ``.csv``, ``_meta.json`` and ``.h5`` (each atomically, the ``.h5`` last).

    The writing step of every run (the Dask client writes here too). A kill before the
    ``.h5`` is renamed into place leaves a video that the next run analyses again.

    Parameters
    ----------
    plan
        The run's plan (model, crop, files).
    video
        The video.
    result
        Its predictions, from frame 0 (:func:`~posekit.predict.frame_loop.predict_video_range`,
        :func:`~posekit.predict.frame_loop.join_ranges`).
    started
        ``time.time()`` when the video's analysis began.

    Raises
    ------
    VideoError
        If no frame decoded (nothing is written).

    Warns
    -----
    TruncatedVideoWarning
        The video ended early or is damaged.
    """
    model, crop, paths = plan.model, plan.crop, plan.videos[video]
    record = VideoAnalysis(video=video, paths=paths)
    n = len(result.poses)
    if n == 0:
        raise VideoError(f"Video '{video}' has no decodable frame; nothing was analysed.")
    stated = result.frames_stated
    problems = []
    if result.failure is not None:
        problems.append(f"decoding failed after frame {n - 1}: {result.failure}")
    count_problem = frame_count_problem(n, stated)
    if count_problem:
        problems.append(count_problem)
    if result.damage:
        problems.append("ffmpeg reports: " + "; ".join(dict.fromkeys(result.damage)))
    record.problem = "; ".join(problems) or None
    if record.problem:
        warn_truncated(video, record.problem, n, stated, "analysed and saved", stacklevel=4)
    frame = poses_to_dataframe(result.poses, model.scorer, model.bodyparts)
    # The .h5 is written last: it marks the video as analysed (see already_analysed), so
    # a kill before it leaves a video that the next run analyses again.
    if plan.save_as_csv:
        with atomic_path(paths.csv) as tmp:
            frame.to_csv(tmp)
    stop = time.time()
    full_height, full_width = result.full_height, result.full_width
    write_metadata(paths.meta, {
        "start": started,
        "stop": stop,
        "run_duration": stop - started,
        "Scorer": model.scorer,
        "DLC-model-config file": _model_config(model),
        "fps": result.fps,
        "batch_size": model.batch_size,
        "frame_dimensions": [full_height, full_width],
        "nframes": n,
        "iteration (active-learning)": plan.project.iteration,
        "training set fraction": plan.fraction,
        "cropping": crop is not None,
        "cropping_parameters": list(crop) if crop else [0, full_width, 0, full_height],
        # posekit additions (DeepLabCut ignores unknown keys)
        "video": str(video),
        "snapshot": str(model.snapshot),
        "frames_stated": stated,
        "problem": record.problem,
        "frames_per_second": n / result.seconds if result.seconds > 0 else None,
        "dynamic": plan.dynamic.as_dlc() if plan.dynamic else [False],
        "frames_cropped": result.frames_cropped,
        "precision": plan.precision,
    })
    write_poses(frame, paths.h5, h5_format="table")
    record.nframes, record.frames_stated, record.seconds = n, stated, result.seconds
    record.startup_seconds = result.startup_seconds
    record.frames_cropped = result.frames_cropped
    return record


def _analyze_one(predictor, plan: AnalysisPlan, video: Path) -> VideoAnalysis:
    from tqdm.auto import tqdm

    if already_analysed(plan, video):
        return VideoAnalysis(video=video, paths=plan.videos[video], skipped=True)
    check_writable(plan.videos[video].h5.parent, plan.destfolder)
    started = time.time()
    result = predict_video_range(
        predictor, video, plan.crop,
        progress=lambda total: tqdm(total=total or None, unit="frames", desc=video.name, dynamic_ncols=True),
        dynamic=plan.dynamic)
    return write_analysis(plan, video, result, started)


def analyze_videos(
    config: str | os.PathLike | Project,
    videos: str | os.PathLike | Iterable[str | os.PathLike],
    videotype: str = "",
    shuffle: int = 1,
    trainingsetindex: int = 0,
    save_as_csv: bool = False,
    batchsize: int | None = None,
    cropping: Sequence[int] | None = None,
    destfolder: str | os.PathLike | None = None,
    overwrite: bool = False,
    dynamic: tuple[bool, float, int] = (False, 0.5, 10),
    precision: str = "auto",
) -> AnalysisResult:
    """Predict the pose in every frame of videos; write DeepLabCut's analysis files.

    In this process; :func:`posekit.predict.distributed.analyze_videos_on_cluster`
    runs the same analysis on a Dask cluster.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    videos
        Video files and/or folders (a single path is accepted too).
    videotype
        Suffix of the videos to take from folders (``"mp4"``, ``".avi"``);
        default every known video suffix. Explicit files are always taken.
    shuffle, trainingsetindex
        Which trained network (``TrainingFraction[trainingsetindex]``); the
        snapshot is the one config ``snapshotindex`` names (``-1`` newest,
        ``"all"`` is treated as ``-1`` like DeepLabCut).
    save_as_csv
        Also write ``<stem><scorer>.csv``.
    batchsize
        Frames per network call (default: config ``batch_size``).
    cropping
        ``[x1, x2, y1, y2]`` to analyse only that box (default: the config's
        ``x1..y2`` when its ``cropping`` is true). Coordinates stay relative
        to the box, as in DeepLabCut; the box is in the metadata.
    destfolder
        Folder for the outputs (default: beside each video).
    overwrite
        Analyse again videos this scorer has already analysed (default: skip).
        A video whose ``.h5`` has no ``_meta.json`` (an interrupted run) is
        always analysed again.
    dynamic
        DeepLabCut's ``(state, pcutoff, margin)``: with ``state`` True, once
        at least half of the body parts are above ``pcutoff`` only a window
        around them (plus ``margin`` pixels; sizes rounded up to a few fixed
        buckets) is analysed, back to the full frame when confidence drops.
        Coordinates stay full-frame (:mod:`posekit.predict.dynamic_crop`).
        ``margin`` must cover how far the animal moves within one batch.
    precision
        ``"auto"`` (default), ``"fp32"``, ``"int8"`` or ``"bf16"``.
        ``"int8"`` runs an ONNX Runtime int8 model, calibrated on the shuffle's
        training images and cached as ``snapshot-<n>.int8.onnx`` on first use:
        about 3x float32's speed for a test error within a few hundredths of a
        pixel on the Reaching example (README, "Reduced precision").
        ``"auto"`` runs int8 where ONNX Runtime runs on a CPU with int8
        dot-product instructions (VNNI, AMX, ARM dot product) and the shuffle's
        training images can calibrate it, float32 elsewhere (GPUs, older CPUs);
        the environment variable ``POSEKIT_PRECISION`` overrides that choice
        (:func:`~posekit.predict.quantize.auto_precision`). ``"bf16"`` runs JAX
        in bfloat16 (for GPUs). The precision used is printed and recorded in
        ``_meta.json``; the scorer name does not change, so re-analysing a video
        at another precision needs ``overwrite=True``.
        ``evaluate_network(..., precision="int8")`` shows the accuracy cost.

    Returns
    -------
    AnalysisResult
        The scorer name (a ``str``, as DeepLabCut returns), with ``.videos``
        detailing each video (frames, frames/s, output paths, problems).

    Raises
    ------
    FileNotFoundError
        A video does not exist, the shuffle does not exist, or it has no
        snapshot yet (the message says what to run).
    OSError
        The output folder (``destfolder``, or the video's folder) cannot be
        created or written to; raised before any analysis, naming the folder.
    ValueError
        ``dynamic`` is not a ``(bool, 0 <= pcutoff < 1, margin >= 0)`` triple, or
        ``precision`` is not one of ``"auto"``, ``"fp32"``, ``"int8"``, ``"bf16"``.

    Warns
    -----
    TruncatedVideoWarning
        A video ended early or is damaged; the frames that decoded are kept
        and ``nframes`` says how many.
    """
    from posekit.predict.predictor import load_predictor

    plan = plan_analysis(config, videos, videotype, shuffle, trainingsetindex, save_as_csv, batchsize,
                         cropping, destfolder, overwrite, dynamic, precision)
    predictor = load_predictor(plan.project, shuffle, trainingsetindex, snapshot=plan.model.snapshot,
                               batch_size=plan.model.batch_size, precision=plan.precision)
    records = [_analyze_one(predictor, plan, video) for video in plan.videos]
    return AnalysisResult(plan.model.scorer, records)
