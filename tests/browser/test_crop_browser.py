"""The crop editor in a real browser: type edges, drag corners with the mouse, Apply to config.yaml."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from posekit.io.video import VideoReader
from posekit.labeling.view import ViewTransform
from posekit.project.project import Project
from posekit.widgets.canvas import BACKGROUND
from tests.browser.harness import (
    canvas_opaque_fraction,
    canvas_page_point,
    changed_fraction,
    image_pixels,
    image_size,
    json_timings,
    mouse_drag,
    poll,
    screenshot,
    type_into,
    wait_for_widget,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CANVAS = (800, 600)


def _expected_canvas(frame: np.ndarray, view: ViewTransform) -> np.ndarray:
    """The frame scaled into the view's rect on the letterbox colour."""
    bg = tuple(int(BACKGROUND[i:i + 2], 16) for i in (1, 3, 5))
    out = Image.new("RGB", (view.canvas_width, view.canvas_height), bg)
    u0, v0, w, h = view.image_rect()
    out.paste(Image.fromarray(frame).resize((round(w), round(h)), Image.BILINEAR), (round(u0), round(v0)))
    return np.asarray(out)


def test_crop_editor_in_voila(synthetic_copy, voila, browser):
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    project = Project.open(synthetic_copy)
    stem = project.video_stems()[0]
    with VideoReader(project.video_path(stem)) as reader:
        frame = reader.read(0)
    height, width = frame.shape[:2]
    assert project.crop_box(stem) == (0, width, 0, height)  # starts as the whole frame

    app = voila(["import posekit",
                 f"posekit.crop_editor({str(synthetic_copy)!r}, canvas_size={CANVAS!r})"])
    timings["server_up"] = time.monotonic() - t0
    page = browser.open(app.url)
    root = wait_for_widget(page, ".posekit-crop-editor")
    canvas = root.locator("canvas.posekit-crop-canvas")
    canvas.wait_for(state="visible")
    timings["widget_visible"] = time.monotonic() - t0
    assert image_size(canvas) == CANVAS
    box = canvas.bounding_box()
    assert (box["width"], box["height"]) == pytest.approx(CANVAS), box  # 1 canvas px per CSS px

    # The fitted view, as the kernel computes it (320x240 into 800x600: 2.5 canvas px per pixel).
    view = ViewTransform(CANVAS, (width, height))

    def edge_to_canvas(ex: float, ey: float) -> tuple[float, float]:
        # crop edges e sit at image coordinate e - 0.5 (posekit.labeling.crop)
        return view.image_to_canvas(ex - 0.5, ey - 0.5)

    # Painted for real (not the blank-canvas pitfall): opaque, and the frame in the fitted view
    # (the whole-frame box adds only its outline and corner squares).
    poll(lambda: canvas_opaque_fraction(canvas), 20, "the canvas to be painted (opaque pixels)",
         ok=lambda f: f == 1.0)
    expected = _expected_canvas(frame, view)
    poll(lambda: changed_fraction(image_pixels(canvas), expected), 20,
         "the canvas to show frame 0 in the fitted view (fraction of pixels off)", ok=lambda f: f <= 0.03)
    before = image_pixels(canvas)
    timings["frame_painted"] = time.monotonic() - t0

    def texts() -> tuple[int, ...]:
        return tuple(int(root.locator(f".posekit-crop-{n} input").input_value()) for n in ("x1", "x2", "y1", "y2"))

    assert texts() == (0, width, 0, height)
    status = root.locator(".posekit-status")

    # Typed edges (ipywidgets commits an IntText on Enter).
    type_into(root.locator(".posekit-crop-x1 input"), "40")
    status.get_by_text(f"crop 40, {width}, 0, {height}").wait_for()
    type_into(root.locator(".posekit-crop-y1 input"), "30")
    status.get_by_text(f"crop 40, {width}, 30, {height}").wait_for()

    # Drag the top-left corner by (+20, +20) frame pixels = (+50, +50) CSS px.
    grab = canvas_page_point(canvas, *edge_to_canvas(40, 30))
    mouse_drag(page, grab, (grab[0] + 20 * view.scale, grab[1] + 20 * view.scale))
    status.get_by_text(f"crop 60, {width}, 50, {height}").wait_for()
    # Drag the bottom-right corner (grabbed a pixel inside the frame's edge, within the
    # 10-px handle) by (-70, -60) frame pixels.
    grab = canvas_page_point(canvas, *edge_to_canvas(width - 1, height - 1))
    mouse_drag(page, grab, (grab[0] - 70 * view.scale, grab[1] - 60 * view.scale))
    target = (60, width - 70, 50, height - 60)
    status.get_by_text(f"crop {', '.join(map(str, target))} (x1, x2, y1, y2)").wait_for()
    assert texts() == target
    assert project.crop_box(stem) == (0, width, 0, height)  # nothing written before Apply
    timings["box_edited"] = time.monotonic() - t0

    # The kernel drew the box back: outside it is shaded, inside it is the frame.
    x1, x2, y1, y2 = target

    def shaded(px: np.ndarray) -> bool:
        outside = px[5:int(y1 * view.scale) - 5, 5:-5].astype(int)  # the band above the box
        inside = px[int(y1 * view.scale) + 10:int(y2 * view.scale) - 10,
                    int(x1 * view.scale) + 10:int(x2 * view.scale) - 10]
        return (outside.mean() < 0.75 * before[5:int(y1 * view.scale) - 5, 5:-5].mean()
                and changed_fraction(inside, before[int(y1 * view.scale) + 10:int(y2 * view.scale) - 10,
                                                    int(x1 * view.scale) + 10:int(x2 * view.scale) - 10])
                < 0.01)

    poll(lambda: image_pixels(canvas), 10, "the box and its shade to be painted", ok=shaded)

    root.locator("button.posekit-crop-apply").click()
    poll(lambda: Project.open(synthetic_copy).crop_box(stem), 15,
         "config.yaml's crop to change", ok=lambda b: b == target)
    status.get_by_text("written to").wait_for()
    status.get_by_text("are cropped with it").wait_for()  # says what uses the box next
    timings["applied_on_disk"] = time.monotonic() - t0
    assert Project.open(synthetic_copy).crop_box(stem) == target

    page.mouse.move(5, 5)
    screenshot(page, "crop-voila")
    print(f"\ncrop {target}; browser timings (s since test start): {json_timings(timings)}")
