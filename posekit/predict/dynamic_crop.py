"""Dynamic cropping (DeepLabCut's ``analyze_videos(dynamic=(True, pcutoff, margin))``).

After a confident detection only a window around the animal is analysed; the
window follows the animal from batch to batch, and the analysis goes back to
the full frame as soon as confidence drops. Predictions are mapped back to
full-frame coordinates, so the files look exactly like a full-frame analysis.

The rules, and where they differ from DeepLabCut 2's ``GetPoseDynamic``:

* **Detection.** DeepLabCut counts a frame as detected when *any* body part is
  above ``pcutoff``. Here a frame is *tracked* when at least half of the body
  parts are (:data:`MIN_CONFIDENT_FRACTION`): one confident part is too weak a
  sign that the window still holds the animal, while asking for *all* parts
  would drop back to the full frame whenever one part is occluded.
* **Window.** The bounding box of the confident body parts, grown by
  ``margin`` pixels on each side (DeepLabCut takes every part, confident or
  not: one wild low-likelihood guess then makes the window as large as the
  frame). The window is a square whose side is the box's longer side rounded
  up to one of a few fixed sizes (:data:`BUCKETS`), so the network meets only
  a handful of input shapes and compiles once per shape, not once per frame. The window's corner sits on the
  backbone's downsampling grid (a multiple of the output stride), so the
  network computes on the same pixel grid as on the full frame and the
  predictions agree with full-frame ones up to the effects of the window's
  border (a wide enough ``margin`` keeps the animal away from it). Only at
  the right/bottom edge of a frame whose size is not a multiple of the output
  stride is the window shifted off the grid, to stay inside the frame.
* **Batches.** The window for a batch comes from the last frame of the
  previous batch (with ``batchsize=1`` this is DeepLabCut's frame-by-frame
  rule), so ``margin`` must cover how far the animal moves within a batch.
* **Lost.** A cropped frame that is no longer tracked is analysed again on
  the full frame (as DeepLabCut does), and the next batch starts from the full
  frame.

How close to full-frame predictions: inside a window the network sees zero
padding where the full frame has the animal's surroundings, and a ResNet looks
far around each pixel, so a small ``margin`` (DeepLabCut's default is 10) is
fast but moves predictions by pixels; a margin of the order of the network's
effective receptive field makes them agree. ``benchmarks/bench_dynamic_crop.py``
measures both on a 1280x1024 arena.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from posekit.errors import VideoError
from posekit.predict.batches import read_batch, with_room

__all__ = ["BUCKETS", "MIN_CONFIDENT_FRACTION", "DynamicCropping", "Window", "crop_window", "detection_box",
           "parse_dynamic", "predict_frames_dynamic", "tracked"]

#: Window sizes (pixels, per axis) the network meets; a size at least as large as the frame means the
#: whole axis. Steps of 1.5x (about 2.25x in area): at most about half of a window is slack.
BUCKETS = (64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192)

#: A frame is tracked when at least this fraction of the body parts is above ``pcutoff``.
MIN_CONFIDENT_FRACTION = 0.5


@dataclass(frozen=True)
class DynamicCropping:
    """Validated dynamic-cropping settings.

    Attributes
    ----------
    pcutoff : float
        Likelihood above which a body part counts as detected (0 <= pcutoff < 1).
    margin : int
        Pixels added on each side of the detected body parts' bounding box.
    """

    pcutoff: float
    margin: int

    def as_dlc(self) -> list:
        """DeepLabCut's ``[True, pcutoff, margin]`` (for the metadata file)."""
        return [True, self.pcutoff, self.margin]


