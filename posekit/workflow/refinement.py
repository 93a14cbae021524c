"""Workflow verbs J-K: outlier frames, refining their machine labels, merging into the next iteration."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from posekit.project import Project
from posekit.refine.merge import MergeReport, merge_datasets, previous_iteration_snapshot
from posekit.workflow.dlc_compat import UNSET, note_ignored, refuse
from posekit.workflow.results import FrameGrabbing, OutlierReport, RefinementView

# merge_datasets and previous_iteration_snapshot take DeepLabCut's arguments as they are.
__all__ = ["MergeReport", "extract_outlier_frames", "merge_datasets", "previous_iteration_snapshot", "refine_labels"]

PathLike = str | os.PathLike


def extract_outlier_frames(
    config: PathLike | Project,
    videos: PathLike | Sequence[PathLike],
    videotype: str = "",
    shuffle: int = 1,
    trainingsetindex: int = 0,
    outlieralgorithm: str = "jump",
    frames2use: Sequence[int] | None = None,
    comparisonbodyparts: str | Sequence[str] = "all",
    epsilon: float = 20,
    p_bound: float = 0.01,
    ARdegree: int = 3,  # DeepLabCut's name
    MAdegree: int = 1,  # DeepLabCut's name
    alpha: float = 0.01,
    extractionalgorithm: str = "kmeans",
    automatic: bool = False,
    cluster_resizewidth: int = 30,
    cluster_color: bool = False,
    opencv: Any = UNSET,
    savelabeled: bool = False,
    copy_videos: Any = UNSET,
    destfolder: PathLike | None = None,
    modelprefix: str = "",
    track_method: str = "",
    *,
    seed: int | None = None,
) -> OutlierReport | FrameGrabbing:
    """Find frames where the network is probably wrong and extract them with its predictions.

    DeepLabCut's signature. Candidates are found at once
    (:func:`posekit.refine.extract.find_outlier_candidates`); frames are extracted:

    - with ``automatic=True``, at once;
    - otherwise, in a notebook, when Extract is clicked in the returned report's
      widget (counts, a score plot, Extract / Cancel);
    - otherwise, on a terminal, after a ``yes/no`` per video; in any other script,
      by calling ``.extract()`` on the returned report.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    videos
        Video files and/or folders (analysed with this network).
    videotype
        Suffix of the videos taken from folders.
    shuffle, trainingsetindex
        The network whose analysis is read.
    outlieralgorithm
        ``"jump"``, ``"uncertain"``, ``"fitting"``, ``"list"`` (``frames2use``) or
        ``"manual"`` (returns the frame grabber on the first video).
    frames2use
        Frame numbers for ``"list"``.
    comparisonbodyparts
        ``"all"`` or the body parts to look at.
    epsilon, p_bound, ARdegree, MAdegree, alpha
        Detector parameters (see :mod:`posekit.refine.outliers`).
    extractionalgorithm
        ``"kmeans"`` or ``"uniform"``, to thin the candidates to ``numframes2pick``.
    automatic
        Extract without asking.
    cluster_resizewidth, cluster_color
        k-means frame size and colour.
    savelabeled
        Also write ``img<idx>labeled.png`` with the predictions drawn.
    destfolder
        Folder holding the analysis files.
    opencv, copy_videos
        No effect (ffmpeg decodes; videos are linked).
    modelprefix, track_method
        Must be empty.
    seed
        Seed for reproducible picks.

    Returns
    -------
    OutlierReport or FrameGrabbing
        The candidates per video (``searches``), what was extracted (``results``) and
        ``extract()``; for ``"manual"``, the frame grabber.
    """
    from posekit.frames.grabber import FrameGrabber
    from posekit.project.project import video_stem
    from posekit.refine.extract import ensure_project_video, find_outlier_candidates, outlier_videos
    from posekit.refine.outliers import ALGORITHMS, check_algorithm
    from posekit.utils.prompt import ask_yes_no

    note_ignored("extract_outlier_frames", "posekit decodes with ffmpeg and links videos", opencv=opencv,
                 copy_videos=copy_videos)
    if modelprefix:
        refuse("extract_outlier_frames", "modelprefix", modelprefix, "posekit has no model prefixes.")
    if track_method:
        refuse("extract_outlier_frames", "track_method", track_method, "posekit handles single-animal projects.")
    if check_algorithm(outlieralgorithm, ALGORITHMS) == "manual":
        project = Project.open(config)
        files = outlier_videos(project, videos, videotype)
        for video in files:
            ensure_project_video(project, video)
        return FrameGrabbing(FrameGrabber(project, stem=video_stem(str(files[0])),
                                          crop=bool(project.cfg.get("cropping"))))
    found = find_outlier_candidates(
        config, videos, shuffle, trainingsetindex, outlieralgorithm, comparisonbodyparts, epsilon, p_bound,
        ARdegree, MAdegree, alpha, extractionalgorithm, cluster_resizewidth, cluster_color, savelabeled, seed,
        destfolder, videotype=videotype, frames2use=frames2use,
    )
    report = OutlierReport(found.project, found.searches, found.options)
    print(report.summary())
    if automatic:
        report.extract()
    elif sys.stdin is not None and sys.stdin.isatty():
        for search in report.searches:
            n_pick = min(len(search.new_candidates), int(report.project.cfg["numframes2pick"]))
            if n_pick and ask_yes_no(f"Extract {n_pick} of the {len(search.new_candidates)} new outlier "
                                     f"frame(s) of '{search.stem}'? (yes/no) "):
                report.extract(search)
    else:
        return report
    if report.results:
        print(report.summary())
    if any(r.picked for r in report.results.values()):
        print("Next: correct the machine labels with posekit.refine_labels(config), then "
              "posekit.merge_datasets(config).")
    return report


def refine_labels(
    config: PathLike | Project,
    multianimal: bool = False,
    *,
    stem: str | None = None,
    threshold: float | None = None,
    canvas_size: tuple[int, int] = (800, 600),
    image_format: str = "jpeg",
) -> RefinementView:
    """Correct the machine labels that ``extract_outlier_frames`` wrote (a canvas in a notebook).

    Each corrected or accepted frame is saved to ``CollectedData_<scorer>`` at once;
    when every frame is refined, run ``merge_datasets(config)``.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    multianimal
        Must be False (single-animal projects).
    stem
        The video (labeled-data folder); default: the first with unrefined machine labels.
    threshold
        Likelihood below which predictions are drawn as open circles (default: ``pcutoff``).
    canvas_size, image_format
        Canvas size in screen pixels; ``"jpeg"`` or ``"png"`` frame transfer.

    Returns
    -------
    RefinementView
        Its ``session`` (:class:`~posekit.refine.session.RefinementSession`) drives the
        same state from code.
    """
    from posekit.refine.session import RefinementSession

    if multianimal:
        refuse("refine_labels", "multianimal", multianimal, "posekit handles single-animal projects.")
    return RefinementView(RefinementSession(config, stem, threshold=threshold),
                          canvas_size=canvas_size, image_format=image_format)
