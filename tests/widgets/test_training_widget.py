"""TrainingWidget without a browser: it renders the trainer's state (compiling, stopped, finished, failed).

A real tiny-network Trainer runs in a background TrainingJob; its step function is
wrapped so the test decides when the first step (the compilation) ends. Stop is
clicked as the front end sends it.
"""

from __future__ import annotations

import threading

import pytest

from posekit.train.run import TrainingJob
from posekit.train.trainer import Trainer
from posekit.widgets.training import TrainingWidget
from tests.train.conftest import FAST, training_config

CLICK = {"event": "click"}  # what the browser sends for a button click


@pytest.fixture
def config(synthetic_copy):
    return training_config(synthetic_copy)


def _held(trainer: Trainer) -> tuple[threading.Event, threading.Event]:
    """Hold the trainer in its first step: (``entered``: the step began, ``release``: let it finish)."""
    entered, release = threading.Event(), threading.Event()
    step = trainer._step_fn

    def held_step(*args):
        entered.set()
        assert release.wait(120), "the test never released the first step"
        return step(*args)

    trainer._step_fn = held_step
    return entered, release


def test_compiling_then_stopped_with_the_snapshot_name(config):
    trainer = Trainer(config, maxiters=50, displayiters=1, saveiters=50, **FAST)
    entered, release = _held(trainer)
    run = TrainingJob(trainer)
    widget = TrainingWidget(run)
    run.start()
    assert entered.wait(120)
    assert trainer.progress.state == "compiling"
    assert "compiling the network (the first step can take a minute)…" in widget.status.value
    assert "images/s" not in widget.status.value and "iteration 0/" not in widget.status.value
    assert widget.loss.layout.display == "none" and widget.loss.value == b""  # no broken-image icon
    widget.stop_button._handle_custom_msg(CLICK, [])
    release.set()
    run.wait(120)
    assert trainer.progress.state == "stopped" and trainer.progress.step == 1
    assert "stopped at iteration 1, snapshot saved: snapshot-1.msgpack" in widget.status.value
    assert "ETA" not in widget.status.value and "running" not in widget.status.value
    assert widget.stop_button.disabled and widget.bar.value == 1
    assert widget.loss.layout.display is None and widget.loss.value[:4] == b"\x89PNG"  # the first point


def test_finished(config):
    run = TrainingJob(Trainer(config, maxiters=2, displayiters=1, saveiters=2, **FAST))
    widget = TrainingWidget(run)
    run.start().wait(120)
    assert widget.status.value.startswith("finished at iteration 2, snapshot saved: snapshot-2.msgpack")
    assert widget.bar.bar_style == "success" and widget.stop_button.disabled


def test_failure_in_the_training_thread_is_shown(config):
    trainer = Trainer(config, maxiters=2, **FAST)

    def broken_step(*args):
        raise RuntimeError("out of memory on the device")

    trainer._step_fn = broken_step
    run = TrainingJob(trainer)
    widget = TrainingWidget(run)
    with pytest.raises(RuntimeError, match="out of memory"):
        run.start().wait(120)
    assert isinstance(run.error, RuntimeError) and trainer.progress.state == "failed"
    assert "failed: RuntimeError: out of memory on the device" in widget.status.value
    assert widget.bar.bar_style == "danger" and widget.loss.layout.display == "none"