def parse_dynamic(dynamic: Any) -> DynamicCropping | None:
    """Validate DeepLabCut's ``dynamic=(state, pcutoff, margin)`` argument.

    Parameters
    ----------
    dynamic
        ``(False, ...)``, ``None`` or ``False``: no dynamic cropping;
        ``(True, pcutoff, margin)``: crop around the animal once
        ``pcutoff`` (0 <= pcutoff < 1) is exceeded, with ``margin``
        (a whole number of pixels >= 0) around it.

    Returns
    -------
    DynamicCropping or None
        None when dynamic cropping is off.

    Raises
    ------
    ValueError
        ``dynamic`` is not such a triple; the message names the wrong element.
    """
    if dynamic is None or dynamic is False:
        return None
    usage = ("dynamic must be DeepLabCut's triple (state, pcutoff, margin), e.g. (True, 0.5, 10): state True/False, "
             "0 <= pcutoff < 1, margin a whole number of pixels >= 0")
    if isinstance(dynamic, (str, bytes)) or not isinstance(dynamic, Iterable):
        raise ValueError(f"{usage}; got {dynamic!r}.")
    items = tuple(dynamic)
    if len(items) != 3:
        raise ValueError(f"{usage}; got {dynamic!r} ({len(items)} items).")
    state, pcutoff, margin = items
    if not isinstance(state, (bool, np.bool_)):
        raise ValueError(f"{usage}; its state {state!r} is not True or False.")
    if not state:
        return None
    if isinstance(pcutoff, bool) or not isinstance(pcutoff, (int, float, np.number)) \
            or not 0 <= float(pcutoff) < 1:
        raise ValueError(f"{usage}; its pcutoff {pcutoff!r} is not a number in [0, 1).")
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.number)) \
            or not float(margin).is_integer() or margin < 0:
        raise ValueError(f"{usage}; its margin {margin!r} is not a whole number of pixels >= 0.")
    return DynamicCropping(float(pcutoff), int(margin))


@dataclass(frozen=True)
class Window:
    """The part of a frame the network sees: ``frame[y:y + height, x:x + width]``."""

    x: int
    y: int
    width: int
    height: int

    def crop(self, frames: np.ndarray) -> np.ndarray:
        """The window of ``(n, H, W, 3)`` frames (a view)."""
        return frames[:, self.y:self.y + self.height, self.x:self.x + self.width]


def tracked(poses: np.ndarray, pcutoff: float) -> np.ndarray:
    """Which frames hold a confident detection.

    Parameters
    ----------
    poses
        ``(n, J, 3)`` x, y, likelihood.
    pcutoff
        Likelihood threshold (a part counts when strictly above it, as in DeepLabCut).

    Returns
    -------
    numpy.ndarray
        ``(n,)`` bool: at least :data:`MIN_CONFIDENT_FRACTION` of the parts are above ``pcutoff``.
    """
    confident = poses[..., 2] > pcutoff
    return confident.mean(axis=-1) >= MIN_CONFIDENT_FRACTION


