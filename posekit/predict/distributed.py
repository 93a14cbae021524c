"""Scale-out on a Dask cluster: ``analyze_videos`` (and the per-video verbs) with ``client=``.

The client plans, the workers predict, the client writes:

* :func:`analyze_videos_on_cluster` plans the run as a local run does
  (:func:`~posekit.predict.analyze.plan_analysis`: same videos, snapshot, file
  names, skip rule), then submits one task per video, or per frame range of a
  long video (:func:`plan_ranges`: ``chunk_frames`` frames at most, and more
  ranges while the cluster has fewer tasks than threads);
* each task (:func:`predict_range`) runs the local run's prediction step
  (:func:`~posekit.predict.frame_loop.predict_video_range`) with a predictor that
  its worker loads once per snapshot, backend and batch size
  (:func:`worker_predictor`), and returns the poses;
* as soon as all ranges of a video are back, the client joins them in frame
  order (:func:`~posekit.predict.frame_loop.join_ranges`) and writes the files
  with the local run's writer (:func:`~posekit.predict.analyze.write_analysis`,
  atomic, the ``.h5`` last).

A worker that dies loses nothing: Dask runs its tasks again on another worker
(a task returns poses and writes nothing). A client that dies leaves finished
videos complete and the others without an ``.h5``, so the next run skips
exactly the finished ones. A video that fails (unreadable, say) is reported by
name and the others go on.

Each worker's ONNX Runtime session gets as many intra-op threads as the worker
has (:func:`worker_threads`), so workers sharing a machine do not oversubscribe
it; the load (seconds, threads) is logged as a Dask event on
:data:`LOAD_TOPIC`. Warnings raised while a task runs on a worker (which would
land in the worker's log) come back with its result and are raised again on the
client, naming the video.

Workers open the project's snapshot and the videos by the paths the client
gives: they need the same shared filesystem at the same paths (and the client
needs write access to the output folders).

Progress is a plain :class:`ClusterProgress` (per-video frames, overall
frames/s, the dashboard link) fed by the workers' events; a notebook shows it
as a widget, a script as a tqdm bar.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import threading
import time
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posekit.errors import VideoError
from posekit.predict.analyze import (
    AnalysisPlan,
    AnalysisResult,
    VideoAnalysis,
    already_analysed,
    check_writable,
    plan_analysis,
    write_analysis,
)
from posekit.predict.frame_loop import FramePredictions, join_ranges, predict_video_range

if TYPE_CHECKING:
    from distributed import Client

    from posekit.predict.predictor import Predictor
    from posekit.project.project import Project

__all__ = ["DEFAULT_CHUNK_FRAMES", "LOAD_TOPIC", "ClusterProgress", "PredictorSpec", "VideoProgress",
           "analyze_videos_on_cluster", "map_videos", "plan_ranges", "predict_range", "worker_predictor",
           "worker_threads"]

#: Largest frame range of one task: a 10-hour 30 fps video is 54 tasks, enough for
#: every worker of a large cluster, and each task runs minutes, so the per-task
#: cost (scheduling, seeking, the first batch) stays small.
DEFAULT_CHUNK_FRAMES = 20_000
#: Videos are split further (while the cluster has fewer tasks than threads) only
#: down to ranges of this many frames: below it the seek and the first batch cost
#: more than the parallelism gains.
MIN_CHUNK_FRAMES = 1_000
#: Seconds between two progress events of one task.
_EVENT_INTERVAL = 0.5
#: Dask event topic of each predictor load on a worker: ``{"worker", "snapshot", "backend",
#: "threads", "seconds"}`` (``client.get_events(LOAD_TOPIC)``).
LOAD_TOPIC = "posekit-predictor-load"
#: Predictors a worker keeps (most recently used): one network per run, with room
#: for a second without reloading the first.
_CACHED_PREDICTORS = 2


# --------------------------------------------------------------------------- #
# Planning the tasks
# --------------------------------------------------------------------------- #


def plan_ranges(frame_counts: Sequence[int], chunk_frames: int = DEFAULT_CHUNK_FRAMES,
                slots: int = 0) -> list[list[tuple[int, int | None]]]:
    """Split videos into the frame ranges of one task each.

    Each video gets ``ceil(n / chunk_frames)`` ranges of nearly equal length; then,
    while there are fewer ranges in all than ``slots``, the video with the longest
    ranges gets one more, as long as its ranges keep at least
    ``min(MIN_CHUNK_FRAMES, chunk_frames)`` frames. The last range of a video runs
    to its end (``stop=None``), so a video longer than its stated count loses no frame.

    Parameters
    ----------
    frame_counts
        Frames each video's container states (0: unknown, one range).
    chunk_frames
        Most frames per range.
    slots
        Tasks the cluster runs at once (its threads); 0: do not split for it.

    Returns
    -------
    list of list of (start, stop)
        Per video, its ranges in frame order.
    """
    if int(chunk_frames) < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}.")
    counts = [max(int(n), 0) for n in frame_counts]
    pieces = [max(1, math.ceil(n / chunk_frames)) for n in counts]
    floor = min(MIN_CHUNK_FRAMES, int(chunk_frames))
    while sum(pieces) < slots:
        longest = max(range(len(counts)), key=lambda i: counts[i] / pieces[i], default=None)
        if longest is None or counts[longest] / (pieces[longest] + 1) < floor:
            break
        pieces[longest] += 1
    ranges = []
    for n, k in zip(counts, pieces, strict=True):
        starts = [i * n // k for i in range(k)]
        ranges.append([*itertools.pairwise(starts), (starts[-1], None)])
    return ranges


# --------------------------------------------------------------------------- #
# On the workers
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class PredictorSpec:
    """Which predictor a task needs (what :func:`worker_predictor` loads and caches).

    Attributes
    ----------
    config : str
        The project's ``config.yaml`` (a path the worker can read).
    shuffle, trainingsetindex : int
    snapshot : str
        The ``snapshot-<n>.msgpack`` file.
    batch_size : int
    backend : str
        As for :func:`~posekit.predict.predictor.load_predictor` (``"auto"`` is
        resolved on the worker: JAX where it has a GPU, ONNX Runtime on a CPU).
    scorer : str
        The scorer the client named the files after; the worker's network must match.
    precision : str
        ``"fp32"``, ``"int8"`` or ``"bf16"`` (:mod:`posekit.predict.quantize`).
    """

    config: str
    shuffle: int
    trainingsetindex: int
    snapshot: str
    batch_size: int
    backend: str
    scorer: str
    precision: str = "fp32"


_predictors: OrderedDict[tuple, Predictor] = OrderedDict()
_predictors_lock = threading.Lock()


def worker_threads() -> int:
    """Intra-op threads for a predictor on this Dask worker: its thread count, at most its usable cores.

    The worker's ``nthreads`` is the share of the machine its deployer gave it
    (``LocalCluster`` splits the cores among its workers, ``SLURMCluster`` gives
    ``cores / processes``, dask-gateway ``worker_cores``), and the worker knows it
    without asking the scheduler. Counting the workers on the host instead would
    miss other jobs' workers on a shared node and change as workers come and go.
    Tasks on one worker share its predictor, so a 1 worker x 2 threads worker
    runs its network on 2 threads, as a 2 x 1 cluster does in all. Outside a
    worker: every usable core (the local run's default).
    """
    from posekit.predict.onnx_backend import usable_cores

    try:
        from distributed import get_worker

        nthreads = get_worker().state.nthreads
    except (ImportError, ValueError):  # not in a Dask worker
        return usable_cores()
    return max(1, min(int(nthreads), usable_cores()))


def worker_predictor(spec: PredictorSpec) -> Predictor:
    """The predictor of ``spec``, loaded once per process (per snapshot file, backend and batch size).

    Tasks of a run share it, and so do the threads of a worker (loading holds a lock).
    Its ONNX Runtime session runs on :func:`worker_threads` threads; each load is
    logged as an event on :data:`LOAD_TOPIC`.

    Raises
    ------
    RuntimeError
        If the snapshot's scorer is not the one the client planned (the snapshot
        changed on disk between planning and loading).
    """
    from posekit.predict.predictor import load_predictor

    snapshot = Path(spec.snapshot)
    key = (str(snapshot), snapshot.stat().st_mtime_ns, spec.backend, spec.batch_size, spec.precision)
    with _predictors_lock:
        if key in _predictors:
            _predictors.move_to_end(key)
            return _predictors[key]
        threads = worker_threads()
        t0 = time.perf_counter()
        predictor = load_predictor(spec.config, spec.shuffle, spec.trainingsetindex, snapshot=snapshot,
                                   batch_size=spec.batch_size, backend=spec.backend, threads=threads,
                                   precision=spec.precision)
        _log_load(snapshot, predictor.backend, threads, time.perf_counter() - t0)
        if predictor.scorer != spec.scorer:
            raise RuntimeError(f"'{snapshot}' is scorer {predictor.scorer} on this worker, but the client planned "
                               f"{spec.scorer}; did the snapshot change during the run? Run analyze_videos again.")
        _predictors[key] = predictor
        while len(_predictors) > _CACHED_PREDICTORS:
            _predictors.popitem(last=False)
        return predictor


def _log_load(snapshot: Path, backend: str, threads: int, seconds: float) -> None:
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:  # called outside a worker: no one to tell
        return
    worker.log_event(LOAD_TOPIC, {"worker": worker.address, "snapshot": str(snapshot), "backend": backend,
                                  "threads": threads, "seconds": seconds})


# Warnings on a worker go to its log, which the notebook never shows. A task collects
# those of its thread (and, when it is the only task running in the process, those of
# its helper threads: frame prefetch, ONNX Runtime's runner) and returns them. One
# process-wide hook, as warnings.catch_warnings is not thread-safe.
_collectors: dict[int, list[tuple[type[Warning], str]]] = {}
_collectors_lock = threading.Lock()
_showwarning_before: Callable[..., Any] | None = None


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    with _collectors_lock:
        target = _collectors.get(threading.get_ident())
        if target is None and len(_collectors) == 1:
            (target,) = _collectors.values()
    if target is None:
        _showwarning_before(message, category, filename, lineno, file, line)
    else:
        target.append((category, str(message)))


@contextmanager
def _collect_warnings() -> Iterator[list[tuple[type[Warning], str]]]:
    global _showwarning_before
    records: list[tuple[type[Warning], str]] = []
    with _collectors_lock:
        if warnings.showwarning is not _show_warning:
            _showwarning_before, warnings.showwarning = warnings.showwarning, _show_warning
        _collectors[threading.get_ident()] = records
    try:
        yield records
    finally:
        with _collectors_lock:
            del _collectors[threading.get_ident()]


@dataclass
class _Outcome:
    """What a task returns: its function's value and the warnings raised while it ran."""

    value: Any
    warnings: list[tuple[type[Warning], str]] = field(default_factory=list)


