"""The embedded synthetic example: exact keypoints, a complete labeled project."""

from __future__ import annotations

import numpy as np

from posekit.datasets import BODYPARTS, SKELETON, synthetic_keypoints
from posekit.datasets.synthetic import MARKER_COLORS
from posekit.io.labels import LabelTable
from posekit.io.video import VideoReader
from posekit.project import Project, frame_index_from_name


def test_keypoints_inside_frame_and_moving():
    kp = synthetic_keypoints(300, 320, 240)
    assert kp.shape == (300, len(BODYPARTS), 2)
    assert kp[..., 0].min() > 0 and kp[..., 0].max() < 320
    assert kp[..., 1].min() > 0 and kp[..., 1].max() < 240
    steps = np.linalg.norm(np.diff(kp, axis=0), axis=-1)
    assert steps.mean() > 0.5 and steps.max() < 15  # moves, smoothly


def test_project_labels_are_the_truth(synthetic_config):
    project = Project.open(synthetic_config)
    assert project.bodyparts == list(BODYPARTS)
    assert [tuple(e) for e in project.cfg["skeleton"]] == list(SKELETON)
    stem = project.video_stems()[0]
    table = LabelTable.read(project.labeled_folder(stem), bodyparts=project.bodyparts)
    truth = synthetic_keypoints(120)
    assert len(table) == 8
    for key in table.images:
        assert np.allclose(table.points(key), truth[frame_index_from_name(key[-1])])


def test_markers_visible_in_video(synthetic_config):
    project = Project.open(synthetic_config)
    truth = synthetic_keypoints(120)
    with VideoReader(project.video_path(project.video_stems()[0])) as reader:
        assert reader.n_frames == 120 and (reader.width, reader.height) == (320, 240)
        frame = reader.read(37).astype(int)
    for (x, y), color in zip(truth[37], MARKER_COLORS.astype(int), strict=True):
        # lossy H.264: the marker colour is still clearly there at the keypoint
        assert np.abs(frame[round(y), round(x)] - color).max() < 70
