"""extract_outlier_frames finds its analysis with the one rule of every verb (find_analysis_file)."""

from __future__ import annotations

import pytest

from posekit import extract_outlier_frames
from posekit.predict.predictor import snapshot_scorer
from posekit.project import Project
from posekit.refine import find_outliers
from tests.refine.conftest import GLITCHES, make_poses, write_analysis


def test_another_snapshots_analysis_is_used_with_a_warning(project):
    """Before: extract_outlier_frames alone refused it while labeled video and trajectories took it."""
    proj = Project.open(project)
    video = proj.video_path("synthetic")
    current = snapshot_scorer(project)
    video.with_name(f"synthetic{current}.h5").unlink()
    older = current.rsplit("_", 1)[0] + "_1"  # same shuffle, another snapshot
    write_analysis(video, older, make_poses(), proj.bodyparts)
    with pytest.warns(UserWarning, match=rf"current snapshot.*using 'synthetic{older}\.h5'"):
        (search,) = find_outliers(project, [video], outlieralgorithm="jump")
    assert search.analysis.name == f"synthetic{older}.h5"
    assert search.scorer == older  # the machine labels name the network that predicted them
    assert set(GLITCHES) <= set(search.candidates.tolist())


def test_only_another_shuffles_analysis_is_refused(project):
    proj = Project.open(project)
    video = proj.video_path("synthetic")
    current = snapshot_scorer(project)
    other = current.replace("shuffle1", "shuffle2")
    video.with_name(f"synthetic{current}.h5").rename(video.with_name(f"synthetic{other}.h5"))
    with pytest.raises(FileNotFoundError, match=r"other shuffles.*analyze_videos"):
        extract_outlier_frames(project, [video], automatic=True)


def test_crop_offset_is_added_once(project):
    proj = Project.open(project)
    video = proj.video_path("synthetic")
    poses = make_poses()
    write_analysis(video, snapshot_scorer(project), poses, proj.bodyparts, cropping=(10, 200, 20, 150))
    (search,) = find_outliers(project, [video], outlieralgorithm="jump")
    assert search.poses[5, 0, 0] == pytest.approx(poses[5, 0, 0] + 10)
    assert search.poses[5, 0, 1] == pytest.approx(poses[5, 0, 1] + 20)
    assert search.poses[5, 0, 2] == pytest.approx(poses[5, 0, 2])
