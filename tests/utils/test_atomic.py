"""Atomic writes: both files of a pair reach the disk before the first rename, files keep
their permissions, temporary files of killed writers are cleaned up, and a failed write
names the file and leaves the previous one intact."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from posekit.utils import atomic
from posekit.utils.atomic import atomic_path, atomic_paths, atomic_write_text, remove_stale_temps


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_every_temp_is_fsynced_before_the_first_rename(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(f"rename {Path(b).name}"), real_replace(a, b))[1])
    with atomic_paths([tmp_path / "a.h5", tmp_path / "a.csv"]) as (h5, csv):
        h5.write_text("h5")
        csv.write_text("csv")
    assert events[:4] == ["fsync", "fsync", "rename a.h5", "rename a.csv"]
    assert (tmp_path / "a.h5").read_text() == "h5" and (tmp_path / "a.csv").read_text() == "csv"


def test_replaced_file_keeps_its_mode(tmp_path, umask_022):
    for mode in (0o644, 0o640, 0o664):
        target = tmp_path / f"config{mode:o}.yaml"
        target.write_text("old")
        target.chmod(mode)
        atomic_write_text(target, "new")
        assert _mode(target) == mode
        assert target.read_text() == "new"


def test_new_file_gets_the_umask_mode(tmp_path, umask_022):
    target = tmp_path / "new.yaml"
    atomic_write_text(target, "x")
    assert _mode(target) == 0o644
    os.umask(0o002)
    other = tmp_path / "other.yaml"
    atomic_write_text(other, "x")
    assert _mode(other) == 0o664


def test_label_pair_and_config_keep_group_read(reaching_project, umask_022):
    from posekit.io.labels import LabelTable
    from posekit.project import Project

    folder = next(p for p in (reaching_project.parent / "labeled-data").iterdir() if p.is_dir())
    h5, csv = sorted(folder.glob("CollectedData_*.h5"))[0], sorted(folder.glob("CollectedData_*.csv"))[0]
    for path in (h5, csv, reaching_project):
        assert _mode(path) == 0o644
    LabelTable.read(folder).save(folder)
    project = Project.open(reaching_project)
    project.save_config()
    assert [_mode(p) for p in (h5, csv, reaching_project)] == [0o644] * 3


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temps_of_dead_writers_are_removed_on_the_next_write(tmp_path):
    target = tmp_path / "CollectedData_me.h5"
    dead = tmp_path / f".{target.name}.{atomic._HOST}.{_dead_pid()}-abc123.tmp"
    alive = tmp_path / f".{target.name}.{atomic._HOST}.{os.getppid()}-def456.tmp"
    foreign = tmp_path / f".{target.name}.otherhost.{_dead_pid()}-ghi789.tmp"
    unrelated = tmp_path / ".CollectedData_me.csv.x.tmp"
    for path in (dead, alive, foreign, unrelated):
        path.write_text("partial")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert not dead.exists()
    assert alive.exists() and foreign.exists() and unrelated.exists()  # may still be writing
    os.utime(foreign, (0, 0))  # an hour old: its writer is gone wherever it ran
    assert remove_stale_temps(target) == [foreign]


def test_label_folder_open_removes_temps_of_killed_saves(tmp_path):
    from posekit.io.labels import LabelTable

    table = LabelTable.empty("me", ["snout"])
    table.add_image(("labeled-data", "v", "img0.png"))
    table.save(tmp_path)
    pid = _dead_pid()
    temps = [tmp_path / f".CollectedData_me.{suffix}.{atomic._HOST}.{pid}-x.tmp" for suffix in ("h5", "csv")]
    for path in temps:
        path.write_text("partial")
    LabelTable.read(tmp_path)
    assert not any(p.exists() for p in temps)


def test_failed_write_names_the_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "snapshot.json"
    target.write_text("old")
    with pytest.raises(OSError, match=r"could not write '.*snapshot\.json' \(No space left on device\); the previous"):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["snapshot.json"]


@pytest.fixture
def small_disk(tmp_path):
    """A 200 KiB tmpfs (skips where mounting is not allowed)."""
    mount = tmp_path / "small"
    mount.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)],
                         capture_output=True, check=False)
    if res.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_label_save_on_a_full_disk(small_disk):
    """A real full disk: the error names the files; the previous pair is intact."""
    import numpy as np

    from posekit.io.labels import LabelTable

    table = LabelTable.empty("me", ["snout", "tail"])
    table.add_image(("labeled-data", "v", "img0.png"))
    table.set_point(("labeled-data", "v", "img0.png"), "snout", (1.0, 2.0))
    h5, csv = table.save(small_disk)
    before = h5.read_bytes(), csv.read_bytes()
    big = LabelTable.empty("me", ["snout", "tail"])
    for i in range(4000):
        big.add_image(("labeled-data", "v", f"img{i:05d}.png"))
        big.set_point(("labeled-data", "v", f"img{i:05d}.png"), "tail", (float(i), np.pi))
    with pytest.raises(OSError, match=r"could not write '.*CollectedData_me\.h5' and '.*CollectedData_me\.csv'"):
        big.save(small_disk)
    assert (h5.read_bytes(), csv.read_bytes()) == before
    assert sorted(p.name for p in small_disk.iterdir()) == [csv.name, h5.name]
