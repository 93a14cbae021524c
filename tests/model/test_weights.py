"""Tests for posekit.model.weights: torchvision conversion and init_weights resolution."""

from __future__ import annotations

import dataclasses
import functools
import json
import urllib.error

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posekit.model import weights as weights_mod
from posekit.model.pose_net import PoseNet, init_pose_net
from posekit.model.resnet import NET_TYPES, ResNet, resnet
from posekit.model.safetensors_io import write_safetensors
from posekit.model.weights import (
    TORCHVISION_PIXEL_STD,
    imagenet_weights_path,
    load_torchvision_resnet,
    resolve_init_weights,
    torchvision_resnet_shapes,
)
from posekit.utils.atomic import atomic_path
from tests.model import torch_reference as ref

RESNET18 = ("basic", (2, 2, 2, 2))


def _relative_error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def _nhwc_to_nchw(x):
    return np.transpose(np.asarray(x), (0, 3, 1, 2))


def _lazy_state_dict(block, layers, **kw):
    """Zero-memory arrays with torchvision's keys and shapes (for key checks)."""
    return {k: np.broadcast_to(np.float32(0), s)
            for k, s in ref.state_dict_shapes(block, layers, **kw).items()}


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """Random resnet-18 weights under torchvision's real key names, as safetensors."""
    state = ref.random_state_dict(ref.state_dict_shapes(*RESNET18), seed=1)
    path = tmp_path_factory.mktemp("weights") / "resnet18.safetensors"
    write_safetensors(path, state)
    return path, state


@functools.cache
def _features_fn(backbone: ResNet):
    return jax.jit(lambda v, x: backbone.apply(v, x, use_running_average=True))


# -------------------------------------------------------------------- layout


@pytest.mark.parametrize("net_type", list(NET_TYPES))
def test_expected_keys_and_shapes_are_torchvision_s(net_type):
    want = {k: s for k, s in ref.state_dict_shapes(*NET_TYPES[net_type]).items()
            if not k.startswith("fc.") and not k.endswith("num_batches_tracked")}
    assert torchvision_resnet_shapes(net_type) == want


# ------------------------------------------------------------------ numerics


def test_resnet18_matches_numpy_torchvision(resnet18_file):
    path, state = resnet18_file
    variables = load_torchvision_resnet(path, "resnet_18", pixel_std=None)
    x = np.random.default_rng(0).normal(0, 1, (1, 32, 32, 3)).astype(np.float32)
    feats = _features_fn(resnet("resnet_18"))(variables, x)
    want = ref.resnet_features(state, _nhwc_to_nchw(x), *RESNET18)
    for name in ("stem", "layer1", "layer2", "layer3", "layer4"):
        got = _nhwc_to_nchw(feats[name])
        assert got.shape == want[name].shape, name
        assert _relative_error(got, want[name]) < 1e-3, name


def test_pixel_std_is_folded_into_conv1(resnet18_file):
    """DLC input (x - mean) with folded weights == torchvision input (x - mean) / std."""
    path, state = resnet18_file
    variables = load_torchvision_resnet(path, "resnet_18")
    rng = np.random.default_rng(1)
    x_dlc = (rng.uniform(0, 255, (1, 32, 32, 3)) - 120).astype(np.float32)
    feats = _features_fn(resnet("resnet_18"))(variables, x_dlc)
    x_tv = x_dlc / np.asarray(TORCHVISION_PIXEL_STD, np.float32)
    want = ref.resnet_features(state, _nhwc_to_nchw(x_tv), *RESNET18)
    assert _relative_error(_nhwc_to_nchw(feats["layer1"]), want["layer1"]) < 1e-3
    assert _relative_error(_nhwc_to_nchw(feats["layer4"]), want["layer4"]) < 1e-3


