"""Trainer / train_network: snapshots, exact resume, logging, devices (tiny network)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from posekit.dataset import create_training_dataset
from posekit.train import trainer as trainer_module
from posekit.train.snapshots import list_snapshots
from posekit.train.trainer import Trainer, auto_micro_batch_size
from tests.train.conftest import FAST, TINY


def _params(trainer):
    return jax.tree_util.tree_leaves(jax.device_get(trainer.state.params))


def test_snapshots_logging_and_exact_resume(config):
    full = Trainer(config, maxiters=4, displayiters=1, saveiters=2, max_snapshots_to_keep=1, **FAST)
    full.run()
    assert [it for it, _ in list_snapshots(full.train_dir)] == [4]
    lines = full.stats_path.read_text().splitlines()
    assert [int(ln.split(",")[0]) for ln in lines] == [1, 2, 3, 4]
    first_rate = full.pose_cfg["multi_step"][0][0]  # DeepLabCut 3's 5e-4 in a new shuffle
    assert first_rate == 5e-4 and all(float(ln.split(",")[2]) == pytest.approx(first_rate) for ln in lines)
    reference = _params(full)

    # same run in two halves: the second resumes from snapshot-2
    for p in list(full.train_dir.iterdir()):
        if p.name.startswith("snapshot") or p.name == "learning_stats.csv":
            p.unlink()
    Trainer(config, maxiters=2, displayiters=1, saveiters=2, **FAST).run()
    resumed = Trainer(config, maxiters=4, displayiters=1, saveiters=2, **FAST)
    assert int(resumed.state.step) == 2 and resumed.init_source == "resumed from snapshot-2.msgpack"
    resumed.run()
    for a, b in zip(reference, _params(resumed), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert len(resumed.stats_path.read_text().splitlines()) == 4

    restarted = Trainer(config, maxiters=1, restart=True, **FAST)
    assert int(restarted.state.step) == 0
    assert list_snapshots(restarted.train_dir) == []  # the old run is archived, not lost
    (archive,) = restarted.train_dir.glob("previous-run-*")
    assert (archive / "snapshot-4.msgpack").is_file() and (archive / "learning_stats.csv").is_file()


def test_init_from_snapshot_freezes_batch_norm(config):
    first = Trainer(config, maxiters=1, saveiters=1, **FAST)
    first.run()
    snap = list_snapshots(first.train_dir)[-1][1]
    other = Trainer(config, maxiters=1, restart=True, init_weights=str(snap),
                    batch_size=2, crop_size=(64, 64), model_overrides=TINY)
    assert other.init_source.startswith("initialised from") and not other.train_batch_norm
    assert int(other.state.step) == 0
    for a, b in zip(_params(first), _params(other), strict=True):
        np.testing.assert_array_equal(a, b)


def _start_snapshot(config, folder) -> str:
    """A one-step snapshot copied to ``folder`` (training from it freezes batch norm)."""
    first = Trainer(config, maxiters=1, saveiters=1, **FAST)
    first.run()
    source = list_snapshots(first.train_dir)[-1][1]
    for path in source.parent.glob(source.stem + ".*"):
        (folder / path.name).write_bytes(path.read_bytes())
    return str(folder / source.name)


def test_micro_batches_give_the_whole_batch_gradient(config, tmp_path):
    # SGD applies the gradient as it is; AdamW's normalisation would blow float rounding in
    # near-zero gradients up to lr-sized steps and hide what this test compares
    create_training_dataset(config, seed=0, net_type="resnet_18", overwrite=True,
                            pose_cfg_overrides={"optimizer": "sgd", "multi_step": [[0.005, 10000]]})
    snap = _start_snapshot(config, tmp_path)  # frozen batch norm from here: slicing is exact
    kwargs = {"maxiters": 2, "displayiters": 1, "saveiters": 2, "restart": True, "init_weights": snap,
              "batch_size": 4, "crop_size": (64, 64), "model_overrides": TINY}
    whole = Trainer(config, micro_batch_size=0, **kwargs)
    assert whole.micro_batches == 1
    whole.run()
    sliced = Trainer(config, micro_batch_size=2, **kwargs)
    assert sliced.micro_batches == 2 and not sliced.train_batch_norm
    sliced.run()
    np.testing.assert_allclose([loss for _, loss, _ in sliced.progress.history],
                               [loss for _, loss, _ in whole.progress.history], rtol=1e-5)
    for a, b in zip(_params(whole), _params(sliced), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("batch,devices,crop,platform,train_bn,expected", [
    (8, 1, (448, 448), "cpu", False, 1),  # one 448x448 image is enough pixels
    (8, 1, (256, 256), "cpu", False, 2),
    (8, 2, (448, 448), "cpu", False, 2),  # one image per device
    (8, 1, (128, 128), "cpu", False, 0),  # too small to pay
    (8, 1, (448, 448), "cpu", True, 0),  # batch norm trained: slices would change it
    (8, 1, (448, 448), "gpu", False, 0),
])
def test_auto_micro_batch_size(batch, devices, crop, platform, train_bn, expected):
    assert auto_micro_batch_size(batch, devices, crop, platform, train_bn) == expected


def test_frozen_batch_norm_slices_by_default_unless_told(config, tmp_path, monkeypatch):
    snap = _start_snapshot(config, tmp_path)
    monkeypatch.setattr(trainer_module, "AUTO_SLICE_PIXELS", 2 * 64 * 64)
    kwargs = {"maxiters": 1, "restart": True, "init_weights": snap, "batch_size": 4, "crop_size": (64, 64),
              "model_overrides": TINY}
    assert Trainer(config, **kwargs).micro_batches == 2
    assert Trainer(config, micro_batch_size=0, **kwargs).micro_batches == 1
    assert Trainer(config, restart=True, **FAST).micro_batches == 1  # from scratch: batch norm trained


def test_micro_batch_size_must_divide_the_batch(config):
    with pytest.raises(ValueError, match="must divide the batch size 4; pick one of 1, 2"):
        Trainer(config, batch_size=4, micro_batch_size=3, pretrained=False, crop_size=(64, 64),
                model_overrides=TINY)


def test_bad_device_and_missing_dataset(config, synthetic_copy):
    with pytest.raises(ValueError, match="gputouse=7"):
        Trainer(config, gputouse=7, **FAST)
    with pytest.raises(FileNotFoundError, match="create_training_dataset"):
        Trainer(config, shuffle=9, **FAST)


def test_data_parallel_on_two_host_devices(config, tmp_path):
    script = textwrap.dedent(f"""
        import jax
        from posekit.train.trainer import Trainer
        assert len(jax.devices()) == 2
        t = Trainer({str(config)!r}, maxiters=2, saveiters=2, pretrained=False, batch_size=3,
                    crop_size=(64, 64), model_overrides={TINY!r})
        assert t.batch_size == 4
        t.run()
        leaf = jax.tree_util.tree_leaves(t.state.params)[0]
        print("DEVICES", len(leaf.sharding.device_set), int(t.state.step))
    """)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600,
                         check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "DEVICES 2 2" in out.stdout


def test_run_reports_its_states_and_logged_steps(config):
    trainer = Trainer(config, maxiters=3, displayiters=2, saveiters=3, **FAST)
    assert trainer.progress.state == "ready"
    states, logged = [], []
    progress = trainer.run(callback=lambda p: logged.append((p.history[-1][0], p.state)),
                           on_state=lambda p: states.append((p.state, p.step, p.describe())))
    assert states == [("compiling", 0, "compiling the network (the first step can take a minute)…"),
                      ("running", 1, "running: iteration 1/3")]
    assert logged == [(2, "running"), (3, "running")]  # the callback only sees logged steps, as before
    assert progress.state == "finished" and progress.finished
    assert progress.describe() == "finished at iteration 3, snapshot saved: snapshot-3.msgpack"


def test_train_network_blocks_in_scripts_and_runs_in_the_background_on_request(config, monkeypatch, capsys):
    from posekit import train_network
    from posekit.widgets.training import TrainingWidget

    run = train_network(config, maxiters=2, displayiters=1, saveiters=2, pretrained=False,
                        batch_size=2, crop_size=(64, 64))
    assert run.progress.finished and run.progress.step == 2  # a script: block=None blocked
    assert "iteration 2/2" in capsys.readouterr().out

    monkeypatch.setenv("POSEKIT_WIDGETS", "1")  # what a Jupyter kernel answers
    run = train_network(config, maxiters=3, displayiters=1, saveiters=3, pretrained=False,
                        batch_size=2, crop_size=(64, 64))
    widget = run.widget()
    assert isinstance(widget, TrainingWidget)
    assert run.wait(timeout=600).step == 3 and run.error is None
    assert widget.bar.value == 3 and "finished" in widget.status.value
    assert capsys.readouterr().out == ""  # the widget reports, not prints


def test_training_widget_draws_loss_as_png(config):
    from posekit.train.run import TrainingJob
    from posekit.widgets.training import TrainingWidget

    run = TrainingJob(Trainer(config, maxiters=2, displayiters=1, saveiters=2, **FAST))
    widget = TrainingWidget(run)
    run.start().wait(timeout=600)
    assert widget.loss.format == "png" and widget.loss.value[:4] == b"\x89PNG"
    assert "snapshots: snapshot-2" in widget.status.value
