"""Workflow verbs that later releases build; each says so clearly when called."""

from __future__ import annotations

from typing import Any, NoReturn


def _not_built(verb: str, part: str) -> NoReturn:
    raise NotImplementedError(
        f"posekit.{verb} is not built yet: it arrives with {part}. "
        "Until then, use DeepLabCut for this step; posekit reads and writes its files."
    )


def evaluate_network(config: Any, *args: Any, **kwargs: Any) -> NoReturn:
    """Evaluate a trained network (not built yet)."""
    _not_built("evaluate_network", "evaluation and video analysis")


def analyze_videos(config: Any, *args: Any, **kwargs: Any) -> NoReturn:
    """Predict poses in videos (not built yet)."""
    _not_built("analyze_videos", "evaluation and video analysis")


def create_labeled_video(config: Any, *args: Any, **kwargs: Any) -> NoReturn:
    """Draw predictions on a video (not built yet)."""
    _not_built("create_labeled_video", "evaluation and video analysis")


def plot_trajectories(config: Any, *args: Any, **kwargs: Any) -> NoReturn:
    """Plot predicted trajectories (not built yet)."""
    _not_built("plot_trajectories", "evaluation and video analysis")


def extract_outlier_frames(config: Any, *args: Any, **kwargs: Any) -> NoReturn:
    """Extract frames where the network fails (not built yet)."""
    _not_built("extract_outlier_frames", "the refinement loop")


def refine_labels(config: Any, *args: Any, **kwargs: Any) -> NoReturn:
    """Correct machine labels on a canvas (not built yet)."""
    _not_built("refine_labels", "the refinement loop")


def merge_datasets(config: Any, *args: Any, **kwargs: Any) -> NoReturn:
    """Merge refined labels into the next iteration (not built yet)."""
    _not_built("merge_datasets", "the refinement loop")
