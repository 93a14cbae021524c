"""The refinement widget in a real browser: drag a machine label, accept a frame, read the h5.

Runs ``refine_labels`` on a copy of the synthetic project to which two frames
(40 and 41) were added with machine labels: the network's snout of frame 40 is
30 px off and its left ear is uncertain (drawn as an open circle). The test drags
the snout dot onto the true snout with real mouse events (image -> canvas through
the kernel's view transform, canvas -> CSS through the element's box), clicks
Accept, and checks what the kernel autosaved to ``CollectedData_posekit.h5``.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from posekit.datasets import synthetic_keypoints
from posekit.io.images import write_png
from posekit.io.labels import LabelTable
from posekit.io.video import VideoReader
from posekit.project.project import Project
from posekit.refine.machinelabels import MachineLabels, machinelabels_path
from posekit.viz.colors import bodypart_colors
from tests.browser.harness import (
    canvas_opaque_fraction,
    canvas_page_point,
    image_pixels,
    json_timings,
    mouse_drag,
    poll,
    screenshot,
    wait_for_file,
    wait_for_widget,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CANVAS = (800, 600)
FRAMES = (40, 41)
SNOUT_ERROR = (30.0, -22.0)  # the network's snout of frame 40 is this far off

CELLS = """\
import json as _json
import posekit

view = posekit.refine_labels({config!r}, canvas_size={canvas!r})
w = view.widget()  # the widget the cell's result shows
_v = w.canvas.view
with open({view!r}, "w") as _f:
    _json.dump({{"scale": _v.scale, "offset": [_v.offset_x, _v.offset_y],
                "image_name": w.session.image_name, "hollow": w._hollow_parts()}}, _f)
