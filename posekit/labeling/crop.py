"""Headless crop box of a video: kept inside the frame, hit-tested, dragged, written to config.yaml.

The box uses DeepLabCut's ``video_sets`` crop convention ``x1, x2, y1, y2``:
integer pixel *edges*, so the cropped frame is ``frame[y1:y2, x1:x2]``. In the
image coordinates of :mod:`posekit.labeling.view` (pixel centres at integers)
edge ``e`` lies at ``e - 0.5``.
"""

from __future__ import annotations

import os
from pathlib import Path

from posekit.project.config import edit_config, format_crop, load_yaml
from posekit.project.project import Project, video_stem

__all__ = ["HANDLES", "CropBox"]

Box = tuple[int, int, int, int]

#: Hit-test results: the box's inside, its four corners, its four edges.
HANDLES = ("inside", "nw", "ne", "sw", "se", "n", "s", "w", "e")


class CropBox:
    """A crop box ``(x1, x2, y1, y2)`` that always lies inside a ``width`` x ``height`` frame.

    Parameters
    ----------
    box
        ``(x1, x2, y1, y2)`` pixel edges with ``0 <= x1 < x2 <= width`` and
        ``0 <= y1 < y2 <= height``.
    frame_size
        ``(width, height)`` of the full video frame.
    project, stem
        Where :meth:`apply` writes the box (see :meth:`from_project`).

    Raises
    ------
    ValueError
        If ``box`` is not inside the frame.
    """

    def __init__(
        self,
        box: Box,
        frame_size: tuple[int, int],
        project: Project | None = None,
        stem: str | None = None,
    ) -> None:
        self.width, self.height = (int(v) for v in frame_size)
        if self.width < 1 or self.height < 1:
            raise ValueError(f"frame_size must be positive, got {frame_size!r}.")
        self.project = project
        self.stem = stem
        self._box: Box = self._checked(box)
        self._drag: tuple[str, float, float, Box] | None = None

    @classmethod
    def from_project(
        cls,
        config: str | os.PathLike | Project,
        stem: str,
        frame_size: tuple[int, int],
    ) -> CropBox:
        """The ``video_sets`` crop of video ``stem``, clipped to the frame, bound for :meth:`apply`.

        A stored box reaching outside the frame (DeepLabCut's template default
        ``0, 640, 277, 624`` on a smaller video) is clipped rather than refused,
        so the editor can always open and fix it.
        """
        project = Project.open(config)
        width, height = (int(v) for v in frame_size)
        x1, x2, y1, y2 = project.crop_box(stem)
        x1, y1 = min(x1, width - 1), min(y1, height - 1)
        box = (x1, max(min(x2, width), x1 + 1), y1, max(min(y2, height), y1 + 1))
        return cls(box, (width, height), project=project, stem=stem)

    # -- state ------------------------------------------------------------- #
    @property
    def box(self) -> Box:
        """``(x1, x2, y1, y2)``."""
        return self._box

    @property
    def x1(self) -> int:
        """Left edge (first column kept)."""
        return self._box[0]

    @property
    def x2(self) -> int:
        """Right edge (one past the last column kept)."""
        return self._box[1]

    @property
    def y1(self) -> int:
        """Top edge (first row kept)."""
        return self._box[2]

    @property
    def y2(self) -> int:
        """Bottom edge (one past the last row kept)."""
        return self._box[3]

    def set(
        self,
        x1: int | None = None,
        x2: int | None = None,
        y1: int | None = None,
        y2: int | None = None,
    ) -> Box:
        """Set some edges from typed values; the others stay.

        Raises
        ------
        ValueError
            If the result is not a box inside the frame; the box is unchanged.
        """
        new = tuple(
            old if v is None else v for old, v in zip(self._box, (x1, x2, y1, y2), strict=True)
        )
        self._box = self._checked(new)
        return self._box

    def reset(self) -> Box:
        """Select the whole frame."""
        self._box = (0, self.width, 0, self.height)
        return self._box

    def _checked(self, box: Box) -> Box:
        try:
            values = [float(v) for v in box]
        except (TypeError, ValueError):
            raise ValueError(f"crop must be four integers (x1, x2, y1, y2), got {box!r}.") from None
        if len(values) != 4 or any(v != int(v) for v in values):
            raise ValueError(f"crop must be four integers (x1, x2, y1, y2), got {box!r}.")
        x1, x2, y1, y2 = (int(v) for v in values)
        if not (0 <= x1 < x2 <= self.width and 0 <= y1 < y2 <= self.height):
            raise ValueError(
                f"crop ({x1}, {x2}, {y1}, {y2}) is not inside the {self.width}x{self.height} "
                f"frame; need 0 <= x1 < x2 <= {self.width} and 0 <= y1 < y2 <= {self.height}."
            )
        return x1, x2, y1, y2

    # -- interaction --------------------------------------------------------- #
    def hit_test(self, x: float, y: float, tolerance: float) -> str | None:
        """What part of the box is at edge coordinates ``(x, y)``.

        Parameters
        ----------
        x, y
            Position in pixel-edge coordinates (image coordinate + 0.5).
        tolerance
            How far from a corner or edge still counts as on it, in pixels.

        Returns
        -------
        str or None
            A corner (``"nw"``, ``"ne"``, ``"sw"``, ``"se"``), an edge (``"n"``,
            ``"s"``, ``"w"``, ``"e"``), ``"inside"``, or None. Corners win over
            edges, edges over the inside.
        """
        x1, x2, y1, y2 = self._box
        near_w, near_e = abs(x - x1) <= tolerance, abs(x - x2) <= tolerance
        near_n, near_s = abs(y - y1) <= tolerance, abs(y - y2) <= tolerance
        in_x = x1 - tolerance <= x <= x2 + tolerance
        in_y = y1 - tolerance <= y <= y2 + tolerance
        if not (in_x and in_y):
            return None
        # When the box is thinner than the tolerance, prefer the nearer edge.
        if near_w and near_e:
            near_w, near_e = abs(x - x1) <= abs(x - x2), abs(x - x1) > abs(x - x2)
        if near_n and near_s:
            near_n, near_s = abs(y - y1) <= abs(y - y2), abs(y - y1) > abs(y - y2)
        vertical = "n" if near_n else "s" if near_s else ""
        horizontal = "w" if near_w else "e" if near_e else ""
        if vertical or horizontal:
            return vertical + horizontal
        return "inside" if (x1 < x < x2 and y1 < y < y2) else None

    def begin_drag(self, x: float, y: float, tolerance: float) -> str | None:
        """Start dragging what :meth:`hit_test` finds at ``(x, y)``; return it (None: nothing)."""
        handle = self.hit_test(x, y, tolerance)
        self._drag = None if handle is None else (handle, float(x), float(y), self._box)
        return handle

    @property
    def dragging(self) -> str | None:
        """The handle being dragged, or None."""
        return None if self._drag is None else self._drag[0]

    def drag_to(self, x: float, y: float) -> Box:
        """Continue the drag to ``(x, y)``: move the box or its corner/edge, clamped to the frame.

        Moving keeps the size and stops at the frame border; resizing stops at
        the border and at a 1-pixel box (edges never cross).
        """
        if self._drag is None:
            return self._box
        handle, x0, y0, (x1, x2, y1, y2) = self._drag
        dx, dy = round(x - x0), round(y - y0)
        if handle == "inside":
            dx = max(-x1, min(self.width - x2, dx))
            dy = max(-y1, min(self.height - y2, dy))
            self._box = (x1 + dx, x2 + dx, y1 + dy, y2 + dy)
            return self._box
        if "w" in handle:
            x1 = max(0, min(x2 - 1, x1 + dx))
        if "e" in handle:
            x2 = min(self.width, max(x1 + 1, x2 + dx))
        if "n" in handle:
            y1 = max(0, min(y2 - 1, y1 + dy))
        if "s" in handle:
            y2 = min(self.height, max(y1 + 1, y2 + dy))
        self._box = (x1, x2, y1, y2)
        return self._box

    def end_drag(self) -> Box:
        """Finish the drag; return the box."""
        self._drag = None
        return self._box

    # -- config ---------------------------------------------------------------- #
    def apply(self) -> Box:
        """Write the box to config.yaml as ``video_sets[<video>]["crop"]``; return it.

        Raises
        ------
        ValueError
            If the box is not bound to a project video (see :meth:`from_project`).
        KeyError
            If the video is no longer in ``video_sets``.
        """
        if self.project is None or self.stem is None:
            raise ValueError(
                "this CropBox is not bound to a project video; create it with "
                "CropBox.from_project(config, stem, frame_size)."
            )
        path: Path = self.project.config_path
        video_sets = dict(load_yaml(path).get("video_sets") or {})
        keys = [k for k in video_sets if video_stem(k) == self.stem]
        if not keys:
            raise KeyError(
                f"No video named '{self.stem}' in video_sets of {path}; "
                "add it with posekit.add_new_videos."
            )
        for key in keys:
            entry = dict(video_sets[key] or {})
            entry["crop"] = format_crop(self._box)
            video_sets[key] = entry
        edit_config(path, {"video_sets": video_sets})
        self.project.reload()
        return self._box

    def __repr__(self) -> str:
        return f"CropBox({format_crop(self._box)}, frame={self.width}x{self.height})"
