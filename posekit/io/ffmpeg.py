"""ffmpeg processes for video reading: the executable, process helpers, the
``showinfo`` log patterns, and :class:`_FrameStream` (one ffmpeg process piping
raw rgb24 frames), used by :mod:`posekit.io.video` and :mod:`posekit.io.video_index`.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
import threading
import weakref
from fractions import Fraction

import imageio_ffmpeg
import numpy as np

from posekit.errors import VideoError
from posekit.utils.process import popen

# Seconds to wait for ffmpeg's log line about a frame it already wrote.
_LOG_TIMEOUT = 30.0

_SHOWINFO = "showinfo=checksum=0"
_RE_SHOWINFO = re.compile(rb"\[Parsed_showinfo[^\]]*\]\s*n:\s*\d+\s+pts:\s*(\S+)")
_RE_TIMEBASE = re.compile(rb"\[Parsed_showinfo[^\]]*\]\s*config in time_base:\s*(\d+)/(\d+)")
_RE_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")


def _ffmpeg() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _ffmpeg_reason(text: str) -> str:
    """The most telling line of an ffmpeg log, without ``[ctx @ 0x..]`` prefixes."""
    lines = [_RE_PREFIX.sub("", ln).strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("Exiting with")]
    keys = ("No such file", "Invalid data", "matches no streams", "not supported",
            "Permission denied", "Error", "error", "Could not", "Unknown")
    for ln in reversed(lines):
        if any(k in ln for k in keys):
            return ln
    return lines[-1] if lines else "ffmpeg gave no reason"


# --------------------------------------------------------------------------- #
# One ffmpeg process streaming rgb24 frames
# --------------------------------------------------------------------------- #


class _FrameStream:
    """An ffmpeg process writing raw rgb24 frames to a pipe.

    With ``want_pts`` the filter chain holds ``showinfo`` and a thread parses
    the timestamp ffmpeg logs for each frame, in output order.
    """

    def __init__(self, path: str, input_args: list[str], filters: list[str],
                 shape: tuple[int, int, int], limit: int | None, want_pts: bool,
                 keep_pts: int | None = 64):
        self.path = path
        self.shape = shape
        self.nbytes = shape[0] * shape[1] * shape[2]
        self.want_pts = want_pts
        self.keep_pts = keep_pts  # timestamps kept (the first ones); None: all
        self.next_index = 0  # decode index of the next frame read() returns
        self.n_read = 0
        self._killed = False
        self._finished = False
        self._log: collections.deque[bytes] = collections.deque(maxlen=60)
        self._pts: list[int | None] = []
        self.timebase: Fraction | None = None
        self._cond = threading.Condition()
        self._log_done = False
        cmd = [_ffmpeg(), "-hide_banner", "-nostdin", "-nostats",
               "-loglevel", "info" if want_pts else "error",
               *input_args, "-i", path, "-map", "0:v:0", "-an", "-sn", "-dn",
               "-vf", ",".join(filters), "-fps_mode", "passthrough"]
        if limit is not None:
            cmd += ["-frames:v", str(int(limit))]
        cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        self.cmd = cmd
        self.proc = popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, bufsize=0)
        if sys.platform.startswith("linux"):  # larger pipe: fewer syscalls per frame
            try:
                import fcntl
                fcntl.fcntl(self.proc.stdout.fileno(), 1031, 1 << 20)  # F_SETPIPE_SZ
            except OSError:
                pass
        self._log_thread = threading.Thread(target=self._read_log, daemon=True,
                                            name="posekit-ffmpeg-log")
        self._log_thread.start()
        self._finalizer = weakref.finalize(self, _kill_process, self.proc)

    # stderr -------------------------------------------------------------- #
    def _read_log(self) -> None:
        stderr = self.proc.stderr
        try:
            for line in iter(stderr.readline, b""):
                if self.want_pts:
                    m = _RE_SHOWINFO.search(line)
                    if m is not None:
                        if self.keep_pts is None or len(self._pts) < self.keep_pts:
                            try:
                                value: int | None = int(m.group(1))
                            except ValueError:  # NOPTS
                                value = None
                            with self._cond:
                                self._pts.append(value)
                                self._cond.notify_all()
                        continue
                    m = _RE_TIMEBASE.search(line)
                    if m is not None:
                        self.timebase = Fraction(int(m.group(1)), int(m.group(2)))
                    if b"[Parsed_showinfo" in line:
                        continue
                self._log.append(line.rstrip())
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self._log_done = True
                self._cond.notify_all()

    def log_text(self) -> str:
        return b"\n".join(self._log).decode("utf-8", "replace")

    def pts(self, k: int) -> tuple[int | None, Fraction | None]:
        """Timestamp (and its time base) of the k-th frame this stream output."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self._pts) > k or self._log_done,
                                     timeout=_LOG_TIMEOUT)
            if not ok or len(self._pts) <= k:
                return None, None
            return self._pts[k], self.timebase

    # stdout -------------------------------------------------------------- #
    def read(self) -> np.ndarray | None:
        """The next frame, or None at the end of the stream."""
        if self._finished:
            return None
        frame = np.empty(self.shape, np.uint8)
        view = memoryview(frame).cast("B")
        got = 0
        stdout = self.proc.stdout
        while got < self.nbytes:
            try:
                n = stdout.readinto(view[got:])
            except (OSError, ValueError):
                n = 0
                if not self._killed:
                    raise
            if not n:
                break
            got += n
        if got == self.nbytes:
            self.n_read += 1
            return frame
        self._finish(partial=got > 0)
        return None

    def _finish(self, partial: bool) -> None:
        self._finished = True
        if self._killed:
            return
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.close()
            raise VideoError(f"Decoding video '{self.path}' stalled: ffmpeg did not exit.") from None
        self._log_thread.join(timeout=5)
        if self._killed:
            return
        if rc != 0 or partial:
            what = f"ffmpeg exited with code {rc}" if rc != 0 else "ffmpeg stopped mid-frame"
            raise VideoError(
                f"Decoding video '{self.path}' failed after {self.n_read} frame(s) "
                f"({what}): {_ffmpeg_reason(self.log_text())}")

    def all_pts(self) -> list[int | None]:
        """Timestamps logged so far (complete once the stream has ended)."""
        with self._cond:
            return list(self._pts)

    def kill(self) -> None:
        """Stop ffmpeg; a read() blocked in another thread then returns None."""
        if self.proc.poll() is None:
            self._killed = True
        _kill_process(self.proc)

    def close(self) -> None:
        self.kill()
        self._finished = True
        self._log_thread.join(timeout=5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass
        self._finalizer.detach()


def _kill_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass
