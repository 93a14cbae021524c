"""Dynamic cropping: box rules on plain arrays, and the loop against full-frame predictions."""

from __future__ import annotations

from pathlib import Path

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest

from posekit.datasets.synthetic import BODYPARTS, MARKER_COLORS, _background, render_frame, synthetic_keypoints
from posekit.predict.dynamic_crop import (
    BUCKETS,
    DynamicCropping,
    Window,
    crop_window,
    detection_box,
    parse_dynamic,
    predict_frames_dynamic,
    tracked,
)
from posekit.predict.frame_loop import predict_frames
from posekit.predict.predictor import Predictor

# --------------------------------------------------------------------------- #
# Box logic on plain arrays
# --------------------------------------------------------------------------- #


def _pose(xy, likelihood) -> np.ndarray:
    xy = np.asarray(xy, np.float32)
    return np.concatenate([xy, np.broadcast_to(np.float32(likelihood), (len(xy), 1))], axis=1)


def test_tracked_needs_half_of_the_parts_strictly_above_pcutoff():
    poses = np.zeros((3, 4, 3), np.float32)
    poses[0, :, 2] = [0.9, 0.9, 0.1, 0.1]  # half: tracked
    poses[1, :, 2] = [0.9, 0.1, 0.1, 0.1]  # one part (DeepLabCut's "any"): not tracked here
    poses[2, :, 2] = [0.5, 0.5, 0.5, 0.5]  # at pcutoff, not above
    assert tracked(poses, 0.5).tolist() == [True, False, False]


def test_detection_box_covers_confident_parts_plus_margin_and_clips_at_the_frame():
    pose = _pose([[100.2, 50.7], [140.9, 80.1], [600, 400]], 0.9)
    pose[2, 2] = 0.1  # a wild low-likelihood guess does not stretch the box
    assert detection_box(pose, 0.5, 10, (480, 640)) == (90, 40, 151, 91)
    edge = _pose([[3.0, 470.0], [630.0, 478.0]], 0.9)
    assert detection_box(edge, 0.5, 20, (480, 640)) == (0, 450, 640, 480)
    assert detection_box(_pose([[10, 10], [20, 20]], 0.2), 0.5, 10, (480, 640)) is None


def test_window_sizes_come_from_the_buckets_and_corners_sit_on_the_grid():
    window = crop_window((300, 200, 361, 251), (1024, 1280), align=16)
    assert window == Window(x=288, y=192, width=96, height=96)
    assert window.x <= 300 and window.x + window.width >= 361  # holds the box
    assert window.y <= 200 and window.y + window.height >= 251
    # many boxes: every window holds its box, has bucket sizes, an aligned corner
    rng = np.random.default_rng(0)
    for _ in range(300):
        x1, y1 = rng.integers(0, 1200), rng.integers(0, 1000)
        x2, y2 = min(1280, x1 + rng.integers(1, 600)), min(1024, y1 + rng.integers(1, 600))
        w = crop_window((x1, y1, x2, y2), (1024, 1280), align=16)
        if w is None:
            continue
        assert w.width in (*BUCKETS, 1280) and w.height in (*BUCKETS, 1024)
        assert w.width == w.height or 1024 in (w.width, w.height)
        assert w.x % 16 == 0 and w.y % 16 == 0  # 1280 and 1024 are multiples of 16
        assert w.x <= x1 and x2 <= w.x + w.width <= 1280
        assert w.y <= y1 and y2 <= w.y + w.height <= 1024


def test_window_at_the_frame_edge_stays_inside_and_big_boxes_mean_full_frame():
    # 1000 is not a multiple of 16: at the right edge the window leaves the grid to stay inside
    window = crop_window((950, 10, 1000, 40), (600, 1000), align=16)
    assert window.x + window.width == 1000 and window.x <= 950
    assert window.y == 0
    # windows are square; an axis shorter than the window is whole
    flat = crop_window((100, 50, 300, 100), (240, 1280), align=16)
    assert (flat.y, flat.height) == (0, 240) and flat.width == 256 and flat.x == 96
    assert crop_window((0, 100, 630, 150), (480, 640), align=16) is None  # 646 > 640: the whole frame