def _call_collecting(function: Callable[..., Any], *args: Any) -> _Outcome:
    """``function(*args)`` on a worker, with the warnings it raised."""
    with _collect_warnings() as records:
        value = function(*args)
    return _Outcome(value, records)


def _rewarn(video: Path, outcome: _Outcome, seen: set) -> None:
    """Raise a task's worker-side warnings on the client, naming the video (each text once per video)."""
    for category, text in outcome.warnings:
        if (category, text) in seen:
            continue
        seen.add((category, text))
        try:
            warnings.warn(f"'{video.name}' (on a Dask worker): {text}", category, stacklevel=3)
        except TypeError:  # a category whose constructor wants more than the message
            warnings.warn(f"'{video.name}' (on a Dask worker): {category.__name__}: {text}", stacklevel=3)


class _EventProgress:
    """A tqdm-like ``update(n)`` that logs the task's frame count as a Dask event, at most every 0.5 s."""

    def __init__(self, topic: str, video: str, start: int) -> None:
        from distributed import get_worker

        self._worker = get_worker()
        self._topic, self._video, self._start = topic, video, start
        self._frames = 0
        self._last = 0.0

    def update(self, n: int) -> None:
        self._frames += n
        now = time.monotonic()
        if now - self._last >= _EVENT_INTERVAL:
            self._last = now
            self._send()

    def _send(self) -> None:
        self._worker.log_event(self._topic, {"video": self._video, "start": self._start, "frames": self._frames})

    def close(self) -> None:
        self._send()


