"""DLC multi_step schedule; snapshots: atomic, newest-N kept, exact restore."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from posekit.train.optim import make_optimizer, multi_step_schedule
from posekit.train.snapshots import list_snapshots, load_snapshot, read_snapshot_metadata, save_snapshot


def test_multi_step_matches_dlc():
    sched = multi_step_schedule([[0.005, 10000], [0.02, 430000], [0.002, 730000], [0.001, 1030000]])
    assert float(sched(0)) == pytest.approx(0.005)
    assert float(sched(9999)) == pytest.approx(0.005)
    assert float(sched(10001)) == pytest.approx(0.02)
    assert float(sched(500000)) == pytest.approx(0.002)
    assert float(sched(2_000_000)) == pytest.approx(0.001)
    with pytest.raises(ValueError, match="increase"):
        multi_step_schedule([[0.1, 10], [0.2, 5]])


def test_optimizer_choice():
    params, grads = {"w": jnp.zeros(2)}, {"w": jnp.array([2.0, -0.5])}
    cfg = {"multi_step": [[0.1, 10]], "optimizer": "adam"}
    tx, _ = make_optimizer(cfg)
    updates, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(updates["w"], [-0.1, 0.1], rtol=1e-3)  # Adam's first step: lr * sign
    tx, _ = make_optimizer({**cfg, "optimizer": "sgd"})
    updates, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(updates["w"], [-0.2, 0.05], rtol=1e-6)  # SGD: -lr * grad
    params = {"w": jnp.array([1.0, -2.0])}
    tx, _ = make_optimizer({**cfg, "optimizer": "adamw", "weight_decay": 0.5})
    updates, _ = tx.update(grads, tx.init(params), params)
    # decoupled weight decay as torch.optim.AdamW: -lr * (sign(grad) + decay * w) on the first step
    np.testing.assert_allclose(updates["w"], [-0.1 - 0.05, 0.1 + 0.1], rtol=1e-3)
    with pytest.raises(ValueError, match="optimizer='rmsprop'"):
        make_optimizer({**cfg, "optimizer": "rmsprop"})


def test_snapshots_keep_newest_and_restore(tmp_path):
    state = {"params": {"w": np.arange(6.0).reshape(2, 3)}, "step": np.int32(0)}
    for it in (10, 20, 30, 40):
        state = {"params": {"w": state["params"]["w"] + 1}, "step": np.int32(it)}
        save_snapshot(tmp_path, it, state, {"net_type": "resnet_18"}, keep=2)
    assert [it for it, _ in list_snapshots(tmp_path)] == [30, 40]
    assert not (tmp_path / "snapshot-10.json").exists()
    template = {"params": {"w": np.zeros((2, 3))}, "step": np.int32(0)}
    restored = load_snapshot(tmp_path / "snapshot-40.msgpack", template)
    assert np.array_equal(restored["params"]["w"], state["params"]["w"]) and int(restored["step"]) == 40
    assert read_snapshot_metadata(tmp_path / "snapshot-40.msgpack") == {"iteration": 40, "net_type": "resnet_18"}
    assert not list(tmp_path.glob(".*tmp"))
    with pytest.raises(FileNotFoundError, match="snapshot-99"):
        load_snapshot(tmp_path / "snapshot-99.msgpack", template)
