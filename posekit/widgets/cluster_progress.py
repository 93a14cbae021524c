"""Progress of ``analyze_videos(..., client=)``: a bar per video, overall frames/s, the Dask dashboard link."""

from __future__ import annotations

import html
import threading
import time

import ipywidgets as W

from posekit.predict.distributed import ClusterProgress

_BAR_STYLE = {"done": "success", "failed": "danger", "skipped": "info"}
#: Seconds between two redraws: worker events arrive many times a second on a big cluster.
_REDRAW_INTERVAL = 0.25


class ClusterProgressWidget(W.VBox):
    """Show a :class:`~posekit.predict.distributed.ClusterProgress` (it only renders it).

    A header line (videos done/skipped/failed, frames, overall frames/s, a link to
    the Dask dashboard) and one bar per video, whose tooltip says why a failed
    video failed.

    Parameters
    ----------
    progress
        The run's progress, usually before the run starts.
    """

    def __init__(self, progress: ClusterProgress) -> None:
        self.progress = progress
        self.header = W.HTML()
        self.header.add_class("posekit-cluster-header")
        self.rows = W.VBox()
        self._bars: dict = {}
        self._lock = threading.Lock()
        self._drawn = 0.0
        super().__init__(children=[self.header, self.rows])
        self.add_class("posekit-cluster-progress")
        progress.subscribe(self._show)
        self._show(progress)

    def _show(self, progress: ClusterProgress) -> None:
        now = time.monotonic()
        if not progress.finished and now - self._drawn < _REDRAW_INTERVAL:
            return
        with self._lock:
            self._drawn = now
            self._draw(progress)

    def _draw(self, progress: ClusterProgress) -> None:
        link = progress.dashboard_link
        dashboard = f" &middot; <a href='{html.escape(link)}' target='_blank'>Dask dashboard</a>" if link else ""
        self.header.value = f"<b>analyze_videos</b> on Dask: {html.escape(progress.describe())}{dashboard}"
        for video, entry in list(progress.videos.items()):
            bar = self._bars.get(video)
            if bar is None:
                bar = self._bars[video] = W.IntProgress(min=0, max=1, description=video.name[:24],
                                                        style={"description_width": "180px"},
                                                        layout=W.Layout(width="520px"))
                self.rows.children = (*self.rows.children, bar)
            total = entry.frames_total or max(entry.frames_done, 1)
            bar.max = max(total, 1)
            bar.value = min(entry.frames_done if entry.state != "skipped" else total, bar.max)
            bar.bar_style = _BAR_STYLE.get(entry.state, "")
            bar.tooltip = entry.error or f"{entry.state}: {entry.frames_done}/{entry.frames_total or '?'} frames"
