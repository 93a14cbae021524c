"""Training sets: merging labels, splits, pose_cfg.yaml, create_training_dataset."""

from posekit.dataset.create import DatasetReport, create_training_dataset
from posekit.dataset.training_set import Split, TrainingSet

__all__ = ["DatasetReport", "Split", "TrainingSet", "create_training_dataset"]
