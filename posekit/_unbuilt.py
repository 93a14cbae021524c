"""Workflow verbs that later releases build; each says so clearly when called."""

from __future__ import annotations

from typing import Any, NoReturn


def _not_built(verb: str, part: str) -> NoReturn:
    raise NotImplementedError(
        f"posekit.{verb} is not built yet: it arrives with {part}. "
        "Until then, use DeepLabCut for this step; posekit reads and writes its files."
    )


def extract_outlier_frames(config: Any, *args: Any, **kwargs: Any) -> NoReturn:
    """Extract frames where the network fails (not built yet)."""
    _not_built("extract_outlier_frames", "the refinement loop")


def refine_labels(config: Any, *args: Any, **kwargs: Any) -> NoReturn:
    """Correct machine labels on a canvas (not built yet)."""
    _not_built("refine_labels", "the refinement loop")


def merge_datasets(config: Any, *args: Any, **kwargs: Any) -> NoReturn:
    """Merge refined labels into the next iteration (not built yet)."""
    _not_built("merge_datasets", "the refinement loop")