def predict_range(spec: PredictorSpec, video: str, crop: tuple[int, int, int, int] | None, start: int,
                  stop: int | None, topic: str | None = None) -> FramePredictions:
    """One task: predict frames ``[start, stop)`` of ``video`` on a worker; return the poses.

    Writes nothing, so Dask may run it again elsewhere when a worker dies. With
    ``topic``, the frame count is logged as Dask events (for the client's progress).
    """
    progress = None if topic is None else (lambda _total: _EventProgress(topic, video, start))
    return predict_video_range(worker_predictor(spec), Path(video), crop, start, stop, progress=progress)


# --------------------------------------------------------------------------- #
# Progress (a plain object: a widget or a tqdm bar renders it)
# --------------------------------------------------------------------------- #


@dataclass
class VideoProgress:
    """One video of a cluster run.

    Attributes
    ----------
    video : Path
    frames_total : int
        Frames its container states (0: unknown).
    frames_done : int
        Frames predicted so far.
    state : str
        ``"queued"``, ``"running"``, ``"done"``, ``"skipped"`` or ``"failed"``.
    error : str or None
        Why it failed.
    """

    video: Path
    frames_total: int = 0
    frames_done: int = 0
    state: str = "queued"
    error: str | None = None


Listener = Callable[["ClusterProgress"], None]


