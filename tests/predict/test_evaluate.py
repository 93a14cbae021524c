"""evaluate_network: DeepLabCut's result files and column names, errors checked by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from posekit.dataset.training_set import TrainingSet
from posekit.io.images import read_image
from posekit.predict.evaluate import (
    KEYPOINT_ERROR_NAMES,
    RESULT_COLUMNS,
    evaluate_network,
)
from posekit.project import Project
from posekit.project.config import edit_config

HEADER = (",Training iterations:,%Training dataset,Shuffle number, Train error(px), Test error(px),"
          "p-cutoff used,Train error with p-cutoff,Test error with p-cutoff")


def _folder(config):
    proj = Project.open(config)
    return proj.root / "evaluation-results" / "iteration-0" / f"{proj.task_date}-trainset75shuffle1"


def _by_hand(config, predictions_h5, pcutoff, parts=None):
    """Errors from the written predictions and the merged labels, with plain numpy."""
    proj = Project.open(config)
    labels = pd.read_hdf(proj.dataset_dir() / f"CollectedData_{proj.scorer}.h5")
    pred = pd.read_hdf(predictions_h5)
    assert [tuple(i) for i in pred.index] == [tuple(i) for i in labels.index]
    parts = parts or proj.bodyparts
    human = np.stack([labels.xs(bp, axis=1, level="bodyparts").to_numpy() for bp in parts], 1)
    guess = np.stack([pred.xs(bp, axis=1, level="bodyparts").to_numpy() for bp in parts], 1)
    dist = np.sqrt(((human - guess[..., :2]) ** 2).sum(-1))
    dist_p = np.where(guess[..., 2] < pcutoff, np.nan, dist)
    split = TrainingSet.read(config).split
    return dist, dist_p, split.train_indices, split.test_indices


def test_results_files_and_errors(project):
    table = evaluate_network(project, show_errors=False).table
    assert list(table.columns) == RESULT_COLUMNS
    folder = _folder(project)
    (h5,) = folder.glob("*-snapshot-2.h5")
    scorer = h5.name[: -len("-snapshot-2.h5")]
    assert scorer.startswith("DLC_resnet18_synthetic") and scorer.endswith("shuffle1_2")
    with pd.HDFStore(h5, mode="r") as store:
        assert store.keys() == ["/df_with_missing"]
    pred = pd.read_hdf(h5)
    assert list(pred.columns.names) == ["scorer", "bodyparts", "coords"]
    assert len(pred) == 8 and pred.index.nlevels == 3

    # a p-cutoff that splits the predictions, so both variants differ
    likelihood = pred.xs("likelihood", axis=1, level="coords").to_numpy()
    pcutoff = float(np.round(np.median(likelihood), 3))
    edit_config(project, {"pcutoff": pcutoff})
    mtime = h5.stat().st_mtime_ns
    table = evaluate_network(project, show_errors=False).table
    assert h5.stat().st_mtime_ns == mtime  # existing predictions are reused, as in DeepLabCut

    dist, dist_p, train, test = _by_hand(project, h5, pcutoff)
    expected = [2, 75, 1, np.nanmean(dist[train]), np.nanmean(dist[test]), pcutoff,
                np.nanmean(dist_p[train]), np.nanmean(dist_p[test])]
    row = table.iloc[0].tolist()
    assert row[:3] == expected[:3] and row[5] == pcutoff
    np.testing.assert_allclose(row[3:5] + row[6:], np.round(expected[3:5] + expected[6:], 2), atol=1e-9)
    assert row[3] != row[6]  # the cut-off changed something

    # results csv: DeepLabCut's exact header; one row per (snapshot, p-cutoff)
    results = folder / f"{scorer}-results.csv"
    assert results.read_text().splitlines()[0] == HEADER
    saved = pd.read_csv(results, index_col=0)
    assert list(saved.columns) == RESULT_COLUMNS and len(saved) == 2
    assert saved["p-cutoff used"].tolist() == [0.6, pcutoff]
    np.testing.assert_allclose(saved.iloc[1].to_numpy(dtype=float), np.asarray(row, dtype=float))
    combined = pd.read_csv(folder.parent / "CombinedEvaluation-results.csv", index_col=0)
    pd.testing.assert_frame_equal(combined, saved)

    # per-bodypart errors
    per_part = pd.read_csv(folder / f"{scorer}-keypoint-results.csv", index_col=0)
    assert list(per_part.index) == KEYPOINT_ERROR_NAMES
    assert list(per_part.columns) == Project.open(project).bodyparts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column -> NaN
        by_hand = [np.nanmean(d[rows], 0) for d, rows in ((dist, train), (dist, test), (dist_p, train), (dist_p, test))]
    np.testing.assert_allclose(per_part.to_numpy(), np.array(by_hand))

    # comparisonbodyparts restricts the errors
    table = evaluate_network(project, comparisonbodyparts=["snout", "tailbase"], show_errors=False).table
    dist, dist_p, train, test = _by_hand(project, h5, pcutoff, ["snout", "tailbase"])
    assert table.iloc[0][" Train error(px)"] == pytest.approx(round(np.nanmean(dist[train]), 2))
    assert table.iloc[0][" Test error(px)"] == pytest.approx(round(np.nanmean(dist[test]), 2))


def test_all_snapshots_plotting_and_browser(project):
    import posekit
    from posekit.widgets.evaluation import EvaluationBrowser

    report = posekit.evaluate_network(project, plotting=True, show_errors=False, snapshots_to_evaluate="all")
    browser = report.widget()
    assert isinstance(browser, EvaluationBrowser)
    table = browser.results
    assert table is report.table
    assert table["Training iterations:"].tolist() == [0, 2]
    folder = _folder(project)
    assert len(list(folder.glob("*-snapshot-*.h5"))) == 2
    first, second = (pd.read_hdf(h5) for h5 in sorted(folder.glob("*-snapshot-*.h5")))
    assert not np.allclose(first.to_numpy(), second.to_numpy())  # each snapshot predicted
    proj = Project.open(project)
    split = TrainingSet.read(project).split
    for ev in browser.evaluations:
        out = folder / f"LabeledImages_{ev.scorer}_snapshot-{ev.iteration}"
        names = sorted(p.name for p in out.glob("*.png"))
        assert len(names) == 8 == len(ev.labeled_images)
        assert sum(n.startswith("Training-synthetic-img") for n in names) == len(split.train_indices)
        assert sum(n.startswith("Test-synthetic-img") for n in names) == len(split.test_indices)
        drawn = ev.labeled_images[0]
        key = ev.images[0]
        original = read_image(proj.root.joinpath(*key))
        image = read_image(drawn)
        assert image.shape == original.shape and (image != original).any()
        assert drawn.name == f"{ev.subsets[0]}-{key[1]}-{key[2]}"

    # the browser shows one image at a time, filtered by subset
    browser.subset.value = "Test"
    assert len(browser.positions()) == len(split.test_indices)
    assert browser.caption.value.startswith("Test image 1 / 2") and browser.image.value[:2] == b"\xff\xd8"
    browser.snapshot.value = 0
    browser.subset.value = "All"
    browser.show(5)
    assert browser.slider.value == 5 and "image 6 / 8" in browser.caption.value
    browser.show(99)
    assert browser.slider.value == 7
    assert "<table" in browser.table.value and "Test error with p-cutoff" in browser.table.value


def test_bad_arguments(project):
    with pytest.raises(ValueError, match="nose"):
        evaluate_network(project, comparisonbodyparts=["nose"], show_errors=False)
    with pytest.raises(ValueError, match="snapshots="):
        evaluate_network(project, snapshots="best", show_errors=False)
    with pytest.raises(IndexError, match="snapshot"):
        evaluate_network(project, snapshots=5, show_errors=False)
    with pytest.raises(FileNotFoundError, match="create_training_dataset"):
        evaluate_network(project, Shuffles=[4], show_errors=False)


def test_rescale_evaluates_resized_images(project):
    table = evaluate_network(project, rescale=True, show_errors=False).table
    folder = _folder(project)
    (h5,) = folder.glob("*-snapshot-2-rescale.h5")
    scale = 0.8  # pose_cfg global_scale
    proj = Project.open(project)
    labels = pd.read_hdf(proj.dataset_dir() / f"CollectedData_{proj.scorer}.h5").to_numpy().reshape(8, -1, 2)
    pred = pd.read_hdf(h5).to_numpy().reshape(8, -1, 3)
    dist = np.sqrt(((labels * scale - pred[..., :2]) ** 2).sum(-1))
    train = TrainingSet.read(project).split.train_indices
    assert table.iloc[0][" Train error(px)"] == pytest.approx(round(np.nanmean(dist[train]), 2))
    assert np.nanmax(pred[..., 0]) < 320 * scale + 40  # predicted on the 256x192 image
