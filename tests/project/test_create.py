"""create_project / add_new_videos: layout, config content, videos, moved projects."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
import yaml

from posekit.datasets import make_synthetic_video
from posekit.errors import ConfigError, VideoError
from posekit.project import Project, add_new_videos, create_project
from posekit.project.config import CONFIG_KEYS
from posekit.project.create import dlc_date


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    make_synthetic_video(folder / "mouse1.mp4", n_frames=12, width=64, height=48)
    make_synthetic_video(folder / "mouse2.avi", n_frames=12, width=80, height=60, codec="mjpeg")
    (folder / "notes.txt").write_text("not a video")
    return folder


def test_layout_and_config(video_dir, tmp_path):
    config = create_project("Reach", "Ann", [video_dir], working_directory=tmp_path)
    root = tmp_path / f"Reach-Ann-{dt.date.today():%Y-%m-%d}"
    assert Path(config) == root / "config.yaml"
    for sub in ("videos", "labeled-data", "training-datasets", "dlc-models"):
        assert (root / sub).is_dir()
    assert sorted(p.name for p in (root / "labeled-data").iterdir()) == ["mouse1", "mouse2"]
    assert (root / "videos" / "mouse1.mp4").is_symlink()
    assert (root / "videos" / "mouse1.mp4").resolve() == (video_dir / "mouse1.mp4").resolve()
    raw = yaml.safe_load(Path(config).read_text())
    assert list(raw)[: len(CONFIG_KEYS)] == list(CONFIG_KEYS)
    assert raw["Task"] == "Reach" and raw["scorer"] == "Ann"
    assert raw["date"] == dlc_date(dt.date.today())
    assert raw["project_path"] == str(root)
    crops = {Path(k).name: v["crop"] for k, v in raw["video_sets"].items()}
    assert crops == {"mouse1.mp4": "0, 64, 0, 48", "mouse2.avi": "0, 80, 0, 60"}
    assert raw["pcutoff"] == 0.6 and raw["colormap"] == "rainbow" and raw["numframes2pick"] == 20


def test_dlc_date_is_unpadded_english():
    assert dlc_date(dt.date(2018, 8, 30)) == "Aug30"
    assert dlc_date(dt.date(2021, 1, 5)) == "Jan5"


def test_videotype_and_copy(video_dir, tmp_path):
    config = create_project("T", "s", video_dir, tmp_path, copy_videos=True, videotype=".avi")
    project = Project.open(config)
    assert project.video_stems() == ["mouse2"]
    copied = project.videos_dir / "mouse2.avi"
    assert copied.is_file() and not copied.is_symlink()


def test_existing_project_not_overwritten(video_dir, tmp_path):
    config = create_project("T", "s", [video_dir / "mouse1.mp4"], tmp_path)
    before = Path(config).read_text()
    with pytest.warns(UserWarning, match="already exists"):
        again = create_project("T", "s", [video_dir / "mouse2.avi"], tmp_path)
    assert again == config and Path(config).read_text() == before


def test_bad_videos(video_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.mp4"):
        create_project("T", "s", [tmp_path / "nothere.mp4"], tmp_path)
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 2000)
    with pytest.raises(VideoError, match=r"broken\.mp4"), pytest.warns(UserWarning, match="Skipping"):
        create_project("T", "s", [bad], tmp_path / "w")
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").iterdir())
    with pytest.warns(UserWarning, match="broken.mp4"):
        config = create_project("T", "s", [bad, video_dir / "mouse1.mp4"], tmp_path / "w2")
    assert Project.open(config).video_stems() == ["mouse1"]
    with pytest.raises(ValueError, match="path separators"):
        create_project("a/b", "s", [video_dir], tmp_path)


def test_add_new_videos_with_coords(video_dir, tmp_path):
    config = create_project("T", "s", [video_dir / "mouse1.mp4"], tmp_path)
    added = add_new_videos(config, [video_dir / "mouse2.avi"], coords=[(10, 70, 5, 55)])
    assert [Path(a).name for a in added] == ["mouse2.avi"]
    project = Project.open(config)
    assert project.crop_box("mouse2") == (10, 70, 5, 55)
    assert project.labeled_folder("mouse2").is_dir()
    with pytest.warns(UserWarning, match="already in the project"):
        assert add_new_videos(config, [video_dir / "mouse2.avi"]) == []
    other = tmp_path / "more"
    other.mkdir()
    make_synthetic_video(other / "mouse3.mp4", n_frames=4, width=64, height=48)
    with pytest.raises(ConfigError, match="outside the 64x48 frame"):
        add_new_videos(config, [other / "mouse3.mp4"], coords=[(0, 100, 0, 48)])
    with pytest.raises(ValueError, match="one \\(x1, x2, y1, y2\\) box per video"):
        add_new_videos(config, [other / "mouse3.mp4"], coords=[])


def test_moved_project_finds_videos_by_name(video_dir, tmp_path):
    config = create_project("T", "s", [video_dir / "mouse1.mp4"], tmp_path / "a", copy_videos=True)
    old_root = Path(config).parent
    new_root = tmp_path / "b" / old_root.name
    shutil.move(str(old_root), str(new_root))
    project = Project.open(new_root / "config.yaml")
    assert project.root == new_root.resolve()
    assert project.cfg["project_path"] == str(new_root.resolve())
    stored = next(iter(project.cfg["video_sets"]))
    assert not os.path.exists(stored)  # the absolute path is gone ...
    assert project.video_path("mouse1") == new_root.resolve() / "videos" / "mouse1.mp4"  # ... found by name
    (new_root / "videos" / "mouse1.mp4").unlink()
    with pytest.raises(FileNotFoundError, match="mouse1"):
        project.video_path("mouse1")


def test_windows_keys_are_matched_by_stem(video_dir, tmp_path):
    config = create_project("T", "s", [video_dir / "mouse1.mp4"], tmp_path, copy_videos=True)
    project = Project.open(config)
    entry = project.cfg["video_sets"].popitem()[1]
    project.cfg["video_sets"]["C:\\Users\\lab\\videos\\mouse1.mp4"] = entry
    project.save_config()
    project = Project.open(config)
    assert project.video_stems() == ["mouse1"]
    assert project.video_path("mouse1").name == "mouse1.mp4"
    with pytest.raises(KeyError, match="add_new_videos"):
        project.video_key("nope")
