"""Frame batches for the analysis loops: reading a batch, and the growing output rows."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np

from posekit.errors import VideoError


def read_batch(frames: Iterable, buf: np.ndarray, delivered: int) -> tuple[int, VideoError | None]:
    """Fill ``buf`` with up to ``len(buf)`` frames from ``(index, frame)`` pairs.

    Returns the count read and the decoding error that stopped the stream, if one did
    (the frames before it are in ``buf``). ``delivered`` is the number of frames the
    stream gave before this batch: a stream that fails before its first frame raises
    the error instead (nothing to keep).
    """
    count = 0
    try:
        for count, (_, frame) in enumerate(itertools.islice(frames, len(buf)), start=1):
            buf[count - 1] = frame
    except VideoError as exc:
        if delivered + count == 0:
            raise
        return count, exc
    return count, None


def with_room(out: np.ndarray, filled: int, needed: int) -> np.ndarray:
    """``out`` (rows ``[:filled]`` kept), at least ``needed`` rows long; doubled when it grows."""
    if needed <= len(out):
        return out
    grown = np.empty((max(2 * len(out), needed), *out.shape[1:]), out.dtype)
    grown[:filled] = out[:filled]
    return grown
