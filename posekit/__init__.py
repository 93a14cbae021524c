"""posekit: markerless animal pose estimation that lives inside Jupyter.

The workflow verbs carry DeepLabCut's names and read and write DeepLabCut's
project layout. They are imported lazily, so ``import posekit`` stays fast and
JAX / matplotlib load only when a step needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

from posekit.utils.xla_flags import apply_default_xla_flags

apply_default_xla_flags()

__version__ = "0.1.0.dev0"

#: public name -> "module:attribute"
_LAZY = {
    "create_project": "posekit.project.create:create_project",
    "add_new_videos": "posekit.project.create:add_new_videos",
    "read_config": "posekit.project.config:read_config",
    "edit_config": "posekit.project.config:edit_config",
    "Project": "posekit.project.project:Project",
    "extract_frames": "posekit.frames.extract:extract_frames",
    "check_labels": "posekit.viz.check_labels:check_labels",
    "LabelTable": "posekit.io.labels:LabelTable",
    "check_install": "posekit.utils.install:check_install",
    "VideoReader": "posekit.io.video:VideoReader",
    "label_frames": "posekit.widgets.labeler:label_frames",
    "crop_editor": "posekit.widgets.crop_editor:crop_editor",
    "check_labels_gallery": "posekit.widgets.gallery:check_labels_gallery",
    "create_training_dataset": "posekit.dataset.create:create_training_dataset",
    "train_network": "posekit.train.train_network:train_network",
    "evaluate_network": "posekit.predict.evaluate:evaluate_network",
    "analyze_videos": "posekit.predict.analyze:analyze_videos",
    "create_labeled_video": "posekit.viz.labeled_video:create_labeled_video",
    "plot_trajectories": "posekit.viz.trajectories:plot_trajectories",
    "extract_outlier_frames": "posekit.refine.extract:extract_outlier_frames",
    "refine_labels": "posekit.widgets.refiner:refine_labels",
    "merge_datasets": "posekit.refine.merge:merge_datasets",
    "previous_iteration_snapshot": "posekit.refine.merge:previous_iteration_snapshot",
}

__all__ = sorted([*_LAZY, "datasets", "__version__"])  # noqa: PLE0605 - built from _LAZY; sorted() gives a list


def __getattr__(name: str) -> Any:
    if name == "datasets":
        return importlib.import_module("posekit.datasets")
    try:
        target = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'posekit' has no attribute {name!r}") from None
    module_name, attr = target.split(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
