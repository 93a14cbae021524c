"""The refinement widget: the labeling canvas over a :class:`~posekit.refine.session.RefinementSession`.

Same canvas, keys and mouse as labeling (drag a dot to correct it, Delete marks
the current part occluded, click places a missing part, undo), plus: the
network's predictions below a likelihood threshold (slider, default
``pcutoff``) are drawn as open circles, above it as filled dots, in the body
part colours; "Accept" approves a frame as shown; "Delete image" removes an
invalid frame with its labels after a confirmation. Every change reaches
``CollectedData_<scorer>`` at once (the session saves through LabelTable).
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from posekit.refine.session import RefinementSession
from posekit.widgets.canvas import POINTS, TOP
from posekit.widgets.labeler import LabelingWidget, _button

__all__ = ["RefinementWidget"]

HELP = (
    "<b>Drag</b> a dot to correct it · filled = confident prediction or your label, "
    "<b>open circle</b> = likelihood below the threshold · <b>Del</b> mark the current "
    "part occluded · <b>click</b> places the current part if missing · "
    "<b>a</b> / <b>Enter</b> accept the frame as shown · <b>1-9, 0</b> / <b>↑ ↓</b> choose "
    "part · <b>n p → ←</b> next/previous frame · <b>u</b> or <b>Ctrl+Z</b> undo · "
    "<b>h</b> pan · <b>+ - f</b> zoom · every change is saved to CollectedData at once"
)


class RefinementWidget(LabelingWidget):
    """Correct the machine labels of one labeled-data folder.

    Parameters
    ----------
    session
        The refinement state; reachable as ``widget.session``.
    canvas_size, image_format
        As :class:`~posekit.widgets.labeler.LabelingWidget`.

    Attributes
    ----------
    threshold : ipywidgets.FloatSlider
        Likelihood threshold of open circles (``session.threshold``).
    accept_button, remove_image_button : ipywidgets.Button
    confirm_box : ipywidgets.HBox
        The "delete this image?" question (hidden until asked), with
        ``confirm_button`` (Delete) and ``keep_button``.
    """

    session: RefinementSession

    def __init__(
        self,
        session: RefinementSession,
        *,
        canvas_size: tuple[int, int] = (800, 600),
        image_format: str = "jpeg",
    ) -> None:
        super().__init__(session, canvas_size=canvas_size, image_format=image_format)
        self.add_class("posekit-refiner")
        self.remove_button.description = "Occluded"
        self.remove_button.tooltip = "Mark the current part occluded: no label (Delete)"
        self.accept_button = _button(
            "✓ Accept", "Approve this frame as shown and go to the next unrefined one (a, Enter)",
            "posekit-accept",
        )
        self.accept_button.button_style = "success"
        self.remove_image_button = _button(
            "Delete image…", "Delete this frame and its labels (asks first)", "posekit-remove-image"
        )
        self.accept_button.on_click(self._guarded(lambda _: self._accept()))
        self.remove_image_button.on_click(self._guarded(lambda _: self._ask_remove()))

        self.confirm_text = widgets.HTML()
        self.confirm_button = _button(
            "Delete", "Delete the image file and its labels", "posekit-confirm-remove"
        )
        self.confirm_button.button_style = "danger"
        self.keep_button = _button("Keep", "Do not delete", "posekit-cancel-remove")
        self.confirm_button.on_click(self._guarded(lambda _: self._confirm_remove()))
        self.keep_button.on_click(self._guarded(lambda _: self._hide_confirm()))
        self.confirm_box = widgets.HBox(
            [self.confirm_text, self.confirm_button, self.keep_button],
            layout=widgets.Layout(display="none"),
        )
        self.confirm_box.add_class("posekit-confirm")

        self.threshold = widgets.FloatSlider(
            value=session.threshold,
            min=0.0,
            max=1.0,
            step=0.01,
            description="Likelihood",
            readout_format=".2f",
            layout=widgets.Layout(width="220px"),
        )
        self.threshold.add_class("posekit-threshold")
        self.threshold.observe(self._threshold_changed, names="value")

        self.controls.children = (
            *self.controls.children,
            self.accept_button,
            self.remove_image_button,
        )
        self.side.children = (
            *self.side.children,
            widgets.HTML("<b>Open circle</b> below likelihood"),
            self.threshold,
        )
        self.help.value = f"<small>{HELP}</small>"
        self.frames_heading.value = "<b>Frames</b> (✓ refined)"
        body = self.children[0]
        self.children = (self.confirm_box, body, self.help)
        self._refresh_status()

    # -- rendering --------------------------------------------------------------- #
    def _hollow_parts(self) -> list[bool] | None:
        if not self.session.images:
            return None
        return self.session.uncertain().tolist()

    def _frame_label(self, index: int) -> tuple[str, int]:
        name = self.session.images[index][2]
        mark = "✓" if self.session.is_refined(index) else "·"
        return f"{mark} {name}", index

    def _sync_frame_list(self, every: bool = False) -> None:
        # The base class rebuilds the list when an image was removed; with none
        # left there is no current image to select.
        if self.session.images:
            super()._sync_frame_list(every)
            return
        self._syncing_frame_list = True
        try:
            self.frame_list.options = []
        finally:
            self._syncing_frame_list = False

    def _show_image(self) -> None:
        if self.session.images:
            super()._show_image()
            return
        self._drag = self._hover = None
        self._sync_frame_list()
        self.canvas.show_message("No frames left to refine.")
        self.canvas.redraw(POINTS, TOP)
        for button in (self.accept_button, self.remove_image_button, self.remove_button,
                       self.next_button, self.previous_button, self.undo_button):
            button.disabled = True
        self._refresh_status()

    def _refresh_status(self) -> None:
        s = self.session
        if not s.images:
            self.status.value = (
                "No frames left to refine. Next: <code>merge_datasets(config)</code>."
            )
            return
        super()._refresh_status()
        todo = len(s.unrefined())
        done = len(s.images) - todo
        state = (
            "<b style='color:#080'>refined</b> (in CollectedData)"
            if s.is_refined()
            else "<b style='color:#a60'>machine labels</b>: drag to correct, Accept if right"
        )
        parked = int(s.parked().sum())
        extra = f"<br>{state} · {done}/{len(s.images)} frames refined"
        if parked:
            extra += (
                f" · {parked} prediction(s) outside the image parked at "
                f"{tuple(int(c) for c in s.corner)}: drag them into place or mark them occluded"
            )
        if todo == 0:
            extra += " · all refined: next <code>merge_datasets(config)</code>"
        self.status.value += extra

    def _threshold_changed(self, change: dict) -> None:
        self.session.threshold = float(change["new"])
        if self.session.images:
            self.canvas.redraw(POINTS)

    # -- actions ----------------------------------------------------------------- #
    def _key(self, key: str, shift: bool, ctrl: bool, meta: bool) -> bool:
        if key in ("a", "Enter") and not (ctrl or meta):
            self._guarded(self._accept)()
            return True
        return super()._key(key, shift, ctrl, meta)

    def _accept(self) -> None:
        self.session.accept()
        if not self.session.next_unrefined():
            self._refresh_status()

    def _ask_remove(self) -> None:
        if not self.session.images:
            return
        name = html.escape(self.session.image_name)
        self.confirm_text.value = (
            f"<b style='color:#c00'>Delete {name} and its labels?</b> This cannot be undone. "
        )
        self.confirm_box.layout.display = "flex"

    def _hide_confirm(self) -> None:
        self.confirm_box.layout.display = "none"

    def _confirm_remove(self) -> None:
        self._hide_confirm()
        if self.session.images:
            removed = self.session.remove_image()
            self._message = f"Deleted {removed.name} and its labels."
