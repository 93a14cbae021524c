"""CropBox (headless) and the crop editor widget; Apply is checked in config.yaml."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("ipycanvas")

from posekit.labeling.crop import CropBox
from posekit.project import Project
from posekit.project.config import load_yaml
from posekit.widgets.crop_editor import CropEditorWidget, crop_editor_widget
from tests.labeling.projects import STEM, make_tiny_project


def send(canvas, event: str, x: float, y: float) -> None:
    canvas._handle_custom_msg({"event": event, "x": float(x), "y": float(y)}, [])


def front_end_edit(widget, **state) -> None:
    widget._handle_msg(
        {
            "content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
            "buffers": [],
        }
    )


def click(button) -> None:
    """What the browser sends for a click on an ipywidgets Button."""
    button._handle_custom_msg({"event": "click"}, [])


def stored_crop(config) -> str:
    (entry,) = load_yaml(config)["video_sets"].values()
    return entry["crop"]


@pytest.fixture
def tiny(tmp_path):
    return make_tiny_project(tmp_path / "tiny", size=(160, 120))


def frame(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)


# -- CropBox ------------------------------------------------------------------- #


def test_hit_test_corners_edges_inside():
    box = CropBox((20, 120, 10, 90), (160, 120))
    assert box.hit_test(21, 11, 3) == "nw"
    assert box.hit_test(119, 89, 3) == "se"
    assert box.hit_test(120, 10, 3) == "ne"
    assert box.hit_test(18, 90, 3) == "sw"
    assert box.hit_test(70, 10.5, 3) == "n"
    assert box.hit_test(122, 50, 3) == "e"
    assert box.hit_test(70, 50, 3) == "inside"
    assert box.hit_test(5, 50, 3) is None and box.hit_test(70, 110, 3) is None


def test_drag_corner_and_move_stay_inside_the_frame():
    box = CropBox((20, 120, 10, 90), (160, 120))
    assert box.begin_drag(120, 90, 2) == "se"
    assert box.drag_to(150.4, 100.6) == (20, 150, 10, 101)
    assert box.drag_to(500, 500) == (20, 160, 10, 120)  # clamped to the frame
    assert box.drag_to(-100, -100) == (20, 21, 10, 11)  # never crosses the opposite edges
    box.end_drag()
    assert box.drag_to(0, 0) == (20, 21, 10, 11)  # no drag: nothing moves
    box.set(x2=120, y2=90)
    assert box.begin_drag(70, 50, 2) == "inside"
    assert box.drag_to(70 + 1000, 50 - 1000) == (60, 160, 0, 80)  # moved, size kept, clamped
    box.end_drag()
    assert box.begin_drag(160, 40, 2) == "e"
    assert box.drag_to(190, 70) == (60, 160, 0, 80)  # e edge: clamped at the frame
    assert box.drag_to(130, 70) == (60, 130, 0, 80)  # only x2 moves
    assert box.begin_drag(0, 0, 2) is None and box.dragging is None


def test_set_validates_typed_values():
    box = CropBox((0, 160, 0, 120), (160, 120))
    assert box.set(x1=10, y2=100) == (10, 160, 0, 100)
    for bad, message in [
        ({"x2": 161}, r"not inside the 160x120 frame; need 0 <= x1 < x2 <= 160"),
        ({"x1": 160}, "not inside"),
        ({"y1": -1}, "not inside"),
        ({"y1": 2.5}, "four integers"),
    ]:
        with pytest.raises(ValueError, match=message):
            box.set(**bad)
    assert box.box == (10, 160, 0, 100)  # a refused edit changes nothing
    assert box.reset() == (0, 160, 0, 120)
    with pytest.raises(ValueError, match="not inside"):
        CropBox((0, 200, 0, 100), (160, 120))


def test_from_project_clips_and_apply_writes_config(tiny):
    project = Project.open(tiny)
    key = next(iter(project.cfg["video_sets"]))
    project.cfg["video_sets"][key]["crop"] = "0, 640, 277, 624"  # DLC's template default
    project.save_config()
    box = CropBox.from_project(tiny, STEM, (160, 120))
    assert box.box == (0, 160, 119, 120)
    box.set(x1=8, x2=150, y1=4, y2=100)
    assert box.apply() == (8, 150, 4, 100)
    assert stored_crop(tiny) == "8, 150, 4, 100"
    assert Project.open(tiny).crop_box(STEM) == (8, 150, 4, 100)
    with pytest.raises(ValueError, match="not bound"):
        CropBox((0, 10, 0, 10), (160, 120)).apply()


# -- widget ----------------------------------------------------------------------- #


def test_drag_corner_then_apply_changes_config(tiny):
    box = CropBox.from_project(tiny, STEM, (160, 120))
    widget = CropEditorWidget(box, frame(160, 120), canvas_size=(400, 400))
    canvas = widget.canvas
    assert "posekit-crop-canvas" in canvas._dom_classes and canvas.layout.width == "400px"
    # scale 2.5, image 400x300 at offset (0, 50): box edge e sits at canvas 2.5 * e
    send(canvas, "mouse_down", 400 - 3, 350 - 2)  # grab the se corner
    send(canvas, "mouse_move", 320, 260)
    send(canvas, "mouse_up", 300 - 3, 250 - 2)
    assert box.box == (0, 120, 0, 80)
    assert (widget.x2.value, widget.y2.value) == (120, 80)
    send(canvas, "mouse_down", 100, 150)  # inside: move the box
    send(canvas, "mouse_up", 100 + 2.5 * 30, 150 + 2.5 * 10)
    assert box.box == (30, 150, 10, 90)
    send(canvas, "mouse_down", 150, 150)
    send(canvas, "mouse_up", 150 + 2.5 * 100, 150 - 2.5 * 100)  # far out: clamped in the frame
    assert box.box == (40, 160, 0, 80)
    assert stored_crop(tiny) == "0, 160, 0, 120"  # nothing written before Apply
    widget.apply_button.click()
    assert stored_crop(tiny) == "40, 160, 0, 80"
    assert "written to" in widget.status.value


def test_typed_values_are_validated(tiny):
    widget = CropEditorWidget(CropBox.from_project(tiny, STEM, (160, 120)), frame(160, 120))
    front_end_edit(widget.x1, value=10)
    front_end_edit(widget.y2, value=90)
    assert widget.box.box == (10, 160, 0, 90)
    front_end_edit(widget.x2, value=999)
    assert widget.box.box == (10, 160, 0, 90) and widget.x2.value == 160  # put back
    assert "not inside the 160x120 frame" in widget.status.value
    widget.reset_button.click()
    assert (widget.x1.value, widget.y2.value) == (0, 120)
    with pytest.raises(ValueError, match="full, uncropped frame"):
        CropEditorWidget(CropBox((0, 10, 0, 10), (160, 120)), frame(80, 60))


def test_crop_editor_opens_the_project_video(tiny):
    video = pytest.importorskip("posekit.io.video")
    frames = [np.full((120, 160, 3), 40 * i, np.uint8) for i in range(4)]
    path = tiny.parent / "videos" / f"{STEM}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    video.write_video(path, frames, fps=10)
    applied = []
    widget = crop_editor_widget(tiny, frame_index=99, on_apply=applied.append)  # clipped to last frame
    assert widget.box.box == (0, 160, 0, 120)
    assert widget.canvas.image_widget.format == "jpeg"
    shown = np.asarray(Image.open(io.BytesIO(widget.canvas.image_widget.value)))
    assert shown.shape == (120, 160, 3) and abs(shown.mean() - 120) < 8  # the last frame
    view = widget.canvas.view
    u, v = view.image_to_canvas(-0.5, -0.5)  # nw corner (edges 0, 0)
    send(widget.canvas, "mouse_down", u + 1, v + 1)
    u2, v2 = view.image_to_canvas(24.5, 9.5)  # edges (25, 10)
    send(widget.canvas, "mouse_up", u2 + 1, v2 + 1)
    widget.apply_button.click()
    assert stored_crop(tiny) == "25, 160, 10, 120"
    assert applied == [(25, 160, 10, 120)]
    with pytest.raises(ValueError, match="lists no videos"):
        project = Project.open(tiny)
        project.cfg["video_sets"] = {}
        project.save_config()
        crop_editor_widget(tiny)


def _write_video(config, n_frames: int = 12):
    video = pytest.importorskip("posekit.io.video")
    frames = [np.full((120, 160, 3), 10 * i, np.uint8) for i in range(n_frames)]
    path = config.parent / "videos" / f"{STEM}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    video.write_video(path, frames, fps=10)


def test_apply_status_says_how_many_frames_were_extracted_and_where(tiny):
    from posekit import extract_frames

    _write_video(tiny)
    folder = Project.open(tiny).labeled_folder(STEM)
    for old in folder.glob("img*.png"):  # start from an empty folder
        old.unlink()
    editor = extract_frames(tiny, crop="GUI", algo="uniform", seed=0).widget()
    front_end_edit(editor.x1, value=40)
    click(editor.apply_button)
    assert stored_crop(tiny) == "40, 160, 0, 120"
    written = sorted(folder.glob("img*.png"))
    assert len(written) == 12  # numframes2pick (20) is more than the video has
    assert f"12 new frame(s) extracted to <code>{folder}</code> (12 there in all)" in editor.status.value
    assert "sizes" not in editor.status.value


def test_apply_warns_when_the_folder_ends_up_with_two_sizes(tiny):
    from posekit.io.images import write_png

    folder = Project.open(tiny).labeled_folder(STEM)  # holds three 160x120 frames

    def extract(box):
        x1, x2, y1, y2 = box
        write_png(folder / "img010.png", frame(x2 - x1, y2 - y1))

    widget = CropEditorWidget(CropBox.from_project(tiny, STEM, (160, 120)), frame(160, 120), on_apply=extract)
    front_end_edit(widget.y1, value=40)
    click(widget.apply_button)
    status = widget.status.value
    assert "1 new frame(s) extracted to" in status and "(4 there in all)" in status
    assert "frames of 2 sizes (3 at 160x120, 1 at 160x80)" in status


def test_apply_without_extraction_says_what_uses_the_box(tiny):
    widget = CropEditorWidget(CropBox.from_project(tiny, STEM, (160, 120)), frame(160, 120))
    click(widget.apply_button)
    assert "extract_frames(config, crop=True)" in widget.status.value
    assert "extracted to" not in widget.status.value
