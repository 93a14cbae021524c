"""Example data: the embedded synthetic project (no download)."""

from posekit.datasets.synthetic import (
    BODYPARTS,
    SKELETON,
    make_synthetic_project,
    make_synthetic_video,
    synthetic_keypoints,
)

__all__ = [
    "BODYPARTS",
    "SKELETON",
    "make_synthetic_project",
    "make_synthetic_video",
    "synthetic_keypoints",
]
