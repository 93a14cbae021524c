"""The manual frame extraction widget: :class:`FrameGrabberWidget` over a FrameGrabber.

All state lives in :class:`posekit.frames.grabber.FrameGrabber`; this module renders
it and forwards clicks. Previews are sent as downscaled JPEG, decoded in a worker
thread that always takes the newest request, so dragging the slider over a long
1080p video never queues up decodes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import ipywidgets as W
import numpy as np

from posekit.frames.grabber import FrameGrabber
from posekit.io.images import encode_image
from posekit.project.config import format_crop

__all__ = [
    "FrameGrabberWidget",
    "LatestRequestWorker",
    "format_time",
    "preview_jpeg",
]

#: Widest preview sent to the browser (pixels); larger frames are downscaled.
PREVIEW_MAX_WIDTH = 960
#: JPEG quality of previews.
PREVIEW_QUALITY = 80
#: Frame steps offered as buttons.
STEPS = (-10, -1, 1, 10)

T = TypeVar("T")
_NOTHING: Any = object()


def preview_jpeg(image: np.ndarray, max_width: int = PREVIEW_MAX_WIDTH, quality: int = PREVIEW_QUALITY) -> bytes:
    """Encode an RGB ``uint8`` frame as JPEG for display, at most ``max_width`` wide.

    Parameters
    ----------
    image
        (H, W, 3) or (H, W) ``uint8`` array.
    max_width
        Frames wider than this are downscaled (aspect ratio kept) before encoding.
    quality
        JPEG quality (1-95).

    Returns
    -------
    bytes
        The JPEG file.
    """
    from PIL import Image

    height, width = image.shape[:2]
    if width > max_width:
        size = (int(max_width), max(1, round(height * max_width / width)))
        small = Image.fromarray(np.ascontiguousarray(image)).resize(
            size, Image.Resampling.BILINEAR, reducing_gap=2.0
        )
        image = np.asarray(small)
    return encode_image(image, "JPEG", quality=quality)


def format_time(seconds: float) -> str:
    """``[h:]mm:ss.sss`` of a time in seconds."""
    minutes, secs = divmod(max(float(seconds), 0.0), 60.0)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{minutes:02d}:{secs:06.3f}"
    return f"{hours}:{text}" if hours else text


class LatestRequestWorker(Generic[T]):
    """Run ``job(request)`` in one background thread, always on the newest request.

    Requests submitted while a job runs replace each other; only the last one is
    run next. A slider dragged over 500 frames thus costs a handful of decodes.

    Parameters
    ----------
    job
        Called with each request that is run (in the worker thread).
    on_error
        Called with the exception when ``job`` raises (the worker keeps running).
    threaded
        False runs every request at once in the caller's thread (no coalescing);
        for scripts and debugging.
    """

    def __init__(
        self,
        job: Callable[[T], None],
        on_error: Callable[[Exception], None] | None = None,
        threaded: bool = True,
    ) -> None:
        self._job = job
        self._on_error = on_error
        self._threaded = threaded
        self._cond = threading.Condition()
        self._pending: T = _NOTHING
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, request: T) -> None:
        """Ask for ``request`` to be run, replacing any request not started yet."""
        if not self._threaded:
            self._run_one(request)
            return
        with self._cond:
            if self._closed:
                return
            self._pending = request
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="posekit-preview", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no request is pending or running; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is _NOTHING and not self._busy, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread (a running job finishes first); later submits are ignored."""
        with self._cond:
            self._closed = True
            self._pending = _NOTHING
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._pending is not _NOTHING)
                if self._closed:
                    return
                request, self._pending = self._pending, _NOTHING
                self._busy = True
            try:
                self._run_one(request)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _run_one(self, request: T) -> None:
        try:
            self._job(request)
        except Exception as exc:  # shown to the user; the worker must survive
            if self._on_error is None:
                raise
            self._on_error(exc)