class ClusterProgress:
    """Progress of :func:`analyze_videos_on_cluster`: per video, overall frames/s, the dashboard.

    Listeners (a widget, a tqdm bar) are called with this object after every
    change, from the thread that made it (the client's event thread for worker
    events).

    Attributes
    ----------
    videos : dict of Path to VideoProgress
    dashboard_link : str or None
        The Dask dashboard of the cluster.
    started : float or None
        ``time.monotonic()`` when the tasks were submitted.
    finished : bool
    """

    def __init__(self) -> None:
        self.videos: dict[Path, VideoProgress] = {}
        self.dashboard_link: str | None = None
        self.started: float | None = None
        self.finished = False
        self._ranges: dict[tuple[Path, int], int] = {}
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(self)`` after every change."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener(self)

    @property
    def frames_done(self) -> int:
        """Frames predicted so far, over all videos."""
        return sum(v.frames_done for v in self.videos.values())

    @property
    def frames_total(self) -> int:
        """Frames to predict (stated counts of the videos not skipped)."""
        return sum(v.frames_total for v in self.videos.values() if v.state != "skipped")

    @property
    def frames_per_second(self) -> float:
        """Overall rate since the tasks were submitted (frames of all workers per wall second)."""
        if self.started is None:
            return float("nan")
        elapsed = time.monotonic() - self.started
        return self.frames_done / elapsed if elapsed > 0 else float("nan")

    def count(self, state: str) -> int:
        """Videos in ``state``."""
        return sum(v.state == state for v in self.videos.values())

    def add(self, video: Path, frames_total: int = 0, state: str = "queued", error: str | None = None) -> None:
        """Register a video (``state="skipped"`` or ``"failed"`` for one that gets no task)."""
        with self._lock:
            self.videos[video] = VideoProgress(video, frames_total, state=state, error=error)
        self._notify()

    def start(self, dashboard_link: str | None) -> None:
        """The tasks are submitted: the frames/s clock starts."""
        self.dashboard_link, self.started = dashboard_link, time.monotonic()
        self._notify()

    def range_frames(self, video: Path, start: int, frames: int) -> None:
        """A task of ``video`` from frame ``start`` has predicted ``frames`` frames.

        A task run again after its worker died counts from 0 again, replacing its count.
        """
        with self._lock:
            entry = self.videos.get(video)
            if entry is None or entry.state in ("done", "failed"):
                return  # a late event
            self._ranges[video, start] = frames
            entry.frames_done = sum(n for (v, _), n in self._ranges.items() if v == video)
            entry.state = "running"
        self._notify()

    def end_video(self, video: Path, frames: int | None, error: str | None = None) -> None:
        """``video`` is written with ``frames`` frames, or failed with ``error``."""
        with self._lock:
            entry = self.videos[video]
            entry.state = "failed" if error is not None else "done"
            entry.error = error
            if frames is not None:
                entry.frames_done = frames
        self._notify()

    def end(self) -> None:
        """Every video is done, skipped or failed."""
        self.finished = True
        self._notify()

    def describe(self) -> str:
        """One line: videos done/skipped/failed, frames, frames/s."""
        rate = self.frames_per_second
        return (f"{self.count('done')}/{len(self.videos)} videos done, {self.count('skipped')} skipped, "
                f"{self.count('failed')} failed; {self.frames_done} frames"
                + (f", {rate:.1f} frames/s" if rate == rate else ""))


class _TqdmProgress:
    """Scripts: one tqdm bar of the frames of all videos, and a line per video finished."""

    def __init__(self) -> None:
        self._bar = None
        self._shown = 0
        self._reported: set[Path] = set()

    def __call__(self, progress: ClusterProgress) -> None:
        from tqdm.auto import tqdm

        if progress.started is None:
            return
        if self._bar is None:
            self._bar = tqdm(total=progress.frames_total or None, unit="frames", desc="analyze_videos (dask)",
                             dynamic_ncols=True)
        done = progress.frames_done
        if done > self._shown:
            self._bar.update(done - self._shown)
            self._shown = done
        for entry in progress.videos.values():
            if entry.state in ("done", "failed") and entry.video not in self._reported:
                self._reported.add(entry.video)
                text = f"FAILED: {entry.error}" if entry.error else f"{entry.frames_done} frames written"
                self._bar.write(f"{entry.video.name}: {text}")
        if progress.finished:
            self._bar.close()


