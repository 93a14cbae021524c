"""The embedded default: a synthetic video of a moving articulated animal, and a project.

Nothing is downloaded. The animal's keypoints are known exactly for every frame
(:func:`synthetic_keypoints`), so the project built around the video has perfect
labels, and later steps (training, evaluation) have a ground truth to meet.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from posekit.viz.draw import draw_line, draw_marker

BODYPARTS = ("snout", "leftear", "rightear", "neck", "spine", "tailbase", "tailtip")
SKELETON = (
    ("snout", "neck"),
    ("leftear", "neck"),
    ("rightear", "neck"),
    ("neck", "spine"),
    ("spine", "tailbase"),
    ("tailbase", "tailtip"),
)
#: Marker colour painted at each keypoint (distinct, so a network can tell them apart).
MARKER_COLORS = np.array(
    [
        (255, 60, 60),
        (60, 200, 60),
        (60, 120, 255),
        (255, 200, 0),
        (200, 60, 255),
        (0, 220, 220),
        (255, 130, 200),
    ],
    dtype=np.uint8,
)


def _rot(theta: np.ndarray, v: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([c * v[0] - s * v[1], s * v[0] + c * v[1]], axis=-1)


def synthetic_keypoints(
    n_frames: int = 300, width: int = 320, height: int = 240, animal_scale: float | None = None
) -> np.ndarray:
    """Exact keypoints of the synthetic animal.

    Parameters
    ----------
    n_frames
        Number of frames.
    width, height
        Frame size in pixels; the animal stays inside it.
    animal_scale
        Size of the animal (1: its size in a 320x240 frame); default: grows
        with the frame, as in a 320x240 frame.

    Returns
    -------
    numpy.ndarray
        (n_frames, len(BODYPARTS), 2) float64 array of x, y in pixels.
    """
    t = np.arange(n_frames, dtype=np.float64)
    scale = _animal_scale(width, height, animal_scale)
    centre = np.stack(
        [
            width / 2 + 0.28 * width * np.sin(2 * np.pi * t / 173.0),
            height / 2 + 0.22 * height * np.sin(2 * np.pi * t / 127.0 + 0.7),
        ],
        axis=-1,
    )
    heading = 2 * np.pi * t / 240.0 + 0.6 * np.sin(2 * np.pi * t / 61.0)
    bend = 0.45 * np.sin(2 * np.pi * t / 47.0)
    wag = 0.6 * np.sin(2 * np.pi * t / 31.0)
    spine = centre
    neck = spine + _rot(heading, (22 * scale, 0))
    snout = neck + _rot(heading + 0.5 * bend, (20 * scale, 0))
    leftear = neck + _rot(heading + 0.5 * bend, (4 * scale, -11 * scale))
    rightear = neck + _rot(heading + 0.5 * bend, (4 * scale, 11 * scale))
    tailbase = spine - _rot(heading - bend, (24 * scale, 0))
    tailtip = tailbase - _rot(heading - bend - wag, (28 * scale, 0))
    return np.stack([snout, leftear, rightear, neck, spine, tailbase, tailtip], axis=1)


def _animal_scale(width: int, height: int, animal_scale: float | None) -> float:
    """The animal's size factor: given, else grown with the frame (1 in 320x240)."""
    return min(width / 320.0, height / 240.0) if animal_scale is None else float(animal_scale)


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth, textured arena floor (so frames are not trivially alike)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    field = np.zeros((height, width), np.float32)
    for _ in range(12):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        sigma = rng.uniform(15, 60)
        field += rng.uniform(-1, 1) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
    field = (field - field.min()) / (np.ptp(field) + 1e-6)
    base = 150 + 60 * field[..., None] * np.array([1.0, 0.9, 0.7], np.float32)
    return np.clip(base, 0, 255).astype(np.uint8)


def render_frame(background: np.ndarray, points: np.ndarray, animal_scale: float | None = None) -> np.ndarray:
    """Draw the animal with keypoints ``points`` (J, 2) on a copy of ``background``.

    ``animal_scale`` as in :func:`synthetic_keypoints`.
    """
    frame = background.copy()
    scale = _animal_scale(frame.shape[1], frame.shape[0], animal_scale)
    body = (90, 70, 55)
    idx = {name: i for i, name in enumerate(BODYPARTS)}
    for a, b, thick in (
        ("neck", "spine", 16),
        ("spine", "tailbase", 14),
        ("neck", "snout", 10),
        ("tailbase", "tailtip", 4),
    ):
        draw_line(frame, points[idx[a]], points[idx[b]], body, thickness=thick * scale)
    for ear in ("leftear", "rightear"):
        draw_marker(frame, *points[idx[ear]], body, size=5 * scale, marker=".")
    for (x, y), color in zip(points, MARKER_COLORS, strict=True):
        draw_marker(frame, x, y, color, size=2.5 * scale, marker=".")
    return frame


