"""Example data: the embedded synthetic project (no download) and DeepLabCut's Reaching example."""

from posekit.datasets.reaching import fetch_reaching, make_reaching_video
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
    "fetch_reaching",
    "make_reaching_video",
    "make_synthetic_project",
    "make_synthetic_video",
    "synthetic_keypoints",
]
