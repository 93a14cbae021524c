"""Writing RGB frames to a video file with ffmpeg (:func:`write_video`).

Frames go through ``imageio_ffmpeg.write_frames``; :mod:`posekit.io.video`
re-exports :func:`write_video`.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable

import imageio_ffmpeg
import numpy as np

from posekit.errors import VideoError

__all__ = ["write_video"]

_DEFAULT_PIX_FMT = {
    "libx264": "yuv420p",
    "libx265": "yuv420p",
    "mjpeg": "yuvj420p",
    "mpeg4": "yuv420p",
    "ffv1": "bgr0",
    "png": "rgb24",
    "rawvideo": "bgr24",
    "libx264rgb": "rgb24",
}
_LOSSLESS = {"ffv1", "png", "rawvideo"}


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float,
                codec: str = "libx264", *, quality: float | None = 7,
                pix_fmt_out: str | None = None,
                output_params: list[str] | None = None) -> int:
    """Write RGB frames to a video file with ffmpeg.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; its extension picks the container (``.mp4``, ``.avi``,
        ``.mkv``, ...). Overwritten if it exists.
    frames : iterable of numpy.ndarray
        ``(height, width, 3)`` uint8 RGB frames, all the same size.
    fps : float
        Frames per second.
    codec : str, default "libx264"
        ffmpeg encoder, e.g. ``"libx264"``, ``"mjpeg"`` (lossy), ``"ffv1"``,
        ``"png"``, ``"rawvideo"`` (lossless).
    quality : float, optional
        imageio-ffmpeg's scale from 1 (worst) to 10 (best); ignored by the
        lossless codecs. None leaves the encoder's default.
    pix_fmt_out : str, optional
        Stored pixel format; by default one that suits ``codec`` (yuv420p for
        H.264, an RGB format for the lossless codecs).
    output_params : list of str, optional
        Extra ffmpeg output arguments. ``.mp4``/``.mov`` files get
        ``-movflags +faststart`` (header first, so a truncated copy stays
        readable).

    Returns
    -------
    int
        Number of frames written.

    Raises
    ------
    ValueError
        If a frame has the wrong shape or dtype, or the size is odd while the
        pixel format subsamples chroma (yuv420p needs even width and height;
        frames are never resized).
    VideoError
        If ffmpeg fails to write the file.
    """
    path = pathlib.Path(path)
    pix_fmt_out = pix_fmt_out or _DEFAULT_PIX_FMT.get(codec, "yuv420p")
    params = list(output_params or [])
    if path.suffix.lower() in (".mp4", ".mov", ".m4v") and "-movflags" not in params:
        params += ["-movflags", "+faststart"]
    if codec in _LOSSLESS:
        quality = None
    iterator = iter(frames)
    try:
        first = np.asarray(next(iterator))
    except StopIteration:
        raise ValueError(f"No frames to write to '{path}'.") from None
    if first.dtype != np.uint8 or first.ndim != 3 or first.shape[2] != 3:
        raise ValueError(f"Frames must be (height, width, 3) uint8 RGB arrays; got "
                         f"{first.shape} {first.dtype}.")
    height, width = first.shape[:2]
    if ("420" in pix_fmt_out or "422" in pix_fmt_out) and (width % 2 or height % 2):
        raise ValueError(
            f"Cannot write {width}x{height} frames as {pix_fmt_out} to '{path}': that "
            "pixel format needs an even width and height. Crop or pad the frames, or "
            "pass pix_fmt_out='yuv444p'.")
    writer = imageio_ffmpeg.write_frames(
        str(path), (width, height), pix_fmt_in="rgb24", pix_fmt_out=pix_fmt_out,
        fps=fps, quality=quality, codec=codec, macro_block_size=1,
        ffmpeg_log_level="error", output_params=params)
    n = 0
    try:
        writer.send(None)
        for item in _chain_first(first, iterator):
            frame = np.asarray(item)
            if frame.shape != first.shape or frame.dtype != np.uint8:
                raise ValueError(f"Frame {n} has shape {frame.shape} {frame.dtype}; "
                                 f"expected {first.shape} uint8 like frame 0.")
            writer.send(np.ascontiguousarray(frame))
            n += 1
    except OSError as exc:
        raise VideoError(f"ffmpeg failed to write video '{path}' with codec {codec!r} "
                         f"({pix_fmt_out}): {exc}") from exc
    finally:
        writer.close()
    if not path.exists() or path.stat().st_size == 0:
        raise VideoError(f"ffmpeg failed to write video '{path}' with codec {codec!r} "
                         f"({pix_fmt_out}); see ffmpeg's messages above.")
    return n


def _chain_first(first, rest):
    yield first
    yield from rest
