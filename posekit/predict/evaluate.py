"""``evaluate_network``: train and test pixel errors of trained snapshots (format spec section 9).

For each shuffle and selected snapshot every image of the merged labels is
predicted, the predictions are written to
``evaluation-results/iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/<scorer>-snapshot-<iters>.h5``
(key ``df_with_missing``; an existing file is reused, not recomputed, as in
DeepLabCut, unless the snapshot is newer), and the errors are computed:

* per (image, body part) the Euclidean distance between the human label and
  the prediction (NaN where the human label is missing);
* train/test error = mean over the finite distances of the train/test rows,
  restricted to ``comparisonbodyparts`` (= mean over visible labelled joints);
* "with p-cutoff": the same after dropping predictions whose likelihood is
  below config ``pcutoff``;
* rounded to 2 decimals in the results table.

Results go to ``<scorer>-results.csv`` in the shuffle folder and to
``CombinedEvaluation-results.csv`` one level up, with DeepLabCut's exact
column names; per-bodypart errors to ``<scorer>-keypoint-results.csv`` (DeepLabCut 2.3's name).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posekit.io.dataframes import object_multiindex
from posekit.predict.results import (
    poses_from_dataframe,
    poses_to_dataframe,
    read_poses,
    write_poses,
)
from posekit.project import naming
from posekit.project.naming import COMBINED_RESULTS
from posekit.project.project import Project, train_pct
from posekit.utils.atomic import atomic_path
from posekit.viz.style import PlotStyle

__all__ = [
    "KEYPOINT_ERROR_NAMES",
    "RESULT_COLUMNS",
    "SnapshotEvaluation",
    "evaluate_network",
    "evaluation_folder",
    "keypoint_distances",
    "predict_images",
]

#: DeepLabCut's results-table columns, spelled exactly (leading spaces and colon included).
RESULT_COLUMNS: list[str] = [
    "Training iterations:",
    "%Training dataset",
    "Shuffle number",
    " Train error(px)",
    " Test error(px)",
    "p-cutoff used",
    "Train error with p-cutoff",
    "Test error with p-cutoff",
]
#: Rows of the per-bodypart error table (DeepLabCut 2.3 ``per_keypoint_evaluation``).
KEYPOINT_ERROR_NAMES: list[str] = [
    "Train error (px)",
    "Test error (px)",
    "Train error (px) with p-cutoff",
    "Test error (px) with p-cutoff",
]


@dataclass
class SnapshotEvaluation:
    """Errors of one snapshot of one shuffle, and where they were written.

    Attributes
    ----------
    shuffle, fraction, iteration, scorer
        Which network (``scorer`` is DeepLabCut's name, with the iteration).
    folder : Path
        The shuffle's evaluation folder.
    predictions_file : Path
        ``<scorer>-snapshot-<iters>.h5``.
    pcutoff : float
    train_error, test_error, train_error_pcutoff, test_error_pcutoff : float
        Mean pixel errors (not rounded; the results table rounds to 2 decimals).
    bodypart_errors : pandas.DataFrame
        Rows :data:`KEYPOINT_ERROR_NAMES`, one column per compared body part.
    images : list of tuple
        Merged-label rows ``("labeled-data", stem, image)``.
    subsets : list of str
        ``"Training"`` or ``"Test"`` per image.
    image_errors, image_errors_pcutoff : numpy.ndarray
        Mean error of each image (NaN when nothing to compare).
    labeled_images : list of Path
        Images drawn with ``plotting=True`` (one per labelled image), else empty.
    precision : str
        ``"fp32"``, ``"int8"`` or ``"bf16"``: how the network computed.
    """

    shuffle: int
    fraction: float
    iteration: int
    scorer: str
    folder: Path
    predictions_file: Path
    pcutoff: float
    train_error: float
    test_error: float
    train_error_pcutoff: float
    test_error_pcutoff: float
    bodypart_errors: pd.DataFrame
    images: list[tuple[str, str, str]]
    subsets: list[str]
    image_errors: np.ndarray
    image_errors_pcutoff: np.ndarray
    labeled_images: list[Path] = field(default_factory=list)
    labeled_folder: Path | None = None
    keypoint_results_file: Path | None = None
    precision: str = "fp32"

    def results_row(self) -> list[Any]:
        """This snapshot's row of DeepLabCut's results table."""
        return [
            self.iteration,
            train_pct(self.fraction),
            self.shuffle,
            _round(self.train_error),
            _round(self.test_error),
            self.pcutoff,
            _round(self.train_error_pcutoff),
            _round(self.test_error_pcutoff),
        ]


def _round(value: float) -> float:
    return float(np.round(value, 2))


def evaluation_folder(project: Project, fraction: float, shuffle: int) -> Path:
    """``evaluation-results/iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/``.

    A config ``eval_prefix`` key replaces ``evaluation-results`` (as in DeepLabCut).
    """
    top = project.cfg.get("eval_prefix") or naming.EVALUATION_RESULTS
    name = naming.model_folder_name(project.task_date, fraction, shuffle)
    return project.root / top / naming.iteration_folder_name(project.iteration) / name


def keypoint_distances(
    human: np.ndarray, predicted: np.ndarray, pcutoff: float | None = None
) -> np.ndarray:
    """``(N, J)`` Euclidean distances between labels ``(N, J, 2)`` and predictions ``(N, J, 3)``.

    NaN where the human label is missing and, with ``pcutoff``, where the
    predicted likelihood is below it.
    """
    human = np.asarray(human, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    dist = np.sqrt(((human - predicted[..., :2]) ** 2).sum(axis=-1))
    if pcutoff is not None:
        dist = np.where(predicted[..., 2] < pcutoff, np.nan, dist)
    return dist


def _nanmean(values: np.ndarray, axis: int | None = None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty slice -> NaN
        return np.nanmean(values, axis=axis)


# --------------------------------------------------------------------------- #
# Prediction of still images
# --------------------------------------------------------------------------- #


def _image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` from the header; ValueError naming the file if it is no image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.size
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"Cannot read image '{path}': {err}") from None


def _load(path: Path, size: tuple[int, int], crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    from PIL import Image

    from posekit.io.images import read_image

    image = read_image(path)
    if crop is not None:
        x1, x2, y1, y2 = crop
        image = image[y1:y2, x1:x2]
    if (image.shape[1], image.shape[0]) != size:
        image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
    return image


def predict_images(predictor, paths: Sequence[Path], scale: float = 1.0,
                   batch_size: int = 8, crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Predict still images of any sizes: grouped by size, batched within a group.

    Parameters
    ----------
    predictor
        A :class:`~posekit.predict.predictor.Predictor`.
    paths
        Image files.
    scale
        Resize each image by this factor first (``rescale=True``:
        ``global_scale``); the poses are then in the resized pixels.
    batch_size
        Largest batch; a group of ``g`` images uses ``min(g, batch_size)``,
        so odd-sized images are not padded to a full batch.
    crop
        ``(x1, x2, y1, y2)``: predict only this box of every image (before
        ``scale``); the poses are then relative to the box.

    Returns
    -------
    numpy.ndarray
        ``(N, J, 3)`` float32 x, y, likelihood.

    Raises
    ------
    ValueError
        An image cannot be read, or ``crop`` reaches outside it (the message names the file).
    """
    from posekit.project.config import check_crop_inside

    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, path in enumerate(paths):
        w, h = _image_size(path)
        if crop is not None:
            check_crop_inside(crop, w, h, where=f"crop (x1, x2, y1, y2) of image '{path}'")
            w, h = crop[1] - crop[0], crop[3] - crop[2]
        if scale != 1.0:
            w, h = max(round(w * scale), 1), max(round(h * scale), 1)
        groups[(w, h)].append(i)
    out = np.full((len(paths), len(predictor.bodyparts), 3), np.nan, np.float32)
    original = predictor.batch_size
    try:
        for size, indices in groups.items():
            predictor.batch_size = max(1, min(int(batch_size), len(indices)))
            for start in range(0, len(indices), predictor.batch_size):
                chunk = indices[start:start + predictor.batch_size]
                frames = np.stack([_load(paths[i], size, crop) for i in chunk])
                out[chunk] = predictor.predict(frames)
    finally:
        predictor.batch_size = original
    return out


# --------------------------------------------------------------------------- #
# Result files
# --------------------------------------------------------------------------- #


def _write_results(path: Path, rows: pd.DataFrame) -> Path:
    """Append ``rows`` to a results csv (a row for the same snapshot and p-cutoff is replaced)."""
    table = rows
    if path.is_file():
        old = pd.read_csv(path, index_col=0)
        if list(old.columns) == RESULT_COLUMNS:
            table = pd.concat([old, rows], ignore_index=True)
        else:
            warnings.warn(f"'{path}' has other columns than DeepLabCut's results table; "
                          "it is replaced.", stacklevel=3)
    key = [RESULT_COLUMNS[i] for i in (0, 1, 2, 5)]
    table = table.drop_duplicates(subset=key, keep="last").reset_index(drop=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp)
    return path


def results_table(evaluations: Iterable[SnapshotEvaluation]) -> pd.DataFrame:
    """DeepLabCut's results table (one row per evaluated snapshot)."""
    return pd.DataFrame([e.results_row() for e in evaluations], columns=RESULT_COLUMNS)


def _draw(image: np.ndarray, human: np.ndarray, pred: np.ndarray, parts: Sequence[int],
          colors: np.ndarray, pcutoff: float, size: float, alpha: float) -> np.ndarray:
    from posekit.viz.draw import draw_marker

    thickness = max(1.0, size / 4)
    for j in parts:
        draw_marker(image, human[j, 0], human[j, 1], colors[j], size, "+", alpha, thickness)
    for j in parts:
        x, y, p = pred[j]
        marker = "." if p > pcutoff else "x"
        draw_marker(image, x, y, colors[j], size, marker, alpha, thickness)
    return image


# --------------------------------------------------------------------------- #
# The verb
# --------------------------------------------------------------------------- #


def _snapshot_selection(project: Project, snapshots: Any) -> Any:
    """``snapshots`` argument -> ``select_snapshots`` index (``"all"``, int) or list of ints."""
    if snapshots is None:
        return project.cfg.get("snapshotindex", -1)
    if snapshots == "last":
        return -1
    if snapshots == "all":
        return "all"
    if isinstance(snapshots, (list, tuple)):
        return [int(s) for s in snapshots]
    if isinstance(snapshots, (int, np.integer)) and not isinstance(snapshots, bool):
        return int(snapshots)
    raise ValueError(
        f"snapshots={snapshots!r}: use 'last', 'all', an index into the snapshots sorted by "
        "iteration (-1 newest), a list of indices, or None for config snapshotindex."
    )


def _comparison_parts(bodyparts: list[str], comparisonbodyparts: Any) -> list[int]:
    if comparisonbodyparts in (None, "all"):
        return list(range(len(bodyparts)))
    names = [comparisonbodyparts] if isinstance(comparisonbodyparts, str) else list(comparisonbodyparts)
    unknown = [n for n in names if n not in bodyparts]
    if unknown or not names:
        raise ValueError(
            f"comparisonbodyparts {unknown or names!r} not in the project's body parts {bodyparts}."
        )
    return [bodyparts.index(n) for n in dict.fromkeys(names)]


def _fractions(project: Project, trainingsetindex: int | str) -> list[tuple[int, float]]:
    if trainingsetindex == "all":
        return list(enumerate(float(f) for f in project.cfg["TrainingFraction"]))
    return [(int(trainingsetindex), project.training_fraction(int(trainingsetindex)))]


def _precision_suffix(precision: str) -> str:
    """File name tag of a reduced-precision evaluation (``-int8``), so it never replaces float32's files."""
    return "" if precision == "fp32" else f"-{precision}"


def _evaluate_snapshot(project, training_set, shuffle, tsi, fraction, iteration, snapshot,
                       folder, parts, rescale, plotting, batch_size, precision) -> SnapshotEvaluation:
    from posekit.predict.predictor import load_predictor
    from posekit.predict.quantize import int8_cache_path

    cfg = project.cfg
    images, human = training_set.labels.to_array()
    paths = [project.root.joinpath(*key) for key in images]
    predictor = load_predictor(project, shuffle, tsi, snapshot=snapshot, batch_size=batch_size,
                               precision=precision)
    bodyparts = list(predictor.bodyparts)
    if bodyparts != training_set.labels.bodyparts:
        raise ValueError(
            f"Snapshot '{snapshot}' predicts body parts {bodyparts} but the labels have "
            f"{training_set.labels.bodyparts}; re-run create_training_dataset and train again."
        )
    scale = float(predictor.pose_cfg.get("global_scale", 1.0)) if rescale else 1.0
    suffix = ("-rescale" if rescale else "") + _precision_suffix(precision)
    h5 = folder / naming.evaluation_h5_name(predictor.scorer, iteration, suffix)
    index = object_multiindex(images)
    predicted = None
    # DeepLabCut reuses existing predictions; posekit also checks they are newer than the
    # snapshot (a retrained shuffle can write a snapshot with the same iteration again)
    # and than the int8 model (re-quantized when its pose_cfg settings change)
    network = [Path(snapshot)] + ([int8_cache_path(snapshot)] if precision == "int8" else [])
    newest = max(p.stat().st_mtime_ns for p in network if p.is_file())
    if h5.is_file() and h5.stat().st_mtime_ns >= newest:
        try:
            old = read_poses(h5)
            poses, old_parts, _ = poses_from_dataframe(old)
            if old_parts == bodyparts and [tuple(r) for r in old.index] == list(images):
                predicted = poses
        except (ValueError, KeyError, OSError):
            predicted = None
    if predicted is None:
        predicted = predict_images(predictor, paths, scale=scale, batch_size=batch_size).astype(np.float64)
        write_poses(poses_to_dataframe(predicted, predictor.scorer, bodyparts, index=index), h5,
                    h5_format="fixed")
    pcutoff = PlotStyle.from_config(cfg).pcutoff
    labels = human * scale
    dist = keypoint_distances(labels, predicted)[:, parts]
    dist_p = keypoint_distances(labels, predicted, pcutoff)[:, parts]
    train, test = training_set.split.train_indices, training_set.split.test_indices
    part_names = [bodyparts[j] for j in parts]
    per_part = pd.DataFrame(
        [_nanmean(d[rows], axis=0) for d, rows in ((dist, train), (dist, test), (dist_p, train), (dist_p, test))],
        index=KEYPOINT_ERROR_NAMES, columns=part_names,
    )
    keypoint_file = folder / naming.keypoint_results_name(predictor.scorer, suffix)  # scorer names the iteration
    with atomic_path(keypoint_file) as tmp:
        per_part.to_csv(tmp)
    train_set = {int(i) for i in train}
    subsets = ["Training" if i in train_set else "Test" for i in range(len(images))]
    result = SnapshotEvaluation(
        shuffle=shuffle, fraction=fraction, iteration=int(iteration), scorer=predictor.scorer,
        folder=folder, predictions_file=h5, pcutoff=pcutoff,
        train_error=float(_nanmean(dist[train])), test_error=float(_nanmean(dist[test])),
        train_error_pcutoff=float(_nanmean(dist_p[train])),
        test_error_pcutoff=float(_nanmean(dist_p[test])),
        bodypart_errors=per_part, images=list(images), subsets=subsets,
        image_errors=_nanmean(dist, axis=1), image_errors_pcutoff=_nanmean(dist_p, axis=1),
        keypoint_results_file=keypoint_file, precision=precision,
    )
    if plotting:
        on_image = predicted.copy()
        on_image[..., :2] /= scale  # drawn on the original image
        _plot(result, project, paths, human, on_image, parts)
    return result


def _plot(result: SnapshotEvaluation, project: Project, paths: list[Path], human: np.ndarray,
          predicted: np.ndarray, parts: list[int]) -> None:
    from posekit.io.images import read_image, write_png

    plot = PlotStyle.from_config(project.cfg)
    out = result.folder / naming.evaluation_images_folder_name(result.scorer + _precision_suffix(result.precision),
                                                               result.iteration)
    out.mkdir(parents=True, exist_ok=True)
    colors = plot.colors(human.shape[1])
    size, alpha = plot.marker_size, plot.alphavalue

    def render(i: int) -> Path:
        key = result.images[i]
        image = _draw(read_image(paths[i]), human[i], predicted[i], parts, colors,
                      result.pcutoff, size, alpha)
        return write_png(out / f"{result.subsets[i]}-{key[1]}-{key[2]}", image, compress_level=1)

    with ThreadPoolExecutor(max_workers=2) as pool:
        result.labeled_images = list(pool.map(render, range(len(paths))))
    result.labeled_folder = out


@dataclass
class EvaluationReport:
    """What :func:`evaluate_network` measured.

    Attributes
    ----------
    table : pandas.DataFrame
        DeepLabCut's results table (its column names), one row per shuffle and snapshot.
    evaluations : list of SnapshotEvaluation
        Per snapshot: errors, per-bodypart errors, files written.
    """

    table: pd.DataFrame
    evaluations: list[SnapshotEvaluation]


def evaluate_network(
    config: str | os.PathLike | Project,
    Shuffles: Iterable[int] = (1,),  # DeepLabCut's name
    trainingsetindex: int | str = 0,
    plotting: bool = False,
    show_errors: bool = True,
    comparisonbodyparts: str | Sequence[str] = "all",
    rescale: bool = False,
    snapshots: str | int | Sequence[int] | None = None,
    batch_size: int | None = None,
    precision: str = "fp32",
) -> EvaluationReport:
    """Evaluate trained snapshots on the labelled images: train and test errors in pixels.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    Shuffles
        Shuffle numbers to evaluate.
    trainingsetindex
        Index into config ``TrainingFraction``, or ``"all"``.
    plotting
        Draw every labelled image with the human label (``+``), confident
        predictions (``.``, likelihood > ``pcutoff``) and unconfident ones
        (``x``) into ``LabeledImages_<scorer>_snapshot-<iters>/`` (colours
        from ``colormap``, size ``dotsize``, opacity ``alphavalue``).
    show_errors
        Print the errors (as DeepLabCut does).
    comparisonbodyparts
        ``"all"`` or the body parts the errors are computed on.
    rescale
        Evaluate images resized by pose_cfg ``global_scale`` (errors are then
        in resized pixels, as in DeepLabCut); predictions go to
        ``...-snapshot-<iters>-rescale.h5``.
    snapshots
        Which snapshots: None (config ``snapshotindex``), ``"last"``,
        ``"all"``, an index into the snapshots sorted by iteration (``-1``
        newest) or a list of indices.
    batch_size
        Images per network call (default: config ``batch_size``).
    precision
        ``"fp32"`` (default), ``"int8"``, ``"bf16"`` or ``"auto"`` (what
        :func:`~posekit.predict.analyze.analyze_videos` runs by default on this
        machine), as for analyze_videos: the errors then show what the reduced
        precision costs. Its files carry the tag (e.g.
        ``...-snapshot-<iters>-int8.h5``, ``<scorer>-int8-results.csv``,
        ``CombinedEvaluation-results-int8.csv``), so float32's, DeepLabCut's
        files, stay as they are. The default stays float32 for that reason.

    Returns
    -------
    EvaluationReport
        ``table``: DeepLabCut's results table (one row per shuffle and
        snapshot); ``evaluations``: the :class:`SnapshotEvaluation` of each.
    """
    from posekit.dataset.training_set import TrainingSet
    from posekit.predict.analyze import _train_dir
    from posekit.predict.predictor import select_snapshots
    from posekit.predict.quantize import calibration_images, parse_precision, resolve_precision

    precision = parse_precision(precision, allow_auto=True)
    project = Project.open(config)
    selection = _snapshot_selection(project, snapshots)
    batch = int(batch_size or project.cfg.get("batch_size") or 8)
    if batch < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if isinstance(Shuffles, int):
        Shuffles = [Shuffles]
    evaluations: list[SnapshotEvaluation] = []
    for tsi, fraction in _fractions(project, trainingsetindex):
        for shuffle in map(int, Shuffles):
            training_set = TrainingSet.read(project, shuffle, tsi)
            train_dir = _train_dir(project, fraction, shuffle)
            if isinstance(selection, list):
                found = select_snapshots(train_dir, "all")
                try:
                    chosen = sorted({found[i] for i in selection})
                except IndexError:
                    raise IndexError(
                        f"snapshots={selection} but '{train_dir}' holds {len(found)} snapshot(s) "
                        f"(iterations {[it for it, _ in found]})."
                    ) from None
            else:
                chosen = select_snapshots(train_dir, selection)
            missing = training_set.labels.missing_images(project.root)
            if missing:
                raise FileNotFoundError(
                    f"{len(missing)} labelled image(s) are missing under '{project.root}', e.g. "
                    f"{'/'.join(missing[0])}; put them back or remove their labels, then re-run "
                    "create_training_dataset."
                )
            parts = _comparison_parts(training_set.labels.bodyparts, comparisonbodyparts)
            folder = evaluation_folder(project, fraction, shuffle)
            folder.mkdir(parents=True, exist_ok=True)
            done = []
            used = resolve_precision(precision, snapshot=chosen[-1][1],
                                     calibration=functools.partial(calibration_images, project, shuffle, tsi))
            tag = _precision_suffix(used)
            for iteration, snapshot in chosen:
                result = _evaluate_snapshot(project, training_set, shuffle, tsi, fraction, iteration,
                                            snapshot, folder, parts, rescale, plotting, batch, used)
                done.append(result)
                if show_errors:
                    print(
                        f"Results for {iteration} training iterations{tag.replace('-', ' in ')}, training fraction "
                        f"{train_pct(fraction)}, shuffle {shuffle}: train error "
                        f"{_round(result.train_error)} px, test error {_round(result.test_error)} px; "
                        f"with p-cutoff {result.pcutoff}: train {_round(result.train_error_pcutoff)} px, "
                        f"test {_round(result.test_error_pcutoff)} px."
                    )
            rows = results_table(done)
            _write_results(folder / naming.results_name(done[-1].scorer + tag), rows)
            combined = Path(COMBINED_RESULTS)
            _write_results(folder.parent / f"{combined.stem}{tag}{combined.suffix}", rows)
            evaluations.extend(done)
    return EvaluationReport(results_table(evaluations), evaluations)
