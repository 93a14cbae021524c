"""Tests for posekit.io.video: frame-exact reading, cropping, errors, writing.

Every test video is generated here; each frame carries its own index as big
black/white blocks (plus the bitwise complement as a check), which survive lossy
codecs, so a decoded frame tells which frame it really is.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from posekit.errors import VideoError
from posekit.io.video import VideoReader, frame_count, write_video

WIDTH, HEIGHT = 160, 128
BLOCK = 16
N_BITS = 10  # indices up to 1023
N_FRAMES = 200
FPS = 30


# --------------------------------------------------------------------------- #
# Index-carrying videos
# --------------------------------------------------------------------------- #


def _bit_cells() -> list[tuple[int, int]]:
    """(row, col) of the blocks holding the bits, then of their complements."""
    cols = WIDTH // BLOCK
    return [divmod(k, cols) for k in range(2 * N_BITS)]


def index_frame(i: int) -> np.ndarray:
    """A (HEIGHT, WIDTH, 3) uint8 RGB frame whose blocks encode ``i``."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    frame = np.empty((HEIGHT, WIDTH, 3), np.uint8)  # moving, coloured texture
    frame[..., 0] = (x * 3 + i * 2) % 256
    frame[..., 1] = (y * 5 + i) % 256
    frame[..., 2] = ((x + y + 3 * i) // 8 % 2) * 200 + 20
    for k, (row, col) in enumerate(_bit_cells()):
        bit = (i >> (k % N_BITS)) & 1
        if k >= N_BITS:
            bit = 1 - bit
        frame[row * BLOCK:(row + 1) * BLOCK, col * BLOCK:(col + 1) * BLOCK] = 255 * bit
    return frame


def decode_index(frame: np.ndarray) -> int:
    """The index encoded by :func:`index_frame` (after any codec); -1 if garbled."""
    assert frame.shape == (HEIGHT, WIDTH, 3) and frame.dtype == np.uint8
    bits = []
    for row, col in _bit_cells():
        inner = frame[row * BLOCK + 4:(row + 1) * BLOCK - 4,
                      col * BLOCK + 4:(col + 1) * BLOCK - 4]
        bits.append(int(inner.mean() > 127))
    value, check = bits[:N_BITS], bits[N_BITS:]
    if any(a == b for a, b in zip(value, check, strict=True)):
        return -1
    return sum(b << k for k, b in enumerate(value))


def make_index_video(path: Path, n: int = N_FRAMES, codec: str = "libx264",
                     fps: float = FPS, **kwargs) -> Path:
    """Write an index-carrying video and return its path."""
    written = write_video(path, (index_frame(i) for i in range(n)), fps=fps, codec=codec,
                          **kwargs)
    assert written == n
    return path


# name -> (file name, codec, extra arguments, lossless?)
CONFIGS = {
    "mp4-h264": ("v.mp4", "libx264", {"output_params": ["-g", "24"]}, False),
    "avi-mjpeg": ("v.avi", "mjpeg", {}, False),
    "avi-ffv1": ("v.avi", "ffv1", {"output_params": ["-g", "24"]}, True),
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def video(request, tmp_path_factory):
    """(config name, path, all frames decoded sequentially, lossless?)."""
    name = request.param
    filename, codec, kwargs, lossless = CONFIGS[name]
    path = make_index_video(tmp_path_factory.mktemp(name) / filename, codec=codec, **kwargs)
    with VideoReader(path) as reader:
        frames = [frame for _, frame in reader.iter_frames()]
    return name, path, frames, lossless


@pytest.fixture(scope="module")
def h264(tmp_path_factory) -> Path:
    return make_index_video(tmp_path_factory.mktemp("h264") / "v.mp4",
                            output_params=["-g", "24"])


def _ffmpeg_children() -> list[int]:
    """Pids of live ffmpeg processes whose parent is this Python process."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == os.getpid() and "ffmpeg" in comm and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def _wait_clean(baseline_threads: int, timeout: float = 3.0) -> tuple[int, list[int]]:
    end = time.monotonic() + timeout
    while True:
        threads, children = threading.active_count(), _ffmpeg_children()
        if (threads <= baseline_threads and not children) or time.monotonic() > end:
            return threads, children
        time.sleep(0.02)


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="inspects /proc for ffmpeg processes")


# --------------------------------------------------------------------------- #
# Decoding, per codec and container
# --------------------------------------------------------------------------- #


def test_metadata_and_true_count(video):
    _name, path, frames, _ = video
    with VideoReader(path) as reader:
        assert reader.path == Path(path)
        assert reader.fps == pytest.approx(FPS)
        assert (reader.width, reader.height) == (WIDTH, HEIGHT)
        assert (reader.full_width, reader.full_height) == (WIDTH, HEIGHT)
        assert reader.metadata_n_frames == N_FRAMES
        assert reader.duration == pytest.approx(N_FRAMES / FPS, abs=0.05)
        assert reader.n_frames == N_FRAMES
    assert frame_count(path) == N_FRAMES
    assert len(frames) == N_FRAMES


def test_sequential_decode_is_in_order(video):
    _name, _path, frames, lossless = video
    assert [decode_index(f) for f in frames] == list(range(N_FRAMES))
    for i in (0, 1, 77, N_FRAMES - 1):
        expected = index_frame(i)
        if lossless:
            np.testing.assert_array_equal(frames[i], expected)
        else:
            assert np.abs(frames[i].astype(int) - expected).mean() < 25


def test_read_matches_sequential_decode(video):
    name, path, frames, _ = video
    rng = np.random.default_rng(7)
    order = [0, N_FRAMES - 1, N_FRAMES - 2, N_FRAMES - 3, 1, 100, 101, 102, 57, 3, 150,
             149, 120, 24, 25, 23, 199, 0, 48, 49, 50, 51]
    order += [int(i) for i in rng.integers(0, N_FRAMES, 12)]
    with VideoReader(path) as reader:
        for i in order:
            frame = reader.read(i)
            assert frame.shape == (HEIGHT, WIDTH, 3) and frame.dtype == np.uint8
            assert decode_index(frame) == i, f"{name}: read({i})"
            np.testing.assert_array_equal(frame, frames[i], err_msg=f"{name}: read({i})")
        np.testing.assert_array_equal(reader.read(-1), frames[-1])
        np.testing.assert_array_equal(reader.read(-N_FRAMES), frames[0])


def test_read_out_of_range(video):
    _name, path, _, _ = video
    with VideoReader(path) as reader:
        for bad in (N_FRAMES, N_FRAMES + 7, 10 ** 6, -N_FRAMES - 1):
            with pytest.raises(IndexError) as info:
                reader.read(bad)
            assert str(path) in str(info.value) and str(N_FRAMES) in str(info.value)
        assert decode_index(reader.read(N_FRAMES - 1)) == N_FRAMES - 1  # still usable


@pytest.mark.parametrize("start, stop, step", [
    (0, None, 1), (0, 50, 7), (60, None, 13), (150, 180, 1), (120, 500, 3),
    (N_FRAMES - 1, None, 1), (250, None, 1), (5, 5, 1), (49, 60, 2),
])
def test_iter_frames_ranges(video, start, stop, step):
    name, path, frames, _ = video
    with VideoReader(path) as reader:
        got = list(reader.iter_frames(start, stop, step, prefetch=4))
    expected = list(range(start, min(N_FRAMES, N_FRAMES if stop is None else stop), step))
    assert [i for i, _ in got] == expected
    for i, frame in got:
        np.testing.assert_array_equal(frame, frames[i], err_msg=f"{name}: frame {i}")


def test_seeks_that_land_late_are_detected(h264, monkeypatch):
    """Some demuxers seek past the requested time; the guard frame catches it."""
    import posekit.io.video as video_module

    monkeypatch.setattr(video_module, "_fmt_seconds", lambda t: f"{t + 1.0:.6f}")
    with VideoReader(h264) as reader:
        for i in (150, 60, 199, 101, 75):
            assert decode_index(reader.read(i)) == i, f"read({i})"
        assert [decode_index(f) for _, f in reader.iter_frames(90, 130, 10)] == [
            90, 100, 110, 120]


# --------------------------------------------------------------------------- #
# Cursor reuse, background thread lifecycle
# --------------------------------------------------------------------------- #


def test_consecutive_reads_reuse_the_stream(h264):
    with VideoReader(h264) as reader:
        assert decode_index(reader.read(120)) == 120
        seeks = reader._seek_count
        for i in (121, 122, 123, 130, 131):
            assert decode_index(reader.read(i)) == i
        assert reader._seek_count == seeks
        assert decode_index(reader.read(131)) == 131  # same frame again
        assert decode_index(reader.read(60)) == 60  # backwards: a new seek
        assert reader._seek_count == seeks + 1


@linux_only
def test_early_break_stops_thread_and_ffmpeg(h264):
    baseline = threading.active_count()
    reader = VideoReader(h264)
    seen = []
    for i, frame in reader.iter_frames(prefetch=2):
        seen.append(decode_index(frame))
        if i == 10:
            break
    assert seen == list(range(11))
    threads, children = _wait_clean(baseline)
    assert threads <= baseline and children == []

    gen = reader.iter_frames(start=100)
    assert next(gen)[0] == 100
    assert _ffmpeg_children() or threading.active_count() > baseline
    gen.close()
    threads, children = _wait_clean(baseline)
    assert threads <= baseline and children == []

    with pytest.raises(ZeroDivisionError):
        for _ in reader.iter_frames(start=70):
            raise ZeroDivisionError
    threads, children = _wait_clean(baseline)
    assert threads <= baseline and children == []

    reader.read(150)  # the cursor holds one ffmpeg process ...
    assert len(_ffmpeg_children()) == 1
    gen = reader.iter_frames(start=20)
    assert next(gen)[0] == 20
    reader.close()  # ... close() ends it and the running iterator
    threads, children = _wait_clean(baseline)
    assert threads <= baseline and children == []
    with pytest.raises(VideoError, match="closed"):
        for _ in gen:
            pass
    with pytest.raises(VideoError, match="closed"):
        reader.read(3)


def test_decode_errors_reach_the_consumer(h264, tmp_path):
    path = tmp_path / "gone.mp4"
    path.write_bytes(h264.read_bytes())
    reader = VideoReader(path)
    path.unlink()  # ffmpeg cannot open it any more
    with pytest.raises(VideoError) as info:
        list(reader.iter_frames())
    assert "gone.mp4" in str(info.value)
    reader.close()


def test_reader_is_consistent_across_interleaved_use(h264):
    with VideoReader(h264) as reader:
        gen = reader.iter_frames(start=10, step=5)
        for expected in (10, 15, 20):
            i, frame = next(gen)
            assert i == expected and decode_index(frame) == i
            assert decode_index(reader.read(190 - i)) == 190 - i
        gen.close()


# --------------------------------------------------------------------------- #
# Cropping
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("config", ["mp4-h264", "avi-mjpeg"])
def test_crop_is_a_slice_of_the_full_frame(config, tmp_path):
    filename, codec, kwargs, _ = CONFIGS[config]
    path = make_index_video(tmp_path / filename, n=80, codec=codec, **kwargs)
    x1, x2, y1, y2 = 17, 97, 33, 111  # odd offsets on purpose
    with VideoReader(path) as full, VideoReader(path, crop=(x1, x2, y1, y2)) as cropped:
        assert (cropped.width, cropped.height) == (x2 - x1, y2 - y1)
        assert (cropped.full_width, cropped.full_height) == (WIDTH, HEIGHT)
        for i in (0, 1, 79, 60, 61, 5):
            frame = cropped.read(i)
            assert frame.shape == (y2 - y1, x2 - x1, 3)
            np.testing.assert_array_equal(frame, full.read(i)[y1:y2, x1:x2])
        for i, frame in cropped.iter_frames(50, 80, 9):
            np.testing.assert_array_equal(frame, full.read(i)[y1:y2, x1:x2])


@pytest.mark.parametrize("box", [(0, 200, 0, 50), (10, 10, 0, 50), (0, 50, -1, 20),
                                 (0, 50, 20, 129)])
def test_crop_outside_the_frame_is_refused(h264, box):
    with pytest.raises(VideoError) as info:
        VideoReader(h264, crop=box)
    message = str(info.value)
    assert str(box) in message and f"{WIDTH}x{HEIGHT}" in message and "v.mp4" in message


# --------------------------------------------------------------------------- #
# Bad files
# --------------------------------------------------------------------------- #


def test_missing_file(tmp_path):
    path = tmp_path / "nope" / "missing.mp4"
    with pytest.raises(FileNotFoundError) as info:
        VideoReader(path)
    assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError):
        frame_count(path)


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoError) as info:
        VideoReader(path)
    message = str(info.value)
    assert "Cannot open video" in message and str(path) in message and "ffmpeg" in message


@pytest.mark.parametrize("config", ["avi-mjpeg", "mp4-h264"])
def test_truncated_video_yields_what_it_has(config, tmp_path):
    filename, codec, kwargs, _ = CONFIGS[config]
    path = make_index_video(tmp_path / filename, codec=codec, **kwargs)  # mp4: faststart
    data = path.read_bytes()
    cut = tmp_path / ("cut" + path.suffix)
    cut.write_bytes(data[: int(len(data) * 0.6)])

    with VideoReader(cut) as reader:
        if config == "mp4-h264":  # the moov header (first) still lists all frames
            assert reader.metadata_n_frames == N_FRAMES
        n = reader.n_frames
        assert 0 < n < N_FRAMES
        got = list(reader.iter_frames())  # no exception
        assert [i for i, _ in got] == list(range(n))
        # the last frame may be partly grey (its data is cut): check the others
        assert [decode_index(f) for _, f in got[:-1]] == list(range(n - 1))
        assert decode_index(reader.read(n - 2)) == n - 2
        reader.read(n - 1)
        with pytest.raises(IndexError):
            reader.read(n)
        assert [i for i, _ in reader.iter_frames(n - 3, None, 1)] == [n - 3, n - 2, n - 1]
    assert frame_count(cut) == n


def test_timestamp_gaps_do_not_shift_indices(tmp_path):
    """Dropped camera frames leave gaps in the timestamps (a lying duration, too).

    Frame i is still the i-th decoded frame; a reader that turns i into the time
    i / fps would land on the wrong frame after each gap.
    """
    path = make_index_video(
        tmp_path / "gaps.mkv", output_params=[
            "-vf", "setpts=(N+15*gte(N\\,80)+9*gte(N\\,150))/(30*TB)",
            "-fps_mode", "passthrough", "-g", "24"])
    with VideoReader(path) as reader:
        assert reader.n_frames == N_FRAMES
        assert reader.metadata_n_frames >= N_FRAMES + 20  # header time says more
        for i in (199, 85, 79, 80, 81, 150, 151, 160, 100, 0, 149, 198):
            assert decode_index(reader.read(i)) == i, f"read({i})"
        assert [decode_index(f) for _, f in reader.iter_frames(90, 200, 20)] == [
            90, 110, 130, 150, 170, 190]


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #


def test_write_video_refuses_bad_frames(tmp_path):
    with pytest.raises(ValueError, match="even width and height"):
        write_video(tmp_path / "odd.mp4", [np.zeros((11, 16, 3), np.uint8)], fps=10)
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "f.mp4", [np.zeros((16, 16, 3), np.float32)], fps=10)
    with pytest.raises(ValueError, match="No frames"):
        write_video(tmp_path / "empty.mp4", [], fps=10)
    frames = [np.zeros((16, 16, 3), np.uint8), np.zeros((16, 18, 3), np.uint8)]
    with pytest.raises(ValueError, match="Frame 1"):
        write_video(tmp_path / "sizes.avi", frames, fps=10, codec="ffv1")


def test_write_video_lossless_odd_size_roundtrip(tmp_path):
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (23, 37, 3), dtype=np.uint8) for _ in range(5)]
    path = tmp_path / "odd.avi"
    assert write_video(path, frames, fps=12.5, codec="ffv1") == 5
    with VideoReader(path) as reader:
        assert reader.fps == pytest.approx(12.5)
        assert reader.n_frames == 5
        for i, frame in reader.iter_frames():
            np.testing.assert_array_equal(frame, frames[i])


@pytest.mark.parametrize(("codec", "quality", "pix_fmt", "fps"), [
    ("libx264", 7, "yuv420p", 30), ("mjpeg", 3, "yuvj420p", 29.97), ("ffv1", None, "bgr0", 12.5)])
def test_write_video_builds_imageio_ffmpegs_command(tmp_path, codec, quality, pix_fmt, fps):
    """Same arguments as ``imageio_ffmpeg.write_frames`` (which posekit no longer calls)."""
    import imageio_ffmpeg._io as imageio_io

    from posekit.io.video_writer import _command

    captured = {}

    class Recorder:
        def __init__(self, cmd, **kwargs):
            captured["cmd"] = cmd
            raise OSError("recorded")

    path = tmp_path / "out.mp4"
    params = ["-movflags", "+faststart"]
    writer = imageio_ffmpeg.write_frames(str(path), (32, 16), pix_fmt_in="rgb24", pix_fmt_out=pix_fmt,
                                         fps=fps, quality=quality, codec=codec, macro_block_size=1,
                                         ffmpeg_log_level="error", output_params=list(params))
    original = imageio_io.subprocess.Popen
    imageio_io.subprocess.Popen = Recorder
    try:
        with pytest.raises(OSError, match="recorded"):
            writer.send(None)
    finally:
        imageio_io.subprocess.Popen = original
    assert _command(path, 32, 16, fps, codec, quality, pix_fmt, params) == captured["cmd"]


def test_write_video_failure_quotes_ffmpeg(tmp_path):
    with pytest.raises(VideoError, match=r"no_such_codec.*[Ee]ncoder not found"):
        write_video(tmp_path / "x.mkv", [np.zeros((16, 16, 3), np.uint8)] * 3, fps=10,
                    codec="no_such_codec")


def test_write_video_passes_on_a_failing_frame_source(tmp_path):
    """An error from the frames (not from ffmpeg) comes out as itself, and ffmpeg is stopped."""
    def frames():
        yield np.zeros((16, 16, 3), np.uint8)
        raise OSError("camera unplugged")

    with pytest.raises(OSError, match="camera unplugged") as info:
        write_video(tmp_path / "x.avi", frames(), fps=10, codec="ffv1")
    assert not isinstance(info.value, VideoError)
