"""analyze_videos on a Dask LocalCluster: ranges joined exactly, worker loss, re-runs, failures, other verbs.

One cluster (2 worker processes x 1 thread) serves the module; the worker-killing
test runs last. Videos are the synthetic project's 120-frame 320x240 mp4 (and
small ones written here), the network the tiny snapshot of tests/predict/conftest.py.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
import warnings
from pathlib import Path

import distributed
import numpy as np
import pandas as pd
import pytest

from posekit.io.video import write_video
from posekit.predict.analyze import analyze_videos
from posekit.predict.distributed import (
    LOAD_TOPIC,
    ClusterProgress,
    _call_collecting,
    analyze_videos_on_cluster,
    map_videos,
    plan_ranges,
)
from posekit.predict.frame_loop import FramePredictions, join_ranges
from posekit.predict.onnx_backend import usable_cores
from posekit.predict.predictor import load_predictor
from posekit.predict.results import analysis_paths

_TIMING = {"start", "stop", "run_duration", "frames_per_second"}


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  worker_dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def _values(h5) -> np.ndarray:
    return pd.read_hdf(h5).to_numpy()


def _meta(path) -> dict:
    data = json.loads(Path(path).read_text())["data"]
    return {k: v for k, v in data.items() if k not in _TIMING}


# --------------------------------------------------------------------------- #
# Planning and joining (no cluster)
# --------------------------------------------------------------------------- #


def test_plan_ranges_tiles_videos_and_fills_the_cluster():
    assert plan_ranges([120], 40) == [[(0, 40), (40, 80), (80, None)]]
    # a 10-hour video at 30 fps: 54 ranges of 20 000 frames
    (ten_hours,) = plan_ranges([1_080_000])
    assert len(ten_hours) == 54 and ten_hours[1] == (20_000, 40_000) and ten_hours[-1] == (1_060_000, None)
    # one 10 000-frame video on 2 threads: split in two; never below 1 000 frames per range
    assert plan_ranges([10_000], slots=2) == [[(0, 5_000), (5_000, None)]]
    assert plan_ranges([1_500], slots=4) == [[(0, None)]]
    # the longest video is split first; an unknown count (0) is one range to the end
    assert plan_ranges([30_000, 0, 2_000], slots=4) == [[(0, 15_000), (15_000, None)], [(0, None)], [(0, None)]]
    assert plan_ranges([30_000, 0, 2_000], slots=5) == [
        [(0, 10_000), (10_000, 20_000), (20_000, None)], [(0, None)], [(0, None)]]
    with pytest.raises(ValueError, match="chunk_frames"):
        plan_ranges([10], 0)


def _part(start, n, requested, failure=None) -> FramePredictions:
    poses = np.arange(start, start + n, dtype=np.float32)[:, None, None] * np.ones((1, 2, 3), np.float32)
    return FramePredictions(start, poses, requested, failure, 100, 30.0, 240, 320, 1.0, 0.1, ["x"] if not start else [])


def test_join_ranges_keeps_frame_order_and_stops_at_the_first_short_range():
    joined = join_ranges([_part(80, 20, None), _part(0, 40, 40), _part(40, 40, 40)])  # any arrival order
    assert joined.poses[:, 0, 0].tolist() == list(range(100)) and joined.failure is None
    assert joined.damage == ["x"] and joined.seconds == 3.0
    # a range that failed midway: later frames dropped, as a local run stops there
    cut = join_ranges([_part(0, 40, 40), _part(40, 10, 40, "bad packet"), _part(80, 20, None)])
    assert len(cut.poses) == 50 and cut.failure == "bad packet"
    short = join_ranges([_part(0, 30, 40), _part(40, 20, None)])
    assert len(short.poses) == 30 and "20 later frames decoded" in short.failure
    for broken in ([_part(0, 40, 40), _part(50, 10, None)], [_part(0, 40, 40)], [_part(0, 40, 40)] * 2):
        with pytest.raises(ValueError, match="do not tile"):
            join_ranges(broken)


# --------------------------------------------------------------------------- #
# On the cluster
# --------------------------------------------------------------------------- #


def test_long_video_split_over_both_workers_equals_local_run(project, video, tmp_path, client):
    local = analyze_videos(project, [video], save_as_csv=True, destfolder=tmp_path / "local").videos[0]
    progress = ClusterProgress()
    seen = []
    progress.subscribe(lambda p: seen.append(p.frames_done))
    with distributed.get_task_stream(client) as stream:
        result = analyze_videos_on_cluster(client, project, [video], save_as_csv=True, destfolder=tmp_path / "dask",
                                           chunk_frames=40, progress=progress)
    (record,) = result.videos
    assert str(result) == str(local.paths.h5.name[len(video.stem):-3])  # same scorer
    assert record.paths.h5.name == local.paths.h5.name and record.nframes == 120
    workers = {t["worker"] for t in stream.data if str(t["key"]).startswith("posekit-analyze")}
    ranges = {t["key"] for t in stream.data if str(t["key"]).startswith("posekit-analyze")}
    assert len(ranges) == 3 and len(workers) == 2  # 3 ranges of 40 frames over both workers

    dask_frame, local_frame = pd.read_hdf(record.paths.h5), pd.read_hdf(local.paths.h5)
    assert list(dask_frame.index) == list(range(120))  # no frame missing or doubled
    pd.testing.assert_index_equal(dask_frame.columns, local_frame.columns)
    np.testing.assert_allclose(dask_frame.to_numpy(), local_frame.to_numpy(), rtol=0, atol=1e-4)
    assert _meta(record.paths.meta) == _meta(local.paths.meta)
    assert record.paths.csv.read_text().splitlines()[:3] == local.paths.csv.read_text().splitlines()[:3]

    # each worker loaded the network once, and kept it
    cached = client.run(lambda: len(__import__("posekit.predict.distributed").predict.distributed._predictors))
    assert sorted(cached.values()) == [1, 1]
    assert progress.finished and progress.videos[video].state == "done" and progress.frames_done == 120
    assert seen[-1] == 120 and progress.dashboard_link == client.dashboard_link


def test_rerun_skips_finished_videos_by_the_local_rule(project, video, tmp_path, client, capsys):
    second = video.with_name("second.mp4")
    second.write_bytes(video.read_bytes())
    analyze_videos(project, [video], destfolder=tmp_path)  # finished by a local run
    first = analyze_videos_on_cluster(client, project, [video, second], destfolder=tmp_path)
    assert [v.state for v in first.videos] == ["skipped", "done"]
    h5 = first.videos[1].paths.h5
    before = h5.stat().st_mtime_ns
    again = analyze_videos_on_cluster(client, project, [video, second], destfolder=tmp_path)
    assert [v.state for v in again.videos] == ["skipped", "skipped"] and h5.stat().st_mtime_ns == before
    assert "2 skipped" in capsys.readouterr().out  # the end summary
    # an .h5 without its metadata (a client killed between the writes) is analysed again
    first.videos[1].paths.meta.unlink()
    assert analyze_videos_on_cluster(client, project, [second], destfolder=tmp_path).videos[0].state == "done"


def test_failing_videos_are_named_and_the_others_finish(project, video, tmp_path, client, capsys):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 100)
    small = tmp_path / "small.mp4"  # the crop box below does not fit it: fails on the worker
    write_video(small, (np.full((48, 64, 3), 90, np.uint8) for _ in range(10)), fps=30)
    result = analyze_videos_on_cluster(client, project, [garbage, video, small], destfolder=tmp_path / "out",
                                       cropping=[0, 160, 0, 120])
    states = {v.video.name: v.state for v in result.videos}
    assert states == {"garbage.mp4": "failed", video.name: "done", "small.mp4": "failed"}
    assert "does not fit video" in result.videos[2].error
    assert result.videos[1].paths.h5.is_file() and not result.videos[2].paths.h5.exists()
    out = capsys.readouterr().out
    assert "'garbage.mp4' could not be analysed" in out and "'small.mp4' could not be analysed" in out
    assert "1 done, 0 skipped, 2 failed" in out and "small.mp4: FAILED" in result.summary()


def test_verbs_take_a_client(project, video, tmp_path, client, capsys):
    """The workflow verbs: analyze_videos dispatches, filterpredictions and create_labeled_video map per video."""
    import shutil

    from posekit.workflow.analysis import analyze_videos as verb
    from posekit.workflow.analysis import create_labeled_video, filterpredictions

    missing = tmp_path / "missing.mp4"
    missing.write_bytes(b"")
    result = verb(project, [video, missing], destfolder=tmp_path / "dask", client=client, chunk_frames=60)
    assert [v.state for v in result.videos] == ["done", "failed"]
    local = tmp_path / "local"
    local.mkdir()
    for path in (tmp_path / "dask").iterdir():
        shutil.copy(path, local / path.name)

    report = filterpredictions(project, [video], destfolder=tmp_path / "dask", client=client)
    expected = filterpredictions(project, [video], destfolder=local)
    assert report.failed == {} and list(report.filtered) == [video]
    pd.testing.assert_frame_equal(pd.read_hdf(report.filtered[video]), pd.read_hdf(expected.filtered[video]))
    assert f"-> '{report.filtered[video]}'" in capsys.readouterr().out

    (labeled,) = create_labeled_video(project, [video], destfolder=tmp_path / "dask", client=client)
    assert labeled.parent == tmp_path / "dask" and labeled.stat().st_size > 0
    assert "(120 frames)" in capsys.readouterr().out
    # a video whose task fails (its analysis is not a readable file) is named, the others still drawn
    second = video.with_name("second.mp4")
    second.write_bytes(video.read_bytes())
    analysis_paths(second, str(result), tmp_path / "dask").h5.write_bytes(b"broken")
    with pytest.warns(UserWarning, match="No labeled video for .*second.mp4"):
        drawn = create_labeled_video(project, [video, second], destfolder=tmp_path / "dask", client=client,
                                     overwrite=True)
    assert drawn == [labeled]


def test_client_killed_while_writing_leaves_no_half_written_video(project, video, tmp_path, client, monkeypatch):
    """A client dying while it writes: no .h5 (the mark of a finished video), no task left running."""
    import posekit.predict.analyze as analyze

    second = video.with_name("second.mp4")
    second.write_bytes(video.read_bytes())

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the client dies here

    monkeypatch.setattr(analyze, "write_poses", killed)
    with pytest.raises(KeyboardInterrupt):
        analyze_videos_on_cluster(client, project, [video, second], destfolder=tmp_path, chunk_frames=40)
    assert not list(tmp_path.glob("*.h5")) and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # the other video's tasks were cancelled (the scheduler forgets them within moments)
    deadline = time.monotonic() + 10
    while any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(client.processing().values())
    monkeypatch.undo()
    result = analyze_videos_on_cluster(client, project, [video, second], destfolder=tmp_path)
    assert [v.state for v in result.videos] == ["done", "done"]


def _session_threads() -> list[int]:
    from posekit.predict.distributed import _predictors

    return [p._onnx.session.get_session_options().intra_op_num_threads
            for p in _predictors.values() if p.backend == "onnx"]


@pytest.mark.skipif(usable_cores() < 2, reason="one core: a worker's share and the machine's are the same")
def test_cluster_workers_run_onnx_on_their_own_threads_not_every_core(project, video, tmp_path, client):
    """2 workers x 1 thread on one machine: each ONNX Runtime session gets 1 intra-op thread (not all cores)."""
    analyze_videos_on_cluster(client, project, [video], destfolder=tmp_path, chunk_frames=60, backend="onnx")
    per_worker = client.run(_session_threads)  # sessions of earlier tests' runs too: the same rule made them
    assert len(per_worker) == 2 and all(threads and set(threads) == {1} for threads in per_worker.values())
    loads = [event for _, event in client.get_events(LOAD_TOPIC) if event["backend"] == "onnx"]
    assert loads and {event["threads"] for event in loads} == {1} and all(e["seconds"] > 0 for e in loads)
    # a local run keeps its default: every usable core
    assert load_predictor(project, backend="onnx").threads is None
    assert load_predictor(project, backend="onnx", threads=1)._onnx.session.get_session_options() \
        .intra_op_num_threads == 1


def _set_precision_env(value: str) -> None:
    os.environ["POSEKIT_PRECISION"] = value


def test_auto_precision_is_decided_on_a_worker_and_run_by_every_task(project, video, tmp_path, client):
    """The client's machine may differ from the workers' (a login node, GPU workers): a worker decides."""
    from posekit.predict.results import read_metadata

    assert os.environ["POSEKIT_PRECISION"] == "fp32"  # this process says float32 (tests/conftest.py)
    client.run(_set_precision_env, "int8")  # ... the workers say int8
    try:
        result = analyze_videos_on_cluster(client, project, [video], destfolder=tmp_path, chunk_frames=60)
    finally:
        client.run(_set_precision_env, "fp32")
    from posekit.predict.quantize import int8_cache_path

    (record,) = result.videos
    assert record.paths.h5.is_file() and read_metadata(record.paths.meta)["precision"] == "int8"
    snapshot = read_metadata(record.paths.meta)["snapshot"]
    assert int8_cache_path(snapshot).is_file()  # a worker quantized it


def _warn_in_a_helper_thread(text: str) -> str:
    thread = threading.Thread(target=warnings.warn, args=(text, RuntimeWarning))
    thread.start()
    thread.join()
    return "value"


def test_a_tasks_warnings_are_collected_from_its_helper_threads_too(recwarn):
    outcome = _call_collecting(_warn_in_a_helper_thread, "decoder thread says so")
    assert outcome.value == "value" and outcome.warnings == [(RuntimeWarning, "decoder thread says so")]
    assert not recwarn.list
    _warn_in_a_helper_thread("no task runs")  # outside a task: shown as before the hook
    assert [str(w.message) for w in recwarn.list] == ["no task runs"]


def test_worker_warnings_are_raised_on_the_client_naming_the_video(client):
    jobs = {Path("/data/a.mp4"): functools.partial(_warn_in_a_helper_thread, "careful with a"),
            Path("/data/b.mp4"): functools.partial(warnings.warn, "careful with b", UserWarning)}
    with pytest.warns(Warning) as caught:
        results, failures = map_videos(client, jobs, "test")
    assert results == {Path("/data/a.mp4"): "value", Path("/data/b.mp4"): None} and failures == {}
    assert sorted(((w.category, str(w.message)) for w in caught), key=str) == [
        (RuntimeWarning, "'a.mp4' (on a Dask worker): careful with a"),
        (UserWarning, "'b.mp4' (on a Dask worker): careful with b")]


class _KillOnce(distributed.WorkerPlugin):
    """Kills its worker process the first time (across all workers) a posekit analysis task starts."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and str(key).startswith("posekit-analyze"):
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
            os._exit(1)  # as a SIGKILL: no cleanup, the task dies with the process


def test_killed_worker_is_retried_elsewhere_with_identical_outputs(project, video, tmp_path, client):
    local = analyze_videos(project, [video], destfolder=tmp_path / "local").videos[0]
    marker = tmp_path / "killed"
    client.register_plugin(_KillOnce(str(marker)), name="posekit-kill-once")
    try:
        result = analyze_videos_on_cluster(client, project, [video], destfolder=tmp_path / "dask", chunk_frames=40)
    finally:
        client.unregister_worker_plugin("posekit-kill-once")
    assert marker.exists()  # a worker did die while running a range
    (record,) = result.videos
    assert record.state == "done" and record.nframes == 120
    np.testing.assert_allclose(_values(record.paths.h5), _values(local.paths.h5), rtol=0, atol=1e-4)
    assert _meta(record.paths.meta) == _meta(local.paths.meta)
    assert not [p for p in (tmp_path / "dask").iterdir() if p.name.startswith(".")]  # no temporary file left
