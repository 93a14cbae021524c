"""DeepLabCut's names (posekit.project.naming) and the one video listing (project.list_videos)."""

from __future__ import annotations

from pathlib import Path

import pytest

from posekit.project import naming
from posekit.project.project import Project, list_videos
from posekit.viz.labeled_video import labeled_video_path


def test_names_are_deeplabcuts():
    assert naming.scorer_name("resnet_50", "ReachingAug30", 1, 103000) == "DLC_resnet50_ReachingAug30shuffle1_103000"
    assert naming.shuffle_of_scorer("DLC_resnet50_ReachingAug30shuffle12_5") == 12
    assert naming.shuffle_of_scorer("DeepCut_resnet50_Reaching") is None
    assert naming.model_folder_name("ReachingAug30", 0.29, 1) == "ReachingAug30-trainset28shuffle1"  # truncated
    assert naming.frame_filename(5, 250) == "img005.png" and naming.frame_index_from_name("img005.png") == 5
    assert naming.filtered_name("vDLC_x.h5") == "vDLC_x_filtered.h5"
    assert naming.labeled_video_name("vDLC_x.h5") == "vDLC_x_labeled.mp4"
    assert naming.labeled_video_name("vDLC_x_filtered.h5") == "vDLC_xfiltered_labeled.mp4"
    assert labeled_video_path(Path("/a/vDLC_x_filtered.h5")) == Path("/a/vDLC_xfiltered_labeled.mp4")
    assert naming.machinelabels_iteration(naming.machinelabels_name(3)) == 3
    assert naming.evaluation_images_folder_name("DLC_x", 7) == "LabeledImages_DLC_x_snapshot-7"
    assert naming.trajectory_plot_name("trajectory", ".png", filtered=True) == "trajectory_filtered.png"
    assert naming.is_video_output("a_labeled.mp4") and naming.is_video_output("a_full.mp4")
    assert not naming.is_video_output("a_labeledx.mp4")


@pytest.fixture
def folder(tmp_path):
    for name in ("b.avi", "a.mp4", "a_labeled.mp4", "a_full.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    return tmp_path


def test_folders_files_and_exclusions(folder):
    assert [p.name for p in list_videos(folder)] == ["a.mp4", "b.avi"]
    assert [p.name for p in list_videos([folder], videotype=".AVI")] == ["b.avi"]
    assert [p.name for p in list_videos([folder, folder / "a.mp4"], "mp4")] == ["a.mp4"]  # no repeat
    assert list_videos(folder / "notes.txt") == [(folder / "notes.txt").absolute()]  # named: any suffix
    assert list_videos(folder / "a_labeled.mp4") == []  # DeepLabCut's own output, even when named
    with pytest.raises(FileNotFoundError, match="No video found"):
        list_videos(folder / "a_labeled.mp4", required=True)
    with pytest.raises(FileNotFoundError, match=r"'missing\.mp4' does not exist"):
        list_videos("missing.mp4")


def test_project_stems_are_videos(synthetic_config):
    """resolve_videos' rule (stems) and list_videos' rules (videotype) in one function."""
    project = Project.open(synthetic_config)
    (video,) = list_videos("synthetic", project=project)
    assert video == project.video_path("synthetic").absolute()
    with pytest.raises(FileNotFoundError, match=r"nor a video of the project \(its videos: synthetic\)"):
        list_videos("other", project=project)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_videos("synthetic")  # without a project a stem is no file
