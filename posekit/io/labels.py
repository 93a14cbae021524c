"""Human labels of one ``labeled-data/<video_stem>`` folder, in DeepLabCut's layout.

This module and :mod:`posekit.io.label_files` (which reads, normalises and writes the
files) are the only places that read or write ``CollectedData_<scorer>.h5`` /
``.csv`` files. On disk the layout is DeepLabCut's (see the format spec, section 4):

* columns: 3-level ``MultiIndex`` named ``["scorer", "bodyparts", "coords"]``, one
  scorer, bodyparts in config order, ``x`` before ``y`` (bodypart-major);
* rows: one per image, ``("labeled-data", "<video_stem>", "img042.png")`` (DLC >= 2.2.0.4)
  or the older string form ``"labeled-data/<video_stem>/img042.png"`` (both are read);
* values: ``float64`` pixel coordinates, NaN where a point is not labelled.

The ``.h5`` file is what DeepLabCut reads; the ``.csv`` file is a human-readable mirror.
:meth:`LabelTable.save` writes both atomically, and :meth:`LabelTable.read` warns when
they disagree.

A table read from (or saved to) a file remembers a :class:`LabelFingerprint` of the pair
and the labels it held then. :meth:`LabelTable.save` refuses (:class:`LabelConflictError`)
to replace a pair that another session or program rewrote since; :meth:`LabelTable.rebase`
re-reads it and re-applies this table's own changes on top, so no one's labels are lost.
That machinery (fingerprints, the three-way merge) lives in :mod:`posekit.io.label_sync`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath
from typing import Any, Literal

import numpy as np
import pandas as pd

from posekit.errors import LabelError
from posekit.io.dataframes import object_multiindex
from posekit.io.label_files import (
    _H5_SUFFIXES,
    _SEP,
    COLUMN_NAMES,
    H5_FORMAT,
    H5_KEY,
    ImageKey,
    _check_scorer,
    _normalise_frame,
    _resolve_label_files,
    _write_label_files,
    collected_data_paths,
    read_label_dataframe,
)
from posekit.io.label_sync import (
    DiskChanges,
    LabelConflictError,
    LabelFingerprint,
    _check_file_bodyparts,
    _rebase_rows,
    _same_points,
    _Synced,
)

__all__ = [
    "COLUMN_NAMES",
    "H5_FORMAT",
    "H5_KEY",
    "DiskChanges",
    "ImageKey",
    "LabelConflictError",
    "LabelConsistencyWarning",
    "LabelFingerprint",
    "LabelTable",
    "collected_data_paths",
    "read_label_dataframe",
]

ImageLike = ImageKey | str | PurePath | Sequence[str]


class LabelConsistencyWarning(UserWarning):
    """The ``.h5`` and ``.csv`` copies of a label file disagree."""


# --------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------


def _check_bodyparts(bodyparts: Any) -> list[str]:
    if isinstance(bodyparts, str) or not isinstance(bodyparts, Iterable):
        raise LabelError(
            f"bodyparts must be a list of names (config.yaml order), got {bodyparts!r}."
        )
    names = list(bodyparts)
    if not names:
        raise LabelError("bodyparts is empty; list at least one bodypart (config.yaml).")
    bad = [n for n in names if not isinstance(n, str) or not n.strip()]
    if bad:
        raise LabelError(f"bodypart names must be non-empty strings, got {bad}.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise LabelError(
            f"duplicate bodyparts {dupes}; each bodypart must appear once in config.yaml."
        )
    return names


def _as_image_key(image: ImageLike) -> ImageKey:
    """Normalise ``('labeled-data', stem, name)`` or ``'labeled-data/stem/name'``."""
    if isinstance(image, PurePath):
        image = str(image)
    if isinstance(image, str):
        parts: tuple[Any, ...] = tuple(_SEP.split(image))
    elif isinstance(image, Sequence):
        parts = tuple(image)
    else:
        parts = ()
    if len(parts) != 3 or not all(isinstance(p, str) and p for p in parts):
        raise LabelError(
            f"invalid image {image!r}; use ('labeled-data', '<video>', 'img042.png') or "
            "'labeled-data/<video>/img042.png'."
        )
    return (str(parts[0]), str(parts[1]), str(parts[2]))


def _as_xy(xy: Any) -> tuple[float, float]:
    try:
        x, y = xy
        point = (float(x), float(y))
    except (TypeError, ValueError):
        raise LabelError(f"a point must be two numbers (x, y), got {xy!r}.") from None
    if not all(math.isfinite(v) for v in point):
        raise LabelError(
            f"point {xy!r} is not finite; use remove_point() to unlabel a bodypart."
        )
    return point


# --------------------------------------------------------------------------------------
# LabelTable
# --------------------------------------------------------------------------------------


class LabelTable:
    """Human labels of one labeled-data folder (one video) in DLC layout.

    Parameters
    ----------
    scorer
        The labeller's name (config.yaml ``scorer``); the ``scorer`` column level.
    bodyparts
        Bodypart names in config order. Must be non-empty and free of duplicates.
    data
        Optional DLC-layout frame to start from (string or tuple row index). Its scorer
        must equal ``scorer`` and its bodyparts must all be in ``bodyparts``; bodyparts
        it lacks become unlabelled (NaN).

    Raises
    ------
    LabelError
        For an empty or duplicated bodypart list, or ``data`` that does not fit.

    Notes
    -----
    Coordinates are stored per image as a ``(J, 2)`` float array; NaN = not labelled.
    Images are kept sorted (DLC sorts rows before saving).
    """

    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self, scorer: str, bodyparts: Sequence[str], data: pd.DataFrame | None = None
    ) -> None:
        self._scorer = _check_scorer(scorer)
        self._bodyparts = _check_bodyparts(bodyparts)
        self._column = {name: j for j, name in enumerate(self._bodyparts)}
        self._rows: dict[ImageKey, np.ndarray] = {}
        self._synced: _Synced | None = None  # no file read or written yet
        if data is not None:
            self._load_frame(_normalise_frame(data, "data"), "data")

    # ---- construction -------------------------------------------------------------

    @classmethod
    def empty(cls, scorer: str, bodyparts: Sequence[str]) -> LabelTable:
        """Return a table with no images.

        Parameters
        ----------
        scorer
            The labeller's name (config.yaml ``scorer``).
        bodyparts
            Bodypart names in config order.
        """
        return cls(scorer, bodyparts)

    @classmethod
    def read(
        cls,
        path: str | os.PathLike,
        bodyparts: Sequence[str] | None = None,
        scorer: str | None = None,
        *,
        missing_ok: bool = False,
    ) -> LabelTable:
        """Read the labels of one labeled-data folder.

        Parameters
        ----------
        path
            A ``CollectedData_<scorer>.h5`` or ``.csv`` file, or the labeled-data folder
            holding one (the ``.h5`` is preferred; with several, ``scorer`` picks
            ``CollectedData_<scorer>.h5``).
        bodyparts
            Config bodyparts, in config order. Columns are reordered to it; config
            bodyparts missing from the file are added unlabelled (NaN), so new bodyparts
            can be added to an existing dataset without losing labels. ``None``: file order.
        scorer
            Config scorer. ``None``: take the file's.
        missing_ok
            With no label file yet, return an empty table (``bodyparts`` and ``scorer``
            are then required) instead of raising; it still remembers that there was no
            file, so a later :meth:`save` does not replace one that another session
            created meanwhile.

        Returns
        -------
        LabelTable
            It remembers the file's :class:`LabelFingerprint`: :meth:`save` to the same
            file refuses if another writer changed it since (see :meth:`rebase`).

        Raises
        ------
        FileNotFoundError
            If the file, or any ``CollectedData_*`` file in the folder, is missing
            (unless ``missing_ok``).
        LabelError
            For malformed files; bodyparts in the file that are not in ``bodyparts``;
            a file scorer different from ``scorer`` (DLC silently skips such files).

        Warns
        -----
        LabelConsistencyWarning
            When both the ``.h5`` and ``.csv`` exist and disagree (different images,
            bodyparts or values beyond 1e-6 px, or one is unreadable). When a folder or
            the ``.h5`` was given, the ``.h5`` wins (DLC reads only the ``.h5``); when the
            ``.csv`` was named explicitly (e.g. hand-edited), the ``.csv`` wins. Either
            way :meth:`save` rewrites both from the returned table.
        """
        try:
            primary, companion = _resolve_label_files(Path(path), scorer)
        except FileNotFoundError:
            if not missing_ok:
                raise
            if scorer is None or bodyparts is None:
                raise LabelError(
                    "LabelTable.read(missing_ok=True) needs scorer= and bodyparts= to make an "
                    f"empty table: there is no label file at {path}."
                ) from None
            table = cls(scorer, bodyparts)
            table._remember(*cls._pair_paths(Path(path), scorer), [])
            return table
        h5_path, csv_path = cls._pair_paths(primary, "")  # a file: no scorer needed
        # Fingerprint before reading: a write in between then shows as a change later
        # (a harmless extra rebase) instead of being taken for what was read.
        fingerprint = LabelFingerprint.of(h5_path, csv_path)
        frame = read_label_dataframe(primary)
        file_scorers = list(dict.fromkeys(frame.columns.get_level_values("scorer")))
        if len(file_scorers) > 1:
            raise LabelError(
                f"{primary} holds several scorers {file_scorers}; a label file has one "
                "scorer level value. Keep one scorer's columns and delete the others."
            )
        if scorer is None:
            if not file_scorers:
                raise LabelError(f"{primary} has no label columns; cannot tell its scorer.")
            scorer = file_scorers[0]
        if bodyparts is None:
            bodyparts = list(dict.fromkeys(frame.columns.get_level_values("bodyparts")))
        table = cls(scorer, bodyparts)
        table._load_frame(frame, primary)
        if companion is not None:
            problem = table._disagreement(companion)
            if problem is not None:
                table._warn_disagreement(primary, companion, problem)
        file_parts = list(dict.fromkeys(frame.columns.get_level_values("bodyparts")))
        table._remember(h5_path, csv_path, file_parts, fingerprint)
        return table

    def _disagreement(self, other_path: Path) -> str | None:
        """Why the label file ``other_path`` differs from this table (None: it agrees)."""
        try:
            other = LabelTable(self._scorer, self._bodyparts)
            other._load_frame(read_label_dataframe(other_path), other_path)
        except (LabelError, OSError) as exc:
            return f"it cannot be read: {exc}"
        mine, theirs = set(self._rows), set(other._rows)
        if mine != theirs:
            return (
                f"{len(theirs - mine)} image(s) only in {other_path.name}, "
                f"{len(mine - theirs)} image(s) missing from it"
            )
        n_diff = sum(int((~_same_points(arr, other._rows[key])).sum()) for key, arr in self._rows.items())
        if n_diff:
            return f"{n_diff} point(s) differ"
        return None

    @staticmethod
    def _warn_disagreement(primary: Path, companion: Path, problem: str) -> None:
        if primary.suffix.lower() == ".csv":
            msg = (
                f"{primary} and {companion.name} disagree ({problem}); using the .csv you "
                "asked for. DeepLabCut reads only the .h5: call save() to rewrite the .h5 "
                "from these labels, or read the .h5 instead."
            )
        else:
            msg = (
                f"{companion} is stale: it disagrees with {primary.name} ({problem}). "
                "Using the .h5 (DeepLabCut reads only the .h5); save() rewrites the .csv."
            )
        warnings.warn(msg, LabelConsistencyWarning, stacklevel=3)

    def _load_frame(self, frame: pd.DataFrame, source: os.PathLike | str) -> None:
        """Merge a normalised frame into this (so far empty) table."""
        file_scorers = list(dict.fromkeys(frame.columns.get_level_values("scorer")))
        wrong = [s for s in file_scorers if s != self._scorer]
        if wrong:
            raise LabelError(
                f"{source} was labelled under scorer {wrong[0]!r} but the project scorer "
                f"is {self._scorer!r} (DeepLabCut silently skips such files). To fix: if "
                f"{wrong[0]!r} is right, set `scorer: {wrong[0]}` in config.yaml; otherwise "
                f"convert the file: t = LabelTable.read(path); t.scorer = {self._scorer!r}; "
                "t.save(folder); then delete the old CollectedData file."
            )
        file_parts = list(dict.fromkeys(frame.columns.get_level_values("bodyparts")))
        extra = [b for b in file_parts if b not in self._column]
        if extra:
            raise LabelError(
                f"{source} has labels for bodyparts {extra} that are not in the bodyparts "
                f"list {self._bodyparts}. Add them to `bodyparts` in config.yaml, or "
                "delete their columns from the label file."
            )
        keys = [tuple(k) for k in frame.index]
        dupes = [k for k, n in Counter(keys).items() if n > 1]
        if dupes:
            shown = ", ".join("/".join(k) for k in dupes[:3])
            raise LabelError(
                f"{source} has duplicated image rows ({shown}); keep one row per image."
            )
        values = frame.to_numpy(dtype=np.float64)
        block = np.full((len(keys), len(self._bodyparts), 2), np.nan)
        columns = list(frame.columns)
        position = {col: i for i, col in enumerate(columns)}
        for bodypart in file_parts:
            j = self._column[bodypart]
            block[:, j, 0] = values[:, position[(self._scorer, bodypart, "x")]]
            block[:, j, 1] = values[:, position[(self._scorer, bodypart, "y")]]
        for i, key in enumerate(keys):
            self._rows[(str(key[0]), str(key[1]), str(key[2]))] = block[i].copy()

    # ---- properties ---------------------------------------------------------------

    @property
    def scorer(self) -> str:
        """The labeller's name (``scorer`` column level, file name suffix)."""
        return self._scorer

    @scorer.setter
    def scorer(self, value: str) -> None:
        self._scorer = _check_scorer(value)

    @property
    def bodyparts(self) -> list[str]:
        """Bodypart names in config order (a copy)."""
        return list(self._bodyparts)

    @property
    def images(self) -> list[ImageKey]:
        """Image keys of all rows, sorted (labelled or not)."""
        return sorted(self._rows)

    # ---- editing ------------------------------------------------------------------

    def add_image(self, image: ImageLike) -> ImageKey:
        """Add an unlabelled row for ``image`` (no-op if present); return its key."""
        key = _as_image_key(image)
        if key not in self._rows:
            self._rows[key] = np.full((len(self._bodyparts), 2), np.nan)
        return key

    def remove_image(self, image: ImageLike) -> None:
        """Remove the row of ``image`` and its labels.

        Raises
        ------
        LabelError
            If the image is not in the table.
        """
        key = self._existing(image)
        del self._rows[key]

    def get_point(self, image: ImageLike, bodypart: str) -> tuple[float, float] | None:
        """Return ``(x, y)`` of ``bodypart`` in ``image``; None if unlabelled or absent."""
        j = self._bodypart_index(bodypart)
        row = self._rows.get(_as_image_key(image))
        if row is None or not np.isfinite(row[j]).all():
            return None
        return float(row[j, 0]), float(row[j, 1])

    def set_point(self, image: ImageLike, bodypart: str, xy: Sequence[float]) -> None:
        """Label ``bodypart`` at ``xy = (x, y)`` pixels in ``image`` (row added if needed).

        Raises
        ------
        LabelError
            For an unknown bodypart (the message lists the known ones) or a non-finite
            or malformed ``xy``.
        """
        j = self._bodypart_index(bodypart)
        point = _as_xy(xy)
        key = self.add_image(image)
        self._rows[key][j] = point

    def remove_point(self, image: ImageLike, bodypart: str) -> None:
        """Unlabel ``bodypart`` in ``image`` (set to NaN); the image row stays.

        Raises
        ------
        LabelError
            For an unknown bodypart or an image not in the table.
        """
        j = self._bodypart_index(bodypart)
        self._rows[self._existing(image)][j] = np.nan

    def add_bodyparts(self, names: str | Iterable[str]) -> None:
        """Append bodyparts as unlabelled columns; existing labels are untouched.

        Names already present (or repeated) are ignored.
        """
        new_names = [names] if isinstance(names, str) else list(names)
        if not new_names:
            return
        _check_bodyparts(list(dict.fromkeys(new_names)))
        added = [n for n in dict.fromkeys(new_names) if n not in self._column]
        if not added:
            return
        self._bodyparts.extend(added)
        self._column = {name: j for j, name in enumerate(self._bodyparts)}
        pad = np.full((len(added), 2), np.nan)
        for key, row in self._rows.items():
            self._rows[key] = np.concatenate([row, pad])

    # ---- views --------------------------------------------------------------------

    def points(self, image: ImageLike) -> np.ndarray:
        """Return a ``(J, 2)`` float array of ``image``'s points (NaN = unlabelled)."""
        return self._rows[self._existing(image)].copy()

    def to_array(self) -> tuple[list[ImageKey], np.ndarray]:
        """Return ``(images, coords)`` with ``coords`` of shape ``(N, J, 2)`` (sorted rows)."""
        images = self.images
        if not images:
            return images, np.empty((0, len(self._bodyparts), 2))
        return images, np.stack([self._rows[k] for k in images])

    def completeness(self, image: ImageLike) -> tuple[int, int]:
        """Return ``(labelled, total)`` bodypart counts for ``image``."""
        row = self._rows[self._existing(image)]
        return int(np.isfinite(row).all(axis=1).sum()), len(self._bodyparts)

    def to_dataframe(self, row_index: Literal["tuple", "string"] = "tuple") -> pd.DataFrame:
        """Return the labels as a DLC-layout DataFrame.

        Parameters
        ----------
        row_index
            ``"tuple"`` (DLC >= 2.2.0.4): 3-level row MultiIndex
            ``("labeled-data", stem, image)`` with level names None. ``"string"`` (older
            DLC): ``"labeled-data/<stem>/<image>"`` joined with ``/``.

        Returns
        -------
        pandas.DataFrame
            Columns ``MultiIndex`` ``(scorer, bodyparts, coords)`` named
            ``["scorer", "bodyparts", "coords"]``, bodypart-major ``x, y`` in config
            order; rows sorted; ``float64`` values; labels are object-dtype strings
            (readable by DLC-era pandas).
        """
        images, coords = self.to_array()
        values = coords.reshape(len(images), 2 * len(self._bodyparts))
        columns = object_multiindex(
            [(self._scorer, bp, c) for bp in self._bodyparts for c in ("x", "y")],
            names=list(COLUMN_NAMES),
        )
        if row_index == "tuple":
            index: pd.Index = object_multiindex(images, nlevels=3)
        elif row_index == "string":
            paths = ["/".join(k) for k in images]
            order = sorted(range(len(paths)), key=paths.__getitem__)
            paths = [paths[i] for i in order]
            values = values[order]
            index = pd.Index(paths, dtype=object)
        else:
            raise LabelError(f"row_index must be 'tuple' or 'string', got {row_index!r}.")
        return pd.DataFrame(values, index=index, columns=columns)

    # ---- files --------------------------------------------------------------------

    def save(
        self,
        folder_or_h5_path: str | os.PathLike,
        *,
        row_index: Literal["tuple", "string"] = "tuple",
        overwrite: bool = False,
    ) -> tuple[Path, Path]:
        """Write ``CollectedData_<scorer>.h5`` and ``.csv``, each atomically.

        Parameters
        ----------
        folder_or_h5_path
            The labeled-data folder (files named after :attr:`scorer`), or an explicit
            ``.h5`` path (the ``.csv`` goes beside it with the same stem).
        row_index
            ``"tuple"`` (default, DLC >= 2.2.0.4) or ``"string"`` (older DLC).
        overwrite
            Replace the files even if another writer changed them since this table read
            or saved them.

        Returns
        -------
        tuple of pathlib.Path
            ``(h5_path, csv_path)``.

        Raises
        ------
        LabelConflictError
            If this table read or saved these files and they changed on disk since
            (another session or program saved labels there): nothing is written. Call
            :meth:`rebase` to take those labels in, then save again.

        Notes
        -----
        The h5 uses key ``df_with_missing`` in ``fixed`` format (as DLC >= 2.2.0.4) and
        reads back with plain ``pd.read_hdf(path)``; the csv is exactly
        ``DataFrame.to_csv`` of the same frame. Both temporary files are written and
        fsynced first, then the h5 is renamed into place, then the csv. A crash leaves
        the previous pair, or (between the renames) a new h5 beside a stale csv, which
        :meth:`read` detects (warning) and the next ``save`` repairs.
        """
        h5_path, csv_path = self._pair_paths(Path(folder_or_h5_path), self._scorer)
        if not overwrite and self._synced is not None:
            self._synced.check_unchanged(h5_path, csv_path)
        frame = self.to_dataframe(row_index)
        _write_label_files(frame, h5_path, csv_path)
        # Hashed after the write (the pair writer keeps its temp files to itself): a writer
        # that renames in between would be taken for ours. The window is a few
        # milliseconds; serialising writers across processes would need a lock file.
        self._remember(h5_path, csv_path, self.bodyparts)
        return h5_path, csv_path

    @property
    def fingerprint(self) -> LabelFingerprint | None:
        """The fingerprint of the label files when this table last read or saved them.

        None for a table that never read or saved a file (its :meth:`save` overwrites).
        """
        return None if self._synced is None else self._synced.fingerprint

    def changed_on_disk(self) -> bool:
        """Whether the label files this table last read or saved were changed since.

        False for a table that never read or saved a file.
        """
        synced = self._synced
        return synced is not None and synced.changed_on_disk()

    def rebase(self) -> DiskChanges:
        """Re-read the label file and re-apply this table's own changes on top of it.

        This table's changes are what differs from the labels it last read or saved:
        points set or removed, images added or removed. Every other label comes from
        the file as it is now, so what another session or program saved is kept. The
        result is not saved; call :meth:`save`.

        Returns
        -------
        DiskChanges
            What the other writer changed (empty when the file is unchanged).

        Raises
        ------
        LabelError
            If this table never read or saved a file (nothing to rebase onto).
        LabelConflictError
            Nothing is changed when re-applying is not safe: the file now has bodyparts
            this table does not know (config.yaml changed: re-read with the new
            bodyparts), it lost bodyparts it had, or this table and the file changed the
            same label, or an image one side removed and the other edited.
        """
        synced = self._synced
        if synced is None:
            raise LabelError(
                "this label table was not read from or saved to a file; there is nothing to "
                "rebase onto. Read it with LabelTable.read(folder, ...) first."
            )
        fingerprint = LabelFingerprint.of(synced.h5, synced.csv)
        disk = LabelTable(self._scorer, self._bodyparts)
        file_parts: list[str] = []
        if fingerprint.exists:
            primary = synced.h5 if fingerprint.h5 is not None else synced.csv
            frame = read_label_dataframe(primary)
            file_parts = list(dict.fromkeys(frame.columns.get_level_values("bodyparts")))
            _check_file_bodyparts(primary, file_parts, self._bodyparts, synced.file_bodyparts)
            disk._load_frame(frame, primary)
        self._rows, changes = _rebase_rows(synced.rows, self._rows, disk._rows, self._bodyparts, synced.h5)
        self._synced = _Synced(
            synced.h5, synced.csv, fingerprint, file_parts, disk._rows
        )
        return changes

    @staticmethod
    def _pair_paths(target: Path, scorer: str) -> tuple[Path, Path]:
        """``(h5, csv)`` of a folder (files named after ``scorer``), an ``.h5`` or a ``.csv``."""
        suffix = target.suffix.lower()
        if not target.is_dir() and suffix in _H5_SUFFIXES:
            h5_path, csv_path = target, target.with_suffix(".csv")
        elif suffix == ".csv" or target.is_file():
            h5_path, csv_path = target.with_suffix(".h5"), target.with_suffix(".csv")
        else:
            h5_path, csv_path = collected_data_paths(target, scorer)
        # resolved, so a table read through one spelling of a path is checked through another
        return h5_path.resolve(), csv_path.resolve()

    def _remember(
        self,
        h5_path: Path,
        csv_path: Path,
        file_bodyparts: list[str],
        fingerprint: LabelFingerprint | None = None,
    ) -> None:
        """Record what the pair holds now (this table's rows; ``fingerprint`` or a fresh one)."""
        if fingerprint is None:
            fingerprint = LabelFingerprint.of(h5_path, csv_path)
        rows = {key: row.copy() for key, row in self._rows.items()}
        self._synced = _Synced(
            h5_path, csv_path, fingerprint, list(file_bodyparts), rows
        )

    def missing_images(self, project_path: str | os.PathLike) -> list[ImageKey]:
        """Return the sorted rows whose image file is not under ``project_path``.

        Such rows are reported, never dropped: DLC would fail on them at
        ``create_training_dataset``.
        """
        root = Path(project_path)
        return [key for key in self.images if not root.joinpath(*key).is_file()]

    # ---- helpers ------------------------------------------------------------------

    def _bodypart_index(self, bodypart: str) -> int:
        try:
            return self._column[bodypart]
        except (KeyError, TypeError):
            raise LabelError(
                f"unknown bodypart {bodypart!r}; known bodyparts: {self._bodyparts}. "
                "Add new ones with add_bodyparts() (and to config.yaml)."
            ) from None

    def _existing(self, image: ImageLike) -> ImageKey:
        key = _as_image_key(image)
        if key not in self._rows:
            raise LabelError(f"image {'/'.join(key)!r} is not in the label table.")
        return key

    # ---- dunder -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelTable):
            return NotImplemented
        if (
            self._scorer != other._scorer
            or self._bodyparts != other._bodyparts
            or self._rows.keys() != other._rows.keys()
        ):
            return False
        return all(
            np.array_equal(row, other._rows[key], equal_nan=True)
            for key, row in self._rows.items()
        )

    def __repr__(self) -> str:
        labelled = sum(int(np.isfinite(r).all(axis=1).sum()) for r in self._rows.values())
        total = len(self._rows) * len(self._bodyparts)
        return (
            f"LabelTable(scorer={self._scorer!r}, bodyparts={self._bodyparts!r}, "
            f"images={len(self._rows)}, labelled={labelled}/{total})"
        )
