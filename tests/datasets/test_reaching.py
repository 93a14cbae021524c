"""The Reaching example loader: checked copy from a local folder, cache, demo video."""

from __future__ import annotations

import shutil

import pytest

from posekit.datasets import fetch_reaching, make_reaching_video
from posekit.datasets import reaching as reaching_mod
from posekit.io.labels import LabelTable
from posekit.io.video import VideoReader
from posekit.project import Project


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path / "cache"))


def test_fetch_from_local_copy_and_checksums(reaching_source, tmp_path):
    config = fetch_reaching(tmp_path / "work", source=reaching_source)
    project = Project.open(config)
    assert project.root == (tmp_path / "work" / reaching_mod.NAME).resolve()
    assert len(project.frame_images("reachingvideo1")) == 55
    assert len(LabelTable.read(project.labeled_folder("reachingvideo1"))) == 55
    # second call returns the existing copy untouched
    assert fetch_reaching(tmp_path / "work", source=reaching_source) == config


def test_damaged_source_is_refused(reaching_source, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(reaching_source, bad)
    target = bad / "labeled-data" / "reachingvideo1" / "img005.png"
    target.chmod(0o644)
    target.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="sha256"):
        fetch_reaching(tmp_path / "work", source=bad)


def test_offline_download_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("POSEKIT_REACHING_DIR", raising=False)

    def offline(url, dest, timeout=60.0):
        raise OSError("network unreachable")

    monkeypatch.setattr(reaching_mod, "download", offline)
    with pytest.raises(FileNotFoundError, match="POSEKIT_REACHING_DIR"):
        fetch_reaching(tmp_path / "work")


def test_demo_video(reaching_source, tmp_path):
    config = fetch_reaching(tmp_path, source=reaching_source)
    video = make_reaching_video(config, repeats=1)
    with VideoReader(video) as reader:
        assert reader.n_frames == 55 and (reader.width, reader.height) == (832, 748)
    project = Project.open(config)
    assert project.video_stems() == ["reachingdemo"]
    assert project.video_path("reachingdemo") == video