def test_window_keeps_the_next_bucket_up_so_shapes_do_not_alternate():
    small = crop_window((100, 100, 150, 150), (1024, 1280), align=16)  # 50 + 16 -> 96
    assert small.width == 96
    big = Window(96, 96, 128, 128)
    kept = crop_window((100, 100, 150, 150), (1024, 1280), align=16, previous=big)
    assert (kept.width, kept.height) == (128, 128)
    far = Window(96, 96, 192, 192)  # two buckets up: shrink
    assert crop_window((100, 100, 150, 150), (1024, 1280), align=16, previous=far).width == 96


@pytest.mark.parametrize("dynamic", [None, False, (False, 0.5, 10), [False, 2, -1]])
def test_parse_dynamic_off(dynamic):
    assert parse_dynamic(dynamic) is None


def test_parse_dynamic_on():
    assert parse_dynamic((True, 0.6, 25)) == DynamicCropping(0.6, 25)
    assert parse_dynamic([True, 0, 10.0]) == DynamicCropping(0.0, 10)


@pytest.mark.parametrize(("dynamic", "names"), [
    (True, "got True"),
    ("True, 0.5, 10", "got 'True, 0.5, 10'"),
    ((True, 0.5), "2 items"),
    (("yes", 0.5, 10), "state 'yes'"),
    ((True, 1.5, 10), "pcutoff 1.5"),
    ((True, "0.5", 10), "pcutoff '0.5'"),
    ((True, 0.5, -3), "margin -3"),
    ((True, 0.5, 2.5), "margin 2.5"),
])
def test_parse_dynamic_rejects_bad_values_naming_the_element(dynamic, names):
    with pytest.raises(ValueError, match=r"dynamic must be DeepLabCut's triple") as info:
        parse_dynamic(dynamic)
    assert names in str(info.value)


# --------------------------------------------------------------------------- #
# The loop, with a tiny network whose receptive field is local
# --------------------------------------------------------------------------- #


class MarkerNet(nn.Module):
    """A hand-weighted one-layer detector of the synthetic animal's marker colours (map stride 4).

    Its output at a map cell depends only on that cell's 4x4 pixels, so on a
    window aligned to the grid it computes exactly what it computes on the
    full frame, and it is confident exactly where the markers are: the
    cropping logic is checked without a trained ResNet.
    """

    stride: float = 4.0

    @nn.compact
    def __call__(self, images, use_running_average: bool = True):
        colors = jnp.asarray(MARKER_COLORS, jnp.float32)
        x = images.astype(jnp.float32)
        distance = jnp.sum((x[..., None, :] - colors) ** 2, axis=-1)  # (B, H, W, J)
        match = jnp.exp(-distance / (2 * 30.0**2))
        pooled = nn.avg_pool(match, (4, 4), strides=(4, 4))
        return {"part_pred": 20.0 * (pooled - 0.25)}


def _marker_predictor(batch_size: int) -> Predictor:
    return Predictor(model=MarkerNet(), variables={}, bodyparts=list(BODYPARTS), iteration=0, scorer="test",
                     snapshot=Path("none"), pose_cfg={"locref_stdev": 7.2801}, batch_size=batch_size,
                     backend="jax")


def _small_animal_frames(n: int, hidden: range) -> np.ndarray:
    """A small animal (as in 320x240) moving in a 640x480 frame; absent in frames ``hidden``."""
    background = _background(640, 480, np.random.default_rng(3))
    keypoints = synthetic_keypoints(n, 640, 480, animal_scale=1.0)
    return np.stack([background.copy() if i in hidden else render_frame(background, keypoints[i], 1.0)
                     for i in range(n)])


