"""``pose_cfg.yaml``: DeepLabCut's training and test configuration of one shuffle."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import yaml

from posekit.errors import ConfigError
from posekit.utils.atomic import atomic_write_text

#: DeepLabCut 2.3 single-animal template values (spec section 7.2), plus the
#: hidden defaults posekit's trainer reads (``stride``, ``mean_pixel``, ...).
TRAIN_DEFAULTS: dict[str, Any] = {
    "alpha_r": 0.02,
    "apply_prob": 0.5,
    "batch_size": 1,
    "contrast": {"clahe": True, "claheratio": 0.1, "histeq": True, "histeqratio": 0.1},
    "convolution": {
        "edge": False,
        "emboss": {"alpha": [0.0, 1.0], "strength": [0.5, 1.5]},
        "embossratio": 0.1,
        "sharpen": False,
        "sharpenratio": 0.3,
    },
    "cropratio": 0.4,
    "dataset_type": "imgaug",
    "decay_steps": 30000,
    "display_iters": 1000,
    "global_scale": 0.8,
    "init_weights": "imagenet",
    "intermediate_supervision": False,
    "intermediate_supervision_layer": 12,
    "location_refinement": True,
    "locref_huber_loss": True,
    "locref_loss_weight": 0.05,
    "locref_stdev": 7.2801,
    "lr_init": 0.0005,
    "max_input_size": 1500,
    "mean_pixel": [123.68, 116.779, 103.939],
    "min_input_size": 64,
    "mirror": False,
    "multi_stage": False,
    "multi_step": [[0.005, 10000], [0.02, 430000], [0.002, 730000], [0.001, 1030000]],
    "optimizer": "sgd",
    "output_stride": 16,
    "pairwise_huber_loss": False,
    "pairwise_predict": False,
    "partaffinityfield_predict": False,
    "pos_dist_scaled": True,
    "pos_dist_thresh": 17,
    "rotation": 25,
    "rotratio": 0.4,
    "save_iters": 50000,
    "scale_jitter_lo": 0.5,
    "scale_jitter_up": 1.25,
    "stride": 8.0,
    "weigh_only_present_joints": False,
}

#: What a new shuffle takes from DeepLabCut 3's PyTorch recipe for ResNets:
#: AdamW in batches of 8, and a positive disk of ``pos_dist_thresh`` crop
#: pixels whatever the augmentation's scale (``pos_dist_scaled: false``;
#: DeepLabCut 2 shrank it with the scale). Files without these keys (DeepLabCut
#: 2.x) keep :data:`TRAIN_DEFAULTS`' SGD recipe and scaled disk. From random
#: initialisation DeepLabCut 2's recipe had barely started learning after 100
#: steps of 8 images where DeepLabCut 3's had (``benchmarks/bench_accuracy.py``,
#: README "Accuracy").
RECIPE: dict[str, Any] = {"optimizer": "adamw", "weight_decay": 0.01, "batch_size": 8, "pos_dist_scaled": False}

#: DeepLabCut 3's learning rates by epoch: 5e-4, then 1e-4 after 90 epochs and
#: 1e-5 after 120, for 200 epochs (``lr_list`` / ``milestones`` / ``epochs``).
RECIPE_EPOCHS: tuple[tuple[float, int], ...] = ((5e-4, 90), (1e-4, 120), (1e-5, 200))


def epoch_schedule(n_train: int, batch_size: int,
                   epochs: tuple[tuple[float, int], ...] = RECIPE_EPOCHS) -> list[list[float | int]]:
    """A ``multi_step`` schedule in iterations from one given in epochs.

    Parameters
    ----------
    n_train
        Training images of the shuffle.
    batch_size
        Images per iteration; an epoch is ``ceil(n_train / batch_size)``
        iterations (the last batch of an epoch may be short, as in DeepLabCut 3).
    epochs
        ``(learning rate, until epoch)`` pairs.

    Returns
    -------
    list
        ``[[lr, until_iteration], ...]``.
    """
    if n_train < 1 or batch_size < 1:
        raise ValueError(f"need at least one training image and a batch of one (got {n_train}, {batch_size}).")
    per_epoch = math.ceil(n_train / batch_size)
    return [[lr, until * per_epoch] for lr, until in epochs]


#: Keys DeepLabCut copies into ``test/pose_cfg.yaml``.
TEST_KEYS = (
    "all_joints",
    "all_joints_names",
    "dataset",
    "global_scale",
    "init_weights",
    "location_refinement",
    "locref_stdev",
    "mean_pixel",
    "net_type",
    "num_joints",
    "output_stride",
    "stride",
)


def make_pose_cfgs(
    bodyparts: list[str],
    net_type: str,
    dataset: str,
    metadataset: str,
    project_path: str,
    n_train: int,
    augmenter: str = "imgaug",
    **overrides: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build the train and test ``pose_cfg`` mappings of one shuffle.

    The optimiser is DeepLabCut 3's (:data:`RECIPE`, and ``multi_step`` from
    :data:`RECIPE_EPOCHS` for ``n_train`` images in the configured batch);
    every other key is DeepLabCut 2.3's template (:data:`TRAIN_DEFAULTS`).

    Parameters
    ----------
    bodyparts
        Config body parts (joint order).
    net_type
        ``resnet_18`` ... ``resnet_152``.
    dataset, metadataset
        Paths (relative to the project) of the merged labels and the split file.
    project_path
        The project folder.
    n_train
        Training images of the shuffle (sizes the epoch-based schedule).
    augmenter
        ``dataset_type`` (config ``default_augmenter``; ``default`` means ``imgaug``).
    **overrides
        Any key to set in the train config (e.g. ``batch_size=4``; the
        schedule then follows that batch size unless ``multi_step`` is given).

    Returns
    -------
    (dict, dict)
        The train and the test configuration.
    """
    train = {**TRAIN_DEFAULTS, **RECIPE}
    train.update(
        all_joints=[[j] for j in range(len(bodyparts))],
        all_joints_names=list(bodyparts),
        dataset=dataset,
        metadataset=metadataset,
        net_type=net_type,
        num_joints=len(bodyparts),
        project_path=project_path,
        dataset_type="imgaug" if augmenter == "default" else augmenter,
    )
    train.update(overrides)
    if "multi_step" not in overrides:
        train["multi_step"] = epoch_schedule(n_train, int(train["batch_size"]))
    test = {k: train[k] for k in TEST_KEYS}
    test["scoremap_dir"] = "test"
    return train, test


def write_pose_cfg(path: str | os.PathLike, cfg: dict[str, Any]) -> Path:
    """Write a pose config atomically, keys sorted as DeepLabCut's PyYAML dump does."""
    path = Path(path)
    atomic_write_text(path, yaml.safe_dump(cfg, sort_keys=True, default_flow_style=None))
    return path


def read_pose_cfg(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``pose_cfg.yaml`` over the defaults (keys absent from the file take them)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"'{path}' does not exist; run posekit.create_training_dataset first."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"'{path}' is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"'{path}' must hold a mapping of pose_cfg keys.")
    return {**TRAIN_DEFAULTS, **data}
