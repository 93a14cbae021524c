"""The labeling widget in a real browser: label two parts by mouse clicks, drag one, read the h5.

Runs ``label_frames`` on a copy of the Reaching example whose CollectedData was
deleted (so the first frame is blank), clicks the canvas where chosen image
pixels are shown (image -> canvas pixel through the kernel's view transform,
canvas pixel -> CSS through the element's box and its width/height), and
checks what the kernel autosaved to ``CollectedData_Mackenzie.h5`` / ``.csv``.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from posekit.io.images import read_image
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
    wait_for_file,
    wait_for_widget,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CANVAS = (800, 600)
#: Intended image pixels (x = column, y = row); far enough apart not to grab each other.
HAND = (300.0, 250.0)
FINGER = (520.0, 410.0)
FINGER_MOVED = (610.0, 320.0)

# The notebook: the widget, plus (for the test and for failure messages) the kernel's
# view transform and the raw canvas coordinates of every mouse press/release it got.
CELLS = """\
import json as _json
import posekit

view = posekit.label_frames({config!r}, canvas_size={canvas!r})
w = view.widget()  # the widget the cell's result shows
_v = w.canvas.view
with open({view!r}, "w") as _f:
    _json.dump({{"scale": _v.scale, "offset": [_v.offset_x, _v.offset_y],
                "canvas": [_v.canvas_width, _v.canvas_height],
                "image": [_v.image_width, _v.image_height],
                "image_name": w.session.image_name, "bodypart": w.session.bodypart}}, _f)
_events = open({events!r}, "a", buffering=1)

def _record(kind):
    return lambda u, v: _events.write(_json.dumps({{"event": kind, "u": u, "v": v}}) + "\\n")

w.canvas.on_mouse_down(_record("down"))
w.canvas.on_mouse_up(_record("up"))
view  # shown through the display protocol: the same widget as w
"""


def _expected_canvas(frame: np.ndarray, view: ViewTransform) -> np.ndarray:
    """What the canvas should show: the frame scaled into the view's rect on the letterbox colour."""
    bg = tuple(int(BACKGROUND[i:i + 2], 16) for i in (1, 3, 5))
    out = Image.new("RGB", (view.canvas_width, view.canvas_height), bg)
    u0, v0, w, h = view.image_rect()
    scaled = Image.fromarray(frame).resize((round(w), round(h)), Image.BILINEAR)
    out.paste(scaled, (round(u0), round(v0)))
    return np.asarray(out)


def _read_labels(h5) -> pd.DataFrame | None:
    """CollectedData as written so far (None while the kernel is still writing it)."""
    try:
        return pd.read_hdf(h5)
    except (OSError, ValueError, KeyError, RuntimeError):
        return None


def _read_csv(csv) -> pd.DataFrame | None:
    """The DeepLabCut csv (3 header rows, 3 index columns); None while absent."""
    try:
        return pd.read_csv(csv, header=[0, 1, 2], index_col=[0, 1, 2])
    except (OSError, ValueError):
        return None


def _point(df: pd.DataFrame | None, image: str, part: str) -> tuple[float, float] | None:
    """(x, y) of ``part`` in the row of ``image`` (None when absent or unlabelled)."""
    if df is None:
        return None
    rows = [k for k in df.index if (k[-1] if isinstance(k, tuple) else str(k).split("/")[-1]) == image]
    if not rows:
        return None
    scorer = df.columns.get_level_values(0)[0]
    x, y = (float(df.loc[rows[0], (scorer, part, c)]) for c in ("x", "y"))
    return (x, y) if np.isfinite(x) and np.isfinite(y) else None


def _near(got, want, tol: float = 1.0) -> bool:
    return got is not None and abs(got[0] - want[0]) <= tol and abs(got[1] - want[1]) <= tol


