"""Machine labels: the network's predictions for extracted outlier frames.

``labeled-data/<stem>/machinelabels-iter<N>.h5`` (key ``df_with_missing``,
pandas ``fixed`` format) plus ``machinelabels.csv`` (format spec section 13):
columns are the network scorer's ``(scorer, bodyparts, coords)`` with coords
``x, y, likelihood``; rows are image keys ``("labeled-data", stem,
"img042.png")`` (DeepLabCut >= 2.2.0.4; the older string form is read too).

This module is the only place that names, reads and writes these files.
Refinement never edits predictions: it writes corrected frames to
CollectedData through :class:`posekit.io.labels.LabelTable`, and a frame of
machinelabels counts as refined once CollectedData has a row for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from posekit.errors import LabelError, UnsafeFileError
from posekit.io.dataframes import object_multiindex
from posekit.io.labels import ImageKey
from posekit.predict.results import (
    poses_to_dataframe,
    read_poses,
    write_poses,
)
from posekit.project.naming import MACHINELABELS_CSV, machinelabels_iteration, machinelabels_name
from posekit.project.project import Project

__all__ = ["MachineLabels", "machinelabels_csv_path", "machinelabels_path"]

_SEP = re.compile(r"[\\/]")


def machinelabels_path(project: Project, stem: str, iteration: int | None = None) -> Path:
    """``labeled-data/<stem>/machinelabels-iter<N>.h5`` (N: config ``iteration``)."""
    n = project.iteration if iteration is None else int(iteration)
    return project.labeled_folder(stem) / machinelabels_name(n)


def machinelabels_csv_path(project: Project, stem: str) -> Path:
    """``labeled-data/<stem>/machinelabels.csv`` (DeepLabCut's name: no iteration)."""
    return project.labeled_folder(stem) / MACHINELABELS_CSV


def machinelabels_iterations(folder: Path) -> list[int]:
    """Iterations that have a ``machinelabels-iter<N>.h5`` in ``folder``, sorted."""
    if not folder.is_dir():
        return []
    found = (machinelabels_iteration(p.name) for p in folder.iterdir())
    return sorted(n for n in found if n is not None)


def _image_key(entry: object, source: object) -> ImageKey:
    if isinstance(entry, str):
        parts: tuple = tuple(_SEP.split(entry))
    elif isinstance(entry, tuple):
        parts = tuple(str(p) for p in entry)
    else:
        parts = ()
    if len(parts) != 3 or not all(parts):
        raise LabelError(
            f"{source}: row {entry!r} is not an image path like "
            "('labeled-data', <video>, 'img042.png')."
        )
    return (str(parts[0]), str(parts[1]), str(parts[2]))


@dataclass
class MachineLabels:
    """Predictions of one network for some images of one labeled-data folder.

    Attributes
    ----------
    scorer : str
        The network's DeepLabCut scorer (``DLC_resnet50_...``).
    bodyparts : list of str
        The network's body parts.
    rows : dict
        Image key -> ``(J, 3)`` array of x, y, likelihood (image pixels).
    """

    scorer: str
    bodyparts: list[str]
    rows: dict[ImageKey, np.ndarray] = field(default_factory=dict)

    # -- files ---------------------------------------------------------------- #
    @classmethod
    def read(cls, path: str | Path) -> MachineLabels:
        """Read a machinelabels ``.h5`` (any key; DeepLabCut's or posekit's).

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        posekit.errors.LabelError
            If it is not a single-animal prediction table with image rows.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Machine labels '{path}' do not exist.")
        try:
            frame = read_poses(path)
        except UnsafeFileError:
            raise
        except Exception as exc:  # PyTables raises many types for corrupt files
            raise LabelError(f"{path}: cannot read machine labels ({exc}).") from exc
        columns = frame.columns
        if not isinstance(columns, pd.MultiIndex) or columns.nlevels != 3:
            raise LabelError(
                f"{path}: expected 3 column levels scorer/bodyparts/coords (single animal), "
                f"got {list(columns.names)}."
            )
        scorer = str(columns.get_level_values(0)[0])
        bodyparts = list(dict.fromkeys(str(b) for b in columns.get_level_values(1)))
        position = {tuple(str(v) for v in col): i for i, col in enumerate(columns)}
        values = frame.to_numpy(dtype=np.float64)
        block = np.full((len(frame), len(bodyparts), 3), np.nan)
        for j, part in enumerate(bodyparts):
            for k, coord in enumerate(("x", "y", "likelihood")):
                i = position.get((scorer, part, coord))
                if i is not None:
                    block[:, j, k] = values[:, i]
                elif coord != "likelihood":
                    raise LabelError(f"{path}: body part {part!r} has no {coord!r} column.")
        rows = {_image_key(entry, path): block[i] for i, entry in enumerate(frame.index)}
        return cls(scorer, bodyparts, rows)

    def to_dataframe(self) -> pd.DataFrame:
        """DeepLabCut's machinelabels frame: scorer/bodyparts/(x, y, likelihood), sorted rows."""
        keys = sorted(self.rows)
        poses = (
            np.stack([self.rows[k] for k in keys])
            if keys
            else np.empty((0, len(self.bodyparts), 3))
        )
        index = object_multiindex(keys) if keys else pd.MultiIndex.from_tuples([], names=[None] * 3)
        return poses_to_dataframe(poses, self.scorer, self.bodyparts, index=index)

    def save(self, h5_path: str | Path, csv_path: str | Path | None = None) -> Path:
        """Write the ``.h5`` (key ``df_with_missing``, fixed) and the ``.csv``, atomically."""
        h5_path = Path(h5_path)
        write_poses(self.to_dataframe(), h5_path, h5_format="fixed", csv=csv_path or True)
        return h5_path

    # -- editing -------------------------------------------------------------- #
    def merge(self, other: MachineLabels) -> MachineLabels:
        """Rows of ``self`` then the rows of ``other`` it lacks (DeepLabCut keeps the first).

        Raises
        ------
        posekit.errors.LabelError
            If the body parts differ (another network's labels; refine or remove them first).
        """
        if other.bodyparts != self.bodyparts:
            raise LabelError(
                f"Cannot merge machine labels of body parts {other.bodyparts} into existing "
                f"ones of {self.bodyparts}; refine or delete the existing machinelabels file first."
            )
        merged = dict(self.rows)
        for key, row in other.rows.items():
            merged.setdefault(key, row)
        return MachineLabels(self.scorer, list(self.bodyparts), merged)

    def drop(self, keys: Iterable[ImageKey]) -> None:
        """Remove the rows of ``keys`` (absent keys are ignored)."""
        for key in keys:
            self.rows.pop(tuple(key), None)

    def points(self, key: ImageKey, bodyparts: Sequence[str]) -> np.ndarray:
        """``(len(bodyparts), 3)`` predictions of ``key`` in the order of ``bodyparts``.

        Body parts the network does not know are NaN.
        """
        out = np.full((len(bodyparts), 3), np.nan)
        row = self.rows.get(tuple(key))
        if row is None:
            return out
        index = {name: j for j, name in enumerate(self.bodyparts)}
        for i, name in enumerate(bodyparts):
            if name in index:
                out[i] = row[index[name]]
        return out

    @property
    def images(self) -> list[ImageKey]:
        """Image keys, sorted."""
        return sorted(self.rows)

    def __len__(self) -> int:
        return len(self.rows)
