"""pose_cfg ``compute_dtype``: bfloat16 mixed precision for the JAX network (training and inference)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posekit.model.decode import make_predict_fn
from posekit.model.pose_net import init_pose_net, pose_net_from_cfg

CFG = {"num_joints": 3, "net_type": "resnet_18", "backbone_features": 8, "stride": 8}


def test_bfloat16_computes_in_bfloat16_and_keeps_float32_parameters_and_outputs():
    fp32 = pose_net_from_cfg(CFG)
    bf16 = pose_net_from_cfg({**CFG, "compute_dtype": "bfloat16"})
    assert fp32.dtype == jnp.float32 and bf16.dtype == jnp.bfloat16
    _, variables = init_pose_net(jax.random.PRNGKey(0), fp32, (1, 64, 64, 3))
    _, bf16_variables = init_pose_net(jax.random.PRNGKey(0), bf16, (1, 64, 64, 3))
    # same parameter tree, float32 in both: a snapshot serves either precision
    assert jax.tree_util.tree_structure(variables) == jax.tree_util.tree_structure(bf16_variables)
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(bf16_variables)} == {jnp.dtype(jnp.float32)}
    images = jnp.asarray(np.random.default_rng(0).integers(0, 255, (2, 64, 96, 3)), jnp.uint8)
    out32 = fp32.apply(variables, images, use_running_average=True)
    out16 = bf16.apply(variables, images, use_running_average=True)
    for key in ("part_pred", "locref"):
        assert out16[key].shape == out32[key].shape and out16[key].dtype == jnp.float32
    # the convolutions really ran in bfloat16 (8 mantissa bits): close to float32, not equal
    logits32, logits16 = np.asarray(out32["part_pred"]), np.asarray(out16["part_pred"])
    relative = np.abs(logits16 - logits32).max() / np.abs(logits32).max()
    assert 0 < relative < 0.1
    jaxpr = str(jax.make_jaxpr(lambda v, x: bf16.apply(v, x, use_running_average=True))(variables, images))
    assert "bf16" in jaxpr
    poses = make_predict_fn(bf16)(variables, images)
    assert poses.shape == (2, 3, 3) and poses.dtype == jnp.float32


def test_bad_compute_dtype_names_the_key_and_the_choices():
    with pytest.raises(ValueError, match=r"pose_cfg 'compute_dtype' must be one of \['bfloat16', 'float32'\], "
                                         r"got 'float16'; set it in the shuffle's train/pose_cfg.yaml"):
        pose_net_from_cfg({**CFG, "compute_dtype": "float16"})
