"""Manual frame extraction, headless: move through a video and save chosen frames.

:class:`FrameGrabber` holds all the state of ``extract_frames(mode="manual")``; the
notebook widget (:mod:`posekit.widgets.grabber`) only renders it and forwards clicks.
Frames are saved exactly like automatic extraction does: ``labeled-data/<stem>/``
``img<index>.png`` with DeepLabCut's zero padding, never overwriting a file.
A video with a ``video_sets`` crop box is grabbed through it, so the frames of
one folder share one size; where that cannot be, a :class:`FrameSizeWarning`
says why.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.errors import ConfigError, LabelError
from posekit.io.images import write_png
from posekit.project.config import format_crop
from posekit.project.project import Project, frame_filename, frame_index_from_name

__all__ = ["FrameGrabber", "FrameSizeWarning", "GrabResult", "describe_sizes"]


class FrameSizeWarning(UserWarning):
    """Frames of one labeled-data folder do not (or would not) share one size."""


def describe_sizes(sizes: dict[tuple[int, int], int]) -> str:
    """``"3 at 160x120, 2 at 64x48"`` for :meth:`Project.frame_sizes` counts."""
    return ", ".join(f"{n} at {w}x{h}" for (w, h), n in sorted(sizes.items(), key=lambda kv: -kv[1]))


@dataclass(frozen=True)
class GrabResult:
    """What :meth:`FrameGrabber.grab` did.

    Attributes
    ----------
    index : int
        The frame number.
    path : Path
        The image file of that frame (new, or the one already there).
    created : bool
        False when the frame had been extracted before and nothing was written.
    """

    index: int
    path: Path
    created: bool

    @property
    def message(self) -> str:
        """One line for a status bar."""
        if self.created:
            return f"Saved frame {self.index} as {self.path.name}."
        return f"Frame {self.index} was already extracted ({self.path.name}); nothing written."


class FrameGrabber:
    """Seek through one project video at a time and save chosen frames for labeling.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    stem
        Video to start with (default: the project's first video).
    crop
        False (default): grab through the video's ``video_sets`` crop box unless
        the folder already holds full-size frames (then full frames, and a
        :class:`FrameSizeWarning`) or the box does not fit the video (full frames,
        and a warning). True: always through the crop box, like
        ``extract_frames(crop=True)``; a box that does not fit is an error.
        Labels are in the coordinates of the saved (cropped) images.
    cache_size
        Decoded frames kept in memory (stepping back and forth re-uses them).

    Notes
    -----
    Thread-safe: a widget may decode previews in a worker thread while the main
    thread grabs; one lock serialises access to the video reader.
    """

    def __init__(
        self,
        config: str | os.PathLike | Project,
        stem: str | None = None,
        crop: bool = False,
        cache_size: int = 8,
    ) -> None:
        self.project = Project.open(config)
        self.crop = bool(crop)
        if not self.project.video_stems():
            raise ValueError(
                f"{self.project.config_path} lists no videos; add some with posekit.add_new_videos."
            )
        self._lock = threading.RLock()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = max(int(cache_size), 1)
        self._reader = None
        self._stem = ""
        self._index = 0
        self._n_frames = 0
        self._fps = 0.0
        #: The crop box (x1, x2, y1, y2) frames are grabbed through, None for full frames.
        self.crop_box: tuple[int, int, int, int] | None = None
        #: Why the current video's frames are, or would be, of mixed sizes ("" when they are not).
        self.size_warning = ""
        self.select_video(stem or self.project.video_stems()[0])

    # -- video ------------------------------------------------------------ #
    @property
    def stems(self) -> list[str]:
        """The project's video stems (the choices of :meth:`select_video`)."""
        return self.project.video_stems()

    @property
    def stem(self) -> str:
        """Stem of the current video."""
        return self._stem

    @property
    def video_path(self) -> Path:
        """File of the current video."""
        return self.project.video_path(self._stem)

    @property
    def n_frames(self) -> int:
        """Number of frames of the current video."""
        return self._n_frames

    @property
    def fps(self) -> float:
        """Frame rate of the current video."""
        return self._fps

    @property
    def folder(self) -> Path:
        """``labeled-data/<stem>/`` of the current video."""
        return self.project.labeled_folder(self._stem)

    def select_video(self, stem: str) -> None:
        """Switch to the video ``stem`` and go to its first frame.

        Raises
        ------
        KeyError
            If the project has no such video.
        FileNotFoundError, posekit.errors.VideoError
            If its file is missing or unreadable.
        posekit.errors.ConfigError
            With ``crop=True``, if the crop box does not fit the video.

        Warns
        -----
        FrameSizeWarning
            When the folder's frames and the grabbed ones differ in size (see
            ``crop``); the text is kept in :attr:`size_warning`.
        """
        from posekit.io.video import VideoReader

        self.project.video_key(stem)  # KeyError naming the known videos
        path = self.project.video_path(stem)
        with VideoReader(path) as probe:
            box, size_warning = self._choose_crop(stem, probe.full_width, probe.full_height)
        reader = VideoReader(path, crop=box)
        n_frames = reader.n_frames
        if n_frames < 1:
            reader.close()
            raise ValueError(f"Video '{path}' has no frames.")
        with self._lock:
            old, self._reader = self._reader, reader
            # Kept here: the reader's own properties wait for its lock while a
            # preview decodes, and seeking must never wait for a decode.
            self._n_frames, self._fps = n_frames, float(reader.fps)
            self._stem = stem
            self._index = 0
            self._cache.clear()
            self.crop_box, self.size_warning = box, size_warning
        if old is not None:
            old.close()
        if size_warning:
            warnings.warn(size_warning, FrameSizeWarning, stacklevel=2)

    def _choose_crop(self, stem: str, width: int, height: int) -> tuple[tuple[int, int, int, int] | None, str]:
        """The box to grab ``stem`` through (None: full frames) and a size warning ("" if none)."""
        folder = self.project.labeled_folder(stem)
        try:
            box = self.project.checked_crop_box(stem, width, height)
        except ConfigError as err:
            if self.crop:
                raise
            return None, (
                f"Cannot grab '{stem}' through its crop box: {err} Grabbing full {width}x{height} "
                "frames instead; fix the box with posekit.crop_editor."
            )
        x1, x2, y1, y2 = box
        size = (x2 - x1, y2 - y1)
        if size == (width, height):
            box = None  # the whole frame: nothing to crop
        sizes = self.project.frame_sizes(stem)
        if box is not None and not self.crop and set(sizes) == {(width, height)}:
            return None, (
                f"'{folder}' already holds {describe_sizes(sizes)} (full frames), so frames are "
                f"grabbed full size too, not through the crop box '{format_crop(box)}': frames in "
                "one folder must share one size. To crop, remove those frames (or extract them "
                "again with crop=True) and reopen the grabber."
            )
        others = {s: n for s, n in sizes.items() if s != size}
        if not others:
            return box, ""
        return box, (
            f"'{folder}' holds frames of another size ({describe_sizes(others)}) than the "
            f"{size[0]}x{size[1]} frames grabbed now: frames in one folder must share one size "
            "(label coordinates depend on the crop). Remove the odd ones (or extract them again) "
            "so they match."
        )

    def close(self) -> None:
        """Close the video (the grabber cannot be used afterwards)."""
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            self._cache.clear()

    def __enter__(self) -> FrameGrabber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- position --------------------------------------------------------- #
    @property
    def index(self) -> int:
        """Current frame number (assigning seeks, clamped to the video)."""
        return self._index

    @index.setter
    def index(self, value: int) -> None:
        self.seek(value)

    def seek(self, index: int) -> int:
        """Go to frame ``index``, clamped to ``[0, n_frames - 1]``; return the new index."""
        self._index = self.clamp(index)
        return self._index

    def step(self, n: int) -> int:
        """Move ``n`` frames forward (negative: back), clamped; return the new index."""
        return self.seek(self._index + int(n))

    def clamp(self, index: int) -> int:
        """``index`` limited to the current video's frame numbers."""
        return min(max(int(index), 0), self.n_frames - 1)

    @property
    def time(self) -> float:
        """Time of the current frame in seconds."""
        return self.time_of(self._index)

    def time_of(self, index: int) -> float:
        """Time of frame ``index`` in seconds (``index / fps``)."""
        return index / self.fps if self.fps > 0 else 0.0

    # -- pixels ----------------------------------------------------------- #
    def frame(self, index: int | None = None) -> np.ndarray:
        """The RGB ``uint8`` frame ``index`` (default: the current one), cached.

        Raises
        ------
        IndexError
            If ``index`` is outside the video.
        """
        index = self._index if index is None else int(index)
        if not 0 <= index < self.n_frames:
            raise IndexError(f"Frame {index} is outside '{self._stem}' (0..{self.n_frames - 1}).")
        with self._lock:
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
            image = self._reader.read(index)
            image.setflags(write=False)  # shared through the cache
            self._cache[index] = image
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return image

    # -- grabbed frames --------------------------------------------------- #
    def grabbed(self) -> list[Path]:
        """Frame images already in ``labeled-data/<stem>/``, sorted by frame number."""
        return self.project.frame_images(self._stem)

    def grabbed_indices(self) -> list[int]:
        """Frame numbers of :meth:`grabbed`."""
        return [frame_index_from_name(p.name) for p in self.grabbed()]

    def image_of(self, index: int) -> Path | None:
        """The extracted image of frame ``index`` (whatever its zero padding), or None."""
        for path in self.grabbed():
            if frame_index_from_name(path.name) == index:
                return path
        return None

    def grab(self) -> GrabResult:
        """Save the current frame as ``labeled-data/<stem>/img<index>.png``.

        The name is the one automatic extraction uses (``frame_filename(index,
        n_frames)``). A frame already extracted (under any zero padding) is left
        alone: grabbing twice writes once.
        """
        index = self._index
        existing = self.image_of(index)
        if existing is not None:
            return GrabResult(index, existing, created=False)
        path = self.folder / frame_filename(index, self.n_frames)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_png(path, self.frame(index))
        return GrabResult(index, path, created=True)

    def delete(self, index: int) -> Path:
        """Delete the extracted image of frame ``index``; return its path.

        Raises
        ------
        FileNotFoundError
            If frame ``index`` has no image in ``labeled-data/<stem>/``.
        posekit.errors.LabelError
            If the image is listed in ``CollectedData_<scorer>`` (labels are never
            lost by deleting their image): remove it from the label table first.
        """
        path = self.image_of(int(index))
        if path is None:
            raise FileNotFoundError(
                f"Frame {index} of '{self._stem}' has no image in {self.folder}; nothing deleted."
            )
        self._refuse_if_labeled(path)
        path.unlink()
        return path

    def _refuse_if_labeled(self, image: Path) -> None:
        from posekit.io.labels import LabelConsistencyWarning, LabelTable

        key = ("labeled-data", self._stem, image.name)
        for suffix in (".h5", ".csv"):  # both: an image listed in either copy counts
            label_file = self.project.collected_data_path(self._stem, suffix)
            if not label_file.is_file():
                continue
            with warnings.catch_warnings():  # both copies are checked here anyway
                warnings.simplefilter("ignore", LabelConsistencyWarning)
                table = LabelTable.read(label_file)
            if key not in table.images:
                continue
            done, total = table.completeness(key)
            raise LabelError(
                f"Not deleting {image.name}: it is in {label_file.name} with {done} of {total} "
                "body parts labeled. Remove the image from the label table first "
                "(LabelTable.remove_image, then save) if you really want it gone."
            )
