"""DeepLabCut's names: every file and folder name pattern of a project, in one place.

Small pure functions and constants; nothing here touches the disk. Every other
module builds its paths from these, so a name changes in one place only.

The patterns are DeepLabCut 2.3's (format spec sections 3-10), which
DeepLabCut 3 still reads:

* extracted frames ``labeled-data/<video stem>/img<index>.png``, the index zero
  padded to ``ceil(log10(n_frames))`` digits;
* labels ``CollectedData_<scorer>.h5``/``.csv``; check_labels writes into
  ``labeled-data/<stem>_labeled/``;
* ``training-datasets/iteration-<N>/UnaugmentedDataSet_<Task><date>/`` and
  ``dlc-models/iteration-<N>/<Task><date>-trainset<pct>shuffle<k>/`` with
  ``<pct> = int(100 * fraction)`` (truncated: 0.29 -> 28);
* the scorer (network) name ``DLC_<net>_<Task><date>shuffle<k>_<iterations>``
  (``resnet_50`` -> ``resnet50``); DeepLabCut before 2.1 wrote ``DeepCut...``;
  DeepLabCut 3's PyTorch engine writes ``DLC_<Net>_...`` too, so the prefix and
  the ``shuffle<k>_`` part are what identify one;
* analyses ``<video stem><scorer>.h5``/``.csv``/``_meta.json`` (DeepLabCut
  writes ``_meta.pickle``; posekit never writes or reads pickles), filtered
  analyses ``<stem><scorer>_filtered.h5``, labeled videos
  ``<stem><scorer>_labeled.mp4`` and ``<stem><scorer>filtered_labeled.mp4``
  (no underscore before ``filtered``: DeepLabCut's quirk), trajectory plots
  ``plot-poses/<stem>/<plot>[_filtered]<suffix>``;
* outlier frames' predictions ``machinelabels-iter<N>.h5`` and
  ``machinelabels.csv`` (no iteration in the csv name);
* evaluation ``evaluation-results/iteration-<N>/<model folder>/`` (config
  ``eval_prefix`` replaces ``evaluation-results``) holding
  ``<scorer>-snapshot-<iters>.h5``, ``<scorer>-results.csv``,
  ``<scorer>-keypoint-results.csv`` and ``LabeledImages_<scorer>_snapshot-<iters>/``,
  with ``CombinedEvaluation-results.csv`` one level up.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

__all__ = [
    "COMBINED_RESULTS",
    "DLC_MODELS",
    "EVALUATION_RESULTS",
    "FILTERED_SUFFIX",
    "MACHINELABELS_CSV",
    "PLOT_POSES",
    "SCORER_PREFIXES",
    "TRAINING_DATASETS",
    "VIDEO_SUFFIXES",
    "analysis_stem",
    "collected_data_name",
    "dataset_folder_name",
    "evaluation_h5_name",
    "evaluation_images_folder_name",
    "filtered_name",
    "frame_filename",
    "frame_index_from_name",
    "glob_escape",
    "is_labeled_images_folder",
    "is_video_output",
    "iteration_folder_name",
    "keypoint_results_name",
    "labeled_images_folder_name",
    "labeled_video_name",
    "machinelabels_iteration",
    "machinelabels_name",
    "meta_name",
    "model_folder_name",
    "results_name",
    "scorer_name",
    "shuffle_of_scorer",
    "split_file_name",
    "train_pct",
    "trajectory_plot_name",
    "unfiltered_stem",
    "video_stem",
]

#: Video file suffixes recognised when a folder is scanned (DeepLabCut 3.x list).
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mpeg", ".mpg", ".mpv", ".mkv", ".flv", ".qt", ".yuv")
#: DeepLabCut scorer prefixes of analysis files (``DeepCut`` before 2.1).
SCORER_PREFIXES = ("DLC_", "DeepCut")
#: Stem suffix of filterpredictions' output (``<stem><scorer>_filtered.h5``).
FILTERED_SUFFIX = "_filtered"
#: Top folders of a project.
TRAINING_DATASETS = "training-datasets"
DLC_MODELS = "dlc-models"
EVALUATION_RESULTS = "evaluation-results"
#: The evaluation table of every shuffle, beside the shuffle folders.
COMBINED_RESULTS = "CombinedEvaluation-results.csv"
#: Folder of plot_trajectories' images, beside the analyses (``plot-poses/<stem>/``).
PLOT_POSES = "plot-poses"
#: The csv of outlier frames' predictions (DeepLabCut's name: no iteration).
MACHINELABELS_CSV = "machinelabels.csv"

_FRAME_RE = re.compile(r"^img(\d+)\.png$")
_SHUFFLE_RE = re.compile(r"shuffle(\d+)_")
_MACHINELABELS_RE = re.compile(r"^machinelabels-iter(\d+)\.h5$")
#: Name parts of DeepLabCut's own video outputs, never analysed again.
_VIDEO_OUTPUT_MARKS = ("_labeled.", "_full.")
_LABELED_IMAGES = "_labeled"


# -- labeled data -------------------------------------------------------------- #


def frame_filename(index: int, n_frames: int) -> str:
    """DeepLabCut's name of an extracted frame: ``img<index>.png``, zero padded.

    The width is ``ceil(log10(n_frames))`` digits (250 frames -> ``img005.png``);
    larger numbers are never truncated.
    """
    width = math.ceil(math.log10(n_frames)) if n_frames > 1 else 1
    return f"img{str(int(index)).zfill(width)}.png"


def frame_index_from_name(name: str) -> int | None:
    """Return the frame number in ``img<digits>.png``, or None for other names."""
    match = _FRAME_RE.match(Path(name).name)
    return int(match.group(1)) if match else None


def collected_data_name(scorer: str, suffix: str = ".h5") -> str:
    """``CollectedData_<scorer>.h5`` (or ``.csv``): the labels of one video."""
    return f"CollectedData_{scorer}{suffix}"


def labeled_images_folder_name(stem: str) -> str:
    """``<stem>_labeled``: where check_labels draws the labels of ``labeled-data/<stem>/``."""
    return f"{stem}{_LABELED_IMAGES}"


def is_labeled_images_folder(name: str) -> bool:
    """Whether a ``labeled-data/`` folder name is check_labels' output rather than a video's."""
    return _LABELED_IMAGES in name


def machinelabels_name(iteration: int) -> str:
    """``machinelabels-iter<N>.h5``: outlier frames' predictions of iteration ``N``."""
    return f"machinelabels-iter{int(iteration)}.h5"


