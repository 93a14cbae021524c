"""filterpredictions: the pure filters (with numbers) and the verb's files and names."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from posekit.predict.filter_videos import filterpredictions
from posekit.predict.filtering import (
    FILLED_LIKELIHOOD,
    arima_filter,
    fillable_gaps,
    filter_predictions,
    kalman_filter,
    median_filter,
    spline_filter,
)
from posekit.predict.results import read_poses
from posekit.project import Project
from posekit.viz.labeled_video import create_labeled_video, find_analysis_file
from posekit.viz.trajectories import plot_trajectories
from tests.refine.conftest import make_poses, write_analysis


def track(n: int, velocity=(1.5, -0.8), start=(50.0, 200.0)) -> np.ndarray:
    """(n, 1, 3) constant-velocity track, likelihood 1."""
    t = np.arange(n, dtype=np.float64)[:, None]
    poses = np.ones((n, 1, 3))
    poses[:, 0, :2] = np.asarray(start) + t * np.asarray(velocity)
    return poses


def rmse(poses: np.ndarray, truth: np.ndarray, rows=slice(None)) -> float:
    diff = poses[rows, :, :2] - truth[rows, :, :2]
    return float(np.sqrt(np.nanmean(np.sum(diff**2, axis=-1))))


# --------------------------------------------------------------------------- #
# pure filters
# --------------------------------------------------------------------------- #


def test_median_removes_a_spike_and_keeps_edges_and_gaps():
    truth = track(40)
    poses = truth.copy()
    poses[10, 0, :2] += 80.0  # one-frame glitch
    poses[20, 0, :2] = np.nan  # a dropout stays a dropout
    poses[:, 0, 2] = 0.7
    out = median_filter(poses, windowlength=5)
    assert np.allclose(out[10, 0, :2], truth[10, 0, :2], atol=1.6)
    assert np.isnan(out[20, 0, :2]).all()
    assert np.allclose(out[19, 0, :2], truth[19, 0, :2], atol=1.6)  # NaN in the window is ignored
    # edges padded with the edge value, not zeros (medfilt's zeros would give y[2] at frame 0)
    assert np.array_equal(out[0, 0, :2], truth[0, 0, :2])
    assert np.array_equal(out[:, 0, 2], poses[:, 0, 2])
    with pytest.raises(ValueError, match="odd"):
        median_filter(poses, windowlength=4)


def test_fillable_gaps_only_inside_and_up_to_max_gap():
    observed = np.ones((20, 1), bool)
    observed[[0, 1]] = False  # leading run: never filled
    observed[5:8] = False  # 3 frames
    observed[10:16] = False  # 6 frames
    observed[19] = False  # trailing
    fill = fillable_gaps(observed, 5)[:, 0]
    assert np.flatnonzero(fill).tolist() == [5, 6, 7]
    assert np.flatnonzero(fillable_gaps(observed, 0)[:, 0]).tolist() == [5, 6, 7, *range(10, 16)]


def test_spline_fills_short_gaps_only():
    t = np.arange(40, dtype=np.float64)
    truth = np.ones((40, 1, 3))
    truth[:, 0, 0] = 0.01 * t**3 - 0.3 * t**2 + 2 * t + 100  # a cubic: the spline reproduces it
    truth[:, 0, 1] = 150 - 0.5 * t
    poses = truth.copy()
    poses[:, 0, 2] = 0.9
    poses[8:11, 0, :2] = np.nan  # 3 frames <= windowlength
    poses[20:28, 0, :2] = np.nan  # 8 frames > windowlength
    out = spline_filter(poses, windowlength=5)
    assert np.allclose(out[8:11, 0, :2], truth[8:11, 0, :2], atol=1e-6)
    assert np.all(out[8:11, 0, 2] == FILLED_LIKELIHOOD)
    assert np.isnan(out[20:28, 0, :2]).all()
    assert np.all(out[20:28, 0, 2] == 0.9)
    observed = np.isfinite(poses[:, 0, 0])
    assert np.array_equal(out[observed], poses[observed])
    assert not np.isnan(spline_filter(poses, windowlength=0)[20:28]).any()  # 0 = any length


def test_kalman_beats_raw_on_a_noisy_track_and_fills_gaps():
    rng = np.random.default_rng(3)
    n = 600
    truth = np.concatenate([track(n), track(n, velocity=(-0.4, 0.9), start=(300.0, 20.0))], axis=1)
    poses = truth.copy()
    poses[..., :2] += rng.normal(0, 2.0, (n, 2, 2))
    poses[..., 2] = rng.uniform(0.6, 1.0, (n, 2))
    poses[100:104, 0, :2] = np.nan  # short dropout: filled
    poses[300:320, 1, :2] = np.nan  # long dropout: stays missing
    wild = rng.choice(np.arange(5, 290), 30, replace=False)
    poses[wild, 1, :2] += 60.0  # detector confusions...
    poses[wild, 1, 2] = 0.0005  # ...that it flagged below p_bound
    out = kalman_filter(poses, p_bound=0.001, windowlength=5)
    good = np.isfinite(poses[..., 0]) & (poses[..., 2] >= 0.001)
    raw_error = np.sqrt(np.mean(np.sum((poses[..., :2] - truth[..., :2])[good] ** 2, axis=-1)))
    smooth_error = rmse(out, truth)
    assert smooth_error < 0.4 * raw_error  # ~2.8 px raw -> well under 1 px
    assert np.allclose(out[100:104, 0, :2], truth[100:104, 0, :2], atol=1.5)
    assert np.all(out[100:104, 0, 2] == FILLED_LIKELIHOOD)
    assert np.isnan(out[300:320, 1, :2]).all()
    assert np.allclose(out[wild, 1, :2], truth[wild, 1, :2], atol=2.0)  # ignored, not followed
    assert np.array_equal(out[good][:, 2], poses[good][:, 2])  # observed frames keep their likelihood


def test_kalman_weights_observations_by_likelihood():
    truth = track(101)
    sure, unsure = truth.copy(), truth.copy()
    for poses, likelihood in ((sure, 1.0), (unsure, 0.02)):
        poses[50, 0, 0] += 10.0
        poses[50, 0, 2] = likelihood
    pulled = kalman_filter(sure, measurement_noise=1.0, process_noise=0.05)[50, 0, 0] - truth[50, 0, 0]
    less = kalman_filter(unsure, measurement_noise=1.0, process_noise=0.05)[50, 0, 0] - truth[50, 0, 0]
    assert 0 < less < 0.25 * pulled


def test_arima_predicts_every_frame_and_keeps_the_first():
    rng = np.random.default_rng(0)
    n = 150
    truth = track(n, velocity=(0.0, 0.0))
    truth[:, 0, 0] += 20 * np.sin(np.arange(n) / 10.0)
    poses = truth.copy()
    poses[..., :2] += rng.normal(0, 1.0, (n, 1, 2))
    poses[40:43, 0, 2] = 0.0001  # below p_bound: missing for the fit, still predicted
    out = arima_filter(poses, p_bound=0.001, n_jobs=1)
    assert np.array_equal(out[0], poses[0])
    assert np.isfinite(out[..., :2]).all()
    assert np.array_equal(out[..., 2], poses[..., 2])
    assert rmse(out, truth, slice(10, None)) < 4.0  # one-step predictions of a smooth series
    few = poses.copy()
    few[10:, 0, 2] = 0.0  # 10 usable values: no fit (DeepLabCut's rule)
    assert np.isnan(arima_filter(few, n_jobs=1)[1:, 0, :2]).all()


def test_filter_predictions_dispatch_and_errors():
    poses = track(30)
    assert np.array_equal(filter_predictions(poses, "median", windowlength=3, p_bound=0.5), poses)
    with pytest.raises(ValueError, match=r"Unknown filtertype 'butterworth'.*'kalman'"):
        filter_predictions(poses, "butterworth")
    with pytest.raises(TypeError, match=r"Unknown filter parameter.*'window'"):
        filter_predictions(poses, "median", window=3)
    with pytest.raises(ValueError, match="p_bound is a likelihood"):
        filter_predictions(poses, "kalman", p_bound=5)
    with pytest.raises(ValueError, match="windowlength must be a positive integer"):
        filter_predictions(poses, "median", windowlength=0)
    with pytest.raises(ValueError, match="measurement_noise must be positive"):
        filter_predictions(poses, "kalman", measurement_noise=-2.0)
    with pytest.raises(ValueError, match=r"shape \(n_frames, n_bodyparts, 3\)"):
        filter_predictions(poses[..., :2], "median")


# --------------------------------------------------------------------------- #
# the verb
# --------------------------------------------------------------------------- #


@pytest.fixture
def analysed(synthetic_copy):
    """(config, video, analysis h5): the synthetic video with hand-written predictions."""
    project = Project.open(synthetic_copy)
    video = project.video_path(project.video_stems()[0])
    scorer = f"DLC_resnet50_{project.task_date}shuffle1_1000"
    poses = make_poses()
    poses[60:63, 2, :2] = np.nan
    return synthetic_copy, video, write_analysis(video, scorer, poses, project.bodyparts)


def test_filterpredictions_writes_filtered_files_like_the_analysis(analysed, capsys):
    config, video, h5 = analysed
    report = filterpredictions(config, [video], filtertype="kalman")
    filtered = h5.with_name(f"{h5.stem}_filtered.h5")
    assert report.filtered == {video: filtered}
    assert report.csv == [filtered.with_suffix(".csv")] and filtered.with_suffix(".csv").is_file()
    before, after = read_poses(h5), read_poses(filtered)
    assert after.index.equals(before.index)
    assert after.columns.equals(before.columns) and after.columns.names == before.columns.names
    assert np.isfinite(after.to_numpy()[60:63]).all()  # the gap was filled
    with h5py.File(filtered, "r") as f:  # pandas' table format, DeepLabCut's key
        assert f["df_with_missing"].attrs["table_type"] in (b"appendable_frame", "appendable_frame")
    csv = read_poses(filtered.with_suffix(".csv"))
    assert np.allclose(csv.to_numpy(), after.to_numpy(), equal_nan=True)
    # a re-run skips a video already filtered, as DeepLabCut does ...
    capsys.readouterr()
    again = filterpredictions(config, video, filtertype="median")
    assert again.filtered == {} and again.skipped == {video: filtered}
    assert "already filtered" in capsys.readouterr().out
    assert np.allclose(read_poses(filtered).to_numpy(), after.to_numpy(), equal_nan=True)
    # ... and overwrite=True replaces it (here with another filter)
    with pytest.warns(UserWarning, match="earlier filterpredictions run"):  # the csv is now stale
        filterpredictions(config, video, filtertype="median", save_as_csv=False, overwrite=True)
    assert "(replaced)" in capsys.readouterr().out
    assert not np.allclose(read_poses(filtered).to_numpy(), after.to_numpy(), equal_nan=True)


def test_filterpredictions_without_analysis_says_to_analyze(synthetic_copy):
    video = Project.open(synthetic_copy).video_path("synthetic")
    with pytest.raises(FileNotFoundError, match=r"synthetic.*analyze_videos"):
        filterpredictions(synthetic_copy, [video])
    with pytest.raises(ValueError, match="Unknown filtertype"):
        filterpredictions(synthetic_copy, [video], filtertype="mean")
    with pytest.raises(ValueError, match=r"No video with suffix '\.avi'"):
        filterpredictions(synthetic_copy, [video], videotype="avi")
    with pytest.raises(ValueError, match="modelprefix='other' is not supported"):
        filterpredictions(synthetic_copy, [video], modelprefix="other")


def test_filtered_true_reads_the_filtered_file_and_uses_deeplabcuts_names(analysed):
    config, video, h5 = analysed
    with pytest.raises(FileNotFoundError, match="filterpredictions"):
        find_analysis_file(video, filtered=True)
    filterpredictions(config, [video], filtertype="spline", save_as_csv=False)
    assert find_analysis_file(video, filtered=True) == h5.with_name(f"{h5.stem}_filtered.h5")
    [labeled] = create_labeled_video(config, [video], filtered=True)
    assert labeled == video.parent / f"{h5.stem}filtered_labeled.mp4" and labeled.is_file()
    plots = plot_trajectories(config, [video], filtered=True)[video.stem]
    assert plots.analysis.name.endswith("_filtered.h5")
    assert sorted(p.name for p in plots.paths.values()) == [
        "hist_filtered.png", "plot-likelihood_filtered.png", "plot_filtered.png", "trajectory_filtered.png"]
    assert all(p.is_file() for p in plots.paths.values())
