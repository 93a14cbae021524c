"""The training widget in a real browser: "compiling…" with no broken image, then Stop says where it stopped.

The notebook builds a tiny-network Trainer on a copy of the synthetic project and
holds its first step (the compilation) until the test writes a release file, so
the browser is seen in the ``compiling`` state for as long as the test needs.
The test clicks Stop in the browser, waits for the kernel to get it, releases
the step, and checks the final status, the loss plot and the snapshot on disk.
"""

from __future__ import annotations

import time

import pytest

from posekit.train.trainer import Trainer
from tests.browser.harness import image_size, json_timings, poll, screenshot, wait_for_widget
from tests.train.conftest import FAST, TINY, training_config

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

CELLS = [
    """\
import os as _os, time as _time
from posekit.train.trainer import Trainer
from posekit.workflow.results import TrainingRun

trainer = Trainer({config!r}, maxiters=50, displayiters=1, saveiters=50, pretrained=False, batch_size=2,
                  crop_size=(64, 64), model_overrides={tiny!r})
_step, _stop = trainer._step_fn, trainer.stop

def _held_step(*args):  # the first step waits for the test
    while not _os.path.exists({release!r}):
        _time.sleep(0.05)
    return _step(*args)

def _noted_stop():
    _stop()
    open({stopped!r}, "w").close()

trainer._step_fn, trainer.stop = _held_step, _noted_stop
""",
    "TrainingRun(trainer).start()",  # what train_network returns in a notebook
]

# Images in the widget that a user sees as a broken-image icon: shown, but with no picture.
BROKEN_IMAGES = """root => [...root.querySelectorAll('img')].filter(
    img => img.getBoundingClientRect().width > 0 && !(img.complete && img.naturalWidth > 0)).length"""


def test_training_widget_compiling_then_stopped_in_voila(synthetic_copy, voila, browser, tmp_path):
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    config = training_config(synthetic_copy)
    train_dir = Trainer(config, maxiters=1, **FAST).train_dir
    release, stopped = tmp_path / "release", tmp_path / "stopped"
    app = voila([CELLS[0].format(config=str(config), tiny=TINY, release=str(release), stopped=str(stopped)),
                 CELLS[1]])
    page = browser.open(app.url)
    root = wait_for_widget(page, ".posekit-training")
    status = root.locator(".posekit-training-status")
    status.get_by_text("compiling the network (the first step can take a minute)…").wait_for()
    timings["compiling_shown"] = time.monotonic() - t0
    assert "images/s" not in status.inner_text()
    assert root.locator(".posekit-training-loss").is_hidden()
    assert root.evaluate(BROKEN_IMAGES) == 0
    screenshot(page, "training-voila-compiling")

    root.locator(".posekit-training-stop").click()
    poll(stopped.exists, 15, "the Stop click to reach the kernel")
    release.touch()
    status.get_by_text("stopped at iteration 1, snapshot saved: snapshot-1.msgpack").wait_for(timeout=120_000)
    timings["stopped_shown"] = time.monotonic() - t0
    assert "ETA" not in status.inner_text() and "running" not in status.inner_text()
    root.locator(".posekit-training-stop:disabled").wait_for()
    loss = root.locator("img.posekit-training-loss")
    width, height = image_size(loss)  # the loss plot, now with its first point
    assert width > 100 and height > 100
    assert root.evaluate(BROKEN_IMAGES) == 0
    assert (train_dir / "snapshot-1.msgpack").is_file() and (train_dir / "snapshot-1.json").is_file()
    screenshot(page, "training-voila-stopped")
    print(f"\nbrowser timings (s since test start): {json_timings(timings)}")
