"""Fixtures for the refinement loop: a trained tiny network and hand-written prediction files.

The prediction files are written here with pandas in DeepLabCut's analysis
layout (format spec 10.2), not by ``analyze_videos``: the synthetic animal's
exact keypoints plus noise, with outliers planted at known frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.project import Project
from posekit.refine.machinelabels import MachineLabels, machinelabels_path
from tests.labeling.projects import BODYPARTS, STEM, make_tiny_project
from tests.labeling.projects import disk_point as _disk_point
from tests.project_copies import copy_project

TINY = {"net_type": "resnet_18", "backbone_features": 8}
FAST = {"pretrained": False, "batch_size": 2, "crop_size": (64, 64), "model_overrides": TINY}
N_FRAMES = 120
#: Frames where the whole animal is predicted 80 px left of where it is (still inside the image).
GLITCHES = (33, 87)
#: Frames where ``tailtip`` has likelihood 0.001.
LOW = tuple(range(50, 55))
#: Frames the synthetic project (seed 1) already extracted and labelled.
EXTRACTED = (18, 26, 35, 57, 59, 73, 90, 107)


def make_poses(n: int = N_FRAMES, seed: int = 0) -> np.ndarray:
    """(n, 7, 3) predictions: exact keypoints + 0.3 px noise, likelihood 0.9, planted outliers.

    ``GLITCHES`` frames are shifted 80 px left (one-frame jumps), ``tailtip`` has
    likelihood 0.001 in the ``LOW`` frames.
    """
    from posekit.datasets import synthetic_keypoints

    rng = np.random.default_rng(seed)
    poses = np.empty((n, 7, 3))
    poses[:, :, :2] = synthetic_keypoints(n) + rng.normal(0, 0.3, (n, 7, 2))
    poses[:, :, 2] = 0.9
    for frame in (g for g in GLITCHES if g < n):
        poses[frame, :, 0] -= 80.0
    poses[[f for f in LOW if f < n], 6, 2] = 0.001
    return poses


def write_analysis(
    video: Path,
    scorer: str,
    poses: np.ndarray,
    bodyparts,
    cropping: tuple[int, int, int, int] | None = None,
    folder: Path | None = None,
) -> Path:
    """``<stem><scorer>.h5`` (table format, key df_with_missing) + ``_meta.json`` beside the video."""
    columns = pd.MultiIndex.from_product(
        [[scorer], list(bodyparts), ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"]
    )
    frame = pd.DataFrame(poses.reshape(len(poses), -1), columns=columns, index=np.arange(len(poses)))
    folder = folder or video.parent
    h5 = folder / f"{video.stem}{scorer}.h5"
    frame.to_hdf(h5, key="df_with_missing", format="table", mode="w")
    meta = {
        "data": {
            "Scorer": scorer,
            "nframes": len(poses),
            "fps": 30.0,
            "cropping": cropping is not None,
            "cropping_parameters": list(cropping) if cropping else [0, 320, 0, 240],
        }
    }
    (folder / f"{video.stem}{scorer}_meta.json").write_text(json.dumps(meta))
    return h5


@pytest.fixture(scope="session")
def trained_config(synthetic_config, tmp_path_factory) -> Path:
    """The synthetic project with an iteration-0 training set and a 2-step tiny snapshot (read-only)."""
    from posekit.dataset import create_training_dataset
    from posekit.train.trainer import Trainer

    config = copy_project(synthetic_config, tmp_path_factory.mktemp("refine") / synthetic_config.parent.name)
    create_training_dataset(config, seed=0, net_type="resnet_18")
    Trainer(config, maxiters=2, saveiters=2, **FAST).run()
    return config


@pytest.fixture
def project(trained_config, tmp_path) -> Path:
    """A private copy of the trained project with an analysis file of its video (config path)."""
    from posekit.predict.predictor import snapshot_scorer

    config = copy_project(trained_config, tmp_path / trained_config.parent.name)
    proj = Project.open(config)
    video = proj.video_path("synthetic")
    write_analysis(video, snapshot_scorer(config), make_poses(), proj.bodyparts)
    return config


# -- a tiny project with machine labels (no video, no network) ---------------------- #
NET = "DLC_resnet50_tinyJan1shuffle1_1000"


def key(i: int) -> tuple[str, str, str]:
    """Row key of ``img00<i>.png`` of the tiny project."""
    return ("labeled-data", STEM, f"img00{i}.png")


#: Predictions of img000..img002 (160 x 120 images): x, y, likelihood per body part.
PREDICTIONS = np.array(
    [
        [[20.0, 30.0, 0.95], [40.0, 30.0, 0.3], [60.0, 30.0, 0.9], [80.0, 90.0, 0.99]],
        [[25.0, 35.0, 0.95], [45.0, 35.0, 0.9], [400.0, 35.0, 0.8], [85.0, 95.0, 0.05]],
        [[30.0, 40.0, 0.95], [50.0, 40.0, 0.9], [70.0, 40.0, 0.9], [90.0, 100.0, 0.9]],
    ]
)


@pytest.fixture
def tiny(tmp_path) -> Path:
    """Tiny project: 3 images with machine labels, img001's rightear predicted off the image."""
    config = make_tiny_project(tmp_path / "tiny", size=(160, 120))
    project = Project.open(config)
    machine = MachineLabels(NET, list(BODYPARTS), {key(i): PREDICTIONS[i] for i in range(3)})
    machine.save(machinelabels_path(project, STEM), project.labeled_folder(STEM) / "machinelabels.csv")
    return config


def disk_point(folder, image: str, part: str) -> tuple[float, float] | None:
    """(x, y) in CollectedData h5 and csv (checked equal); None when unlabelled or no row."""
    try:
        point = _disk_point(folder, image, part)
    except KeyError:
        return None
    return None if np.isnan(point).any() else point


def folder_of(config) -> Path:
    """The tiny project's labeled-data folder."""
    return Project.open(config).labeled_folder(STEM)
