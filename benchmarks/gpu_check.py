"""GPU readiness check: train, analyse, compare with ONNX Runtime on the CPU; print one JSON line.

Usage::

    pip install -e ".[cuda12]"          # JAX with CUDA 12
    python benchmarks/gpu_check.py [--steps 200] [--train-batch 8] [--frames 2000]
                                   [--size 640 480] [--batches 8 32 64] [--compare 16]
    python benchmarks/gpu_check.py --compute-dtype bfloat16   # mixed precision
    python benchmarks/gpu_check.py --smoke   # tiny sizes, any machine (CPU included)

Meant to take under 5 minutes on one GPU, offline (nothing is downloaded: the
project is the synthetic one, built in a temporary folder; ResNet-50 starts
from random weights, which cost the same time as ImageNet ones). Steps:

1. ``train``: ResNet-50 (output stride 16, DeepLabCut's default) trained
   ``--steps`` steps at ``--train-batch`` on the synthetic project;
   images/s over the steps after the first display interval (so without
   compilation), and the wall time including compilation;
2. ``analyze``: ``analyze_videos`` on a ``--frames``-frame synthetic video of
   ``--size`` at each batch size (JAX backend, i.e. the GPU when there is
   one): frames/s of the decode + predict loop without the first batch
   (compilation), and of the network alone on one preloaded batch;
3. ``onnx_vs_jax``: the trained network on ``--compare`` frames with JAX (the
   GPU) and with ONNX Runtime on the CPU: largest distance between the
   predicted positions (px), share of body parts within 0.5 px, largest
   likelihood difference. ONNX Runtime computes in float32, so with
   ``--compute-dtype bfloat16`` this is the cost of mixed precision.

The JSON line also names the device, the JAX version and the total time.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

#: ``--smoke``: every step at a size a shared CPU runs in about a minute.
SMOKE = {"steps": 3, "train_batch": 2, "frames": 24, "size": [160, 128], "batches": [2, 4], "compare": 4,
         "net": "resnet_18", "backbone_features": 8, "net_seconds": 1.0}


def device_info() -> dict:
    """JAX's version, backend and first device."""
    import jax

    device = jax.devices()[0]
    return {"jax": jax.__version__, "backend": jax.default_backend(),
            "device": getattr(device, "device_kind", str(device)), "device_count": jax.device_count()}


def build_project(work: pathlib.Path, args) -> pathlib.Path:
    """The synthetic project (frames at ``--size``) with a training set for the checked network."""
    from posekit.dataset import create_training_dataset
    from posekit.datasets import make_synthetic_project

    width, height = args.size
    config = pathlib.Path(make_synthetic_project(work / "project", n_frames=60, numframes2pick=16, width=width,
                                                 height=height, seed=0, algo="uniform"))
    create_training_dataset(config, net_type=args.net, seed=0,
                            pose_cfg_overrides={"compute_dtype": args.compute_dtype})
    return config


