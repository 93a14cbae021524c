"""The outlier detectors as pure functions of (n, J, 3) arrays, checked with numbers."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.refine import outliers
from posekit.refine.outliers import (
    detect_outliers,
    fit_arma,
    fitting_deviations,
    jump_scores,
    select_bodyparts,
    uncertain_scores,
)
from tests.refine.conftest import GLITCHES, LOW, make_poses


def test_uncertain_finds_exactly_the_low_likelihood_stretch():
    poses = make_poses()
    scores = uncertain_scores(poses, p_bound=0.01)
    assert scores.candidates.tolist() == list(LOW)
    assert scores.score[LOW[0]] == pytest.approx(0.001) and scores.score[0] == pytest.approx(0.9)
    assert scores.below and scores.threshold == 0.01
    # comparing body parts other than tailtip: nothing is uncertain
    assert uncertain_scores(poses[:, :6], 0.01).candidates.size == 0
    # NaN likelihoods are never "below" (pandas' lt)
    poses[3, 2, 2] = np.nan
    assert 3 not in uncertain_scores(poses, 0.01).candidates


def test_jump_flags_the_glitch_and_the_return_only():
    poses = make_poses()
    scores = jump_scores(poses, epsilon=20)
    expected = sorted(list(GLITCHES) + [g + 1 for g in GLITCHES])
    assert scores.candidates.tolist() == expected
    assert scores.score[0] == 0.0  # the first frame is never a jump
    assert scores.score[GLITCHES[0]] == pytest.approx(80, abs=3)


def test_jump_threshold_is_strict_and_nan_axes_count_as_still():
    poses = np.zeros((4, 1, 3))
    poses[:, 0, 2] = 1
    poses[1, 0, :2] = (3.0, 4.0)  # exactly 5 px
    poses[2, 0, :2] = (np.nan, 10.0)  # y moves 6 px, x unknown
    poses[3, 0, :2] = np.nan
    scores = jump_scores(poses, epsilon=5)
    assert scores.candidates.tolist() == [2]  # 5 px is not more than 5; NaN x ignored
    assert scores.score.tolist() == pytest.approx([0, 5, 6, 0])


def test_fitting_finds_the_glitches():
    poses = make_poses()[:, [4, 6]]  # spine and tailtip: 4 fits keep the test short
    scores = detect_outliers(poses, "fitting", epsilon=20, p_bound=0.01)
    assert set(GLITCHES) <= set(scores.candidates.tolist())
    # the uncertain tailtip stretch is missing data, not an outlier
    assert not set(LOW) & set(scores.candidates.tolist())
    # x of every part falls outside its prediction interval, y (not moved) inside
    assert scores.significant is not None and scores.significant[GLITCHES[0]] == 0.5
    clean = poses[:, :1].copy()
    clean[list(GLITCHES), :, 0] += 80
    distance, _ = outliers.fitting_deviations(clean)
    assert np.nanmedian(distance) < 1.5  # one-step predictions track the moving animal


def test_fitting_n_min_takes_the_largest_deviations_never_nan():
    poses = make_poses()[:, :2]
    poses[100:, :, :2] = np.nan  # no observation: NaN deviation
    scores = detect_outliers(poses, "fitting", epsilon=1000, n_min=6)
    assert len(scores.candidates) == 6
    assert set(GLITCHES) <= set(scores.candidates.tolist())
    assert np.isfinite(scores.score[scores.candidates]).all()


def test_fit_arma_needs_eleven_points_and_handles_missing_data():
    short = np.full(50, np.nan)
    short[:10] = np.arange(10.0)
    mean, interval = fit_arma(short)
    assert np.isnan(mean).all() and interval.shape == (50, 2)
    t = np.arange(200.0)
    series = 100 + 20 * np.sin(t / 9)
    series[60:70] = np.nan
    mean, interval = fit_arma(series)
    assert np.isfinite(mean).all()  # predicted through the gap
    assert np.abs(mean[5:] - (100 + 20 * np.sin(t[5:] / 9)))[~np.isnan(series[5:])].max() < 2
    assert (interval[:, 0] <= mean).all() and (mean <= interval[:, 1]).all()


@pytest.mark.slow  # starting "spawn" workers costs ~10 s on a busy 2-core machine
def test_fitting_in_worker_processes_matches_serial(monkeypatch):
    poses = make_poses(n=150)[:, :1]
    serial, _ = fitting_deviations(poses, n_jobs=1)
    monkeypatch.setattr(outliers, "PARALLEL_MIN_WORK", 0)
    parallel, _ = fitting_deviations(poses, n_jobs=2)
    np.testing.assert_allclose(parallel, serial, rtol=1e-10)


def test_unknown_algorithm_and_bodypart_are_clear_errors():
    with pytest.raises(ValueError, match=r"outlieralgorithm='jumps' is not known.*'uncertain'.*'jump'.*'fitting'"):
        detect_outliers(make_poses(), "jumps")
    with pytest.raises(ValueError, match=r"\['nose'\] not among.*'snout'"):
        select_bodyparts(["snout", "tailbase"], ["snout", "nose"])
    with pytest.raises(ValueError, match="at least one"):
        select_bodyparts(["snout"], [])
    assert select_bodyparts(["snout", "tailbase"], "all") == [0, 1]
    assert select_bodyparts(["snout", "tailbase"], "tailbase") == [1]
    with pytest.raises(ValueError, match="shape"):
        detect_outliers(np.zeros((5, 2)), "jump")
