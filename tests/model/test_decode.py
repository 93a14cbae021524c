"""Tests for posekit.model.decode: DeepLabCut's argmax + locref decoding."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from posekit.model.decode import decode_pose
from posekit.model.targets import make_targets


def dlc_argmax_pose_predict(scmap, offmat, stride):
    """DeepLabCut's per-joint loop (one image; probabilities, offsets in px)."""
    num_joints = scmap.shape[2]
    pose = []
    for joint_idx in range(num_joints):
        maxloc = np.unravel_index(np.argmax(scmap[:, :, joint_idx]), scmap[:, :, joint_idx].shape)
        offset = np.array(offmat)[maxloc][joint_idx][::-1]
        pos_f8 = np.array(maxloc).astype("float") * stride + 0.5 * stride + offset
        pose.append(np.hstack((pos_f8[::-1], [scmap[maxloc][joint_idx]])))
    return np.array(pose)


def _round_trip_maps(keypoints, map_shape, stride=8.0, **kw):
    targets = make_targets(keypoints, map_shape, stride=stride, **kw)
    logits = np.where(np.asarray(targets["part_score_targets"]) > 0, 6.0, -6.0)
    return logits.astype(np.float32), targets["locref_targets"]


@pytest.mark.parametrize("stride", [8.0, 4.0])
def test_targets_decode_back_to_keypoints(stride):
    rng = np.random.default_rng(0)
    batch, joints, map_shape = 4, 6, (12, 15)
    keypoints = np.stack([
        rng.uniform(0, map_shape[1] * stride, (batch, joints)),
        rng.uniform(0, map_shape[0] * stride, (batch, joints)),
    ], axis=-1).astype(np.float32)
    logits, locref = _round_trip_maps(keypoints, map_shape, stride=stride)
    pose = np.asarray(decode_pose(logits, locref, stride=stride))
    assert pose.shape == (batch, joints, 3)
    assert np.max(np.abs(pose[..., :2] - keypoints)) < 0.5
    assert np.max(np.abs(pose[..., :2] - keypoints)) < 1e-3  # exact, in fact
    np.testing.assert_allclose(pose[..., 2], 1 / (1 + np.exp(-6.0)), rtol=1e-6)


def test_matches_deeplabcut_loop_on_random_maps():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (3, 9, 11, 4)).astype(np.float32)
    locref = rng.normal(0, 1, (3, 9, 11, 8)).astype(np.float32)
    pose = np.asarray(decode_pose(logits, locref, stride=8.0, locref_stdev=7.2801))
    for b in range(3):
        probs = 1 / (1 + np.exp(-logits[b].astype(np.float64)))
        offmat = locref[b].reshape(9, 11, 4, 2) * 7.2801
        want = dlc_argmax_pose_predict(probs, offmat, 8.0)
        np.testing.assert_allclose(pose[b], want, rtol=1e-5, atol=1e-4)


def test_without_locref_returns_cell_centres():
    logits = np.full((1, 4, 5, 2), -5.0, np.float32)
    logits[0, 2, 3, 0] = 4.0
    logits[0, 0, 0, 1] = 1.0
    pose = np.asarray(decode_pose(logits, None, stride=8.0))
    np.testing.assert_allclose(pose[0, :, :2], [[28.0, 20.0], [4.0, 4.0]])


def test_ties_take_the_first_maximum_like_numpy():
    logits = np.zeros((1, 3, 3, 1), np.float32)
    logits[0, 1, 2, 0] = logits[0, 2, 0, 0] = 1.0
    pose = np.asarray(decode_pose(logits, stride=8.0))
    np.testing.assert_allclose(pose[0, 0, :2], [2 * 8 + 4, 1 * 8 + 4])


def test_is_jittable_inside_another_function():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(2, 5, 5, 3)).astype(np.float32)
    locref = rng.normal(size=(2, 5, 5, 6)).astype(np.float32)
    fn = jax.jit(lambda a, b: decode_pose(a, b, stride=8.0) * 2)
    np.testing.assert_allclose(fn(logits, locref), 2 * np.asarray(decode_pose(logits, locref)),
                               rtol=1e-6)
