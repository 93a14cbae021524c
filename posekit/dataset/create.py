"""``create_training_dataset``: merge a project's labels, split them, write pose configs."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from PIL import Image

from posekit.dataset.pose_cfg import make_pose_cfgs, write_pose_cfg
from posekit.dataset.training_set import Split
from posekit.errors import LabelError
from posekit.io.labels import ImageKey, LabelTable
from posekit.project.config import NET_TYPES
from posekit.project.naming import collected_data_name
from posekit.project.project import Project


@dataclass
class DatasetReport:
    """What ``create_training_dataset`` merged, left out, and wrote.

    Attributes
    ----------
    n_images : int
        Labeled images in the merged dataset.
    missing_images : list of str
        Labeled rows whose image file is missing (left out).
    unlabeled_images : list of str
        Images with no visible label (left out: nothing to learn from).
    outside_labels : list of str
        Labels outside their image (left out), as ``"<image>: <part> (x, y)"``.
    splits : list of Split
        One per (training fraction, shuffle).
    """

    n_images: int = 0
    missing_images: list[str] = field(default_factory=list)
    unlabeled_images: list[str] = field(default_factory=list)
    outside_labels: list[str] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)


def merge_labels(project: Project, report: DatasetReport) -> LabelTable:
    """Merge the CollectedData of all labeled folders into one table.

    Rows whose image is missing or that carry no visible label, and labels
    outside their image, are left out and listed in ``report``.

    Raises
    ------
    LabelError
        If no folder holds labels of the config's scorer but some hold labels
        of another scorer.
    ValueError
        If there are no labeled images at all.
    """
    frames = []
    for stem in project.labeled_stems():
        table = LabelTable.read(
            project.labeled_folder(stem), bodyparts=project.bodyparts, scorer=project.scorer
        )
        missing = set(table.missing_images(project.root))
        for key in table.images:
            if key in missing:
                report.missing_images.append("/".join(key))
                table.remove_image(key)
                continue
            _drop_outside_labels(project, table, key, report)
            if np.isnan(table.points(key)).all():
                report.unlabeled_images.append("/".join(key))
                table.remove_image(key)
        if len(table):
            frames.append(table.to_dataframe())
    other_scorers = _other_scorers(project)
    if other_scorers:
        message = (
            f"config.yaml's scorer is {project.scorer!r} but these labeled-data folders only hold labels of "
            f"another scorer: {', '.join(f'{f} ({s})' for f, s in other_scorers.items())}. Set `scorer:` in "
            "config.yaml to the labeller's name, or rename their CollectedData files and scorer level."
        )
        if not frames:
            raise LabelError(message)
        warnings.warn(message + " Their labels were left out.", stacklevel=3)
    if not frames:
        raise ValueError(
            f"No labeled images found in '{project.labeled_data_dir}'. Extract frames "
            "and label them (posekit.label_frames) before creating a training set."
        )
    return LabelTable(project.scorer, project.bodyparts, data=pd.concat(frames))


def _drop_outside_labels(project: Project, table: LabelTable, key: ImageKey, report: DatasetReport) -> None:
    """Unlabel the parts of ``key`` that lie outside its image (a typo or a bad import), noting each."""
    points = table.points(key)
    if np.isnan(points).all():
        return
    with Image.open(project.root.joinpath(*key)) as image:  # reads the header only
        width, height = image.size
    # The image's edges count as inside: a part at the border is a real label.
    outside = (points[:, 0] < 0) | (points[:, 0] > width) | (points[:, 1] < 0) | (points[:, 1] > height)
    for j in np.flatnonzero(outside):
        bodypart = table.bodyparts[j]
        report.outside_labels.append(
            f"{'/'.join(key)}: {bodypart} ({points[j, 0]:g}, {points[j, 1]:g}) outside {width}x{height}"
        )
        table.remove_point(key, bodypart)


def _other_scorers(project: Project) -> dict[str, str]:
    """Labeled-data folders with CollectedData of another scorer only: folder name -> that scorer."""
    labeled = set(project.labeled_stems())
    found = {}
    for stem in project.labeled_data_stems():
        if stem in labeled:
            continue
        names = sorted(p.stem for p in project.labeled_folder(stem).glob("CollectedData_*.*")
                       if p.suffix in (".h5", ".csv"))
        if names:
            found[stem] = names[0].removeprefix("CollectedData_")
    return found


def make_split(
    n: int, fraction: float, shuffle: int, seed: int | None
) -> Split:
    """DeepLabCut's random split: a permutation, the first ``int(n*fraction)`` train.

    Raises
    ------
    ValueError
        If the training split would be empty (too few labeled images).
    """
    n_train = int(n * round(fraction, 2))
    if n_train == 0:
        if round(fraction, 2) <= 0:
            raise ValueError(f"TrainingFraction {fraction} leaves no image to train on; use a value in (0, 1].")
        needed = max(2, math.ceil(1 / round(fraction, 2)))
        raise ValueError(
            f"Only {n} labeled image(s): TrainingFraction {fraction} puts none of them in the training split "
            f"of shuffle {shuffle}. Label at least {needed} frames (label_frames), or give "
            "trainIndices/testIndices."
        )
    entropy = None if seed is None else [seed, shuffle, int(round(fraction * 100))]  # noqa: RUF046 - a NumPy float rounds to a float before NumPy 2
    perm = np.random.default_rng(np.random.SeedSequence(entropy)).permutation(n)
    return Split(fraction, shuffle, perm[:n_train], perm[n_train:])


def _custom_split(
    n: int, shuffle: int, train: Sequence[int], test: Sequence[int]
) -> Split:
    train_idx = np.asarray([i for i in train if i != -1], dtype=np.int64)
    test_idx = np.asarray([i for i in test if i != -1], dtype=np.int64)
    every = np.concatenate([train_idx, test_idx])
    bad = every[(every < 0) | (every >= n)]
    if len(bad):
        raise ValueError(
            f"trainIndices/testIndices of shuffle {shuffle} hold {sorted(set(bad.tolist()))}, "
            f"outside 0..{n - 1} (the merged dataset has {n} images)."
        )
    overlap = np.intersect1d(train_idx, test_idx)
    if len(overlap):
        raise ValueError(
            f"Images {overlap.tolist()} are in both trainIndices and testIndices of "
            f"shuffle {shuffle}; an image belongs to one of them."
        )
    if not len(train_idx):
        raise ValueError(f"trainIndices of shuffle {shuffle} is empty.")
    fraction = round(len(train_idx) / len(every), 2)
    return Split(fraction, shuffle, train_idx, test_idx)


def create_training_dataset(
    config: str | os.PathLike | Project,
    num_shuffles: int = 1,
    Shuffles: Sequence[int] | None = None,  # DeepLabCut's name
    trainIndices: Sequence[Sequence[int]] | None = None,
    testIndices: Sequence[Sequence[int]] | None = None,
    net_type: str | None = None,
    seed: int | None = None,
    overwrite: bool = False,
    pose_cfg_overrides: dict | None = None,
) -> DatasetReport:
    """Merge the labels, split them per training fraction and shuffle, write configs.

    Writes ``training-datasets/iteration-<N>/UnaugmentedDataSet_<Task><date>/`` with
    the merged ``CollectedData_<scorer>.h5/.csv`` and, per shuffle, a readable YAML
    split file; and ``dlc-models/iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/``
    with ``train/pose_cfg.yaml`` and ``test/pose_cfg.yaml``.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    num_shuffles
        Make shuffles ``1..num_shuffles`` (ignored when ``Shuffles`` is given).
    Shuffles
        Explicit shuffle numbers.
    trainIndices, testIndices
        One list of merged-row positions per shuffle, to fix the split by hand.
    net_type
        ``resnet_18`` ... ``resnet_152`` (default: config ``default_net_type``).
    seed
        Seed for reproducible splits (DeepLabCut's are unseeded).
    overwrite
        Replace an existing shuffle (its split and configs). Without it an
        existing shuffle is an error, so trained models never lose their split.
    pose_cfg_overrides
        Keys to set in ``train/pose_cfg.yaml`` (e.g. ``{"optimizer": "sgd",
        "multi_step": [[0.005, 10000]], "batch_size": 1}``, DeepLabCut 2's
        recipe). By default the optimiser is DeepLabCut 3's: AdamW at 5e-4,
        batches of 8, the rate dropped to 1e-4 after 90 epochs and 1e-5 after
        120, 200 epochs in all (``multi_step`` counts iterations).

    Returns
    -------
    DatasetReport
        Images merged, left out (missing image, no visible label), and the splits.
    """
    project = Project.open(config)
    net_type = net_type or project.cfg["default_net_type"]
    if net_type not in NET_TYPES:
        raise ValueError(f"net_type={net_type!r} is not known; use one of {', '.join(NET_TYPES)}.")
    shuffles = list(Shuffles) if Shuffles is not None else list(range(1, num_shuffles + 1))
    if (trainIndices is None) != (testIndices is None):
        raise ValueError("Give both trainIndices and testIndices, or neither.")
    if trainIndices is not None and not (len(trainIndices) == len(testIndices) == len(shuffles)):
        raise ValueError(
            f"trainIndices/testIndices need one list per shuffle ({len(shuffles)} shuffles)."
        )
    report = DatasetReport()
    merged = merge_labels(project, report)
    report.n_images = len(merged)
    for problem, rows in (
        ("have no image file", report.missing_images),
        ("have no visible label", report.unlabeled_images),
    ):
        if rows:
            warnings.warn(
                f"{len(rows)} labeled frame(s) {problem} and were left out, e.g. {rows[0]}.",
                stacklevel=2,
            )
    if report.outside_labels:
        shown = report.outside_labels[:10]
        warnings.warn(
            f"{len(report.outside_labels)} label(s) lie outside their image and were left out: "
            + "; ".join(shown) + ("; ..." if len(report.outside_labels) > len(shown) else "")
            + ". Fix or delete them in label_frames.",
            stacklevel=2,
        )
    splits = _plan_splits(project, merged.images, shuffles, trainIndices, testIndices, seed, overwrite)
    folder = project.dataset_dir()
    merged.save(folder)
    h5 = folder / collected_data_name(project.scorer)
    for split in splits:
        split_file = split.write(project.split_path(split.fraction, split.shuffle), merged.images, seed)
        train_cfg, test_cfg = make_pose_cfgs(
            project.bodyparts,
            net_type,
            dataset=h5.relative_to(project.root).as_posix(),
            metadataset=split_file.relative_to(project.root).as_posix(),
            project_path=str(project.root),
            n_train=len(split.train_indices),
            augmenter=project.cfg.get("default_augmenter") or "default",
            **(pose_cfg_overrides or {}),
        )
        model = project.model_dir(split.fraction, split.shuffle)
        write_pose_cfg(model / "train" / "pose_cfg.yaml", train_cfg)
        write_pose_cfg(model / "test" / "pose_cfg.yaml", test_cfg)
        report.splits.append(split)
    return report


def _plan_splits(
    project: Project,
    images: list[ImageKey],
    shuffles: list[int],
    train_indices,
    test_indices,
    seed: int | None,
    overwrite: bool,
) -> list[Split]:
    """All splits to write, checked against existing shuffles before anything is written."""
    splits = []
    fractions = project.cfg["TrainingFraction"] if train_indices is None else [None]
    for fraction in fractions:
        for i, shuffle in enumerate(shuffles):
            if train_indices is not None:
                split = _custom_split(len(images), shuffle, train_indices[i], test_indices[i])
            else:
                split = make_split(len(images), fraction, shuffle, seed)
            existing = project.split_path(split.fraction, shuffle)
            if existing.exists() and not overwrite:
                raise FileExistsError(
                    f"Shuffle {shuffle} (TrainingFraction {split.fraction}) already exists at "
                    f"'{existing}'. Pick another shuffle number (Shuffles=[...]) or pass "
                    "overwrite=True to replace it."
                )
            splits.append(split)
    return splits
