"""Drawing markers and skeletons on RGB frames in numpy (no matplotlib per frame).

All functions draw in place on a ``uint8`` (H, W, 3) image, blend with an
``alpha`` in [0, 1], clip at the image border, and take coordinates in image
pixels (x = column, y = row, pixel centres at integers). NaN points are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MARKERS = ("+", ".", "x", "o")


def _blend(image: np.ndarray, ys: slice, xs: slice, mask: np.ndarray, color, alpha: float) -> None:
    if not mask.any():
        return
    patch = image[ys, xs]
    col = np.asarray(color, dtype=np.float32)
    sel = patch[mask].astype(np.float32)
    patch[mask] = np.clip(sel * (1.0 - alpha) + col * alpha + 0.5, 0, 255).astype(np.uint8)


def _window(image: np.ndarray, x: float, y: float, r: float):
    """Clipped bounding window around (x, y) with radius r, and pixel offsets.

    The offsets are a (1, w) row and an (h, 1) column that broadcast to the window:
    cheaper than full index grids, and this runs for every marker of every frame.
    """
    h, w = image.shape[:2]
    x0, x1 = max(int(np.floor(x - r)), 0), min(int(np.ceil(x + r)) + 1, w)
    y0, y1 = max(int(np.floor(y - r)), 0), min(int(np.ceil(y + r)) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    dx = np.arange(x0, x1, dtype=np.float64)[None, :] - x
    dy = np.arange(y0, y1, dtype=np.float64)[:, None] - y
    return slice(y0, y1), slice(x0, x1), dx, dy


def draw_marker(
    image: np.ndarray,
    x: float,
    y: float,
    color: Sequence[int],
    size: float = 6,
    marker: str = ".",
    alpha: float = 1.0,
    thickness: float = 1.0,
) -> None:
    """Draw one marker centred at (x, y).

    Parameters
    ----------
    image
        RGB uint8 image, modified in place.
    x, y
        Centre in image pixels; NaN draws nothing.
    color
        RGB triple (0-255).
    size
        Radius in pixels (half the marker's width).
    marker
        ``"."`` filled disk, ``"o"`` ring, ``"+"`` cross, ``"x"`` diagonal cross.
    alpha
        Opacity in [0, 1].
    thickness
        Line width of ``"o"``, ``"+"`` and ``"x"`` in pixels.
    """
    if marker not in MARKERS:
        raise ValueError(f"Unknown marker {marker!r}; use one of {MARKERS}.")
    if not (np.isfinite(x) and np.isfinite(y)):
        return
    win = _window(image, x, y, size + thickness)
    if win is None:
        return
    ys, xs, dx, dy = win
    half = thickness / 2.0
    if marker == ".":
        mask = dx * dx + dy * dy <= size * size
    elif marker == "o":
        dist = np.sqrt(dx * dx + dy * dy)
        mask = np.abs(dist - size) <= max(half, 0.5)
    elif marker == "+":
        inside = (np.abs(dx) <= size) & (np.abs(dy) <= size)
        mask = inside & ((np.abs(dx) <= half) | (np.abs(dy) <= half))
    else:  # "x"
        inside = (np.abs(dx) <= size) & (np.abs(dy) <= size)
        mask = inside & (
            (np.abs(dx - dy) <= half * np.sqrt(2)) | (np.abs(dx + dy) <= half * np.sqrt(2))
        )
    mask = np.broadcast_to(mask, (dy.shape[0], dx.shape[1]))
    _blend(image, ys, xs, mask, color, alpha)


def draw_line(
    image: np.ndarray,
    p0: Sequence[float],
    p1: Sequence[float],
    color: Sequence[int],
    thickness: float = 1.0,
    alpha: float = 1.0,
) -> None:
    """Draw a segment from ``p0`` to ``p1`` ((x, y) pairs); NaN ends draw nothing."""
    (xa, ya), (xb, yb) = p0, p1
    if not np.all(np.isfinite([xa, ya, xb, yb])):
        return
    half = max(thickness / 2.0, 0.5)
    h, w = image.shape[:2]
    x0 = max(int(np.floor(min(xa, xb) - half)), 0)
    x1 = min(int(np.ceil(max(xa, xb) + half)) + 1, w)
    y0 = max(int(np.floor(min(ya, yb) - half)), 0)
    y1 = min(int(np.ceil(max(ya, yb) + half)) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    gx = np.arange(x0, x1, dtype=np.float64)[None, :] - xa
    gy = np.arange(y0, y1, dtype=np.float64)[:, None] - ya
    vx, vy = xb - xa, yb - ya
    length2 = vx * vx + vy * vy
    t = np.zeros((1, 1)) if length2 == 0 else np.clip((gx * vx + gy * vy) / length2, 0.0, 1.0)
    dist2 = (gx - t * vx) ** 2 + (gy - t * vy) ** 2
    _blend(image, slice(y0, y1), slice(x0, x1), dist2 <= half * half, color, alpha)


def draw_pose(
    image: np.ndarray,
    points: np.ndarray,
    colors: np.ndarray,
    size: float,
    marker: str = ".",
    alpha: float = 1.0,
    skeleton: Sequence[tuple[int, int]] = (),
    skeleton_color: Sequence[int] = (0, 0, 0),
    thickness: float = 1.0,
) -> np.ndarray:
    """Draw one pose: skeleton segments first, then one marker per body part.

    Parameters
    ----------
    image
        RGB uint8 image, modified in place and returned.
    points
        (J, 2) array of x, y; rows with NaN are skipped.
    colors
        (J, 3) RGB colors, one per body part.
    size, marker, alpha, thickness
        As in :func:`draw_marker`.
    skeleton
        Pairs of body-part indices to join.
    skeleton_color
        RGB color of the segments.
    """
    for a, b in skeleton:
        draw_line(image, points[a], points[b], skeleton_color, thickness, alpha)
    for (x, y), color in zip(points, colors, strict=False):
        draw_marker(image, x, y, color, size, marker, alpha, thickness)
    return image
