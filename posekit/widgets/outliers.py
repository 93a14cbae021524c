"""Confirm an outlier extraction: counts, parameters, a score plot per video, Extract / Cancel.

``extract_outlier_frames`` returns this widget in a notebook (unless
``automatic=True``). The plots are static PNGs drawn with matplotlib's Agg
backend into ``ipywidgets.Image`` (no interactive backend needed, so they
show in JupyterLab, Notebook and Voilà alike).
"""

from __future__ import annotations

import contextlib
import html
import io
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import numpy as np

from posekit.refine.extract import OutlierExtraction, OutlierSearch

__all__ = ["OutlierWidget", "score_plot_png"]


def score_plot_png(search: OutlierSearch, width: float = 8.0, height: float = 2.2) -> bytes:
    """PNG of the detector's per-frame score, its threshold and the candidate frames.

    For ``outlieralgorithm="list"`` (no score) the lowest likelihood per frame is
    plotted with the chosen frames.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=90)
    ax = fig.add_subplot(1, 1, 1)
    scores = search.scores
    if scores is not None:
        frames = np.arange(len(scores.score)) + search.first
        values, label = scores.score, scores.label
        threshold = scores.threshold
    else:
        frames = np.arange(len(search.poses))
        values = np.nanmin(search.poses[:, :, 2], axis=1)
        label, threshold = "lowest likelihood", None
    ax.plot(frames, values, lw=0.7, color="#4477aa", label=label)
    if threshold is not None:
        ax.axhline(threshold, color="#cc3311", ls="--", lw=1, label="threshold")
    candidates = search.candidates
    if len(candidates):
        marks = np.interp(candidates, frames, np.nan_to_num(values, nan=0.0))
        ax.plot(candidates, marks, "o", ms=3.5, color="#ee7733", label="candidates")
    ax.set_xlabel("frame")
    ax.set_ylabel(label)
    ax.set_title(
        f"{search.stem}: {len(candidates)} candidate(s) by '{search.parameters['outlieralgorithm']}'",
        fontsize=10,
    )
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


class OutlierWidget(widgets.VBox):
    """What ``extract_outlier_frames`` found, with Extract and Cancel buttons.

    Parameters
    ----------
    searches
        The candidates of each video (:func:`posekit.refine.extract.find_outliers`).
    extract
        Called with each search on Extract; returns what it extracted.

    Attributes
    ----------
    results : dict of str to OutlierExtraction
        Filled in when Extract is clicked.
    extract_button, cancel_button : ipywidgets.Button
    status : ipywidgets.HTML
    """

    def __init__(
        self,
        searches: Sequence[OutlierSearch],
        extract: Callable[[OutlierSearch], OutlierExtraction],
    ) -> None:
        super().__init__()
        self.add_class("posekit-outliers")
        self.searches = list(searches)
        self._extract = extract
        self.results: dict[str, OutlierExtraction] = {}
        self.extract_button = widgets.Button(
            description="Extract", button_style="success",
            tooltip="Save the picked frames and their machine labels",
        )
        self.extract_button.add_class("posekit-outlier-extract")
        self.cancel_button = widgets.Button(description="Cancel", tooltip="Extract nothing")
        self.cancel_button.add_class("posekit-outlier-cancel")
        self.extract_button.on_click(self._on_extract)
        self.cancel_button.on_click(self._on_cancel)
        self.status = widgets.HTML()
        self.status.add_class("posekit-status")
        plots = []
        for search in self.searches:
            try:
                plots.append(widgets.Image(value=score_plot_png(search), format="png"))
            except Exception as exc:  # noqa: BLE001 (a plot must never block the extraction)
                plots.append(widgets.HTML(f"<i>No plot: {html.escape(str(exc))}</i>"))
        n_to_pick = sum(self._n_pick(s) for s in self.searches)
        if n_to_pick == 0:
            self.extract_button.disabled = True
            self.status.value = "No new outlier frame to extract (change epsilon / p_bound or the algorithm)."
        self.children = [
            widgets.HTML(self._summary_html()),
            *plots,
            widgets.HBox([self.extract_button, self.cancel_button]),
            self.status,
        ]

    @staticmethod
    def _n_pick(search: OutlierSearch) -> int:
        return min(len(search.new_candidates), int(search.parameters["numframes2pick"]))

    def _summary_html(self) -> str:
        if not self.searches:
            return "<b>No video to search.</b>"
        p = self.searches[0].parameters
        algorithm = p["outlieralgorithm"]
        shown = {
            "jump": ("epsilon",),
            "uncertain": ("p_bound",),
            "fitting": ("epsilon", "p_bound", "ARdegree", "MAdegree"),
            "list": (),
        }[algorithm]
        params = ", ".join(f"{k}={p[k]}" for k in shown)
        rows = "".join(
            f"<tr><td>{html.escape(s.stem)}</td><td>{len(s.poses)}</td>"
            f"<td>{len(s.candidates)}</td><td>{len(s.already_extracted)}</td>"
            f"<td><b>{self._n_pick(s)}</b></td></tr>"
            for s in self.searches
        )
        return (
            f"<b>Outlier frames</b> by <code>{algorithm}</code>"
            + (f" ({html.escape(params)})" if params else "")
            + f" on {html.escape(self._compared())}"
            + f", frames {p['start']}-{p['stop']} of each video, numframes2pick={p['numframes2pick']}"
            + "<table style='border-spacing:10px 2px'><tr><th>video</th><th>frames</th>"
            "<th>candidates</th><th>already extracted</th><th>to extract</th></tr>"
            + rows
            + "</table>"
        )

    def _compared(self) -> str:
        first = self.searches[0]
        if first.compared == first.bodyparts:
            return "all body parts"
        return ", ".join(first.compared)

    def run_extraction(self) -> dict[str, OutlierExtraction]:
        """Extract every video's picked frames (what the Extract button does)."""
        self.extract_button.disabled = self.cancel_button.disabled = True
        lines = []
        try:
            for search in self.searches:
                if self._n_pick(search) == 0:
                    continue
                self.status.value = f"Extracting from {html.escape(search.stem)}…"
                self.results[search.stem] = result = self._extract(search)
                lines.append(html.escape(result.summary()))
        except Exception as exc:
            lines.append(f"<span style='color:#c00'>Error: {html.escape(str(exc))}</span>")
            self.status.value = "<br>".join(lines)
            raise
        lines.append(
            "Next: correct them with <code>refine_labels(config)</code>, then "
            "<code>merge_datasets(config)</code>."
        )
        self.status.value = "<br>".join(lines)
        return self.results

    # A browser sends every click, also those made before the kernel's ``disabled``
    # reached it (a double click): a click on a disabled button is ignored, or a
    # double-clicked Extract would extract twice (more than numframes2pick frames).
    def _on_extract(self, _button: widgets.Button) -> None:
        if self.extract_button.disabled:
            return
        with contextlib.suppress(Exception):  # run_extraction shows it in the status line
            self.run_extraction()

    def _on_cancel(self, _button: widgets.Button) -> None:
        if not self.cancel_button.disabled:
            self.cancel()

    def cancel(self) -> None:
        """Extract nothing (the Cancel button)."""
        self.extract_button.disabled = self.cancel_button.disabled = True
        self.status.value = "Cancelled: nothing was extracted."