class FrameGrabberWidget(W.VBox):
    """Notebook front end of a :class:`~posekit.frames.grabber.FrameGrabber`.

    Video chooser, frame slider, step buttons (-10, -1, +1, +10), jump-to-frame box,
    frame number and time, the frame (JPEG, at most ``max_width`` wide), a
    "Grab frame" button, the list of extracted frames with a Delete button and a
    status line.

    Parameters
    ----------
    grabber
        The headless grabber this widget shows and drives.
    max_width
        Widest preview sent to the browser, in pixels.
    threaded
        Decode previews in a worker thread that coalesces requests (default).
        False decodes synchronously on every change.
    own_grabber
        Close ``grabber`` when the widget is closed.

    Notes
    -----
    CSS classes for styling and browser tests: ``posekit-grabber`` (the whole
    widget), ``posekit-grab-button``, ``posekit-delete-button``,
    ``posekit-grabber-jump``, ``posekit-grabber-slider``, ``posekit-grabber-info``,
    ``posekit-grabber-image``, ``posekit-grabber-list``, ``posekit-grabber-status``
    and ``posekit-step`` plus ``posekit-step-<m10|m1|p1|p10>`` on the step buttons.
    """

    def __init__(
        self,
        grabber: FrameGrabber,
        max_width: int = PREVIEW_MAX_WIDTH,
        threaded: bool = True,
        own_grabber: bool = False,
    ) -> None:
        self.grabber = grabber
        self.max_width = int(max_width)
        self.own_grabber = own_grabber
        #: Frame number whose preview is in :attr:`image` (None before the first).
        self.shown_index: int | None = None
        self._grabbed: set[int] = set()
        self._refreshing = False
        self._worker: LatestRequestWorker[tuple[str, int]] = LatestRequestWorker(
            self._render, on_error=self._show_error, threaded=threaded
        )
        self._build()
        self._refresh_video()
        self.status.value = self._size_note()
        super().__init__(children=self._layout())
        self.add_class("posekit-grabber")

    # -- construction ----------------------------------------------------- #
    def _build(self) -> None:
        g = self.grabber
        self.video = W.Dropdown(options=g.stems, value=g.stem, description="Video")
        self.video.observe(self._on_video, "value")
        self.slider = _classed(
            W.IntSlider(min=0, max=0, value=0, description="Frame", continuous_update=True,
                        layout=W.Layout(width="100%")),
            "posekit-grabber-slider",
        )
        self.slider.observe(self._on_slider, "value")
        self.step_buttons = []
        for n in STEPS:
            tag = f"{'m' if n < 0 else 'p'}{abs(n)}"
            button = _classed(W.Button(description=f"{n:+d}".replace("-", "\u2212"),
                                       tooltip=f"{abs(n)} frame(s) {'back' if n < 0 else 'forward'}",
                                       layout=W.Layout(width="52px")),
                              "posekit-step", f"posekit-step-{tag}")
            button.on_click(lambda _b, n=n: self.step(n))
            self.step_buttons.append(button)
        self.jump = _classed(W.IntText(value=0, description="Go to", layout=W.Layout(width="180px")),
                             "posekit-grabber-jump")
        self.jump.observe(self._on_jump, "value")
        self.info = _classed(W.Label(), "posekit-grabber-info")
        self.image = _classed(W.Image(format="jpeg", layout=W.Layout(max_width="100%")),
                              "posekit-grabber-image")
        self.grab_button = _classed(W.Button(description="Grab frame", button_style="success",
                                             icon="camera", tooltip="Save this frame for labeling"),
                                    "posekit-grab-button")
        self.grab_button.on_click(lambda _b: self.grab())
        self.grabbed_list = _classed(W.Select(options=[], rows=6, description="Extracted",
                                              layout=W.Layout(width="320px")),
                                     "posekit-grabber-list")
        self.grabbed_list.observe(self._on_pick, "value")
        self.delete_button = _classed(W.Button(description="Delete", button_style="danger",
                                               icon="trash", tooltip="Delete the selected image"),
                                      "posekit-delete-button")
        self.delete_button.on_click(lambda _b: self.delete_selected())
        self.status = _classed(W.Label(), "posekit-grabber-status")

    def _layout(self) -> list[W.Widget]:
        nav = W.HBox([*self.step_buttons[:2], self.jump, *self.step_buttons[2:], self.info])
        side = W.VBox([self.grab_button, self.grabbed_list, self.delete_button])
        return [self.video, self.slider, nav, W.HBox([self.image, side]), self.status]

    # -- actions (also the API scripts and tests use) ----------------------- #
    def seek(self, index: int) -> None:
        """Show frame ``index`` (clamped), as if the slider were moved there."""
        self.slider.value = self.grabber.clamp(index)

    def step(self, n: int) -> None:
        """Move ``n`` frames (negative: back)."""
        self.seek(self.grabber.index + n)

    def grab(self) -> None:
        """Save the current frame (a frame already extracted is reported, not rewritten)."""
        with self._reporting():
            result = self.grabber.grab()
            self._refresh_list(select=result.index)
            self.status.value = result.message

    def delete_selected(self) -> None:
        """Delete the image selected in the list (or the current frame's image)."""
        index = self.grabbed_list.value
        with self._reporting():
            path = self.grabber.delete(self.grabber.index if index is None else index)
            self._refresh_list()
            self.status.value = f"Deleted {path.name}."

    def wait_idle(self, timeout: float | None = 10.0) -> bool:
        """Block until the newest preview is shown (for scripts and tests)."""
        return self._worker.wait_idle(timeout)

    def close(self) -> None:
        """Stop the preview thread, close the grabber if owned, and close the widget."""
        self._worker.close()
        if self.own_grabber:
            self.grabber.close()
        super().close()

    # -- event handlers --------------------------------------------------- #
    def _on_video(self, change: dict[str, Any]) -> None:
        if change["new"] == self.grabber.stem:
            return
        with self._reporting():
            self.grabber.select_video(change["new"])
            self._refresh_video()
            opened = f"Video '{self.grabber.stem}': {self.grabber.n_frames} frames."
            self.status.value = " ".join(t for t in (opened, self._size_note()) if t)
        self.video.value = self.grabber.stem  # after a failed switch, show the video still open

    def _on_slider(self, change: dict[str, Any]) -> None:
        index = self.grabber.seek(change["new"])
        self.jump.value = index
        self._update_info()
        self._worker.submit((self.grabber.stem, index))

    def _on_jump(self, change: dict[str, Any]) -> None:
        self.seek(change["new"])
        self.jump.value = self.grabber.index  # show the clamped value

    def _on_pick(self, change: dict[str, Any]) -> None:
        if change["new"] is not None and not self._refreshing:
            self.seek(change["new"])

    # -- rendering -------------------------------------------------------- #
    def _render(self, request: tuple[str, int]) -> None:
        """Worker job: decode, downscale, encode, show (skips requests of a previous video)."""
        stem, index = request
        if stem != self.grabber.stem:
            return
        self.image.value = preview_jpeg(self.grabber.frame(index), self.max_width)
        self.shown_index = index

    def _refresh_video(self) -> None:
        g = self.grabber
        self.slider.value = 0  # first, so a shorter video's max never clamps the old value
        self.slider.max = g.n_frames - 1
        self._refresh_list()
        self._update_info()
        self._worker.submit((g.stem, g.index))

    def _refresh_list(self, select: int | None = None) -> None:
        g = self.grabber
        paths = g.grabbed()
        self._grabbed = set(g.grabbed_indices())
        self._refreshing = True
        try:
            self.grabbed_list.options = [
                (f"{p.name}  ({format_time(g.time_of(i))})", i)
                for p, i in zip(paths, g.grabbed_indices(), strict=False)
            ]
            self.grabbed_list.value = select if select in self._grabbed else None
        finally:
            self._refreshing = False
        self._update_info()

    def _update_info(self) -> None:
        g = self.grabber
        mark = "  \u2713 extracted" if g.index in self._grabbed else ""
        self.info.value = f"frame {g.index} / {g.n_frames - 1}  \u00b7  {format_time(g.time)}{mark}"

    def _size_note(self) -> str:
        """The crop in use, and the grabber's frame-size warning if any."""
        g = self.grabber
        crop = f"Grabbing through the crop box {format_crop(g.crop_box)}." if g.crop_box else ""
        warning = f"Warning: {g.size_warning}" if g.size_warning else ""
        return " ".join(t for t in (crop, warning) if t)

    def _show_error(self, exc: Exception) -> None:
        self.status.value = f"Error: {exc}"

    @contextlib.contextmanager
    def _reporting(self) -> Iterator[None]:
        """Show an action's error in the status line instead of a traceback in the log."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - any action error goes to the status line
            self._show_error(exc)


def _classed(widget: W.DOMWidget, *classes: str) -> W.DOMWidget:
    for name in classes:
        widget.add_class(name)
    return widget