@pytest.mark.parametrize("batch_size", [1, 3])
def test_dynamic_predictions_match_full_frame_and_fall_back_when_lost(batch_size):
    frames = _small_animal_frames(24, hidden=range(10, 13))
    predictor = _marker_predictor(batch_size)
    stream = list(enumerate(frames))
    full, failure = predict_frames(predictor, iter(stream), frames.shape[1:], capacity=len(frames))
    assert failure is None
    stats: dict = {}
    poses, failure = predict_frames_dynamic(predictor, iter(stream), frames.shape[1:],
                                            DynamicCropping(pcutoff=0.5, margin=40), stats=stats)
    assert failure is None and poses.shape == full.shape == (24, len(BODYPARTS), 3)
    visible = np.array([i not in range(10, 13) for i in range(24)])
    assert tracked(full, 0.5).tolist() == visible.tolist()  # the detector works on full frames
    # cropped predictions, mapped back to the frame, are the full-frame ones (same grid, local network)
    np.testing.assert_allclose(poses, full, atol=1e-5)
    # most visible frames were cropped; the first (nothing known yet) and the hidden ones were not
    assert stats["frames_cropped"] >= visible.sum() - 2 * batch_size
    assert stats["frames_cropped"] <= visible.sum() - 1
    # the frame where the animal vanished was analysed again on the whole frame
    assert stats["frames_refetched"] >= 1
    assert 1 <= len(stats["window_shapes"]) <= 4
    assert all(h in BUCKETS and w in BUCKETS for h, w in stats["window_shapes"])


def test_misaligned_windows_would_change_predictions():
    """The grid alignment matters: the same frames cropped off the grid give other poses.

    (Guards the exact comparison above against passing for a trivial reason.)
    """
    frames = _small_animal_frames(2, hidden=range(0))
    predictor = _marker_predictor(2)
    full = predictor.predict(frames)
    box = detection_box(full[0], 0.5, 40, (480, 640))
    window = crop_window(box, (480, 640), align=8)
    shifted = Window(window.x + 2, window.y + 2, window.width, window.height)
    moved = np.array(predictor.predict(np.ascontiguousarray(shifted.crop(frames))))
    moved[..., 0] += shifted.x
    moved[..., 1] += shifted.y
    assert np.abs(moved[..., :2] - full[..., :2]).max() >= 1.0


# --------------------------------------------------------------------------- #
# analyze_videos(dynamic=...)
# --------------------------------------------------------------------------- #


def test_analyze_videos_dynamic_without_confident_frames_is_the_full_frame_analysis(project, video, tmp_path):
    """Nothing above pcutoff: every frame stays on the full frame, values identical; the metadata says so."""
    import pandas as pd

    from posekit.predict.analyze import analyze_videos
    from posekit.predict.results import read_metadata

    full = analyze_videos(project, [video], destfolder=tmp_path / "full")
    dynamic = analyze_videos(project, [video], destfolder=tmp_path / "dynamic", dynamic=(True, 0.99, 10))
    record = dynamic.videos[0]
    assert record.nframes == 120 and record.frames_cropped == 0
    pd.testing.assert_frame_equal(pd.read_hdf(record.paths.h5), pd.read_hdf(full.videos[0].paths.h5))
    meta = read_metadata(record.paths.meta)
    assert meta["dynamic"] == [True, 0.99, 10] and meta["frames_cropped"] == 0
    assert read_metadata(full.videos[0].paths.meta)["dynamic"] == [False]


def test_analyze_videos_rejects_bad_dynamic_before_loading_anything(project, video, tmp_path):
    from posekit.predict.analyze import analyze_videos

    with pytest.raises(ValueError, match=r"its margin -1 is not a whole number of pixels"):
        analyze_videos(project, [video], destfolder=tmp_path / "out", dynamic=(True, 0.5, -1))
    assert not (tmp_path / "out").exists()


def test_workflow_verb_refuses_dynamic_cropping_on_a_dask_cluster(synthetic_copy):
    import posekit

    with pytest.raises(ValueError, match=r"dynamic=\(True, 0.5, 10\) is not supported.*drop client="):
        posekit.analyze_videos(synthetic_copy, [], dynamic=(True, 0.5, 10), client=object())
