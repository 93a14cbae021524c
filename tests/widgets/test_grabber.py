"""FrameGrabberWidget driven by the messages a browser sends (no kernel, no browser)."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest

import posekit
from posekit.frames.grabber import FrameGrabber
from posekit.io.images import read_image
from posekit.io.video import VideoReader
from posekit.project.project import frame_index_from_name
from posekit.widgets.grabber import (
    FrameGrabberWidget,
    LatestRequestWorker,
    format_time,
    preview_jpeg,
)
from tests.frames.test_grabber import add_test_video, free_index


def manual_extraction(config, stem=None):
    """The widget of ``posekit.extract_frames(config, "manual")`` (what a notebook shows)."""
    return posekit.extract_frames(config, "manual", videos_list=[stem] if stem else None).widget()


def front_end_sets(widget, **state) -> None:
    """What the browser sends when the user edits a widget (slider drag, typing, list pick)."""
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
                        "buffers": []})


def click(button) -> None:
    """What the browser sends for a click on an ipywidgets Button."""
    button._handle_custom_msg({"event": "click"}, [])


def jpeg_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    assert data[:3] == b"\xff\xd8\xff", "not a JPEG"
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        return img.size


@pytest.fixture
def widget(synthetic_copy):
    w = manual_extraction(synthetic_copy)
    assert w.wait_idle(20)
    yield w
    w.close()


def test_layout_and_css_classes(widget):
    assert "posekit-grabber" in widget._dom_classes
    assert "posekit-grab-button" in widget.grab_button._dom_classes
    assert widget.grab_button.description == "Grab frame"
    assert [b.description for b in widget.step_buttons] == ["\u221210", "\u22121", "+1", "+10"]
    assert widget.slider.max == 119 and widget.video.options == (widget.grabber.stem,)
    assert widget.info.value.startswith("frame 0 / 119")
    assert len(widget.grabbed_list.options) == len(widget.grabber.grabbed()) == 8


def test_preview_is_a_jpeg_of_the_current_frame_smaller_than_raw(widget):
    assert widget.shown_index == 0 and widget.image.format == "jpeg"
    frame = widget.grabber.frame(0)
    assert jpeg_size(widget.image.value) == (320, 240)
    assert len(widget.image.value) < frame.nbytes / 5
    shown = read_image_bytes(widget.image.value).astype(int)
    assert np.abs(shown - frame).mean() < 6  # the same picture, JPEG-compressed


def read_image_bytes(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def test_preview_of_a_1080p_frame_is_downscaled():
    frame = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    data = preview_jpeg(frame)
    assert jpeg_size(data) == (960, 540)
    assert len(data) < frame.nbytes / 4
    assert jpeg_size(preview_jpeg(frame[:, :401], max_width=200)) == (200, 539)


def test_step_buttons_jump_box_and_info(widget):
    for button, expected in zip(widget.step_buttons[::-1], (10, 11, 10, 0), strict=True):  # +10, +1, -1, -10
        click(button)
        assert widget.grabber.index == widget.slider.value == widget.jump.value == expected
    front_end_sets(widget.jump, value=57)
    assert widget.grabber.index == widget.slider.value == 57
    assert widget.info.value.startswith(f"frame 57 / 119  \u00b7  {format_time(57 / 30)}")
    front_end_sets(widget.jump, value=10**6)
    assert widget.grabber.index == 119 and widget.jump.value == 119  # clamped, and shown clamped
    click(widget.step_buttons[3])
    assert widget.grabber.index == 119
    assert widget.wait_idle(10) and widget.shown_index == 119


def test_grab_button_writes_the_exact_frame(widget):
    g = widget.grabber
    index = free_index(g, 20)
    front_end_sets(widget.slider, value=index)
    click(widget.grab_button)
    path = g.folder / f"img{index:03d}.png"
    assert path.is_file()
    with VideoReader(g.video_path) as reader:
        np.testing.assert_array_equal(read_image(path), reader.read(index))
    assert widget.status.value == f"Saved frame {index} as {path.name}."
    assert widget.grabbed_list.value == index
    assert any(label.startswith(path.name) for label, _ in widget.grabbed_list.options)
    assert "\u2713 extracted" in widget.info.value
    click(widget.grab_button)
    assert "already extracted" in widget.status.value and len(g.grabbed()) == 9


def test_delete_button_removes_selected_but_keeps_labeled(widget):
    g = widget.grabber
    index = free_index(g, 100)
    widget.seek(index)
    click(widget.grab_button)
    labeled = frame_index_from_name(g.grabbed()[0].name)
    front_end_sets(widget.grabbed_list, index=0)  # the user picks the first (labeled) image
    assert widget.grabbed_list.value == labeled and g.index == labeled  # picking seeks there
    click(widget.delete_button)
    assert widget.status.value.startswith("Error: Not deleting") and g.grabbed()[0].is_file()
    position = [i for _, i in widget.grabbed_list.options].index(index)
    front_end_sets(widget.grabbed_list, index=position)
    click(widget.delete_button)
    assert widget.status.value == f"Deleted img{index:03d}.png."
    assert index not in g.grabbed_indices()
    assert index not in [i for _, i in widget.grabbed_list.options]


def test_rapid_slider_drag_decodes_only_the_newest_frame(synthetic_copy, monkeypatch):
    """60 slider updates while a decode runs cost exactly one more decode: the last one."""
    grabber = FrameGrabber(synthetic_copy)
    widget = FrameGrabberWidget(grabber, own_grabber=True)
    assert widget.wait_idle(20)
    decoded, gate = [], threading.Event()
    real_frame = grabber.frame

    def slow_frame(index=None):
        decoded.append(index)
        gate.wait(10)  # the first decode is still running while the user drags on
        return real_frame(index)

    monkeypatch.setattr(grabber, "frame", slow_frame)
    try:
        for value in range(1, 61):
            front_end_sets(widget.slider, value=value)
        assert grabber.index == 60 and widget.info.value.startswith("frame 60")  # no waiting for pixels
        gate.set()
        assert widget.wait_idle(20)
        assert len(decoded) <= 2 and decoded[-1] == 60, decoded  # at most one in flight + the newest
        assert widget.shown_index == 60
        assert widget.image.value == preview_jpeg(real_frame(60))
    finally:
        gate.set()
        widget.close()


def test_video_dropdown_switches_video(synthetic_copy):
    add_test_video(synthetic_copy, "second", n_frames=30)
    widget = manual_extraction(synthetic_copy)
    try:
        widget.seek(100)
        front_end_sets(widget.video, index=1)
        assert widget.grabber.stem == "second" and widget.video.value == "second"
        assert widget.slider.max == 29 and widget.slider.value == 0 and widget.grabber.index == 0
        assert widget.grabbed_list.options == ()
        assert widget.status.value == "Video 'second': 30 frames."
        front_end_sets(widget.slider, value=29)
        assert widget.wait_idle(20) and widget.shown_index == 29
        assert jpeg_size(widget.image.value) == (64, 48)
        click(widget.grab_button)
        assert (widget.grabber.project.labeled_folder("second") / "img29.png").is_file()
    finally:
        widget.close()


def test_failed_video_switch_keeps_the_open_video(synthetic_copy):
    source = add_test_video(synthetic_copy, "second", n_frames=30)
    widget = manual_extraction(synthetic_copy)
    try:
        widget.seek(50)
        widget.grabber.project.video_path("second").unlink()
        source.unlink()
        front_end_sets(widget.video, index=1)
        assert widget.status.value.startswith("Error: Video 'second' not found")
        assert widget.video.value == widget.grabber.stem != "second"
        assert widget.grabber.index == widget.slider.value == 50  # nothing moved
    finally:
        widget.close()


def test_decode_errors_go_to_the_status_line(widget, monkeypatch):
    def broken(index=None):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(widget.grabber, "frame", broken)
    widget.seek(5)
    assert widget.wait_idle(10)
    assert widget.status.value == "Error: disk on fire"
    monkeypatch.undo()
    widget.seek(6)
    assert widget.wait_idle(10) and widget.shown_index == 6  # the worker survived


def test_synchronous_mode_decodes_every_request(synthetic_copy):
    widget = FrameGrabberWidget(FrameGrabber(synthetic_copy), threaded=False, own_grabber=True)
    try:
        for value in (3, 4, 5):
            front_end_sets(widget.slider, value=value)
            assert widget.shown_index == value
    finally:
        widget.close()


def test_worker_runs_latest_request_and_closes():
    seen, gate = [], threading.Event()

    def job(request):
        gate.wait(5)
        seen.append(request)

    worker = LatestRequestWorker(job)
    worker.submit(0)
    for request in range(1, 20):
        worker.submit(request)
    gate.set()
    assert worker.wait_idle(5)
    assert seen[-1] == 19 and len(seen) <= 3
    worker.close()
    worker.submit(99)
    assert worker.wait_idle(1) and 99 not in seen


def test_format_time():
    assert format_time(0) == "00:00.000"
    assert format_time(61.25) == "01:01.250"
    assert format_time(3725.5) == "1:02:05.500"


def test_grabs_through_the_crop_box_and_says_so(synthetic_copy):
    add_test_video(synthetic_copy, "cropped", n_frames=12, coords=(8, 40, 4, 36))
    widget = manual_extraction(synthetic_copy, stem="cropped")
    try:
        assert widget.status.value == "Grabbing through the crop box 8, 40, 4, 36."
        front_end_sets(widget.slider, value=3)
        assert widget.wait_idle(20) and jpeg_size(widget.image.value) == (32, 32)
        click(widget.grab_button)
        assert read_image(widget.grabber.project.labeled_folder("cropped") / "img03.png").shape == (32, 32, 3)
    finally:
        widget.close()


def test_frame_size_warning_reaches_the_status_line(synthetic_copy):
    from posekit.frames.grabber import FrameSizeWarning
    from tests.frames.test_grabber import set_crop

    add_test_video(synthetic_copy, "late", n_frames=12)
    with FrameGrabber(synthetic_copy, stem="late") as g:
        g.grab()
    set_crop(synthetic_copy, "late", "8, 40, 4, 36")
    widget = manual_extraction(synthetic_copy)  # opens the first video: no warning yet
    try:
        with pytest.warns(FrameSizeWarning):
            front_end_sets(widget.video, index=1)
        assert widget.status.value.startswith("Video 'late': 12 frames. Warning: ")
        assert "already holds 1 at 64x48 (full frames)" in widget.status.value
    finally:
        widget.close()
