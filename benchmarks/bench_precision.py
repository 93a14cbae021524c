"""Reduced-precision inference: speed and accuracy of int8 and bf16 against float32 on one network.

Usage::

    python benchmarks/bench_precision.py [--config CONFIG] [--work DIR] [--frames 300] [--maxiters 300]
                                         [--variants fp32 fp32-jax int8 int8-all int8-conv1 int8-sym int8-cal128
                                                     int8-mean bf16]
                                         [--batch 8] [--rounds 3] [--resnet50 [--r50-frames 100]] [--smoke]

The network (issue 18's "trained network"):

* default: the demo's (``python -m posekit demo``'s training recipe: a narrow
  ResNet-18 trained from scratch on the synthetic project for ``--maxiters``
  iterations), built in ``--work`` and reused on the next run;
* ``--config``: any trained project (e.g. the Reaching example as a benchmark
  trained it). Its newest snapshot of shuffle 1 is used; its evaluation
  folder gets the ``-int8``/``-bf16`` tagged files, and its ``pose_cfg.yaml``
  is edited per int8 variant and restored at the end. Without a video, one is
  encoded from its labelled images;
* ``--resnet50``: also (speed only) a random-weight ResNet-50 (output stride
  16) on a 640x480 synthetic project, as bench_deeplabcut.py analyses.

Per variant: ``fp32`` (ONNX Runtime); ``fp32-jax`` (float32 with JAX, the
yardstick of bf16's backend); ``bf16`` (JAX in bfloat16); ``int8`` (posekit's
defaults: heads in float32, asymmetric uint8 activations, 32 calibration
frames) and the attempts the issue lists when int8 costs too much:
``int8-all`` (heads quantized too), ``int8-conv1`` (first convolution and
heads in float32), ``int8-sym`` (symmetric activations), ``int8-cal128``
(128 calibration frames), ``int8-mean`` (ranges: the mean of each frame's
min/max instead of the extremes over all frames). Figures:

* frames/s of ``analyze_videos`` on the video, end to end (decode, network,
  files; the network is loaded, compiled and quantized by an untimed warm-up
  call), median of ``--rounds`` rounds that rotate the order, and the ratio
  to float32;
* ``evaluate_network``'s train and test errors (px, DeepLabCut's "RMSE": mean
  distance to the human labels) and the test error's change from float32;
* the largest per-frame deviation from float32's analysis of the video (px,
  the worst body part), its 99th percentile, the mean over frames and body
  parts, and the largest over body parts that both analyses put above
  ``pcutoff``;
* on the demo's synthetic video, the mean error against the exact keypoints.

Every figure names the CPU and its measured float32 peak (cpu_peak.py). Speed
figures are meaningless while another CPU-bound job runs: the script says so
(``contended``) when it sees one. Prints a table and one JSON line
(``RESULT {...}``).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: Variant -> (precision, pose_cfg int8 keys); fp32-jax: float32 on bf16's backend (JAX).
VARIANTS = {
    "fp32": ("fp32", {}),
    "fp32-jax": ("fp32", {}),
    "bf16": ("bf16", {}),
    "int8": ("int8", {}),
    "int8-all": ("int8", {"int8_keep_float": []}),
    "int8-conv1": ("int8", {"int8_keep_float": ["conv1", "heads"]}),
    "int8-sym": ("int8", {"int8_symmetric": True}),
    "int8-cal128": ("int8", {"int8_calibration_frames": 128}),
    "int8-mean": ("int8", {"int8_calibration": "mean_minmax"}),
}


def cpu_description() -> dict:
    """Model name, native low-precision instruction sets, cores and measured float32 peak."""
    from cpu_peak import measured_peak_gflops, nominal_peak_gflops

    try:
        info = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                 "unknown CPU")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    return {"cpu": model, "cores": len(os.sched_getaffinity(0)),
            "low_precision_isa": [f for f in ("avx512_vnni", "avx_vnni", "amx_int8", "avx512_bf16", "amx_bf16")
                                  if f in flags],
            "measured_peak_gflops": round(measured_peak_gflops(), 1),
            "nominal_peak_gflops": nominal_peak_gflops()}


def contended() -> list[str]:
    """Other CPU-bound benchmark processes running now (the accuracy run's training children)."""
    out = subprocess.run(["pgrep", "-af", "child train"], capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if str(os.getpid()) != line.split()[0]]


def demo_project(work: pathlib.Path, frames: int, maxiters: int) -> pathlib.Path:
    """The demo's project and network (trained once, reused)."""
    from posekit.__main__ import DEMO_POSE_CFG
    from posekit.dataset.create import create_training_dataset
    from posekit.datasets import make_synthetic_project
    from posekit.project.config import edit_config
    from posekit.train.trainer import Trainer

    config = pathlib.Path(make_synthetic_project(work / "demo", n_frames=frames, numframes2pick=40, seed=0))
    if not list(config.parent.glob("dlc-models/**/snapshot-*.msgpack")):
        edit_config(config, {"TrainingFraction": [0.8]})
        create_training_dataset(config, net_type="resnet_18", seed=0, pose_cfg_overrides=DEMO_POSE_CFG)
        t0 = time.perf_counter()
        Trainer(config, pretrained=False, maxiters=maxiters, saveiters=maxiters, crop_size=(128, 128),
                seed=0).run()
        print(f"trained the demo network ({maxiters} iterations) in {time.perf_counter() - t0:.0f} s", flush=True)
    return config


def resnet50_project(work: pathlib.Path, frames: int) -> pathlib.Path:
    """A 640x480 synthetic project with a random-weight ResNet-50 snapshot (speed only)."""
    from posekit.dataset import create_training_dataset
    from posekit.datasets import make_synthetic_project
    from posekit.train.trainer import Trainer

    config = pathlib.Path(make_synthetic_project(work / "resnet50", n_frames=frames, numframes2pick=16,
                                                 width=640, height=480, seed=0))
    if not list(config.parent.glob("dlc-models/**/snapshot-*.msgpack")):
        create_training_dataset(config, net_type="resnet_50", seed=0)
        Trainer(config, maxiters=1, pretrained=False, batch_size=1, crop_size=(64, 64)).save()
    return config


def project_video(config: pathlib.Path, work: pathlib.Path) -> pathlib.Path:
    """The project's first video, or one encoded from its labelled images."""
    from posekit.io.images import read_image
    from posekit.io.video_writer import write_video
    from posekit.project import Project

    project = Project.open(config)
    for stem in project.video_stems():
        path = project.video_path(stem)
        if path.is_file():
            return path
    images = sorted(project.root.glob("labeled-data/*/*.png"))
    video = work / f"{project.root.name}-labelled.mp4"
    if not video.is_file():
        write_video(video, (read_image(p) for p in images), fps=30.0)
    return video


def _pose_cfg(config: pathlib.Path) -> pathlib.Path:
    from posekit.predict.predictor import selected_snapshot
    from posekit.project import Project

    train_dir, _, _ = selected_snapshot(Project.open(config))
    return train_dir / "pose_cfg.yaml"


def _set_int8_keys(pose_cfg: pathlib.Path, original: str, keys: dict) -> None:
    import yaml

    pose_cfg.write_text(original + (yaml.safe_dump(keys) if keys else ""))


def _deviation(ref, other, pcutoff: float) -> dict:
    import numpy as np

    dist = np.linalg.norm(other[..., :2] - ref[..., :2], axis=-1)  # (frames, J)
    worst = dist.max(axis=1)
    confident = np.where((ref[..., 2] > pcutoff) & (other[..., 2] > pcutoff), dist, np.nan)
    worst_conf = np.nanmax(np.where(np.isnan(confident), -np.inf, confident), axis=1)
    worst_conf = worst_conf[np.isfinite(worst_conf)]
    return {"max_px": float(worst.max()), "p99_px": float(np.percentile(worst, 99)),
            "mean_px": float(dist.mean()), "median_px": float(np.median(dist)),
            "frames_over_1px": float((worst > 1).mean()),
            "confident_max_px": float(worst_conf.max()) if worst_conf.size else None,
            "confident_p99_px": float(np.percentile(worst_conf, 99)) if worst_conf.size else None}


def measure(config: pathlib.Path, video: pathlib.Path, variants: list[str], args, out: pathlib.Path,
            accuracy: bool = True, demo: bool = False) -> dict:
    """Speed, errors and deviation of each variant on one network (see the module docstring)."""
    import numpy as np

    from posekit.datasets import synthetic_keypoints
    from posekit.predict.analyze import analyze_videos
    from posekit.predict.evaluate import evaluate_network
    from posekit.predict.results import find_analysis_file, poses_from_dataframe, read_poses
    from posekit.project import Project
    from posekit.viz.style import PlotStyle

    pose_cfg = _pose_cfg(config)
    original = pose_cfg.read_text()
    results = {v: {"seconds": []} for v in variants}
    try:
        def analyse(variant: str) -> float:
            precision, keys = VARIANTS[variant]
            _set_int8_keys(pose_cfg, original, keys)
            backend = os.environ.pop("POSEKIT_PREDICT_BACKEND", None)
            if variant == "fp32-jax":
                os.environ["POSEKIT_PREDICT_BACKEND"] = "jax"
            try:
                t0 = time.perf_counter()
                analyze_videos(config, video, batchsize=args.batch, destfolder=out / variant, overwrite=True,
                               precision=precision)
                return time.perf_counter() - t0
            finally:
                os.environ.pop("POSEKIT_PREDICT_BACKEND", None)
                if backend is not None:
                    os.environ["POSEKIT_PREDICT_BACKEND"] = backend

        for variant in variants:  # warm-up: load, compile, quantize (untimed)
            results[variant]["warmup_s"] = analyse(variant)
        for rnd in range(args.rounds):
            order = variants[rnd % len(variants):] + variants[:rnd % len(variants)]
            for variant in order:
                results[variant]["seconds"].append(analyse(variant))
        scorer_poses = {}
        for variant in variants:
            h5 = find_analysis_file(video, shuffle=1, destfolder=out / variant)
            scorer_poses[variant], _, _ = poses_from_dataframe(read_poses(h5))
        n = len(scorer_poses[variants[0]])
        pcutoff = PlotStyle.from_config(Project.open(config).cfg).pcutoff
        truth = synthetic_keypoints(n) if demo else None  # the demo video's exact keypoints (320x240)
        for variant in variants:
            r = results[variant]
            r["fps"] = n / statistics.median(r["seconds"])
            if accuracy and "fp32" in results:  # random weights: saturated outputs, no meaning
                r["deviation"] = _deviation(scorer_poses["fp32"], scorer_poses[variant], pcutoff)
            if accuracy and truth is not None:
                r["video_error_px"] = float(np.linalg.norm(scorer_poses[variant][..., :2] - truth, axis=-1).mean())
            if accuracy:
                precision, keys = VARIANTS[variant]
                _set_int8_keys(pose_cfg, original, keys)
                (e,) = evaluate_network(config, precision=precision, show_errors=False).evaluations
                r["train_error_px"], r["test_error_px"] = e.train_error, e.test_error
        return {"frames": n, "variants": results}
    finally:
        pose_cfg.write_text(original)


def report(name: str, measured: dict) -> None:
    rows = measured["variants"]
    ref = rows.get("fp32")
    print(f"\n{name}: {measured['frames']} frames")
    print(f"  {'variant':<12}{'frames/s':>10}{'x fp32':>8}{'train px':>10}{'test px':>9}{'d test':>8}"
          f"{'max dev':>9}{'p99 dev':>9}{'mean dev':>9}{'conf max':>10}{'video err':>10}")
    for variant, r in rows.items():
        dev = r.get("deviation", {})
        test = r.get("test_error_px")

        def fmt(v, w, p=2):
            return f"{v:>{w}.{p}f}" if isinstance(v, float) else f"{'-':>{w}}"

        print(f"  {variant:<12}{fmt(r['fps'], 10)}{fmt(r['fps'] / ref['fps'] if ref else None, 8)}"
              f"{fmt(r.get('train_error_px'), 10)}{fmt(test, 9)}"
              f"{fmt(test - ref['test_error_px'] if ref and test is not None and 'test_error_px' in ref else None, 8)}"
              f"{fmt(dev.get('max_px'), 9)}{fmt(dev.get('p99_px'), 9)}{fmt(dev.get('mean_px'), 9)}"
              f"{fmt(dev.get('confident_max_px'), 10)}{fmt(r.get('video_error_px'), 10)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=pathlib.Path, help="a trained project (default: the demo's network)")
    parser.add_argument("--work", type=pathlib.Path, default=pathlib.Path("/tmp/posekit-bench-precision"))
    parser.add_argument("--frames", type=int, default=300, help="frames of the synthetic videos")
    parser.add_argument("--maxiters", type=int, default=300, help="the demo network's training iterations")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS),
                        default=["fp32", "fp32-jax", "int8", "int8-all", "int8-conv1", "int8-sym", "int8-cal128",
                                 "int8-mean", "bf16"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--resnet50", action="store_true", help="also time a random-weight ResNet-50, 640x480")
    parser.add_argument("--r50-frames", type=int, default=100, help="frames of the ResNet-50 video")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script, figures mean nothing")
    args = parser.parse_args()
    if args.smoke:
        args.frames, args.maxiters, args.rounds, args.r50_frames = 40, 20, 1, 6
        args.work = args.work / "smoke"
    args.work.mkdir(parents=True, exist_ok=True)

    others = contended()
    cpu = cpu_description()
    print(f"CPU: {cpu['cpu']}, {cpu['cores']} cores, measured float32 peak {cpu['measured_peak_gflops']:.0f} "
          f"GFLOP/s (cpu_peak.py), native: {', '.join(cpu['low_precision_isa']) or 'no VNNI/BF16/AMX'}")
    if others:
        print(f"WARNING: {len(others)} other CPU-bound benchmark process(es) running: the speed figures are "
              "meaningless (contended)", flush=True)
    config = args.config or demo_project(args.work, args.frames, args.maxiters)
    video = project_video(config, args.work)
    out = args.work / "out"
    shutil.rmtree(out, ignore_errors=True)
    result = {**cpu, "contended": bool(others or contended()), "batch": args.batch, "rounds": args.rounds}
    name = f"network of {config}"
    result["network"] = {"config": str(config), **measure(config, video, list(args.variants), args,
                                                           out / "network", demo=args.config is None)}
    report(name, result["network"])
    if args.resnet50:
        r50 = resnet50_project(args.work, args.r50_frames)
        speed = [v for v in args.variants if v in ("fp32", "fp32-jax", "int8", "bf16")]
        result["resnet50"] = measure(r50, project_video(r50, args.work), speed, args, out / "resnet50",
                                     accuracy=False)
        report("ResNet-50 (random weights, stride 16, 640x480; speed only)", result["resnet50"])
    result["contended"] = result["contended"] or bool(contended())
    print(f"\n(CPU: {cpu['cpu']}, measured float32 peak {cpu['measured_peak_gflops']:.0f} GFLOP/s"
          f"{'; CONTENDED: speed figures meaningless' if result['contended'] else ''})")
    print("RESULT " + json.dumps(result, default=str))


if __name__ == "__main__":
    main()
