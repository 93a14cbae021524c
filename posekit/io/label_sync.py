"""Whether a ``CollectedData`` label pair changed on disk, and merging with what did.

This module has one job for :class:`~posekit.io.labels.LabelTable`: knowing whether the
``.h5`` / ``.csv`` pair a table read or wrote was changed on disk since (by another
labeling session or program), and re-applying the table's own edits onto the file's
current labels (a three-way merge of per-image ``(J, 2)`` rows: what the table last
read or wrote, what it holds now, what the file holds now).

It works on plain rows (``{ImageKey: (J, 2) float array}``, NaN = unlabelled) and
bodypart lists that the table passes in; reading and writing the files stays in
:mod:`posekit.io.labels` and :mod:`posekit.io.label_files`. It never imports
:mod:`posekit.io.labels` (which imports it).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posekit.errors import LabelError
from posekit.io.label_files import ImageKey

__all__ = ["DiskChanges", "LabelConflictError", "LabelFingerprint"]

Rows = Mapping[ImageKey, np.ndarray]

#: Two labels "agree" when every coordinate differs by less than this (pixels).
_AGREE_ATOL = 1e-6


class LabelConflictError(LabelError):
    """A label file changed on disk since a table read or wrote it; saving would drop that change."""


# --------------------------------------------------------------------------------------
# knowing whether the files changed under us
# --------------------------------------------------------------------------------------


def _digest(path: Path) -> str | None:
    try:
        data = path.read_bytes()  # label files are small (kB to a few MB): one read
    except FileNotFoundError:
        return None
    return hashlib.blake2b(data).hexdigest()


@dataclass(frozen=True)
class LabelFingerprint:
    """The content of a ``CollectedData`` ``.h5`` / ``.csv`` pair at one moment.

    Content hashes, not ``(mtime, size, inode)``: a rewritten fixed-format ``.h5`` of the
    same images and bodyparts has the same size whatever the coordinates; inodes freed by
    an atomic rename are reused at once (two alternating writers can meet the same one);
    and mtime is coarse on the network filesystems of shared lab servers. Hashing both
    files of DeepLabCut's 55-image Reaching example (96 kB) takes about 0.3 ms, next to
    about 20-50 ms for the save itself.

    Attributes
    ----------
    h5, csv : str or None
        BLAKE2b hex digest of each file; None where the file does not exist.
    """

    h5: str | None
    csv: str | None

    @classmethod
    def of(cls, h5_path: str | os.PathLike, csv_path: str | os.PathLike) -> LabelFingerprint:
        """Fingerprint the pair as it is on disk now (missing files included)."""
        return cls(_digest(Path(h5_path)), _digest(Path(csv_path)))

    @property
    def exists(self) -> bool:
        """Whether either file exists."""
        return self.h5 is not None or self.csv is not None


@dataclass
class _Synced:
    """What the label pair at ``h5`` / ``csv`` held when a table last read or wrote it."""

    h5: Path
    csv: Path
    fingerprint: LabelFingerprint
    file_bodyparts: list[str]  # the file's own columns (empty: no file)
    rows: dict[ImageKey, np.ndarray] = field(repr=False)

    def changed_on_disk(self) -> bool:
        """Whether the pair's content differs from :attr:`fingerprint` now."""
        return LabelFingerprint.of(self.h5, self.csv) != self.fingerprint

    def check_unchanged(self, h5_path: Path, csv_path: Path) -> None:
        """Refuse to write over this pair if it changed on disk (another pair is no concern).

        Raises
        ------
        LabelConflictError
            If ``(h5_path, csv_path)`` is this pair and :meth:`changed_on_disk`.
        """
        if (self.h5, self.csv) == (h5_path, csv_path) and self.changed_on_disk():
            raise LabelConflictError(
                f"{h5_path} changed on disk since this table last read or saved it (another "
                "labeling session or program wrote it); saving would drop those labels. Call "
                "table.rebase() to re-read the file and re-apply this table's changes, then "
                "save again; or save(..., overwrite=True) to replace it anyway."
            )


@dataclass(frozen=True)
class DiskChanges:
    """What another writer changed in a label file, as found by :meth:`LabelTable.rebase`.

    Attributes
    ----------
    points : frozenset of (ImageKey, str)
        ``(image, bodypart)`` labels that differ from what this table last read or wrote
        (images added or removed on disk included).
    images_added, images_removed : int
        Image rows that appeared or disappeared on disk.
    """

    points: frozenset[tuple[ImageKey, str]]
    images_added: int
    images_removed: int

    def __bool__(self) -> bool:
        return bool(self.points or self.images_added or self.images_removed)

    def __str__(self) -> str:
        images = len({key for key, _ in self.points})
        parts = [f"{len(self.points)} label(s) in {images} image(s) changed"]
        if self.images_added:
            parts.append(f"{self.images_added} image(s) added")
        if self.images_removed:
            parts.append(f"{self.images_removed} image(s) removed")
        return ", ".join(parts)


# --------------------------------------------------------------------------------------
# re-applying a table's edits onto the file's current labels
# --------------------------------------------------------------------------------------


