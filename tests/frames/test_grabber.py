"""Headless manual frame extraction: FrameGrabber."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posekit.errors import ConfigError, LabelError
from posekit.frames.grabber import FrameGrabber, FrameSizeWarning
from posekit.io.images import read_image
from posekit.io.video import VideoReader, write_video
from posekit.project.project import Project, frame_filename, frame_index_from_name


def add_test_video(config: Path, stem: str = "second", n_frames: int = 30,
                   coords: tuple[int, int, int, int] | None = None) -> Path:
    """Write a small 64x48 video whose frame i is filled with 8*i, add it to the project."""
    from posekit.project.create import add_new_videos

    source = config.parent.parent / f"{stem}.mp4"
    ramp = np.linspace(0, 60, 64, dtype=np.uint8)[None, :, None]
    frames = (np.broadcast_to(ramp + np.uint8(6 * i), (48, 64, 3)).copy() for i in range(n_frames))
    write_video(source, frames, fps=25.0)
    add_new_videos(config, [source], copy_videos=True, coords=None if coords is None else [coords])
    return source


def free_index(grabber: FrameGrabber, start: int = 0) -> int:
    """The first frame at or after ``start`` that is not extracted yet."""
    taken = set(grabber.grabbed_indices())
    return next(i for i in range(start, grabber.n_frames) if i not in taken)


@pytest.fixture
def grabber(synthetic_copy):
    with FrameGrabber(synthetic_copy) as g:
        yield g


def test_opens_first_video_at_frame_zero(grabber, synthetic_copy):
    project = Project.open(synthetic_copy)
    assert grabber.stems == project.video_stems() == [grabber.stem]
    assert grabber.index == 0 and grabber.time == 0.0
    with VideoReader(project.video_path(grabber.stem)) as reader:
        assert grabber.n_frames == reader.n_frames == 120
        assert grabber.fps == pytest.approx(reader.fps) == pytest.approx(30.0)
    assert grabber.folder == project.labeled_folder(grabber.stem)


def test_seek_step_and_clamp(grabber):
    assert grabber.seek(50) == 50 and grabber.index == 50
    assert grabber.step(10) == 60
    assert grabber.step(-1) == 59
    assert grabber.step(-1000) == 0
    assert grabber.seek(10**6) == 119
    assert grabber.time == pytest.approx(119 / 30.0)
    grabber.index = -5
    assert grabber.index == 0
    grabber.index = 33
    assert grabber.index == 33 and grabber.time == pytest.approx(1.1)


def test_frame_is_the_exact_decoded_frame_and_cached(grabber):
    grabber.seek(77)
    frame = grabber.frame()
    with VideoReader(grabber.video_path) as reader:
        np.testing.assert_array_equal(frame, reader.read(77))
        np.testing.assert_array_equal(grabber.frame(3), reader.read(3))
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    assert grabber.frame(77) is frame  # served from the cache
    assert not frame.flags.writeable  # shared, so nobody may draw on it
    with pytest.raises(IndexError, match="outside"):
        grabber.frame(120)


def test_grab_writes_exact_frame_with_extraction_name(grabber):
    before = grabber.grabbed()
    index = free_index(grabber, 13)
    grabber.seek(index)
    result = grabber.grab()
    assert result.created and result.index == index
    assert result.path == grabber.folder / frame_filename(index, 120)
    assert result.path.name == f"img{index:03d}.png"
    with VideoReader(grabber.video_path) as reader:
        np.testing.assert_array_equal(read_image(result.path), reader.read(index))
    assert grabber.grabbed() == sorted([*before, result.path], key=lambda p: frame_index_from_name(p.name))
    assert "Saved" in result.message and result.path.name in result.message


def test_grab_twice_is_a_noop_that_says_so(grabber):
    grabber.seek(free_index(grabber, 90))
    first = grabber.grab()
    stat = first.path.stat()
    second = grabber.grab()
    assert not second.created and second.path == first.path
    assert "already extracted" in second.message
    assert first.path.stat().st_mtime_ns == stat.st_mtime_ns
    assert len(grabber.grabbed()) == len(set(grabber.grabbed_indices()))


def test_grab_never_overwrites_an_image_with_other_padding(grabber):
    index = free_index(grabber, 5)
    odd = grabber.folder / f"img{index}.png"  # as an older tool might have named it
    odd.write_bytes(b"not really a png")
    grabber.seek(index)
    result = grabber.grab()
    assert not result.created and result.path == odd
    assert odd.read_bytes() == b"not really a png"
    assert not (grabber.folder / frame_filename(index, 120)).exists()


def test_delete_removes_an_unlabeled_image(grabber):
    grabber.seek(free_index(grabber, 40))
    path = grabber.grab().path
    assert grabber.delete(grabber.index) == path
    assert not path.exists() and grabber.index not in grabber.grabbed_indices()
    with pytest.raises(FileNotFoundError, match="nothing deleted"):
        grabber.delete(grabber.index)


@pytest.mark.parametrize("keep", [".h5", ".csv"])
def test_delete_refuses_a_labeled_image(grabber, keep):
    """Labels are never orphaned: whichever CollectedData copy lists the image, it stays."""
    drop = ".csv" if keep == ".h5" else ".h5"
    grabber.project.collected_data_path(grabber.stem, drop).unlink()
    labeled = grabber.grabbed()[0]
    index = frame_index_from_name(labeled.name)
    with pytest.raises(LabelError, match=r"Not deleting .*CollectedData_.*labeled"):
        grabber.delete(index)
    assert labeled.is_file()


def test_delete_refuses_an_image_listed_without_points(grabber):
    from posekit.io.labels import LabelTable

    grabber.seek(free_index(grabber, 60))
    path = grabber.grab().path
    folder = grabber.folder
    table = LabelTable.read(folder)
    table.add_image(("labeled-data", grabber.stem, path.name))
    table.save(folder)
    with pytest.raises(LabelError, match="0 of"):
        grabber.delete(grabber.index)
    assert path.is_file()


def test_select_video_switches_and_resets(synthetic_copy):
    add_test_video(synthetic_copy, "second", n_frames=30)
    with FrameGrabber(synthetic_copy, stem="second") as g:
        assert g.stem == "second" and g.n_frames == 30 and g.fps == pytest.approx(25.0)
        assert g.grabbed() == []
        g.seek(1000)
        assert g.index == 29
        result = g.grab()
        assert result.path == g.project.labeled_folder("second") / "img29.png"
        g.select_video(g.stems[0])
        assert g.index == 0 and g.n_frames == 120
        with pytest.raises(KeyError, match="No video named 'nope'"):
            g.select_video("nope")
        assert g.stem == g.stems[0]  # a failed switch keeps the current video


def test_crop_uses_the_video_sets_box(synthetic_copy):
    add_test_video(synthetic_copy, "cropped", n_frames=12, coords=(8, 40, 4, 36))
    with FrameGrabber(synthetic_copy, stem="cropped", crop=True) as g:
        g.seek(5)
        frame = g.frame()
        assert frame.shape == (32, 32, 3)
        with VideoReader(g.video_path) as reader:
            np.testing.assert_array_equal(frame, reader.read(5)[4:36, 8:40])
        np.testing.assert_array_equal(read_image(g.grab().path), frame)


def test_project_without_videos_is_refused(synthetic_copy):
    project = Project.open(synthetic_copy)
    project.cfg["video_sets"] = {}
    with pytest.raises(ValueError, match="no videos"):
        FrameGrabber(project)


def set_crop(config: Path, stem: str, crop: str) -> None:
    project = Project.open(config)
    project.cfg["video_sets"][project.video_key(stem)]["crop"] = crop
    project.save_config()


def test_default_grabs_through_the_crop_box_so_one_folder_has_one_size(synthetic_copy, recwarn):
    add_test_video(synthetic_copy, "cropped", n_frames=12, coords=(8, 40, 4, 36))
    with FrameGrabber(synthetic_copy, stem="cropped") as g:  # no crop=True needed
        assert g.crop_box == (8, 40, 4, 36) and g.size_warning == ""
        g.seek(5)
        assert read_image(g.grab().path).shape == (32, 32, 3)
    assert not [w for w in recwarn if issubclass(w.category, FrameSizeWarning)]


def test_folder_of_full_frames_keeps_full_size_and_warns(synthetic_copy):
    add_test_video(synthetic_copy, "late", n_frames=12)
    with FrameGrabber(synthetic_copy, stem="late") as g:
        assert g.crop_box is None  # the full-frame box: nothing to crop
        g.grab()
    set_crop(synthetic_copy, "late", "8, 40, 4, 36")  # a crop box drawn after grabbing
    with pytest.warns(FrameSizeWarning, match=r"already holds 1 at 64x48 \(full frames\)") as caught:
        g = FrameGrabber(synthetic_copy, stem="late")
    with g:
        assert "'8, 40, 4, 36'" in str(caught[0].message)
        assert g.crop_box is None and g.frame().shape == (48, 64, 3)
    with pytest.warns(FrameSizeWarning, match=r"another size \(1 at 64x48\) than the 32x32 frames"):
        forced = FrameGrabber(synthetic_copy, stem="late", crop=True)
    with forced:
        assert forced.frame().shape == (32, 32, 3)


def test_crop_box_outside_the_video_warns_or_fails(synthetic_copy):
    add_test_video(synthetic_copy, "wide", n_frames=12)
    set_crop(synthetic_copy, "wide", "0, 200, 0, 100")  # the video is 64x48
    with pytest.warns(FrameSizeWarning, match=r"Cannot grab 'wide' through its crop box.*64x48"):
        g = FrameGrabber(synthetic_copy, stem="wide")
    with g:
        assert g.crop_box is None and g.frame().shape == (48, 64, 3)
    with pytest.raises(ConfigError, match="outside the 64x48 frame"):
        FrameGrabber(synthetic_copy, stem="wide", crop=True)