view  # shown through the display protocol: the same widget as w
"""


def _add_machine_labels(config) -> tuple[np.ndarray, np.ndarray]:
    """Frames 40 and 41 as images with machine labels; returns (truth, predictions) of frame 40."""
    project = Project.open(config)
    stem = "synthetic"
    truth = synthetic_keypoints(120)
    machine = MachineLabels("DLC_resnet50_syntheticJan1shuffle1_1000", project.bodyparts)
    with VideoReader(project.video_path(stem)) as reader:
        for frame in FRAMES:
            write_png(project.labeled_folder(stem) / f"img{frame:03d}.png", reader.read(frame))
            pose = np.concatenate([truth[frame], np.full((len(project.bodyparts), 1), 0.95)], axis=1)
            if frame == FRAMES[0]:
                pose[0, :2] += SNOUT_ERROR  # snout
                pose[1, 2] = 0.2  # leftear: uncertain
            machine.rows[("labeled-data", stem, f"img{frame:03d}.png")] = pose
    machine.save(machinelabels_path(project, stem), project.labeled_folder(stem) / "machinelabels.csv")
    return truth[FRAMES[0]], machine.rows[("labeled-data", stem, "img040.png")]


def _read(h5) -> pd.DataFrame | None:
    try:
        return pd.read_hdf(h5)
    except (OSError, ValueError, KeyError, RuntimeError):
        return None


def _point(df: pd.DataFrame | None, image: str, part: str) -> tuple[float, float] | None:
    if df is None:
        return None
    rows = [k for k in df.index if k[-1] == image]
    if not rows:
        return None
    x, y = (float(df.loc[rows[0], ("posekit", part, c)]) for c in ("x", "y"))
    return (x, y) if np.isfinite(x) and np.isfinite(y) else None


def test_drag_machine_label_and_accept_in_voila(synthetic_copy, voila, browser, tmp_path):
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    project = Project.open(synthetic_copy)
    truth, predicted = _add_machine_labels(synthetic_copy)
    h5 = project.collected_data_path("synthetic")
    human_before = LabelTable.read(h5)
    view_file = tmp_path / "view.json"

    app = voila([CELLS.format(config=str(synthetic_copy), canvas=CANVAS, view=str(view_file))])
    page = browser.open(app.url)
    root = wait_for_widget(page, ".posekit-refiner")
    canvas = root.locator("canvas.posekit-label-canvas")
    canvas.wait_for(state="visible")
    timings["widget_visible"] = time.monotonic() - t0
    kernel = json.loads(wait_for_file(view_file).read_text())
    assert kernel["image_name"] == "img040.png"  # the first unrefined frame
    assert kernel["hollow"] == [False, True] + [False] * 5  # leftear below pcutoff
    scale, (off_x, off_y) = kernel["scale"], kernel["offset"]
    assert scale == pytest.approx(2.5)  # 320 x 240 fitted into 800 x 600

    def to_canvas(x: float, y: float) -> tuple[float, float]:
        return off_x + (x + 0.5) * scale, off_y + (y + 0.5) * scale

    poll(lambda: canvas_opaque_fraction(canvas), 20, "the canvas to be painted (opaque pixels)",
         ok=lambda f: f == 1.0)
    # the predicted snout dot is painted where the machine label says, in the snout's colour
    # (rainbow's first colour, at alphavalue 0.7 over the frame)
    snout_rgb = bodypart_colors(project.cfg["colormap"], len(project.bodyparts))[0].astype(int)
    u, v = (int(c) for c in to_canvas(*predicted[0, :2]))
    poll(lambda: image_pixels(canvas)[v, u], 10, "the snout dot to be painted",
         ok=lambda px: np.abs(px.astype(int) - snout_rgb).max() < 70)
    timings["frame_painted"] = time.monotonic() - t0

    # drag the snout dot onto the true snout: the dot moves by the pointer's motion, a whole
    # number of CSS (= canvas) px, so it lands within 0.5 / 2.5 image px of the target
    grab = canvas_page_point(canvas, *to_canvas(*predicted[0, :2]))
    drop = tuple(g + round((t - p) * scale) for g, t, p in zip(grab, truth[0], predicted[0, :2], strict=True))
    mouse_drag(page, grab, drop)
    wait_for_file(h5)
    moved = poll(lambda: _point(_read(h5), "img040.png", "snout"), 15, "the snout to move in the h5",
                 ok=lambda p: p is not None and abs(p[0] - truth[0, 0]) <= 1 and abs(p[1] - truth[0, 1]) <= 1)
    labels = _read(h5)
    for j, part in enumerate(project.bodyparts[1:], start=1):  # not moved: the predictions, approved
        assert _point(labels, "img040.png", part) == pytest.approx(tuple(predicted[j, :2]), abs=1e-6)
    timings["dragged_on_disk"] = time.monotonic() - t0
    root.locator(".posekit-status").get_by_text("1/2 frames refined").wait_for()

    # Accept the frame 41 as predicted
    root.locator(".posekit-frame-list select").select_option(index=1)
    root.locator(".posekit-status").get_by_text("img041.png").wait_for()
    root.locator(".posekit-accept").click()
    poll(lambda: _point(_read(h5), "img041.png", "tailtip"), 15, "img041 accepted into the h5",
         ok=lambda p: p is not None)
    root.locator(".posekit-status").get_by_text("2/2 frames refined").wait_for()
    timings["accepted_on_disk"] = time.monotonic() - t0

    # every older human label is untouched
    after = LabelTable.read(h5)
    for image in human_before.images:
        np.testing.assert_array_equal(after.points(image), human_before.points(image))
    root.locator(".posekit-frame-list select").select_option(index=0)
    root.locator(".posekit-status").get_by_text("img040.png").wait_for()
    page.mouse.move(5, 5)
    time.sleep(0.3)
    screenshot(page, "refiner-voila")
    print(f"\nsnout predicted {predicted[0, :2]}, true {truth[0]}, saved {moved}")
    print(f"browser timings (s since test start): {json_timings(timings)}")
