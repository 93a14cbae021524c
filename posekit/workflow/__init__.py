"""The workflow verbs: DeepLabCut's steps A-K with DeepLabCut's signatures.

Each verb checks its arguments, calls the headless core and returns the same object
in a script and in a notebook: a report (a dict, a list, a dataclass) or a handle (a
:class:`~posekit.workflow.results.TrainingRun`, a labeling session's view). In
Jupyter the object shows itself as its widget when it is a cell's value (IPython's
display protocol; the widget is built then). The one question "is this a notebook?"
is asked by ``train_network``, whose default ``block=None`` trains in the background
there and in the foreground elsewhere.

DeepLabCut keywords that only tune TensorFlow are accepted and noted once as ignored
(:class:`~posekit.workflow.dlc_compat.IgnoredKeywordWarning`); those asking for
something posekit does not do raise an error that names the alternative.
"""

from posekit.workflow.analysis import (
    analyze_time_lapse_frames,
    analyze_videos,
    create_labeled_video,
    filterpredictions,
    plot_trajectories,
)
from posekit.workflow.project import (
    add_new_videos,
    check_labels,
    create_new_project,
    create_project,
    crop_editor,
    extract_frames,
    label_frames,
)
from posekit.workflow.refinement import (
    extract_outlier_frames,
    merge_datasets,
    previous_iteration_snapshot,
    refine_labels,
)
from posekit.workflow.training import create_training_dataset, evaluate_network, train_network

__all__ = [
    "add_new_videos",
    "analyze_time_lapse_frames",
    "analyze_videos",
    "check_labels",
    "create_labeled_video",
    "create_new_project",
    "create_project",
    "create_training_dataset",
    "crop_editor",
    "evaluate_network",
    "extract_frames",
    "extract_outlier_frames",
    "filterpredictions",
    "label_frames",
    "merge_datasets",
    "plot_trajectories",
    "previous_iteration_snapshot",
    "refine_labels",
    "train_network",
]
