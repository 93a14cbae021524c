"""Benchmark dynamic cropping: frames/s with and without it, and how far its predictions move.

Usage::

    python benchmarks/bench_dynamic_crop.py [--frames 120] [--maxiters 300] [--batch 1]
                                            [--pcutoff 0.5] [--margins 20 40]
                                            [--resnet50-repeats 2] [--config CONFIG] [--keep DIR]

Trains the demo's network (a narrow ResNet-18, ``python -m posekit demo``'s
budget; or reuses ``--config``'s shuffle 1) on the synthetic project
(320x240), then analyses a synthetic 1280x1024 video in which the same small
animal (about 100x100 px) roams the arena. Per margin it runs the analysis
loop of ``analyze_videos`` (decode + predict, :func:`predict_frames`) on the
full frames and with dynamic cropping (:func:`predict_frames_dynamic`), each
after a warm-up pass over the first frames, and prints:

* frames/s of both and the speed-up;
* the share of frames predicted from a window, the window shapes used;
* the distance between the dynamic and the full-frame predictions over the
  frames the dynamic run tracked (share of body parts within 1 px, largest,
  99th percentile, median; largest over the confident parts), and both runs'
  mean error against the exact keypoints.

With ``--resnet50-repeats`` > 0 it also times a random-weight ResNet-50
(DeepLabCut's default network, stride 16; speed does not depend on weights)
on one full frame and on one frame of each window shape the tracked run used,
and estimates the frames/s of the network alone with and without cropping
from the number of frames each shape got (decoding not included: at ResNet-50
speeds on a CPU it is a few percent).

Figures only, no assertions; the CPU's name and measured float32 peak come
first. On a shared machine the timings are noisy.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

WIDTH, HEIGHT = 1280, 1024


def train_demo_network(work: pathlib.Path, maxiters: int) -> pathlib.Path:
    """The demo's project and network (``python -m posekit demo``'s recipe), trained ``maxiters`` steps."""
    from posekit.__main__ import DEMO_POSE_CFG
    from posekit.dataset.create import create_training_dataset
    from posekit.datasets import make_synthetic_project
    from posekit.project.config import edit_config
    from posekit.train.trainer import Trainer

    config = pathlib.Path(make_synthetic_project(work / "project", n_frames=300, numframes2pick=40, seed=0))
    edit_config(config, {"TrainingFraction": [0.8]})
    create_training_dataset(config, net_type="resnet_18", seed=0, pose_cfg_overrides=DEMO_POSE_CFG)
    t0 = time.perf_counter()
    Trainer(config, pretrained=False, maxiters=maxiters, saveiters=maxiters, crop_size=(128, 128), seed=0).run()
    print(f"trained the demo network ({maxiters} iterations) in {time.perf_counter() - t0:.0f} s", flush=True)
    return config


def add_resnet50(config: pathlib.Path) -> None:
    """Shuffle 2: a random-weight ResNet-50 snapshot (stride 16), for timing only."""
    from posekit.dataset import create_training_dataset
    from posekit.train.trainer import Trainer

    try:
        create_training_dataset(config, Shuffles=[2], net_type="resnet_50", seed=0)
    except FileExistsError:
        return  # a kept project (--config) has it already
    Trainer(config, shuffle=2, maxiters=1, pretrained=False, batch_size=1, crop_size=(64, 64),
            model_overrides={"net_type": "resnet_50"}).save()


def run_loop(predictor, video: pathlib.Path, dynamic, stop: int | None = None) -> tuple:
    """(poses, seconds, stats) of the analysis loop over ``video`` (full frames when ``dynamic`` is None)."""
    from posekit.io.video import VideoReader
    from posekit.predict.dynamic_crop import predict_frames_dynamic
    from posekit.predict.frame_loop import predict_frames

    stats: dict = {}
    with VideoReader(video) as reader:
        frames = reader.iter_frames(0, stop, prefetch=max(16, 2 * predictor.batch_size))
        t0 = time.perf_counter()
        if dynamic is None:
            poses, failure = predict_frames(predictor, frames, reader.shape, stats=stats)
        else:
            poses, failure = predict_frames_dynamic(predictor, frames, reader.shape, dynamic, stats=stats)
        seconds = time.perf_counter() - t0
    if failure is not None:
        raise failure
    return poses, seconds, stats


def time_shape(predictor, shape: tuple[int, int], repeats: int) -> float:
    """Best seconds of ``predictor.predict`` on one ``(1, *shape, 3)`` frame (after a warm-up call)."""
    import numpy as np

    frames = np.random.default_rng(0).integers(0, 255, (1, *shape, 3), dtype=np.uint8)
    predictor.predict(frames)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        predictor.predict(frames)
        best = min(best, time.perf_counter() - t0)
    return best


def summary(values, fn) -> float:
    """``fn(values)``, or NaN when nothing was tracked."""
    return float(fn(values)) if len(values) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="frames of the 1280x1024 video")
    parser.add_argument("--maxiters", type=int, default=300, help="training iterations of the demo network")
    parser.add_argument("--batch", type=int, default=1, help="frames per network call")
    parser.add_argument("--pcutoff", type=float, default=0.5)
    parser.add_argument("--margins", type=int, nargs="+", default=[20, 40])
    parser.add_argument("--warmup", type=int, default=8, help="frames analysed before timing")
    parser.add_argument("--resnet50-repeats", type=int, default=2,
                        help="timed ResNet-50 calls per shape (0: skip ResNet-50)")
    parser.add_argument("--config", type=pathlib.Path, help="a project whose shuffle 1 is already trained")
    parser.add_argument("--keep", type=pathlib.Path, help="work in this folder and keep it (reuse with --config)")
    args = parser.parse_args()

    import numpy as np
    from bench_accuracy import cpu_name
    from cpu_peak import measured_peak_gflops

    from posekit.datasets import make_synthetic_video
    from posekit.predict.dynamic_crop import DynamicCropping, tracked
    from posekit.predict.predictor import load_predictor

    print(f"CPU: {cpu_name()}, {len(os.sched_getaffinity(0))} cores, measured float32 peak "
          f"{measured_peak_gflops():.0f} GFLOP/s; load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="posekit-bench-dynamic-") as tmp:
        work = args.keep or pathlib.Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        config = args.config or train_demo_network(work, args.maxiters)
        video = work / "arena.mp4"
        truth = make_synthetic_video(video, args.frames, WIDTH, HEIGHT, seed=5, animal_scale=1.0)
        predictor = load_predictor(config, 1, batch_size=args.batch)
        print(f"video: {args.frames} frames {WIDTH}x{HEIGHT}, animal about 100x100 px; network "
              f"{predictor.model.net_type} ({predictor.backend}), batch {args.batch}, pcutoff {args.pcutoff}",
              flush=True)

        run_loop(predictor, video, None, stop=args.warmup)
        full, full_s, _ = run_loop(predictor, video, None)
        full_fps = len(full) / full_s
        full_err = np.linalg.norm(full[..., :2] - truth, axis=-1)
        print(f"\nfull frames: {full_fps:.2f} frames/s, mean error vs truth {full_err.mean():.2f} px, "
              f"frames tracked {tracked(full, args.pcutoff).mean():.0%}", flush=True)
        header = (f"{'margin':>7}{'frames/s':>10}{'speed-up':>10}{'cropped':>9}{'refetched':>11}"
                  f"{'tracked':>9}{'<=1 px':>8}{'max px':>8}{'p99 px':>8}{'median px':>11}{'conf. max px':>14}"
                  f"{'err vs truth':>14}  windows (h x w: frames)")
        print(header + "\n" + "-" * len(header), flush=True)
        usage = {}
        for margin in args.margins:
            dynamic = DynamicCropping(args.pcutoff, margin)
            run_loop(predictor, video, dynamic, stop=args.warmup)
            poses, seconds, stats = run_loop(predictor, video, dynamic)
            fps = len(poses) / seconds
            on = tracked(poses, args.pcutoff)
            distance = np.linalg.norm(poses[..., :2] - full[..., :2], axis=-1)[on]
            confident = (poses[..., 2] > args.pcutoff)[on]
            err = np.linalg.norm(poses[..., :2] - truth, axis=-1).mean()
            shapes = ", ".join(f"{h}x{w}: {n}" for (h, w), n in sorted(stats["window_shapes"].items()))
            print(f"{margin:>7}{fps:>10.2f}{fps / full_fps:>9.2f}x{stats['frames_cropped'] / len(poses):>9.0%}"
                  f"{stats['frames_refetched']:>11}{on.mean():>9.0%}"
                  f"{summary(distance, lambda d: np.mean(d <= 1.0)):>8.1%}{summary(distance, np.max):>8.2f}"
                  f"{summary(distance, lambda d: np.percentile(d, 99)):>8.2f}{summary(distance, np.median):>11.2f}"
                  f"{summary(distance[confident], np.max):>14.2f}{err:>14.2f}  {shapes}", flush=True)
            usage[margin] = (stats, len(poses))

        if args.resnet50_repeats > 0:
            add_resnet50(config)
            r50 = load_predictor(config, 2, batch_size=1)
            t_full = time_shape(r50, (HEIGHT, WIDTH), args.resnet50_repeats)
            print(f"\nResNet-50 (random weights, {r50.backend}), network alone, batch 1: full frame "
                  f"{1 / t_full:.2f} frames/s", flush=True)
            times = {}
            for margin, (stats, n) in usage.items():
                for shape in stats["window_shapes"]:
                    if shape not in times:
                        times[shape] = time_shape(r50, shape, args.resnet50_repeats)
                cropped = sum(stats["window_shapes"].values())
                total = sum(k * times[s] for s, k in stats["window_shapes"].items()) \
                    + (n - cropped + stats["frames_refetched"]) * t_full
                print(f"  margin {margin}: with the windows the tracked run used, {n / total:.2f} frames/s "
                      f"(estimate, {t_full * n / total:.1f}x)", flush=True)
            print("  per window: " + ", ".join(f"{h}x{w} {1 / t:.1f} frames/s" for (h, w), t in sorted(times.items())))


if __name__ == "__main__":
    main()