def check_train(config: pathlib.Path, args) -> dict:
    """Train ``--steps`` steps; images/s after the first display interval (compilation excluded)."""
    from posekit.train.trainer import Trainer

    overrides = {"net_type": args.net}
    if args.backbone_features:
        overrides["backbone_features"] = args.backbone_features
    display = max(1, min(20, args.steps // 4))
    t0 = time.perf_counter()
    trainer = Trainer(config, pretrained=False, maxiters=args.steps, displayiters=display, saveiters=args.steps,
                      batch_size=args.train_batch, model_overrides=overrides, seed=0)
    progress = trainer.run()
    wall = time.perf_counter() - t0
    if not progress.finished:
        raise RuntimeError(f"training stopped: {progress.describe()}")
    return {"net": args.net, "steps": progress.step, "batch": trainer.batch_size,
            "crop": list(trainer.aug.crop_size),
            "images_per_second": progress.images_per_second, "wall_s": wall,
            "final_loss": progress.history[-1][1] if progress.history else None}


def network_fps(predictor, frames, seconds: float) -> float:
    """Frames/s of ``predictor.predict`` on one preloaded batch, run for about ``seconds``."""
    import numpy as np

    np.asarray(predictor.predict(frames))  # compile
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 3 * len(frames):
        np.asarray(predictor.predict(frames))
        n += len(frames)
    return n / (time.perf_counter() - t0)


def check_analyze(config: pathlib.Path, work: pathlib.Path, args) -> dict:
    """analyze_videos (JAX backend) at each batch size, and the network alone."""
    import numpy as np

    from posekit.datasets import make_synthetic_video
    from posekit.io.video import VideoReader
    from posekit.predict.analyze import analyze_videos
    from posekit.predict.predictor import load_predictor

    width, height = args.size
    video = work / "check.mp4"
    t0 = time.perf_counter()
    make_synthetic_video(video, args.frames, width, height, seed=1)
    out = {"frames": args.frames, "size": [width, height], "video_write_s": time.perf_counter() - t0}
    with VideoReader(video) as reader:
        sample = np.stack([f for _, f in reader.iter_frames(stop=max(args.batches))])
    for batch in args.batches:
        result = analyze_videos(config, video, batchsize=batch, destfolder=work / f"out-{batch}", overwrite=True)
        record = result.videos[0]
        predictor = load_predictor(config, batch_size=batch, backend="jax")
        out[str(batch)] = {"frames_per_second": record.steady_frames_per_second,
                           "frames_per_second_all": record.frames_per_second,
                           "startup_s": record.startup_seconds, "nframes": record.nframes,
                           "network_frames_per_second": network_fps(predictor, sample[:batch], args.net_seconds)}
    return out


def check_onnx(config: pathlib.Path, args) -> dict:
    """The same frames through JAX (the GPU) and ONNX Runtime (the CPU)."""
    import numpy as np

    from posekit.io.video import VideoReader
    from posekit.predict.predictor import load_predictor
    from posekit.project import Project

    project = Project.open(config)
    video = project.video_path(project.video_stems()[0])
    with VideoReader(video) as reader:
        frames = np.stack([f for _, f in reader.iter_frames(stop=args.compare)])
    jax_poses = load_predictor(config, batch_size=len(frames), backend="jax").predict(frames)
    onnx_poses = load_predictor(config, batch_size=len(frames), backend="onnx").predict(frames)
    distance = np.linalg.norm(jax_poses[..., :2] - onnx_poses[..., :2], axis=-1)
    return {"frames": len(frames), "max_px": float(distance.max()), "median_px": float(np.median(distance)),
            "within_0.5px": float((distance <= 0.5).mean()),
            "max_likelihood_diff": float(np.abs(jax_poses[..., 2] - onnx_poses[..., 2]).max())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps")
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=2000, help="frames of the analysed video")
    parser.add_argument("--size", type=int, nargs=2, default=[640, 480], metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--compare", type=int, default=16, help="frames compared with ONNX Runtime")
    parser.add_argument("--net", default="resnet_50")
    parser.add_argument("--backbone-features", type=int, default=0, help="narrower backbone (0: standard)")
    parser.add_argument("--net-seconds", type=float, default=3.0, help="network-alone timing per batch size")
    parser.add_argument("--compute-dtype", default="float32", choices=["float32", "bfloat16"],
                        help="pose_cfg compute_dtype: bfloat16 = mixed precision for training and JAX inference")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and a tiny network (any machine)")
    args = parser.parse_args(argv)
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)

    from bench_accuracy import cpu_name

    t0 = time.perf_counter()
    report: dict = {"check": "gpu_check", "smoke": args.smoke, "compute_dtype": args.compute_dtype,
                    **device_info(), "cpu": cpu_name()}
    os.environ["POSEKIT_PREDICT_BACKEND"] = "jax"  # analyze_videos on JAX's device, not ONNX Runtime
    with tempfile.TemporaryDirectory(prefix="posekit-gpu-check-") as tmp:
        work = pathlib.Path(tmp)
        config = build_project(work, args)
        report["train"] = check_train(config, args)
        report["analyze"] = check_analyze(config, work, args)
        report["onnx_vs_jax"] = check_onnx(config, args)
    report["total_s"] = time.perf_counter() - t0
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
