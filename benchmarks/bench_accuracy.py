"""Accuracy of posekit against DeepLabCut 3.0.2 on the same project, split and budget.

Usage::

    python benchmarks/bench_accuracy.py [--dlc-python PATH] [--project CONFIG]
                                        [--checkpoints 250 500 1000 2000] [--batch 8]
                                        [--crop H W] [--budget-minutes M] [--seed 0]
                                        [--imagenet] [--skip-dlc | --skip-posekit]
                                        [--reuse EARLIER.log ...] [--keep DIR]

``PATH`` is a Python interpreter with DeepLabCut 3.0.2 (PyTorch engine), for
example a virtual environment made with::

    python -m venv /tmp/dlcenv
    /tmp/dlcenv/bin/pip install torch==2.14.1 torchvision==0.29.1 deeplabcut==3.0.2

Data: the Reaching example in ``../shared/data`` (or ``$POSEKIT_REACHING_DIR``),
or the project whose ``config.yaml`` is given with ``--project``; each tool
trains on its own copy in a temporary folder (the source is never modified).

Split: drawn once (seeded, the config's first ``TrainingFraction``), written as
posekit's shuffle 1 with ``trainIndices``/``testIndices``, and the same indices
given to ``deeplabcut.create_training_dataset``; DeepLabCut's child checks that
the indices name the same images in its own merged labels before training.

Settings: ResNet-50 for both, the same batch size and the same number of
iterations (one iteration = one optimiser step on one batch). Random
initialisation, unless ``--imagenet`` is given and both tools have their
ImageNet file cached (posekit: ``resnet50.tv_in1k`` in its cache; DeepLabCut:
timm's weights in the Hugging Face cache, read offline); the run says which.
Each tool keeps its default augmentation, learning-rate schedule, optimiser and
training crop (``--crop`` overrides the crop for both); the run prints each
default as read from the files the tool wrote.

At each checkpoint (iterations) it reports train and test RMSE in px with and
without p-cutoff (each tool's own ``evaluate_network``), the per-body-part test
RMSE, the training wall time so far and the process's peak RSS. posekit trains
to each checkpoint in turn (``train_network`` resumes from the newest
snapshot; each call compiles once, which its wall time includes); DeepLabCut
trains once and a step hook saves a snapshot at each checkpoint (its wall time
excludes those saves). ``--budget-minutes`` stops a tool's training at the
first checkpoint reached after that many minutes. Each tool runs in its own
process (peak RSS is its own). Prints one table and one JSON line; figures
only, no assertions.

``--reuse FILE ...`` takes the results of each tool that this run skips
(``--skip-dlc``, ``--skip-posekit``, or both) from earlier runs' JSON lines
in those files, after checking that they had the same project, split, seed,
batch, crop request, initialisation request and checkpoints: a recipe change
on one side can then be measured without training the other again, and two
runs made side by side (one tool each) print one table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import resource
import shutil
import sys
import tempfile
import time

from bench_deeplabcut import _run  # one driver for every child process

HERE = pathlib.Path(__file__).resolve().parent
REACHING = pathlib.Path(os.environ.get("POSEKIT_REACHING_DIR",
                                       HERE.parent.parent / "shared" / "data" / "Reaching-Mackenzie-2018-08-30"))
#: posekit's pose_cfg keys of its optimiser and learning-rate schedule.
SCHEDULE_KEYS = ("optimizer", "weight_decay", "multi_step", "locref_loss_weight", "pos_dist_thresh", "pos_dist_scaled")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_name() -> str:
    """The CPU's model name (``platform.processor()`` is empty on Linux)."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def strict_json(obj):
    """``obj`` with NaN (e.g. a body part never labelled in the test images) as null: valid JSON."""
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [strict_json(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- #
# posekit child (this file run with --child)
# --------------------------------------------------------------------------- #


def child_split(spec: dict) -> dict:
    """Draw the seeded split, write it as posekit's shuffle 1; return indices and image names."""
    import numpy as np

    from posekit.dataset import create_training_dataset
    from posekit.dataset.create import DatasetReport, merge_labels
    from posekit.project.project import Project

    config = spec["config"]
    project = Project.open(config)
    fraction = float(project.cfg["TrainingFraction"][0])
    images = ["/".join(map(str, key)) for key in merge_labels(project, DatasetReport()).images]
    order = np.random.default_rng(spec["seed"]).permutation(len(images))
    n_train = round(fraction * len(images))
    train, test = sorted(order[:n_train].tolist()), sorted(order[n_train:].tolist())
    create_training_dataset(config, Shuffles=[1], trainIndices=[train], testIndices=[test], net_type="resnet_50")
    return {"n_images": len(images), "fraction": fraction, "train": train, "test": test,
            "train_images": [images[i] for i in train], "test_images": [images[i] for i in test]}


def child_imagenet_cached(spec: dict) -> dict:
    """Whether posekit's ImageNet file for ResNet-50 is in its cache."""
    from posekit.model.weights import imagenet_weights_path

    return {"cached": imagenet_weights_path("resnet_50").is_file()}


def child_train(spec: dict) -> dict:
    """Train to each checkpoint in turn, then evaluate every checkpoint's snapshot."""
    import posekit
    from posekit.model.weights import imagenet_weights_path

    config = spec["config"]
    cached = imagenet_weights_path("resnet_50").is_file()
    pretrained = bool(spec["imagenet"]) and cached
    checkpoints, seconds, rss = [], [], []
    elapsed, t_start = 0.0, time.perf_counter()
    for k in spec["checkpoints"]:
        t0 = time.perf_counter()
        run = posekit.train_network(config, shuffle=1, block=True, maxiters=k, saveiters=k, batch_size=spec["batch"],
                                    crop_size=tuple(spec["crop"]) if spec["crop"] else None, pretrained=pretrained,
                                    max_snapshots_to_keep=len(spec["checkpoints"]) + 1, seed=spec["seed"])
        elapsed += time.perf_counter() - t0
        checkpoints.append(k)
        seconds.append(elapsed)
        rss.append(_peak_rss_mb())
        if spec["budget_s"] and time.perf_counter() - t_start > spec["budget_s"]:
            break
    trainer = run.trainer
    # What the JAX augmentation applies (pose_cfg's imgaug-only keys, clahe/histeq/emboss, are not used).
    augmentation = {k: v for k, v in dataclasses.asdict(trainer.aug).items() if k != "mirror_perm"}
    report = posekit.evaluate_network(config, shuffle=1, snapshots_to_evaluate="all", show_errors=False)
    by_iter = {ev.iteration: ev for ev in report.evaluations}
    rows = []
    for k, s, r in zip(checkpoints, seconds, rss, strict=True):
        ev = by_iter[k]
        rows.append({"iterations": k, "train_rmse": ev.train_error, "test_rmse": ev.test_error,
                     "train_rmse_pcutoff": ev.train_error_pcutoff, "test_rmse_pcutoff": ev.test_error_pcutoff,
                     "test_rmse_per_bodypart": {str(bp): float(v)
                                                for bp, v in ev.bodypart_errors.loc["Test error (px)"].items()},
                     "train_seconds": s, "peak_rss_mb": r})
    return {"tool": "posekit", "version": posekit.__version__,
            "init": "imagenet (resnet50.tv_in1k)" if pretrained else "random",
            "imagenet_cached": cached, "batch_size": spec["batch"],
            "crop": list(trainer.aug.crop_size), "pcutoff": report.evaluations[0].pcutoff,
            "batch_norm": "trained" if trainer.train_batch_norm else "frozen",
            "recipe": {**augmentation, **{key: trainer.pose_cfg.get(key) for key in SCHEDULE_KEYS}},
            "checkpoints": rows, "peak_rss_mb": _peak_rss_mb()}


# --------------------------------------------------------------------------- #
# Driver (imports neither posekit nor JAX: each child's peak RSS is its own)
# --------------------------------------------------------------------------- #


def copy_project(source_config: pathlib.Path, dest: pathlib.Path) -> str:
    """A writable copy of the project (labelled data and config only) at ``dest``."""
    src = source_config.parent
    dest.mkdir(parents=True)
    shutil.copy2(source_config, dest / "config.yaml")
    shutil.copytree(src / "labeled-data", dest / "labeled-data")
    for path in dest.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return str(dest / "config.yaml")


SETTINGS = ("project", "batch", "seed", "crop", "imagenet", "checkpoints", "split")


def read_earlier(path: pathlib.Path, parser: argparse.ArgumentParser) -> dict:
    """The last accuracy JSON line in ``path`` (an earlier run's output)."""
    if not path.is_file():
        parser.error(f"--reuse {path}: no such file")
    lines = [line for line in path.read_text().splitlines() if line.startswith('{"benchmark": "accuracy"')]
    if not lines:
        parser.error(f"--reuse {path}: no line starting with {{\"benchmark\": \"accuracy\" (this script's output)")
    return json.loads(lines[-1])


def reused_results(earlier: list[dict], settings: dict, skipped: list[str]) -> dict:
    """Skipped tools' results from ``earlier`` runs, refused unless they ran with the same ``settings``."""
    if not earlier:
        return {}
    for run in earlier:
        differ = [key for key in SETTINGS if run.get(key) != settings[key]]
        if differ:
            shown = [f"{k}: {run.get(k)!r} then, {settings[k]!r} now" for k in differ if k != "split"]
            raise SystemExit(f"--reuse: an earlier run differs in {differ}: " + "; ".join(shown))
    found = {tool: run["results"][tool] for run in earlier for tool in skipped if tool in run["results"]}
    missing = [tool for tool in skipped if tool not in found]
    if missing:
        raise SystemExit(f"--reuse: no earlier run has results for {missing}")
    for tool in skipped:
        print(f"{tool}: results reused from an earlier run (same settings)", flush=True)
    return found


def _fmt(x: float | None) -> str:
    return f"{x:.2f}" if x is not None and x == x else "-"


def print_table(results: dict) -> None:
    """One row per tool and checkpoint; per-body-part test RMSE in the last columns."""
    parts = sorted({bp for r in results.values() for row in r["checkpoints"] for bp in row["test_rmse_per_bodypart"]},
                   key=lambda bp: next(list(row["test_rmse_per_bodypart"]).index(bp)
                                       for r in results.values() for row in r["checkpoints"]
                                       if bp in row["test_rmse_per_bodypart"]))
    head = (f"{'tool':<11}{'iters':>6}{'train':>8}{'test':>8}{'train@p':>9}{'test@p':>8}{'wall s':>9}"
            f"{'RSS MB':>8}  " + "".join(f"{bp[:10]:>11}" for bp in parts))
    print(head)
    for tool, r in results.items():
        for row in r["checkpoints"]:
            per = row["test_rmse_per_bodypart"]
            print(f"{tool:<11}{row['iterations']:>6}{_fmt(row['train_rmse']):>8}{_fmt(row['test_rmse']):>8}"
                  f"{_fmt(row['train_rmse_pcutoff']):>9}{_fmt(row['test_rmse_pcutoff']):>8}"
                  f"{row['train_seconds']:>9.0f}{row['peak_rss_mb']:>8.0f}  "
                  + "".join(f"{_fmt(per.get(bp)):>11}" for bp in parts))
    print("(RMSE in px; @p: only predictions with likelihood >= p-cutoff; wall s: training so far)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dlc-python", help="a Python interpreter with deeplabcut 3.0.2 installed")
    parser.add_argument("--skip-dlc", action="store_true", help="run posekit only")
    parser.add_argument("--skip-posekit", action="store_true", help="run DeepLabCut only")
    parser.add_argument("--reuse", type=pathlib.Path, nargs="+", default=[],
                        help="files holding earlier runs' output: skipped tools' results come from them "
                             "when their settings are the same")
    parser.add_argument("--project", type=pathlib.Path, default=REACHING / "config.yaml",
                        help="config.yaml of the project (default: the Reaching example)")
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--batch", type=int, default=8, help="batch size for both tools (DeepLabCut's default: 8)")
    parser.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"),
                        help="training crop for both tools (default: each tool's own)")
    parser.add_argument("--budget-minutes", type=float, default=0,
                        help="per tool: stop at the first checkpoint after this many minutes of training")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and of posekit's training")
    parser.add_argument("--imagenet", action="store_true",
                        help="start from ImageNet weights if both tools have them cached (else random init)")
    parser.add_argument("--keep", default=None, help="work in this folder and keep it (default: a temp folder)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, spec = args.child[0], json.loads(args.child[1])
        print(json.dumps({"split": child_split, "train": child_train,
                          "imagenet-cached": child_imagenet_cached}[kind](spec)))
        return
    if not (args.skip_dlc or args.dlc_python):
        parser.error("--dlc-python is required (a Python with deeplabcut 3.0.2, see the docstring), or --skip-dlc")
    if args.skip_dlc and args.skip_posekit and not args.reuse:
        parser.error("--skip-dlc and --skip-posekit together need --reuse (they leave nothing to run)")
    earlier = [read_earlier(path, parser) for path in args.reuse]
    if not args.project.is_file():
        parser.error(f"no project config at {args.project}; give one with --project")
    checkpoints = sorted(set(args.checkpoints))

    with tempfile.TemporaryDirectory(prefix="posekit-accuracy-") as tmp:
        work = pathlib.Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(f"working in {work}; {cpu_name()}, {os.cpu_count()} cores; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        order = [tool for tool, skip in (("posekit", args.skip_posekit), ("deeplabcut", args.skip_dlc)) if not skip]
        configs = {tool: copy_project(args.project, work / tool / args.project.parent.name)
                   for tool in dict.fromkeys(("posekit", *order))}  # posekit's copy also draws the split
        me = [sys.executable, __file__, "--child"]
        split = _run([*me, "split", json.dumps({"config": configs["posekit"], "seed": args.seed})])
        (work / "split.json").write_text(json.dumps(split, indent=1))
        print(f"split (seed {args.seed}): {len(split['train'])} train / {len(split['test'])} test images "
              f"of {split['n_images']}; written to {work / 'split.json'}", flush=True)
        spec = {"checkpoints": checkpoints, "batch": args.batch, "crop": args.crop, "seed": args.seed,
                "imagenet": args.imagenet, "budget_s": args.budget_minutes * 60}
        settings = {"project": str(args.project), "batch": args.batch, "seed": args.seed, "crop": args.crop,
                    "imagenet": args.imagenet, "checkpoints": checkpoints,
                    "split": {"train": split["train"], "test": split["test"]}}
        results = reused_results(earlier, settings, skipped=[t for t in ("posekit", "deeplabcut") if t not in order])
        if args.imagenet:  # ImageNet weights only when every tool has its file cached: else both random
            cached = {"posekit": _run([*me, "imagenet-cached", "{}"])["cached"]}
            if "deeplabcut" in order:
                cached["deeplabcut"] = _run([args.dlc_python, str(HERE / "deeplabcut_accuracy_child.py"),
                                             "imagenet-cached"], prefix="RESULT ")["cached"]
            spec["imagenet"] = all(cached.values())
            print(f"ImageNet weights cached: {cached}; starting from "
                  f"{'ImageNet weights' if spec['imagenet'] else 'random init'}", flush=True)
        for tool in order:
            print(f"training {tool} ...", flush=True)
            if tool == "posekit":
                results[tool] = _run([*me, "train", json.dumps({**spec, "config": configs[tool]})])
            else:
                results[tool] = _run([args.dlc_python, str(HERE / "deeplabcut_accuracy_child.py"), "train",
                                      json.dumps({**spec, "config": configs[tool], "split": split})],
                                     prefix="RESULT ")
        results = {tool: results[tool] for tool in ("posekit", "deeplabcut") if tool in results}
        print(f"\nResNet-50, batch {args.batch}, same split; load average at the end {os.getloadavg()[0]:.1f}")
        for tool, r in results.items():
            print(f"{tool}: init {r['init']}, crop {r['crop']}, p-cutoff {r['pcutoff']}, "
                  f"recipe (augmentation, optimiser, schedule) {json.dumps(r['recipe'])}")
        print()
        print_table(results)
        print(json.dumps(strict_json({"benchmark": "accuracy", **settings, "cpu": cpu_name(),
                                      "cores": os.cpu_count(), "results": results})))


if __name__ == "__main__":
    main()
