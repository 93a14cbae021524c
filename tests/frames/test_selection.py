"""Frame selection maths: ranges, uniform picks, downsampling, k-means picks."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.frames.selection import (
    downsample,
    frame_range,
    kmeans_indices,
    uniform_indices,
)


def test_frame_range_dlc_rules():
    assert frame_range(250, 0, 1) == (0, 250)
    assert frame_range(250, 0.1, 0.5) == (25, 125)
    assert frame_range(10, 0.25, 0.55) == (2, 6)  # floor start, ceil stop


def test_uniform_distinct_in_range_and_seeded():
    rng = np.random.default_rng(0)
    picked = uniform_indices(range(100, 200), 20, rng)
    assert len(set(picked)) == 20 and picked.min() >= 100 and picked.max() < 200
    assert np.all(np.diff(picked) > 0)
    again = uniform_indices(range(100, 200), 20, np.random.default_rng(0))
    assert np.array_equal(picked, again)
    assert list(uniform_indices([3, 1], 5, rng)) == [1, 3]


def test_downsample_nearest_gray_and_color():
    frame = np.zeros((40, 60, 3), np.uint8)
    frame[:, 30:] = (30, 60, 90)
    small = downsample(frame, 6)
    assert small.shape == (4, 6)
    assert np.allclose(small[:, :3], 0) and np.allclose(small[:, 3:], 60)
    colored = downsample(frame, 6, color=True)
    assert colored.shape == (4, 18)
    assert np.allclose(colored[:, 3:6], 30) and np.allclose(colored[:, 15:18], 90)
    with pytest.raises(ValueError, match="cluster_resizewidth=100"):
        downsample(frame, 100)


def test_kmeans_picks_one_frame_per_visual_cluster():
    rng = np.random.default_rng(0)
    # 3 visually distinct groups of 30 frames each
    groups = [np.full((5, 5), level, np.float32) for level in (0, 100, 200)]
    features, indices, group_of = [], [], {}
    for g, base in enumerate(groups):
        for k in range(30):
            idx = g * 1000 + k
            indices.append(idx)
            features.append(base + rng.normal(0, 1, base.shape))
            group_of[idx] = g
    picked = kmeans_indices(indices, features, 3, np.random.default_rng(1))
    assert sorted(group_of[i] for i in picked) == [0, 1, 2]
    again = kmeans_indices(indices, features, 3, np.random.default_rng(1))
    assert np.array_equal(picked, again)


def test_kmeans_fewer_candidates_than_wanted():
    picked = kmeans_indices([5, 2], [np.zeros(4), np.ones(4)], 10, np.random.default_rng(0))
    assert list(picked) == [2, 5]
