"""A truncated analysis .h5 is an error naming the file and the fix, in each verb that reads one."""

from __future__ import annotations

import pytest

import posekit
from posekit.errors import AnalysisFileError
from posekit.predict.predictor import snapshot_scorer
from posekit.project import Project


@pytest.mark.parametrize("verb", ["create_labeled_video", "plot_trajectories", "extract_outlier_frames"])
def test_truncated_analysis_file(project, verb):
    video = Project.open(project).video_path("synthetic")
    h5 = video.parent / f"{video.stem}{snapshot_scorer(project)}.h5"
    data = h5.read_bytes()
    h5.write_bytes(data[: len(data) // 3])  # what a kill mid-write of an older tool leaves
    with pytest.raises(AnalysisFileError, match=rf"{h5.name}.*truncated or corrupt.*overwrite=True"):
        getattr(posekit, verb)(project, [video])
