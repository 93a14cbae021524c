"""Reduced-precision inference (issue 18): ``precision="fp32" | "int8" | "bf16"``.

The tiny network of ``conftest.py`` is untrained: its score maps are flat, so
the argmax cell of a joint can jump between nearly equal cells under any
change of arithmetic (even bfloat16). The checks therefore compare what is
smooth in the weights: the maps themselves, the likelihoods (sigmoid of the
maximum logit, continuous even where the argmax jumps) and the coordinates of
the joints whose argmax cell stays the same.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import numpy as np
import onnx
import pytest

from posekit.predict.predictor import load_predictor
from posekit.predict.quantize import int8_cache_path, parse_precision


def _frames(video, indices=(0, 30, 60, 90)):
    from posekit.io.video import VideoReader

    with VideoReader(video) as reader:
        return np.stack([reader.read(i) for i in indices])


def _same_cell(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, J) True where the NHWC score maps ``a`` and ``b`` peak at the same cell."""
    flat = lambda m: m.reshape(m.shape[0], -1, m.shape[-1]).argmax(axis=1)  # noqa: E731
    return flat(a) == flat(b)


def test_bad_precision_is_refused_before_any_work(project, video, tmp_path):
    from posekit.predict.analyze import analyze_videos
    from posekit.predict.evaluate import evaluate_network

    assert [parse_precision(p) for p in ("FP32", "int8", "bfloat16")] == ["fp32", "int8", "bf16"]
    for call in (lambda: analyze_videos(project, video, destfolder=tmp_path / "out", precision="fp16"),
                 lambda: evaluate_network(project, precision="int4", show_errors=False),
                 lambda: load_predictor(project, precision=8)):
        with pytest.raises(ValueError, match=r"precision must be one of \['fp32', 'int8', 'bf16'"):
            call()
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="backend='onnx' only"):
        load_predictor(project, precision="int8", backend="jax")
    with pytest.raises(ValueError, match="no bfloat16 convolution"):
        load_predictor(project, precision="bf16", backend="onnx")


def test_int8_built_once_reused_and_rebuilt_with_the_snapshot(project, video, monkeypatch):
    import posekit.predict.quantize as quantize

    frames = _frames(video)
    fp32 = load_predictor(project, batch_size=4, backend="onnx")
    int8 = load_predictor(project, batch_size=4, precision="int8")
    assert (int8.backend, int8.precision) == ("onnx", "int8")
    cache = int8_cache_path(int8.snapshot)
    assert cache == int8.snapshot.with_suffix(".int8.onnx") and cache.is_file()
    assert int8.snapshot.with_suffix(".onnx").is_file()  # the float32 export it came from
    proto = onnx.load(str(cache))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["posekit.precision"] == "int8" and meta["posekit.snapshot"] == int8.snapshot.name
    assert meta["posekit.calibration_frames"] == "6"  # the training split only (2 test images left out)
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    int8_weights = [t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]
    assert len(int8_weights) >= 20  # every backbone convolution (resnet_18: 20); heads stay float32

    # int8 close to float32 (see the module docstring for what is compared)
    want, got = fp32._onnx.heads(frames), int8._onnx.heads(frames)
    for name in ("part_pred", "locref"):
        # uint8 activations resolve 1/255 of each calibrated range per layer; over the
        # 20 quantized layers that measured 5% of the largest value at most (0.08 of
        # 1.6 on the logits); a wrong scale or calibration gives errors of order 100%
        error = np.abs(got[name] - want[name])
        scale = np.abs(want[name]).max()
        assert error.max() < 0.1 * scale and error.mean() < 0.02 * scale, name
    poses32, poses8 = fp32.predict(frames), int8.predict(frames)
    same = _same_cell(want["part_pred"], got["part_pred"])
    assert same.mean() > 0.5  # most joints keep their cell even on these flat maps
    # same cell: the offset error (0.019 at most, times locref_stdev 7.28) in px
    np.testing.assert_allclose(poses8[same][:, :2], poses32[same][:, :2], atol=0.3)
    np.testing.assert_allclose(poses8[..., 2], poses32[..., 2], atol=0.02)

    # re-used as is: nothing is quantized again ...
    def refuse(*args, **kwargs):
        raise AssertionError("the int8 model was rebuilt although it is current")

    mtime = cache.stat().st_mtime_ns
    with monkeypatch.context() as patch:
        patch.setattr(quantize, "quantize_onnx_model", refuse)
        again = load_predictor(project, batch_size=4, precision="int8")
        np.testing.assert_array_equal(again.predict(frames), poses8)
    assert cache.stat().st_mtime_ns == mtime
    # ... and rebuilt once the snapshot changes
    os.utime(int8.snapshot, ns=(mtime + 10**9, mtime + 10**9))
    load_predictor(project, batch_size=4, precision="int8")
    assert cache.stat().st_mtime_ns > mtime

    # ... or the shuffle's int8 settings (pose_cfg.yaml): here the heads quantized too
    pose_cfg = int8.snapshot.parent / "pose_cfg.yaml"
    text = pose_cfg.read_text()
    pose_cfg.write_text(text + "int8_keep_float: []\nint8_calibration_frames: 2\n")
    load_predictor(project, batch_size=4, precision="int8")
    proto = onnx.load(str(cache))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["posekit.calibration_frames"] == "2"
    heads = [t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]
    assert len(heads) == len(int8_weights) + 2
    pose_cfg.write_text(text + "int8_keep_float: heads\n")
    with pytest.raises(ValueError, match=r"pose_cfg\.yaml': int8_keep_float must be a list"):
        load_predictor(project, batch_size=4, precision="int8")


