"""Numpy drawing: markers land where asked, blend with alpha, clip at borders."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.viz.colors import bodypart_colors
from posekit.viz.draw import draw_line, draw_marker, draw_pose


def test_disk_centre_and_radius():
    img = np.zeros((50, 50, 3), np.uint8)
    draw_marker(img, 20, 30, (255, 0, 0), size=4, marker=".")
    assert tuple(img[30, 20]) == (255, 0, 0)
    assert tuple(img[30, 24]) == (255, 0, 0) and img[30, 25].sum() == 0
    ys, xs = np.nonzero(img[..., 0])
    assert abs(xs.mean() - 20) < 0.1 and abs(ys.mean() - 30) < 0.1


@pytest.mark.parametrize("marker", ["+", "x", "o"])
def test_line_markers_are_centred(marker):
    img = np.zeros((40, 40, 3), np.uint8)
    draw_marker(img, 15, 22, (0, 255, 0), size=5, marker=marker)
    ys, xs = np.nonzero(img[..., 1])
    assert len(xs) > 8
    assert abs(xs.mean() - 15) < 0.5 and abs(ys.mean() - 22) < 0.5
    if marker == "+":
        assert img[22, 15, 1] == 255 and img[22, 20, 1] == 255 and img[17, 15, 1] == 255


def test_alpha_blend_and_nan_and_border():
    img = np.full((20, 20, 3), 100, np.uint8)
    draw_marker(img, 10, 10, (200, 200, 200), size=2, alpha=0.5)
    assert tuple(img[10, 10]) == (150, 150, 150)
    before = img.copy()
    draw_marker(img, np.nan, 5, (0, 0, 0))
    draw_marker(img, 500, 500, (0, 0, 0))
    assert np.array_equal(img, before)
    draw_marker(img, 0, 0, (0, 0, 0), size=3)  # clipped, no error
    assert tuple(img[0, 0]) == (0, 0, 0)
    with pytest.raises(ValueError, match="Unknown marker"):
        draw_marker(img, 1, 1, (0, 0, 0), marker="*")


def test_line_and_pose():
    img = np.zeros((30, 30, 3), np.uint8)
    draw_line(img, (2, 5), (27, 5), (0, 0, 255))
    assert img[5, 2:28, 2].min() == 255 and img[7, :, 2].max() == 0
    img = np.zeros((30, 30, 3), np.uint8)
    pts = np.array([[5.0, 5.0], [25.0, 25.0], [np.nan, np.nan]])
    colors = bodypart_colors("jet", 3)
    draw_pose(img, pts, colors, size=2, skeleton=[(0, 1), (1, 2)], skeleton_color=(255, 255, 255))
    assert tuple(img[5, 5]) == tuple(colors[0]) and tuple(img[25, 25]) == tuple(colors[1])
    assert tuple(img[15, 15]) == (255, 255, 255)


def test_bodypart_colors_span_colormap():
    colors = bodypart_colors("jet", 5)
    assert colors.shape == (5, 3) and colors.dtype == np.uint8
    assert len({tuple(c) for c in colors}) == 5
    assert tuple(colors[0]) == (0, 0, 128)  # jet(0) = dark blue