# --------------------------------------------------------------------------- #
# On the client
# --------------------------------------------------------------------------- #


def _failure_text(future) -> str:
    if future.status == "cancelled":
        return "its task was cancelled (the cluster shut down?)"
    exc = future.exception()
    return f"{type(exc).__name__}: {exc}"


def _stated_frames(video: Path) -> int:
    from posekit.io.video import VideoReader

    with VideoReader(video) as reader:
        return reader.metadata_n_frames


def analyze_videos_on_cluster(
    client: Client,
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
    *,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    backend: str = "auto",
    progress: ClusterProgress | None = None,
    precision: str = "auto",
) -> AnalysisResult:
    """:func:`~posekit.predict.analyze.analyze_videos` on a Dask cluster: same files, same skip rule.

    Every worker must read the project and the videos at the paths given here (a
    shared filesystem); the client writes the outputs (it needs write access to
    them, the workers do not).

    Parameters
    ----------
    client
        A ``dask.distributed.Client``.
    config, videos, videotype, shuffle, trainingsetindex, save_as_csv, batchsize, cropping, destfolder, overwrite
        As for :func:`~posekit.predict.analyze.analyze_videos`.
    chunk_frames
        Most frames per task: a longer video is split into frame ranges (see
        :func:`plan_ranges`), predicted in parallel and joined in frame order.
    backend
        Predictor backend on the workers (``"auto"``: each worker's own choice).
    progress
        Receives the run's progress (default: a tqdm bar).
    precision
        ``"auto"`` (default), ``"fp32"``, ``"int8"`` or ``"bf16"``, as for the
        local run. ``"auto"`` is decided once, by a worker for its own CPU and
        backend (:func:`~posekit.predict.quantize.auto_precision`; set
        ``POSEKIT_PRECISION`` in the workers' environment to override it), and
        every task runs that precision. With ``"int8"`` the first worker to need
        it quantizes the snapshot (others may at the same time; the atomic write
        keeps one) and later runs reuse the ``snapshot-<n>.int8.onnx`` file.

    Returns
    -------
    AnalysisResult
        As the local run's; a video that failed has ``error`` set (and no files).

    Raises
    ------
    FileNotFoundError, ValueError, OSError
        As the local run, before any task is submitted.
    """
    plan = plan_analysis(config, videos, videotype, shuffle, trainingsetindex, save_as_csv, batchsize,
                         cropping, destfolder, overwrite, precision=precision, backend=backend,
                         decide_precision=functools.partial(_worker_precision, client))
    if progress is None:
        progress = ClusterProgress()
        progress.subscribe(_TqdmProgress())
    records: dict[Path, VideoAnalysis] = {}
    todo = []
    for video, paths in plan.videos.items():
        if already_analysed(plan, video):
            records[video] = VideoAnalysis(video=video, paths=paths, skipped=True)
            progress.add(video, state="skipped")
        else:
            check_writable(paths.h5.parent, plan.destfolder)
            todo.append(video)
    with ThreadPoolExecutor(8) as pool:  # ffprobe each video (a network filesystem: in parallel)
        probes = list(pool.map(_probe_or_error, todo))
    counts = {}
    for video, (stated, error) in zip(todo, probes, strict=True):
        if error is None:
            counts[video] = stated
            progress.add(video, stated)
        else:
            records[video] = _failed(plan, video, error)
            progress.add(video, state="failed", error=error)
    ranges = dict(zip(counts, plan_ranges(list(counts.values()), chunk_frames, sum(client.nthreads().values())),
                      strict=True))
    _run_tasks(client, plan, ranges, records, progress, backend)
    progress.end()
    result = AnalysisResult(plan.model.scorer, [records[v] for v in plan.videos])
    print(result.summary())
    return result


def _worker_precision(client: Client, backend: str) -> str:
    """What ``precision="auto"`` runs on a worker (its CPU and backend; the cluster is taken as alike)."""
    from posekit.predict.quantize import auto_precision

    return client.submit(auto_precision, backend, key=f"posekit-precision-{uuid.uuid4().hex[:8]}",
                         pure=False).result()


