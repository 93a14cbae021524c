"""Create a DeepLabCut-layout project and add videos to it."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

from posekit.errors import VideoError
from posekit.project.config import (
    DEFAULTS,
    check_crop_inside,
    format_crop,
    parse_crop,
    write_config,
)
from posekit.project.project import Project, list_videos, video_stem

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

SUBFOLDERS = ("videos", "labeled-data", "training-datasets", "dlc-models")

PathLike = str | os.PathLike


def dlc_date(day: _dt.date) -> str:
    """DeepLabCut's ``date`` value: English month abbreviation + unpadded day (``Aug30``)."""
    return f"{_MONTHS[day.month - 1]}{day.day}"


def _readable_size(path: Path) -> tuple[int, int] | None:
    """Frame size of a readable video, or None (with a warning) if it cannot be opened."""
    from posekit.io.video import VideoReader

    try:
        with VideoReader(path) as reader:
            return reader.full_width, reader.full_height
    except (VideoError, OSError) as err:
        warnings.warn(f"Skipping '{path}': {err}", stacklevel=3)
        return None


def create_project(
    project: str,
    experimenter: str,
    videos: PathLike | Sequence[PathLike],
    working_directory: PathLike | None = None,
    copy_videos: bool = False,
    videotype: str = "",
    bodyparts: Sequence[str] | None = None,
) -> str:
    """Create a new DeepLabCut-compatible project.

    Makes ``<project>-<experimenter>-<YYYY-MM-DD>/`` with ``videos/``,
    ``labeled-data/<stem>/`` per video, ``training-datasets/``, ``dlc-models/`` and
    a ``config.yaml`` with DeepLabCut 2.x keys and defaults. Videos are linked
    (or copied) into ``videos/``. An existing project folder is never
    overwritten: its config path is returned with a warning.

    Parameters
    ----------
    project
        Task name (``Task`` in config.yaml).
    experimenter
        Labeler name (``scorer``).
    videos
        Video files and/or folders of videos.
    working_directory
        Where the project folder is made (default: the current directory).
    copy_videos
        Copy videos instead of symlinking them (symlinks fall back to copies
        where the file system refuses them).
    videotype
        Suffix to pick when scanning folders (``".mp4"``); empty = all known.
    bodyparts
        Body part names (default: DeepLabCut's placeholders).

    Returns
    -------
    str
        Path of the project's ``config.yaml``.

    Raises
    ------
    FileNotFoundError
        If a given video path does not exist.
    posekit.errors.VideoError
        If no video could be opened.
    """
    for name, value in (("project", project), ("experimenter", experimenter)):
        if not value or any(c in value for c in "/\\"):
            raise ValueError(
                f"{name}={value!r} must be a non-empty name without path separators."
            )
    today = _dt.date.today()
    base = Path(working_directory or os.getcwd()).expanduser().resolve()
    root = base / f"{project}-{experimenter}-{today:%Y-%m-%d}"
    config_path = root / "config.yaml"
    if root.exists():
        warnings.warn(
            f"Project folder '{root}' already exists; nothing was changed.", stacklevel=2
        )
        return str(config_path)

    sources = list_videos(videos, videotype)
    if not sources:
        raise FileNotFoundError(
            f"No videos found in {videos!r} (videotype={videotype!r}). Pass video "
            "files or a folder holding them."
        )
    sizes = {src: _readable_size(src) for src in sources}
    readable = [src for src, size in sizes.items() if size is not None]
    if not readable:
        raise VideoError(
            "None of the videos could be opened: "
            + ", ".join(str(s) for s in sources)
            + ". Check they are videos ffmpeg can decode."
        )

    for sub in SUBFOLDERS:
        (root / sub).mkdir(parents=True, exist_ok=True)
    cfg = {
        "Task": project,
        "scorer": experimenter,
        "date": dlc_date(today),
        **DEFAULTS,
        "project_path": str(root),
        "video_sets": {},
    }
    if bodyparts is not None:
        cfg["bodyparts"] = list(bodyparts)
        cfg["skeleton"] = []
    for src in readable:
        dest = _import_video(src, root / "videos", copy_videos)
        (root / "labeled-data" / video_stem(str(dest))).mkdir(exist_ok=True)
        cfg["video_sets"][str(dest)] = {"crop": format_crop((0, sizes[src][0], 0, sizes[src][1]))}
    write_config(config_path, cfg)
    Project.open(config_path)  # validates what was written
    return str(config_path)


def add_new_videos(
    config: PathLike,
    videos: PathLike | Sequence[PathLike],
    copy_videos: bool = False,
    coords: Sequence[Sequence[int]] | None = None,
    videotype: str = "",
) -> list[str]:
    """Add videos to an existing project.

    Each video is linked (or copied) into ``videos/`` (an existing file of that
    name is kept), gets a ``labeled-data/<stem>/`` folder and a ``video_sets``
    entry whose crop is ``coords[i]`` (x1, x2, y1, y2) or the full frame.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml``.
    videos
        Video files and/or folders of videos.
    copy_videos
        Copy instead of symlink.
    coords
        One crop box per video, in the order of the expanded ``videos``.
    videotype
        Suffix to pick when scanning folders.

    Returns
    -------
    list of str
        The ``video_sets`` keys that were added.
    """
    proj = Project.open(config)
    sources = list_videos(videos, videotype)
    if coords is not None and len(coords) != len(sources):
        raise ValueError(
            f"coords has {len(coords)} boxes but {len(sources)} videos were given; "
            "pass one (x1, x2, y1, y2) box per video."
        )
    known = set(proj.video_stems())
    target = "video_sets_original" if proj.cfg.get("video_sets_original") else "video_sets"
    added = []
    for i, src in enumerate(sources):
        size = _readable_size(src)
        if size is None:
            continue
        stem = video_stem(str(src))
        if stem in known:
            warnings.warn(
                f"A video named '{stem}' is already in the project; skipping '{src}'.",
                stacklevel=2,
            )
            continue
        box = tuple(coords[i]) if coords is not None else (0, size[0], 0, size[1])
        check_crop_inside(parse_crop(list(box), where=f"coords[{i}]"), *size, where=f"coords[{i}]")
        dest = _import_video(src, proj.videos_dir, copy_videos)
        proj.labeled_folder(stem).mkdir(parents=True, exist_ok=True)
        proj.cfg.setdefault(target, {})[str(dest)] = {"crop": format_crop(box)}
        known.add(stem)
        added.append(str(dest))
    if added:
        proj.save_config()
    return added


def _import_video(src: Path, videos_dir: Path, copy: bool) -> Path:
    """Symlink (or copy) ``src`` into ``videos_dir``; an existing file there is kept."""
    videos_dir.mkdir(parents=True, exist_ok=True)
    dest = videos_dir / src.name
    if dest.exists() or dest.is_symlink():
        if dest.resolve() != src.resolve():
            raise FileExistsError(
                f"'{dest}' already exists and is a different file from '{src}'. "
                "Rename one of the videos: videos are identified by file name."
            )
        return dest
    if not copy:
        try:
            os.symlink(src.resolve(), dest)
            return dest
        except OSError:
            pass  # file systems without symlinks: fall back to a copy
    shutil.copy2(src, dest)
    return dest
