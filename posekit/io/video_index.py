"""Probing a video and indexing its frames' timestamps for :mod:`posekit.io.video`.

:class:`_Probe` reads what one short ffmpeg run tells about a file,
:func:`_scan_packets` lists the timestamps of all video packets (demux only),
:class:`_Index` holds them in decode-index order, and ``_cache_*`` keep the
indexes of recently opened files.
"""

from __future__ import annotations

import collections
import pathlib
import re
import subprocess
import threading
from fractions import Fraction

import numpy as np

from posekit.errors import VideoError
from posekit.io.ffmpeg import (
    _RE_SHOWINFO,
    _RE_TIMEBASE,
    _SHOWINFO,
    _ffmpeg,
    _ffmpeg_reason,
)
from posekit.utils.process import run

_PROBE_TIMEOUT = 120.0

_RE_SIZE = re.compile(r"(?<![0-9A-Za-z])(\d{1,5})x(\d{1,5})(?![0-9A-Za-z])")


class _Probe:
    """What one short ffmpeg run (decoding the first frame) tells about a video."""

    def __init__(self, path: pathlib.Path):
        cmd = [_ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-copyts",
               "-i", str(path), "-map", "0:v:0", "-an", "-sn", "-dn",
               "-vf", _SHOWINFO, "-frames:v", "1", "-f", "null", "-"]
        try:
            res = run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                      stderr=subprocess.PIPE, timeout=_PROBE_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise VideoError(f"Cannot open video '{path}': ffmpeg did not answer within "
                             f"{_PROBE_TIMEOUT:.0f} s.") from None
        text = res.stderr.decode("utf-8", "replace")
        hint = ("Check that the file is a video that ffmpeg can decode (not truncated "
                "before its header, not another file type renamed).")
        in_lines, out_lines = [], []
        section = None
        for ln in text.splitlines():
            s = ln.strip()
            if s.startswith("Input #"):
                section = in_lines
            elif s.startswith("Output #"):
                section = out_lines
            elif s.startswith("Stream mapping"):
                section = None
            if section is not None:
                section.append(s)
        in_video = [s for s in in_lines if s.startswith("Stream #") and " Video:" in s]
        out_video = [s for s in out_lines if s.startswith("Stream #") and " Video:" in s]
        if res.returncode != 0 or not in_video or not out_video:
            reason = _ffmpeg_reason(text)
            if in_lines and not in_video:
                reason = "the file holds no video stream"
            raise VideoError(f"Cannot open video '{path}': {reason}. {hint}")
        m = _RE_SHOWINFO.search(res.stderr)
        if m is None:
            raise VideoError(f"Cannot open video '{path}': ffmpeg decoded no frame from it "
                             f"({_ffmpeg_reason(text)}). {hint}")
        try:
            self.first_pts: int | None = int(m.group(1))
        except ValueError:
            self.first_pts = None
        m = _RE_TIMEBASE.search(res.stderr)
        self.filter_timebase = Fraction(int(m.group(1)), int(m.group(2))) if m else None

        video_line = in_video[0].split(" Video:", 1)[1]
        self.codec = video_line.strip().split(" ", 1)[0].rstrip(",")
        self.fps = 0.0
        m2 = re.search(r"([\d.]+) fps", video_line)
        if m2 and float(m2.group(1)) > 0:
            self.fps = float(m2.group(1))
        else:
            m2 = re.search(r"([\d.]+)(k?) tbr", video_line)
            if m2:
                self.fps = float(m2.group(1)) * (1000 if m2.group(2) else 1)
        m2 = _RE_SIZE.search(video_line)
        self.source_size = (int(m2.group(1)), int(m2.group(2))) if m2 else (0, 0)
        m3 = _RE_SIZE.search(out_video[0].split(" Video:", 1)[1])
        if m3 is None:
            raise VideoError(f"Cannot open video '{path}': could not read its frame size "
                             f"from ffmpeg's output. {hint}")
        self.size = (int(m3.group(1)), int(m3.group(2)))  # after auto-rotation
        self.duration = 0.0
        for s in in_lines:
            m4 = re.search(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)", s)
            if m4:
                h, mi, sec = m4.groups()
                self.duration = int(h) * 3600 + int(mi) * 60 + float(sec)
                break


