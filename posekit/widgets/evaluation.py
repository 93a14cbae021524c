"""A small browser of ``evaluate_network`` results: the error table and the labelled images."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import ipywidgets as W
import pandas as pd

from posekit.io.images import read_image
from posekit.widgets.grabber import preview_jpeg

__all__ = ["EvaluationBrowser"]

#: Widest image sent to the browser (pixels).
BROWSER_MAX_WIDTH = 800


def _px(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.2f} px"


class EvaluationBrowser(W.VBox):
    """Errors of the evaluated snapshots, and their labelled images one at a time.

    Parameters
    ----------
    evaluations
        :class:`~posekit.predict.evaluate.SnapshotEvaluation` objects.
    results
        DeepLabCut's results table (``evaluate_network``'s headless return value).
    max_width
        Images wider than this are downscaled before being sent (JPEG).

    Attributes
    ----------
    results : pandas.DataFrame
    evaluations : list

    Notes
    -----
    CSS classes: ``posekit-evaluation``, ``posekit-evaluation-table``,
    ``posekit-evaluation-image``, ``posekit-evaluation-caption``,
    ``posekit-evaluation-slider``.
    """

    def __init__(self, evaluations: Sequence[Any], results: pd.DataFrame,
                 max_width: int = BROWSER_MAX_WIDTH) -> None:
        self.evaluations = list(evaluations)
        self.results = results
        self.max_width = int(max_width)
        self._syncing = False
        self.table = W.HTML(results.to_html(index=False, na_rep="n/a", float_format=lambda v: f"{v:.2f}"))
        self.table.add_class("posekit-evaluation-table")
        options = [(f"shuffle {e.shuffle} ({int(100 * e.fraction)}%), snapshot {e.iteration}", i)
                   for i, e in enumerate(self.evaluations)]
        self.snapshot = W.Dropdown(options=options, description="Snapshot")
        self.subset = W.ToggleButtons(options=["All", "Training", "Test"], value="All")
        self.slider = W.IntSlider(min=0, max=0, value=0, description="Image", readout=False,
                                  continuous_update=False)
        self.slider.add_class("posekit-evaluation-slider")
        self.previous = W.Button(description="\u25c0", tooltip="Previous image", layout=W.Layout(width="40px"))
        self.next = W.Button(description="\u25b6", tooltip="Next image", layout=W.Layout(width="40px"))
        self.caption = W.Label()
        self.caption.add_class("posekit-evaluation-caption")
        self.legend = W.HTML("<small>human label <b>+</b>, prediction <b>&middot;</b> "
                             "(likelihood &gt; p-cutoff) or <b>x</b> (below)</small>")
        self.image = W.Image(format="jpeg", layout=W.Layout(max_width="100%"))
        self.image.add_class("posekit-evaluation-image")
        self.previous.on_click(lambda _b: self.show(self.slider.value - 1))
        self.next.on_click(lambda _b: self.show(self.slider.value + 1))
        self.snapshot.observe(self._on_selection, "value")
        self.subset.observe(self._on_selection, "value")
        self.slider.observe(self._on_slider, "value")
        super().__init__(children=[
            self.table, W.HBox([self.snapshot, self.subset]),
            W.HBox([self.previous, self.slider, self.next]), self.caption, self.legend,
            W.HBox([self.image]),
        ])
        self.add_class("posekit-evaluation")
        self._on_selection(None)

    # ------------------------------------------------------------------ #
    @property
    def current(self) -> Any | None:
        """The selected SnapshotEvaluation."""
        return self.evaluations[self.snapshot.value] if self.evaluations else None

    def positions(self) -> list[int]:
        """Image positions (into ``current.images``) that the subset filter keeps."""
        ev = self.current
        if ev is None or not ev.labeled_images:
            return []
        keep = self.subset.value
        return [i for i, s in enumerate(ev.subsets) if keep == "All" or s == keep]

    def show(self, position: int) -> None:
        """Show image number ``position`` (clamped) of the current selection."""
        self.slider.value = min(max(int(position), self.slider.min), self.slider.max)

    def _on_selection(self, _change) -> None:
        self._syncing = True
        try:
            self.slider.value = 0
            self.slider.max = max(len(self.positions()) - 1, 0)
        finally:
            self._syncing = False
        self._render()

    def _on_slider(self, _change) -> None:
        if not self._syncing:
            self._render()

    def _render(self) -> None:
        ev = self.current
        positions = self.positions()
        if ev is None:
            self.caption.value = "Nothing was evaluated."
            self.image.value = b""
            return
        summary = (f"train {_px(ev.train_error)}, test {_px(ev.test_error)}; with p-cutoff "
                   f"{ev.pcutoff}: train {_px(ev.train_error_pcutoff)}, test {_px(ev.test_error_pcutoff)}")
        if not positions:
            hint = ("run evaluate_network(..., plotting=True) to draw the images"
                    if not ev.labeled_images else f"no {self.subset.value.lower()} images")
            self.caption.value = f"{summary}. No image to show: {hint}."
            self.image.value = b""
            return
        i = positions[self.slider.value]
        key = ev.images[i]
        self.caption.value = (
            f"{ev.subsets[i]} image {self.slider.value + 1} / {len(positions)}: {'/'.join(key[1:])}, "
            f"error {_px(float(ev.image_errors[i]))} ({_px(float(ev.image_errors_pcutoff[i]))} with "
            f"p-cutoff)  |  {summary}"
        )
        self.image.value = preview_jpeg(read_image(ev.labeled_images[i]), self.max_width)
