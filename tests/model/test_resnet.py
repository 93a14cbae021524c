"""Tests for posekit.model.resnet and posekit.model.initializers (tiny networks)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posekit.model.initializers import glorot_uniform, kaiming_normal_fan_out
from posekit.model.resnet import ResNet, layer_dilations, resnet


def _tiny(block="basic", output_stride=32, layers=(1, 1, 1, 1)):
    return ResNet(block=block, stage_sizes=layers, base_features=8, output_stride=output_stride)


def _abstract_features(model, shape):
    x = jax.ShapeDtypeStruct(shape, jnp.float32)
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    return variables, jax.eval_shape(model.apply, variables, x)


@pytest.mark.parametrize("block,expansion", [("basic", 1), ("bottleneck", 4)])
@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_feature_shapes(block, expansion, output_stride):
    _, feats = _abstract_features(_tiny(block, output_stride, (1, 2, 1, 1)), (2, 50, 70, 3))
    assert feats["stem"].shape == (2, 13, 18, 8)
    strides = {"layer1": 4, "layer2": 8, "layer3": min(16, output_stride),
               "layer4": output_stride}
    for index, (name, stride) in enumerate(strides.items()):
        channels = 8 * 2**index * expansion
        want = (2, math.ceil(50 / stride), math.ceil(70 / stride), channels)
        assert feats[name].shape == want, name
    assert feats["layer2.0"].shape == feats["layer2.1"].shape == feats["layer2"].shape


def test_parameter_tree_mirrors_torchvision_names():
    variables, _ = _abstract_features(_tiny("bottleneck"), (1, 32, 32, 3))
    params, stats = variables["params"], variables["batch_stats"]
    assert set(params) == {"conv1", "bn1", "layer1", "layer2", "layer3", "layer4"}
    block = params["layer1"]["0"]
    assert set(block) == {"conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "downsample"}
    assert params["layer2"]["0"]["downsample"]["0"]["kernel"].shape == (1, 1, 32, 64)
    assert set(params["layer2"]["0"]["downsample"]["1"]) == {"scale", "bias"}
    assert set(stats["layer2"]["0"]["downsample"]["1"]) == {"mean", "var"}
    basic, _ = _abstract_features(_tiny("basic"), (1, 32, 32, 3))
    assert "downsample" not in basic["params"]["layer1"]["0"]  # 8 -> 8, stride 1
    assert "downsample" in basic["params"]["layer2"]["0"]


def test_layer_dilations():
    assert layer_dilations(16) == ((1, 1), (2, 1), (2, 1), (1, 2))
    assert layer_dilations(8) == ((1, 1), (2, 1), (1, 2), (1, 4))
    with pytest.raises(ValueError, match="output_stride must be 8, 16 or 32"):
        layer_dilations(4)


def test_unknown_net_type():
    with pytest.raises(ValueError, match=r"mobilenet_v2_1\.0.*not supported.*resnet_50"):
        resnet("mobilenet_v2_1.0")


# ------------------------------------------------------------------ initializers


def test_kaiming_fan_out_statistics_and_determinism():
    shape = (3, 3, 64, 128)
    key = jax.random.key(3)
    a = np.asarray(kaiming_normal_fan_out(key, shape))
    assert a.shape == shape and a.dtype == np.float32
    assert a.std() == pytest.approx(math.sqrt(2 / (9 * 128)), rel=0.02)
    np.testing.assert_array_equal(a, jax.jit(kaiming_normal_fan_out, static_argnums=1)(key, shape))
    b = np.asarray(kaiming_normal_fan_out(jax.random.key(4), shape))
    assert not np.allclose(a, b)
    legacy = np.asarray(kaiming_normal_fan_out(jax.random.PRNGKey(3), shape))
    assert legacy.shape == shape


def test_glorot_uniform_limits():
    shape = (3, 3, 10, 512)
    values = np.asarray(glorot_uniform(jax.random.key(0), shape, jnp.float32))
    limit = math.sqrt(6 / (9 * (10 + 512)))
    assert np.abs(values).max() <= limit
    assert np.abs(values).max() > 0.95 * limit