class _Index:
    """Presentation timestamps of the frames, in decode-index order.

    Positions from ``tail_start`` on come from the packet scan only and are
    not yet confirmed by decoding (``verified`` is False until they are).
    """

    def __init__(self, pts: np.ndarray, timebase: Fraction, tail_start: int,
                 verified: bool):
        self.pts = pts  # int64, non-decreasing
        self.timebase = timebase
        self.tail_start = tail_start
        self.verified = verified

    def __len__(self) -> int:
        return len(self.pts)

    def seconds(self, pos: int) -> float:
        return float(int(self.pts[pos]) * self.timebase)

    def convert(self, pts: int, timebase: Fraction | None) -> int:
        """A timestamp from a decoded frame, in this index's time base."""
        if timebase is None or timebase == self.timebase:
            return int(pts)
        return round(Fraction(pts) * timebase / self.timebase)

    def first_position(self, pos: int) -> int:
        """First position holding the same timestamp as ``pos``."""
        return int(np.searchsorted(self.pts, self.pts[pos], side="left"))


# Indexes of recently opened files, keyed by (path, size, mtime): a file opened
# again (a probe reader, then the real one) is not scanned again.
_INDEX_CACHE: collections.OrderedDict = collections.OrderedDict()
_INDEX_CACHE_SIZE = 32
_INDEX_CACHE_LOCK = threading.Lock()


def _cache_key(path: pathlib.Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def _cache_get(key: tuple | None):
    with _INDEX_CACHE_LOCK:
        if key is None or key not in _INDEX_CACHE:
            return _MISSING
        _INDEX_CACHE.move_to_end(key)
        return _INDEX_CACHE[key]


def _cache_put(key: tuple | None, index: _Index | None) -> None:
    if key is None:
        return
    with _INDEX_CACHE_LOCK:
        _INDEX_CACHE[key] = index
        _INDEX_CACHE.move_to_end(key)
        while len(_INDEX_CACHE) > _INDEX_CACHE_SIZE:
            _INDEX_CACHE.popitem(last=False)


_MISSING = object()


def _scan_packets(path: str) -> tuple[np.ndarray, np.ndarray, Fraction] | None:
    """Timestamps and corrupt flags of all video packets (demux only, no decoding).

    Returns None when some packet has no timestamp (the index is then unusable).
    """
    cmd = [_ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
           "-copyts", "-i", path, "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-"]
    res = run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if res.returncode != 0 and not res.stdout:
        return None
    timebase = None
    pts_list: list[int] = []
    corrupt: list[bool] = []
    for raw in res.stdout.splitlines():
        if raw.startswith(b"#"):
            if raw.startswith(b"#tb 0:"):
                num, den = raw.split(b":", 1)[1].strip().split(b"/")
                timebase = Fraction(int(num), int(den))
            continue
        parts = raw.split(b",")
        if len(parts) < 6:
            continue
        try:
            value = int(parts[2])
        except ValueError:
            return None
        if value == -(2 ** 63):  # AV_NOPTS_VALUE
            return None
        pts_list.append(value)
        flags = 1
        m = re.search(rb"F=0x([0-9A-Fa-f]+)", raw)
        if m:
            flags = int(m.group(1), 16)
        corrupt.append(bool(flags & 0x6))  # AV_PKT_FLAG_CORRUPT | AV_PKT_FLAG_DISCARD
    if timebase is None or not pts_list:
        return None
    pts = np.asarray(pts_list, dtype=np.int64)
    order = np.argsort(pts, kind="stable")
    return pts[order], np.asarray(corrupt, dtype=bool)[order], timebase
