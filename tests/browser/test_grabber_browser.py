"""The frame grabber in a real browser: type, click, grab, and find the frame on disk."""

from __future__ import annotations

import time

import numpy as np
import pytest

from posekit.io.images import read_image
from posekit.io.video import VideoReader
from posekit.project.project import Project, frame_filename, frame_index_from_name
from tests.browser.harness import (
    changed_fraction,
    image_pixels,
    image_size,
    json_timings,
    screenshot,
    type_into,
    wait_for_file,
    wait_for_widget,
    wait_image_like,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def drag_slider(page, handle, fraction: float) -> int:
    """Drag an ipywidgets slider handle in small mouse steps to ``fraction`` of the track.

    Returns the value the slider settled on (its readout).
    """
    track = handle.locator("xpath=ancestor::*[contains(@class, 'noUi-target')]").first.bounding_box()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + fraction * track["width"], box["y"] + box["height"] / 2, steps=25)
    page.mouse.up()
    readout = handle.locator("xpath=ancestor::*[contains(@class, 'widget-slider')]").first.locator(".widget-readout")
    return int(readout.inner_text())


def test_grab_a_frame_in_voila(synthetic_copy, voila, browser):
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    project = Project.open(synthetic_copy)
    stem = project.video_stems()[0]
    taken = {frame_index_from_name(p.name) for p in project.frame_images(stem)}
    jump_to = next(j for j in range(20, 100) if j + 9 not in taken)
    target = jump_to + 10 - 1  # jump box, then +10, then -1
    with VideoReader(project.video_path(stem)) as reader:
        expected = {i: reader.read(i) for i in (0, jump_to, target)}

    app = voila(["import posekit",
                 f"posekit.extract_frames({str(synthetic_copy)!r}, 'manual')"])
    timings["server_up"] = time.monotonic() - t0
    page = browser.open(app.url)
    root = wait_for_widget(page, ".posekit-grabber")
    timings["widget_visible"] = time.monotonic() - t0
    preview = root.locator("img.posekit-grabber-image")
    info = root.locator(".posekit-grabber-info")
    assert image_size(preview) == (320, 240)
    wait_image_like(preview, expected[0])
    timings["first_frame_painted"] = time.monotonic() - t0

    dragged = drag_slider(page, root.locator(".posekit-grabber-slider .noUi-handle"), fraction=0.8)
    assert 80 <= dragged <= 110, dragged  # 80 % of the track, give or take the handle
    info.get_by_text(f"frame {dragged} / 119").wait_for()
    with VideoReader(project.video_path(stem)) as reader:
        wait_image_like(preview, reader.read(dragged))  # the newest position is what is shown
    timings["slider_dragged"] = time.monotonic() - t0

    type_into(root.locator(".posekit-grabber-jump input"), str(jump_to))
    info.get_by_text(f"frame {jump_to} / 119").wait_for()
    wait_image_like(preview, expected[jump_to])
    root.locator("button.posekit-step-p10").click()
    info.get_by_text(f"frame {jump_to + 10} / 119").wait_for()
    root.locator("button.posekit-step-m1").click()
    info.get_by_text(f"frame {target} / 119").wait_for()
    shown = wait_image_like(preview, expected[target])
    timings["navigated"] = time.monotonic() - t0
    # the frames differ enough that the check above means "this very frame"
    assert changed_fraction(shown, expected[jump_to]) > 10 * changed_fraction(shown, expected[target])

    root.locator("button.posekit-grab-button").click()
    path = wait_for_file(project.labeled_folder(stem) / frame_filename(target, 120))
    timings["grabbed_on_disk"] = time.monotonic() - t0
    assert path.name == f"img{target:03d}.png"
    np.testing.assert_array_equal(read_image(path), expected[target])
    root.locator(".posekit-grabber-status").get_by_text(f"Saved frame {target} as {path.name}.").wait_for()
    assert root.locator(".posekit-grabber-list option", has_text=path.name).count() == 1
    screenshot(page, "grabber-voila")
    assert image_pixels(preview).shape == (240, 320, 3)
    print(f"\nbrowser timings (s since test start): {json_timings(timings)}")
