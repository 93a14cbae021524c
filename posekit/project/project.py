"""The Project: every path the workflow uses (the names themselves come from :mod:`posekit.project.naming`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posekit.project.config import (
    check_crop_inside,
    parse_crop,
    read_config,
    write_config,
)
from posekit.project.naming import (
    DLC_MODELS,
    TRAINING_DATASETS,
    VIDEO_SUFFIXES,
    collected_data_name,
    dataset_folder_name,
    frame_filename,
    frame_index_from_name,
    glob_escape,
    is_labeled_images_folder,
    is_video_output,
    iteration_folder_name,
    labeled_images_folder_name,
    model_folder_name,
    split_file_name,
    train_pct,
    video_stem,
)

# Names re-exported for the modules that import them from here.
__all__ = ["VIDEO_SUFFIXES", "Project", "frame_filename", "frame_index_from_name", "glob_escape",
           "list_videos", "train_pct", "video_stem"]

@dataclass
class Project:
    """A DeepLabCut-layout project on disk, opened from its ``config.yaml``.

    Only this class knows where things live; every workflow step asks it.

    Parameters
    ----------
    config_path
        Path of ``config.yaml``.

    Attributes
    ----------
    cfg : dict
        The validated configuration (``project_path`` = the folder holding it).
    """

    config_path: Path
    cfg: dict[str, Any] = field(repr=False)

    @classmethod
    def open(cls, config: str | os.PathLike | Project) -> Project:
        """Open a project from its config path (a Project is returned as is)."""
        if isinstance(config, Project):
            return config
        path = Path(config)
        if path.is_dir():
            path = path / "config.yaml"
        path = path.resolve()
        return cls(config_path=path, cfg=read_config(path))

    def reload(self) -> None:
        """Re-read ``config.yaml`` (after another process or a widget changed it)."""
        self.cfg = read_config(self.config_path)

    def save_config(self) -> None:
        """Write the current ``cfg`` back to ``config.yaml`` atomically."""
        write_config(self.config_path, self.cfg)

    # -- names ------------------------------------------------------------ #
    @property
    def root(self) -> Path:
        """The project folder (where ``config.yaml`` lives)."""
        return self.config_path.parent

    @property
    def scorer(self) -> str:
        return self.cfg["scorer"]

    @property
    def bodyparts(self) -> list[str]:
        return list(self.cfg["bodyparts"])

    @property
    def videos_dir(self) -> Path:
        return self.root / "videos"

    @property
    def labeled_data_dir(self) -> Path:
        return self.root / "labeled-data"

    def video_stems(self) -> list[str]:
        """Stems of the project's videos, in ``video_sets`` order, without repeats."""
        seen: dict[str, None] = {}
        for key in self.video_sets():
            seen.setdefault(video_stem(key), None)
        return list(seen)

    def video_sets(self) -> dict[str, dict[str, Any]]:
        """``video_sets_original`` when present (cropped-training projects), else ``video_sets``."""
        return dict(self.cfg.get("video_sets_original") or self.cfg["video_sets"])

    def labeled_folder(self, stem: str) -> Path:
        """``labeled-data/<stem>/``."""
        return self.labeled_data_dir / stem

    def collected_data_path(self, stem: str, suffix: str = ".h5") -> Path:
        """``labeled-data/<stem>/CollectedData_<scorer>.h5`` (or ``.csv``)."""
        return self.labeled_folder(stem) / collected_data_name(self.scorer, suffix)

    def labeled_images_dir(self, stem: str) -> Path:
        """``labeled-data/<stem>_labeled/`` where check_labels writes."""
        return self.labeled_data_dir / labeled_images_folder_name(stem)

    # -- training sets and models (DLC naming) ---------------------------- #
    @property
    def iteration(self) -> int:
        return int(self.cfg["iteration"])

    @property
    def task_date(self) -> str:
        """``<Task><date>``, the stem of DeepLabCut's dataset and model names."""
        return f"{self.cfg['Task']}{self.cfg['date']}"

    def training_fraction(self, trainingsetindex: int = 0) -> float:
        """``TrainingFraction[trainingsetindex]``, with an error naming the valid range."""
        fractions = self.cfg["TrainingFraction"]
        if not 0 <= trainingsetindex < len(fractions):
            raise IndexError(
                f"trainingsetindex={trainingsetindex} but config.yaml TrainingFraction has "
                f"{len(fractions)} value(s) {fractions}; use 0..{len(fractions) - 1}."
            )
        return float(fractions[trainingsetindex])

    def dataset_dir(self, iteration: int | None = None) -> Path:
        """``training-datasets/iteration-<N>/UnaugmentedDataSet_<Task><date>/``."""
        n = self.iteration if iteration is None else iteration
        return self.root / TRAINING_DATASETS / iteration_folder_name(n) / dataset_folder_name(self.task_date)

    def split_path(self, fraction: float, shuffle: int, iteration: int | None = None) -> Path:
        """The human-readable split file of one (fraction, shuffle) pair (YAML, no pickle)."""
        return self.dataset_dir(iteration) / split_file_name(self.cfg["Task"], fraction, shuffle)

    def model_dir(self, fraction: float, shuffle: int, iteration: int | None = None) -> Path:
        """``dlc-models/iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/``."""
        n = self.iteration if iteration is None else iteration
        name = model_folder_name(self.task_date, fraction, shuffle)
        return self.root / DLC_MODELS / iteration_folder_name(n) / name

    # -- videos ----------------------------------------------------------- #
    def video_key(self, stem: str) -> str:
        """The ``video_sets`` key of the video named ``stem``."""
        for key in self.video_sets():
            if video_stem(key) == stem:
                return key
        known = ", ".join(self.video_stems()) or "none"
        raise KeyError(
            f"No video named '{stem}' in {self.config_path} (video_sets has: {known}). "
            "Add it with posekit.add_new_videos."
        )

    def video_path(self, stem: str) -> Path:
        """Locate the video file of ``stem``, surviving moved projects.

        The stored ``video_sets`` key is tried first; when that absolute path is
        gone (project moved, other machine), the video is looked up by stem in
        the project's ``videos/`` folder.

        Raises
        ------
        FileNotFoundError
            Naming both places looked at.
        """
        key = self.video_key(stem)
        stored = Path(key.replace("\\", os.sep))
        if stored.is_file():
            return stored
        candidates = sorted(
            p
            for p in self.videos_dir.glob(f"{glob_escape(stem)}.*")
            if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
        )
        if candidates:
            return candidates[0]
        raise FileNotFoundError(
            f"Video '{stem}' not found: neither '{key}' nor a '{stem}.<ext>' file in "
            f"'{self.videos_dir}' exists. Put the video back or fix video_sets in "
            f"{self.config_path}."
        )

    def crop_box(self, stem: str) -> tuple[int, int, int, int]:
        """The ``video_sets`` crop box (x1, x2, y1, y2) of a video."""
        key = self.video_key(stem)
        return parse_crop(
            self.video_sets()[key]["crop"], where=f"video_sets['{key}'].crop"
        )

    def checked_crop_box(self, stem: str, width: int, height: int) -> tuple[int, int, int, int]:
        """The crop box of ``stem``, checked to lie inside a ``width`` x ``height`` frame."""
        box = self.crop_box(stem)
        check_crop_inside(box, width, height, where=f"video_sets crop of '{stem}'")
        return box

    def frame_images(self, stem: str) -> list[Path]:
        """Extracted frame images ``img*.png`` of a video, sorted by frame number."""
        folder = self.labeled_folder(stem)
        if not folder.is_dir():
            return []
        images = [p for p in folder.iterdir() if frame_index_from_name(p.name) is not None]
        return sorted(images, key=lambda p: frame_index_from_name(p.name))

    def frame_sizes(self, stem: str) -> dict[tuple[int, int], int]:
        """How many extracted frames of ``stem`` have each ``(width, height)`` (PNG headers only)."""
        from PIL import Image

        sizes: dict[tuple[int, int], int] = {}
        for path in self.frame_images(stem):
            with Image.open(path) as image:
                sizes[image.size] = sizes.get(image.size, 0) + 1
        return sizes

    def labeled_stems(self) -> list[str]:
        """Stems whose ``labeled-data/<stem>/`` holds CollectedData (h5 or csv).

        Project videos come first in ``video_sets`` order, then any other labeled
        folder (a project whose ``video_sets`` keys no longer match, like
        DeepLabCut's shipped examples, still has its labels found).
        """
        stems = self.video_stems() + [
            s for s in self.labeled_data_stems() if s not in self.video_stems()
        ]
        return [
            s
            for s in stems
            if self.collected_data_path(s).exists()
            or self.collected_data_path(s, ".csv").exists()
        ]

    def labeled_data_stems(self) -> list[str]:
        """Folders in ``labeled-data/`` (check_labels' ``*_labeled`` output excluded)."""
        if not self.labeled_data_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.labeled_data_dir.iterdir()
            if p.is_dir() and not is_labeled_images_folder(p.name)
        )


