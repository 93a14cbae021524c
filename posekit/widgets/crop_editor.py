"""The crop editor: draw a video's ``video_sets`` crop box on one of its frames.

A thin view over :class:`~posekit.labeling.crop.CropBox` (re-exported here):
drag the box to move it, its corners or edges to resize it, or type the four
values; Apply writes ``video_sets[<video>]["crop"]`` to config.yaml.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import numpy as np

from posekit.frames.grabber import describe_sizes
from posekit.labeling.crop import CropBox
from posekit.project.config import format_crop
from posekit.project.project import Project
from posekit.widgets.canvas import POINTS, ImageCanvas

__all__ = ["CropBox", "CropEditorWidget", "crop_editor_widget"]

#: How close (canvas pixels) to a corner or edge a press grabs it.
HANDLE_PX = 10.0
_SHADE = "rgba(0, 0, 0, 0.45)"
_BOX_COLOR = "#00e0ff"


class CropEditorWidget(widgets.VBox):
    """Edit a crop box over a video frame.

    Parameters
    ----------
    box
        The crop state (bound to a project video for Apply, see
        :meth:`CropBox.from_project`).
    frame
        The full RGB ``uint8`` video frame to draw the box on; its size must
        match ``box``'s frame size.
    canvas_size
        ``(width, height)`` of the canvas in screen pixels.
    on_apply
        Called with the box after Apply wrote it to config.yaml (e.g. to
        extract frames with it); the status then says how many frames it
        added to ``labeled-data/<video>/``, and warns when that folder ends
        up with frames of different sizes.

    Attributes
    ----------
    box : CropBox
    canvas : ImageCanvas
        CSS class ``posekit-crop-canvas``.
    x1, x2, y1, y2 : ipywidgets.IntText
        The typed values; edits are validated, a bad value is put back.
    """

    def __init__(
        self,
        box: CropBox,
        frame: np.ndarray,
        *,
        canvas_size: tuple[int, int] = (800, 600),
        on_apply: Callable[[tuple[int, int, int, int]], Any] | None = None,
    ) -> None:
        super().__init__()
        self.on_apply = on_apply
        self.add_class("posekit-crop-editor")
        frame = np.asarray(frame)
        if (frame.shape[1], frame.shape[0]) != (box.width, box.height):
            raise ValueError(
                f"frame is {frame.shape[1]}x{frame.shape[0]} but the crop box is for a "
                f"{box.width}x{box.height} frame; pass the full, uncropped frame."
            )
        self.box = box
        self._syncing = False
        self.canvas = ImageCanvas(*canvas_size, css_class="posekit-crop-canvas")
        self.canvas.set_painter(POINTS, self._paint_box)
        self.canvas.connect(press=self._press, drag=self._drag, release=self._release)
        self.x1, self.x2, self.y1, self.y2 = (_int_text(name) for name in ("x1", "x2", "y1", "y2"))
        for text in self._texts:
            text.observe(self._typed, names="value")
        self.apply_button = widgets.Button(
            description="Apply",
            button_style="primary",
            tooltip="Write this crop to config.yaml (video_sets)",
        )
        self.apply_button.add_class("posekit-crop-apply")
        self.apply_button.on_click(self._guarded(lambda _: self._apply()))
        self.reset_button = widgets.Button(
            description="Whole frame", tooltip="Select the whole frame"
        )
        self.reset_button.add_class("posekit-crop-reset")
        self.reset_button.on_click(self._guarded(lambda _: self._changed(self.box.reset())))
        self.status = widgets.HTML()
        self.status.add_class("posekit-status")
        self.children = [
            self.canvas.toolbar,
            self.canvas,
            widgets.HBox([*self._texts, self.reset_button, self.apply_button]),
            self.status,
        ]
        self.canvas.set_image(frame)
        self._sync_texts()
        self._set_status(self._describe())

    @property
    def _texts(self) -> tuple[widgets.IntText, ...]:
        return (self.x1, self.x2, self.y1, self.y2)

    # -- rendering ----------------------------------------------------------------- #
    def _paint_box(self, layer, view) -> None:
        x1, x2, y1, y2 = self.box.box
        # Box edges are pixel edges: edge e sits at image coordinate e - 0.5.
        left, top = view.image_to_canvas(x1 - 0.5, y1 - 0.5)
        right, bottom = view.image_to_canvas(x2 - 0.5, y2 - 0.5)
        u0, v0, w, h = view.image_rect()
        layer.fill_style = _SHADE
        layer.fill_rect(u0, v0, w, top - v0)
        layer.fill_rect(u0, bottom, w, v0 + h - bottom)
        layer.fill_rect(u0, top, left - u0, bottom - top)
        layer.fill_rect(right, top, u0 + w - right, bottom - top)
        layer.line_width = 2.0
        layer.stroke_style = _BOX_COLOR
        layer.stroke_rect(left, top, right - left, bottom - top)
        layer.fill_style = _BOX_COLOR
        size = 8.0
        for u in (left, right):
            for v in (top, bottom):
                layer.fill_rect(u - size / 2, v - size / 2, size, size)

    def _describe(self) -> str:
        x1, x2, y1, y2 = self.box.box
        return (
            f"crop <b>{format_crop(self.box.box)}</b> (x1, x2, y1, y2) → "
            f"{x2 - x1}x{y2 - y1} of {self.box.width}x{self.box.height}"
        )

    def _set_status(self, text: str, error: str = "") -> None:
        if error:
            text += f"<br><span style='color:#c00'>{html.escape(error)}</span>"
        self.status.value = text

    def _sync_texts(self) -> None:
        self._syncing = True
        try:
            for text, value in zip(self._texts, self.box.box, strict=True):
                text.value = value
        finally:
            self._syncing = False

    def _changed(self, _box: Any = None) -> None:
        self._sync_texts()
        self.canvas.redraw(POINTS)
        self._set_status(self._describe())

    # -- events ---------------------------------------------------------------------- #
    def _guarded(self, action: Callable[..., Any]) -> Callable[..., None]:
        def run(*args: Any) -> None:
            try:
                action(*args)
            except (ValueError, OSError, KeyError) as err:
                self._sync_texts()
                self._set_status(self._describe(), error=str(err))

        return run

    def _press(self, x: float, y: float) -> None:
        self.box.begin_drag(x + 0.5, y + 0.5, HANDLE_PX / self.canvas.view.scale)

    def _drag(self, x: float, y: float) -> None:
        if self.box.dragging is not None:
            self._changed(self.box.drag_to(x + 0.5, y + 0.5))

    def _release(self, x: float, y: float) -> None:
        if self.box.dragging is not None:
            self.box.drag_to(x + 0.5, y + 0.5)
            self._changed(self.box.end_drag())

    def _typed(self, change: dict) -> None:
        if self._syncing:
            return
        name = change["owner"].description
        self._guarded(lambda: self._changed(self.box.set(**{name: int(change["new"])})))()

    def _apply(self) -> None:
        box = self.box.apply()
        project, stem = self.box.project, self.box.stem
        text = f"{self._describe()} · written to {html.escape(str(project.config_path))}"
        if self.on_apply is None:
            self._set_status(
                f"{text} · frames extracted from now on (extract_frames(config, crop=True), "
                "the frame grabber) are cropped with it"
            )
            return
        before = set(project.frame_images(stem))
        self.on_apply(box)
        frames = project.frame_images(stem)
        new = sum(1 for p in frames if p not in before)
        folder = html.escape(str(project.labeled_folder(stem)))
        text += f" · {new} new frame(s) extracted to <code>{folder}</code> ({len(frames)} there in all)"
        sizes = project.frame_sizes(stem)
        warning = ""
        if len(sizes) > 1:
            warning = (
                f"This folder now holds frames of {len(sizes)} sizes ({describe_sizes(sizes)}): "
                "frames in one folder must share one size (label coordinates depend on the crop). "
                "Remove the frames of the old size, or put the crop box back."
            )
        self._set_status(text, error=warning)


def _int_text(name: str) -> widgets.IntText:
    text = widgets.IntText(description=name, layout=widgets.Layout(width="130px"))
    text.style.description_width = "24px"
    text.add_class(f"posekit-crop-{name}")
    return text


def crop_editor_widget(
    config: str | os.PathLike | Project,
    stem: str | None = None,
    *,
    frame_index: int = 0,
    canvas_size: tuple[int, int] = (800, 600),
    on_apply: Callable[[tuple[int, int, int, int]], Any] | None = None,
) -> CropEditorWidget:
    """Edit the ``video_sets`` crop of a project video on one of its frames.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    stem
        The video; default: the project's first video.
    frame_index
        Which frame to show (clipped to the video's length).
    canvas_size
        ``(width, height)`` of the canvas in screen pixels.
    on_apply
        Called with the box after Apply wrote it (``extract_frames(crop="GUI")``
        extracts there).

    Returns
    -------
    CropEditorWidget
        Its ``box`` holds the crop; Apply (or ``widget.box.apply()``) writes it.

    Raises
    ------
    ValueError
        If the project has no videos.
    FileNotFoundError, posekit.errors.VideoError
        If the video is missing or unreadable.
    """
    from posekit.io.video import VideoReader

    project = Project.open(config)
    stems = project.video_stems()
    if stem is None:
        if not stems:
            raise ValueError(
                f"{project.config_path} lists no videos in video_sets; add one with "
                "posekit.add_new_videos."
            )
        stem = stems[0]
    with VideoReader(project.video_path(stem)) as reader:
        frame = reader.read(min(max(int(frame_index), 0), reader.n_frames - 1))
    box = CropBox.from_project(project, stem, (frame.shape[1], frame.shape[0]))
    return CropEditorWidget(box, frame, canvas_size=canvas_size, on_apply=on_apply)
