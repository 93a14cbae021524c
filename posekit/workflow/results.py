"""What the workflow verbs return: the core's results, able to show themselves as a widget.

Each class adds only :class:`~posekit.workflow.display.ShowsWidget` to what the headless
core returns, so scripts use the plain result (a dict, a list, a report, a session) and
a notebook shows its widget when the result is a cell's value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from posekit.frames.extract import Extraction
from posekit.frames.grabber import FrameGrabber
from posekit.labeling.session import LabelingSession
from posekit.predict.evaluate import EvaluationReport
from posekit.project import Project
from posekit.refine.extract import OutlierCandidates
from posekit.refine.session import RefinementSession
from posekit.train.run import TrainingJob
from posekit.workflow.display import ShowsWidget

__all__ = [
    "CropEditing",
    "EvaluationResult",
    "FrameGrabbing",
    "LabelCheckReport",
    "LabeledVideos",
    "LabelingView",
    "OutlierReport",
    "RefinementView",
    "TrainingRun",
    "TrajectoryReport",
]


class LabelCheckReport(ShowsWidget, dict):
    """``check_labels``: per video stem, a :class:`~posekit.viz.check_labels.LabelCheck`; a gallery."""

    def _make_widget(self) -> Any:
        from posekit.widgets.gallery import LabelGallery

        return LabelGallery(dict(self))


class EvaluationResult(ShowsWidget, EvaluationReport):
    """``evaluate_network``: the results ``table`` and per-snapshot ``evaluations``; a browser."""

    def _make_widget(self) -> Any:
        from posekit.widgets.evaluation import EvaluationBrowser

        return EvaluationBrowser(self.evaluations, self.table)


class LabeledVideos(ShowsWidget, list):
    """``create_labeled_video``: the labeled video files; a player."""

    def _make_widget(self) -> Any:
        from posekit.widgets.video_player import VideoPlayer

        return VideoPlayer(list(self))


class TrajectoryReport(ShowsWidget, dict):
    """``plot_trajectories``: per video stem, the figures and their files; interactive plots."""

    def _make_widget(self) -> Any:
        from posekit.widgets.trajectories import TrajectoryViewer

        return TrajectoryViewer(dict(self))


class TrainingRun(ShowsWidget, TrainingJob):
    """``train_network``: the run (``progress``, ``wait()``, ``stop()``); a progress widget with Stop."""

    def _make_widget(self) -> Any:
        from posekit.widgets.training import TrainingWidget

        return TrainingWidget(self)


class OutlierReport(ShowsWidget, OutlierCandidates):
    """``extract_outlier_frames``: the candidates and what was extracted; Extract / Cancel buttons."""

    def _make_widget(self) -> Any:
        from posekit.widgets.outliers import OutlierWidget

        return OutlierWidget(self.searches, self.extract_one)


class LabelingView(ShowsWidget):
    """``label_frames``: the :class:`~posekit.labeling.session.LabelingSession`; the labeling canvas.

    Parameters
    ----------
    session
        The labeling state (every change autosaves); drive it from code or through the widget.
    **widget_options
        Passed to :class:`~posekit.widgets.labeler.LabelingWidget` (canvas size, image format).
    """

    def __init__(self, session: LabelingSession, **widget_options: Any) -> None:
        self.session = session
        self._options = widget_options

    def _make_widget(self) -> Any:
        from posekit.widgets.labeler import LabelingWidget

        return LabelingWidget(self.session, **self._options)

    def __repr__(self) -> str:
        return f"LabelingView({self.session.folder})"


class RefinementView(LabelingView):
    """``refine_labels``: the :class:`~posekit.refine.session.RefinementSession`; the refinement canvas."""

    session: RefinementSession

    def _make_widget(self) -> Any:
        from posekit.widgets.refiner import RefinementWidget

        return RefinementWidget(self.session, **self._options)

    def __repr__(self) -> str:
        return f"RefinementView({self.session.folder})"


class FrameGrabbing(ShowsWidget):
    """``extract_frames(mode="manual")``: the :class:`~posekit.frames.grabber.FrameGrabber`; its widget."""

    def __init__(self, grabber: FrameGrabber) -> None:
        self.grabber = grabber

    def _make_widget(self) -> Any:
        from posekit.widgets.grabber import FrameGrabberWidget

        return FrameGrabberWidget(self.grabber, own_grabber=True)

    def __repr__(self) -> str:
        return f"FrameGrabbing({self.grabber!r})"


class CropEditing(ShowsWidget):
    """``crop_editor`` / ``extract_frames(crop="GUI")``: crop-box editors of project videos.

    Parameters
    ----------
    config
        The project.
    stems
        The videos, one editor each (tabs when several).
    on_apply
        Called as ``on_apply(stem, box)`` after Apply wrote a video's box.
    frame_index, canvas_size
        Passed to :func:`~posekit.widgets.crop_editor.crop_editor`.

    Attributes
    ----------
    results : dict of str to Extraction
        Filled in by ``extract_frames(crop="GUI")`` as boxes are applied.
    """

    def __init__(self, config: str | os.PathLike | Project, stems: Sequence[str],
                 on_apply: Callable[[str, tuple[int, int, int, int]], Any] | None = None,
                 frame_index: int = 0, canvas_size: tuple[int, int] = (800, 600)) -> None:
        self.project = Project.open(config)
        self.stems = list(stems)
        self.results: dict[str, Extraction] = {}
        self._on_apply = on_apply
        self._frame_index = frame_index
        self._canvas_size = canvas_size

    def _make_widget(self) -> Any:
        import ipywidgets as W

        from posekit.widgets.crop_editor import crop_editor_widget

        editors = [
            crop_editor_widget(self.project, stem, frame_index=self._frame_index, canvas_size=self._canvas_size,
                        on_apply=None if self._on_apply is None
                        else (lambda box, stem=stem: self._on_apply(stem, box)))
            for stem in self.stems
        ]
        return editors[0] if len(editors) == 1 else W.Tab(children=editors, titles=tuple(self.stems))

    def __repr__(self) -> str:
        return f"CropEditing({self.stems})"