def test_conversion_transposes_and_renames(resnet18_file):
    path, state = resnet18_file
    variables = load_torchvision_resnet(path, "resnet_18", pixel_std=None)
    params, stats = variables["params"], variables["batch_stats"]
    np.testing.assert_array_equal(
        params["layer2"]["0"]["downsample"]["0"]["kernel"],
        state["layer2.0.downsample.0.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(params["layer3"]["1"]["bn2"]["scale"],
                                  state["layer3.1.bn2.weight"])
    np.testing.assert_array_equal(stats["bn1"]["var"], state["bn1.running_var"])
    np.testing.assert_array_equal(stats["layer4"]["1"]["bn1"]["mean"],
                                  state["layer4.1.bn1.running_mean"])
    assert "fc" not in params
    leaves = jax.tree_util.tree_leaves(variables)
    assert all(leaf.dtype == jnp.float32 for leaf in leaves)


@pytest.mark.parametrize("output_stride,dilate", [
    (32, (False, False, False)),
    (16, (False, False, True)),
    (8, (False, True, True)),
])
def test_bottleneck_dilation_matches_torchvision(output_stride, dilate):
    """A narrow bottleneck ResNet: strides, dilation and downsample as torchvision."""
    layers = (1, 2, 2, 2)
    backbone = ResNet(block="bottleneck", stage_sizes=layers, base_features=8,
                      output_stride=output_stride)
    state = ref.random_state_dict(ref.state_dict_shapes("bottleneck", layers, base=8), seed=2)
    variables = load_torchvision_resnet(state, backbone, pixel_std=None)
    x = np.random.default_rng(3).normal(0, 1, (2, 40, 56, 3)).astype(np.float32)
    feats = _features_fn(backbone)(variables, x)
    want = ref.resnet_features(state, _nhwc_to_nchw(x), "bottleneck", layers, dilate)
    for name in ("layer1", "layer3", "layer4"):
        assert _relative_error(_nhwc_to_nchw(feats[name]), want[name]) < 1e-3, name
    assert feats["layer4"].shape[1:3] == (-(-40 // output_stride), -(-56 // output_stride))


def test_resnet50_stride16_matches_numpy_torchvision():
    block, layers = NET_TYPES["resnet_50"]
    state = ref.random_state_dict(ref.state_dict_shapes(block, layers), seed=4)
    variables = load_torchvision_resnet(state, "resnet_50", pixel_std=None)
    x = np.random.default_rng(5).normal(0, 1, (1, 48, 48, 3)).astype(np.float32)
    feats = _features_fn(resnet("resnet_50", output_stride=16))(variables, x)
    want = ref.resnet_features(state, _nhwc_to_nchw(x), block, layers, (False, False, True))
    assert _relative_error(_nhwc_to_nchw(feats["layer4"]), want["layer4"]) < 1e-3


def test_loaded_backbone_goes_into_pose_net(resnet18_file):
    path, _ = resnet18_file
    backbone = load_torchvision_resnet(path, "resnet_18")
    model = PoseNet(num_joints=2, net_type="resnet_18")
    _, variables = init_pose_net(jax.random.key(0), model, backbone_variables=backbone)
    np.testing.assert_array_equal(variables["params"]["backbone"]["conv1"]["kernel"],
                                  backbone["params"]["conv1"]["kernel"])
    np.testing.assert_array_equal(
        variables["batch_stats"]["backbone"]["layer4"]["1"]["bn2"]["var"],
        backbone["batch_stats"]["layer4"]["1"]["bn2"]["var"])
    assert set(variables["params"]) == {"backbone", "part_pred", "locref_pred"}


# -------------------------------------------------------------------- errors


def test_missing_unexpected_and_mismatched_keys_are_named():
    state = _lazy_state_dict(*RESNET18)
    del state["layer3.1.bn2.running_var"]
    state["layer5.0.conv1.weight"] = np.zeros((1, 1, 1, 1), np.float32)
    state["conv1.weight"] = np.zeros((64, 1, 7, 7), np.float32)
    with pytest.raises(ValueError) as info:
        load_torchvision_resnet(state, "resnet_18")
    message = str(info.value)
    assert "1 missing key(s): layer3.1.bn2.running_var" in message
    assert "1 unexpected key(s): layer5.0.conv1.weight" in message
    assert "conv1.weight (64, 1, 7, 7) (expected (64, 3, 7, 7))" in message


def test_fc_and_num_batches_tracked_are_ignored():
    variables = load_torchvision_resnet(_lazy_state_dict(*RESNET18), "resnet_18")
    assert set(variables) == {"params", "batch_stats"}


def test_wrong_net_type_is_diagnosed():
    with pytest.raises(ValueError, match="look like resnet_50: check net_type"):
        load_torchvision_resnet(_lazy_state_dict(*NET_TYPES["resnet_50"]), "resnet_18")


def test_prefixed_keys_are_diagnosed():
    state = {f"module.{k}": v for k, v in _lazy_state_dict(*RESNET18).items()}
    with pytest.raises(ValueError, match="prefix"):
        load_torchvision_resnet(state, "resnet_18")


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="no weight file"):
        load_torchvision_resnet(tmp_path / "nope.safetensors", "resnet_18")


# ------------------------------------------------------------ resolve_init_weights


def _offline(url, dest, timeout=60.0):
    raise urllib.error.URLError("no network")


def test_scratch_and_snapshot_markers(tmp_path):
    assert resolve_init_weights(None).kind == "scratch"
    assert resolve_init_weights("").kind == "scratch"
    snap = resolve_init_weights("train/snapshot-50000", "resnet_50", tmp_path)
    assert (snap.kind, snap.path.name) == ("snapshot", "snapshot-50000")
    folder = resolve_init_weights(tmp_path, "resnet_50", tmp_path)
    assert (folder.kind, folder.path) == ("snapshot", tmp_path)


def test_local_safetensors_file(resnet18_file, tmp_path):
    path, _ = resnet18_file
    resolved = resolve_init_weights(str(path), "resnet_18")
    assert (resolved.kind, resolved.path) == ("torchvision", path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_init_weights(tmp_path / "missing.safetensors")
    other = tmp_path / "weights.pth"
    other.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"not a \.safetensors file"):
        resolve_init_weights(other)


def test_offline_imagenet_with_empty_cache_explains_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(weights_mod, "download_file", _offline)
    expected_path = tmp_path / "weights" / "resnet50.tv_in1k.safetensors"
    with pytest.raises(FileNotFoundError) as info:
        resolve_init_weights("imagenet", "resnet_50", cache_dir=tmp_path)
    message = str(info.value)
    assert "https://huggingface.co/timm/resnet50.tv_in1k/resolve/main/model.safetensors" in message
    assert str(expected_path) in message
    assert "pretrained=False" in message
    assert not expected_path.exists()
    with pytest.raises(FileNotFoundError, match="downloading is off"):
        resolve_init_weights("imagenet", "resnet_50", cache_dir=tmp_path, download=False)


def test_cache_folder_comes_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path / "env-cache"))
    assert imagenet_weights_path("resnet_18") == (
        tmp_path / "env-cache" / "weights" / "resnet18.tv_in1k.safetensors")
    monkeypatch.delenv("POSEKIT_CACHE")
    assert ".cache/posekit/weights" in imagenet_weights_path("resnet_18").as_posix()


