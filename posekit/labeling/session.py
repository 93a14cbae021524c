"""Headless labeling of one ``labeled-data/<stem>`` folder: points, navigation, undo, autosave.

A :class:`LabelingSession` holds everything the labeling widget shows; the
widget only renders it and forwards clicks and keys. Every change is written
to ``CollectedData_<scorer>.h5`` and ``.csv`` before the call returns (a save
takes about 20 ms for DeepLabCut's 55-image Reaching example), so a dead
kernel loses nothing that was acknowledged.

Two sessions (two widgets, a refinement and a labeling widget, or a script) may
edit one folder. A save never replaces labels another writer saved since this
session last read or wrote CollectedData: the session re-reads the file and
re-applies its own changes on top (event ``"merged"``), or, when that is not
safe (both changed the same point, or the file has body parts this session does
not know), refuses with :class:`~posekit.io.labels.LabelConflictError` and
keeps the change unsaved until :meth:`LabelingSession.reload`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.errors import LabelError
from posekit.io.images import read_image
from posekit.io.labels import DiskChanges, ImageKey, LabelConflictError, LabelTable
from posekit.project.project import Project, frame_index_from_name

__all__ = ["EVENTS", "Change", "LabelingSession"]

#: Events passed to :meth:`LabelingSession.on_change` callbacks.
EVENTS = ("points", "image", "bodypart", "saved", "merged", "reloaded")

Point = tuple[float, float]


@dataclass(frozen=True)
class Change:
    """One edit of one point, as kept on the undo stack.

    Attributes
    ----------
    image : int
        Index of the image in :attr:`LabelingSession.images`.
    bodypart : str
        The edited body part.
    before, after : tuple of float or None
        ``(x, y)`` before and after the edit; None = unlabelled.
    """

    image: int
    bodypart: str
    before: Point | None
    after: Point | None


class LabelingSession:
    """The labeling state of one labeled-data folder.

    Images are the folder's ``img*.png`` frames plus any other image of the
    folder already in CollectedData, ordered by frame number. Labels start from
    ``CollectedData_<scorer>`` when it exists (body parts added to config.yaml
    since then appear unlabelled, old labels untouched), else from an empty
    table. Nothing is written until the first change; from then on every
    change is saved at once. An image gets a CollectedData row when it is
    first labelled (a never-touched frame is not written as an all-NaN row,
    which training would read as "nothing visible").

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    stem
        Name of the ``labeled-data`` folder (the video stem). Default: the
        first folder, in ``video_sets`` order, that holds images.
    autosave
        Save after every change. With False, call :meth:`save` yourself.
    undo_depth
        How many changes :meth:`undo` can take back.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist or holds no images.
    posekit.errors.LabelError
        If CollectedData cannot be read for this project (wrong scorer, body
        parts that are not in config.yaml).

    Examples
    --------
    >>> session = LabelingSession(config)            # doctest: +SKIP
    >>> session.place((120.5, 88.0))   # labels the current part, selects the next
    'snout'
    """

    def __init__(
        self,
        config: str | os.PathLike | Project,
        stem: str | None = None,
        *,
        autosave: bool = True,
        undo_depth: int = 200,
    ) -> None:
        self.project = Project.open(config)
        self.stem = _default_stem(self.project) if stem is None else str(stem)
        self.folder = self.project.labeled_folder(self.stem)
        if not self.folder.is_dir():
            known = ", ".join(self.project.labeled_data_stems()) or "none"
            raise FileNotFoundError(
                f"No labeled-data folder '{self.folder}' (folders: {known}). "
                "Run posekit.extract_frames first, or pass an existing stem."
            )
        self.autosave = autosave
        if int(undo_depth) < 0:
            raise ValueError(f"undo_depth must be >= 0, got {undo_depth!r}.")
        self.undo_depth = int(undo_depth)
        self.table = self._read_table()
        self.images: list[ImageKey] = self._image_keys()
        if not self.images:
            raise FileNotFoundError(
                f"'{self.folder}' holds no img*.png frames to label. "
                "Run posekit.extract_frames first."
            )
        self._sizes: dict[int, tuple[int, int]] = {}
        self._undo: list[Change] = []
        self._callbacks: list[Callable[[str], None]] = []
        self._dirty = False
        self.last_save_seconds: float | None = None
        self.last_merge: DiskChanges | None = None
        self._has_row = set(self.table.images)  # images with a CollectedData row
        self._index = 0
        self._part = self._first_unlabelled(0)

    # -- loading ------------------------------------------------------------ #
    def _read_table(self) -> LabelTable:
        # missing_ok: with no file yet the table still remembers "no file", so a
        # CollectedData another session creates meanwhile is merged, not replaced.
        return LabelTable.read(
            self.folder,
            bodyparts=self.project.bodyparts,
            scorer=self.project.scorer,
            missing_ok=True,
        )

    def _image_keys(self) -> list[ImageKey]:
        names = {p.name for p in self.project.frame_images(self.stem)}
        names.update(k[2] for k in self.table.images if k[1] == self.stem)
        ordered = sorted(names, key=_frame_sort_key)
        return [("labeled-data", self.stem, name) for name in ordered]

    # -- observers ------------------------------------------------------------ #
    def on_change(self, callback: Callable[[str], None], remove: bool = False) -> None:
        """Call ``callback(event)`` after each change; ``event`` is one of :data:`EVENTS`.

        ``"points"``: a label of the current image changed; ``"image"``: another
        image is current; ``"bodypart"``: another body part is current;
        ``"saved"``: the labels reached disk; ``"merged"``: before saving, labels
        another writer saved were read in (:attr:`last_merge` says which), so any
        image may show new points; ``"reloaded"``: :meth:`reload` re-read
        config.yaml and CollectedData (body parts and images may differ).
        """
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def _notify(self, event: str) -> None:
        for callback in list(self._callbacks):
            callback(event)

    # -- current image --------------------------------------------------------- #
    @property
    def index(self) -> int:
        """Index of the current image in :attr:`images`."""
        return self._index

    @property
    def image_key(self) -> ImageKey:
        """The current image's row key ``("labeled-data", stem, name)``."""
        return self.images[self._index]

    @property
    def image_name(self) -> str:
        """File name of the current image."""
        return self.image_key[2]

    def image_path(self, index: int | None = None) -> Path:
        """Path of image ``index`` (default: current)."""
        return self.project.root.joinpath(*self.images[self._checked_index(index)])

    def read_image(self, index: int | None = None) -> np.ndarray:
        """The RGB ``uint8`` pixels of image ``index`` (default: current)."""
        i = self._checked_index(index)
        image = read_image(self.image_path(i))
        self._sizes[i] = (image.shape[1], image.shape[0])
        return image

    def image_size(self, index: int | None = None) -> tuple[int, int]:
        """``(width, height)`` of image ``index`` (read from the file header only)."""
        from PIL import Image

        i = self._checked_index(index)
        if i not in self._sizes:
            path = self.image_path(i)
            if not path.is_file():
                raise FileNotFoundError(f"Image '{path}' does not exist.")
            with Image.open(path) as img:
                self._sizes[i] = img.size
        return self._sizes[i]

    def go_to(self, index: int | str) -> None:
        """Make image ``index`` (or the image with that file name) current.

        The current body part becomes the first unlabelled one of that image.

        Raises
        ------
        IndexError
            For an index outside ``0 .. len(images) - 1`` or an unknown name.
        """
        i = self._index_of(index)
        if i == self._index:
            return
        self._index = i
        self._part = self._first_unlabelled(i)
        self._notify("image")

    def next_image(self) -> bool:
        """Go to the next image; False (and stay) at the last one."""
        if self._index + 1 >= len(self.images):
            return False
        self.go_to(self._index + 1)
        return True

    def previous_image(self) -> bool:
        """Go to the previous image; False (and stay) at the first one."""
        if self._index == 0:
            return False
        self.go_to(self._index - 1)
        return True

    # -- current body part ------------------------------------------------------ #
    @property
    def bodyparts(self) -> list[str]:
        """Body parts in config order."""
        return self.table.bodyparts

    @property
    def bodypart(self) -> str:
        """The body part the next :meth:`place` labels."""
        return self._part

    def select_bodypart(self, bodypart: str | int) -> None:
        """Make ``bodypart`` (a name or an index into :attr:`bodyparts`) current.

        Raises
        ------
        posekit.errors.LabelError
            For an unknown name or index; the message lists the known ones.
        """
        name = self._checked_bodypart(bodypart)
        if name != self._part:
            self._part = name
            self._notify("bodypart")

    def next_bodypart(self) -> bool:
        """Select the next body part (to skip an invisible one); False at the last."""
        j = self.bodyparts.index(self._part)
        if j + 1 >= len(self.bodyparts):
            return False
        self.select_bodypart(j + 1)
        return True

    def previous_bodypart(self) -> bool:
        """Select the previous body part; False at the first."""
        j = self.bodyparts.index(self._part)
        if j == 0:
            return False
        self.select_bodypart(j - 1)
        return True

    # -- labels ------------------------------------------------------------------ #
    def points(self, index: int | None = None) -> np.ndarray:
        """``(J, 2)`` array of image ``index``'s points (NaN = unlabelled)."""
        return self._points(self.images[self._checked_index(index)])

    def get_point(self, bodypart: str, index: int | None = None) -> Point | None:
        """``(x, y)`` of ``bodypart`` in image ``index`` (default current); None if unlabelled."""
        name = self._checked_bodypart(bodypart)
        x, y = self._points(self.images[self._checked_index(index)])[self.bodyparts.index(name)]
        return (float(x), float(y)) if math.isfinite(x) and math.isfinite(y) else None

    def place(self, xy: tuple[float, float]) -> str:
        """Label the current body part at ``xy`` and select the next body part.

        Parameters
        ----------
        xy
            ``(x, y)`` in image pixels (pixel centres at integers).

        Returns
        -------
        str
            The body part that was labelled.

        Raises
        ------
        ValueError
            If ``xy`` lies outside the image; the message gives the valid range.
        """
        part = self._part
        self._edit(self._index, part, self._checked_xy(xy))
        self.next_bodypart()
        return part

    def move(self, bodypart: str, xy: tuple[float, float]) -> None:
        """Put ``bodypart`` of the current image at ``xy`` (a drag); the selection stays.

        Raises
        ------
        ValueError
            If ``xy`` lies outside the image, or ``bodypart`` is unknown.
        """
        name = self._checked_bodypart(bodypart)
        self._edit(self._index, name, self._checked_xy(xy))

    def remove(self, bodypart: str | None = None) -> bool:
        """Unlabel ``bodypart`` (default: the current one) in the current image.

        Returns
        -------
        bool
            False if it was not labelled (nothing changed).
        """
        name = self._part if bodypart is None else self._checked_bodypart(bodypart)
        return self._edit(self._index, name, None)

    def undo(self) -> Change | None:
        """Take back the last change (repeatable), showing the image and part it touched.

        Returns
        -------
        Change or None
            The change undone, or None when there is nothing to undo.
        """
        if not self._undo:
            return None
        change = self._undo.pop()
        self.go_to(change.image)
        self.select_bodypart(change.bodypart)
        self._write(change.image, change.bodypart, change.before)
        return change

    @property
    def can_undo(self) -> bool:
        """Whether :meth:`undo` has something to take back."""
        return bool(self._undo)

    def frame_completeness(self) -> list[tuple[int, int]]:
        """``(labelled, total)`` body-part counts of every image, in :attr:`images` order."""
        return [self.completeness(i) for i in range(len(self.images))]

    def completeness(self, index: int | None = None) -> tuple[int, int]:
        """``(labelled, total)`` body-part counts of image ``index`` (default: current)."""
        points = self._points(self.images[self._checked_index(index)])
        return int(np.isfinite(points).all(axis=1).sum()), len(self.bodyparts)

    def _points(self, key: ImageKey) -> np.ndarray:
        # The points shown and edited; a subclass may show other points for
        # images without a CollectedData row (refinement: the machine labels).
        if key in self._has_row:
            return self.table.points(key)
        return np.full((len(self.bodyparts), 2), np.nan)

    def nearest_point(
        self, xy: tuple[float, float], radius: float, index: int | None = None
    ) -> str | None:
        """The labelled body part closest to ``xy`` within ``radius`` image pixels, or None.

        Used to pick a point to drag or remove.
        """
        points = self.points(index)
        distance = np.hypot(points[:, 0] - float(xy[0]), points[:, 1] - float(xy[1]))
        distance[~np.isfinite(distance)] = np.inf
        j = int(np.argmin(distance))
        return self.bodyparts[j] if distance[j] <= radius else None

    def _edit(self, index: int, bodypart: str, xy: Point | None) -> bool:
        before = self.get_point(bodypart, index)
        if before == xy:
            return False
        self._undo.append(Change(index, bodypart, before, xy))
        del self._undo[: max(len(self._undo) - self.undo_depth, 0)]
        self._write(index, bodypart, xy)
        return True

    def _write(self, index: int, bodypart: str, xy: Point | None) -> None:
        key = self.images[index]
        if xy is None:
            self.table.remove_point(key, bodypart)
        else:
            self.table.set_point(key, bodypart, xy)
            self._has_row.add(key)
        self._dirty = True
        # Render first: if the save fails (disk full), the user still sees the
        # point, the error propagates, and the next change or save() retries.
        self._notify("points")
        if self.autosave:
            self.save()

    # -- files --------------------------------------------------------------------- #
    @property
    def dirty(self) -> bool:
        """Whether there are changes not yet on disk."""
        return self._dirty

    def save(self) -> tuple[Path, Path]:
        """Write ``CollectedData_<scorer>.h5`` and ``.csv`` now (each atomically).

        If another session or program saved CollectedData since this session
        last read or wrote it, its labels are read in first and this session's
        changes re-applied on top (event ``"merged"``, :attr:`last_merge`).

        Returns
        -------
        tuple of pathlib.Path
            ``(h5_path, csv_path)``.

        Raises
        ------
        posekit.io.labels.LabelConflictError
            When this session's changes cannot be re-applied safely: the other
            writer changed the same point, or CollectedData has body parts this
            session does not know (config.yaml was edited). Nothing is written;
            the changes stay unsaved until :meth:`reload` (which drops them).
        """
        start = time.perf_counter()
        try:
            paths = self.table.save(self.folder)
        except LabelConflictError:
            paths = self._merge_and_save()
        self.last_save_seconds = time.perf_counter() - start
        self._dirty = False
        self._notify("saved")
        return paths

    def _merge_and_save(self) -> tuple[Path, Path]:
        try:
            changes = self.table.rebase()
        except LabelConflictError as err:
            raise LabelConflictError(
                f"{err} This session's last change is NOT saved. Reload (session.reload(), or "
                "the Reload button) to show the labels and body parts on disk, then redo it."
            ) from None
        paths = self.table.save(self.folder)
        self._has_row = set(self.table.images)
        # An undo must not put back a point over a value another writer saved.
        touched = {(self.images.index(key), part) for key, part in changes.points if key in self.images}
        self._undo = [c for c in self._undo if (c.image, c.bodypart) not in touched]
        self.last_merge = changes
        self._notify("merged")
        return paths

    def reload(self) -> None:
        """Re-read config.yaml and CollectedData; unsaved changes and the undo history are dropped.

        The way out of a refused save (:class:`~posekit.io.labels.LabelConflictError`):
        the session then shows what is on disk, with the body parts config.yaml
        lists now. The current image stays current when it still exists.
        """
        name = self.image_name if self.images else None
        self.project.reload()
        self.table = self._read_table()
        self._reset_state()
        names = [key[2] for key in self.images]
        self._index = names.index(name) if name in names else min(self._index, max(len(names) - 1, 0))
        if self.images:
            self._part = self._first_unlabelled(self._index)
        self._notify("reloaded")

    def _reset_state(self) -> None:
        """Forget everything derived from the table read before (after :meth:`reload`)."""
        self.images = self._image_keys()
        self._has_row = set(self.table.images)
        self._sizes.clear()
        self._undo.clear()
        self._dirty = False
        self.last_merge = None

    def close(self) -> None:
        """Save pending changes (only needed with ``autosave=False``)."""
        if self._dirty:
            self.save()

    def __enter__(self) -> LabelingSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- checks --------------------------------------------------------------------- #
    def _checked_index(self, index: int | None) -> int:
        return self._index if index is None else self._index_of(index)

    def _index_of(self, index: int | str) -> int:
        if isinstance(index, str):
            for i, key in enumerate(self.images):
                if key[2] == index:
                    return i
            raise IndexError(
                f"no image named {index!r} in '{self.folder}'; "
                f"images: {[k[2] for k in self.images[:5]]}..."
            )
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"image index must be an int or a file name, got {index!r}.")
        if not 0 <= index < len(self.images):
            raise IndexError(
                f"image index {index} is out of range; this folder has "
                f"{len(self.images)} images (0 .. {len(self.images) - 1})."
            )
        return int(index)

    def _checked_bodypart(self, bodypart: str | int) -> str:
        parts = self.bodyparts
        if isinstance(bodypart, (int, np.integer)) and not isinstance(bodypart, bool):
            if 0 <= bodypart < len(parts):
                return parts[int(bodypart)]
        elif bodypart in parts:
            return str(bodypart)
        raise LabelError(
            f"unknown bodypart {bodypart!r}; known bodyparts: {parts} "
            f"(or an index 0 .. {len(parts) - 1}). New ones go into config.yaml's bodyparts."
        )

    def _checked_xy(self, xy: tuple[float, float]) -> Point:
        try:
            x, y = (float(v) for v in xy)
        except (TypeError, ValueError):
            raise ValueError(f"a point must be two numbers (x, y), got {xy!r}.") from None
        width, height = self.image_size()
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"point {xy!r} is not finite; use remove() to unlabel a part.")
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            raise ValueError(
                f"point ({x:g}, {y:g}) lies outside {self.image_name} ({width}x{height}); "
                f"x must be in [-0.5, {width - 0.5}] and y in [-0.5, {height - 0.5}] "
                "(pixel centres at integers)."
            )
        return x, y

    def _first_unlabelled(self, index: int) -> str:
        points = self._points(self.images[index])
        missing = np.flatnonzero(~np.isfinite(points).all(axis=1))
        return self.bodyparts[int(missing[0]) if missing.size else 0]

    def __repr__(self) -> str:
        done = sum(n for n, _ in self.frame_completeness())
        total = len(self.images) * len(self.bodyparts)
        return (
            f"LabelingSession(stem={self.stem!r}, image={self._index + 1}/{len(self.images)} "
            f"{self.image_name!r}, bodypart={self._part!r}, labelled={done}/{total})"
        )


def _default_stem(project: Project) -> str:
    stems = project.video_stems() + [
        s for s in project.labeled_data_stems() if s not in project.video_stems()
    ]
    for stem in stems:
        if project.frame_images(stem):
            return stem
    raise FileNotFoundError(
        f"No labeled-data folder of '{project.root}' holds frames to label. "
        "Run posekit.extract_frames first."
    )


def _frame_sort_key(name: str) -> tuple[int, float, str]:
    number = frame_index_from_name(name)
    return (0, number, name) if number is not None else (1, 0.0, name)