def test_analyze_and_evaluate_with_int8(project, video, tmp_path):
    from posekit.predict.analyze import analyze_videos
    from posekit.predict.evaluate import evaluate_network
    from posekit.predict.results import read_metadata, read_poses

    ref = analyze_videos(project, video, destfolder=tmp_path / "fp32", batchsize=4)
    got = analyze_videos(project, video, destfolder=tmp_path / "int8", batchsize=3, precision="int8")
    assert got.scorer == ref.scorer  # DeepLabCut's scorer name: the precision is in _meta.json
    (paths32,), (paths8,) = [r.paths for r in ref.videos], [r.paths for r in got.videos]
    assert read_metadata(paths8.meta)["precision"] == "int8"
    assert read_metadata(paths32.meta)["precision"] == "fp32"
    like32 = read_poses(paths32.h5).xs("likelihood", axis=1, level="coords").to_numpy()
    like8 = read_poses(paths8.h5).xs("likelihood", axis=1, level="coords").to_numpy()
    assert like8.shape == like32.shape == (120, like8.shape[1])
    np.testing.assert_allclose(like8, like32, atol=0.02)
    # with dynamic cropping too (windows of other sizes: the int8 graph keeps symbolic sizes)
    crop = analyze_videos(project, video, destfolder=tmp_path / "dyn", precision="int8", dynamic=(True, 0.1, 40))
    meta = read_metadata(crop.videos[0].paths.meta)
    assert meta["precision"] == "int8" and meta["dynamic"][0] is True and meta["frames_cropped"] > 0

    fp32 = evaluate_network(project, show_errors=False)
    int8 = evaluate_network(project, show_errors=False, precision="int8")
    (e32,), (e8,) = fp32.evaluations, int8.evaluations
    assert (e32.precision, e8.precision) == ("fp32", "int8")
    assert e8.predictions_file.name.endswith("-int8.h5") and e8.predictions_file != e32.predictions_file
    assert e8.keypoint_results_file != e32.keypoint_results_file
    assert (e32.folder.parent / "CombinedEvaluation-results-int8.csv").is_file()
    # the float32 table still holds float32's row
    combined = (e32.folder.parent / "CombinedEvaluation-results.csv").read_text()
    assert f"{round(e32.test_error, 2)}" in combined
    # same labelled images, errors of the same size (flat maps: cells may jump, see above)
    assert np.isfinite(e8.test_error) and abs(e8.train_error - e32.train_error) < 0.5 * e32.train_error
    # predictions are reused while the int8 model is unchanged, redone once it is re-quantized
    done = e8.predictions_file.stat().st_mtime_ns
    evaluate_network(project, show_errors=False, precision="int8")
    assert e8.predictions_file.stat().st_mtime_ns == done
    (pose_cfg,) = project.parent.glob("dlc-models/**/train/pose_cfg.yaml")
    pose_cfg.write_text(pose_cfg.read_text() + "int8_symmetric: true\n")
    evaluate_network(project, show_errors=False, precision="int8")
    assert e8.predictions_file.stat().st_mtime_ns > done


