"""Tests for posekit.model.loss against hand-written TF-style reductions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posekit.model.loss import pose_loss, weighted_mean
from posekit.model.targets import make_targets


def _sigmoid_ce(logits, labels):
    p = 1 / (1 + np.exp(-logits))
    return -(labels * np.log(p) + (1 - labels) * np.log(1 - p))


def _huber(x):
    a = np.abs(x)
    return np.where(a <= 1.0, 0.5 * a**2, a - 0.5)


@pytest.fixture
def case():
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(0, 60, (2, 3, 2)).astype(np.float32)
    targets = make_targets(keypoints, (8, 8), visible=np.array([[1, 1, 0], [1, 0, 1]], bool))
    outputs = {
        "part_pred": rng.normal(0, 2, (2, 8, 8, 3)).astype(np.float32),
        "locref": rng.normal(0, 2, (2, 8, 8, 6)).astype(np.float32),
        "part_pred_interm": rng.normal(0, 2, (2, 8, 8, 3)).astype(np.float32),
    }
    return outputs, {k: np.asarray(v, np.float64) for k, v in targets.items()}


def test_matches_tf_reductions(case):
    outputs, targets = case
    total, parts = pose_loss(outputs, targets, locref_loss_weight=0.05)
    part = _sigmoid_ce(outputs["part_pred"].astype(np.float64),
                       targets["part_score_targets"]).mean()
    mask = targets["locref_mask"]
    huber = _huber(outputs["locref"] - targets["locref_targets"])
    locref = 0.05 * (huber * mask).sum() / np.count_nonzero(mask)
    interm = _sigmoid_ce(outputs["part_pred_interm"].astype(np.float64),
                         targets["part_score_targets"]).mean()
    np.testing.assert_allclose(parts["part_loss"], part, rtol=1e-5)
    np.testing.assert_allclose(parts["locref_loss"], locref, rtol=1e-5)
    np.testing.assert_allclose(parts["part_loss_interm"], interm, rtol=1e-5)
    np.testing.assert_allclose(total, part + locref + interm, rtol=1e-5)
    np.testing.assert_allclose(parts["total_loss"], total)


def test_squared_error_option(case):
    outputs, targets = case
    _, parts = pose_loss(outputs, targets, locref_loss_weight=1.0, locref_huber_loss=False)
    mask = targets["locref_mask"]
    squared = (outputs["locref"] - targets["locref_targets"]) ** 2
    want = (squared * mask).sum() / np.count_nonzero(mask)
    np.testing.assert_allclose(parts["locref_loss"], want, rtol=1e-5)


def test_optional_terms_follow_outputs(case):
    outputs, targets = case
    _, parts = pose_loss({"part_pred": outputs["part_pred"]}, targets)
    assert set(parts) == {"part_loss", "total_loss"}


def test_empty_mask_gives_zero_not_nan(case):
    outputs, targets = case
    targets = dict(targets, locref_mask=np.zeros_like(targets["locref_mask"]))
    _, parts = pose_loss(outputs, targets)
    assert float(parts["locref_loss"]) == 0.0


def test_score_weights_are_used(case):
    outputs, targets = case
    weights = np.zeros_like(targets["part_score_targets"])
    weights[..., 0] = 1.0
    _, parts = pose_loss(outputs, dict(targets, part_score_weights=weights))
    want = _sigmoid_ce(outputs["part_pred"][..., 0].astype(np.float64),
                       targets["part_score_targets"][..., 0]).mean()
    np.testing.assert_allclose(parts["part_loss"], want, rtol=1e-5)


def test_gradients_are_finite(case):
    outputs, targets = case
    grads = jax.grad(lambda o: pose_loss(o, targets)[0])(
        {k: jnp.asarray(v) for k, v in outputs.items()})
    assert all(np.isfinite(np.asarray(g)).all() for g in grads.values())


def test_weighted_mean():
    losses = jnp.array([1.0, 2.0, 3.0, 4.0])
    assert float(weighted_mean(losses, jnp.array([1.0, 0.0, 2.0, 0.0]))) == pytest.approx(3.5)
    assert float(weighted_mean(losses, jnp.zeros(4))) == 0.0
