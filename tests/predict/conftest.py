"""One tiny network shared by the prediction tests: two snapshots of the synthetic project.

The snapshots are a freshly initialised resnet_18 with 8 base features (no
training step, so no training compile): the prediction heads are rescaled so
that logits and offsets have sane magnitudes (likelihoods spread around 0.5,
offsets of a few pixels) instead of the saturated outputs of untrained batch
norm. The numbers are meaningless as poses but deterministic, which is all the
I/O and arithmetic checks need.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

TINY = {"net_type": "resnet_18", "backbone_features": 8}
#: Snapshot iterations written (the newest is what analyze_videos uses by default).
ITERATIONS = (0, 2)


def _fix_video_sets(config: Path) -> None:
    from posekit.project import Project

    project = Project.open(config)
    project.cfg["video_sets"] = {
        str(project.videos_dir / Path(key).name): entry
        for key, entry in project.cfg["video_sets"].items()
    }
    project.cfg["TrainingFraction"] = [0.75]  # 8 images: 6 train, 2 test
    project.save_config()


def _scaled_heads(model, state, frames: np.ndarray, logit_std: float, locref_std: float):
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    out = model.apply(variables, frames, use_running_average=True)
    params = jax.device_get(state.params)
    params = {**params}
    part = dict(params["part_pred"])
    part["kernel"] = part["kernel"] * (logit_std / float(np.std(out["part_pred"])))
    params["part_pred"] = part
    loc = dict(params["locref_pred"])
    loc["kernel"] = loc["kernel"] * (locref_std / float(np.std(out["locref"])))
    params["locref_pred"] = loc
    return params


@pytest.fixture(scope="session")
def predict_project(synthetic_config, tmp_path_factory) -> Path:
    """A synthetic project with a training set and two tiny snapshots (read-only use)."""
    from posekit.dataset import create_training_dataset
    from posekit.io.video import VideoReader
    from posekit.train.trainer import Trainer

    dest = tmp_path_factory.mktemp("predict") / synthetic_config.parent.name
    shutil.copytree(synthetic_config.parent, dest)
    config = dest / "config.yaml"
    _fix_video_sets(config)
    create_training_dataset(config, seed=0, net_type="resnet_18")
    trainer = Trainer(config, maxiters=1, pretrained=False, batch_size=2, crop_size=(64, 64),
                      model_overrides=TINY, max_snapshots_to_keep=None)
    video = next((dest / "videos").glob("*.mp4"))
    with VideoReader(video) as reader:
        frames = np.stack([reader.read(0), reader.read(60)])
    state = trainer.state
    for iteration, (logit_std, locref_std) in zip(ITERATIONS, ((0.5, 0.2), (0.4, 0.1)), strict=True):
        params = _scaled_heads(trainer.model, state, frames, logit_std, locref_std)
        trainer.state = state.replace(params=params, step=iteration)
        trainer.save()
    return config


@pytest.fixture
def project(predict_project, tmp_path) -> Path:
    """A private writable copy of :func:`predict_project` (config.yaml path)."""
    dest = tmp_path / predict_project.parent.name
    shutil.copytree(predict_project.parent, dest)
    _fix_video_sets(dest / "config.yaml")
    return dest / "config.yaml"


@pytest.fixture
def video(project) -> Path:
    """The project's 120-frame 320x240 mp4."""
    return next((project.parent / "videos").glob("*.mp4"))
