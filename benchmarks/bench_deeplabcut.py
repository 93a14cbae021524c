"""Measure posekit against DeepLabCut on this machine: training and video analysis.

Usage::

    python benchmarks/bench_deeplabcut.py --dlc-python PATH [--rounds 2] [--batches 1 8]
                                          [--frames 200] [--short-frames 40] [--train-steps 8]
                                          [--skip-train] [--skip-analyze] [--keep DIR]
                                          [--precision fp32 int8 bf16]

``PATH`` is a Python interpreter that has DeepLabCut 3.0.2 (PyTorch engine),
for example a virtual environment made with::

    python -m venv /tmp/dlcenv
    /tmp/dlcenv/bin/pip install torch==2.14.1 torchvision==0.29.1 deeplabcut==3.0.2

The issues' bars for DeepLabCut were measured on one CPU; a figure for posekit
means something only beside DeepLabCut's on the same CPU, at the same time. This
script runs both, each in its own process (so each peak RSS is its own), on two
copies of the same synthetic project (640x480, 16 labelled frames), in
``--rounds`` rounds that alternate which tool goes first (the machine's load
drifts), and prints each round and the median ratios:

* training: ResNet-50 from random weights, 448x448 crops, batch 8 (DeepLabCut:
  its default ``resnet_50`` model, ``resnet50_gn``, and its own crop sampling;
  posekit: ``bench_train.py``'s child, the real jitted train step, in the
  variants of ``--posekit-train``: ``scratch`` batch norm trained on the whole
  batch (the default from random init), ``scratch-1`` the same in gradient
  slices of one image, ``pretrained`` batch norm frozen as when starting from
  ImageNet weights, the default, in slices of one image; the weights' values
  do not change the speed) - images/s over the steps after the first two, and
  peak RSS;
* analysis: ``analyze_videos`` of ResNet-50 (output stride 16) on the CPU, for
  each batch size: in one process, a warm-up call on the short video, then the
  short and the long video; frames/s = extra frames / extra seconds between
  the two (model loading and other per-call costs cancel) and, for the whole
  long call, frames / seconds; peak RSS. posekit uses its default backend
  (ONNX Runtime on a CPU) at each ``--precision`` (default ``fp32``; ``int8``
  quantizes the snapshot once before the rounds, calibrated on the project's
  training images, so every timed call and peak RSS uses the cached int8
  model; ``bf16`` runs JAX). Each precision is a tool of its own (``posekit:int8``) in the
  table and in the ratios against DeepLabCut.

Figures only, no assertions; a run takes about 20 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- #
# posekit children (this file run with --child)
# --------------------------------------------------------------------------- #


def child_setup(spec: dict) -> dict:
    """Both projects, the videos, posekit's training sets and an analysis snapshot."""
    from posekit.dataset import create_training_dataset
    from posekit.datasets import make_synthetic_project, make_synthetic_video
    from posekit.train.trainer import Trainer

    work = pathlib.Path(spec["work"])
    configs = {tool: make_synthetic_project(work / tool, n_frames=120, numframes2pick=16,
                                            width=640, height=480, seed=0)
               for tool in ("posekit", "deeplabcut")}
    # shuffle 1: timed training; shuffle 2: a random-init snapshot (speed does not depend on weights)
    create_training_dataset(configs["posekit"], Shuffles=[1, 2], net_type="resnet_50", seed=0)
    Trainer(configs["posekit"], shuffle=2, maxiters=1, pretrained=False, batch_size=1, crop_size=(64, 64)).save()
    videos = {}
    for name, frames, seed in (("warmup", spec["short_frames"], 2), ("short", spec["short_frames"], 3),
                               ("long", spec["frames"], 1)):
        videos[name] = str(work / f"{name}_{frames}.mp4")
        make_synthetic_video(videos[name], frames, 640, 480, seed=seed)
    return {"configs": configs, "videos": videos}


def child_prepare(spec: dict) -> dict:
    """Build the cached int8 model of the analysis snapshot (so no timed call quantizes)."""
    from posekit.predict.predictor import load_predictor

    load_predictor(spec["config"], shuffle=2, precision=spec["precision"])
    return {}


