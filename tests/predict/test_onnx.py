"""ONNX export + ONNX Runtime backend: same maps and poses as the JAX PoseNet, snapshot cache."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from posekit.model.decode import decode_pose
from posekit.model.pose_net import PoseNet
from posekit.predict.onnx_backend import OnnxPosePredictor, PendingPoses, resolve_backend
from posekit.predict.onnx_export import build_onnx_model, export_onnx, onnx_cache_path
from posekit.predict.predictor import load_predictor

LOCREF_STDEV = 7.2801


def _random_net(model: PoseNet, seed: int, frames: np.ndarray) -> tuple[dict, dict]:
    """Random variables with non-trivial batch norm, and the JAX maps of ``frames``.

    Running means and variances far from (0, 1), random batch-norm affine
    terms and head biases make the folding and the biases matter; the heads
    are then rescaled so the logits spread around 0 (likelihoods not
    saturated) and offsets are a few pixels, as in a trained network (both
    heads are linear, so their maps scale with them: one forward pass).
    """
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(model.init, jax.random.key(0),
                            jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32))

    def leaf(path, shape):
        name, size = path[-1].key, shape.shape
        if name == "kernel":  # He-normal on the fan-in
            fan_in = int(np.prod(size[:-2])) * (size[-1] if "pred" in path[1].key else size[-2])
            return rng.normal(0.0, np.sqrt(2.0 / fan_in), size).astype(np.float32)
        if name == "scale":
            return rng.uniform(0.5, 1.5, size).astype(np.float32)
        if name in ("bias", "mean"):
            return rng.normal(0.0, 0.3, size).astype(np.float32)
        return rng.uniform(0.3, 3.0, size).astype(np.float32)  # var

    variables = jax.tree_util.tree_map_with_path(leaf, shapes)
    maps = {k: np.asarray(v) for k, v in _forward(model)(variables, frames).items()}
    params = dict(variables["params"])
    for head, key, std in (("part_pred", "part_pred", 1.0), ("locref_pred", "locref", 0.3)):
        if key not in maps:
            continue
        factor = np.float32(std / float(np.std(maps[key])))
        params[head] = {name: value * factor for name, value in params[head].items()}
        maps[key] = maps[key] * factor
    return {**variables, "params": params}, maps


def _forward(model: PoseNet):
    return jax.jit(model.apply)


def _compare(model: PoseNet, frames: np.ndarray, session: OnnxPosePredictor, maps: dict):
    """ONNX maps vs JAX maps (relative 1e-4), poses: x, y within 0.01 px, likelihood 1e-4."""
    got = session.heads(frames)
    assert set(got) == set(maps)
    for key, want in maps.items():
        assert got[key].shape == want.shape
        np.testing.assert_allclose(got[key], want, rtol=0, atol=1e-4 * float(np.abs(want).max()),
                                   err_msg=key)
    want = np.asarray(decode_pose(maps["part_pred"], maps.get("locref"),
                                  stride=model.stride, locref_stdev=LOCREF_STDEV))
    poses = session.predict(frames)
    assert poses.shape == (len(frames), model.num_joints, 3) and poses.dtype == np.float32
    np.testing.assert_allclose(poses[..., :2], want[..., :2], rtol=0, atol=0.01)
    np.testing.assert_allclose(poses[..., 2], want[..., 2], rtol=0, atol=1e-4)
    assert poses[..., 2].max() < 0.999  # logits in the sigmoid's sensitive range


@pytest.mark.parametrize("output_stride", [16, 8])
def test_tiny_resnet18_matches_jax(output_stride):
    model = PoseNet(num_joints=5, net_type="resnet_18", output_stride=output_stride,
                    backbone_features=8)
    frames = np.random.default_rng(0).integers(0, 256, (3, 67, 93, 3), np.uint8)
    variables, maps = _random_net(model, output_stride, frames)
    session = OnnxPosePredictor.from_variables(model, variables, locref_stdev=LOCREF_STDEV)
    _compare(model, frames, session, maps)
    # the same session serves other sizes and batches (symbolic dimensions)
    other = np.random.default_rng(1).integers(0, 256, (1, 48, 81, 3), np.uint8)
    maps = {k: np.asarray(v) for k, v in _forward(model)(variables, other).items()}
    _compare(model, other, session, maps)
    assert session.predict(other[:0]).shape == (0, 5, 3)
    # batches above max_run_frames run in pieces, with the same poses
    whole = session.predict(frames)
    session.max_run_frames = 2
    np.testing.assert_array_equal(session.predict(frames), whole)


def test_resnet50_file_export(tmp_path):
    model = PoseNet(num_joints=3, net_type="resnet_50")
    frames = np.random.default_rng(2).integers(0, 256, (2, 64, 64, 3), np.uint8)
    variables, maps = _random_net(model, 3, frames)
    path = export_onnx(model, variables, tmp_path / "net.onnx", locref_stdev=LOCREF_STDEV)
    session = OnnxPosePredictor(path, threads=1)
    assert session.metadata["posekit.net_type"] == "resnet_50"
    _compare(model, frames, session, maps)


def test_no_locref_float_input_fixed_shape():
    model = PoseNet(num_joints=2, net_type="resnet_18", backbone_features=4,
                    location_refinement=False)
    frames = np.random.default_rng(3).integers(0, 256, (2, 35, 50, 3), np.uint8)
    variables, maps = _random_net(model, 4, frames)
    proto = build_onnx_model(model, variables, input_dtype="float32", input_hw=(35, 50),
                             batch_size=2)
    session = OnnxPosePredictor(proto.SerializeToString())
    assert session.input_dtype == np.float32
    _compare(model, frames.astype(np.float32), session, maps)
    with pytest.raises(Exception):  # noqa: B017 - the input size is fixed in this export
        session.predict(np.zeros((2, 36, 50, 3), np.float32))


def test_load_predictor_onnx_equals_jax_and_caches(project, monkeypatch):
    from posekit.io.video import VideoReader

    video = next((project.parent / "videos").glob("*.mp4"))
    with VideoReader(video) as reader:
        frames = np.stack([reader.read(i) for i in (0, 30, 60, 90, 119)])
    jax_pred = load_predictor(project, batch_size=4, backend="jax")
    onnx_pred = load_predictor(project, batch_size=4, backend="onnx")
    assert (jax_pred.backend, onnx_pred.backend) == ("jax", "onnx")
    cache = onnx_cache_path(onnx_pred.snapshot)
    assert cache.is_file() and cache.name == onnx_pred.snapshot.stem + ".onnx"

    want = jax_pred.predict(frames[:4])
    got = onnx_pred.predict(frames[:4])
    np.testing.assert_allclose(got[..., :2], want[..., :2], rtol=0, atol=0.01)
    np.testing.assert_allclose(got[..., 2], want[..., 2], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(onnx_pred.predict(frames[:2]), got[:2])  # no padding needed
    with pytest.raises(ValueError, match="batch_size"):
        onnx_pred.predict(frames)

    # predict_async: a pending result numpy waits for, on a copy of the buffer
    buf = frames[:4].copy()
    pending = onnx_pred.predict_async(buf)
    buf[:] = 0
    assert isinstance(pending, PendingPoses)
    np.testing.assert_array_equal(np.asarray(pending), got)
    np.testing.assert_allclose(np.asarray(jax_pred.predict_async(frames[:4])), want, atol=0)

    # the cache is re-used as is ...
    mtime = cache.stat().st_mtime_ns
    again = load_predictor(project, batch_size=4, backend="onnx")
    assert cache.stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(again.predict(frames[:4]), got)
    # ... and rebuilt once the snapshot changes
    snap = onnx_pred.snapshot
    os.utime(snap, ns=(mtime + 10**9, mtime + 10**9))
    load_predictor(project, batch_size=4, backend="onnx")
    assert cache.stat().st_mtime_ns != mtime

    # backend choice
    monkeypatch.delenv("POSEKIT_PREDICT_BACKEND", raising=False)
    assert resolve_backend("auto") == ("onnx" if jax.default_backend() == "cpu" else "jax")
    monkeypatch.setenv("POSEKIT_PREDICT_BACKEND", "jax")
    assert load_predictor(project, batch_size=4).backend == "jax"
    assert resolve_backend("onnx") == "onnx"
    with pytest.raises(ValueError, match="backend"):
        resolve_backend("tensorrt")