def _pin(monkeypatch, net_type, sha256):
    """Replace the digest pinned for ``net_type`` (None: trust on first use)."""
    entry = weights_mod.IMAGENET_WEIGHTS[net_type]
    monkeypatch.setitem(weights_mod.IMAGENET_WEIGHTS, net_type, dataclasses.replace(entry, sha256=sha256))


def _serving(source, calls=None):
    """A download_file stand-in that 'downloads' ``source`` (atomically, like the real one)."""
    def fake_download(url, dest, timeout=60.0):
        if calls is not None:
            calls.append(url)
        with atomic_path(dest) as tmp:
            tmp.write_bytes(source.read_bytes())
        return weights_mod.sha256_file(dest)
    return fake_download


def test_pinned_digests_come_from_the_hub():
    pinned = {k: w.sha256 for k, w in weights_mod.IMAGENET_WEIGHTS.items() if w.sha256}
    assert set(pinned) == {"resnet_18", "resnet_50", "resnet_152"}
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in pinned.values())


def test_download_matching_the_pinned_digest_is_cached(tmp_path, monkeypatch, resnet18_file):
    source, _ = resnet18_file
    _pin(monkeypatch, "resnet_18", weights_mod.sha256_file(source))
    monkeypatch.setattr(weights_mod, "download_file", _serving(source))
    resolved = resolve_init_weights("imagenet", "resnet_18", cache_dir=tmp_path)
    assert resolved.path == imagenet_weights_path("resnet_18", tmp_path)
    assert resolved.path.read_bytes() == source.read_bytes()
    record = json.loads(resolved.path.with_name(resolved.path.name + ".sha256.json").read_text())
    assert record["how"] == "verified against the pinned digest on download"
    assert sorted(f.name for f in resolved.path.parent.iterdir()) == [
        "resnet18.tv_in1k.safetensors", "resnet18.tv_in1k.safetensors.sha256.json"]


