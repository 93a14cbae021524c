"""Shared by the training tests: the tiniest network and a project with a training set."""

from __future__ import annotations

from pathlib import Path

import pytest

from posekit.dataset import create_training_dataset

TINY = {"net_type": "resnet_18", "backbone_features": 8}
FAST = {"pretrained": False, "batch_size": 2, "crop_size": (64, 64), "model_overrides": TINY}


def training_config(synthetic_copy: Path) -> Path:
    """``synthetic_copy`` with shuffle 1 created (resnet_18)."""
    create_training_dataset(synthetic_copy, seed=0, net_type="resnet_18")
    return synthetic_copy


@pytest.fixture
def config(synthetic_copy) -> Path:
    return training_config(synthetic_copy)
