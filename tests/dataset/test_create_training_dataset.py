"""create_training_dataset: merged labels, DLC paths and pct truncation, splits, pose_cfg."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from posekit.dataset import TrainingSet, create_training_dataset
from posekit.dataset.create import make_split
from posekit.project import Project, edit_config


def test_reaching_layout_and_split(reaching_project):
    report = create_training_dataset(reaching_project, seed=0)
    project = Project.open(reaching_project)
    folder = project.root / "training-datasets" / "iteration-0" / "UnaugmentedDataSet_ReachingAug30"
    merged = pd.read_hdf(folder / "CollectedData_Mackenzie.h5")
    assert merged.shape == (report.n_images, 10)
    assert report.n_images + len(report.unlabeled_images) + len(report.missing_images) == 55
    (split,) = report.splits
    assert len(split.train_indices) == int(report.n_images * 0.95)
    assert sorted(np.concatenate([split.train_indices, split.test_indices])) == list(range(report.n_images))
    doc = yaml.safe_load((folder / "Documentation_data-Reaching_95shuffle1.yaml").read_text())
    assert doc["train_indices"] == split.train_indices.tolist()
    assert doc["train_images"][0].startswith("labeled-data/reachingvideo1/img")
    model = project.root / "dlc-models" / "iteration-0" / "ReachingAug30-trainset95shuffle1"
    train = yaml.safe_load((model / "train" / "pose_cfg.yaml").read_text())
    test = yaml.safe_load((model / "test" / "pose_cfg.yaml").read_text())
    assert train["all_joints_names"] == ["Hand", "Finger1", "Tongue", "Joystick1", "Joystick2"]
    assert train["num_joints"] == 5 and train["all_joints"] == [[0], [1], [2], [3], [4]]
    assert train["net_type"] == "resnet_50" and train["optimizer"] == "adamw" and train["batch_size"] == 8
    per_epoch = -(-len(split.train_indices) // 8)  # DeepLabCut 3's epochs of 8 images, in iterations
    assert train["multi_step"] == [[5e-4, 90 * per_epoch], [1e-4, 120 * per_epoch], [1e-5, 200 * per_epoch]]
    assert train["global_scale"] == 0.8 and train["pos_dist_thresh"] == 17
    assert train["dataset"] == ("training-datasets/iteration-0/UnaugmentedDataSet_ReachingAug30/"
                                "CollectedData_Mackenzie.h5")
    assert test["scoremap_dir"] == "test" and "multi_step" not in test
    text = (model / "train" / "pose_cfg.yaml").read_text()
    keys = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith((" ", "-"))]
    assert keys == sorted(keys)  # PyYAML-sorted like DLC


def test_training_set_round_trip(reaching_project):
    report = create_training_dataset(reaching_project, seed=1)
    ts = TrainingSet.read(reaching_project, shuffle=1)
    assert np.array_equal(ts.split.train_indices, report.splits[0].train_indices)
    paths, points = ts.arrays("test")
    assert len(paths) == len(report.splits[0].test_indices) and points.shape[1:] == (5, 2)
    assert all(p.is_file() for p in paths)


def test_pct_truncation_and_shuffles(reaching_project):
    edit_config(reaching_project, {"TrainingFraction": [0.29, 0.8]})
    report = create_training_dataset(reaching_project, Shuffles=[2, 5], seed=0)
    project = Project.open(reaching_project)
    names = sorted(p.name for p in (project.root / "dlc-models" / "iteration-0").iterdir())
    assert names == [
        "ReachingAug30-trainset28shuffle2",
        "ReachingAug30-trainset28shuffle5",
        "ReachingAug30-trainset80shuffle2",
        "ReachingAug30-trainset80shuffle5",
    ]
    assert len(report.splits) == 4
    a, b = report.splits[0], report.splits[1]
    assert not np.array_equal(a.train_indices, b.train_indices)


def test_seeded_and_existing_shuffle_protected(reaching_project):
    first = create_training_dataset(reaching_project, seed=3).splits[0]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        create_training_dataset(reaching_project, seed=3)
    again = create_training_dataset(reaching_project, seed=3, overwrite=True).splits[0]
    assert np.array_equal(first.train_indices, again.train_indices)
    assert np.array_equal(make_split(10, 0.8, 1, 0).train_indices, make_split(10, 0.8, 1, 0).train_indices)


def test_custom_indices(reaching_project):
    report = create_training_dataset(reaching_project, trainIndices=[list(range(40))], testIndices=[[40, 41, -1]])
    (split,) = report.splits
    assert split.fraction == round(40 / 42, 2) and split.test_indices.tolist() == [40, 41]
    with pytest.raises(ValueError, match="both trainIndices and testIndices"):
        create_training_dataset(reaching_project, trainIndices=[[0]], testIndices=[[0]], overwrite=True)
    with pytest.raises(ValueError, match=r"outside 0\.\."):
        create_training_dataset(reaching_project, trainIndices=[[0, 999]], testIndices=[[1]], overwrite=True)


def test_recipe_follows_the_batch_size_unless_a_schedule_is_given(reaching_project):
    report = create_training_dataset(reaching_project, trainIndices=[list(range(40))], testIndices=[[40, 41]],
                                     pose_cfg_overrides={"batch_size": 16})
    model = Project.open(reaching_project).model_dir(report.splits[0].fraction, 1)
    train = yaml.safe_load((model / "train" / "pose_cfg.yaml").read_text())
    assert train["batch_size"] == 16 and train["multi_step"] == [[5e-4, 270], [1e-4, 360], [1e-5, 600]]
    sgd = {"optimizer": "sgd", "multi_step": [[0.005, 10000]], "batch_size": 1}  # DeepLabCut 2's recipe
    create_training_dataset(reaching_project, trainIndices=[list(range(40))], testIndices=[[40, 41]],
                            pose_cfg_overrides=sgd, overwrite=True)
    train = yaml.safe_load((model / "train" / "pose_cfg.yaml").read_text())
    assert {key: train[key] for key in sgd} == sgd


def test_missing_and_unlabeled_frames_reported(reaching_project):
    project = Project.open(reaching_project)
    images = project.frame_images("reachingvideo1")
    images[0].unlink()
    with pytest.warns(UserWarning, match="have no image file"):
        report = create_training_dataset(reaching_project, seed=0)
    assert report.missing_images == [f"labeled-data/reachingvideo1/{images[0].name}"]


def test_no_labels_is_a_clear_error(synthetic_copy):
    project = Project.open(synthetic_copy)
    for stem in project.labeled_stems():
        project.collected_data_path(stem).unlink()
        project.collected_data_path(stem, ".csv").unlink()
    with pytest.raises(ValueError, match="No labeled images"):
        create_training_dataset(synthetic_copy)
    with pytest.raises(ValueError, match="net_type='vgg'"):
        create_training_dataset(synthetic_copy, net_type="vgg")
