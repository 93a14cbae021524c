"""The outlier-extraction widget in a real browser: see the candidates, Extract, run again, Cancel.

``extract_outlier_frames`` (no ``automatic``) returns :class:`OutlierWidget` in a
notebook. The test gives a copy of the synthetic project a stand-in snapshot
(only its name is read: the scorer) and an analysis file with planted jumps
(frames 33/34 and 87/88, ``tests/refine/conftest.py``), with ``numframes2pick``
lowered to 3 so k-means thins the 4 candidates. In Voilà it checks the summary
table and the score plot (pixels as the kernel drew them), double-clicks
Extract like an impatient user (it once extracted twice: 4 frames) and checks
the 3 PNGs and machine labels on disk and ``widget.results`` in the kernel
(dumped as JSON by the notebook on every status change); then opens the page
again (Voilà runs the notebook in a new kernel): the 3 frames count as already
extracted, 1 is left to extract, and Cancel writes nothing. The uncaught page
errors (``browser`` fixture) and console errors must be none but the known
harmless ones.
"""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from PIL import Image

from posekit.io.images import read_image
from posekit.io.video import VideoReader
from posekit.predict.predictor import snapshot_scorer
from posekit.project import edit_config
from posekit.project.project import Project
from posekit.refine.extract import find_outliers
from posekit.refine.machinelabels import MachineLabels, machinelabels_path
from posekit.widgets.outliers import score_plot_png
from tests.browser.harness import (
    harmful_console_errors,
    json_timings,
    poll,
    record_console,
    screenshot,
    wait_for_widget,
    wait_image_like,
)
from tests.refine.conftest import GLITCHES, make_poses, write_analysis

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

STEM = "synthetic"
CANDIDATES = sorted([*GLITCHES, *(g + 1 for g in GLITCHES)])  # a jump out and back: [33, 34, 87, 88]
N_PICK = 3

CELLS = """\
import json as _json, os as _os
from posekit import extract_outlier_frames

report = extract_outlier_frames({config!r}, [{video!r}], outlieralgorithm="jump", seed=0)
w = report.widget()  # the widget the cell's result shows

def _dump(_change=None):
    state = {{"type": type(w).__name__, "status": w.status.value,
              "disabled": [w.extract_button.disabled, w.cancel_button.disabled],
              "results": {{stem: {{"picked": r.picked, "written": [p.name for p in r.written]}}
                          for stem, r in w.results.items()}}}}
    with open({state!r} + ".tmp", "w") as _f:
        _json.dump(state, _f)
    _os.replace({state!r} + ".tmp", {state!r})

w.status.observe(_dump, "value")
_dump()
report  # shown through the display protocol: the same widget as w
"""


def _analysed_project(config) -> Project:
    """The project with a stand-in snapshot, its video's analysis and numframes2pick = ``N_PICK``."""
    project = Project.open(config)
    train = project.model_dir(project.training_fraction(0), 1) / "train"
    train.mkdir(parents=True)
    (train / "snapshot-2.msgpack").write_bytes(b"")  # only the name and the .json are read
    (train / "snapshot-2.json").write_text(json.dumps({"iteration": 2, "net_type": "resnet_18"}))
    write_analysis(project.video_path(STEM), snapshot_scorer(config), make_poses(), project.bodyparts)
    edit_config(config, {"numframes2pick": N_PICK})
    return Project.open(config)