def test_bf16_runs_jax_in_bfloat16(project, video):
    import jax
    import jax.numpy as jnp

    frames = _frames(video, (0, 60))
    fp32 = load_predictor(project, batch_size=2, backend="jax")
    with pytest.warns(UserWarning, match="precision='bf16' on the CPU") if jax.default_backend() == "cpu" \
            else contextlib.nullcontext():
        bf16 = load_predictor(project, batch_size=2, precision="bf16")
    assert (bf16.backend, bf16.model.dtype) == ("jax", jnp.bfloat16)
    assert fp32.model.dtype == jnp.float32
    want, got = fp32.predict(frames), bf16.predict(frames)
    assert got.dtype == np.float32
    # bfloat16 keeps 8 mantissa bits: likelihoods within a few hundredths, and not equal
    np.testing.assert_allclose(got[..., 2], want[..., 2], atol=0.03)
    assert not np.array_equal(got[..., 2], want[..., 2])


def test_cluster_run_takes_precision_and_caches_a_predictor_per_precision(project, video, tmp_path):
    distributed = pytest.importorskip("distributed")
    from posekit.predict import distributed as cluster
    from posekit.predict.results import read_metadata
    from posekit.workflow.analysis import analyze_videos

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0",
                                  worker_dashboard_address=None) as local, distributed.Client(local) as client:
        result = analyze_videos(project, video, destfolder=tmp_path, client=client, precision="int8")
    assert read_metadata(result.videos[0].paths.meta)["precision"] == "int8"
    # the worker (in this process) cached the int8 predictor under a key naming the precision
    mine = {key: p for key, p in cluster._predictors.items() if key[0].startswith(str(project.parent))}
    assert [(key[-1], p.precision) for key, p in mine.items()] == [("int8", "int8")]
    (int8,) = mine.values()
    spec = cluster.PredictorSpec(str(project), 1, 0, str(int8.snapshot), int8.batch_size, "auto", result.scorer)
    assert spec.precision == "fp32"
    fp32 = cluster.worker_predictor(spec)  # another precision: another predictor
    assert fp32.precision == "fp32" and cluster.worker_predictor(spec) is fp32 is not int8


