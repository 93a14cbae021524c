"""The README's main job: the whole workflow on the synthetic project, with real numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from posekit.__main__ import demo


def test_demo_trains_evaluates_and_analyzes(tmp_path):
    # one step: the untrained network's error, for comparison
    untrained = demo(tmp_path, n_frames=300, numframes2pick=40, seed=0, maxiters=1)
    # 300 steps, resuming from snapshot-1 (about a minute on 2 CPU cores)
    trained = demo(tmp_path, n_frames=300, numframes2pick=40, seed=0, maxiters=300)
    # Measured with seed 0: train 3.97 px, test 3.80 px, video 3.85 px; untrained ~125 px.
    # The synthetic markers are 5 px wide, so 10 px means "on the right part", with
    # 2.5x margin for run-to-run variation.
    assert untrained["test_error"] > 40 and untrained["video_error"] > 40
    assert trained["test_error"] < 10 and trained["train_error"] < 10
    assert trained["video_error"] < 10
    assert trained["test_error"] < untrained["test_error"] / 4
    frame = pd.read_hdf(trained["analysis"])
    assert len(frame) == 300 and list(frame.index) == list(range(300))
    assert list(frame.columns.names) == ["scorer", "bodyparts", "coords"]
    assert np.isfinite(frame.to_numpy()).all()
    assert trained["labeled_video"].is_file()
