"""Headless refinement of machine labels: a :class:`LabelingSession` that starts from predictions.

A :class:`RefinementSession` shows the frames of ``machinelabels-iter<N>.h5``
(written by ``extract_outlier_frames``) with, for each frame:

* the human labels when ``CollectedData_<scorer>`` already has a row for it
  (human labels win, NaN = occluded included): the frame is *refined*;
* otherwise the network's predictions (the frame is *unrefined*); a
  prediction outside the image is parked at config ``corner2move2`` when
  ``move2corner`` is true (hidden otherwise), so it can be dragged into place.

The first edit of an unrefined frame (drag, delete = occluded, place) or
:meth:`RefinementSession.accept` *promotes* it: its current points are written
to CollectedData (parked points that were not moved as NaN), through
:class:`~posekit.io.labels.LabelTable`, atomically, after every change. Other
frames' labels are untouched (also those another session saved meanwhile: see
:class:`~posekit.labeling.session.LabelingSession`). Which frames are refined is therefore read from
CollectedData itself (DeepLabCut's rule: its refinement GUI merges edited
frames in front of CollectedData, keeping them over older rows); a refinement
can stop at any time and go on another day. The machinelabels file is kept
unchanged (as DeepLabCut does) except that :meth:`remove_image` drops the row
of a deleted image.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from posekit.io.labels import ImageKey, LabelConflictError
from posekit.labeling.session import LabelingSession, Point, _frame_sort_key
from posekit.project.project import Project
from posekit.refine.machinelabels import (
    MachineLabels,
    machinelabels_csv_path,
    machinelabels_iterations,
    machinelabels_path,
)
from posekit.viz.style import PlotStyle

__all__ = ["RefinementSession", "stems_to_refine"]


def stems_to_refine(project: Project) -> list[str]:
    """Labeled-data folders holding machine labels of the current iteration."""
    stems = project.video_stems() + [
        s for s in project.labeled_data_stems() if s not in project.video_stems()
    ]
    return [s for s in stems if machinelabels_path(project, s).is_file()]


class RefinementSession(LabelingSession):
    """Correct the machine labels of one labeled-data folder (see the module docstring).

    Every :class:`LabelingSession` method works (``move``, ``remove`` = mark
    occluded, ``place``, ``undo``, navigation); the additions are the
    predictions' likelihoods, :meth:`accept`, :meth:`remove_image` and the
    refined / unrefined bookkeeping.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    stem
        The labeled-data folder; default: the first one with unrefined machine
        labels (else the first with machine labels).
    threshold
        Likelihood below which a prediction counts as uncertain (drawn hollow);
        default: config ``pcutoff``.
    autosave, undo_depth
        As :class:`LabelingSession`.

    Attributes
    ----------
    machine : MachineLabels
        The predictions (``machinelabels-iter<N>.h5``).
    machinelabels_path : pathlib.Path
    threshold : float

    Raises
    ------
    FileNotFoundError
        If the folder has no machine labels of the current iteration (the
        message names the folders that have some).
    """

    def __init__(
        self,
        config: str | os.PathLike | Project,
        stem: str | None = None,
        *,
        threshold: float | None = None,
        autosave: bool = True,
        undo_depth: int = 200,
    ) -> None:
        project = Project.open(config)
        self.machinelabels_path = _machinelabels_file(project, stem)
        stem = self.machinelabels_path.parent.name
        self.machine = MachineLabels.read(self.machinelabels_path)
        if not any(key[1] == stem for key in self.machine.rows):
            raise FileNotFoundError(
                f"'{self.machinelabels_path}' lists no frame of '{stem}'; nothing to refine."
            )
        cfg = project.cfg
        self.threshold = float(PlotStyle.from_config(cfg).pcutoff if threshold is None else threshold)
        self.move2corner = bool(cfg.get("move2corner", True))
        corner = cfg.get("corner2move2") or (50, 50)
        self.corner: Point = (float(corner[0]), float(corner[1]))
        # Parts of promoted frames shown at the corner while their stored label is NaN.
        self._parked: dict[ImageKey, set[int]] = {}
        super().__init__(project, stem, autosave=autosave, undo_depth=undo_depth)
        unrefined = self.unrefined()
        if unrefined:
            self._index = unrefined[0]
            self._part = self._first_unlabelled(self._index)

    def _reset_state(self) -> None:
        self.machine = MachineLabels.read(self.machinelabels_path)
        self._parked.clear()
        super()._reset_state()

    # -- what is shown ---------------------------------------------------------- #
    def _image_keys(self) -> list[ImageKey]:
        names = {key[2] for key in self.machine.rows if key[1] == self.stem}
        return [("labeled-data", self.stem, n) for n in sorted(names, key=_frame_sort_key)]

    def _prediction(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(points (J, 2), parked (J,) bool)``: the predictions of image ``index`` as shown."""
        predicted = self.machine.points(self.images[index], self.bodyparts)
        points = predicted[:, :2].copy()
        finite = np.isfinite(points).all(axis=1)
        try:
            width, height = self.image_size(index)
        except (OSError, ValueError):  # missing image: nothing can be outside it
            return points, np.zeros(len(points), bool)
        outside = finite & ~(
            (points[:, 0] >= -0.5)
            & (points[:, 0] <= width - 0.5)
            & (points[:, 1] >= -0.5)
            & (points[:, 1] <= height - 0.5)
        )
        if self.move2corner:
            corner = np.clip(self.corner, -0.5, [width - 0.5, height - 0.5])
            points[outside] = corner
        else:
            points[outside] = np.nan
        return points, outside & self.move2corner

    def _points(self, key: ImageKey) -> np.ndarray:
        if key in self._has_row:
            points = self.table.points(key)
            parked = [j for j in self._parked.get(key, ()) if not np.isfinite(points[j]).all()]
            if parked:
                points[parked] = self._prediction(self.images.index(key))[0][parked]
            return points
        return self._prediction(self.images.index(key))[0]

    def likelihoods(self, index: int | None = None) -> np.ndarray:
        """``(J,)`` likelihood of each shown point that is still the network's prediction.

        NaN where the point was set by a person (moved, placed, or a human
        label from CollectedData) or is not shown.
        """
        i = self._checked_index(index)
        key = self.images[i]
        predicted = self.machine.points(key, self.bodyparts)
        shown_machine, parked = self._prediction(i)
        points = self._points(key)
        same = np.isclose(points, shown_machine, rtol=0, atol=1e-9).all(axis=1)
        if key in self._has_row:
            still_parked = np.zeros(len(points), bool)
            still_parked[list(self._parked.get(key, ()))] = True
            same &= ~parked | still_parked
        return np.where(same, predicted[:, 2], np.nan)

    def uncertain(self, index: int | None = None) -> np.ndarray:
        """``(J,)`` bool: shown predictions with likelihood below :attr:`threshold` (drawn hollow)."""
        return self.likelihoods(index) < self.threshold

    def parked(self, index: int | None = None) -> np.ndarray:
        """``(J,)`` bool: points shown at ``corner2move2`` (out-of-image predictions)."""
        i = self._checked_index(index)
        key = self.images[i]
        _, outside = self._prediction(i)
        if key not in self._has_row:
            return outside
        flags = np.zeros(len(self.bodyparts), bool)
        stored = self.table.points(key)
        for j in self._parked.get(key, ()):
            flags[j] = not np.isfinite(stored[j]).all()
        return flags

    # -- refined or not ------------------------------------------------------------ #
    def is_refined(self, index: int | None = None) -> bool:
        """Whether image ``index`` has a CollectedData row (its labels are human-approved)."""
        return self.images[self._checked_index(index)] in self._has_row

    def unrefined(self) -> list[int]:
        """Indices of the images not refined yet."""
        return [i for i, key in enumerate(self.images) if key not in self._has_row]

    def next_unrefined(self) -> bool:
        """Go to the next unrefined image after the current one (wrapping); False if none."""
        todo = self.unrefined()
        if not todo:
            return False
        after = [i for i in todo if i > self._index]
        self.go_to(after[0] if after else todo[0])
        return True

    def accept(self, index: int | None = None) -> bool:
        """Approve image ``index`` (default current) as shown: write it to CollectedData.

        Returns
        -------
        bool
            False if it was refined already (nothing written).
        """
        i = self._checked_index(index)
        key = self.images[i]
        if key in self._has_row:
            return False
        self._promote(key)
        self._dirty = True
        self._notify("points")
        if self.autosave:
            self.save()
        return True

    def _promote(self, key: ImageKey) -> None:
        """Copy the shown predictions of ``key`` into the label table (parked ones as NaN)."""
        if key in self._has_row:
            return
        points, parked = self._prediction(self.images.index(key))
        self.table.add_image(key)
        for j, name in enumerate(self.bodyparts):
            if np.isfinite(points[j]).all() and not parked[j]:
                self.table.set_point(key, name, (float(points[j, 0]), float(points[j, 1])))
        self._has_row.add(key)
        self._parked[key] = set(np.flatnonzero(parked).tolist())

    def _write(self, index: int, bodypart: str, xy: Point | None) -> None:
        key = self.images[index]
        self._promote(key)
        j = self.bodyparts.index(bodypart)
        parked = self._parked.setdefault(key, set())
        if xy is not None and j in self._original_parked(index) and _same(xy, self._corner_of(index)):
            parked.add(j)  # undone back to the parked position: stored as NaN again
            xy = None
        else:
            parked.discard(j)
        super()._write(index, bodypart, xy)

    def _original_parked(self, index: int) -> set[int]:
        return set(np.flatnonzero(self._prediction(index)[1]).tolist())

    def _corner_of(self, index: int) -> Point:
        width, height = self.image_size(index)
        return (
            min(max(self.corner[0], -0.5), width - 0.5),
            min(max(self.corner[1], -0.5), height - 0.5),
        )

    # -- removing an invalid image ------------------------------------------------------ #
    def remove_image(self, index: int | None = None) -> Path:
        """Delete image ``index`` (default current) with its labels: a frame not worth labelling.

        The PNG (and its ``img<idx>labeled.png`` twin, if any) is deleted, its
        CollectedData row and its machinelabels row are removed, and both files
        are saved. Cannot be undone; the widget asks for confirmation first.

        Returns
        -------
        pathlib.Path
            The deleted image's path.
        """
        i = self._checked_index(index)
        key = self.images[i]
        path = self.image_path(i)
        if key in self.table.images:
            row = self.table.points(key)
            self.table.remove_image(key)
            try:
                self.save()
            except LabelConflictError:
                # Refused (another writer changed this frame): keep it, as on disk.
                self.table.add_image(key)
                for j in np.flatnonzero(np.isfinite(row).all(axis=1)):
                    self.table.set_point(key, self.bodyparts[j], tuple(row[j]))
                raise
        self.machine.drop([key])
        self.machine.save(
            self.machinelabels_path, machinelabels_csv_path(self.project, self.stem)
        )
        path.unlink(missing_ok=True)
        path.with_name(path.stem + "labeled.png").unlink(missing_ok=True)
        del self.images[i]
        self._has_row.discard(key)
        self._parked.pop(key, None)
        self._sizes.clear()  # keyed by index, which shifted
        self._undo = [
            type(c)(c.image - (c.image > i), c.bodypart, c.before, c.after)
            for c in self._undo
            if c.image != i
        ]
        if self.images:
            self._index = min(i, len(self.images) - 1)
            self._part = self._first_unlabelled(self._index)
        else:
            self._index = 0
        self._notify("image")
        return path

    def __repr__(self) -> str:
        return (
            f"RefinementSession(stem={self.stem!r}, images={len(self.images)}, "
            f"refined={len(self.images) - len(self.unrefined())}/{len(self.images)}, "
            f"threshold={self.threshold:g})"
        )