def child_analyze(spec: dict) -> dict:
    """posekit's analyze_videos on the warm-up, short and long videos; wall time of each call."""
    from posekit.predict.analyze import analyze_videos

    seconds = []
    for i, video in enumerate(spec["videos"]):
        t0 = time.perf_counter()
        analyze_videos(spec["config"], video, shuffle=2, batchsize=spec["batch"],
                       destfolder=pathlib.Path(spec["outdir"]) / f"call{i}", overwrite=True,
                       precision=spec.get("precision", "fp32"))
        seconds.append(time.perf_counter() - t0)
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


# --------------------------------------------------------------------------- #
# Driver (imports neither posekit nor JAX: the children's peak RSS starts low)
# --------------------------------------------------------------------------- #


def _last_json(stdout: str, prefix: str = "") -> dict:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith(prefix):
            return json.loads(line[len(prefix):])
    raise RuntimeError(f"no result line in:\n{stdout[-3000:]}")


def _run(cmd: list[str], prefix: str = "") -> dict:
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({res.returncode}):\n"
                           f"{res.stdout[-2000:]}\n{res.stderr[-4000:]}")
    return _last_json(res.stdout, prefix)


def _posekit_child(kind: str, spec: dict) -> dict:
    return _run([sys.executable, __file__, "--child", kind, json.dumps(spec)])


def _dlc_child(dlc_python: str, *args: str) -> dict:
    return _run([dlc_python, str(HERE / "deeplabcut_child.py"), *args], prefix="RESULT ")


# posekit's training variants: (batch norm, images per gradient slice; -1 = the trainer's choice)
TRAIN_VARIANTS = {
    "scratch": ("trained", -1),     # from random init: batch norm trained, whole batch
    "scratch-1": ("trained", 1),    # the same in slices of 1 image (micro_batch_size=1)
    "pretrained": ("frozen", -1),   # the default path (ImageNet weights): batch norm frozen, slices of 1
}


def train_round(args: argparse.Namespace, configs: dict, first: str) -> dict:
    """One training measurement per tool (posekit: per variant), ``first`` first."""
    out = {}
    tools = ["deeplabcut", *(f"posekit:{v}" for v in args.posekit_train)]
    for tool in (tools if first == "deeplabcut" else tools[1:] + tools[:1]):
        if tool == "deeplabcut":
            out[tool] = _dlc_child(args.dlc_python, "train", configs[tool], str(args.train_steps))
        else:
            bn, micro = TRAIN_VARIANTS[tool.split(":")[1]]
            out[tool] = _run([sys.executable, str(HERE / "bench_train.py"), "--child", configs["posekit"],
                              "resnet_50", "448", "8", str(max(args.train_steps - 2, 1)), str(micro), bn])
        print(f"  {tool:<21}{out[tool]['images_per_s']:>10.2f}{out[tool]['peak_rss_mb']:>14.0f}", flush=True)
    return out


def analyze_round(args: argparse.Namespace, made: dict, work: pathlib.Path, batch: int, rnd: int,
                  first: str) -> dict:
    """One analysis measurement per tool at one batch size, ``first`` first."""
    videos = [made["videos"][k] for k in ("warmup", "short", "long")]
    out = {}
    tools = [_posekit_tool(p) for p in args.precision]
    for tool in (["deeplabcut", *tools] if first == "deeplabcut" else [*tools, "deeplabcut"]):
        outdir = str(work / f"out-{tool.replace(':', '-')}-b{batch}-r{rnd}")
        if tool == "deeplabcut":
            r = _dlc_child(args.dlc_python, "analyze", made["configs"][tool], str(batch), outdir, *videos)
        else:
            precision = tool.partition(":")[2] or "fp32"
            r = _posekit_child("analyze", {"config": made["configs"]["posekit"], "batch": batch,
                                           "outdir": outdir, "videos": videos, "precision": precision})
        _, short_s, long_s = r["seconds"]
        r["fps"] = (args.frames - args.short_frames) / (long_s - short_s)
        r["whole_fps"] = args.frames / long_s
        out[tool] = r
        print(f"  {tool:<13}{batch:>6}{r['fps']:>12.2f}{r['whole_fps']:>14.2f}{r['peak_rss_mb']:>14.0f}",
              flush=True)
    return out


def _posekit_tool(precision: str) -> str:
    """The table's name of posekit at ``precision`` (``posekit`` for float32, else ``posekit:int8``)."""
    return "posekit" if precision == "fp32" else f"posekit:{precision}"


