"""A project whose pose_cfg makes DeepLabCut's printed train_network call quick (2 steps of a tiny net)."""

from __future__ import annotations

from pathlib import Path

import pytest

from posekit.dataset import create_training_dataset

#: Train from scratch (no download), 2 iterations of an 8-feature resnet_18 on 64x64 crops.
QUICK = {"multi_step": [[0.001, 2]], "init_weights": "", "backbone_features": 8, "batch_size": 2,
         "crop_size": [64, 64]}


@pytest.fixture
def predict_project_copy(synthetic_copy) -> Path:
    create_training_dataset(synthetic_copy, seed=0, net_type="resnet_18", pose_cfg_overrides=QUICK)
    return synthetic_copy
