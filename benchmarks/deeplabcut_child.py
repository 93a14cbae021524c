"""DeepLabCut's side of ``bench_deeplabcut.py``; run by a Python that has DeepLabCut.

Usage (``bench_deeplabcut.py`` calls it; it imports neither posekit nor JAX)::

    DLC_PYTHON deeplabcut_child.py train CONFIG STEPS
    DLC_PYTHON deeplabcut_child.py snapshot CONFIG
    DLC_PYTHON deeplabcut_child.py analyze CONFIG BATCH OUTDIR WARMUP SHORT LONG

Every mode prints one ``RESULT {json}`` line last.

``train`` builds DeepLabCut's PyTorch training set for ``resnet_50`` (its default
model for that name, crops and batch size from its own ``pytorch_config.yaml``),
trains from random weights (the ImageNet download is switched off, as posekit's
``pretrained=False``) and times ``STEPS`` training steps (forward, backward,
optimiser; data loading not included), skipping the first two. ``snapshot``
trains one epoch so that ``analyze`` has a snapshot. ``analyze`` runs
``deeplabcut.analyze_videos`` on the CPU on three videos in turn and reports each
call's wall time: a warm-up, then a short and a long video, whose difference
gives the per-frame cost without the per-call fixed cost (model loading).
"""

from __future__ import annotations

import glob
import json
import os
import resource
import sys
import time


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pytorch_config(config: str) -> str:
    found = glob.glob(os.path.join(os.path.dirname(config), "dlc-models-pytorch", "*", "*", "train",
                                   "pytorch_config.yaml"))
    if not found:
        raise SystemExit(f"no dlc-models-pytorch/*/*/train/pytorch_config.yaml next to {config}")
    return found[0]


def _prepare(config: str, epochs: int) -> dict:
    """DeepLabCut's training set and model config, random init, ``epochs`` epochs, no evaluation."""
    import deeplabcut
    import yaml

    if not glob.glob(os.path.join(os.path.dirname(config), "dlc-models-pytorch", "*")):
        deeplabcut.create_training_dataset(config, num_shuffles=1, net_type="resnet_50",
                                           engine=deeplabcut.Engine.PYTORCH)
    path = _pytorch_config(config)
    with open(path) as fh:
        cfg = yaml.safe_load(fh)
    cfg["model"]["backbone"]["pretrained"] = False
    cfg["runner"]["eval_interval"] = 10**6
    cfg["runner"]["snapshots"]["save_epochs"] = 10**6 if epochs > 1 else 1
    cfg["train_settings"]["epochs"] = epochs
    with open(path, "w") as fh:
        yaml.safe_dump(cfg, fh)

    random_init()
    return {"model": cfg["model"]["backbone"].get("model_name"), "batch_size": cfg["train_settings"]["batch_size"],
            "crop_sampling": cfg["data"]["train"].get("crop_sampling")}


def random_init() -> None:
    """Build DeepLabCut's model without its ImageNet download (``pretrained: False`` alone does not stop it)."""
    import deeplabcut.pose_estimation_pytorch.apis.training as training_api

    build = training_api.PoseModel.build

    class RandomInit:
        @staticmethod
        def build(model_cfg, **kwargs):
            kwargs["pretrained_backbone"] = False
            return build(model_cfg, **kwargs)

    training_api.PoseModel = RandomInit


def train(config: str, steps: int) -> dict:
    import deeplabcut
    from deeplabcut.pose_estimation_pytorch.runners.train import PoseTrainingRunner

    info = _prepare(config, epochs=10**6)
    times: list[tuple[float, int]] = []
    step = PoseTrainingRunner.step

    class Enough(Exception):
        pass

    def timed_step(self, batch, mode="train"):
        t0 = time.perf_counter()
        out = step(self, batch, mode)
        if mode == "train":
            times.append((time.perf_counter() - t0, len(batch["image"])))
            if len(times) >= steps:
                raise Enough
        return out

    PoseTrainingRunner.step = timed_step
    try:
        deeplabcut.train_network(config, shuffle=1, device="cpu")
    except Enough:
        pass
    timed = times[2:]
    return {**info, "steps": len(timed), "images_per_s": sum(n for _, n in timed) / sum(t for t, _ in timed),
            "peak_rss_mb": _peak_rss_mb()}


def snapshot(config: str) -> dict:
    import deeplabcut

    _prepare(config, epochs=1)
    deeplabcut.train_network(config, shuffle=1, device="cpu")
    return {"snapshots": glob.glob(os.path.join(os.path.dirname(_pytorch_config(config)), "*.pt"))}


def analyze(config: str, batch: int, outdir: str, *videos: str) -> dict:
    import deeplabcut

    seconds = []
    for i, video in enumerate(videos):
        t0 = time.perf_counter()
        deeplabcut.analyze_videos(config, [video], shuffle=1, batch_size=batch, device="cpu",
                                  destfolder=os.path.join(outdir, f"call{i}"))
        seconds.append(time.perf_counter() - t0)
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def main(argv: list[str]) -> None:
    mode, config, *rest = argv
    if mode == "train":
        result = train(config, int(rest[0]))
    elif mode == "snapshot":
        result = snapshot(config)
    elif mode == "analyze":
        result = analyze(config, int(rest[0]), rest[1], *rest[2:])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
