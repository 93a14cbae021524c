"""Snapshots are whole or absent, and resuming never changes the run (issue 14, sections 6 and 8)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from flax import serialization

from posekit import train_network
from posekit.predict.predictor import load_predictor
from posekit.train.snapshots import (
    METADATA_KEY,
    CorruptSnapshotError,
    list_snapshots,
    load_snapshot,
    read_snapshot_metadata,
    save_snapshot,
)
from posekit.train.trainer import Trainer
from posekit.utils import atomic
from tests.train.conftest import FAST, TINY

# A save of snapshot-2 killed while its msgpack is written (after the json's temp file).
KILLED_SAVE = """
import os, sys
from pathlib import Path
import numpy as np
from posekit.train.snapshots import save_snapshot
real_write_bytes = Path.write_bytes
def killed(path, data):
    real_write_bytes(path, data[:10])
    os._exit(9)
Path.write_bytes = killed
save_snapshot(sys.argv[1], 2, {"params": {"w": np.zeros(3)}}, {})
"""
STATE = {"params": {"w": np.arange(6.0)}, "step": np.int32(3)}
TEMPLATE = {"params": {"w": np.zeros(6)}, "step": np.int32(0)}


def test_metadata_is_renamed_into_place_before_the_snapshot(tmp_path, monkeypatch):
    # A kill between the two renames must not leave a .msgpack without its metadata.
    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda src, dst: (renamed.append(os.path.basename(dst)),
                                                               real_replace(src, dst)))
    save_snapshot(tmp_path, 3, STATE, {"train_batch_norm": True})
    assert renamed == ["snapshot-3.json", "snapshot-3.msgpack"]
    # and the metadata is inside the msgpack too
    raw = serialization.msgpack_restore((tmp_path / "snapshot-3.msgpack").read_bytes())
    assert '"train_batch_norm": true' in raw[METADATA_KEY]
    assert int(load_snapshot(tmp_path / "snapshot-3.msgpack", TEMPLATE)["step"]) == 3


def test_truncated_snapshot_error_names_the_file(tmp_path):
    path = save_snapshot(tmp_path, 3, STATE, {})
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(CorruptSnapshotError, match=r"snapshot-3\.msgpack' is truncated or damaged"):
        load_snapshot(path, TEMPLATE)


def test_disk_full_names_the_path_and_keeps_the_previous_snapshot(config, monkeypatch):
    trainer = Trainer(config, maxiters=2, saveiters=1, **FAST)
    first = trainer.train_dir / "snapshot-1.msgpack"
    real_write_bytes = Path.write_bytes

    def full_disk(path, data):  # the disk fills up half way through snapshot-2's msgpack
        if path.name.startswith(".snapshot-2.msgpack"):
            real_write_bytes(path, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_bytes(path, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match=r"snapshot-2\.msgpack.*No space left.*snapshot-1\.msgpack\) are intact") as err:
        trainer.run()
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(trainer.train_dir / "snapshot-2.msgpack")
    assert trainer.progress.state == "failed" and "No space left" in trainer.progress.error
    assert sorted(p.name for p in trainer.train_dir.iterdir() if "snapshot" in p.name) == [
        "snapshot-1.json", "snapshot-1.msgpack"]  # no temp file, no metadata of a snapshot that is not there
    monkeypatch.undo()
    resumed = Trainer(config, maxiters=2, **FAST)
    assert resumed.init_source == f"resumed from {first.name}" and int(resumed.state.step) == 1


def test_resume_keeps_the_batch_norm_mode_without_the_json(config, recwarn):
    scratch = Trainer(config, maxiters=1, saveiters=1, **FAST)  # from scratch: batch norm trained
    assert scratch.train_batch_norm
    scratch.run()
    snapshot = scratch.train_dir / "snapshot-1.msgpack"
    snapshot.with_suffix(".json").unlink()
    # a later call with the default pretrained=True still continues the same run
    resumed = Trainer(config, maxiters=2, init_weights="imagenet", batch_size=2, crop_size=(64, 64),
                      model_overrides=TINY)
    assert resumed.init_source == "resumed from snapshot-1.msgpack" and resumed.train_batch_norm
    assert not [w for w in recwarn if "batch-norm" in str(w.message)]

    # a snapshot from before the metadata was embedded, its json gone: this call's settings, with a warning
    raw = serialization.msgpack_restore(snapshot.read_bytes())
    del raw[METADATA_KEY]
    snapshot.write_bytes(serialization.msgpack_serialize(raw))
    with pytest.warns(UserWarning, match=r"snapshot-1\.msgpack' records no batch-norm mode.*batch norm trained"):
        legacy = Trainer(config, maxiters=2, **FAST)
    assert legacy.train_batch_norm and int(legacy.state.step) == 1


def test_corrupt_newest_snapshot_falls_back_to_the_previous(config):
    Trainer(config, maxiters=2, saveiters=1, max_snapshots_to_keep=None, **FAST).run()
    train_dir = Trainer(config, maxiters=2, **FAST).train_dir
    newest = train_dir / "snapshot-2.msgpack"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 3])
    with pytest.raises(CorruptSnapshotError, match=r"snapshot-2\.msgpack' is truncated or damaged"):
        load_predictor(config, snapshot=newest, backend="jax")  # analysis names the file too
    with pytest.warns(UserWarning, match=r"snapshot-2\.msgpack' is truncated or damaged.*snapshot-2\.corrupt"):
        resumed = Trainer(config, maxiters=2, **FAST)
    assert resumed.init_source == "resumed from snapshot-1.msgpack" and int(resumed.state.step) == 1
    assert resumed.train_batch_norm
    assert [it for it, _ in list_snapshots(train_dir)] == [1]  # the damaged one is no longer pruned or resumed
    assert (train_dir / "snapshot-2.corrupt.msgpack").is_file()


def test_leftovers_of_a_killed_save_are_removed(config):
    trainer = Trainer(config, maxiters=1, saveiters=1, **FAST)
    trainer.run()
    train_dir = trainer.train_dir
    killed = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(train_dir)], check=False)
    assert killed.returncode == 9
    leftovers = sorted(train_dir.glob(".snapshot-2.*.tmp"))  # the killed save's json and msgpack temps
    assert len(leftovers) == 2
    orphan = train_dir / "snapshot-2.json"  # as if killed after the json's rename, before the msgpack's
    orphan.write_text("{}")
    leftovers.append(orphan)
    resumed = Trainer(config, maxiters=2, **FAST)
    assert not [p for p in leftovers if p.exists()]
    assert int(resumed.state.step) == 1 and read_snapshot_metadata(train_dir / "snapshot-1.msgpack")["iteration"] == 1


def test_nothing_to_train_says_so(config, capsys):
    small = {"pretrained": False, "batch_size": 2, "crop_size": (64, 64)}
    progress = train_network(config, maxiters=0, **small).progress
    out = capsys.readouterr().out
    assert "Nothing was trained: the run is at iteration 0 and maxiters=0; there is no snapshot" in out
    assert progress.step == 0 and progress.note in out
    train_network(config, maxiters=1, **small)
    capsys.readouterr()
    again = train_network(config, maxiters=1, **small).progress
    out = capsys.readouterr().out
    snapshot = list_snapshots(again.snapshots[-1].parent)[-1][1]
    assert f"Nothing was trained: the run is at iteration 1 and maxiters=1; the newest snapshot is '{snapshot}'" in out
