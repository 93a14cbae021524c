"""OutlierWidget without a browser: clicks as the front end sends them (no project, no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posekit.refine.extract import OutlierExtraction, OutlierSearch
from posekit.widgets.outliers import OutlierWidget

CLICK = {"event": "click"}  # what the browser sends for a button click


def _widget() -> tuple[OutlierWidget, list[str]]:
    """A widget over one video with 3 listed candidates; the stems its extract callable was called with."""
    search = OutlierSearch(
        stem="v", video=Path("v.mp4"), analysis=Path("vDLC.h5"), scorer="DLC", bodyparts=["a", "b"],
        compared=["a", "b"], poses=np.full((10, 2, 3), 0.9), first=0, scores=None,
        candidates=np.array([2, 5, 7]), already_extracted=[],
        parameters={"outlieralgorithm": "list", "numframes2pick": 2, "start": 0, "stop": 1},
    )
    calls: list[str] = []

    def extract(s: OutlierSearch) -> OutlierExtraction:
        calls.append(s.stem)
        return OutlierExtraction(s.stem, s.video, picked=[2, 5] if len(calls) == 1 else [7],
                                 machinelabels=Path("machinelabels-iter0.h5"))

    return OutlierWidget([search], extract), calls


def test_double_clicked_extract_extracts_once():
    # Regression: the second click of a double click reaches the kernel after the first
    # disabled the button (the browser had not seen that yet); it extracted again, so 3
    # frames were written for numframes2pick=2 and results held only the second run's.
    widget, calls = _widget()
    assert "<b>2</b>" in widget.children[0].value  # to extract
    widget.extract_button._handle_custom_msg(CLICK, [])
    widget.extract_button._handle_custom_msg(CLICK, [])
    widget.cancel_button._handle_custom_msg(CLICK, [])  # nor does a late Cancel undo the status
    assert calls == ["v"] and widget.results["v"].picked == [2, 5]
    assert "extracted" in widget.status.value and "Cancelled" not in widget.status.value
    assert widget.extract_button.disabled and widget.cancel_button.disabled


def test_extract_after_cancel_extracts_nothing():
    widget, calls = _widget()
    widget.cancel_button._handle_custom_msg(CLICK, [])
    widget.extract_button._handle_custom_msg(CLICK, [])
    assert calls == [] and widget.results == {}
    assert widget.status.value == "Cancelled: nothing was extracted."