def _ratio_line(what: str, rounds: list[dict], key: str, tool: str = "posekit") -> str:
    ratios = [r[tool][key] / r["deeplabcut"][key] for r in rounds]
    return (f"{what}: {tool} / DeepLabCut = {statistics.median(ratios):.2f}x "
            f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dlc-python", help="a Python interpreter with deeplabcut 3.0.2 installed")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 8])
    parser.add_argument("--frames", type=int, default=200, help="frames of the long video")
    parser.add_argument("--short-frames", type=int, default=40, help="frames of the short and warm-up videos")
    parser.add_argument("--train-steps", type=int, default=8,
                        help="training steps per run; DeepLabCut leaves the first 2 untimed, posekit "
                             "compiles and warms up first, then times this many minus 2")
    parser.add_argument("--posekit-train", nargs="*", choices=sorted(TRAIN_VARIANTS),
                        default=list(TRAIN_VARIANTS), help="posekit training variants to time")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-analyze", action="store_true")
    parser.add_argument("--keep", default=None, help="work in this folder and keep it (default: a temp folder)")
    parser.add_argument("--precision", nargs="+", choices=["fp32", "int8", "bf16"], default=["fp32"],
                        help="posekit's analysis precision(s), each timed against DeepLabCut's float32")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, spec = args.child[0], json.loads(args.child[1])
        print(json.dumps({"setup": child_setup, "prepare": child_prepare, "analyze": child_analyze}[kind](spec)))
        return
    if not args.dlc_python:
        parser.error("--dlc-python is required: a Python with deeplabcut 3.0.2 (see this script's docstring)")

    with tempfile.TemporaryDirectory(prefix="posekit-vs-dlc-") as tmp:
        work = pathlib.Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(f"setting up in {work}; cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}", flush=True)
        made = _posekit_child("setup", {"work": str(work), "frames": args.frames,
                                        "short_frames": args.short_frames})
        configs = made["configs"]
        order = ["deeplabcut", "posekit"]
        summary = []
        if not args.skip_train:
            print("\ntraining resnet_50 from random init, 448x448 crops, batch 8")
            print(f"  {'tool':<21}{'images/s':>10}{'peak RSS MB':>14}", flush=True)
            rounds = [train_round(args, configs, order[i % 2]) for i in range(args.rounds)]
            dlc = rounds[0]["deeplabcut"]
            print(f"  (DeepLabCut model {dlc['model']}, batch {dlc['batch_size']}, "
                  f"crop sampling {dlc['crop_sampling']})")
            for variant in args.posekit_train:
                summary += [_ratio_line("training images/s", rounds, "images_per_s", f"posekit:{variant}"),
                            _ratio_line("training peak RSS", rounds, "peak_rss_mb", f"posekit:{variant}")]
        if not args.skip_analyze:
            print("\nDeepLabCut snapshot for analysis (one epoch) ...", flush=True)
            _dlc_child(args.dlc_python, "snapshot", configs["deeplabcut"])
            print(f"\nanalyze_videos, resnet_50 output stride 16, 640x480; frames/s = "
                  f"{args.frames - args.short_frames} extra frames / extra seconds "
                  f"({args.frames}- vs {args.short_frames}-frame video); whole = the {args.frames}-frame call")
            print(f"  {'tool':<13}{'batch':>6}{'frames/s':>12}{'whole f/s':>14}{'peak RSS MB':>14}", flush=True)
            tools = [_posekit_tool(p) for p in args.precision]
            if "int8" in args.precision:
                _posekit_child("prepare", {"config": configs["posekit"], "precision": "int8"})
            best = {tool: [] for tool in ["deeplabcut", *tools]}
            for batch in args.batches:
                rounds = [analyze_round(args, made, work, batch, i, order[i % 2]) for i in range(args.rounds)]
                for tool in tools:
                    summary += [_ratio_line(f"analysis batch {batch} frames/s", rounds, "fps", tool),
                                _ratio_line(f"analysis batch {batch} peak RSS", rounds, "peak_rss_mb", tool)]
                for tool in best:
                    best[tool].append((statistics.median(r[tool]["fps"] for r in rounds), batch))
            dlc_fps, dlc_batch = max(best["deeplabcut"])
            for tool in tools:
                pk_fps, pk_batch = max(best[tool])
                summary.append(f"analysis, each at its fastest batch: {tool} {pk_fps:.2f} frames/s (batch {pk_batch}) "
                               f"/ DeepLabCut {dlc_fps:.2f} (batch {dlc_batch}) = {pk_fps / dlc_fps:.2f}x")
        print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
        print("\n".join(summary))


if __name__ == "__main__":
    main()
