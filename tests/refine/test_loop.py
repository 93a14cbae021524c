"""The whole active-learning loop, headless, on the synthetic project.

predictions with planted jumps -> extract_outlier_frames -> refine by simulated canvas
events -> CollectedData on disk -> merge_datasets -> create_training_dataset (iteration 1)
-> train 2 steps from the iteration-0 snapshot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import posekit
from posekit import extract_outlier_frames, merge_datasets, previous_iteration_snapshot
from posekit.datasets import synthetic_keypoints
from posekit.io.labels import LabelTable
from posekit.project import Project
from posekit.refine.merge import MergeRefusedWarning
from tests.refine.conftest import EXTRACTED, TINY, make_poses
from tests.refine.test_refiner_widget import click, drag


def refine_labels(*args, **kwargs):
    """The widget of ``posekit.refine_labels`` (what a notebook shows)."""
    return posekit.refine_labels(*args, **kwargs).widget()


def test_extract_refine_merge_retrain(project):
    proj = Project.open(project)
    folder = proj.labeled_folder("synthetic")
    human_before = LabelTable.read(folder, scorer=proj.scorer)
    truth = synthetic_keypoints(120)
    predictions = make_poses()

    # 1. outliers: the planted jumps (and the frames after them) become images + machine labels
    result = extract_outlier_frames(project, [proj.video_path("synthetic")], outlieralgorithm="jump",
                                    automatic=True, seed=0).results["synthetic"]
    assert result.picked == [33, 34, 87, 88]

    # 2. refine in the widget: frame 33's whole body was predicted 80 px too far left
    widget = refine_labels(project)
    s = widget.session
    assert [k[2] for k in s.images] == ["img033.png", "img034.png", "img087.png", "img088.png"]
    assert s.image_name == "img033.png"
    for j in range(len(s.bodyparts)):
        drag(widget, predictions[33, j, :2], truth[33, j])
    click(widget.accept_button)  # nothing left to fix in img033; on to img034
    assert s.image_name == "img034.png"
    click(widget.accept_button)  # img034: the prediction is right
    assert s.image_name == "img087.png"
    with pytest.warns(MergeRefusedWarning):
        report = merge_datasets(project)  # two frames are still unrefined
    assert not report.merged and Project.open(project).iteration == 0
    assert "2 machine-labelled frame(s) not refined" in report.summary()
    click(widget.remove_image_button)  # img087: say it is not worth labelling
    click(widget.confirm_button)
    assert s.image_name == "img088.png"
    click(widget.accept_button)
    assert s.unrefined() == []

    # 3. CollectedData on disk: the corrections, the accepted predictions, old labels untouched
    df = pd.read_hdf(proj.collected_data_path("synthetic"))
    values = df.to_numpy().reshape(len(df), -1, 2)
    rows = {k[2]: i for i, k in enumerate(df.index)}
    np.testing.assert_allclose(values[rows["img033.png"]], truth[33], atol=1e-6)
    np.testing.assert_allclose(values[rows["img034.png"]], predictions[34, :, :2], atol=1e-9)
    assert "img087.png" not in rows and not (folder / "img087.png").exists()
    for image in human_before.images:
        np.testing.assert_array_equal(values[rows[image[2]]], human_before.points(image))
    assert sorted(rows) == sorted([f"img{i:03d}.png" for i in (*EXTRACTED, 33, 34, 88)])

    # 4. next iteration
    report = merge_datasets(project)
    assert report.merged and (report.old_iteration, report.iteration) == (0, 1)
    assert report.labeled_images == 11 and Project.open(project).iteration == 1
    from posekit.dataset import create_training_dataset

    dataset = create_training_dataset(project, seed=0, net_type="resnet_18")
    assert dataset.n_images == 11
    proj.reload()
    merged = LabelTable.read(proj.dataset_dir(1) / f"CollectedData_{proj.scorer}.h5")
    refined = ("labeled-data", "synthetic", "img033.png")
    assert refined in merged.images
    np.testing.assert_allclose(merged.points(refined), truth[33], atol=1e-6)

    # 5. train briefly, starting from the iteration-0 network
    from posekit.train.snapshots import list_snapshots
    from posekit.train.trainer import Trainer

    start = previous_iteration_snapshot(project)
    assert "iteration-0" in start.parts and start.name == "snapshot-2.msgpack"
    trainer = Trainer(project, maxiters=2, saveiters=2, init_weights=str(start),
                      batch_size=2, crop_size=(64, 64), model_overrides=TINY)
    assert trainer.init_source.startswith("initialised from")
    trainer.run()
    assert "iteration-1" in trainer.train_dir.parts
    assert [it for it, _ in list_snapshots(trainer.train_dir)] == [2]


def test_merge_datasets_semantics(project):
    from posekit.project import edit_config

    # a folder without CollectedData blocks the merge (DeepLabCut); an empty one does not
    proj = Project.open(project)
    (proj.labeled_data_dir / "empty").mkdir()
    (proj.labeled_data_dir / "synthetic_labeled").mkdir()  # check_labels output: ignored
    unlabeled = proj.labeled_data_dir / "unlabeled"
    unlabeled.mkdir()
    (unlabeled / "img001.png").write_bytes((proj.labeled_folder("synthetic") / "img018.png").read_bytes())
    with pytest.warns(MergeRefusedWarning, match="Not merged"):
        report = merge_datasets(project)
    assert not report.merged and "'unlabeled' has no CollectedData_posekit" in report.summary()
    (unlabeled / "img001.png").unlink()
    report = merge_datasets(project, forceiterate=5)
    assert report.merged and report.iteration == 5 and Project.open(project).iteration == 5
    assert [f.stem for f in report.folders if f.empty] == ["empty", "unlabeled"]
    edit_config(project, {"iteration": 2})
    assert merge_datasets(project, forceiterate=0).iteration == 3  # 0 means "increment" (DLC)
    with pytest.raises(FileNotFoundError, match=r"iterations 0\.\.2"):
        previous_iteration_snapshot(project, shuffle=2)
