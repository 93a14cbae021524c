"""The Dask progress widget renders a ClusterProgress: per-video bars, frames/s, dashboard link."""

from __future__ import annotations

from pathlib import Path

from posekit.predict.distributed import ClusterProgress
from posekit.widgets.cluster_progress import ClusterProgressWidget


def test_widget_shows_each_video_and_the_dashboard():
    progress = ClusterProgress()
    widget = ClusterProgressWidget(progress)
    a, b, c, d = (Path(f"/data/{name}.mp4") for name in "abcd")
    progress.add(a, 100)
    progress.add(b, 50)
    progress.add(c, state="skipped")
    progress.add(d, state="failed", error="VideoError: moov atom not found")
    progress.start("http://127.0.0.1:8787/status")
    progress.range_frames(a, 0, 40)
    progress.range_frames(a, 50, 30)
    progress.range_frames(a, 50, 10)  # that range ran again after its worker died: its count restarts
    assert progress.videos[a].frames_done == 50 and progress.videos[a].state == "running"
    progress.end_video(b, 50)
    progress.range_frames(b, 0, 20)  # a late event changes nothing
    progress.end()
    assert progress.frames_done == 100 and progress.frames_total == 150

    bars = {bar.description: bar for bar in widget.rows.children}
    assert (bars["a.mp4"].value, bars["a.mp4"].max, bars["a.mp4"].bar_style) == (50, 100, "")
    assert (bars["b.mp4"].value, bars["b.mp4"].bar_style) == (50, "success")
    assert bars["c.mp4"].bar_style == "info" and bars["d.mp4"].bar_style == "danger"
    assert bars["d.mp4"].tooltip == "VideoError: moov atom not found"
    assert "href='http://127.0.0.1:8787/status'" in widget.header.value
    assert "1/4 videos done, 1 skipped, 1 failed; 100 frames" in widget.header.value
    assert "frames/s" in widget.header.value


def test_cluster_runs_show_the_widget_in_a_notebook(monkeypatch):
    from posekit.workflow.analysis import _cluster_progress

    monkeypatch.setenv("POSEKIT_WIDGETS", "0")
    assert _cluster_progress() is None  # scripts: the core's tqdm bar
    shown = []
    monkeypatch.setenv("POSEKIT_WIDGETS", "1")
    monkeypatch.setattr("IPython.display.display", shown.append)
    progress = _cluster_progress()
    (widget,) = shown
    assert isinstance(widget, ClusterProgressWidget) and widget.progress is progress
    progress.add(Path("/data/a.mp4"), 10)
    progress.end()
    assert [bar.description for bar in widget.rows.children] == ["a.mp4"]
