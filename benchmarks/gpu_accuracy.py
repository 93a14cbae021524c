"""Train ResNet-50 on a project to DeepLabCut's default budget, evaluate, print one JSON line.

Usage::

    python benchmarks/gpu_accuracy.py [--project CONFIG] [--maxiters N] [--batch 8] [--seed 0]
                                      [--crop H W] [--keep DIR]

For a lent GPU machine (the ``device`` tool); runs on the CPU too (``--maxiters 2``
for a smoke test). Needs nothing from the internet: the project is the Reaching
example in ``../shared/data`` (or ``$POSEKIT_REACHING_DIR``) or ``--project``,
copied to a temporary folder; training starts from posekit's cached ImageNet
weights (``resnet50.tv_in1k`` in ``$POSEKIT_CACHE/weights``) when that file is
there before the run, otherwise from random initialisation
(``pretrained=False``, nothing downloaded); the JSON says which.

Budget: DeepLabCut 3.0.2's default for the project, 200 epochs of batches of 8
(``pose_estimation_pytorch/config/base/base.yaml``, which its ``resnet_50``
model keeps; its DataLoader keeps the short last batch of an epoch), i.e.
``200 * ceil(train images / 8)`` optimiser steps, unless ``--maxiters`` is
given. The split is ``bench_accuracy.py``'s (seeded, the config's
``TrainingFraction``), so the figures compare with that script's.
Augmentation and learning-rate schedule are posekit's defaults. Figures only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import tempfile
import time

from bench_accuracy import REACHING, _peak_rss_mb, child_split, copy_project, cpu_name, strict_json

#: DeepLabCut 3.0.2's defaults for resnet_50 (pose_estimation_pytorch/config/base/base.yaml).
DLC_EPOCHS, DLC_BATCH = 200, 8


def run(args: argparse.Namespace, work: pathlib.Path) -> dict:
    """Copy, split, train, evaluate; the result as a dict."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: nothing below should reach the network
    import jax

    import posekit
    from posekit.model.weights import imagenet_weights_path

    config = copy_project(args.project, work / args.project.parent.name)
    split = child_split({"config": config, "seed": args.seed})
    n_train = len(split["train"])
    budget = DLC_EPOCHS * math.ceil(n_train / DLC_BATCH)
    maxiters = args.maxiters or budget
    cached = imagenet_weights_path("resnet_50")
    pretrained = cached.is_file()
    t0 = time.perf_counter()
    posekit.train_network(config, shuffle=1, block=True, maxiters=maxiters, saveiters=maxiters,
                          batch_size=args.batch, crop_size=tuple(args.crop) if args.crop else None,
                          pretrained=pretrained, seed=args.seed)
    train_s = time.perf_counter() - t0
    report = posekit.evaluate_network(config, shuffle=1, snapshots_to_evaluate=-1, show_errors=False)
    ev = report.evaluations[-1]
    device = jax.devices()[0]
    return {
        "benchmark": "gpu_accuracy", "project": str(args.project), "device": f"{device.platform}:{device.device_kind}",
        "cpu": cpu_name(), "init": "imagenet (resnet50.tv_in1k, cached)"
        if pretrained else f"random (no {cached.name} in the cache)", "net": "resnet_50", "batch": args.batch,
        "iterations": ev.iteration, "budget_rule": f"DeepLabCut default: {DLC_EPOCHS} epochs x "
        f"ceil({n_train} / {DLC_BATCH}) = {budget}" + (f"; overridden: --maxiters {args.maxiters}"
                                                       if args.maxiters else ""),
        "train_images": n_train, "test_images": len(split["test"]), "seed": args.seed,
        "train_rmse": ev.train_error, "test_rmse": ev.test_error, "train_rmse_pcutoff": ev.train_error_pcutoff,
        "test_rmse_pcutoff": ev.test_error_pcutoff, "pcutoff": ev.pcutoff,
        "test_rmse_per_bodypart": {str(bp): float(v) for bp, v in ev.bodypart_errors.loc["Test error (px)"].items()},
        "train_seconds": train_s, "peak_rss_mb": _peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=pathlib.Path, default=REACHING / "config.yaml",
                        help="config.yaml of the project (default: the Reaching example)")
    parser.add_argument("--maxiters", type=int, default=0, help="override the budget (e.g. 2 for a smoke test)")
    parser.add_argument("--batch", type=int, default=DLC_BATCH)
    parser.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"), help="training crop (default: posekit's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", default=None, help="work in this folder and keep it (default: a temp folder)")
    args = parser.parse_args()
    if not args.project.is_file():
        parser.error(f"no project config at {args.project}; give one with --project")
    with tempfile.TemporaryDirectory(prefix="posekit-gpu-accuracy-") as tmp:
        work = pathlib.Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(json.dumps(strict_json(run(args, work))), flush=True)


if __name__ == "__main__":
    main()