def test_reduced_precision_says_what_the_cpu_lacks(tmp_path, monkeypatch):
    import jax

    import posekit.predict.quantize as quantize

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    assert quantize.bf16_cpu_support(cpuinfo) is None
    cpuinfo.write_text("flags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile\n")
    assert quantize.bf16_cpu_support(cpuinfo) == "amx_bf16,avx512_bf16"
    assert quantize.bf16_cpu_support(tmp_path / "missing") is None
    assert quantize.int8_cpu_support(cpuinfo) == ""
    cpuinfo.write_text("flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    assert quantize.int8_cpu_support(cpuinfo) == "avx512_vnni"
    assert quantize.int8_cpu_support(tmp_path / "missing") is None
    monkeypatch.setattr(quantize, "int8_cpu_support", lambda: "")
    with pytest.warns(UserWarning, match="no int8 dot-product instructions"):
        assert quantize.precision_backend("int8") == "onnx"
    monkeypatch.setattr(quantize, "int8_cpu_support", lambda: "avx512_vnni")

    on_cpu = jax.default_backend() == "cpu"
    for native, says in ((None, "no native bfloat16 arithmetic"), ("amx_bf16", "has amx_bf16, but XLA")):
        monkeypatch.setattr(quantize, "bf16_cpu_support", lambda native=native: native)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert quantize.precision_backend("bf16") == "jax"
        assert [str(w.message) for w in caught if says in str(w.message)] == ([str(caught[0].message)] if on_cpu
                                                                            else [])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert quantize.precision_backend("bf16", warn=False) == "jax"
        assert quantize.precision_backend("int8") == "onnx"
        assert quantize.precision_backend("fp32", "jax") == "jax"


def test_auto_precision_is_int8_where_onnx_runtime_runs_on_an_int8_cpu(monkeypatch):
    import jax

    import posekit.predict.quantize as quantize
    from posekit.predict.onnx_backend import onnxruntime_available

    monkeypatch.delenv(quantize.PRECISION_ENV, raising=False)
    monkeypatch.delenv("POSEKIT_PREDICT_BACKEND", raising=False)
    onnx_here = jax.default_backend() == "cpu" and onnxruntime_available()
    for support, want in (("avx512_vnni", "int8" if onnx_here else "fp32"), ("", "fp32"), (None, "fp32")):
        monkeypatch.setattr(quantize, "int8_cpu_support", lambda support=support: support)
        assert quantize.auto_precision() == want, support
    monkeypatch.setattr(quantize, "int8_cpu_support", lambda: "amx_int8")
    assert quantize.auto_precision("jax") == "fp32"  # JAX runs float32 (a GPU, or the JAX backend asked for)
    monkeypatch.setenv("POSEKIT_PREDICT_BACKEND", "jax")
    assert quantize.auto_precision() == "fp32"
    monkeypatch.setenv(quantize.PRECISION_ENV, "BF16")  # the variable overrides the machine's choice
    assert quantize.auto_precision() == "bf16"
    monkeypatch.setenv(quantize.PRECISION_ENV, "fp16")
    with pytest.raises(ValueError, match="environment variable POSEKIT_PRECISION: precision must be one of"):
        quantize.auto_precision()


def test_auto_precision_needs_an_int8_model_or_images_to_calibrate_it(tmp_path):
    from posekit.predict.quantize import int8_cache_path, resolve_precision

    snapshot = tmp_path / "snapshot-5.msgpack"
    image = tmp_path / "img001.png"
    int8 = lambda backend: "int8"  # noqa: E731 - a machine where auto means int8

    def broken():
        raise FileNotFoundError("no training set")

    assert resolve_precision("FP32", decide=int8) == "fp32"  # an explicit precision is kept as it is
    assert resolve_precision("auto", snapshot=snapshot, calibration=lambda: [image], decide=int8) == "fp32"
    image.write_bytes(b"")
    assert resolve_precision("auto", snapshot=snapshot, calibration=lambda: [image], decide=int8) == "int8"
    assert resolve_precision("auto", snapshot=snapshot, calibration=broken, decide=int8) == "fp32"
    assert resolve_precision("auto", snapshot=snapshot, calibration=list, decide=int8) == "fp32"
    int8_cache_path(snapshot).write_bytes(b"")  # already quantized: no images needed
    assert resolve_precision("auto", snapshot=snapshot, calibration=broken, decide=int8) == "int8"
    assert resolve_precision("auto", decide=lambda backend: "fp32") == "fp32"


def test_analyze_videos_runs_int8_by_default_on_int8_cpus(project, video, tmp_path, monkeypatch, capsys):
    import posekit.predict.quantize as quantize
    from posekit.predict.analyze import analyze_videos
    from posekit.predict.results import read_metadata

    monkeypatch.delenv(quantize.PRECISION_ENV, raising=False)
    monkeypatch.delenv("POSEKIT_PREDICT_BACKEND", raising=False)
    monkeypatch.setattr(quantize, "auto_precision", lambda backend="auto": "int8")
    result = analyze_videos(project, video, destfolder=tmp_path / "auto", batchsize=4)
    assert read_metadata(result.videos[0].paths.meta)["precision"] == "int8"
    assert "precision='auto' runs int8 on this machine; pass precision='fp32'" in capsys.readouterr().out
    monkeypatch.setattr(quantize, "auto_precision", lambda backend="auto": "fp32")
    result = analyze_videos(project, video, destfolder=tmp_path / "older-cpu", batchsize=4)
    assert read_metadata(result.videos[0].paths.meta)["precision"] == "fp32"
    assert "precision='auto'" not in capsys.readouterr().out


def test_int8_settings_from_pose_cfg():
    from posekit.predict.quantize import int8_settings

    assert int8_settings({}) == {"keep_float": ["heads"], "symmetric": False, "calibration_frames": 32,
                                 "calibration": "minmax"}
    assert int8_settings({"int8_keep_float": ["heads", "conv1"], "int8_symmetric": True,
                          "int8_calibration_frames": 64, "int8_calibration": "mean_minmax"}) == {
        "keep_float": ["conv1", "heads"], "symmetric": True, "calibration_frames": 64, "calibration": "mean_minmax"}
    for key, value in (("int8_keep_float", ["layer4"]), ("int8_symmetric", "yes"),
                       ("int8_calibration_frames", 0), ("int8_calibration", "entropy")):
        with pytest.raises(ValueError, match=rf"'train/pose_cfg\.yaml': {key} must be"):
            int8_settings({key: value}, "train/pose_cfg.yaml")
