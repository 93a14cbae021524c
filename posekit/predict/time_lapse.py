"""``analyze_time_lapse_frames``: predict every image of a folder into one DeepLabCut analysis file.

DeepLabCut's layout (its ``predict_videos.analyze_time_lapse_frames``): the
images whose suffix is ``frametype`` are taken in file-name order and the
poses go to ``<folder name><scorer>.h5`` inside the folder (key
``df_with_missing``, ``table`` format), one row per image, the image file
names as the index, columns ``scorer / bodyparts / coords (x, y,
likelihood)``; optional ``.csv`` beside it and ``_meta.json`` (posekit writes
no pickle). The config's ``cropping``/``x1..y2`` box applies to every image,
and the coordinates are then relative to the box, as in DeepLabCut.

Unlike DeepLabCut, images of different sizes are fine: they are predicted in
groups of one size (the network compiles once per shape).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from posekit.predict.results import (
    AnalysisPaths,
    analysis_paths,
    poses_to_dataframe,
    read_poses,
    write_metadata,
    write_poses,
)
from posekit.project.project import Project
from posekit.utils.atomic import atomic_path

__all__ = ["TimeLapseAnalysis", "analyze_time_lapse_frames", "list_frames"]


@dataclass
class TimeLapseAnalysis:
    """What :func:`analyze_time_lapse_frames` did with one folder.

    Attributes
    ----------
    folder : Path
        The analysed folder.
    scorer : str
        DeepLabCut scorer name of the network.
    paths : AnalysisPaths
        ``h5``, ``csv`` and ``meta`` files (the csv exists only with ``save_as_csv``).
    images : list of str
        File names of the images, in row order.
    skipped : bool
        The folder was already analysed by this scorer (and ``overwrite`` was False).
    seconds : float
        Wall time of reading and predicting.
    """

    folder: Path
    scorer: str
    paths: AnalysisPaths
    images: list[str] = field(default_factory=list)
    skipped: bool = False
    seconds: float = 0.0

    @property
    def h5(self) -> Path:
        """The analysis file, ``<folder name><scorer>.h5``."""
        return self.paths.h5

    def summary(self) -> str:
        """One line: how many images, where the result is."""
        if self.skipped:
            return f"{self.folder}: already analysed by {self.scorer} -> {self.h5.name} (skipped)"
        return f"{self.folder}: {len(self.images)} images in {self.seconds:.1f} s -> {self.h5.name}"


def _suffix(frametype: str) -> str:
    return "." + str(frametype).lower().lstrip(".")


def list_frames(directory: str | os.PathLike, frametype: str = ".png") -> list[Path]:
    """The images :func:`analyze_time_lapse_frames` takes: suffix ``frametype``, sorted by name.

    Raises
    ------
    FileNotFoundError
        If ``directory`` is not a folder, or holds no file with that suffix (the
        message lists the suffixes it does hold).
    """
    folder = Path(directory).expanduser()
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.is_file() else "does not exist"
        raise FileNotFoundError(
            f"'{folder}' {what}. analyze_time_lapse_frames takes the folder that holds the images."
        )
    suffix = _suffix(frametype)
    files = [p for p in folder.iterdir() if p.is_file()]
    frames = sorted((p for p in files if p.suffix.lower() == suffix), key=lambda p: p.name)
    if not frames:
        held = Counter(p.suffix.lower() for p in files if p.suffix)
        hint = (" It holds " + ", ".join(f"{n} '{s}'" for s, n in held.most_common())
                + f" file(s); pass e.g. frametype='{held.most_common(1)[0][0]}'.") if held else " It is empty."
        raise FileNotFoundError(f"No '{suffix}' image in '{folder}'.{hint}")
    return frames


def analyze_time_lapse_frames(
    config: str | os.PathLike | Project,
    directory: str | os.PathLike,
    frametype: str = ".png",
    shuffle: int = 1,
    trainingsetindex: int = 0,
    save_as_csv: bool = False,
    *,
    batchsize: int | None = None,
    overwrite: bool = False,
    precision: str = "auto",
) -> TimeLapseAnalysis:
    """Predict the pose in every image of a folder; write one DeepLabCut analysis file.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    directory
        Folder of images (not searched recursively).
    frametype
        Suffix of the images to take (``".png"``, ``"jpg"``; any case).
    shuffle, trainingsetindex
        Which trained network; the snapshot is the one config
        ``snapshotindex`` names (``"all"`` is treated as ``-1``, as DeepLabCut does).
    save_as_csv
        Also write ``<folder name><scorer>.csv``.
    batchsize
        Images per network call (default: config ``batch_size``).
    overwrite
        Analyse again a folder this scorer has already analysed (default: skip it).
    precision
        ``"auto"`` (default), ``"fp32"``, ``"int8"`` or ``"bf16"``, as for
        :func:`~posekit.predict.analyze.analyze_videos` (``"auto"``: int8 on CPUs
        with int8 dot-product instructions); recorded in ``_meta.json``.

    Returns
    -------
    TimeLapseAnalysis
        The files written, the image names (row order) and the time taken.

    Raises
    ------
    FileNotFoundError
        The folder does not exist, holds no image of ``frametype``, or the
        shuffle has no trained snapshot (the message says what to run).
    ValueError
        An image cannot be read, or the config's crop box reaches outside an
        image (the message names the file); nothing is written.
    """
    from posekit.predict.analyze import _crop_box, _train_dir
    from posekit.predict.evaluate import predict_images
    from posekit.predict.predictor import load_predictor

    project = Project.open(config)
    frames = list_frames(directory, frametype)
    folder = frames[0].parent.resolve()  # a relative "." still gets its folder's name
    if batchsize is not None and int(batchsize) < 1:
        raise ValueError(f"batchsize must be >= 1, got {batchsize}.")
    _train_dir(project, project.training_fraction(trainingsetindex), shuffle)  # names the shuffles there are
    predictor = load_predictor(project, shuffle, trainingsetindex, batch_size=batchsize, precision=precision)
    # DeepLabCut names the file after the folder: <folder name><scorer>.h5
    paths = analysis_paths(folder, predictor.scorer, destfolder=folder)
    record = TimeLapseAnalysis(folder=folder, scorer=predictor.scorer, paths=paths,
                               images=[p.name for p in frames])
    # DeepLabCut's own runs leave a _meta.pickle instead of posekit's _meta.json
    done = paths.meta.exists() or paths.meta.with_suffix(".pickle").exists()
    if paths.h5.exists() and done and not overwrite:
        record.skipped = True
        if save_as_csv and not paths.csv.exists():
            with atomic_path(paths.csv) as tmp:
                read_poses(paths.h5).to_csv(tmp)
        print(f"'{folder}' is already analysed by {predictor.scorer} ({paths.h5.name}); skipped. "
              "Pass overwrite=True to analyse it again.")
        return record

    crop = _crop_box(project, None)
    start = time.time()
    t0 = time.perf_counter()
    poses = predict_images(predictor, frames, batch_size=predictor.batch_size, crop=crop)
    record.seconds = time.perf_counter() - t0
    stop = time.time()
    frame = poses_to_dataframe(poses, predictor.scorer, predictor.bodyparts, index=pd.Index(record.images))
    if save_as_csv:
        with atomic_path(paths.csv) as tmp:
            frame.to_csv(tmp)
    from PIL import Image

    with Image.open(frames[0]) as first:
        width, height = first.size
    if crop is not None:
        width, height = crop[1] - crop[0], crop[3] - crop[2]
    write_metadata(paths.meta, {
        "start": start,
        "stop": stop,
        "run_duration": stop - start,
        "Scorer": predictor.scorer,
        "config file": dict(predictor.pose_cfg, snapshot=str(predictor.snapshot)),
        "batch_size": predictor.batch_size,
        "num_outputs": 1,
        "frame_dimensions": [height, width],  # of the first image, as DeepLabCut records it
        "nframes": len(frames),
        "cropping": crop is not None,
        "cropping_parameters": list(crop) if crop else [0, width, 0, height],
        # posekit additions (DeepLabCut ignores unknown keys)
        "folder": str(folder),
        "frametype": _suffix(frametype),
        "snapshot": str(predictor.snapshot),
        "precision": predictor.precision,
    })
    # the .h5 comes last: it marks the folder as analysed (see the skip above)
    write_poses(frame, paths.h5, h5_format="table")
    return record