def _same_points(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per bodypart of two ``(J, 2)`` (or one ``(2,)``) arrays: equal, NaN matching NaN."""
    return np.isclose(a, b, rtol=0.0, atol=_AGREE_ATOL, equal_nan=True).all(axis=-1)


def _padded(row: np.ndarray, n_bodyparts: int) -> np.ndarray:
    """``row`` with NaN rows appended for bodyparts added since it was taken."""
    missing = n_bodyparts - len(row)
    return np.concatenate([row, np.full((missing, 2), np.nan)]) if missing else row


def _check_file_bodyparts(
    path: Path, file_bodyparts: Sequence[str], known: Sequence[str], had: Sequence[str]
) -> None:
    """Refuse a rebase onto a file whose bodyparts changed since (``had``) or that a table lacks.

    Raises
    ------
    LabelConflictError
        If ``path`` now has bodyparts not in ``known`` (the table's), or lost some it ``had``.
    """
    added = [b for b in file_bodyparts if b not in known]
    removed = [b for b in had if b not in file_bodyparts]
    if added or removed:
        change = (
            f"now has bodyparts {added} that this table does not know (was config.yaml "
            "edited? re-read the file with the new config bodyparts)"
            if added
            else f"lost the bodyparts {removed} it had"
        )
        raise LabelConflictError(
            f"{path} was rewritten by another session or program and {change}; "
            "this table's changes were not re-applied, nothing was saved."
        )


def _disk_changes(base: Rows, disk: Rows, bodyparts: Sequence[str]) -> DiskChanges:
    """What differs between the labels last read or saved (``base``) and ``disk``."""
    nan_row = np.full((len(bodyparts), 2), np.nan)
    points = set()
    for key in base.keys() | disk.keys():
        differs = ~_same_points(base.get(key, nan_row), disk.get(key, nan_row))
        points.update((key, bodyparts[j]) for j in np.flatnonzero(differs))
    return DiskChanges(
        frozenset(points), len(disk.keys() - base.keys()), len(base.keys() - disk.keys())
    )


def _reapply(
    base: Rows, mine: Rows, merged: dict[ImageKey, np.ndarray], bodyparts: Sequence[str]
) -> list[str]:
    """Apply the edits from ``base`` to ``mine`` onto ``merged`` (the disk's rows, changed in place).

    Returns the conflicts (labels or images both sides changed differently), described.
    """
    conflicts = []
    for key in base.keys() - mine.keys():  # images removed here
        theirs = merged.get(key)
        if theirs is None:
            continue
        if _same_points(theirs, base[key]).all():
            del merged[key]
        else:
            conflicts.append(f"{'/'.join(key)} removed here but relabelled there")
    nan_row = np.full((len(bodyparts), 2), np.nan)
    for key, row in mine.items():
        old = base.get(key)
        if old is not None and _same_points(row, old).all():
            continue  # untouched here: the disk's row (or its absence) stands
        theirs = merged.get(key)
        if theirs is None:
            if old is not None:
                conflicts.append(f"{'/'.join(key)} edited here but removed there")
            else:
                merged[key] = row.copy()
            continue
        old = nan_row if old is None else old
        for j in np.flatnonzero(~_same_points(row, old)):
            if _same_points(theirs[j], old[j]).all() or _same_points(theirs[j], row[j]).all():
                theirs[j] = row[j]
            else:
                conflicts.append(f"{bodyparts[j]} of {'/'.join(key)}")
    return conflicts


def _rebase_rows(
    base: Rows, mine: Rows, disk: Rows, bodyparts: Sequence[str], path: Path
) -> tuple[dict[ImageKey, np.ndarray], DiskChanges]:
    """Three-way merge: ``mine``'s edits since ``base`` re-applied onto ``disk`` (the file ``path``).

    Parameters
    ----------
    base
        The rows a table last read or wrote (possibly fewer bodyparts: padded with NaN).
    mine
        The table's rows now.
    disk
        The file's rows now, in ``bodyparts`` order. Not modified.
    bodyparts
        The table's bodyparts, in order.
    path
        The label file, for the error message.

    Returns
    -------
    merged : dict
        New rows: ``disk`` with ``mine``'s edits applied.
    changes : DiskChanges
        What differs between ``base`` and ``disk``.

    Raises
    ------
    LabelConflictError
        If ``mine`` and ``disk`` changed the same label differently, or one removed an
        image the other edited.
    """
    base = {key: _padded(row, len(bodyparts)) for key, row in base.items()}
    changes = _disk_changes(base, disk, bodyparts)
    merged = {key: row.copy() for key, row in disk.items()}
    conflicts = _reapply(base, mine, merged, bodyparts)
    if conflicts:
        shown = "; ".join(conflicts[:5]) + (f"; and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
        raise LabelConflictError(
            f"{path} was changed by another session or program at the labels this "
            f"table changed too ({shown}); nothing was re-applied or saved. Re-read the "
            "file and redo the change, or save(..., overwrite=True) to keep this table's."
        )
    return merged, changes
