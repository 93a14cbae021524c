"""Writing RGB frames to a video file with ffmpeg (:func:`write_video`).

Frames are piped to an ffmpeg process started through
:func:`posekit.utils.process.popen`, with the arguments
``imageio_ffmpeg.write_frames`` would build (same codec, pixel format and
quality scale). posekit does not call ``write_frames`` itself because it starts
ffmpeg with ``preexec_fn``, which runs Python's at-fork hooks (see
:mod:`posekit.utils.process`). :mod:`posekit.io.video` re-exports
:func:`write_video`.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import tempfile
from collections.abc import Iterable
from fractions import Fraction

import numpy as np

from posekit.errors import VideoError
from posekit.io.ffmpeg import _ffmpeg, _ffmpeg_reason
from posekit.utils.process import popen

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
    cmd = _command(path, width, height, fps, codec, quality, pix_fmt_out, params)
    n = 0
    # ffmpeg's messages go to a file, not a pipe: nothing has to drain it while frames are
    # written, and the error below can quote them (a notebook never shows ffmpeg's stderr).
    with tempfile.TemporaryFile() as log:
        proc = popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        try:
            for item in _chain_first(first, iterator):
                frame = np.asarray(item)
                if frame.shape != first.shape or frame.dtype != np.uint8:
                    raise ValueError(f"Frame {n} has shape {frame.shape} {frame.dtype}; "
                                     f"expected {first.shape} uint8 like frame 0.")
                try:
                    proc.stdin.write(np.ascontiguousarray(frame))
                except OSError as exc:  # ffmpeg exited early (a broken pipe): its log says why
                    _stop(proc)
                    raise VideoError(f"ffmpeg failed to write video '{path}' with codec {codec!r} "
                                     f"({pix_fmt_out}) at frame {n}: {_log_text(log)}") from exc
                n += 1
            try:
                proc.stdin.close()
            except OSError:  # the exit status and the log below tell what went wrong
                pass
            returncode = proc.wait()
        except BaseException:
            _stop(proc)
            raise
        if returncode != 0 or not path.exists() or path.stat().st_size == 0:
            raise VideoError(f"ffmpeg failed to write video '{path}' with codec {codec!r} "
                             f"({pix_fmt_out}): {_log_text(log)}")
    return n


def _command(path: pathlib.Path, width: int, height: int, fps: float, codec: str,
             quality: float | None, pix_fmt_out: str, params: list[str]) -> list[str]:
    """The ffmpeg command ``imageio_ffmpeg.write_frames`` builds for these settings."""
    rate = fps if isinstance(fps, Fraction) else Fraction(float(fps)).limit_denominator()
    cmd = [_ffmpeg(), "-y", "-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{width:d}x{height:d}",
           "-pix_fmt", "rgb24", "-r", str(rate), "-i", "-", "-an",
           "-vcodec", codec, "-pix_fmt", pix_fmt_out]
    if quality is not None:
        if not 1 <= quality <= 10:
            raise ValueError(f"quality must be between 1 and 10 inclusive, got {quality!r}.")
        scale = 1 - quality / 10.0
        if codec == "libx264":
            cmd += ["-crf", str(int(scale * 51))]  # crf 0..51, 51 worst
        else:
            cmd += ["-qscale:v", str(int(scale * 30) + 1)]  # q:v 1..31, 31 worst
    return [*cmd, "-v", "error", *params, str(path)]


def _stop(proc: subprocess.Popen) -> None:
    """Kill ffmpeg after a failed or interrupted write and reap it."""
    try:
        proc.stdin.close()
    except OSError:
        pass
    proc.kill()
    proc.wait()


def _log_text(log) -> str:
    log.seek(0)
    return _ffmpeg_reason(log.read().decode("utf-8", "replace"))


def _chain_first(first, rest):
    yield first
    yield from rest
