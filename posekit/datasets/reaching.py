"""DeepLabCut's public Reaching example (Mackenzie, 2018): fetch it, and make a demo video.

The example is a labelled project without its video: ``config.yaml`` and 55
labelled frames (832x747, some 640x470) of a mouse reaching for a joystick, with
``CollectedData_Mackenzie.h5/.csv``. Files are downloaded once from DeepLabCut's
repository into a cache and checked against the sha256 digests shipped with
posekit, or copied (and checked) from a local folder.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
from pathlib import Path

import numpy as np

from posekit.utils.download import download, sha256_file

NAME = "Reaching-Mackenzie-2018-08-30"
BASE_URL = (
    "https://raw.githubusercontent.com/DeepLabCut/DeepLabCut/main/examples/" + NAME + "/"
)
_REGISTRY = Path(__file__).with_name("reaching_registry.json")


def registry() -> dict[str, dict]:
    """Relative path -> {"sha256", "size"} of every file of the example."""
    return json.loads(_REGISTRY.read_text(encoding="utf-8"))


def _cache_dir() -> Path:
    root = os.environ.get("POSEKIT_CACHE") or Path.home() / ".cache" / "posekit"
    return Path(root) / "datasets" / NAME


def _check(path: Path, expected: dict, source: str) -> None:
    digest = sha256_file(path)
    if digest != expected["sha256"]:
        raise ValueError(
            f"'{path}' (from {source}) has sha256 {digest}, expected {expected['sha256']}: "
            "the file is damaged or a different version. Delete it to fetch it again, "
            "or point POSEKIT_REACHING_DIR at a good copy of the example."
        )


def _fill_cache(source: Path | None) -> Path:
    """Make the cache hold every checked file, from ``source`` or by downloading."""
    cache = _cache_dir()
    for rel, expected in registry().items():
        target = cache / rel
        if target.is_file() and sha256_file(target) == expected["sha256"]:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source is not None:
            origin = source / rel
            if not origin.is_file():
                raise FileNotFoundError(
                    f"'{origin}' is missing: '{source}' is not a complete copy of {NAME}."
                )
            _check(origin, expected, str(source))
            shutil.copyfile(origin, target)
            continue
        url = BASE_URL + rel
        try:
            download(url, target)
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            raise FileNotFoundError(
                f"Could not download {url} ({err}). Without internet, copy the example "
                f"folder {NAME} from DeepLabCut's repository (examples/) and pass "
                "source=<that folder> or set POSEKIT_REACHING_DIR."
            ) from err
        _check(target, expected, url)
    return cache


def fetch_reaching(
    dest: str | os.PathLike | None = None, source: str | os.PathLike | None = None
) -> Path:
    """A writable copy of the Reaching example project, ready to use.

    Parameters
    ----------
    dest
        Folder to create the project in (default: the current directory); the
        project lands in ``<dest>/Reaching-Mackenzie-2018-08-30``. An existing
        copy there is returned untouched.
    source
        A local copy of the example to take the files from (default:
        ``$POSEKIT_REACHING_DIR``, else download once into the cache
        ``$POSEKIT_CACHE/datasets/``, by default ``~/.cache/posekit``).

    Returns
    -------
    pathlib.Path
        Path of the copy's ``config.yaml``.
    """
    project = Path(dest or os.getcwd()).expanduser().resolve() / NAME
    if (project / "config.yaml").is_file():
        return project / "config.yaml"
    source = source or os.environ.get("POSEKIT_REACHING_DIR")
    cache = _fill_cache(Path(source).expanduser().resolve() if source else None)
    for rel in registry():
        target = project / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache / rel, target)
    for sub in ("videos", "training-datasets", "dlc-models"):
        (project / sub).mkdir(exist_ok=True)
    return project / "config.yaml"


def make_reaching_video(
    config: str | os.PathLike, name: str = "reachingdemo", fps: float = 10.0, repeats: int = 2
) -> Path:
    """Build a demo video from the example's labelled frames and add it to the project.

    The example ships no video, so the frames (padded to the largest size) are
    played ``repeats`` times in order. The video becomes ``videos/<name>.mp4`` and
    the project's only ``video_sets`` entry (the placeholder key is replaced).

    Returns
    -------
    pathlib.Path
        The video file.
    """
    from posekit.io.images import read_image
    from posekit.io.video import write_video
    from posekit.project.config import format_crop
    from posekit.project.project import Project

    project = Project.open(config)
    images = [read_image(p) for p in project.frame_images("reachingvideo1")]
    if not images:
        raise FileNotFoundError(f"No frames in '{project.labeled_folder('reachingvideo1')}'.")
    h = max(im.shape[0] for im in images)
    w = max(im.shape[1] for im in images)
    h, w = h + h % 2, w + w % 2  # H.264 yuv420p wants even sizes

    def frames():
        for _ in range(repeats):
            for im in images:
                canvas = np.zeros((h, w, 3), np.uint8)
                canvas[: im.shape[0], : im.shape[1]] = im
                yield canvas

    video = project.videos_dir / f"{name}.mp4"
    video.parent.mkdir(exist_ok=True)
    if not video.exists():
        write_video(video, frames(), fps=fps)
    project.cfg["video_sets"] = {str(video): {"crop": format_crop((0, w, 0, h))}}
    project.save_config()
    project.labeled_folder(name).mkdir(exist_ok=True)
    return video