def test_download_not_matching_the_pinned_digest_is_deleted(tmp_path, monkeypatch, resnet18_file):
    source, _ = resnet18_file
    pinned = "0" * 64
    _pin(monkeypatch, "resnet_18", pinned)
    monkeypatch.setattr(weights_mod, "download_file", _serving(source))
    with pytest.raises(ValueError) as info:
        resolve_init_weights("imagenet", "resnet_18", cache_dir=tmp_path)
    message = str(info.value)
    assert "resnet18.tv_in1k.safetensors" in message
    assert pinned in message and weights_mod.sha256_file(source) in message
    assert list((tmp_path / "weights").iterdir()) == []  # no file, no partial, no record
    with pytest.raises(FileNotFoundError):  # nothing usable was left behind
        resolve_init_weights("imagenet", "resnet_18", cache_dir=tmp_path, download=False)


def test_cached_file_is_checked_against_the_pinned_digest(tmp_path, monkeypatch, resnet18_file):
    source, _ = resnet18_file
    target = imagenet_weights_path("resnet_18", tmp_path)
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes())
    _pin(monkeypatch, "resnet_18", "f" * 64)
    with pytest.raises(ValueError, match="pinned in posekit"):
        resolve_init_weights("imagenet", "resnet_18", cache_dir=tmp_path, download=False)
    _pin(monkeypatch, "resnet_18", weights_mod.sha256_file(source))
    assert resolve_init_weights("imagenet", "resnet_18", cache_dir=tmp_path, download=False).path == target


def test_download_records_and_later_verifies_sha256(tmp_path, monkeypatch, resnet18_file):
    source, _ = resnet18_file
    calls = []
    _pin(monkeypatch, "resnet_18", None)  # trust on first use, as for resnet34/resnet101
    monkeypatch.setattr(weights_mod, "download_file", _serving(source, calls))
    first = resolve_init_weights("imagenet", "resnet_18", cache_dir=tmp_path)
    assert first.kind == "torchvision" and first.path.is_file()
    record = json.loads((first.path.parent / (first.path.name + ".sha256.json")).read_text())
    assert record["sha256"] == weights_mod.sha256_file(source)
    assert record["url"] == calls[0]

    monkeypatch.setattr(weights_mod, "download_file", _offline)  # cached: no download
    again = resolve_init_weights("imagenet", "resnet_18", cache_dir=tmp_path)
    assert again.path == first.path and len(calls) == 1
    assert load_torchvision_resnet(again.path, "resnet_18")["params"]["conv1"]["kernel"].shape == (
        7, 7, 3, 64)

    data = bytearray(first.path.read_bytes())
    data[-1] ^= 0xFF
    first.path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt or was replaced"):
        resolve_init_weights("imagenet", "resnet_18", cache_dir=tmp_path)


def test_hand_placed_file_gets_its_digest_recorded(tmp_path, monkeypatch, resnet18_file):
    source, _ = resnet18_file
    _pin(monkeypatch, "resnet_18", None)
    target = imagenet_weights_path("resnet_18", tmp_path)
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes())
    resolved = resolve_init_weights("imagenet", "resnet_18", cache_dir=tmp_path, download=False)
    assert resolved.path == target
    record = json.loads(target.with_name(target.name + ".sha256.json").read_text())
    assert record["sha256"] == weights_mod.sha256_file(source)


def test_dlc_tf_checkpoint_path_means_imagenet(tmp_path, monkeypatch):
    monkeypatch.setattr(weights_mod, "download_file", _offline)
    dlc = "/site-packages/deeplabcut/pose_estimation_tensorflow/models/pretrained/resnet_v1_50.ckpt"
    with pytest.raises(FileNotFoundError, match=r"resnet101\.tv_in1k"):
        resolve_init_weights(dlc, "resnet_101", cache_dir=tmp_path)
