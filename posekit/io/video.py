"""Frame-exact video reading and simple video writing on top of imageio-ffmpeg.

:class:`VideoReader` returns the frame that truly sits at a 0-based decode
index, the same frame sequential decoding yields at that position, while
random access stays fast on long videos:

* a lazily built *timestamp index* lists the presentation timestamp of every
  video packet (a demux-only ffmpeg pass: no decoding), sorted into
  presentation order, so position ``i`` maps to a timestamp;
* ``read(i)`` seeks with ffmpeg input seeking (``-ss`` before ``-i``, to the
  key frame at or before the frame just before ``i``), keeps the original
  timestamps (``-copyts``), drops the frames before that guard frame inside
  ffmpeg (``select``) and checks the guard frame's timestamp (``showinfo``)
  before trusting the position; if the seek overshot it retries from earlier;
* the end of the index (and everything from a corrupt packet on) is checked
  by decoding those frames when first needed, so truncated files report the
  frames they really hold; indexes are cached per file (path, size, mtime);
* files whose packets carry no timestamps (raw ``.h264`` streams) fall back to
  decoding from the start, which is exact but slow;
* consecutive reads reuse the open ffmpeg stream (a cursor), and
  :meth:`VideoReader.iter_frames` decodes sequentially in a background thread.

The container's own frame count (``metadata_n_frames``) is only informative:
it can be wrong, and :attr:`VideoReader.n_frames` never uses it.

ffmpeg is run directly (the executable from ``imageio_ffmpeg.get_ffmpeg_exe``)
rather than through ``imageio_ffmpeg.read_frames``: exact seeking needs the
per-frame timestamps that ffmpeg logs on stderr, which ``read_frames`` keeps
to itself. Every ffmpeg process is started through :mod:`posekit.utils.process`
(never with ``preexec_fn``, so Python's at-fork hooks do not run).

The ffmpeg process and its frame pipe live in :mod:`posekit.io.ffmpeg`, probing
and the timestamp index in :mod:`posekit.io.video_index`, and
:func:`write_video` in :mod:`posekit.io.video_writer` (re-exported here).
"""

from __future__ import annotations

import math
import operator
import os
import pathlib
import queue
import threading
import warnings
from collections.abc import Iterator

import numpy as np

from posekit.errors import VideoError
from posekit.io.ffmpeg import _SHOWINFO, _FrameStream
from posekit.io.video_index import (
    _MISSING,
    _cache_get,
    _cache_key,
    _cache_put,
    _Index,
    _Probe,
    _scan_packets,
)
from posekit.io.video_writer import write_video

__all__ = ["TruncatedVideoWarning", "VideoReader", "frame_count", "frame_count_problem", "warn_truncated",
           "write_video"]

# Targets at most this many frames into the video are decoded from the start
# instead of seeking.
_FROM_START_MAX = 48
# A cursor this many frames (or fewer) behind the target reads forward instead
# of seeking again.
_FORWARD_SKIP_MAX = 24
# Successive extra margins (seconds) before the guard frame when a seek lands
# after it; after the last one, decode from the start.
_SEEK_MARGINS = (0.0, 2.0, 10.0, 60.0)
# Frames at the end of the timestamp index that are checked by decoding them.
_TAIL_CHECK = 24


def _fmt_seconds(t: float) -> str:
    return f"{t:.6f}"


# --------------------------------------------------------------------------- #
# The reader
# --------------------------------------------------------------------------- #


class _IterState:
    """Shared between an iter_frames generator and its producer thread."""

    def __init__(self):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.stream: _FrameStream | None = None
        self.thread: threading.Thread | None = None


_END = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


class TruncatedVideoWarning(UserWarning):
    """A video ended early or holds corrupt data; the frames that decoded were used."""


def frame_count_problem(decoded: int, stated: int) -> str | None:
    """What is wrong when fewer frames decode than the container states (None if nothing).

    Parameters
    ----------
    decoded : int
        Frames that truly decode (:attr:`VideoReader.n_frames`).
    stated : int
        Frames the container states (:attr:`VideoReader.metadata_n_frames`; 0: unknown).

    Returns
    -------
    str or None
    """
    if stated and decoded < stated:
        return f"the container states {stated} frames but only {decoded} decoded"
    return None