def _same(a: Point, b: Point) -> bool:
    return math.isclose(a[0], b[0], abs_tol=1e-9) and math.isclose(a[1], b[1], abs_tol=1e-9)


def _machinelabels_file(project: Project, stem: str | None) -> Path:
    """The machinelabels file to refine: of ``stem``, or of the first folder with work left."""
    if stem is not None:
        path = machinelabels_path(project, str(stem))
        if path.is_file():
            return path
        folder = project.labeled_folder(str(stem))
        older = machinelabels_iterations(folder)
        others = stems_to_refine(project)
        raise FileNotFoundError(
            f"No machine labels of iteration {project.iteration} in '{folder}' ('{path.name}'"
            " missing). Run posekit.extract_outlier_frames first"
            + (f"; that folder has machine labels of iteration(s) {older} only" if older else "")
            + (f"; folders with machine labels to refine: {others}" if others else "")
            + "."
        )
    stems = stems_to_refine(project)
    if not stems:
        raise FileNotFoundError(
            f"No labeled-data folder of '{project.root}' holds machine labels of iteration "
            f"{project.iteration} (machinelabels-iter{project.iteration}.h5). Run "
            "posekit.extract_outlier_frames first."
        )
    for s in stems:
        session_rows = MachineLabels.read(machinelabels_path(project, s)).images
        if _has_unrefined(project, s, session_rows):
            return machinelabels_path(project, s)
    return machinelabels_path(project, stems[0])


def _has_unrefined(project: Project, stem: str, keys: list[ImageKey]) -> bool:
    from posekit.io.labels import LabelTable

    h5, csv = project.collected_data_path(stem), project.collected_data_path(stem, ".csv")
    if not (h5.exists() or csv.exists()):
        return bool(keys)
    done = set(LabelTable.read(project.labeled_folder(stem), scorer=project.scorer).images)
    return any(tuple(k) not in done for k in keys)