def _probe_or_error(video: Path) -> tuple[int, str | None]:
    try:
        return _stated_frames(video), None
    except (OSError, VideoError) as exc:
        return 0, f"{type(exc).__name__}: {exc}"


def _failed(plan: AnalysisPlan, video: Path, error: str) -> VideoAnalysis:
    print(f"'{video.name}' could not be analysed ({error}); the other videos go on.")
    return VideoAnalysis(video=video, paths=plan.videos[video], error=error)


def _run_tasks(client: Client, plan: AnalysisPlan, ranges: Mapping[Path, list[tuple[int, int | None]]],
               records: dict[Path, VideoAnalysis], progress: ClusterProgress, backend: str) -> None:
    """Submit every range, write each video as its last range arrives (in this thread)."""
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    topic = f"posekit-analyze-{token}"
    model = plan.model
    spec = PredictorSpec(str(plan.project.config_path), plan.shuffle, plan.trainingsetindex, str(model.snapshot),
                         model.batch_size, backend, model.scorer, plan.precision)
    client.subscribe_topic(topic, lambda event: progress.range_frames(
        Path(event[1]["video"]), event[1]["start"], event[1]["frames"]))
    futures = {}
    started = {}
    try:
        for rank, (video, video_ranges) in enumerate(ranges.items()):
            started[video] = time.time()
            for start, stop in video_ranges:
                # earlier videos first, so that their files are written as the run goes
                future = client.submit(_call_collecting, predict_range, spec, str(video), plan.crop, start, stop,
                                       topic,
                                       key=f"posekit-analyze-{video.stem}-{start}-{token}", priority=-rank,
                                       pure=False)
                futures[future] = (video, start)
        progress.start(client.dashboard_link)
        parts: dict[Path, list[FramePredictions]] = {video: [] for video in ranges}
        warned: dict[Path, set] = {video: set() for video in ranges}
        for future in as_completed(list(futures)):
            video, start = futures.pop(future)
            if video in records:  # failed already: its other ranges are cancelled
                continue
            if future.status != "finished":
                error = _failure_text(future)
                records[video] = _failed(plan, video, error)
                client.cancel([f for f, (v, _) in futures.items() if v == video])
                progress.end_video(video, None, error)
                continue
            outcome = future.result()
            del future  # the poses now live here only
            _rewarn(video, outcome, warned[video])
            parts[video].append(outcome.value)
            if len(parts[video]) < len(ranges[video]):
                continue
            try:
                records[video] = write_analysis(plan, video, join_ranges(parts.pop(video)), started[video])
            except VideoError as exc:
                records[video] = _failed(plan, video, str(exc))
                progress.end_video(video, None, str(exc))
            else:
                progress.end_video(video, records[video].nframes)
    finally:
        client.cancel(list(futures))  # an error or an interrupt here: stop the cluster's work
        client.unsubscribe_topic(topic)


def map_videos(client: Client, jobs: Mapping[Path, Callable[[], Any]], verb: str) -> tuple[dict[Path, Any],
                                                                                            dict[Path, str]]:
    """Run one Dask task per video: ``jobs[video]()`` on a worker.

    For the per-video verbs (``create_labeled_video``, ``filterpredictions``): each
    job writes its own files, atomically, so a task run again after its worker
    died leaves the same files. The workers need the videos and analyses at the
    same paths (a shared filesystem). Warnings a job raises on its worker are
    raised again here, naming the video.

    Parameters
    ----------
    client
        A ``dask.distributed.Client``.
    jobs
        Per video, a picklable function of no argument (a ``functools.partial``).
    verb
        Names the tasks on the dashboard.

    Returns
    -------
    results : dict of Path to Any
        What each job returned, in the order of ``jobs``.
    failures : dict of Path to str
        The videos whose job raised, and what (the others went on).
    """
    from distributed import wait

    token = uuid.uuid4().hex[:8]
    futures = {video: client.submit(_call_collecting, job, key=f"posekit-{verb}-{video.stem}-{token}", pure=False)
               for video, job in jobs.items()}
    try:
        wait(list(futures.values()))
        results, failures = {}, {}
        for video, future in futures.items():
            if future.status == "finished":
                outcome = future.result()
                _rewarn(video, outcome, set())
                results[video] = outcome.value
            else:
                failures[video] = _failure_text(future)
                print(f"{verb}: '{video.name}' failed ({failures[video]}); the other videos went on.")
        return results, failures
    finally:
        client.cancel(list(futures.values()))

