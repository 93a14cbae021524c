"""Benchmark posekit.analyze_videos: frames/s and peak memory on a 640x480 video.

Usage::

    python benchmarks/bench_analyze.py [--frames 200] [--width 640] [--height 480]
                                       [--batches 1 8 32] [--net-seconds 20]
                                       [--memory-frames 2000 8000] [--memory-size 160 120]
                                       [--backends jax onnx]

Builds a throw-away project in a temporary folder with randomly initialised
snapshots (speed does not depend on the weights): shuffle 1 resnet_50
(output stride 16, DeepLabCut's default) and shuffle 2 a tiny resnet_18 (8 base
features). Each measurement runs in its own child process, so its peak RSS
(``resource.getrusage``) is its own; the XLA compilation cache is shared, and
each child first analyses a short clip so compilation is not timed. Prints:

* GFLOP per frame of resnet_50 at the video's size (XLA's count of the
  jitted forward pass) and this CPU's measured float32 peak
  (``cpu_peak.py``), so each frames/s figure also reads as a fraction of peak;
* ``analyze_videos``: frames/s of the decode + predict loop (without the
  first batch's dispatch, where JAX traces the network and loads it from the
  compilation cache; "(all)" with it, and that "startup" time), wall time of
  the whole call (loading, writing included) and peak RSS, for resnet_50 at
  each batch size, for each predictor backend asked for
  (``POSEKIT_PREDICT_BACKEND``: ``jax``, ``onnx`` when onnxruntime is
  installed);
* the network alone (``Predictor.predict`` on one preloaded batch, in a loop)
  and decoding alone (``VideoReader.iter_frames``): if decoding overlaps the
  device, analysis runs at about the network's speed, not at
  ``1 / (1/network + 1/decode)`` ("serial");
* peak RSS of the tiny network on videos of different lengths at a small
  resolution (streaming: memory must not grow with the video).

Figures only, no assertions. On a shared machine the timings are noisy.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NETS = {1: ("resnet_50", {}), 2: ("resnet_18", {"backbone_features": 8})}
LABELS = {1: "resnet_50", 2: "tiny r18/8"}


def _has_onnxruntime() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- #
# Children
# --------------------------------------------------------------------------- #


def child_analyze(spec: dict) -> dict:
    import numpy as np

    from posekit.io.video import VideoReader
    from posekit.predict.analyze import analyze_videos
    from posekit.predict.predictor import load_predictor

    work = pathlib.Path(spec["work"])
    batch, shuffle = spec["batch"], spec["shuffle"]
    # float32 on every backend: this compares backends (bench_precision.py compares precisions)
    analyze_videos(spec["config"], spec["warmup"], shuffle=shuffle, batchsize=batch,
                   destfolder=work / "warm", overwrite=True, precision="fp32")  # compiles (cached for the run)
    t0 = time.perf_counter()
    result = analyze_videos(spec["config"], spec["video"], shuffle=shuffle, batchsize=batch,
                            destfolder=work / f"out-{shuffle}-{batch}", overwrite=True, precision="fp32")
    wall = time.perf_counter() - t0
    record = result.videos[0]
    out = {"backend": os.environ.get("POSEKIT_PREDICT_BACKEND", "auto"), "frames": record.nframes,
           "loop_fps": record.frames_per_second, "steady_fps": record.steady_frames_per_second,
           "startup_s": record.startup_seconds, "wall_s": wall, "peak_rss_mb": _peak_rss_mb()}
    if spec.get("net_seconds"):
        predictor = load_predictor(spec["config"], shuffle, batch_size=batch)
        with VideoReader(spec["video"]) as reader:
            frames = np.stack([f for _, f in reader.iter_frames(stop=batch)])
        predictor.predict(frames)  # compile
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < spec["net_seconds"] or n < 2 * batch:
            predictor.predict(frames)
            n += batch
        out["net_fps"] = n / (time.perf_counter() - t0)
    return out


def child_flops(spec: dict) -> dict:
    import jax
    import jax.numpy as jnp
    from cpu_peak import measured_peak_gflops

    from posekit.predict.predictor import load_predictor

    predictor = load_predictor(spec["config"], 1, batch_size=1, backend="jax")
    frames = jnp.zeros((1, spec["height"], spec["width"], 3), jnp.uint8)
    lowered = jax.jit(predictor.model.apply).lower(predictor.variables, frames.astype(jnp.float32))
    cost = lowered.compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return {"gflop_per_frame": float(cost["flops"]) / 1e9, "peak_gflops": measured_peak_gflops()}


def child_decode(spec: dict) -> dict:
    from posekit.io.video import VideoReader

    t0 = time.perf_counter()
    with VideoReader(spec["video"]) as reader:
        n = sum(1 for _ in reader.iter_frames())
    return {"frames": n, "decode_fps": n / (time.perf_counter() - t0), "peak_rss_mb": _peak_rss_mb()}


def child_setup(spec: dict) -> dict:
    from posekit.datasets import make_synthetic_video

    work = pathlib.Path(spec["work"])
    size = (spec["width"], spec["height"])
    config = make_project(work)
    video = work / f"video_{spec['frames']}.mp4"
    make_synthetic_video(video, spec["frames"], *size, seed=1)
    warmup = work / "warmup.mp4"
    make_synthetic_video(warmup, 40, *size, seed=2)
    small_warmup = work / "warmup_small.mp4"
    make_synthetic_video(small_warmup, 16, *spec["memory_size"], seed=2)
    memory = []
    for n in spec["memory_frames"]:
        memory.append(str(work / f"memory_{n}.mp4"))
        make_synthetic_video(memory[-1], n, *spec["memory_size"], seed=3)
    return {"config": str(config), "video": str(video), "warmup": str(warmup),
            "small_warmup": str(small_warmup), "memory": memory}


def run_child(kind: str, spec: dict, env: dict) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, json.dumps(spec)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"child {kind} {spec} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- #
# Setup
# --------------------------------------------------------------------------- #


def make_project(work: pathlib.Path) -> pathlib.Path:
    """A small labelled project with one random-init snapshot per benchmarked network."""
    from posekit.dataset import create_training_dataset
    from posekit.datasets import make_synthetic_project
    from posekit.train.trainer import Trainer

    config = pathlib.Path(make_synthetic_project(work / "project", n_frames=40, numframes2pick=4, seed=0))
    for shuffle, (net, extra) in NETS.items():
        create_training_dataset(config, Shuffles=[shuffle], net_type=net, seed=0)
        trainer = Trainer(config, shuffle=shuffle, maxiters=1, pretrained=False, batch_size=1,
                          crop_size=(64, 64), model_overrides={"net_type": net, **extra})
        trainer.save()  # snapshot-0: random weights, same speed as trained ones
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="frames of the analysed video")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 8, 32],
                        help="batch sizes timed for resnet_50")
    parser.add_argument("--net-seconds", type=float, default=20.0,
                        help="how long the network-alone loop runs")
    parser.add_argument("--memory-frames", type=int, nargs="*", default=[2000, 8000],
                        help="video lengths for the memory check (tiny network)")
    parser.add_argument("--memory-size", type=int, nargs=2, default=[160, 120], metavar=("WIDTH", "HEIGHT"),
                        help="frame size of the memory-check videos")
    parser.add_argument("--backends", nargs="*", default=["jax", "onnx"],
                        help="predictor backends to time (POSEKIT_PREDICT_BACKEND); onnx is "
                             "skipped when onnxruntime is not installed")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, spec = args.child[0], json.loads(args.child[1])
        children = {"setup": child_setup, "analyze": child_analyze, "decode": child_decode, "flops": child_flops}
        print(json.dumps(children[kind](spec)))
        return

    # This process imports neither JAX nor posekit: a child's peak RSS
    # (getrusage, which survives fork + exec) then starts from a small floor.
    with tempfile.TemporaryDirectory(prefix="posekit-bench-analyze-") as tmp:
        work = pathlib.Path(tmp)
        env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(work / "xla-cache"),
                   JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
        print(f"setting up in {work} ...", flush=True)
        made = run_child("setup", {"work": str(work), "frames": args.frames, "width": args.width,
                                   "height": args.height, "memory_frames": args.memory_frames,
                                   "memory_size": args.memory_size}, env)
        config, video, warmup = made["config"], made["video"], made["warmup"]
        print(f"video: {args.frames} frames {args.width}x{args.height} (H.264); cores: {os.cpu_count()}; "
              f"load average: {os.getloadavg()[0]:.1f}", flush=True)

        flops = run_child("flops", {"config": str(config), "width": args.width, "height": args.height}, env)
        gflop, peak = flops["gflop_per_frame"], flops["peak_gflops"]
        print(f"resnet_50 forward pass: {gflop:.1f} GFLOP/frame; this CPU's measured float32 peak: "
              f"{peak:.0f} GFLOP/s (so 1 frame/s = {gflop / peak:.0%} of peak)", flush=True)

        decode = run_child("decode", {"video": str(video)}, env)
        print(f"\ndecoding alone (VideoReader.iter_frames): {decode['decode_fps']:.1f} frames/s, "
              f"peak RSS {decode['peak_rss_mb']:.0f} MB", flush=True)

        backends = [b for b in args.backends if b != "onnx" or _has_onnxruntime()]
        print("\nanalyze_videos, resnet_50 (compilation not timed; % = share of the CPU's peak)")
        header = (f"{'backend':<8}{'batch':>6}{'frames':>8}{'analyze f/s':>13}{'(all) f/s':>11}"
                  f"{'startup s':>11}{'network f/s':>13}{'net % peak':>12}{'serial f/s':>12}"
                  f"{'wall s':>9}{'peak RSS MB':>13}")
        print(header + "\n" + "-" * len(header), flush=True)
        for backend, batch in itertools.product(backends, args.batches):
            spec = {"config": str(config), "shuffle": 1, "batch": batch, "video": str(video),
                    "warmup": str(warmup), "work": str(work), "net_seconds": args.net_seconds}
            r = run_child("analyze", spec, dict(env, POSEKIT_PREDICT_BACKEND=backend))
            serial = 1.0 / (1.0 / r["net_fps"] + 1.0 / decode["decode_fps"])
            print(f"{backend:<8}{batch:>6}{r['frames']:>8}{r['steady_fps']:>13.2f}{r['loop_fps']:>11.2f}"
                  f"{r['startup_s']:>11.1f}{r['net_fps']:>13.2f}{r['net_fps'] * gflop / peak:>12.0%}"
                  f"{serial:>12.2f}{r['wall_s']:>9.1f}{r['peak_rss_mb']:>13.0f}", flush=True)

        if args.memory_frames:
            width, height = args.memory_size
            print(f"\nmemory vs video length ({width}x{height}, tiny resnet_18 with 8 base features, "
                  f"batch 8, {backends[0]})")
            print(f"{'frames':>8}{'analyze f/s':>13}{'peak RSS MB':>13}", flush=True)
            for long_video in made["memory"]:
                spec = {"config": str(config), "shuffle": 2, "batch": 8, "video": str(long_video),
                        "warmup": made["small_warmup"], "work": str(work), "net_seconds": 0}
                r = run_child("analyze", spec, dict(env, POSEKIT_PREDICT_BACKEND=backends[0]))
                print(f"{r['frames']:>8}{r['steady_fps']:>13.2f}{r['peak_rss_mb']:>13.0f}", flush=True)


if __name__ == "__main__":
    main()
