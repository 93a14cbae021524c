"""The frame loop: a video's frames in, one pose per frame out.

The video is streamed, never held: ffmpeg decodes in a background thread
(:meth:`posekit.io.video.VideoReader.iter_frames`) while the network runs on
the previous batch. Per batch the loop

1. fills a preallocated ``(batch, H, W, 3)`` uint8 buffer with the decoded
   frames (numpy copies, nothing else per frame in Python),
2. dispatches it with :meth:`Predictor.predict_async` (returns at once),
3. only then reads the results of the batch before (which blocks until the
   device is done) into the preallocated ``(n, J, 3)`` output,

so decoding batch ``k + 1`` overlaps the device computing batch ``k``. Two
buffers alternate: a buffer is refilled only after its batch's results were
read. Every batch has the same shape (the last is padded), so the network is
compiled once per frame size; uint8 to float conversion, normalisation and
the argmax decoding all run inside the jitted function.

:func:`predict_video_range` predicts a range of a video's frames (a local run
the whole video, a Dask worker one range of it) and, for the range that starts
at frame 0, scans the file for damage with a demux pass in parallel;
:func:`join_ranges` joins a video's ranges. :mod:`posekit.predict.analyze`
writes the analysis files from the result.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.errors import VideoError
from posekit.predict.batches import read_batch, with_room
from posekit.predict.dynamic_crop import DynamicCropping, predict_frames_dynamic
from posekit.utils.process import run

__all__ = ["FramePredictions", "join_ranges", "predict_frames", "predict_video_range"]

# ffmpeg messages (demux pass) that mean the file is damaged or cut short.
_DAMAGE_MARKERS = ("corrupt", "partial file", "truncat", "premature", "invalid data found",
                   "moov atom not found")


# --------------------------------------------------------------------------- #
# Integrity check (a demux pass in parallel with the analysis)
# --------------------------------------------------------------------------- #


class _DamageScan:
    """Runs ``ffmpeg -c copy -f null`` on the file in a thread; collects damage messages.

    Demuxing without decoding is cheap (well under a second for 10 000 frames)
    and reports what sequential decoding hides: a truncated last packet still
    decodes (half grey) but the demuxer flags it corrupt.
    """

    def __init__(self, path: Path):
        from posekit.io.ffmpeg import _ffmpeg

        self.messages: list[str] = []
        self._cmd = [_ffmpeg(), "-hide_banner", "-nostdin", "-nostats",
                     "-v", "warning", "-i", str(path), "-map", "0:v:0", "-c", "copy",
                     "-f", "null", "-"]
        self._thread = threading.Thread(target=self._run, daemon=True, name="posekit-damage-scan")
        self._thread.start()

    def _run(self) -> None:
        try:
            res = run(self._cmd, check=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                      stderr=subprocess.PIPE, timeout=600)
        except (OSError, subprocess.TimeoutExpired):
            return
        for line in res.stderr.decode("utf-8", "replace").splitlines():
            text = line.split("]", 1)[-1].strip() if line.startswith("[") else line.strip()
            if any(m in text.lower() for m in _DAMAGE_MARKERS):
                self.messages.append(text.rstrip("."))

    def result(self) -> list[str]:
        self._thread.join()
        return self.messages


# --------------------------------------------------------------------------- #
# The loop
# --------------------------------------------------------------------------- #


def predict_frames(predictor, frames: Iterable[tuple[int, np.ndarray]], shape: tuple[int, int, int],
                   capacity: int = 0, progress=None,
                   stats: dict[str, float] | None = None) -> tuple[np.ndarray, Exception | None]:
    """Run ``predictor`` over a stream of ``(index, frame)`` pairs, overlapping I/O and device.

    Parameters
    ----------
    predictor
        A :class:`~posekit.predict.predictor.Predictor`; every batch has its
        ``batch_size`` (the last one is padded with stale frames whose results
        are dropped).
    frames
        ``(index, (H, W, 3) uint8)`` pairs, e.g. ``VideoReader.iter_frames()``.
    shape
        ``(H, W, 3)`` of the frames.
    capacity
        Expected number of frames (the output is preallocated; it grows if needed).
    progress
        Object with ``update(n)`` (a tqdm bar), called once per batch.
    stats
        If given, receives ``first_dispatch_s``: seconds the first batch's
        dispatch took (tracing and compiling happen there, once per frame size).

    Returns
    -------
    poses : numpy.ndarray
        ``(n, J, 3)`` float32, one row per frame delivered.
    failure : Exception or None
        A :class:`~posekit.errors.VideoError` that stopped the stream after
        some frames (the frames before it are in ``poses``).
    """
    batch = int(predictor.batch_size)
    joints = len(predictor.bodyparts)
    out = np.empty((max(int(capacity), batch), joints, 3), np.float32)
    buffers = (np.zeros((batch, *shape), np.uint8), np.zeros((batch, *shape), np.uint8))
    frames = iter(frames)
    pending = None  # (device array, first row, rows)
    n = 0
    k = 0
    failure: Exception | None = None

    def collect(item) -> None:
        nonlocal out
        result, start, count = item
        values = np.asarray(result)  # waits for the device
        out = with_room(out, start, start + count)
        out[start:start + count] = values[:count]
        if progress is not None:
            progress.update(count)

    while failure is None:
        buf = buffers[k & 1]
        count, failure = read_batch(frames, buf, n)
        if count == 0:
            break
        t0 = time.perf_counter()
        dispatched = predictor.predict_async(buf)  # batch k runs ...
        if k == 0 and stats is not None:
            stats["first_dispatch_s"] = time.perf_counter() - t0
        if pending is not None:
            collect(pending)  # ... while batch k-1's results are read
        pending = (dispatched, n, count)
        n += count
        k += 1
        if count < batch:
            break
    if pending is not None:
        collect(pending)
    return out[:n], failure


@dataclass
class FramePredictions:
    """The poses of frames ``[start, start + len(poses))`` of one video, and what decoding met.

    Attributes
    ----------
    start : int
        First frame.
    poses : numpy.ndarray
        ``(n, J, 3)`` float32.
    requested : int or None
        Frames asked for (None: up to the end of the video).
    failure : str or None
        The decoding error that ended the range early.
    frames_stated : int
        Frame count the container states (0 when unknown).
    fps : float
    full_height, full_width : int
        Size of the source frames.
    seconds : float
        Wall time of decoding + prediction.
    startup_seconds : float
        Part of ``seconds`` spent dispatching the first batch (compilation).
    damage : list of str
        ffmpeg's damage messages about the file (scanned with the range that starts at 0).
    frames_cropped : int
        Frames predicted from a window around the animal (dynamic cropping).
    """

    start: int
    poses: np.ndarray
    requested: int | None
    failure: str | None
    frames_stated: int
    fps: float
    full_height: int
    full_width: int
    seconds: float
    startup_seconds: float
    damage: list[str]
    frames_cropped: int = 0

    @property
    def stop(self) -> int:
        """One past the last frame predicted."""
        return self.start + len(self.poses)

    @property
    def short(self) -> bool:
        """Whether the range ended before ``requested`` frames (end of video or failure)."""
        return self.failure is not None or (self.requested is not None and len(self.poses) < self.requested)


def predict_video_range(predictor, video: Path, crop: tuple[int, int, int, int] | None,
                        start: int = 0, stop: int | None = None,
                        progress: Callable[[int], Any] | None = None,
                        dynamic: DynamicCropping | None = None) -> FramePredictions:
    """Predict the frames ``[start, stop)`` of a video (``stop=None``: to its end).

    The prediction step of every run: a local run predicts whole videos, Dask
    workers predict frame ranges of them (:mod:`posekit.predict.distributed`). The
    range that starts at frame 0 also scans the whole file for damage (demux only,
    in parallel).

    Parameters
    ----------
    predictor
        A loaded :class:`~posekit.predict.predictor.Predictor`.
    video
        The video file.
    crop
        ``(x1, x2, y1, y2)`` or None.
    start, stop
        The frame range.
    progress
        Called with the expected number of frames (0: unknown); returns an object
        with ``update(n)`` and ``close()`` (a tqdm bar).
    dynamic
        Dynamic cropping (:mod:`posekit.predict.dynamic_crop`); a range starts on full frames.

    Returns
    -------
    FramePredictions

    Raises
    ------
    VideoError
        If the video cannot be opened, or its first frame does not decode.
    """
    from posekit.io.video import VideoReader

    scan = _DamageScan(video) if start == 0 else None
    with VideoReader(video, crop=crop) as reader:
        stated = reader.metadata_n_frames
        end = stated if stop is None else (min(stop, stated) if stated else stop)
        expected = max(end - start, 0)
        bar = progress(expected) if progress is not None else None
        stats: dict[str, Any] = {}
        t0 = time.perf_counter()
        try:
            frames = reader.iter_frames(start, stop, prefetch=max(16, 2 * predictor.batch_size))
            try:
                if dynamic is None:
                    poses, failure = predict_frames(predictor, frames, reader.shape, capacity=expected,
                                                    progress=bar, stats=stats)
                else:
                    poses, failure = predict_frames_dynamic(predictor, frames, reader.shape, dynamic,
                                                            capacity=expected, progress=bar, stats=stats)
            except VideoError as exc:
                if start == 0:
                    raise
                # a later range's first frame failing is, for the whole video, a failure
                # after the previous frame: kept as such, as a local run keeps it
                poses, failure = np.empty((0, len(predictor.bodyparts), 3), np.float32), exc
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - t0
        return FramePredictions(
            start=start, poses=poses, requested=None if stop is None else stop - start,
            failure=None if failure is None else str(failure), frames_stated=stated, fps=reader.fps,
            full_height=reader.full_height, full_width=reader.full_width, seconds=seconds,
            startup_seconds=stats.get("first_dispatch_s", 0.0),
            damage=scan.result() if scan is not None else [],
            frames_cropped=stats.get("frames_cropped", 0),
        )


def join_ranges(parts: Sequence[FramePredictions]) -> FramePredictions:
    """One video's frame ranges joined in frame order, every frame once.

    The ranges must tile the video: the first starts at 0, each next one where the
    one before was asked to stop, and only the last runs to the end. Like a local
    run, the video ends with the first range that came back short (the video ended
    or failed to decode there); frames of later ranges are then dropped, and if
    there were any, the gap is reported in ``failure``.

    Raises
    ------
    ValueError
        If the ranges do not tile the video.
    """
    parts = sorted(parts, key=lambda p: p.start)
    starts = [0] + [p.start + p.requested for p in parts[:-1] if p.requested is not None]
    if not parts or [p.start for p in parts] != starts or parts[-1].requested is not None:
        raise ValueError(f"Frame ranges {[(p.start, p.requested) for p in parts]} do not tile a video.")
    kept = next((parts[: i + 1] for i, p in enumerate(parts) if p.short), parts)
    failure = kept[-1].failure
    dropped = sum(len(p.poses) for p in parts[len(kept):])
    if dropped and failure is None:
        failure = (f"decoding from frame {kept[-1].start} stopped at frame {kept[-1].stop} but {dropped} later "
                   "frames decoded; they were dropped")
    first = parts[0]
    return FramePredictions(
        start=0, poses=np.concatenate([p.poses for p in kept]), requested=None, failure=failure,
        frames_stated=first.frames_stated, fps=first.fps, full_height=first.full_height,
        full_width=first.full_width, seconds=sum(p.seconds for p in kept),
        startup_seconds=sum(p.startup_seconds for p in kept), damage=first.damage,
        frames_cropped=sum(p.frames_cropped for p in kept),
    )
