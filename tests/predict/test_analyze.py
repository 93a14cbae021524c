"""analyze_videos: DeepLabCut file layout, exact values, batching, cropping, damaged videos."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest

from posekit.io.video import VideoReader, write_video
from posekit.predict.analyze import TruncatedVideoWarning, analyze_videos, list_videos
from posekit.predict.predictor import load_predictor
from posekit.project import Project
from posekit.project.config import edit_config


def _direct(config, video, batch_size, crop=None) -> np.ndarray:
    """The predictor run by hand on frames read with VideoReader."""
    predictor = load_predictor(config, batch_size=batch_size)
    with VideoReader(video, crop=crop) as reader:
        frames = np.stack([f for _, f in reader.iter_frames()])
    out = [predictor.predict(frames[i:i + batch_size]) for i in range(0, len(frames), batch_size)]
    return np.concatenate(out).astype(np.float64)


def _values(h5) -> np.ndarray:
    df = pd.read_hdf(h5)
    return df.to_numpy().reshape(len(df), -1, 3)


def test_outputs_layout_and_exact_values(project, video):
    proj = Project.open(project)
    result = analyze_videos(project, [video], save_as_csv=True)
    assert isinstance(result, str) and result.startswith("DLC_resnet18_synthetic")
    assert result.endswith("shuffle1_2")  # newest snapshot (snapshotindex -1)
    scorer = str(result)
    h5 = video.parent / f"{video.stem}{scorer}.h5"
    csv = video.parent / f"{video.stem}{scorer}.csv"
    meta = video.parent / f"{video.stem}{scorer}_meta.json"
    assert result.videos[0].paths.h5 == h5 and h5.is_file() and csv.is_file() and meta.is_file()
    assert not list(video.parent.glob("*.pickle"))

    # h5: one table-format dataset under df_with_missing
    with pd.HDFStore(h5, mode="r") as store:
        assert store.keys() == ["/df_with_missing"]
        assert store.get_storer("df_with_missing").is_table
    df = pd.read_hdf(h5)
    pd.testing.assert_frame_equal(df, pd.read_hdf(h5, key="df_with_missing"))
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]
    assert list(df.columns.get_level_values(0).unique()) == [scorer]
    assert list(df.columns.get_level_values(1).unique()) == proj.bodyparts
    assert list(df.columns.get_level_values(2)[:3]) == ["x", "y", "likelihood"]
    assert len(df.columns) == 3 * len(proj.bodyparts)
    assert (df.dtypes == np.float64).all()
    with VideoReader(video) as reader:
        decoded = sum(1 for _ in reader.iter_frames())
    assert decoded == 120
    assert list(df.index) == list(range(decoded))

    # values: exactly what the predictor gives on the same frames
    np.testing.assert_array_equal(_values(h5), _direct(project, video, 8))
    likelihood = _values(h5)[..., 2]
    assert ((likelihood > 0) & (likelihood < 1)).all()

    # csv: DeepLabCut's 3 header rows, then frame number and values
    lines = csv.read_text().splitlines()
    assert lines[0].startswith(f"scorer,{scorer},") and lines[1].startswith("bodyparts,snout,snout,snout,")
    assert lines[2].startswith("coords,x,y,likelihood,x,")
    assert lines[3].startswith("0,") and len(lines) == 3 + decoded
    from_csv = pd.read_csv(csv, header=[0, 1, 2], index_col=0)
    np.testing.assert_array_equal(from_csv.to_numpy(), df.to_numpy())

    # metadata: DeepLabCut's _meta fields, as JSON
    data = json.loads(meta.read_text())["data"]
    for key in ("start", "stop", "run_duration", "Scorer", "DLC-model-config file", "fps",
                "batch_size", "frame_dimensions", "nframes", "iteration (active-learning)",
                "training set fraction", "cropping", "cropping_parameters"):
        assert key in data, key
    assert data["Scorer"] == scorer and data["nframes"] == decoded and data["fps"] == 30.0
    assert data["batch_size"] == 8 and data["frame_dimensions"] == [240, 320]
    assert data["cropping"] is False and data["cropping_parameters"] == [0, 320, 0, 240]
    assert data["iteration (active-learning)"] == 0 and data["training set fraction"] == 0.75
    assert data["DLC-model-config file"]["all_joints_names"] == proj.bodyparts
    assert data["stop"] >= data["start"]


def test_batch_size_invariance_skip_and_overwrite(project, video, tmp_path, capsys):
    one = analyze_videos(project, video, batchsize=1, destfolder=tmp_path / "b1")
    eight = analyze_videos(project, video, batchsize=8, destfolder=tmp_path / "b8")
    h5_1, h5_8 = one.videos[0].paths.h5, eight.videos[0].paths.h5
    assert h5_1.parent.name == "b1" and h5_1.name == h5_8.name
    np.testing.assert_allclose(_values(h5_1), _values(h5_8), rtol=0, atol=1e-4)
    assert json.loads(one.videos[0].paths.meta.read_text())["data"]["batch_size"] == 1

    before = h5_8.stat().st_mtime_ns
    again = analyze_videos(project, video, destfolder=tmp_path / "b8")
    assert again.videos[0].skipped and h5_8.stat().st_mtime_ns == before
    assert "overwrite=True" in capsys.readouterr().out
    os.utime(h5_8, ns=(before - 10**9, before - 10**9))
    redo = analyze_videos(project, video, destfolder=tmp_path / "b8", overwrite=True)
    assert not redo.videos[0].skipped and h5_8.stat().st_mtime_ns > before - 10**9


def test_cropping_is_crop_relative(project, video, tmp_path):
    box = (40, 240, 20, 180)
    edit_config(project, {"cropping": True, "x1": box[0], "x2": box[1], "y1": box[2], "y2": box[3]})
    result = analyze_videos(project, [video.parent], videotype="mp4", destfolder=tmp_path)
    (record,) = result.videos
    np.testing.assert_array_equal(_values(record.paths.h5), _direct(project, video, 8, crop=box))
    data = json.loads(record.paths.meta.read_text())["data"]
    assert data["cropping"] is True and data["cropping_parameters"] == list(box)
    assert data["frame_dimensions"] == [240, 320]

    # the argument wins over the config
    other = analyze_videos(project, video, cropping=[0, 160, 0, 120], destfolder=tmp_path / "arg")
    data = json.loads(other.videos[0].paths.meta.read_text())["data"]
    assert data["cropping_parameters"] == [0, 160, 0, 120]
    np.testing.assert_array_equal(_values(other.videos[0].paths.h5),
                                  _direct(project, video, 8, crop=(0, 160, 0, 120)))


def test_truncated_video_keeps_decoded_frames(project, video, tmp_path):
    with VideoReader(video) as reader:
        frames = [f for _, f in reader.iter_frames(stop=40)]
    full = tmp_path / "cut.avi"
    write_video(full, frames, fps=30, codec="mjpeg")
    data = full.read_bytes()
    full.write_bytes(data[: int(len(data) * 0.6)])
    with VideoReader(full) as reader:
        decodable = sum(1 for _ in reader.iter_frames())
    assert 0 < decodable < 40
    with pytest.warns(TruncatedVideoWarning, match="cut.avi") as caught:
        result = analyze_videos(project, [full])
    assert f"nframes={decodable}" in str(caught[0].message)
    record = result.videos[0]
    assert record.nframes == decodable and record.problem
    df = pd.read_hdf(record.paths.h5)
    assert list(df.index) == list(range(decodable))
    meta = json.loads(record.paths.meta.read_text())["data"]
    assert meta["nframes"] == decodable and meta["problem"]

    # an intact video gives no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncatedVideoWarning)
        analyze_videos(project, video, destfolder=tmp_path / "ok")


def test_errors_and_video_lists(project, video, tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(FileNotFoundError, match=r"nope\.mp4"):
        analyze_videos(project, [missing])
    with pytest.raises(FileNotFoundError, match=r"Unknown shuffle 7.*create_training_dataset"):
        analyze_videos(project, [video], shuffle=7)
    with pytest.raises(IndexError, match="trainingsetindex=3"):
        analyze_videos(project, [video], trainingsetindex=3)

    # folder listing: videotype filter, labelled-video outputs left out
    (tmp_path / "a.mp4").write_bytes(b"")
    (tmp_path / "a_labeled.mp4").write_bytes(b"")
    (tmp_path / "b.avi").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in list_videos(tmp_path)] == ["a.mp4", "b.avi"]
    assert [p.name for p in list_videos([tmp_path], videotype=".avi")] == ["b.avi"]
    assert [p.name for p in list_videos([tmp_path, tmp_path / "a.mp4"], "mp4")] == ["a.mp4"]

    # two videos with one stem would overwrite each other's results
    twin = tmp_path / "twin"
    twin.mkdir()
    (twin / video.name).write_bytes(video.read_bytes())
    with pytest.raises(ValueError, match="same"):
        analyze_videos(project, [video, twin / video.name], destfolder=tmp_path / "out")

    # no snapshot: say what to run
    train = Project.open(project).model_dir(0.75, 1) / "train"
    for snap in train.glob("snapshot-*"):
        snap.unlink()
    with pytest.raises(FileNotFoundError, match="train_network"):
        analyze_videos(project, [video])


def test_movement_loads_h5_and_csv(project, video, tmp_path):
    load_poses = pytest.importorskip("movement.io.load_poses")
    result = analyze_videos(project, video, save_as_csv=True, destfolder=tmp_path)
    paths = result.videos[0].paths
    values = _values(paths.h5)
    bodyparts = Project.open(project).bodyparts
    for path in (paths.h5, paths.csv):
        ds = load_poses.from_dlc_file(path, fps=30)
        assert ds.position.shape == (120, 2, len(bodyparts), 1)
        assert list(ds.keypoints.values) == bodyparts
        np.testing.assert_allclose(ds.position.values[:, 0, :, 0], values[..., 0])
        np.testing.assert_allclose(ds.position.values[:, 1, :, 0], values[..., 1])
        np.testing.assert_allclose(ds.confidence.values[:, :, 0], values[..., 2])
        assert ds.time.values[-1] == pytest.approx(119 / 30)


class _LazyPredictor:
    """Reads its input buffer only when the result is read (like a zero-copy device)."""

    def __init__(self, batch_size):
        self.batch_size = batch_size
        self.bodyparts = ["a"]
        self.events = []

    def predict_async(self, frames):
        k = len([e for e in self.events if e[0] == "dispatch"])
        self.events.append(("dispatch", k))
        predictor = self

        class Pending:
            def __array__(self, dtype=None, copy=None):
                predictor.events.append(("read", k))
                ids = frames[:, 0, 0, 0].astype(np.float32)  # the frame numbers, read late
                return np.stack([ids, ids, ids], -1)[:, None, :]

        return Pending()


def test_loop_overlaps_and_never_overwrites_a_pending_batch():
    from posekit.errors import VideoError
    from posekit.predict.frame_loop import predict_frames

    def frames(n, fail_at=None):
        for i in range(n):
            if i == fail_at:
                raise VideoError("broken packet")
            yield i, np.full((2, 3, 3), i, np.uint8)

    fake = _LazyPredictor(batch_size=4)
    poses, failure = predict_frames(fake, frames(19), (2, 3, 3), capacity=5)  # grows past 5
    assert failure is None and poses.shape == (19, 1, 3)
    np.testing.assert_array_equal(poses[:, 0, 0], np.arange(19))  # no batch was overwritten early
    order = [f"{kind}{k}" for kind, k in fake.events]
    assert order[:4] == ["dispatch0", "dispatch1", "read0", "dispatch2"]  # k+1 goes before k is read
    assert order[-3:] == ["dispatch4", "read3", "read4"]

    fake = _LazyPredictor(batch_size=4)
    poses, failure = predict_frames(fake, frames(19, fail_at=10), (2, 3, 3))
    assert isinstance(failure, VideoError) and len(poses) == 10
    np.testing.assert_array_equal(poses[:, 0, 0], np.arange(10))
    with pytest.raises(VideoError):
        predict_frames(_LazyPredictor(4), frames(5, fail_at=0), (2, 3, 3))


_TIMING = ("start", "stop", "run_duration", "frames_per_second")


def _meta_without_timing(path) -> dict:
    data = json.loads(path.read_text())["data"]
    return {k: v for k, v in data.items() if k not in _TIMING}


def test_interrupted_run_is_completed_on_rerun(project, video, tmp_path, capsys):
    """A kill after the .h5 but before the csv and _meta.json: the re-run restores both."""
    clean = analyze_videos(project, [video], save_as_csv=True, destfolder=tmp_path / "clean").videos[0].paths
    paths = analyze_videos(project, [video], save_as_csv=True, destfolder=tmp_path / "cut").videos[0].paths
    paths.csv.unlink()
    paths.meta.unlink()  # what a kill between the renames used to leave
    capsys.readouterr()
    record = analyze_videos(project, [video], save_as_csv=True, destfolder=tmp_path / "cut").videos[0]
    assert not record.skipped
    assert "_meta.json" in capsys.readouterr().out  # says why it analyses again
    assert paths.csv.read_bytes() == clean.csv.read_bytes()
    assert _meta_without_timing(paths.meta) == {**_meta_without_timing(clean.meta),
                                                "video": str(video)}
    pd.testing.assert_frame_equal(pd.read_hdf(paths.h5), pd.read_hdf(clean.h5))
    # complete now: the next run skips it
    assert analyze_videos(project, [video], save_as_csv=True, destfolder=tmp_path / "cut").videos[0].skipped


def test_h5_is_written_last(project, video, tmp_path, monkeypatch):
    """A failure while writing the csv or the metadata leaves no .h5 that would mark the video done."""
    import posekit.predict.analyze as analyze

    def fail(*args, **kwargs):
        raise KeyboardInterrupt  # a kill at that point

    monkeypatch.setattr(analyze, "write_metadata", fail)
    with pytest.raises(KeyboardInterrupt):
        analyze_videos(project, [video], save_as_csv=True, destfolder=tmp_path)
    assert not list(tmp_path.glob("*.h5"))
    monkeypatch.undo()
    record = analyze_videos(project, [video], save_as_csv=True, destfolder=tmp_path).videos[0]
    assert not record.skipped and record.paths.csv.is_file() and record.paths.meta.is_file()


def test_destfolder_that_cannot_be_a_folder(project, video, tmp_path):
    """Root ignores permissions, so make the folder impossible: under a regular file, or a file."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    for dest in (blocker / "out", blocker):
        with pytest.raises(OSError, match="Cannot write the analysis files to destfolder") as info:
            analyze_videos(project, [video], destfolder=dest)
        assert f"'{dest}'" in str(info.value)
    assert blocker.read_text() == "not a folder"


def test_unwritable_destfolder_is_named(project, video, tmp_path):
    dest = tmp_path / "readonly"
    dest.mkdir()
    dest.chmod(0o500)
    try:
        try:
            (dest / "probe").touch()
        except PermissionError:
            pass
        else:
            pytest.skip("permissions are not enforced for this user (root)")
        with pytest.raises(PermissionError, match="Cannot write the analysis files to destfolder") as info:
            analyze_videos(project, [video], destfolder=dest)
        message = str(info.value)
        assert f"'{dest}'" in message and ".tmp" not in message
        assert not list(dest.iterdir())
    finally:
        dest.chmod(0o700)