def warn_truncated(video: str | os.PathLike, problem: str, decoded: int, stated: int, used: str,
                   stacklevel: int = 2) -> None:
    """Warn (:class:`TruncatedVideoWarning`) that a video is truncated or damaged.

    One wording for every verb that reads whole videos (``analyze_videos``,
    ``extract_frames``), with the decoded and the stated frame counts.

    Parameters
    ----------
    video : str or os.PathLike
        The video.
    problem : str
        What is wrong, e.g. from :func:`frame_count_problem`.
    decoded, stated : int
        Frames that decoded, frames the container states (0: unknown).
    used : str
        What was done with the decoded frames, e.g. ``"analysed and saved"``.
    stacklevel : int, default 2
        As for :func:`warnings.warn`, counted from the caller of this function.
    """
    warnings.warn(
        f"Video '{video}' is truncated or damaged ({problem}). The {decoded} frame(s) that decoded "
        f"were {used} (nframes={decoded}, frames stated={stated}).",
        TruncatedVideoWarning,
        stacklevel=stacklevel + 1,
    )


class VideoReader:
    """Frame-exact reader for one video file.

    Parameters
    ----------
    path : str or os.PathLike
        The video file.
    crop : tuple of int, optional
        ``(x1, x2, y1, y2)`` in pixels of the source frame, DeepLabCut's order;
        ``x2`` and ``y2`` are exclusive. Every returned frame is
        ``full_frame[y1:y2, x1:x2]``.

    Attributes
    ----------
    path : pathlib.Path
        The video file.
    fps : float
        Frames per second that the container states.
    width, height : int
        Size of the returned frames (after cropping).
    full_width, full_height : int
        Size of the source frames (after ffmpeg's automatic rotation).
    metadata_n_frames : int
        Frame count implied by the container header (duration x fps). It can
        be wrong; :attr:`n_frames` is the true count.
    duration : float
        Duration in seconds stated by the container (0.0 when it states none).
    codec : str
        Codec name as ffmpeg reports it.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    VideoError
        If ffmpeg cannot open or decode the file, or the crop box does not
        fit the frame.

    Notes
    -----
    Frame ``i`` is the ``i``-th frame ffmpeg decodes when reading the file from
    its start (0-based), with no frames dropped or duplicated. Random access
    uses a timestamp index built on first need (a demux-only pass over the
    file); reads are then a seek plus the decoding of at most one group of
    pictures. The reader holds ffmpeg processes: use it as a context manager
    or call :meth:`close`.

    Examples
    --------
    >>> with VideoReader("mouse.mp4", crop=(0, 320, 0, 240)) as video:  # doctest: +SKIP
    ...     frame = video.read(1234)
    ...     for i, frame in video.iter_frames(start=100, step=10):
    ...         pass
    """

    def __init__(self, path: str | os.PathLike,
                 crop: tuple[int, int, int, int] | None = None):
        self.path = pathlib.Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"Video file not found: '{self.path}'.")
        if self.path.is_dir():
            raise VideoError(f"Cannot open video '{self.path}': it is a directory, not "
                             "a video file.")
        probe = _Probe(self.path)
        self._probe = probe
        self.codec: str = probe.codec
        self.fps: float = float(probe.fps)
        self.duration: float = float(probe.duration)
        self.full_width, self.full_height = probe.size
        self.metadata_n_frames: int = (round(self.duration * self.fps)
                                       if self.duration > 0 and self.fps > 0 else 0)
        self.crop: tuple[int, int, int, int] | None = None
        if crop is not None:
            self.crop = self._check_crop(crop)
            x1, x2, y1, y2 = self.crop
            self.width, self.height = x2 - x1, y2 - y1
        else:
            self.width, self.height = self.full_width, self.full_height
        self._lock = threading.RLock()
        self._index: _Index | None = None
        self._index_built = False
        self._index_key: tuple | None = None
        self._n_frames: int | None = None
        self._cursor: _FrameStream | None = None
        self._last: tuple[int, np.ndarray] | None = None
        self._iter_states: list[_IterState] = []
        self._seek_count = 0  # streams opened for read(); for tests and tuning
        self._closed = False

    # ------------------------------------------------------------------ #
    def _check_crop(self, crop) -> tuple[int, int, int, int]:
        try:
            x1, x2, y1, y2 = (operator.index(v) for v in crop)
        except (TypeError, ValueError):
            raise VideoError(f"Crop box {crop!r} for video '{self.path}' must be four "
                             "integers (x1, x2, y1, y2).") from None
        w, h = self.full_width, self.full_height
        if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
            raise VideoError(
                f"Crop box (x1, x2, y1, y2) = {(x1, x2, y1, y2)} does not fit video "
                f"'{self.path}' whose frames are {w}x{h} (width x height); it needs "
                f"0 <= x1 < x2 <= {w} and 0 <= y1 < y2 <= {h}.")
        return (x1, x2, y1, y2)

    def __repr__(self) -> str:
        crop = f", crop={self.crop}" if self.crop else ""
        return (f"VideoReader('{self.path}'{crop}: {self.width}x{self.height}, "
                f"{self.fps:g} fps, {self.metadata_n_frames} frames stated)")

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape ``(height, width, 3)`` of the returned frames."""
        return (self.height, self.width, 3)

    # ------------------------------------------------------------------ #
    # Frame count and index
    # ------------------------------------------------------------------ #
    @property
    def n_frames(self) -> int:
        """True number of decodable frames (computed once, then cached).

        Needs the timestamp index and a decode of the last frames (a demux-only
        pass over the file plus about one group of pictures); files without
        usable timestamps are decoded in full once.
        """
        with self._lock:
            if self._n_frames is None:
                index = self._get_index(verified=True)
                if index is not None:
                    self._n_frames = len(index)
                else:
                    self._n_frames = self._count_by_decoding()
            return self._n_frames

    def _count_by_decoding(self) -> int:
        # decode everything to 1x1 pixels: cheap to transfer, exact count
        stream = self._start_stream([], [], None, want_pts=False, shape=(1, 1, 3))
        n = 0
        try:
            while stream.read() is not None:
                n += 1
        finally:
            stream.close()
        return n

    def _get_index(self, verified: bool = False) -> _Index | None:
        """The timestamp index (built on first use), or None if the file has none.

        With ``verified`` the end of the index is first checked by decoding.
        """
        with self._lock:
            if not self._index_built:
                self._index_key = _cache_key(self.path)
                index = _cache_get(self._index_key)
                if index is _MISSING:
                    index = self._build_index()
                    _cache_put(self._index_key, index)
                self._index, self._index_built = index, True
            if verified and self._index is not None and not self._index.verified:
                self._index = self._verify_tail(self._index)
                _cache_put(self._index_key, self._index)
            return self._index

    def _index_for(self, pos: int) -> _Index | None:
        """The index to seek to ``pos`` with; None: decode from the start."""
        if pos <= _FROM_START_MAX:
            return None
        index = self._get_index()
        if index is not None and pos >= index.tail_start:
            index = self._get_index(verified=True)
        return index

    def _build_index(self) -> _Index | None:
        scanned = _scan_packets(str(self.path))
        probe = self._probe
        if scanned is None or probe.first_pts is None:
            return None
        pts, corrupt, timebase = scanned
        # Head: drop packets the decoder never outputs (edit lists).
        first = _Index(pts, timebase, 0, False).convert(probe.first_pts,
                                                         probe.filter_timebase)
        head = int(np.searchsorted(pts, first, side="left"))
        if head >= len(pts) or pts[head] != first:
            return None
        pts, corrupt = pts[head:], corrupt[head:]
        # Tail, checked when first needed: the last frames and all from the
        # first corrupt packet on (a truncated file's last packet is one).
        tail_start = max(0, len(pts) - _TAIL_CHECK)
        bad = np.flatnonzero(corrupt)
        if bad.size:
            tail_start = max(0, min(tail_start, int(bad[0]) - 2))
        return _Index(pts, timebase, tail_start, verified=False)

    def _verify_tail(self, index: _Index) -> _Index | None:
        """Replace the unchecked end of the index by what the decoder outputs."""
        start = index.tail_start
        decoded = self._decode_timestamps(index, start)
        if decoded is None:
            return None
        tail = np.asarray([index.convert(p, tb) for p, tb in decoded], dtype=np.int64)
        pts = np.concatenate([index.pts[:start], tail])
        if np.any(np.diff(pts) < 0):
            return None
        return _Index(pts, index.timebase, len(pts), verified=True)

    def _decode_timestamps(self, index: _Index, start: int) -> list | None:
        """(pts, time base) of every frame decoded from position ``start`` to the end."""
        tiny = (1, 1, 3)  # frames scaled to one pixel: only the count matters
        opened = None
        if start > _FROM_START_MAX:
            opened = self._open_seek(index, start, 1, None, shape=tiny, keep_pts=None)
        if opened is not None:
            stream, skip = opened
            first = skip + 1  # the guard frame and the rest of the lead-in
        else:
            filters = [f"select=gte(n\\,{start})"] if start > 0 else []
            stream = self._start_stream([], [*filters, _SHOWINFO], None, want_pts=True,
                                        shape=tiny, keep_pts=None)
            first = 0
        try:
            while stream.read() is not None:
                pass
        finally:
            stream.close()
        pts = stream.all_pts()[:stream.n_read]
        if len(pts) != stream.n_read or any(p is None for p in pts):
            return None
        return [(p, stream.timebase) for p in pts[first:]]

    # ------------------------------------------------------------------ #
    # Streams
    # ------------------------------------------------------------------ #
    def _start_stream(self, input_args: list[str], filters: list[str], limit: int | None,
                      want_pts: bool, shape: tuple[int, int, int] | None = None,
                      keep_pts: int | None = 64) -> _FrameStream:
        chain = list(filters)
        if shape is not None and shape[:2] == (1, 1):
            chain.append("scale=1:1")
        else:
            # Convert the whole frame, then crop: pixels equal the uncropped frame's.
            chain.append("format=rgb24")
            if self.crop is not None:
                x1, x2, y1, y2 = self.crop
                chain.append(f"crop={x2 - x1}:{y2 - y1}:{x1}:{y1}:exact=1")
            shape = self.shape
        return _FrameStream(str(self.path), input_args, chain, shape, limit, want_pts,
                            keep_pts)

    @staticmethod
    def _step_filter(lead: int, step: int) -> list[str]:
        """Pass ``lead`` frames, then every ``step``-th frame."""
        if step == 1:
            return []
        if lead == 0:
            return [f"select=not(mod(n\\,{step}))"]
        return [f"select=lt(n\\,{lead})+not(mod(n-{lead}\\,{step}))"]

    def _open_from_start(self, pos: int, step: int, limit: int | None,
                         shape=None) -> _FrameStream:
        filters = []
        if pos > 0:
            filters.append(f"select=gte(n\\,{pos})")
        filters += self._step_filter(0, step)
        stream = self._start_stream([], filters, limit, want_pts=False, shape=shape)
        stream.next_index = pos
        return stream

    def _open_seek(self, index: _Index, pos: int, step: int, limit: int | None,
                   shape=None, keep_pts: int | None = 1) -> tuple[_FrameStream, int] | None:
        """Seek so that the stream's next frames are ``pos``, ``pos+step``, ...

        The stream first outputs lead-in frames from a guard position before
        ``pos``; the first one's timestamp is checked against the index, which
        proves the seek did not land after it. Returns ``(stream, lead)`` with
        the lead-in frames still to be skipped (all but the checked one), or None
        when every seek failed (the caller decodes from the start).
        """
        guard = index.first_position(pos - 1)
        lead = pos - guard
        guard_time = index.seconds(guard)
        thr = (index.seconds(guard - 1) + guard_time) / 2 if guard > 0 else -math.inf
        first_time = index.seconds(0)
        filters = []
        if guard > 0:
            filters.append(f"select=gte(t\\,{thr!r})")
        filters += self._step_filter(lead, step)
        filters.append(_SHOWINFO)
        lim = None if limit is None else limit + lead
        for margin in _SEEK_MARGINS:
            seek_to = guard_time - margin
            if seek_to <= first_time:
                return None
            stream = self._start_stream(
                ["-copyts", "-seek_timestamp", "1", "-ss", _fmt_seconds(seek_to),
                 "-noaccurate_seek"], filters, lim, want_pts=True, shape=shape,
                keep_pts=keep_pts)
            ok = False
            try:
                frame = stream.read()
                if frame is not None:
                    p, tb = stream.pts(0)
                    ok = p is not None and index.convert(p, tb) == int(index.pts[guard])
            finally:
                if not ok:
                    stream.close()
            if ok:
                stream.next_index = guard + 1
                return stream, lead - 1
        return None

    def _open(self, pos: int, step: int = 1, limit: int | None = None) -> _FrameStream:
        """A stream whose next frame is decode index ``pos`` (then pos+step, ...).

        The caller has checked ``pos`` against :meth:`_index_for`'s index.
        """
        index = self._index_for(pos)
        if index is not None and pos < len(index):
            opened = self._open_seek(index, pos, step, limit)
            if opened is not None:
                stream, skip = opened
                for _ in range(skip):
                    if stream.read() is None:
                        stream.close()
                        raise VideoError(f"Video '{self.path}' ended while seeking to "
                                         f"frame {pos}.")
                stream.next_index = pos
                return stream
        return self._open_from_start(pos, step, limit)

    # ------------------------------------------------------------------ #
    # Public reading API
    # ------------------------------------------------------------------ #
    def _check_open(self) -> None:
        if self._closed:
            raise VideoError(f"VideoReader for '{self.path}' is closed.")

    def _out_of_range(self, index: int) -> IndexError:
        n = self.n_frames
        return IndexError(f"Frame index {index} is out of range for video '{self.path}', "
                          f"which has {n} decodable frame(s) (valid: 0 to {n - 1}).")

    def read(self, index: int) -> np.ndarray:
        """Return the frame at 0-based decode index ``index``.

        Parameters
        ----------
        index : int
            Frame index; negative values count from the end.

        Returns
        -------
        numpy.ndarray
            ``(height, width, 3)`` uint8 RGB frame (cropped if a crop is set).

        Raises
        ------
        IndexError
            If the video has no decodable frame at ``index``.
        VideoError
            If decoding fails.
        """
        index = operator.index(index)
        with self._lock:
            self._check_open()
            if index < 0:
                index += self.n_frames
                if index < 0:
                    raise self._out_of_range(index - self.n_frames)
            if self._last is not None and self._last[0] == index:
                return self._last[1].copy()
            if self._n_frames is not None and index >= self._n_frames:
                raise self._out_of_range(index)
            known = self._index_for(index)
            if known is not None and index >= len(known):
                raise self._out_of_range(index)
            cur = self._cursor
            if cur is None or not 0 <= index - cur.next_index <= _FORWARD_SKIP_MAX:
                self._drop_cursor()
                cur = self._cursor = self._open(index)
                self._seek_count += 1
            frame = None
            try:
                while cur.next_index <= index:
                    frame = cur.read()
                    if frame is None:
                        raise self._out_of_range(index)
                    cur.next_index += 1
            except BaseException:
                self._drop_cursor()
                raise
            self._last = (index, frame)
            return frame.copy()

    def _drop_cursor(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    def iter_frames(self, start: int = 0, stop: int | None = None, step: int = 1,
                    prefetch: int = 16) -> Iterator[tuple[int, np.ndarray]]:
        """Decode frames sequentially in a background thread.

        Parameters
        ----------
        start : int, default 0
            First frame index.
        stop : int, optional
            Stop before this index (default: the end of the video).
        step : int, default 1
            Yield every ``step``-th frame; ffmpeg drops the others before
            converting them to RGB.
        prefetch : int, default 16
            Frames decoded ahead of the consumer (bounded queue).

        Yields
        ------
        index : int
            The frame's 0-based decode index.
        frame : numpy.ndarray
            ``(height, width, 3)`` uint8 RGB frame.

        Raises
        ------
        VideoError
            If decoding fails; raised in the consumer. A truncated file is not a
            failure: its decodable frames are yielded.

        Notes
        -----
        Closing the generator early (``break``, an exception, ``close()``)
        stops the thread and ffmpeg.
        """
        start, step = operator.index(start), operator.index(step)
        prefetch = operator.index(prefetch)
        if start < 0 or (stop is not None and operator.index(stop) < 0):
            raise ValueError("start and stop must be >= 0.")
        if step < 1:
            raise ValueError(f"step must be >= 1, got {step}.")
        if prefetch < 1:
            raise ValueError(f"prefetch must be >= 1, got {prefetch}.")
        self._check_open()
        return self._iter(start, None if stop is None else operator.index(stop), step,
                          prefetch)

    def _iter(self, start: int, stop: int | None, step: int,
              prefetch: int) -> Iterator[tuple[int, np.ndarray]]:
        state = _IterState()
        q: queue.Queue = queue.Queue(maxsize=prefetch)
        with self._lock:
            self._iter_states.append(state)
        thread = threading.Thread(target=self._produce, args=(state, q, start, stop, step),
                                  daemon=True, name="posekit-video-iter")
        state.thread = thread
        try:
            thread.start()
            while True:
                try:
                    item = q.get(timeout=0.1)
                except queue.Empty:
                    item = None
                if state.stop.is_set():  # reader.close() was called
                    raise VideoError(f"VideoReader for '{self.path}' was closed "
                                     "during iter_frames().")
                if item is None:
                    continue
                if item is _END:
                    break
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            self._stop_iter(state, q)

    def _stop_iter(self, state: _IterState, q: queue.Queue | None = None) -> None:
        state.stop.set()
        with state.lock:
            if state.stream is not None:
                state.stream.kill()  # the producer closes it
        if q is not None:  # unblock a producer waiting on a full queue
            try:
                while True:
                    q.get_nowait()
            except queue.Empty:
                pass
        if state.thread is not None and state.thread is not threading.current_thread():
            state.thread.join(timeout=10)
        with self._lock:
            if state in self._iter_states:
                self._iter_states.remove(state)

    def _produce(self, state: _IterState, q: queue.Queue, start: int, stop: int | None,
                 step: int) -> None:
        def put(item) -> bool:
            while not state.stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        stream = None
        try:
            limit = None if stop is None else len(range(start, stop, step))
            index = self._index_for(start)
            if limit == 0 or (index is not None and start >= len(index)):
                return
            stream = self._open(start, step, limit)
            with state.lock:
                if state.stop.is_set():
                    stream.close()
                    return
                state.stream = stream
            i = start
            while not state.stop.is_set():
                frame = stream.read()
                if frame is None or not put((i, frame)):
                    break
                i += step
        except BaseException as exc:  # noqa: BLE001 - delivered to the consumer
            if not state.stop.is_set():
                put(_Failure(exc))
        finally:
            if stream is not None:
                stream.close()
            put(_END)

    # ------------------------------------------------------------------ #
    def close(self) -> None:
        """Stop all ffmpeg processes and background threads of this reader."""
        with self._lock:
            self._drop_cursor()
            self._last = None
            states = list(self._iter_states)
        for state in states:
            self._stop_iter(state)
        self._closed = True

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - __del__ must never raise
            pass


def frame_count(path: str | os.PathLike) -> int:
    """Return the true number of decodable frames of a video.

    Parameters
    ----------
    path : str or os.PathLike
        The video file.

    Returns
    -------
    int
        Number of frames that ffmpeg decodes (container metadata is not trusted).
    """
    with VideoReader(path) as reader:
        return reader.n_frames
