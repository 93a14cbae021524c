"""A shuffle's training set on disk: merged labels plus a human-readable split file."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from posekit.io.labels import ImageKey, LabelTable
from posekit.project.project import Project
from posekit.utils.atomic import atomic_write_text


@dataclass
class Split:
    """One (training fraction, shuffle) split of the merged labels.

    Attributes
    ----------
    fraction : float
        The training fraction (``TrainingFraction[i]``).
    shuffle : int
        The shuffle number.
    train_indices, test_indices : numpy.ndarray
        Positions into the merged, sorted labels (DeepLabCut's convention).
    """

    fraction: float
    shuffle: int
    train_indices: np.ndarray
    test_indices: np.ndarray

    def to_yaml(self, images: list[ImageKey], seed: int | None) -> str:
        """The split as YAML text (indices and the image names they point at)."""
        doc = {
            "training_fraction": self.fraction,
            "shuffle": self.shuffle,
            "seed": seed,
            "created": _dt.datetime.now().isoformat(timespec="seconds"),
            "n_images": len(images),
            "train_indices": [int(i) for i in self.train_indices],
            "test_indices": [int(i) for i in self.test_indices],
            "train_images": ["/".join(images[i]) for i in self.train_indices],
            "test_images": ["/".join(images[i]) for i in self.test_indices],
        }
        return yaml.safe_dump(doc, sort_keys=False)

    def write(self, path: Path, images: list[ImageKey], seed: int | None) -> Path:
        """Write the split file atomically."""
        atomic_write_text(path, self.to_yaml(images, seed))
        return path


@dataclass
class TrainingSet:
    """Everything a trainer or evaluator needs about one shuffle.

    Attributes
    ----------
    project : Project
    split : Split
    labels : LabelTable
        The merged labels (all images, in merged order).
    """

    project: Project
    split: Split
    labels: LabelTable

    @classmethod
    def read(cls, config, shuffle: int = 1, trainingsetindex: int = 0) -> TrainingSet:
        """Open the training set of ``shuffle`` for ``TrainingFraction[trainingsetindex]``.

        Raises
        ------
        FileNotFoundError
            If ``create_training_dataset`` has not made this shuffle yet.
        """
        project = Project.open(config)
        fraction = project.training_fraction(trainingsetindex)
        path = project.split_path(fraction, shuffle)
        if not path.is_file():
            raise FileNotFoundError(
                f"No training set for shuffle {shuffle} (TrainingFraction {fraction}) at "
                f"'{path}'. Run posekit.create_training_dataset(config, Shuffles=[{shuffle}])."
            )
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        labels = LabelTable.read(
            project.dataset_dir(), bodyparts=project.bodyparts, scorer=project.scorer
        )
        split = Split(
            fraction=float(doc["training_fraction"]),
            shuffle=int(doc["shuffle"]),
            train_indices=np.asarray(doc["train_indices"], dtype=np.int64),
            test_indices=np.asarray(doc["test_indices"], dtype=np.int64),
        )
        if len(labels) != doc["n_images"]:
            raise ValueError(
                f"'{path}' was made for {doc['n_images']} images but the merged labels in "
                f"'{project.dataset_dir()}' hold {len(labels)}; re-run create_training_dataset."
            )
        return cls(project=project, split=split, labels=labels)

    def arrays(self, subset: str = "train") -> tuple[list[Path], np.ndarray]:
        """Image paths and (N, J, 2) keypoints (NaN = not labelled) of ``train`` or ``test``."""
        indices = {"train": self.split.train_indices, "test": self.split.test_indices}[subset]
        images, points = self.labels.to_array()
        paths = [self.project.root.joinpath(*images[i]) for i in indices]
        return paths, points[indices]