def make_synthetic_video(
    path: str | os.PathLike,
    n_frames: int = 300,
    width: int = 320,
    height: int = 240,
    fps: float = 30.0,
    seed: int = 0,
    codec: str = "libx264",
    animal_scale: float | None = None,
) -> np.ndarray:
    """Write the synthetic video and return its exact keypoints.

    Parameters
    ----------
    path
        Output video file (``.mp4``, ``.avi``...).
    n_frames, width, height, fps
        Video length, frame size and frame rate.
    seed
        Seed of the background texture.
    codec
        ffmpeg encoder (``libx264`` lossy by default).
    animal_scale
        Size of the animal (see :func:`synthetic_keypoints`); e.g. 1 in a
        1280x1024 video for a small animal in a large arena.

    Returns
    -------
    numpy.ndarray
        (n_frames, J, 2) keypoints, as :func:`synthetic_keypoints`.
    """
    from posekit.io.video import write_video

    keypoints = synthetic_keypoints(n_frames, width, height, animal_scale)
    background = _background(width, height, np.random.default_rng(seed))
    frames = (render_frame(background, pts, animal_scale) for pts in keypoints)
    write_video(path, frames, fps=fps, codec=codec)
    return keypoints


def make_synthetic_project(
    working_directory: str | os.PathLike,
    n_frames: int = 300,
    numframes2pick: int = 20,
    width: int = 320,
    height: int = 240,
    seed: int = 0,
    algo: str = "kmeans",
    project: str = "synthetic",
    experimenter: str = "posekit",
) -> str:
    """Build a complete labeled project around the synthetic video.

    Creates the video, a project (config with the synthetic body parts and
    skeleton), extracts ``numframes2pick`` frames with ``algo`` and writes
    CollectedData with the exact keypoints of those frames as labels. If the
    project folder already exists it is reused and nothing is overwritten.

    Parameters
    ----------
    working_directory
        Folder that receives the project (and the source video in ``source-videos/``).
    n_frames, width, height
        Synthetic video size.
    numframes2pick
        Frames to extract and label.
    seed
        Seed for the texture and the frame selection.
    algo
        ``"kmeans"`` or ``"uniform"`` frame selection.
    project, experimenter
        Task and scorer names.

    Returns
    -------
    str
        Path of the project's ``config.yaml``.
    """
    from posekit.frames.extract import extract_frames
    from posekit.io.labels import LabelTable
    from posekit.project.config import edit_config
    from posekit.project.create import create_project
    from posekit.project.project import Project, frame_index_from_name

    work = Path(working_directory).expanduser().resolve()
    source = work / "source-videos" / f"{project}.mp4"
    source.parent.mkdir(parents=True, exist_ok=True)
    keypoints = synthetic_keypoints(n_frames, width, height)
    if not source.exists():
        make_synthetic_video(source, n_frames, width, height, seed=seed)
    config = create_project(project, experimenter, [source], work, copy_videos=True, bodyparts=BODYPARTS)
    proj = Project.open(config)
    if proj.cfg["numframes2pick"] != numframes2pick or not proj.cfg.get("skeleton"):
        edit_config(
            config,
            {
                "numframes2pick": numframes2pick,
                "skeleton": [list(e) for e in SKELETON],
                "pcutoff": 0.6,
                "dotsize": 6,
            },
        )
        proj.reload()
    stem = proj.video_stems()[0]
    if not proj.frame_images(stem):
        extract_frames(proj, algo=algo, seed=seed)
    if proj.collected_data_path(stem).exists():
        return config  # labels already there: never overwrite them
    table = LabelTable.empty(proj.scorer, proj.bodyparts)
    for image in proj.frame_images(stem):
        key = ("labeled-data", stem, image.name)
        for part, xy in zip(proj.bodyparts, keypoints[frame_index_from_name(image.name)], strict=False):
            table.set_point(key, part, tuple(xy))
    table.save(proj.labeled_folder(stem))
    return config
