"""The refinement widget driven by simulated front-end messages; results checked on disk."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ipycanvas")

from ipycanvas.canvas import _CMD_LIST

import posekit
from posekit.widgets.refiner import RefinementWidget
from tests.refine.conftest import PREDICTIONS, disk_point, folder_of


def refine_labels(*args, **kwargs):
    """The widget of ``posekit.refine_labels`` (what a notebook shows)."""
    return posekit.refine_labels(*args, **kwargs).widget()


def send(canvas, event: str, u: float, v: float) -> None:
    canvas._handle_custom_msg({"event": event, "x": float(u), "y": float(v)}, [])


def drag(widget, start_xy, end_xy) -> None:
    """A mouse drag from image point ``start_xy`` to ``end_xy`` (as the browser reports it)."""
    view = widget.canvas.view
    (u0, v0), (u1, v1) = view.image_to_canvas(*start_xy), view.image_to_canvas(*end_xy)
    send(widget.canvas, "mouse_down", u0, v0)
    send(widget.canvas, "mouse_move", (u0 + u1) / 2, (v0 + v1) / 2)
    send(widget.canvas, "mouse_move", u1, v1)
    send(widget.canvas, "mouse_up", u1, v1)


def key(canvas, name: str) -> None:
    canvas._handle_custom_msg(
        {"event": "key_down", "key": name, "shift_key": False, "ctrl_key": False, "meta_key": False}, []
    )


def click(button) -> None:
    button._handle_custom_msg({"event": "click"}, [])


def painted(widget, monkeypatch) -> list[tuple[str, list]]:
    """Draw commands the kernel sends when the points layer is repainted."""
    sent = []
    monkeypatch.setattr(widget.canvas._canvas_manager, "_send_custom",
                        lambda command, buffers=[]: sent.append(command))
    widget.canvas.redraw(1)
    flat = []
    for batch in sent:
        flat.extend(batch if batch and isinstance(batch[0], list) else [batch])
    return [(_CMD_LIST[c[0]], c[1]) for c in flat if isinstance(c[0], int)]


def test_uncertain_predictions_are_open_circles(tiny, monkeypatch):
    widget = refine_labels(tiny, canvas_size=(480, 360))
    assert isinstance(widget, RefinementWidget)
    assert "posekit-refiner" in widget._dom_classes and widget.threshold.value == 0.6
    fills = [args for name, args in painted(widget, monkeypatch) if name == "fillCircle"]
    filled = {tuple(np.round(a[:2], 6)) for a in fills}
    view = widget.canvas.view
    centre = {j: tuple(np.round(view.image_to_canvas(*PREDICTIONS[0, j, :2]), 6)) for j in range(4)}
    assert centre[1] not in filled  # leftear, likelihood 0.3: open circle
    assert {centre[0], centre[2], centre[3]} <= filled
    # the slider as the browser edits it
    widget.threshold._handle_msg({"content": {"data": {"method": "update", "state": {"value": 0.2},
                                  "buffer_paths": []}}, "buffers": []})
    assert widget.session.threshold == 0.2 and widget._hollow_parts() == [False] * 4
    assert "machine labels" in widget.status.value and "0/3 frames refined" in widget.status.value


def test_drag_delete_accept_land_on_disk(tiny):
    folder = folder_of(tiny)
    widget = refine_labels(tiny, canvas_size=(480, 360))
    drag(widget, PREDICTIONS[0, 1, :2], (52.25, 36.5))  # leftear, hollow, grabbed at its centre
    assert disk_point(folder, "img000.png", "leftear") == pytest.approx((52.25, 36.5), abs=1e-6)
    assert disk_point(folder, "img000.png", "snout") == (20.0, 30.0)  # the prediction, approved
    assert widget.frame_list.options[0][0] == "✓ img000.png" and "1/3 frames refined" in widget.status.value
    key(widget.canvas, "Delete")  # the dragged part is current: occluded
    assert disk_point(folder, "img000.png", "leftear") is None
    key(widget.canvas, "n")
    assert widget.session.index == 1
    click(widget.accept_button)  # img001 as predicted (its parked rightear stays unlabelled)
    assert disk_point(folder, "img001.png", "tailbase") == (85.0, 95.0)
    assert disk_point(folder, "img001.png", "rightear") is None
    assert widget.session.index == 2  # moved on to the next unrefined frame
    key(widget.canvas, "Enter")
    assert widget.session.unrefined() == [] and "merge_datasets" in widget.status.value


def test_delete_image_asks_first(tiny):
    folder = folder_of(tiny)
    widget = refine_labels(tiny, canvas_size=(480, 360))
    assert widget.confirm_box.layout.display == "none"
    click(widget.remove_image_button)
    assert widget.confirm_box.layout.display == "flex" and "img000.png" in widget.confirm_text.value
    keep, delete = widget.keep_button, widget.confirm_button
    click(keep)
    assert widget.confirm_box.layout.display == "none" and (folder / "img000.png").exists()
    click(widget.remove_image_button)
    click(delete)
    assert not (folder / "img000.png").exists()
    assert [o[0] for o in widget.frame_list.options] == ["· img001.png", "· img002.png"]
    assert widget.session.image_name == "img001.png" and "Deleted img000.png" in widget.status.value
    for _ in range(2):
        click(widget.remove_image_button)
        click(delete)
    assert widget.session.images == [] and "No frames left" in widget.status.value
    assert widget.accept_button.disabled


def test_two_refiners_merge_accepts_and_a_conflict_offers_reload(tiny):
    """Two refinement widgets on one folder (issue 14, section 3): neither drops the other's frames."""
    folder = folder_of(tiny)
    first = refine_labels(tiny, canvas_size=(480, 360))
    second = refine_labels(tiny, canvas_size=(480, 360))
    click(first.accept_button)  # img000
    key(second.canvas, "n")
    click(second.accept_button)  # img001, merged with first's img000
    assert disk_point(folder, "img000.png", "snout") == (20.0, 30.0)
    assert disk_point(folder, "img001.png", "snout") == (25.0, 35.0)
    assert "merged its labels" in second.status.value
    assert second.frame_list.options[0][0] == "✓ img000.png" and "2/3 frames refined" in second.status.value
    # both correct img002's snout differently: the later one is refused, Reload shows the other's
    first.session.go_to(2)
    drag(first, PREDICTIONS[2, 0, :2], (33.0, 44.0))
    assert second.session.index == 2
    drag(second, PREDICTIONS[2, 0, :2], (10.0, 10.0))
    assert disk_point(folder, "img002.png", "snout") == pytest.approx((33.0, 44.0))
    assert "NOT saved" in second.status.value and second.reload_button.layout.display == ""
    click(second.reload_button)
    assert second.session.get_point("snout") == pytest.approx((33.0, 44.0))
    assert second.session.unrefined() == [] and "merge_datasets" in second.status.value
    assert second.reload_button.layout.display == "none"
