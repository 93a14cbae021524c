"""Zoom and pan of an image shown on a fixed-size canvas: the coordinate mapping.

Image coordinates follow DeepLabCut (and :mod:`posekit.viz.draw`): ``x`` is the
column, ``y`` the row, and pixel centres sit at integers, so pixel ``(i, j)``
covers ``[i - 0.5, i + 0.5) x [j - 0.5, j + 0.5)`` and the whole image spans
``[-0.5, width - 0.5] x [-0.5, height - 0.5]``. Canvas coordinates are the
canvas-internal pixels that ipycanvas mouse events report (pixel ``k`` covers
``[k, k + 1)``).
"""

from __future__ import annotations

import math

__all__ = ["MAX_ZOOM", "MIN_ZOOM", "ViewTransform"]

#: Largest zoom, relative to the fit-to-canvas scale.
MAX_ZOOM = 64.0
#: Smallest zoom, relative to the fit-to-canvas scale.
MIN_ZOOM = 0.25


class ViewTransform:
    """Where an image sits on a canvas: a uniform scale plus an offset.

    ``canvas = offset + (image + 0.5) * scale`` on each axis, so ``offset`` is
    the canvas position of the image's top-left pixel *edge*.

    Parameters
    ----------
    canvas_size
        ``(width, height)`` of the canvas in canvas pixels.
    image_size
        ``(width, height)`` of the image in pixels; the view starts fitted.

    Attributes
    ----------
    scale : float
        Canvas pixels per image pixel.
    offset_x, offset_y : float
        Canvas position of the image's top-left corner.
    """

    def __init__(self, canvas_size: tuple[int, int], image_size: tuple[int, int] = (1, 1)) -> None:
        self.canvas_width, self.canvas_height = _positive_size(canvas_size, "canvas_size")
        self.image_width, self.image_height = _positive_size(image_size, "image_size")
        self.scale = 1.0
        self.offset_x = 0.0
        self.offset_y = 0.0
        self.fit()

    # -- state ------------------------------------------------------------- #
    @property
    def fit_scale(self) -> float:
        """The scale at which the whole image just fits the canvas."""
        return min(self.canvas_width / self.image_width, self.canvas_height / self.image_height)

    @property
    def zoom(self) -> float:
        """Scale relative to :attr:`fit_scale` (1 = fitted)."""
        return self.scale / self.fit_scale

    def set_image_size(self, image_size: tuple[int, int]) -> bool:
        """Show an image of ``image_size``; refit only when the size changed.

        Keeping the view for same-sized frames lets a user label one region of
        many frames without re-zooming each time.

        Returns
        -------
        bool
            True if the view was refitted.
        """
        size = _positive_size(image_size, "image_size")
        if size == (self.image_width, self.image_height):
            return False
        self.image_width, self.image_height = size
        self.fit()
        return True

    def fit(self) -> None:
        """Scale the image to fit the canvas and centre it (letterboxed)."""
        self.scale = self.fit_scale
        self.offset_x = (self.canvas_width - self.image_width * self.scale) / 2
        self.offset_y = (self.canvas_height - self.image_height * self.scale) / 2

    def set_view(self, zoom: float, center: tuple[float, float] | None = None) -> None:
        """Show the image at ``zoom`` (relative to fit) with image point ``center`` mid-canvas.

        Parameters
        ----------
        zoom
            Scale relative to :attr:`fit_scale`, clipped to [MIN_ZOOM, MAX_ZOOM].
        center
            Image coordinates to put at the canvas centre (default: image centre).
        """
        if center is None:
            center = ((self.image_width - 1) / 2, (self.image_height - 1) / 2)
        self.scale = self.fit_scale * _clip(float(zoom), MIN_ZOOM, MAX_ZOOM)
        cx, cy = center
        self.offset_x = self.canvas_width / 2 - (cx + 0.5) * self.scale
        self.offset_y = self.canvas_height / 2 - (cy + 0.5) * self.scale
        self._keep_visible()

    def zoom_at(self, factor: float, u: float | None = None, v: float | None = None) -> None:
        """Multiply the zoom by ``factor``, keeping the image point under canvas ``(u, v)`` fixed.

        ``(u, v)`` defaults to the canvas centre. The zoom is clipped to
        [MIN_ZOOM, MAX_ZOOM] times the fit scale.
        """
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"zoom factor must be a positive number, got {factor!r}.")
        u = self.canvas_width / 2 if u is None else float(u)
        v = self.canvas_height / 2 if v is None else float(v)
        new_scale = self.fit_scale * _clip(self.zoom * factor, MIN_ZOOM, MAX_ZOOM)
        ratio = new_scale / self.scale
        self.offset_x = u - (u - self.offset_x) * ratio
        self.offset_y = v - (v - self.offset_y) * ratio
        self.scale = new_scale
        self._keep_visible()

    def pan(self, du: float, dv: float) -> None:
        """Move the image by ``(du, dv)`` canvas pixels (it cannot leave the canvas centre)."""
        self.offset_x += float(du)
        self.offset_y += float(dv)
        self._keep_visible()

    def _keep_visible(self) -> None:
        # The image must always cover the canvas centre, so no pan or zoom can
        # lose it off-screen; fit() trivially satisfies this.
        w, h = self.image_width * self.scale, self.image_height * self.scale
        self.offset_x = _clip(self.offset_x, self.canvas_width / 2 - w, self.canvas_width / 2)
        self.offset_y = _clip(self.offset_y, self.canvas_height / 2 - h, self.canvas_height / 2)

    # -- mapping ----------------------------------------------------------- #
    def image_to_canvas(self, x: float, y: float) -> tuple[float, float]:
        """Canvas position of image point ``(x, y)``."""
        return (
            self.offset_x + (x + 0.5) * self.scale,
            self.offset_y + (y + 0.5) * self.scale,
        )

    def canvas_to_image(self, u: float, v: float) -> tuple[float, float]:
        """Image point under canvas position ``(u, v)`` (inverse of :meth:`image_to_canvas`)."""
        return (
            (u - self.offset_x) / self.scale - 0.5,
            (v - self.offset_y) / self.scale - 0.5,
        )

    def image_rect(self) -> tuple[float, float, float, float]:
        """``(left, top, width, height)`` of the whole image on the canvas."""
        return (
            self.offset_x,
            self.offset_y,
            self.image_width * self.scale,
            self.image_height * self.scale,
        )

    def contains(self, x: float, y: float) -> bool:
        """Whether image point ``(x, y)`` lies on the image (edges included)."""
        return -0.5 <= x <= self.image_width - 0.5 and -0.5 <= y <= self.image_height - 0.5

    def __repr__(self) -> str:
        return (
            f"ViewTransform(canvas={self.canvas_width}x{self.canvas_height}, "
            f"image={self.image_width}x{self.image_height}, zoom={self.zoom:.3g}, "
            f"offset=({self.offset_x:.1f}, {self.offset_y:.1f}))"
        )


def _clip(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _positive_size(size: tuple[int, int], name: str) -> tuple[int, int]:
    try:
        width, height = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (width, height), got {size!r}.") from None
    if width < 1 or height < 1:
        raise ValueError(f"{name} must be positive, got {size!r}.")
    return width, height
