"""Tests for posekit.model.targets against DeepLabCut's numpy loop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posekit.model.targets import make_targets, training_targets


def dlc_targets(joints, num_joints, size, scale, stride=8.0, pos_dist_thresh=17,
                locref_stdev=7.2801):
    """DeepLabCut 2.3 ``compute_target_part_scoremap_numpy`` (one image, loops).

    ``joints``: rows ``(joint_id, x, y)`` of the visible joints.
    """
    dist_thresh = float(pos_dist_thresh * scale)
    dist_thresh_sq = dist_thresh**2
    half_stride = stride / 2
    height, width = size
    scmap = np.zeros((height, width, num_joints))
    locref_mask = np.zeros((height, width, num_joints * 2))
    locref_map = np.zeros((height, width, num_joints * 2))
    grid = np.mgrid[:height, :width].transpose((1, 2, 0))
    for joint, j_x, j_y in joints:
        j_id = int(joint)
        j_x_sm = round((j_x - half_stride) / stride)
        j_y_sm = round((j_y - half_stride) / stride)
        min_x = round(max(j_x_sm - dist_thresh - 1, 0))
        max_x = round(min(j_x_sm + dist_thresh + 1, width - 1))
        min_y = round(max(j_y_sm - dist_thresh - 1, 0))
        max_y = round(min(j_y_sm + dist_thresh + 1, height - 1))
        x = grid[:, :, 1]
        y = grid[:, :, 0]
        dx = j_x - x * stride - half_stride
        dy = j_y - y * stride - half_stride
        mask = ((dx**2 + dy**2 <= dist_thresh_sq) & (x >= min_x) & (x <= max_x)
                & (y >= min_y) & (y <= max_y))
        scmap[mask, j_id] = 1
        locref_mask[mask, j_id * 2 + 0] = 1
        locref_mask[mask, j_id * 2 + 1] = 1
        locref_map[mask, j_id * 2 + 0] = (dx / locref_stdev)[mask]
        locref_map[mask, j_id * 2 + 1] = (dy / locref_stdev)[mask]
    return scmap, locref_map, locref_mask


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    # inside the 14 x 16 map at stride 8 (112 x 128 px)
    keypoints = rng.uniform(0, 1, (3, 5, 2)) * np.array([128, 112])
    keypoints = keypoints.astype(np.float32)
    visible = rng.uniform(size=(3, 5)) > 0.25
    keypoints[0, 1] = np.nan  # a missing label
    visible[0, 1] = True      # NaN must win over the flag
    scale = np.array([1.0, 0.8, 0.55], np.float32)
    return keypoints, visible, scale


def test_matches_deeplabcut_loop(batch):
    keypoints, visible, scale = batch
    map_shape = (14, 16)
    got = make_targets(keypoints, map_shape, visible=visible, scale=scale)
    for b in range(keypoints.shape[0]):
        joints = [(j, *keypoints[b, j]) for j in range(5)
                  if visible[b, j] and np.isfinite(keypoints[b, j]).all()]
        scmap, locref, mask = dlc_targets(joints, 5, map_shape, float(scale[b]))
        np.testing.assert_array_equal(got["part_score_targets"][b], scmap)
        np.testing.assert_array_equal(got["locref_mask"][b], mask)
        np.testing.assert_allclose(got["locref_targets"][b], locref, atol=1e-5)
    assert np.all(np.asarray(got["part_score_weights"]) == 1)
    assert np.isfinite(np.asarray(got["locref_targets"])).all()


def test_shapes_dtypes_and_jit(batch):
    keypoints, visible, scale = batch
    fn = jax.jit(lambda k, v, s: make_targets(k, (6, 7), visible=v, scale=s, stride=16.0))
    out = fn(keypoints, visible, scale)
    assert out["part_score_targets"].shape == (3, 6, 7, 5)
    assert out["locref_targets"].shape == out["locref_mask"].shape == (3, 6, 7, 10)
    assert all(v.dtype == np.float32 for v in out.values())


def test_invisible_joints_are_all_negative(batch):
    keypoints, visible, scale = batch
    out = make_targets(keypoints, (14, 16), visible=visible, scale=scale)
    scores = np.asarray(out["part_score_targets"])
    mask = np.asarray(out["locref_mask"]).reshape(3, 14, 16, 5, 2)
    hidden = ~visible | ~np.isfinite(keypoints).all(-1)
    for b, j in zip(*np.nonzero(hidden), strict=True):
        assert scores[b, :, :, j].sum() == 0 and mask[b, :, :, j].sum() == 0
    for b, j in zip(*np.nonzero(~hidden), strict=True):
        assert scores[b, :, :, j].sum() > 0


def test_default_visibility_is_finite_coordinates():
    keypoints = np.array([[[20.0, 30.0], [np.nan, np.nan]]], np.float32)
    out = make_targets(keypoints, (8, 8))
    sums = np.asarray(out["part_score_targets"]).sum(axis=(0, 1, 2))
    assert sums[0] > 0 and sums[1] == 0


def test_disk_radius_and_locref_values():
    # a joint exactly on the centre of cell (r=2, c=3): (3*8+4, 2*8+4)
    keypoints = np.array([[[28.0, 20.0]]], np.float32)
    out = make_targets(keypoints, (8, 8), pos_dist_thresh=8.0)
    scores = np.asarray(out["part_score_targets"])[0, :, :, 0]
    # radius 8 px = exactly one cell: the centre and its 4 neighbours
    assert scores.sum() == 5 and scores[2, 3] == 1 and scores[2, 4] == 1
    locref = np.asarray(out["locref_targets"])[0]
    np.testing.assert_allclose(locref[2, 4], [-8 / 7.2801, 0.0], rtol=1e-6)
    np.testing.assert_allclose(locref[1, 3], [0.0, 8 / 7.2801], rtol=1e-6)


def test_weigh_only_present_joints(batch):
    keypoints, visible, _scale = batch
    out = make_targets(keypoints, (5, 5), visible=visible,
                       weigh_only_present_joints=True)
    weights = np.asarray(out["part_score_weights"])
    present = visible & np.isfinite(keypoints).all(-1)
    np.testing.assert_array_equal(weights[:, 0, 0, :], present.astype(np.float32))


def test_bad_keypoint_shape():
    with pytest.raises(ValueError, match=r"\(B, J, 2\)"):
        make_targets(np.zeros((4, 2)), (8, 8))


def test_training_targets_disk_follows_the_scale_only_in_deeplabcut2_configs():
    kp = jnp.array([[[100.0, 100.0]]])
    vis = jnp.ones((1, 1), bool)
    cfg = {"pos_dist_thresh": 17, "locref_stdev": 7.2801}
    # DeepLabCut 2 (files without the key): radius 17 * 0.5; DeepLabCut 3: 17 crop pixels whatever the scale
    dlc2 = training_targets(kp, vis, jnp.array([0.5]), (32, 32), 8.0, cfg)
    dlc3 = training_targets(kp, vis, jnp.array([0.5]), (32, 32), 8.0, {**cfg, "pos_dist_scaled": False})
    unscaled = make_targets(kp, (32, 32), pos_dist_thresh=17.0)
    half = make_targets(kp, (32, 32), pos_dist_thresh=8.5)
    assert int(dlc3["part_score_targets"].sum()) == int(unscaled["part_score_targets"].sum())
    assert int(dlc2["part_score_targets"].sum()) == int(half["part_score_targets"].sum())
    assert int(dlc2["part_score_targets"].sum()) < int(dlc3["part_score_targets"].sum())
