"""The refinement loop: outlier frames, machine labels, refinement, next iteration.

``find_outlier_candidates`` (behind ``extract_outlier_frames``) finds frames where the network is probably wrong
(:mod:`posekit.refine.outliers`: pure detectors on prediction arrays) and
extracts them with the network's predictions as machine labels
(:mod:`posekit.refine.machinelabels`); :class:`RefinementSession` (the state
behind ``refine_labels``) turns corrected frames into CollectedData rows;
``merge_datasets`` starts the next iteration and
``previous_iteration_snapshot`` names the network to continue training from.
"""

from posekit.refine.extract import OutlierCandidates, find_outlier_candidates, find_outliers
from posekit.refine.machinelabels import MachineLabels, machinelabels_path
from posekit.refine.merge import (
    MergeReport,
    merge_datasets,
    previous_iteration_snapshot,
)
from posekit.refine.outliers import ALGORITHMS, OutlierScores, detect_outliers
from posekit.refine.session import RefinementSession

__all__ = [
    "ALGORITHMS",
    "MachineLabels",
    "MergeReport",
    "OutlierCandidates",
    "OutlierScores",
    "RefinementSession",
    "detect_outliers",
    "find_outlier_candidates",
    "find_outliers",
    "machinelabels_path",
    "merge_datasets",
    "previous_iteration_snapshot",
]
