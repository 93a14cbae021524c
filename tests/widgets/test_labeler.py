"""LabelingWidget driven by simulated front-end messages; every label is checked ON DISK.

Mouse events carry canvas-internal pixels (what ipycanvas' JS computes from
``canvas.width * (clientX - rect.left) / rect.width``); the labels on disk must
be in image coordinates whatever the zoom, pan and canvas size.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("ipycanvas")

import posekit
from posekit.labeling import LabelingSession
from posekit.widgets.labeler import LabelingWidget
from tests.labeling.projects import STEM, disk_point, make_tiny_project


def label_frames(*args, **kwargs):
    """The widget of ``posekit.label_frames`` (what a notebook shows)."""
    return posekit.label_frames(*args, **kwargs).widget()


def send(canvas, event: str, x: float, y: float) -> None:
    canvas._handle_custom_msg({"event": event, "x": float(x), "y": float(y)}, [])


def click(canvas, u: float, v: float) -> None:
    send(canvas, "mouse_down", u, v)
    send(canvas, "mouse_up", u, v)


def key(canvas, name: str, ctrl: bool = False) -> None:
    canvas._handle_custom_msg(
        {"event": "key_down", "key": name, "shift_key": False, "ctrl_key": ctrl, "meta_key": False},
        [],
    )


def front_end_edit(widget, **state) -> None:
    """A state edited in the browser, as the comm message arrives in the kernel."""
    widget._handle_msg(
        {
            "content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
            "buffers": [],
        }
    )


@pytest.fixture
def tiny(tmp_path):
    return make_tiny_project(tmp_path / "tiny", size=(160, 120))


def test_reaching_two_parts_zoomed_2x_and_panned_land_exactly(reaching_project):
    widget = label_frames(reaching_project, canvas_size=(640, 480))  # canvas smaller than 832x747
    canvas, session = widget.canvas, widget.session
    folder = session.folder
    assert session.image_name == "img005.png"
    fit = min(640 / 832, 480 / 747)
    assert canvas.view.scale == pytest.approx(fit)
    # zoom 2x on (400, 350), then pan 37 px left and 21 px down in pan mode
    canvas.set_view(2.0, center=(400.0, 350.0))
    key(canvas, "h")
    send(canvas, "mouse_down", 300, 200)
    send(canvas, "mouse_move", 263, 221)
    send(canvas, "mouse_up", 263, 221)
    key(canvas, "h")
    assert not canvas.pan_mode
    scale = 2 * fit
    ox, oy = 320 - 400.5 * scale - 37, 240 - 350.5 * scale + 21
    widget.part_buttons[0].click()  # Hand
    targets = {"Hand": (312.37, 301.81), "Finger1": (455.02, 398.6)}
    for part, (x, y) in targets.items():
        assert session.bodypart == part
        click(canvas, ox + (x + 0.5) * scale, oy + (y + 0.5) * scale)
    assert session.bodypart == "Tongue"
    for part, expected in targets.items():
        assert disk_point(folder, "img005.png", part, "Mackenzie") == pytest.approx(
            expected, abs=0.01
        )
    assert "Tongue" in widget.status.value and "saved" in widget.status.value


def test_canvas_larger_than_image(tiny):
    widget = label_frames(tiny, canvas_size=(800, 600))
    canvas = widget.canvas
    assert canvas.view.scale == 5.0 and canvas.view.offset_x == 0.0
    click(canvas, 5 * (17.25 + 0.5), 5 * (33.5 + 0.5))
    assert disk_point(widget.session.folder, "img000.png", "snout") == pytest.approx(
        (17.25, 33.5), abs=1e-9
    )
    canvas.zoom_in()  # zoom 1.5 around the centre (400, 300)
    scale = 7.5
    u = 400 + (60.0 + 0.5) * scale - 80 * scale  # image centre x = 79.5 sits at canvas 400
    v = 300 + (70.0 + 0.5) * scale - 60 * scale
    click(canvas, u, v)
    assert disk_point(widget.session.folder, "img000.png", "leftear") == pytest.approx(
        (60.0, 70.0), abs=1e-9
    )


def test_drag_moves_a_point_and_is_one_undo_step(reaching_project):
    widget = label_frames(reaching_project, canvas_size=(640, 480))
    canvas, session = widget.canvas, widget.session
    canvas.set_view(2.0, center=(200.0, 620.0))
    hand = session.get_point("Hand")
    u, v = canvas.view.image_to_canvas(*hand)
    send(canvas, "mouse_down", u + 2, v - 1)  # grab near, not exactly on, the dot
    assert session.bodypart == "Hand"
    for step in range(1, 5):
        send(canvas, "mouse_move", u + 2 + 10 * step, v - 1 + 5 * step)
    assert disk_point(session.folder, "img005.png", "Hand", "Mackenzie") == pytest.approx(
        hand
    )  # not yet
    send(canvas, "mouse_up", u + 2 + 40, v - 1 + 20)
    scale = canvas.view.scale
    expected = (hand[0] + 40 / scale, hand[1] + 20 / scale)  # keeps the grab offset
    assert disk_point(session.folder, "img005.png", "Hand", "Mackenzie") == pytest.approx(
        expected, abs=0.01
    )
    assert session.get_point("Finger1") == pytest.approx((208.25876752, 638.48198244))
    widget.undo_button.click()
    assert disk_point(session.folder, "img005.png", "Hand", "Mackenzie") == pytest.approx(
        hand, abs=1e-9
    )


def test_click_on_a_dot_selects_it_without_moving(reaching_project):
    widget = label_frames(reaching_project)
    session = widget.session
    finger = session.get_point("Finger1")
    u, v = widget.canvas.view.image_to_canvas(*finger)
    click(widget.canvas, u, v)
    assert session.bodypart == "Finger1" and not session.can_undo
    assert session.get_point("Finger1") == finger


def test_hover_ring_follows_the_pointer_and_goes_when_it_leaves(reaching_project):
    widget = label_frames(reaching_project)
    finger = widget.session.get_point("Finger1")
    u, v = widget.canvas.view.image_to_canvas(*finger)
    send(widget.canvas, "mouse_move", u + 1, v)
    assert widget._hover == "Finger1"
    send(widget.canvas, "mouse_out", u + 1, v)
    assert widget._hover is None


def test_remove_by_key_button_and_remove_mode(tiny):
    widget = label_frames(tiny, canvas_size=(640, 480))  # scale 4
    canvas, session = widget.canvas, widget.session
    for x, y in [(10.0, 10.0), (40.0, 10.0), (70.0, 10.0), (100.0, 10.0)]:
        click(canvas, (x + 0.5) * 4, (y + 0.5) * 4)
    assert session.completeness() == (4, 4)
    key(canvas, "1")
    key(canvas, "Delete")
    assert math.isnan(disk_point(session.folder, "img000.png", "snout")[0])
    session.select_bodypart("leftear")
    widget.remove_button.click()
    assert math.isnan(disk_point(session.folder, "img000.png", "leftear")[0])
    widget.remove_button.click()  # nothing left to remove: said in the status line
    assert "not labelled" in widget.status.value
    key(canvas, "r")
    assert widget.remove_mode.value
    click(canvas, (70.0 + 0.5) * 4 + 3, (10.0 + 0.5) * 4)  # near rightear
    assert math.isnan(disk_point(session.folder, "img000.png", "rightear")[0])
    assert disk_point(session.folder, "img000.png", "tailbase") == (100.0, 10.0)
    key(canvas, "z", ctrl=True)
    assert disk_point(session.folder, "img000.png", "rightear") == (70.0, 10.0)


def test_keys_and_buttons_navigate(tiny):
    widget = label_frames(tiny)
    canvas, session = widget.canvas, widget.session
    key(canvas, "n")
    assert session.index == 1
    key(canvas, "ArrowRight")
    widget.next_button.click()  # already last: stays
    assert session.index == 2
    key(canvas, "p")
    widget.previous_button._handle_custom_msg({"event": "click"}, [])
    assert session.index == 0
    key(canvas, "4")
    assert session.bodypart == "tailbase"
    key(canvas, "ArrowUp")
    assert session.bodypart == "rightear"
    key(canvas, "9")  # no 9th part: ignored
    assert session.bodypart == "rightear"
    widget.part_buttons[0].click()
    assert session.bodypart == "snout" and widget.part_buttons[0].description.startswith("▶")


def test_frame_list_shows_completeness_and_selects_frames(tiny):
    widget = label_frames(tiny, canvas_size=(640, 480))
    labels = [label for label, _ in widget.frame_list.options]
    assert labels == ["img000.png 0/4", "img001.png 0/4", "img002.png 0/4"]
    click(widget.canvas, 42, 42)
    click(widget.canvas, 82, 42)
    assert widget.frame_list.options[0][0] == "img000.png 2/4"
    assert widget.frame_list.value == 0  # relabelling did not move the selection
    front_end_edit(widget.frame_list, index=2)  # a Select syncs its index
    assert widget.session.index == 2 and widget.session.image_name in widget.status.value
    widget.session.go_to(1)  # code drives the session: the view follows
    assert widget.frame_list.value == 1


def test_frames_are_sent_compressed(reaching_project, monkeypatch):
    from ipycanvas.canvas import _CANVAS_MANAGER, _CMD_LIST

    sent = []
    monkeypatch.setattr(
        _CANVAS_MANAGER, "_send_custom", lambda command, buffers=[]: sent.append(command)
    )
    widget = label_frames(reaching_project)
    image = widget.session.read_image()
    assert image.shape == (747, 832, 3)
    data = widget.canvas.image_widget.value
    assert widget.canvas.image_widget.format == "jpeg" and data[:2] == b"\xff\xd8"
    assert len(data) < image.nbytes / 10  # ~77 KB instead of 1.86 MB
    first = data
    widget.next_button.click()
    assert widget.canvas.image_widget.value != first  # the next frame replaced it
    flat = [c for batch in sent for c in (batch if isinstance(batch[0], list) else [batch])]
    names = [_CMD_LIST[c[0]] for c in flat]
    assert names.count("drawImage") >= 2 and "putImageData" not in names


def test_client_ready_replays_image_and_points(reaching_project, monkeypatch):
    from ipycanvas.canvas import _CANVAS_MANAGER, _CMD_LIST

    widget = label_frames(reaching_project)
    widget.canvas.redraw(0)  # the kernel's last commands went to the image layer
    sent = []
    monkeypatch.setattr(
        _CANVAS_MANAGER, "_send_custom", lambda command, buffers=[]: sent.append(command)
    )
    widget.canvas._handle_custom_msg({"event": "client_ready"}, [])  # a new browser (Voila, reload)
    flat = [c for batch in sent for c in (batch if isinstance(batch[0], list) else [batch])]
    names = [_CMD_LIST[c[0]] for c in flat]
    assert names[0] == "switchCanvas"
    assert "drawImage" in names and names.count("fillCircle") == 4  # img005: 4 of 5 parts labelled
    assert "strokeLine" in names  # skeleton Hand-Finger1 / Joystick1-Joystick2


def test_click_outside_the_image_is_refused_in_the_status(reaching_project):
    widget = label_frames(reaching_project, canvas_size=(800, 600))  # letterboxed left and right
    click(widget.canvas, 5, 300)
    assert "inside the image" in widget.status.value
    assert not widget.session.can_undo


def test_dot_size_and_save_button(tiny):
    widget = label_frames(tiny)
    front_end_edit(widget.dot_size, value=20)
    assert widget.radius == 10
    widget.session.place((3.0, 4.0))
    folder = widget.session.folder
    (folder / "CollectedData_tester.h5").unlink()
    widget.save_button.click()
    assert disk_point(folder, "img000.png", "snout") == (3.0, 4.0)


def test_widget_layout_for_browser_tests(tiny):
    widget = LabelingWidget(LabelingSession(tiny), canvas_size=(500, 400))
    assert "posekit-label-canvas" in widget.canvas._dom_classes
    assert widget.canvas.layout.width == "500px"
    assert widget.status.layout.width == "500px"  # long messages wrap under the canvas
    assert widget.session.stem == STEM
    assert len(widget.part_buttons) == 4
    colors = {b.style.button_color for b in widget.part_buttons}
    assert len(colors) == 4  # each part in its colormap colour
    widget.close()


def test_missing_image_file_shows_a_message(tiny):
    (tiny.parent / "labeled-data" / STEM / "img001.png").unlink()
    widget = label_frames(tiny)
    assert widget.session.images[1][2] == "img002.png"  # a deleted frame is simply gone
    widget.session.place((1.0, 1.0))
    img = tiny.parent / "labeled-data" / STEM / "img000.png"
    img.unlink()  # deleted while labelling
    widget.session.next_image()
    widget.session.previous_image()
    assert not widget.canvas.has_image and "img000.png" in widget.status.value
    assert np.isfinite(widget.session.points()[0]).all()


# -- two widgets on one folder (issue 14, section 3) --------------------------------- #
def test_stale_widget_refuses_with_reload_after_a_body_part_was_added(tiny):
    from posekit.project import edit_config
    from tests.labeling.projects import BODYPARTS

    old = label_frames(tiny)
    assert old.reload_button.layout.display == "none"
    edit_config(tiny, {"bodyparts": [*BODYPARTS, "tail"]})
    new = label_frames(tiny)
    new.part_buttons[4].click()
    click(new.canvas, *new.canvas.view.image_to_canvas(30.0, 40.0))
    folder = new.session.folder
    assert disk_point(folder, "img000.png", "tail") == pytest.approx((30.0, 40.0))
    click(old.canvas, *old.canvas.view.image_to_canvas(10.0, 20.0))  # anywhere in the old widget
    assert disk_point(folder, "img000.png", "tail") == pytest.approx((30.0, 40.0))
    assert "[&#x27;tail&#x27;]" in old.status.value and "NOT saved" in old.status.value
    assert "unsaved changes" in old.status.value
    assert old.reload_button.layout.display == ""
    key(old.canvas, "n")  # another action: the message goes, the Reload button stays
    assert old.reload_button.layout.display == ""
    old.reload_button.click()
    assert old.reload_button.layout.display == "none"
    assert "Reloaded" in old.status.value and "unsaved" not in old.status.value
    assert [b.description.split(". ")[-1] for b in old.part_buttons][-1] == "tail"
    assert len(old.colors) == 5 and old.session.image_name == "img001.png"
    old.session.go_to(0)
    assert old.part_buttons[4].description.endswith("tail ✓")  # the other widget's label shows
    assert old.frame_list.options[0][0] == "img000.png 1/5"


def test_widget_says_it_merged_labels_saved_by_another_widget(tiny):
    first, second = label_frames(tiny), label_frames(tiny)
    click(first.canvas, *first.canvas.view.image_to_canvas(10.0, 20.0))  # img000 snout
    second.next_button.click()
    click(second.canvas, *second.canvas.view.image_to_canvas(30.0, 40.0))  # img001 snout
    folder = first.session.folder
    assert disk_point(folder, "img000.png", "snout") == pytest.approx((10.0, 20.0))
    assert disk_point(folder, "img001.png", "snout") == pytest.approx((30.0, 40.0))
    assert "merged its labels (1 label(s) in 1 image(s) changed, 1 image(s) added)" in second.status.value
    assert second.frame_list.options[0][0] == "img000.png 1/4"  # the list shows them too
    assert second.reload_button.layout.display == "none"
    key(second.canvas, "p")
    assert "merged" not in second.status.value  # said once, for the action that merged
