"""Tests for posekit.model.pose_net and posekit.model.heads."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posekit.model.decode import make_predict_fn
from posekit.model.heads import PredictionHead
from posekit.model.pose_net import (
    MEAN_PIXEL,
    PoseNet,
    init_pose_net,
    output_map_shape,
    pose_net_from_cfg,
    preprocess,
    replace_backbone,
)


def _tiny(**kw):
    kw.setdefault("num_joints", 3)
    kw.setdefault("net_type", "resnet_18")
    return PoseNet(backbone_features=4, **kw)


def _abstract_outputs(model, shape, dtype=jnp.float32):
    x = jax.ShapeDtypeStruct(shape, dtype)
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    return variables, jax.eval_shape(model.apply, variables, x)


def _count(tree) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(tree))


# ------------------------------------------------------------ real networks


@pytest.mark.parametrize("net_type,backbone_params", [
    ("resnet_18", 11_176_512),  # torchvision resnet18 minus fc (11_689_512 - 513_000)
    ("resnet_50", 23_508_032),  # torchvision resnet50 minus fc (25_557_032 - 2_049_000)
])
def test_real_network_forward_64x64(net_type, backbone_params):
    model, variables = init_pose_net(jax.random.key(0), PoseNet(num_joints=5, net_type=net_type))
    assert _count(variables["params"]["backbone"]) == backbone_params
    images = np.random.default_rng(0).integers(0, 256, (1, 64, 64, 3), np.uint8)
    out = jax.jit(model.apply)(variables, images)
    assert out["part_pred"].shape == (1, 8, 8, 5)
    assert out["locref"].shape == (1, 8, 8, 10)
    assert all(v.dtype == jnp.float32 and np.isfinite(v).all() for v in out.values())


def test_real_resnet_50_heads_read_2048_channels():
    variables, _ = _abstract_outputs(PoseNet(num_joints=4), (1, 64, 64, 3))
    assert variables["params"]["part_pred"]["kernel"].shape == (3, 3, 4, 2048)
    assert variables["params"]["locref_pred"]["kernel"].shape == (3, 3, 8, 2048)


# ------------------------------------------------------------ shapes


@pytest.mark.parametrize("output_stride", [8, 16, 32])
@pytest.mark.parametrize("size", [(64, 64), (50, 70), (37, 81)])
def test_output_map_shape(output_stride, size):
    model = _tiny(output_stride=output_stride)
    _, out = _abstract_outputs(model, (2, *size, 3))
    h, w = output_map_shape(*size, output_stride)
    assert (h, w) == (2 * -(-size[0] // output_stride), 2 * -(-size[1] // output_stride))
    assert out["part_pred"].shape == (2, h, w, 3)
    assert out["locref"].shape == (2, h, w, 6)
    assert model.stride == output_stride / 2


def test_640x480_dlc_sizes():
    assert output_map_shape(480, 640) == (60, 80)


def test_intermediate_supervision_head():
    model = _tiny(intermediate_supervision=True, intermediate_supervision_layer=2)
    variables, out = _abstract_outputs(model, (1, 48, 64, 3))
    assert out["part_pred_interm"].shape == out["part_pred"].shape == (1, 6, 8, 3)
    # reads layer3 (4 * 4 = 16 channels with backbone_features=4)
    assert variables["params"]["intermediate_supervision"]["kernel"].shape == (3, 3, 3, 16)


def test_intermediate_supervision_layer_must_exist():
    with pytest.raises(ValueError, match=r"1\.\.6 for resnet_50.*default 12"):
        PoseNet(num_joints=2, intermediate_supervision=True)
    PoseNet(num_joints=2, net_type="resnet_101", intermediate_supervision=True)
    with pytest.raises(ValueError, match="output_stride 16 or 8"):
        PoseNet(num_joints=2, net_type="resnet_101", output_stride=32,
                intermediate_supervision=True)


def test_location_refinement_off():
    _, out = _abstract_outputs(_tiny(location_refinement=False), (1, 32, 32, 3))
    assert set(out) == {"part_pred"}


def test_invalid_attributes():
    with pytest.raises(ValueError, match="num_joints"):
        PoseNet(num_joints=0)
    with pytest.raises(ValueError, match="not supported"):
        PoseNet(num_joints=2, net_type="efficientnet-b0")
    with pytest.raises(ValueError, match="output_stride"):
        PoseNet(num_joints=2, output_stride=4)


# ------------------------------------------------------------ pose_cfg


def test_pose_net_from_cfg():
    cfg = {"num_joints": 4, "net_type": "resnet_101", "stride": 4.0,
           "intermediate_supervision": True, "intermediate_supervision_layer": 12,
           "location_refinement": True, "mean_pixel": [1, 2, 3]}
    model = pose_net_from_cfg(cfg, dtype=jnp.bfloat16)
    assert (model.num_joints, model.net_type, model.output_stride) == (4, "resnet_101", 8)
    assert model.intermediate_supervision and model.intermediate_supervision_layer == 12
    assert model.mean_pixel == (1.0, 2.0, 3.0) and model.dtype == jnp.bfloat16
    default = pose_net_from_cfg({"num_joints": 2})
    assert (default.net_type, default.output_stride, default.mean_pixel) == (
        "resnet_50", 16, MEAN_PIXEL)
    with pytest.raises(ValueError, match="num_joints"):
        pose_net_from_cfg({})
    with pytest.raises(ValueError, match="'stride' must be 4, 8 or 16"):
        pose_net_from_cfg({"num_joints": 2, "stride": 5})


# ------------------------------------------------------------ preprocessing


def test_preprocess_subtracts_mean_pixel():
    images = np.random.default_rng(0).integers(0, 256, (2, 5, 6, 3), np.uint8)
    got = np.asarray(preprocess(images))
    np.testing.assert_allclose(got, images.astype(np.float32) - np.float32(MEAN_PIXEL), rtol=1e-6)
    np.testing.assert_array_equal(got, preprocess(images.astype(np.float32)))
    with pytest.raises(ValueError, match="RGB"):
        preprocess(np.zeros((1, 4, 4, 1)))


@pytest.fixture(scope="module")
def tiny_net():
    return init_pose_net(jax.random.key(1), _tiny(), (1, 32, 32, 3))


def test_normalisation_happens_inside_the_network(tiny_net):
    model, variables = tiny_net
    images = np.random.default_rng(1).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    centred = _tiny(mean_pixel=(0.0, 0.0, 0.0))
    a = jax.jit(model.apply)(variables, images)
    b = jax.jit(centred.apply)(variables, images - np.float32(MEAN_PIXEL))
    np.testing.assert_allclose(a["part_pred"], b["part_pred"], rtol=1e-4, atol=1e-4)


def test_batch_norm_frozen_or_trained(tiny_net):
    model, variables = tiny_net
    images = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    apply = jax.jit(lambda v, x, frozen: model.apply(
        v, x, use_running_average=frozen, mutable=["batch_stats"]), static_argnums=2)
    old = variables["batch_stats"]["backbone"]["bn1"]["mean"]
    _, trained = apply(variables, images, False)
    assert not np.allclose(trained["batch_stats"]["backbone"]["bn1"]["mean"], old)
    _, frozen = apply(variables, images, True)
    np.testing.assert_array_equal(frozen["batch_stats"]["backbone"]["bn1"]["mean"], old)


def test_init_is_deterministic(tiny_net):
    model, variables = tiny_net
    _, again = init_pose_net(jax.random.key(1), model, (1, 32, 32, 3))
    np.testing.assert_array_equal(variables["params"]["part_pred"]["kernel"],
                                  again["params"]["part_pred"]["kernel"])
    _, other = init_pose_net(jax.random.key(2), model, (1, 32, 32, 3))
    assert not np.allclose(variables["params"]["part_pred"]["kernel"],
                           other["params"]["part_pred"]["kernel"])
    assert np.all(variables["params"]["part_pred"]["bias"] == 0)
    assert np.all(variables["batch_stats"]["backbone"]["bn1"]["var"] == 1)


def test_predict_fn_compiles_once_per_shape(tiny_net):
    model, variables = tiny_net
    predict = make_predict_fn(model)
    images = np.zeros((2, 32, 48, 3), np.uint8)
    pose = predict(variables, images)
    predict(variables, images + 1)
    assert pose.shape == (2, 3, 3)
    assert predict._cache_size() == 1
    likelihood = np.asarray(pose)[..., 2]
    assert np.all((likelihood >= 0) & (likelihood <= 1))


@pytest.mark.parametrize("frames", [8, 7])  # a whole number of pieces, and a padded last one
def test_predict_fn_in_pieces_equals_whole_batch(tiny_net, frames):
    model, variables = tiny_net
    images = np.random.default_rng(0).integers(0, 256, (frames, 32, 48, 3), dtype=np.uint8)
    whole = make_predict_fn(model)(variables, images)
    pieces = make_predict_fn(model, max_run_frames=3)(variables, images)
    assert pieces.shape == whole.shape == (frames, 3, 3)
    # other batch shapes round differently: within a thousandth of a pixel
    np.testing.assert_allclose(pieces, whole, rtol=1e-5, atol=1e-3)


def test_replace_backbone_checks_layout(tiny_net):
    _, variables = tiny_net
    backbone = {k: v["backbone"] for k, v in variables.items()}
    same = replace_backbone(variables, backbone)
    assert same["params"]["part_pred"] is variables["params"]["part_pred"]

    params = jax.tree_util.tree_map(lambda a: a, backbone["params"])
    del params["layer2"]["1"]["conv2"]
    params["layer9"] = {"kernel": np.zeros(3)}
    params["conv1"]["kernel"] = np.zeros((7, 7, 3, 5), np.float32)
    with pytest.raises(ValueError) as info:
        replace_backbone(variables, dict(backbone, params=params))
    message = str(info.value)
    assert message.startswith("params/backbone does not fit the model")
    assert "missing layer2/1/conv2/kernel" in message
    assert "unexpected layer9/kernel" in message
    assert "conv1/kernel: shape (7, 7, 3, 5) != expected (7, 7, 3, 4)" in message
    with pytest.raises(ValueError, match="no 'batch_stats' collection"):
        replace_backbone(variables, {"params": backbone["params"]})


# ------------------------------------------------------------ heads


def test_head_is_tensorflow_conv2d_transpose():
    """conv2d_transpose(x, k) == gradient of conv2d(SAME, stride 2) w.r.t. its input."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 5, 7, 6)).astype(np.float32)
    head = PredictionHead(4)
    variables = head.init(jax.random.key(0), x)
    kernel = variables["params"]["kernel"]  # (3, 3, out=4, in=6): TF layout
    assert kernel.shape == (3, 3, 4, 6)
    variables = {"params": {"kernel": kernel, "bias": jnp.zeros(4)}}

    def conv(y):  # the forward convolution: out=4 channels in, 6 out
        return jax.lax.conv_general_dilated(
            y, kernel, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    _, vjp = jax.vjp(conv, jnp.zeros((1, 10, 14, 4)))
    (want,) = vjp(jnp.asarray(x))
    got = head.apply(variables, x)
    assert got.shape == (1, 10, 14, 4)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_docstring_examples():
    import doctest

    from posekit.model import decode, pose_net, targets

    for module in (decode, pose_net, targets):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
