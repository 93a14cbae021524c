"""extract_frames on a real (synthetic) project: files, names, exact content, safety."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.frames.extract import extract_frames
from posekit.io.images import read_image
from posekit.io.video import VideoReader
from posekit.project import Project, edit_config, frame_index_from_name


def _clear_frames(project, stem):
    for image in project.frame_images(stem):
        image.unlink()


@pytest.fixture
def project(synthetic_copy):
    project = Project.open(synthetic_copy)
    _clear_frames(project, project.video_stems()[0])
    return project


@pytest.mark.parametrize("algo", ["kmeans", "uniform"])
def test_frames_written_exactly(project, algo):
    stem = project.video_stems()[0]
    result = extract_frames(project, algo=algo, seed=3)[stem]
    names = [p.name for p in result.written]
    assert len(names) == project.cfg["numframes2pick"] == 8
    assert all(len(n) == len("img000.png") for n in names)  # 120 frames -> 3 digits
    with VideoReader(project.video_path(stem)) as reader:
        for path in result.written:
            index = frame_index_from_name(path.name)
            assert np.array_equal(read_image(path), reader.read(index))


def test_seed_reproducible_and_existing_kept(project):
    stem = project.video_stems()[0]
    first = extract_frames(project, algo="uniform", seed=5)[stem].written
    stamps = {p: p.stat().st_mtime_ns for p in first}
    _clear_frames(project, stem)
    again = extract_frames(project, algo="uniform", seed=5)[stem].written
    assert [p.name for p in again] == [p.name for p in first]
    stamps = {p: p.stat().st_mtime_ns for p in again}
    more = extract_frames(project, algo="kmeans", seed=6)[stem]
    assert {p.name for p in more.written}.isdisjoint(p.name for p in again)
    assert len(more.written) == 8 and sorted(more.kept) == sorted(again)
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    assert len(project.frame_images(stem)) == 16


def test_start_stop_and_crop(project):
    stem = project.video_stems()[0]
    key = project.video_key(stem)
    edit_config(
        project.config_path,
        {"start": 0.5, "stop": 0.75, "video_sets": {key: {"crop": "10, 110, 20, 100"}}},
    )
    project.reload()
    written = extract_frames(project, algo="uniform", crop=True, seed=0)[stem].written
    indices = [frame_index_from_name(p.name) for p in written]
    assert all(60 <= i < 90 for i in indices)
    with VideoReader(project.video_path(stem)) as reader:
        full = reader.read(indices[0])
    image = read_image(written[0])
    assert image.shape == (80, 100, 3)
    assert np.array_equal(image, full[20:100, 10:110])


def test_mixing_cropped_and_full_frames_warns(project):
    from posekit.frames.grabber import FrameSizeWarning

    stem = project.video_stems()[0]
    edit_config(project.config_path, {"video_sets": {project.video_key(stem): {"crop": "10, 110, 20, 100"}}})
    project.reload()
    extract_frames(project, algo="uniform", crop=True, seed=0)
    with pytest.warns(FrameSizeWarning, match=r"8 at 100x80.*pass crop=True"):
        extract_frames(project, algo="uniform", seed=1)  # full frames beside cropped ones
    with pytest.warns(FrameSizeWarning):  # and the other way round
        extract_frames(project, algo="uniform", crop=True, seed=2)


def test_crop_outside_frame_is_an_error(project):
    stem = project.video_stems()[0]
    key = project.video_key(stem)
    edit_config(project.config_path, {"video_sets": {key: {"crop": "0, 400, 0, 240"}}})
    with pytest.raises(ValueError, match="outside the 320x240 frame"):
        extract_frames(project.config_path, crop=True)


def test_argument_errors(project):
    with pytest.raises(ValueError, match="algo='random'"):
        extract_frames(project, algo="random")
    with pytest.raises(ValueError, match="not in the project"):
        extract_frames(project, videos_list=["other.mp4"])
    with pytest.raises(ValueError, match="cluster_step"):
        extract_frames(project, cluster_step=0)


def test_missing_video_named(project):
    stem = project.video_stems()[0]
    project.video_path(stem).unlink()
    with pytest.raises(FileNotFoundError, match=stem):
        extract_frames(project)


def test_userfeedback_no_skips(project, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert extract_frames(project, userfeedback=True) == {}
    assert project.frame_images(project.video_stems()[0]) == []


def test_manual_mode_returns_frame_grabber(project):
    import posekit
    from posekit.widgets.grabber import FrameGrabberWidget

    grabbing = posekit.extract_frames(project, "manual")
    assert grabbing.grabber.stem == project.video_stems()[0]
    widget = grabbing.widget()
    try:
        assert isinstance(widget, FrameGrabberWidget) and widget.grabber is grabbing.grabber
    finally:
        widget.close()


def test_crop_gui_applies_box_then_extracts(project):
    import posekit

    stem = project.video_stems()[0]
    editing = posekit.extract_frames(project, crop="GUI", algo="uniform", seed=0)
    widget = editing.widget()
    widget.x1.value, widget.x2.value = 20, 120
    widget.y1.value, widget.y2.value = 10, 90
    widget.apply_button.click()
    assert Project.open(project.config_path).crop_box(stem) == (20, 120, 10, 90)
    written = editing.results[stem].written
    assert len(written) == 8
    assert all(read_image(p).shape == (80, 100, 3) for p in written)


def test_truncated_video_warns_with_counts(project):
    """Like analyze_videos: the decoded and the declared frame counts, in the same words."""
    from posekit.io.video import TruncatedVideoWarning

    stem = project.video_stems()[0]
    video = project.video_path(stem)  # mp4 with faststart: the header still states 120 frames
    data = video.read_bytes()
    video.write_bytes(data[: int(len(data) * 0.6)])
    with VideoReader(video) as reader:
        decoded, stated = reader.n_frames, reader.metadata_n_frames
    assert 0 < decoded < stated == 120
    with pytest.warns(TruncatedVideoWarning, match=stem) as caught:
        result = extract_frames(project, algo="uniform", seed=0)[stem]
    message = str(caught[0].message)
    assert f"the container states {stated} frames but only {decoded} decoded" in message
    assert f"nframes={decoded}, frames stated={stated}" in message
    assert result.n_frames == decoded and len(result.written) == 8
    assert all(frame_index_from_name(p.name) < decoded for p in result.written)


def test_tiny_video_kmeans_proposes_a_width_that_works(tmp_path):
    """An 8x8 video with the default cluster_resizewidth=30: the advice must be a value that works."""
    import re

    from posekit.io.video import write_video
    from posekit.project import create_project

    rng = np.random.default_rng(0)
    video = tmp_path / "tiny.avi"
    write_video(video, [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(30)], fps=10,
                codec="ffv1")
    config = create_project("tiny", "me", [video], working_directory=tmp_path, copy_videos=True,
                            bodyparts=["a", "b"])
    edit_config(config, {"numframes2pick": 4})
    with pytest.raises(ValueError, match="cluster_resizewidth=30") as info:
        extract_frames(config, algo="kmeans", seed=0)
    proposed = int(re.search(r"cluster_resizewidth=(\d+)\)", str(info.value)).group(1))
    assert proposed <= 8
    result = extract_frames(config, algo="kmeans", seed=0, cluster_resizewidth=proposed)
    assert len(next(iter(result.values())).written) == 4
