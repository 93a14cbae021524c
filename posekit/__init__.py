"""posekit: markerless animal pose estimation that lives inside Jupyter.

The workflow verbs carry DeepLabCut's names and read and write DeepLabCut's
project layout. They are imported lazily, so ``import posekit`` stays fast and
JAX / matplotlib load only when a step needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from posekit.utils.xla_flags import apply_default_xla_flags

apply_default_xla_flags()

__version__ = "0.1.0.dev0"

if TYPE_CHECKING:  # what IDEs and type checkers see; at run time each name loads on first use
    from posekit import datasets
    from posekit.io.labels import LabelTable
    from posekit.io.video import VideoReader
    from posekit.project.config import edit_config, read_config
    from posekit.project.project import Project
    from posekit.utils.install import check_install
    from posekit.workflow import (
        add_new_videos,
        analyze_time_lapse_frames,
        analyze_videos,
        check_labels,
        create_labeled_video,
        create_new_project,
        create_project,
        create_training_dataset,
        crop_editor,
        evaluate_network,
        extract_frames,
        extract_outlier_frames,
        filterpredictions,
        label_frames,
        merge_datasets,
        plot_trajectories,
        previous_iteration_snapshot,
        refine_labels,
        train_network,
    )

#: public name -> "module:attribute"
_LAZY = {
    # the workflow verbs (DeepLabCut's signatures; see posekit.workflow)
    "create_project": "posekit.workflow.project:create_project",
    "create_new_project": "posekit.workflow.project:create_new_project",
    "add_new_videos": "posekit.workflow.project:add_new_videos",
    "extract_frames": "posekit.workflow.project:extract_frames",
    "crop_editor": "posekit.workflow.project:crop_editor",
    "label_frames": "posekit.workflow.project:label_frames",
    "check_labels": "posekit.workflow.project:check_labels",
    "create_training_dataset": "posekit.workflow.training:create_training_dataset",
    "train_network": "posekit.workflow.training:train_network",
    "evaluate_network": "posekit.workflow.training:evaluate_network",
    "analyze_videos": "posekit.workflow.analysis:analyze_videos",
    "create_labeled_video": "posekit.workflow.analysis:create_labeled_video",
    "plot_trajectories": "posekit.workflow.analysis:plot_trajectories",
    "filterpredictions": "posekit.workflow.analysis:filterpredictions",
    "analyze_time_lapse_frames": "posekit.workflow.analysis:analyze_time_lapse_frames",
    "extract_outlier_frames": "posekit.workflow.refinement:extract_outlier_frames",
    "refine_labels": "posekit.workflow.refinement:refine_labels",
    "merge_datasets": "posekit.workflow.refinement:merge_datasets",
    "previous_iteration_snapshot": "posekit.workflow.refinement:previous_iteration_snapshot",
    # building blocks
    "read_config": "posekit.project.config:read_config",
    "edit_config": "posekit.project.config:edit_config",
    "Project": "posekit.project.project:Project",
    "LabelTable": "posekit.io.labels:LabelTable",
    "VideoReader": "posekit.io.video:VideoReader",
    "check_install": "posekit.utils.install:check_install",
}

__all__ = [
    "LabelTable",
    "Project",
    "VideoReader",
    "__version__",
    "add_new_videos",
    "analyze_time_lapse_frames",
    "analyze_videos",
    "check_install",
    "check_labels",
    "create_labeled_video",
    "create_new_project",
    "create_project",
    "create_training_dataset",
    "crop_editor",
    "datasets",
    "edit_config",
    "evaluate_network",
    "extract_frames",
    "extract_outlier_frames",
    "filterpredictions",
    "label_frames",
    "merge_datasets",
    "plot_trajectories",
    "previous_iteration_snapshot",
    "read_config",
    "refine_labels",
    "train_network",
]


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