def test_label_and_drag_in_voila(reaching_project, voila, browser, tmp_path):
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    project = Project.open(reaching_project)
    folder = project.config_path.parent / "labeled-data" / "reachingvideo1"
    for old in folder.glob("CollectedData_*"):
        old.unlink()  # a blank first frame: every click labels a new part
    h5 = folder / "CollectedData_Mackenzie.h5"
    csv = folder / "CollectedData_Mackenzie.csv"
    view_file, events_file = tmp_path / "view.json", tmp_path / "events.jsonl"

    app = voila([CELLS.format(config=str(reaching_project), canvas=CANVAS,
                              view=str(view_file), events=str(events_file))])
    timings["server_up"] = time.monotonic() - t0
    page = browser.open(app.url)
    root = wait_for_widget(page, ".posekit-labeler")
    canvas = root.locator("canvas.posekit-label-canvas")
    canvas.wait_for(state="visible")
    timings["widget_visible"] = time.monotonic() - t0

    # The view the kernel uses is the fitted view the test computes independently.
    kernel_view = json.loads(view_file.read_text())
    assert kernel_view["image_name"] == "img005.png" and kernel_view["bodypart"] == "Hand"
    frame = read_image(folder / kernel_view["image_name"])
    view = ViewTransform(CANVAS, (frame.shape[1], frame.shape[0]))
    assert kernel_view["image"] == [832, 747] and kernel_view["canvas"] == list(CANVAS)
    assert kernel_view["scale"] == pytest.approx(view.scale)
    assert kernel_view["offset"] == pytest.approx([view.offset_x, view.offset_y])
    scale, (off_x, off_y) = kernel_view["scale"], kernel_view["offset"]

    def to_canvas(x: float, y: float) -> tuple[float, float]:
        # same math as ViewTransform.image_to_canvas
        return off_x + (x + 0.5) * scale, off_y + (y + 0.5) * scale

    assert to_canvas(*HAND) == pytest.approx(view.image_to_canvas(*HAND))
    assert image_size(canvas) == CANVAS  # canvas pixels
    # ImageCanvas fixes its CSS size to its pixel size: 1 canvas px per CSS px.
    box = canvas.bounding_box()
    assert (box["width"], box["height"]) == pytest.approx(CANVAS), box

    # Really painted (not the blank-canvas pitfall): every pixel opaque, and the frame is
    # where the view puts it, up to JPEG/resampling noise.
    expected = _expected_canvas(frame, view)
    poll(lambda: canvas_opaque_fraction(canvas), 20, "the canvas to be painted (opaque pixels)",
         ok=lambda f: f == 1.0)
    poll(lambda: changed_fraction(image_pixels(canvas), expected), 20,
         "the canvas to show img005.png in the fitted view (fraction of pixels off)",
         ok=lambda f: f <= 0.02)
    before = image_pixels(canvas)
    timings["frame_painted"] = time.monotonic() - t0

    def events() -> str:
        return events_file.read_text() if events_file.exists() else "(none)"

    # Two real clicks: Hand, then (auto-advanced) Finger1.
    for xy in (HAND, FINGER):
        page.mouse.click(*canvas_page_point(canvas, *to_canvas(*xy)))
    wait_for_file(h5)
    labels = poll(lambda: _read_labels(h5), 15, "Hand and Finger1 in the h5",
                  ok=lambda df: _point(df, "img005.png", "Finger1") is not None)
    hand, finger = _point(labels, "img005.png", "Hand"), _point(labels, "img005.png", "Finger1")
    assert _near(hand, HAND) and _near(finger, FINGER), (hand, finger, events())
    # The CSS mapping itself: the kernel got each press within half a CSS px of its target
    # (Chromium reports whole CSS px; the canvas is shown at 1 canvas px per CSS px).
    presses = [json.loads(line) for line in events_file.read_text().splitlines()]
    presses = [(e["u"], e["v"]) for e in presses if e["event"] == "down"]
    assert len(presses) == 2, events()
    for got, xy in zip(presses, (HAND, FINGER), strict=True):
        assert np.allclose(got, to_canvas(*xy), atol=0.5 + 1e-6), (got, to_canvas(*xy))
    for part in ("Tongue", "Joystick1", "Joystick2"):
        assert _point(labels, "img005.png", part) is None
    assert len(labels) == 1  # only the labelled frame gets a row
    # The csv is renamed into place just after the h5: poll it too.
    poll(lambda: _read_csv(csv), 5, "Hand and Finger1 in the csv",
         ok=lambda df: _near(_point(df, "img005.png", "Hand"), HAND)
         and _near(_point(df, "img005.png", "Finger1"), FINGER))
    root.locator(".posekit-status").get_by_text("2/5 labelled").wait_for()
    timings["two_parts_on_disk"] = time.monotonic() - t0

    # The kernel drew the dots back: the pixels under them changed.
    def dots_shown(pixels: np.ndarray, points) -> bool:
        return all(
            np.abs(pixels[int(v), int(u)].astype(int) - before[int(v), int(u)]).max() > 40
            for u, v in (to_canvas(*p) for p in points)
        )

    poll(lambda: image_pixels(canvas), 10, "the Hand and Finger1 dots to be painted",
         ok=lambda px: dots_shown(px, (HAND, FINGER)))

    # Drag Finger1 by its dot (grabbed where the h5 says it is) to a new place. The dot
    # moves by the pointer's motion: a whole number of CSS (= canvas) px, so the drop
    # lands within half a CSS px (0.62 frame px) of FINGER_MOVED however the grab rounded.
    grab = canvas_page_point(canvas, *to_canvas(*finger))
    drop = tuple(g + round((t - f) * scale) for g, t, f in zip(grab, FINGER_MOVED, finger, strict=True))
    mouse_drag(page, grab, drop)
    moved = poll(lambda: _point(_read_labels(h5), "img005.png", "Finger1"), 15,
                 "Finger1 to move in the h5", ok=lambda p: _near(p, FINGER_MOVED))
    labels = _read_labels(h5)
    assert _near(_point(labels, "img005.png", "Hand"), HAND)  # untouched
    poll(lambda: _point(_read_csv(csv), "img005.png", "Finger1"), 5, "Finger1 to move in the csv",
         ok=lambda p: _near(p, FINGER_MOVED))
    timings["dragged_on_disk"] = time.monotonic() - t0
    after = poll(lambda: image_pixels(canvas), 10, "the Finger1 dot to be repainted where it was dropped",
                 ok=lambda px: dots_shown(px, (HAND, FINGER_MOVED)))
    u, v = (int(c) for c in to_canvas(*FINGER))
    assert np.abs(after[v, u].astype(int) - before[v, u]).max() <= 40  # the old spot is clear again

    page.mouse.move(5, 5)  # no hover ring over a dot in the screenshot
    screenshot(page, "labeler-voila")
    print(f"\nclicked Hand {hand}, Finger1 {finger}, moved to {moved}; kernel events:\n{events()}")
    print(f"browser timings (s since test start): {json_timings(timings)}")