def detection_box(pose: np.ndarray, pcutoff: float, margin: int,
                  frame_size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The box around one frame's confident body parts, or None if the frame is not tracked.

    Parameters
    ----------
    pose
        ``(J, 3)`` x, y, likelihood in full-frame pixels.
    pcutoff, margin
        See :class:`DynamicCropping`.
    frame_size
        ``(height, width)`` of the frame.

    Returns
    -------
    tuple of int or None
        ``(x1, y1, x2, y2)``, half-open, clipped to the frame.
    """
    if not tracked(pose[None], pcutoff)[0]:
        return None
    height, width = frame_size
    points = pose[pose[:, 2] > pcutoff, :2]
    x1, y1 = np.floor(points.min(axis=0)).astype(int) - margin
    x2, y2 = np.floor(points.max(axis=0)).astype(int) + 1 + margin
    return max(0, int(x1)), max(0, int(y1)), min(width, int(x2)), min(height, int(y2))


def _bucket(extent: int, previous: int | None) -> int | None:
    """Smallest bucket >= extent (None: larger than all); the previous size if it is the bucket just above.

    Keeping the bucket just above stops an animal whose size hovers at a bucket
    boundary from alternating between two shapes.
    """
    index = next((i for i, size in enumerate(BUCKETS) if size >= extent), None)
    if index is None:
        return None
    if previous is not None and index + 1 < len(BUCKETS) and previous == BUCKETS[index + 1]:
        return previous
    return BUCKETS[index]


def _axis(lo: int, full: int, align: int, size: int | None) -> tuple[int, int]:
    """(start, size) of a window of ``size`` from ``lo`` along one axis, start on the ``align`` grid if it fits."""
    if size is None or size >= full:
        return 0, full
    start = min(lo // align * align, full - size)
    return int(start), int(size)


def crop_window(box: tuple[int, int, int, int], frame_size: tuple[int, int], align: int,
                previous: Window | None = None) -> Window | None:
    """The bucketed, grid-aligned window that holds ``box``, or None when it would be the whole frame.

    Parameters
    ----------
    box
        ``(x1, y1, x2, y2)`` half-open, inside the frame (:func:`detection_box`).
    frame_size
        ``(height, width)``.
    align
        Grid of the window's corner: the network's output stride, so the window
        is computed on the full frame's pixel grid.
    previous
        The last window: its size is kept while it is one bucket larger than
        needed, so an animal near a bucket boundary does not alternate shapes.

    Returns
    -------
    Window or None
        Square (``size`` x ``size``, one bucket for the box's longer side)
        unless an axis is shorter than that: it is then whole. Square, because
        a turning animal's box changes its aspect all the time, and with a
        bucket per axis the network would meet many more shapes (each one a
        compilation with JAX).
    """
    height, width = frame_size
    x1, y1, x2, y2 = box
    # ``align`` of slack: flooring the start to the grid moves it back by up to ``align - 1``.
    size = _bucket(max(x2 - x1, y2 - y1) + align, max(previous.width, previous.height) if previous else None)
    x, w = _axis(x1, width, align, size)
    y, h = _axis(y1, height, align, size)
    if w == width and h == height:
        return None
    return Window(x, y, w, h)


def _align(predictor) -> int:
    """The backbone's output stride (twice the map stride): the grid a window's corner sits on."""
    return max(1, round(2 * float(predictor.model.stride)))


def predict_frames_dynamic(predictor, frames: Iterable[tuple[int, np.ndarray]], shape: tuple[int, int, int],
                           cropping: DynamicCropping, capacity: int = 0, progress=None,
                           stats: dict[str, Any] | None = None) -> tuple[np.ndarray, Exception | None]:
    """Like :func:`posekit.predict.frame_loop.predict_frames`, analysing only a window around the animal.

    Parameters
    ----------
    predictor
        A :class:`~posekit.predict.predictor.Predictor`.
    frames
        ``(index, (H, W, 3) uint8)`` pairs.
    shape
        ``(H, W, 3)`` of the frames.
    cropping
        pcutoff and margin (:func:`parse_dynamic`).
    capacity
        Expected number of frames (the output grows if needed).
    progress
        Object with ``update(n)``, called once per batch.
    stats
        If given, receives ``first_dispatch_s`` (the first batch's call, which
        compiles), ``frames_cropped`` (frames whose prediction came from a
        window), ``frames_refetched`` (cropped frames that lost the animal and
        were analysed again on the full frame) and ``window_shapes`` (frames
        analysed per window ``(height, width)``, the shapes the network saw
        besides the full frame's).

    Returns
    -------
    poses : numpy.ndarray
        ``(n, J, 3)`` float32 in full-frame coordinates.
    failure : Exception or None
        A decoding error that stopped the stream after some frames.
    """
    batch = int(predictor.batch_size)
    joints = len(predictor.bodyparts)
    frame_size = (int(shape[0]), int(shape[1]))
    align = _align(predictor)
    out = np.empty((max(int(capacity), batch), joints, 3), np.float32)
    buf = np.zeros((batch, *shape), np.uint8)
    frames = iter(frames)
    window: Window | None = None
    last_window: Window | None = None
    n = cropped = refetched = 0
    shapes: Counter[tuple[int, int]] = Counter()
    failure: VideoError | None = None
    while failure is None:
        count, failure = read_batch(frames, buf, n)
        if count == 0:
            break
        t0 = time.perf_counter()
        if window is None:
            poses = predictor.predict(buf[:count])
        else:
            poses = np.array(predictor.predict(np.ascontiguousarray(window.crop(buf[:count]))))
            poses[..., 0] += window.x
            poses[..., 1] += window.y
            lost = ~tracked(poses, cropping.pcutoff)
            if lost.any():  # the animal left the window: these frames get the full frame
                poses[lost] = predictor.predict(buf[:count][lost])
            cropped += count - int(lost.sum())
            refetched += int(lost.sum())
            shapes[window.height, window.width] += count
        if n == 0 and stats is not None:
            stats["first_dispatch_s"] = time.perf_counter() - t0
        out = with_room(out, n, n + count)
        out[n:n + count] = poses
        n += count
        if progress is not None:
            progress.update(count)
        box = detection_box(out[n - 1], cropping.pcutoff, cropping.margin, frame_size)
        window = None if box is None else crop_window(box, frame_size, align, last_window)
        last_window = window or last_window
        if count < batch:
            break
    if stats is not None:
        stats.update(frames_cropped=cropped, frames_refetched=refetched, window_shapes=dict(shapes))
    return out[:n], failure