def video_suffixes(videotype: str | Sequence[str] | None) -> tuple[str, ...]:
    """``videotype`` (``"mp4"``, ``".avi"`` or a list) as lower-case suffixes; empty: every known one."""
    if not videotype:
        return VIDEO_SUFFIXES
    types = [videotype] if isinstance(videotype, str) else list(videotype)
    return tuple("." + t.lower().lstrip(".") for t in types)


def list_videos(
    videos: str | os.PathLike | Iterable[str | os.PathLike],
    videotype: str | Sequence[str] = "",
    project: Project | None = None,
    *,
    required: bool = False,
) -> list[Path]:
    """The video files that ``videos`` names, in order, without repeats.

    The one video listing of every verb (analyze_videos, create_labeled_video,
    plot_trajectories, extract_outlier_frames, filterpredictions).

    Parameters
    ----------
    videos
        Video files, folders, and (with ``project``) project video stems; a
        single one is accepted too.
    videotype
        Suffix(es) of the videos taken from folders (``"mp4"``, ``".avi"``;
        default every known video suffix). Named files are taken whatever
        their suffix.
    project
        Resolve names that are neither a file nor a folder as video stems of
        this project (:meth:`Project.video_path`).
    required
        Raise when nothing is found (otherwise an empty list is returned).

    Returns
    -------
    list of Path
        Absolute, not resolved: outputs go beside the path given (a symlink in
        ``videos/`` when the project links its videos), not beside its target.
        DeepLabCut's own outputs (names with ``_labeled.`` or ``_full.``) are
        left out, from folders and named files alike, as DeepLabCut does.

    Raises
    ------
    FileNotFoundError
        If an entry is neither a file, a folder nor (with ``project``) a project
        video, or with ``required`` when no video is found.
    """
    if isinstance(videos, (str, os.PathLike)):
        videos = [videos]
    suffixes = video_suffixes(videotype)
    found: dict[Path, None] = {}
    for entry in videos:
        path = Path(entry).expanduser()
        if path.is_dir():
            for p in sorted(path.iterdir()):
                if p.is_file() and p.suffix.lower() in suffixes and not is_video_output(p.name):
                    found.setdefault(p.absolute(), None)
        elif path.is_file():
            if not is_video_output(path.name):
                found.setdefault(path.absolute(), None)
        elif project is not None and str(entry) in project.video_stems():
            found.setdefault(project.video_path(str(entry)).absolute(), None)
        else:
            known = (f" nor a video of the project (its videos: {', '.join(project.video_stems()) or 'none'})"
                     if project is not None else "")
            raise FileNotFoundError(f"Video '{entry}' does not exist: it is neither a file, a folder{known}.")
    if required and not found:
        raise FileNotFoundError(f"No video found in {videos!r} (videotype {videotype!r}).")
    return list(found)
