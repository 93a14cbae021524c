"""The labeling widget: a thin view over a :class:`~posekit.labeling.session.LabelingSession`.

Click places the current body part and selects the next; dragging a dot moves
it; Delete/Backspace, the "Remove point" button or remove mode unlabel (the
browser does not forward right-clicks to ipycanvas). Every change goes
through the session, which saves it to CollectedData at once. When another
widget or program saved CollectedData meanwhile, the status line says its labels
were merged; when a change cannot be merged safely it is refused, and a Reload
button shows what is on disk.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np

from posekit.io.labels import LabelConflictError
from posekit.labeling.session import LabelingSession
from posekit.viz.style import PlotStyle
from posekit.widgets.canvas import POINTS, TOP, ImageCanvas, css_color, paint_pose, paint_ring

__all__ = ["LabelingWidget"]

#: Smallest grab radius (canvas pixels) for picking a dot to drag or remove.
MIN_PICK_RADIUS = 8.0

HELP = (
    "<b>Click</b> label the current part (then the next is selected) · "
    "<b>drag</b> a dot to move it · "
    "<b>1-9, 0</b> / <b>↑ ↓</b> choose part · <b>n p → ←</b> next/previous frame · "
    "<b>Del</b> remove current part · <b>u</b> or <b>Ctrl+Z</b> undo · <b>r</b> remove mode · "
    "<b>h</b> pan mode · <b>+ - f</b> zoom in/out/fit, wheel zooms at the cursor"
)


@dataclass
class _Drag:
    """A dot being dragged: where it was and where it was grabbed."""

    bodypart: str
    origin: tuple[float, float]
    grab: tuple[float, float]
    position: tuple[float, float]
    moved: bool = False


class LabelingWidget(widgets.VBox):
    """Label the frames of one labeled-data folder on a zoomable canvas.

    Parameters
    ----------
    session
        The labeling state; reachable as ``widget.session``.
    canvas_size
        ``(width, height)`` of the canvas in screen pixels.
    image_format
        ``"jpeg"`` or ``"png"`` frame transfer to the browser.

    Attributes
    ----------
    session : LabelingSession
    canvas : ImageCanvas
        The 3-layer canvas (CSS class ``posekit-label-canvas``); layer 2
        receives the mouse and keys.
    last_frame_seconds : float or None
        Time the last frame switch took in the kernel (read, encode, draw).
    controls, side : ipywidgets.HBox, ipywidgets.VBox
        The button row above the canvas and the panel beside it (the
        refinement widget adds its controls there); ``frames_heading`` titles
        the frame list.
    help : ipywidgets.HTML
        The key and mouse help below.
    """

    def __init__(
        self,
        session: LabelingSession,
        *,
        canvas_size: tuple[int, int] = (800, 600),
        image_format: str = "jpeg",
    ) -> None:
        super().__init__()
        self.add_class("posekit-labeler")
        self.session = session
        style = PlotStyle.from_config(session.project.cfg)
        parts = session.bodyparts
        self._part_rgb = style.colors(len(parts))
        self.colors = [css_color(c) for c in self._part_rgb]
        self.skeleton = style.skeleton_indices(session.project.bodyparts)
        self.skeleton_color = style.skeleton_color
        self.alpha = style.alphavalue
        self.last_frame_seconds: float | None = None
        self._notice = ""  # not an error: e.g. labels merged from disk
        self._drag: _Drag | None = None
        self._hover: str | None = None
        self._message = ""
        self._syncing_frame_list = False

        self.canvas = ImageCanvas(
            *canvas_size, css_class="posekit-label-canvas", image_format=image_format
        )
        self.canvas.set_painter(POINTS, self._paint_points)
        self.canvas.set_painter(TOP, self._paint_hover)
        self.canvas.connect(
            press=self._guarded(self._press),
            drag=self._drag_to,
            release=self._guarded(self._release, clear=False),
            hover=self._hover_at,
            leave=self._leave,
            key=self._key,
        )

        self.previous_button = _button("◀ Prev", "Previous frame (p, ←)", "posekit-previous")
        self.next_button = _button("Next ▶", "Next frame (n, →)", "posekit-next")
        self.remove_button = _button(
            "Remove point", "Unlabel the current part (Delete)", "posekit-remove"
        )
        self.undo_button = _button("Undo", "Undo the last change (u, Ctrl+Z)", "posekit-undo")
        self.save_button = _button(
            "Save", "Write CollectedData now (changes are saved anyway)", "posekit-save"
        )
        self.reload_button = _button(
            "Reload",
            "Show the labels and body parts on disk; your unsaved change is dropped",
            "posekit-reload",
        )
        self.reload_button.button_style = "warning"
        self.reload_button.layout.display = "none"  # shown when a save is refused
        self.remove_mode = widgets.ToggleButton(
            description="Remove mode",
            tooltip="While on, clicking a dot unlabels it (r)",
            layout=widgets.Layout(width="auto"),
        )
        self.remove_mode.add_class("posekit-remove-mode")
        self.previous_button.on_click(self._guarded(lambda _: self.session.previous_image()))
        self.next_button.on_click(self._guarded(lambda _: self.session.next_image()))
        self.remove_button.on_click(self._guarded(lambda _: self._remove_current()))
        self.undo_button.on_click(self._guarded(lambda _: self._undo()))
        self.save_button.on_click(self._guarded(lambda _: self._save()))
        self.reload_button.on_click(self._guarded(lambda _: self.session.reload()))

        self.part_buttons = [self._part_button(j) for j in range(len(parts))]
        self.parts_box = widgets.VBox(self.part_buttons)
        self.frame_list = widgets.Select(
            options=[self._frame_label(i) for i in range(len(session.images))],
            value=session.index,
            rows=min(15, len(session.images)),
            layout=widgets.Layout(width="220px"),
        )
        self.frame_list.add_class("posekit-frame-list")
        self.frame_list.observe(self._frame_selected, names="value")
        self.dot_size = widgets.IntSlider(
            value=int(style.dotsize),
            min=2,
            max=40,
            description="Dot size",
            layout=widgets.Layout(width="220px"),
        )
        self.dot_size.observe(lambda _: self.canvas.redraw(POINTS, TOP), names="value")
        # as wide as the canvas: a long message wraps instead of pushing the
        # side panel to the right
        self.status = widgets.HTML(layout=widgets.Layout(width=f"{canvas_size[0]}px"))
        self.status.add_class("posekit-status")

        self.controls = toolbar = widgets.HBox(
            [
                self.previous_button,
                self.next_button,
                self.canvas.toolbar,
                self.remove_mode,
                self.remove_button,
                self.undo_button,
                self.save_button,
                self.reload_button,
            ],
            layout=widgets.Layout(flex_flow="row wrap", width=f"{canvas_size[0]}px"),
        )
        self.frames_heading = widgets.HTML("<b>Frames</b> (labelled/total)")
        self.side = side = widgets.VBox(
            [
                widgets.HTML("<b>Body parts</b>"),
                self.parts_box,
                self.frames_heading,
                self.frame_list,
                self.dot_size,
            ],
            layout=widgets.Layout(margin="0 0 0 8px"),
        )
        self.help = widgets.HTML(f"<small>{HELP}</small>")
        self.children = [
            widgets.HBox([widgets.VBox([toolbar, self.canvas, self.status]), side]),
            self.help,
        ]
        session.on_change(self._session_changed)
        self._show_image()

    # -- rendering --------------------------------------------------------------- #
    @property
    def radius(self) -> float:
        """Dot radius in canvas pixels (half the dot-size slider)."""
        return self.dot_size.value / 2

    def _paint_points(self, layer, view) -> None:
        if not self.canvas.has_image:
            return
        points = self.session.points()
        if self._drag is not None:
            points[self.session.bodyparts.index(self._drag.bodypart)] = self._drag.position
        paint_pose(
            layer,
            view,
            points,
            self.colors,
            self.radius,
            alpha=self.alpha,
            skeleton=self.skeleton,
            skeleton_color=self.skeleton_color,
            selected=self.session.bodyparts.index(self.session.bodypart),
            hollow=self._hollow_parts(),
        )

    def _hollow_parts(self) -> list[bool] | None:
        """Body parts drawn as open circles (None: all filled); the refiner overrides it."""
        return None

    def _paint_hover(self, layer, view) -> None:
        if self._hover is None or self._drag is not None or not self.canvas.has_image:
            return
        point = self.session.get_point(self._hover)
        if point is not None:
            color = "red" if self.remove_mode.value else "yellow"
            paint_ring(layer, view.image_to_canvas(*point), self.radius + 6, color)

    def _show_image(self) -> None:
        start = time.perf_counter()
        self._drag = self._hover = None
        try:
            image = self.session.read_image()
        except (OSError, ValueError) as err:
            self.canvas.show_message(f"Cannot show {self.session.image_name}", redraw=False)
            self._message = str(err)
        else:
            self.canvas.set_image(image, redraw=False)
        self.canvas.redraw()
        self._sync_frame_list()
        self._refresh_parts()
        self._refresh_status()
        self.last_frame_seconds = time.perf_counter() - start

    def _session_changed(self, event: str) -> None:
        if event == "reloaded":
            self._rebuild()
            self.reload_button.layout.display = "none"
            self._notice = "Reloaded CollectedData and config.yaml from disk."
            self._show_image()
            return
        if event == "image":
            self._show_image()
            return
        if event == "merged":
            self._notice = (
                "CollectedData was changed by another session or program: merged its labels "
                f"({self.session.last_merge}) with yours before saving."
            )
            self._sync_frame_list(every=True)
            self._refresh_parts()
            self.canvas.redraw(POINTS, TOP)
        elif event == "points":
            self._sync_frame_list()
            self._refresh_parts()
            self.canvas.redraw(POINTS, TOP)
        elif event == "bodypart":
            self._refresh_parts()
            self.canvas.redraw(POINTS)
        self._refresh_status()

    def _refresh_parts(self) -> None:
        points = self.session.points()
        for j, (button, name) in enumerate(
            zip(self.part_buttons, self.session.bodyparts, strict=True)
        ):
            current = name == self.session.bodypart
            key = f"{(j + 1) % 10}. " if j < 10 else ""
            done = " ✓" if np.isfinite(points[j]).all() else ""
            button.description = f"{'▶ ' if current else ''}{key}{name}{done}"
            button.style.font_weight = "bold" if current else "normal"

    def _refresh_status(self) -> None:
        s = self.session
        labelled, total = s.completeness()
        j = s.bodyparts.index(s.bodypart)
        color = self.colors[j]
        saved = (
            "unsaved changes"
            if s.dirty
            else (
                f"saved ({s.last_save_seconds * 1000:.0f} ms)"
                if s.last_save_seconds is not None
                else "no changes yet"
            )
        )
        text = (
            f"<b>{html.escape(s.image_name)}</b> ({s.index + 1}/{len(s.images)}) · "
            f"current part <b style='color:{color}'>{html.escape(s.bodypart)}</b> "
            f"({j + 1}/{len(s.bodyparts)}) · "
            f"{labelled}/{total} labelled · {saved}"
        )
        if self._notice:
            text += f"<br><span style='color:#a60'>{html.escape(self._notice)}</span>"
        if self._message:
            text += f"<br><span style='color:#c00'>{html.escape(self._message)}</span>"
        self.status.value = text

    def _frame_label(self, index: int) -> tuple[str, int]:
        n, total = self.session.completeness(index)
        return f"{self.session.images[index][2]} {n}/{total}", index

    def _sync_frame_list(self, every: bool = False) -> None:
        # An edit touches the current image, so only its label can change; after
        # labels were merged or reloaded from disk (``every``) any can.
        options = list(self.frame_list.options)
        if every or len(options) != len(self.session.images):
            options = [self._frame_label(i) for i in range(len(self.session.images))]
        else:
            options[self.session.index] = self._frame_label(self.session.index)
        # Reassigning options resets the selection in ipywidgets 8; the guard
        # keeps that (and restoring it) from navigating the session.
        self._syncing_frame_list = True
        try:
            if options != list(self.frame_list.options):
                self.frame_list.options = options
            self.frame_list.value = self.session.index
        finally:
            self._syncing_frame_list = False

    # -- events --------------------------------------------------------------------- #
    def _guarded(self, action: Callable[..., Any], clear: bool = True) -> Callable[..., None]:
        """Run ``action``; show a user error in the status line instead of losing it in the log.

        With ``clear`` the previous error message goes first (a new user action).
        """

        def run(*args: Any) -> None:
            if clear:
                self._message = self._notice = ""
            try:
                action(*args)
            except (ValueError, OSError, IndexError) as err:
                self._message = str(err)
                if isinstance(err, LabelConflictError):
                    self.reload_button.layout.display = ""
            self._refresh_status()

        return run

    def _pick_radius(self) -> float:
        """Grab distance in image pixels: the dot plus a margin, constant on screen."""
        return max(self.radius + 2, MIN_PICK_RADIUS) / self.canvas.view.scale

    def _press(self, x: float, y: float) -> None:
        if not self.canvas.has_image:
            return
        if not self.canvas.view.contains(x, y):
            raise ValueError("Click inside the image to label it.")
        hit = self.session.nearest_point((x, y), self._pick_radius())
        if self.remove_mode.value:
            if hit is not None:
                self.session.remove(hit)
            return
        if hit is not None:
            origin = self.session.get_point(hit)
            self._drag = _Drag(hit, origin, (x, y), origin)
            self.session.select_bodypart(hit)
            return
        self.session.place((x, y))

    def _dragged_position(self, drag: _Drag, x: float, y: float) -> tuple[float, float]:
        width, height = self.session.image_size()
        # The dot keeps its offset from the grab point and stays on the image.
        nx = drag.origin[0] + x - drag.grab[0]
        ny = drag.origin[1] + y - drag.grab[1]
        return min(max(nx, -0.5), width - 0.5), min(max(ny, -0.5), height - 0.5)

    def _drag_to(self, x: float, y: float) -> None:
        if self._drag is None:
            return
        self._drag.position = self._dragged_position(self._drag, x, y)
        self._drag.moved = True
        self.canvas.redraw(POINTS, TOP)

    def _release(self, x: float, y: float) -> None:
        drag, self._drag = self._drag, None
        if drag is None:
            return
        if drag.moved:
            self.session.move(drag.bodypart, self._dragged_position(drag, x, y))
        self.canvas.redraw(POINTS, TOP)

    def _hover_at(self, x: float, y: float) -> None:
        hit = None
        if self.canvas.has_image and self.canvas.view.contains(x, y):
            hit = self.session.nearest_point((x, y), self._pick_radius())
        if hit != self._hover:
            self._hover = hit
            self.canvas.redraw(TOP)

    def _leave(self, x: float, y: float) -> None:
        if self._hover is not None:  # no hover ring once the pointer is gone
            self._hover = None
            self.canvas.redraw(TOP)

    def _key(self, key: str, shift: bool, ctrl: bool, meta: bool) -> bool:
        s = self.session
        actions: dict[str, Callable[[], Any]] = {
            "ArrowRight": s.next_image,
            "n": s.next_image,
            "PageDown": s.next_image,
            "ArrowLeft": s.previous_image,
            "p": s.previous_image,
            "PageUp": s.previous_image,
            "ArrowDown": s.next_bodypart,
            "ArrowUp": s.previous_bodypart,
            "Delete": self._remove_current,
            "Backspace": self._remove_current,
            "u": self._undo,
            "r": self._toggle_remove_mode,
            "h": self._toggle_pan_mode,
        }
        if key in ("z", "Z") and (ctrl or meta):
            action: Callable[[], Any] | None = self._undo
        elif len(key) == 1 and key.isdigit():
            index = (int(key) - 1) % 10
            action = (lambda: s.select_bodypart(index)) if index < len(s.bodyparts) else None
        else:
            action = actions.get(key)
        if action is None:
            return False
        self._guarded(action)()
        return True

    def _rebuild(self) -> None:
        """Colours, body-part buttons and frame list anew: the session re-read config and labels."""
        s = self.session
        style = PlotStyle.from_config(s.project.cfg)
        self._part_rgb = style.colors(len(s.bodyparts))
        self.colors = [css_color(c) for c in self._part_rgb]
        self.skeleton = style.skeleton_indices(s.project.bodyparts)
        self.part_buttons = [self._part_button(j) for j in range(len(s.bodyparts))]
        self.parts_box.children = self.part_buttons

    def _part_button(self, j: int) -> widgets.Button:
        r, g, b = (float(c) for c in self._part_rgb[j])
        # Dark text on light colours, light text on dark ones.
        luminance = 0.299 * r + 0.587 * g + 0.114 * b
        button = widgets.Button(
            layout=widgets.Layout(width="220px"),
            style=widgets.ButtonStyle(
                button_color=self.colors[j], text_color="black" if luminance > 140 else "white"
            ),
        )
        button.add_class("posekit-bodypart")
        name = self.session.bodyparts[j]
        button.on_click(self._guarded(lambda _: self.session.select_bodypart(name)))
        return button

    def _frame_selected(self, change: dict) -> None:
        if not self._syncing_frame_list and change["new"] is not None:
            self._guarded(self.session.go_to)(int(change["new"]))

    def _remove_current(self) -> None:
        if not self.session.remove():
            raise ValueError(f"{self.session.bodypart} is not labelled in this frame.")

    def _undo(self) -> None:
        if self.session.undo() is None:
            raise ValueError("Nothing to undo.")

    def _save(self) -> None:
        self.session.save()
        self._refresh_status()

    def _toggle_remove_mode(self) -> None:
        self.remove_mode.value = not self.remove_mode.value
        self.canvas.redraw(TOP)

    def _toggle_pan_mode(self) -> None:
        self.canvas.pan_mode = not self.canvas.pan_mode

    def close(self) -> None:
        """Save pending changes, stop listening to the session, close the widgets."""
        self.session.close()
        self.session.on_change(self._session_changed, remove=True)
        super().close()


def _button(description: str, tooltip: str, css_class: str) -> widgets.Button:
    button = widgets.Button(
        description=description, tooltip=tooltip, layout=widgets.Layout(width="auto")
    )
    button.add_class(css_class)
    return button