# The stale view of issue 14, section 3: this notebook's widget opens before config.yaml
# gains a body part, which another process (the test itself) then labels.
STALE_CELLS = """\
import posekit

posekit.label_frames({config!r}, canvas_size=(480, 360))
"""


def test_stale_widget_refuses_and_reloads_in_voila(tmp_path, voila, browser):
    from posekit.labeling import LabelingSession
    from posekit.project import edit_config
    from tests.labeling.projects import BODYPARTS, make_tiny_project

    config = make_tiny_project(tmp_path / "tiny", size=(160, 120))
    h5 = config.parent / "labeled-data" / "mouse1" / "CollectedData_tester.h5"
    app = voila([STALE_CELLS.format(config=str(config))])
    page = browser.open(app.url)
    root = wait_for_widget(page, ".posekit-labeler")
    canvas = root.locator("canvas.posekit-label-canvas")
    poll(lambda: canvas_opaque_fraction(canvas), 20, "the canvas to be painted", ok=lambda f: f == 1.0)
    reload_button = root.locator(".posekit-reload")
    assert not reload_button.is_visible()

    edit_config(config, {"bodyparts": [*BODYPARTS, "tail"]})
    other = LabelingSession(config)  # another view, in another process
    other.select_bodypart("tail")
    other.place((30.0, 40.0))

    view = ViewTransform((480, 360), (160, 120))
    page.mouse.click(*canvas_page_point(canvas, *view.image_to_canvas(100.0, 80.0)))
    status = root.locator(".posekit-status")
    status.get_by_text("NOT saved", exact=False).wait_for(timeout=15_000)
    reload_button.wait_for(state="visible", timeout=5_000)
    assert _point(_read_labels(h5), "img000.png", "tail") == (30.0, 40.0)
    assert _point(_read_labels(h5), "img000.png", "snout") is None
    screenshot(page, "labeler-stale-refused")

    reload_button.click()
    status.get_by_text("Reloaded CollectedData", exact=False).wait_for(timeout=15_000)
    reload_button.wait_for(state="hidden", timeout=5_000)
    assert root.locator(".posekit-bodypart").count() == 5
    root.locator(".posekit-bodypart", has_text="tail ✓").wait_for(timeout=5_000)
    page.mouse.click(*canvas_page_point(canvas, *view.image_to_canvas(100.0, 80.0)))
    labels = poll(lambda: _read_labels(h5), 15, "the redone snout in the h5",
                  ok=lambda df: _point(df, "img000.png", "snout") is not None)
    assert _near(_point(labels, "img000.png", "snout"), (100.0, 80.0))
    assert _point(labels, "img000.png", "tail") == (30.0, 40.0)