def machinelabels_iteration(name: str) -> int | None:
    """``N`` of ``machinelabels-iter<N>.h5``, or None for other names."""
    match = _MACHINELABELS_RE.match(name)
    return int(match.group(1)) if match else None


# -- training sets and models ---------------------------------------------------- #


def train_pct(fraction: float) -> int:
    """DeepLabCut's ``<pct>`` in names: ``int(100 * fraction)``, truncated (0.29 -> 28)."""
    return int(100 * fraction)


def iteration_folder_name(iteration: int) -> str:
    """``iteration-<N>``."""
    return f"iteration-{int(iteration)}"


def dataset_folder_name(task_date: str) -> str:
    """``UnaugmentedDataSet_<Task><date>``."""
    return f"UnaugmentedDataSet_{task_date}"


def split_file_name(task: str, fraction: float, shuffle: int) -> str:
    """The human-readable split file of one (fraction, shuffle) pair (YAML, no pickle)."""
    return f"Documentation_data-{task}_{train_pct(fraction)}shuffle{shuffle}.yaml"


def model_folder_name(task_date: str, fraction: float, shuffle: int) -> str:
    """``<Task><date>-trainset<pct>shuffle<k>`` (in ``dlc-models/`` and ``evaluation-results/``)."""
    return f"{task_date}-trainset{train_pct(fraction)}shuffle{shuffle}"