def _state(path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _wait_disabled(root) -> None:
    """Until the browser shows both buttons disabled."""
    for button in ("extract", "cancel"):
        root.locator(f".posekit-outlier-{button}:disabled").wait_for()


def _summary_row(root) -> list[str]:
    cells = root.locator("table tr").nth(1).locator("td")
    return [c.strip() for c in cells.all_inner_texts()]


def test_extract_then_cancel_outlier_frames_in_voila(synthetic_copy, voila, browser, tmp_path):
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    project = _analysed_project(synthetic_copy)
    video = project.video_path(STEM)
    folder = project.labeled_folder(STEM)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    (search,) = find_outliers(synthetic_copy, [video], outlieralgorithm="jump")
    assert search.candidates.tolist() == CANDIDATES  # what the widget will show
    with Image.open(io.BytesIO(score_plot_png(search))) as img:
        plot = np.asarray(img.convert("RGB"))  # what the kernel will draw
    state_file = tmp_path / "widget-state.json"

    console = record_console(browser.page)
    app = voila([CELLS.format(config=str(synthetic_copy), video=str(video), state=str(state_file))])
    page = browser.open(app.url)
    root = wait_for_widget(page, ".posekit-outliers")
    timings["widget_visible"] = time.monotonic() - t0
    assert poll(lambda: _state(state_file), 10, "the kernel's widget state")["type"] == "OutlierWidget"
    root.get_by_text("Outlier frames").wait_for()
    assert "jump" in root.locator("code").first.inner_text()
    assert _summary_row(root) == [STEM, "120", "4", "0", str(N_PICK)]
    wait_image_like(root.locator("img").first, plot)  # the score plot, as drawn by the kernel
    extract, cancel = root.locator(".posekit-outlier-extract"), root.locator(".posekit-outlier-cancel")
    assert extract.is_enabled() and cancel.is_enabled()
    timings["plot_shown"] = time.monotonic() - t0

    extract.dblclick()  # a double click extracts once
    status = root.locator(".posekit-status")
    status.get_by_text("refine_labels").wait_for()
    kernel = poll(lambda: _state(state_file), 10, "widget.results in the kernel",
                  ok=lambda s: s is not None and "refine_labels" in s["status"])
    picked = kernel["results"][STEM]["picked"]
    timings["extracted"] = time.monotonic() - t0
    assert len(picked) == N_PICK and set(picked) <= set(CANDIDATES) and picked == sorted(picked)
    names = [f"img{i:03d}.png" for i in picked]
    assert kernel["results"][STEM]["written"] == names
    assert kernel["disabled"] == [True, True]
    assert f"{STEM}: extracted {N_PICK} frame(s) ({', '.join(map(str, picked))})" in status.inner_text()
    _wait_disabled(root)
    # on disk: the frames as PNGs (the video's frames), machine labels = the analysis, nothing else touched
    new = sorted(p.name for p in folder.iterdir() if p.name not in before)
    assert new == sorted([*names, "machinelabels-iter0.h5", "machinelabels.csv"])
    for name, data in before.items():
        assert (folder / name).read_bytes() == data
    with VideoReader(video) as reader:
        for index, name in zip(picked, names, strict=True):
            np.testing.assert_array_equal(read_image(folder / name), reader.read(index))
    h5 = machinelabels_path(project, STEM)
    machine = MachineLabels.read(h5)
    assert sorted(machine.rows) == [("labeled-data", STEM, name) for name in names]
    poses = make_poses()
    for index, name in zip(picked, names, strict=True):
        np.testing.assert_allclose(machine.rows[("labeled-data", STEM, name)], poses[index])
    screenshot(page, "outliers-voila-extracted")

    # open the page again (Voilà runs the notebook again, in a new kernel): 1 frame left; Cancel
    labels_before = h5.read_bytes()
    state_file.unlink()
    page = browser.open(app.url)
    root = wait_for_widget(page, ".posekit-outliers")
    poll(lambda: _state(state_file), 10, "the new kernel's widget state")
    assert _summary_row(root) == [STEM, "120", "4", str(N_PICK), "1"]
    extract, cancel = root.locator(".posekit-outlier-extract"), root.locator(".posekit-outlier-cancel")
    assert extract.is_enabled()
    cancel.click()
    root.locator(".posekit-status").get_by_text("Cancelled: nothing was extracted.").wait_for()
    kernel = poll(lambda: _state(state_file), 10, "the kernel to record the cancel",
                  ok=lambda s: s is not None and s["status"].startswith("Cancelled"))
    assert kernel["results"] == {} and kernel["disabled"] == [True, True]
    _wait_disabled(root)
    assert sorted(p.name for p in folder.iterdir() if p.name not in before) == new
    assert h5.read_bytes() == labels_before
    timings["cancelled"] = time.monotonic() - t0
    screenshot(page, "outliers-voila-cancelled")
    bad = harmful_console_errors(console)
    assert not bad, "console errors:\n" + "\n".join(map(str, bad))
    print(f"\nbrowser timings (s since test start): {json_timings(timings)}")
