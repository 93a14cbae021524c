"""DeepLabCut's side of ``bench_accuracy.py``; run by a Python that has DeepLabCut 3.0.2.

Usage (``bench_accuracy.py`` calls it; it imports neither posekit nor JAX)::

    DLC_PYTHON deeplabcut_accuracy_child.py imagenet-cached
    DLC_PYTHON deeplabcut_accuracy_child.py train SPEC_JSON

Every mode prints one ``RESULT {json}`` line last.

``imagenet-cached`` says whether timm's ImageNet weights of DeepLabCut's
``resnet_50`` backbone load with the Hugging Face hub offline (already cached).

``train`` makes the project's config usable by DeepLabCut (``project_path`` and
``video_sets`` from the labelled folders, as its demo code does), builds the
PyTorch training set of ``resnet_50`` (DeepLabCut's default model for that name)
with the split's ``trainIndices``/``testIndices`` after checking that they name
the same images as posekit's, sets the batch size (and the crop, if given),
then trains with DeepLabCut's own augmentation, optimiser and schedule. A step
hook counts optimiser steps and saves a snapshot named by the step count at
each checkpoint (DeepLabCut counts epochs; ``snapshot-250.pt`` here means 250
steps), then stops at the last checkpoint or after the time budget.
``deeplabcut.evaluate_network`` then scores every snapshot (per-body-part too).
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
import time

from deeplabcut_child import _peak_rss_mb, _pytorch_config, random_init

#: timm model of DeepLabCut 3.0.2's ``resnet_50`` backbone (its pytorch_config ``model_name``).
BACKBONE = "resnet50_gn.a1h_in1k"


def _yaml_loader():
    """PyYAML's safe loader reading ``1e-05`` as a float (YAML 1.2, as DeepLabCut's own reader does).

    Plain ``yaml.safe_load`` reads DeepLabCut's scheduler ``lr_list: [[1e-05]]`` as the
    string ``'1e-05'`` and ``safe_dump`` would write it back quoted: the learning rate
    after the second milestone would be a string.
    """
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+"
                   r"|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
        list("-+0123456789."))
    return Loader


def imagenet_cached() -> dict:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import timm

    try:
        timm.create_model(BACKBONE, pretrained=True)
    except Exception as err:  # noqa: BLE001 - any failure offline means "not cached"
        return {"cached": False, "why": f"{type(err).__name__}: {err}"[:300]}
    return {"cached": True}


def _fix_config(config: str) -> None:
    """``project_path`` and one ``video_sets`` entry per labelled folder (DeepLabCut reads both)."""
    import yaml

    root = os.path.dirname(os.path.abspath(config))
    with open(config) as fh:
        cfg = yaml.safe_load(fh)
    crops = list(cfg.get("video_sets", {}).values())
    crop = crops[0] if crops else {"crop": "0, 640, 0, 480"}
    cfg["project_path"] = root
    cfg["video_sets"] = {os.path.join(root, "videos", f"{stem}.avi"): crop
                         for stem in sorted(os.listdir(os.path.join(root, "labeled-data")))}
    with open(config, "w") as fh:
        yaml.safe_dump(cfg, fh, sort_keys=False)


def _check_split(config: str, split: dict) -> None:
    import pandas as pd

    merged = glob.glob(os.path.join(os.path.dirname(config), "training-datasets", "iteration-*",
                                    "UnaugmentedDataSet_*", "CollectedData_*.h5"))
    images = ["/".join(map(str, key)) if isinstance(key, tuple) else str(key)
              for key in pd.read_hdf(merged[0]).index]
    for which in ("train", "test"):
        mine = [images[i] for i in split[which]]
        if mine != split[f"{which}_images"]:
            raise SystemExit(f"DeepLabCut's {which} images differ from posekit's for the same indices:\n"
                             f"{mine[:5]} ...\nvs {split[f'{which}_images'][:5]} ...")


def _evaluations(config: str) -> tuple[dict, dict]:
    """Per snapshot (steps): the combined scores row and the per-body-part test RMSE."""
    import pandas as pd

    folder = glob.glob(os.path.join(os.path.dirname(config), "evaluation-results-pytorch", "iteration-*"))[0]
    combined = pd.read_csv(os.path.join(folder, "CombinedEvaluation-results.csv"))
    scores = {int(row["Training epochs"]): row for _, row in combined.iterrows()}
    per_part = {}
    for path in glob.glob(os.path.join(folder, "*", "*-keypoint-results.csv")):
        steps = int(re.search(r"_(\d+)-keypoint-results\.csv$", path).group(1))
        table = pd.read_csv(path, index_col=0)
        per_part[steps] = {str(bp): float(v) for bp, v in table.loc["Test error (px)"].items()}
    return scores, per_part


def train(spec: dict) -> dict:
    import deeplabcut
    import yaml
    from deeplabcut.pose_estimation_pytorch.runners.train import PoseTrainingRunner

    config, checkpoints, split = spec["config"], spec["checkpoints"], spec["split"]
    _fix_config(config)
    deeplabcut.create_training_dataset(config, Shuffles=[1], trainIndices=[split["train"]],
                                       testIndices=[split["test"]], net_type="resnet_50",
                                       engine=deeplabcut.Engine.PYTORCH)
    _check_split(config, split)
    path = _pytorch_config(config)
    with open(path) as fh:
        cfg = yaml.load(fh, Loader=_yaml_loader())
    defaults = {"epochs": cfg["train_settings"]["epochs"], "batch_size": cfg["train_settings"]["batch_size"]}
    cfg["model"]["backbone"]["pretrained"] = bool(spec["imagenet"])
    cfg["runner"]["eval_interval"] = 10**6
    cfg["runner"]["snapshots"]["save_epochs"] = 10**6
    cfg["runner"]["snapshots"]["max_snapshots"] = len(checkpoints) + 2
    cfg["train_settings"]["batch_size"] = spec["batch"]
    cfg["train_settings"]["epochs"] = 10**6  # stopped by the step hook
    cfg["train_settings"]["seed"] = spec["seed"]
    if spec["crop"] and cfg["data"]["train"].get("crop_sampling"):
        cfg["data"]["train"]["crop_sampling"]["height"], cfg["data"]["train"]["crop_sampling"]["width"] = spec["crop"]
    with open(path, "w") as fh:
        yaml.safe_dump(cfg, fh)
    if not spec["imagenet"]:
        random_init()

    rows: list[dict] = []
    state = {"steps": 0, "saving": 0.0}
    step = PoseTrainingRunner.step

    class Done(Exception):
        pass

    def counting_step(self, batch, mode="train"):
        out = step(self, batch, mode)
        if mode != "train":
            return out
        state["steps"] += 1
        if state["steps"] in checkpoints:
            wall = time.perf_counter() - t0 - state["saving"]
            s0 = time.perf_counter()
            snap = {k: v for k, v in self.state_dict().items() if k != "optimizer"}
            import torch

            torch.save(snap, self.snapshot_manager.snapshot_path(epoch=state["steps"]))
            state["saving"] += time.perf_counter() - s0
            rows.append({"iterations": state["steps"], "train_seconds": wall, "peak_rss_mb": _peak_rss_mb()})
            if state["steps"] == checkpoints[-1] or (spec["budget_s"] and wall > spec["budget_s"]):
                raise Done
        return out

    PoseTrainingRunner.step = counting_step
    t0 = time.perf_counter()
    try:
        deeplabcut.train_network(config, shuffle=1, max_snapshots_to_keep=len(checkpoints) + 2)
    except Done:
        pass
    deeplabcut.evaluate_network(config, Shuffles=[1], snapshotindex="all", per_keypoint_evaluation=True,
                                show_errors=False)
    scores, per_part = _evaluations(config)
    for row in rows:
        s = scores[row["iterations"]]
        row.update({"train_rmse": float(s["train rmse"]), "test_rmse": float(s["test rmse"]),
                    "train_rmse_pcutoff": float(s["train rmse_pcutoff"]),
                    "test_rmse_pcutoff": float(s["test rmse_pcutoff"]),
                    "test_rmse_per_bodypart": per_part.get(row["iterations"], {})})
    with open(config) as fh:
        pcutoff = yaml.safe_load(fh).get("pcutoff")
    return {"tool": "deeplabcut", "version": deeplabcut.__version__,
            "init": f"imagenet ({BACKBONE})" if spec["imagenet"] else "random",
            "model": cfg["model"]["backbone"].get("model_name"), "batch_size": spec["batch"],
            "defaults": defaults,  # DeepLabCut's own budget for this model (epochs are stopped by the hook here)
            "crop": (cfg["data"]["train"].get("crop_sampling") or {}), "pcutoff": pcutoff,
            "recipe": {"data.train": cfg["data"]["train"], "optimizer": cfg["runner"].get("optimizer"),
                             "scheduler": cfg["runner"].get("scheduler")},
            "checkpoints": rows, "peak_rss_mb": _peak_rss_mb()}


def main(argv: list[str]) -> None:
    mode, *rest = argv
    if mode == "imagenet-cached":
        result = imagenet_cached()
    elif mode == "train":
        result = train(json.loads(rest[0]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print("RESULT " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