def scorer_name(net_type: str, task_date: str, shuffle: int, iterations: int) -> str:
    """DeepLabCut's scorer: ``DLC_<net>_<Task><date>shuffle<k>_<iterations>`` (``resnet_50`` -> ``resnet50``)."""
    return f"DLC_{net_type.replace('_', '')}_{task_date}shuffle{shuffle}_{int(iterations)}"


def shuffle_of_scorer(scorer: str) -> int | None:
    """The shuffle ``k`` in a scorer name (``...shuffle<k>_...``), or None if it names none."""
    match = _SHUFFLE_RE.search(scorer)
    return int(match.group(1)) if match else None


# -- evaluation -------------------------------------------------------------------- #


def evaluation_h5_name(scorer: str, iteration: int, suffix: str = "") -> str:
    """``<scorer>-snapshot-<iters><suffix>.h5`` (``suffix``: e.g. ``-rescale``)."""
    return f"{scorer}-snapshot-{int(iteration)}{suffix}.h5"


def results_name(scorer: str) -> str:
    """``<scorer>-results.csv``: the evaluation table of one shuffle."""
    return f"{scorer}-results.csv"


def keypoint_results_name(scorer: str, suffix: str = "") -> str:
    """``<scorer><suffix>-keypoint-results.csv``: per body part errors (DeepLabCut 2.3's name)."""
    return f"{scorer}{suffix}-keypoint-results.csv"


def evaluation_images_folder_name(scorer: str, iteration: int) -> str:
    """``LabeledImages_<scorer>_snapshot-<iters>``: evaluation's plotted images."""
    return f"LabeledImages_{scorer}_snapshot-{int(iteration)}"


# -- videos and their analyses --------------------------------------------------- #


def video_stem(key: str) -> str:
    """Stem of a ``video_sets`` key, whatever OS wrote it (``\\`` or ``/``)."""
    return Path(key.replace("\\", "/")).stem


def is_video_output(name: str) -> bool:
    """DeepLabCut never analyses its own outputs: names with ``_labeled.`` or ``_full.``."""
    return any(mark in name for mark in _VIDEO_OUTPUT_MARKS)


def analysis_stem(video: str | os.PathLike, scorer: str) -> str:
    """``<video stem><scorer>`` (no separator, as DeepLabCut)."""
    return f"{Path(video).stem}{scorer}"


def meta_name(stem: str) -> str:
    """``<stem>_meta.json``: the analysis metadata beside ``<stem>.h5``."""
    return f"{stem}_meta.json"


def filtered_name(analysis_name: str) -> str:
    """``<stem><scorer>_filtered.h5`` of the analysis file ``<stem><scorer>.h5``."""
    stem = Path(analysis_name).stem
    return f"{stem}{FILTERED_SUFFIX}.h5"


def unfiltered_stem(stem: str) -> str:
    """The analysis stem of a (possibly) filtered file's stem (``_filtered`` removed)."""
    return stem.removesuffix(FILTERED_SUFFIX)


def labeled_video_name(analysis_name: str) -> str:
    """``<stem><scorer>_labeled.mp4``, or ``<stem><scorer>filtered_labeled.mp4`` for a filtered analysis."""
    stem = Path(analysis_name).stem
    if stem.endswith(FILTERED_SUFFIX):
        return f"{unfiltered_stem(stem)}filtered_labeled.mp4"
    return f"{stem}_labeled.mp4"


def trajectory_plot_name(plot: str, suffix: str, filtered: bool = False) -> str:
    """``<plot>[_filtered]<suffix>`` in ``plot-poses/<stem>/`` (``trajectory_filtered.png``)."""
    return f"{plot}{FILTERED_SUFFIX if filtered else ''}{suffix}"


def glob_escape(text: str) -> str:
    """Escape glob metacharacters in a literal file-name part."""
    return re.sub(r"([\[\]*?])", r"[\1]", text)
