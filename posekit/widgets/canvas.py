"""The image-and-points canvas shared by the labeling, crop and refinement widgets.

:class:`ImageCanvas` is an ipycanvas ``MultiCanvas`` with three layers
(0 = image, 1 = points/skeleton/box, 2 = interaction, the layer that receives
mouse and key events) and a :class:`~posekit.labeling.view.ViewTransform` for
zoom and pan. It turns raw canvas events into image coordinates for its
owner, and it sends frames to the browser compressed (JPEG or PNG bytes in an
``ipywidgets.Image``, encoded once per frame; zooming re-sends only a
``drawImage`` command). Every repaint runs inside ``hold_canvas()`` and
touches only the layers that changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial

import ipywidgets as widgets
import numpy as np
from ipycanvas import Canvas, MultiCanvas, hold_canvas

from posekit.io.images import encode_image
from posekit.labeling.view import ViewTransform

__all__ = ["IMAGE", "POINTS", "TOP", "ImageCanvas", "css_color", "paint_pose", "paint_ring"]

IMAGE, POINTS, TOP = 0, 1, 2
LAYERS = (IMAGE, POINTS, TOP)
#: Letterbox colour around the image.
BACKGROUND = "#202020"
#: Zoom factor of one zoom-in/out click or key press.
ZOOM_STEP = 1.5
#: Above this scale (canvas px per image px) pixels are drawn as crisp squares,
#: so a user zoomed in to place a label sees which pixel it lands on.
CRISP_SCALE = 4.0
#: Events :meth:`ImageCanvas.connect` accepts.
EVENTS = ("press", "drag", "release", "hover", "leave", "key")

Painter = Callable[[Canvas, ViewTransform], None]


class ImageCanvas(MultiCanvas):
    """A 3-layer canvas showing one image under zoom and pan.

    Its owner connects callbacks that receive *image* coordinates (pixel
    centres at integers) and paints layers 1 and 2 through painters; the
    canvas itself paints the image layer, zooms (buttons, ``+``/``-``/``f``
    keys, mouse wheel around the cursor) and pans (pan mode or the pan
    methods).

    Parameters
    ----------
    width, height
        Canvas size in canvas pixels. The on-screen CSS size is fixed to the
        same number of px, so a canvas pixel is a screen pixel.
    css_class
        A stable CSS class for browser tests (e.g. ``"posekit-label-canvas"``).
    image_format
        ``"jpeg"`` (small, default) or ``"png"`` (lossless) frame transfer.
    jpeg_quality
        JPEG quality, 1-95.

    Attributes
    ----------
    view : ViewTransform
        The zoom/pan state and the coordinate mapping.
    image_widget : ipywidgets.Image
        Holds the compressed current frame; layer 0 draws it.
    toolbar : ipywidgets.HBox
        Zoom in / zoom out / fit buttons and the pan-mode toggle.
    """

    def __init__(
        self,
        width: int = 800,
        height: int = 600,
        *,
        css_class: str | None = None,
        image_format: str = "jpeg",
        jpeg_quality: int = 90,
    ) -> None:
        super().__init__(3, width=int(width), height=int(height))
        if image_format not in ("jpeg", "png"):
            raise ValueError(f"image_format must be 'jpeg' or 'png', got {image_format!r}.")
        # Fixed CSS size equal to the canvas size: coordinates stay predictable
        # and flex layouts cannot squeeze the canvas.
        self.layout = widgets.Layout(
            width=f"{int(width)}px",
            height=f"{int(height)}px",
            min_width=f"{int(width)}px",
            flex="0 0 auto",
        )
        if css_class:
            self.add_class(css_class)
        self.view = ViewTransform((int(width), int(height)))
        self.image_format = image_format
        self.jpeg_quality = int(jpeg_quality)
        self.image_widget = widgets.Image(format=image_format)
        self.has_image = False
        self.message = ""
        self.last_encode_seconds: float | None = None
        self._painters: dict[int, Painter | None] = {POINTS: None, TOP: None}
        self._callbacks: dict[str, Callable | None] = dict.fromkeys(EVENTS)
        self._pointer = (self.width / 2, self.height / 2)
        self._pressed = False
        self._pan_from: tuple[float, float] | None = None
        self.toolbar = self._make_toolbar()
        self.on_mouse_down(self._mouse_down)
        self.on_mouse_move(self._mouse_move)
        self.on_mouse_up(self._mouse_up)
        self.on_mouse_out(self._mouse_out)
        self.on_mouse_wheel(self._mouse_wheel)
        self.on_touch_start(lambda touches: self._mouse_down(*touches[0]))
        self.on_touch_move(lambda touches: self._mouse_move(*touches[0]))
        self.on_touch_end(lambda touches: self._mouse_up(*self._pointer))
        self.on_key_down(self._key_down)
        # A browser that connects after the drawing was sent (Voila, a page
        # reload) starts blank; each layer's model announces itself with
        # client_ready and is repainted (the top layer's hook repaints all).
        for layer in (IMAGE, POINTS):
            self._canvases[layer].on_client_ready(partial(self._client_ready, (layer,)))
        self.on_client_ready(partial(self._client_ready, LAYERS))

    # -- owner API ------------------------------------------------------------ #
    def connect(self, **callbacks: Callable | None) -> None:
        """Set event callbacks (None removes one).

        ``press(x, y)``, ``drag(x, y)`` (pointer moved while pressed),
        ``release(x, y)``, ``hover(x, y)`` (moved while not pressed) and
        ``leave(x, y)`` (the pointer left the canvas) get image
        coordinates; ``key(key, shift, ctrl, meta) -> bool`` gets the key
        name and returns True when it handled the key (else the canvas tries
        its zoom keys).
        """
        unknown = sorted(set(callbacks) - set(EVENTS))
        if unknown:
            raise ValueError(f"unknown canvas events {unknown}; use {list(EVENTS)}.")
        self._callbacks.update(callbacks)

    def set_painter(self, layer: int, painter: Painter | None) -> None:
        """Paint ``layer`` (1 or 2) with ``painter(layer_canvas, view)`` on each redraw."""
        if layer not in self._painters:
            raise ValueError(f"layer must be {POINTS} or {TOP}; layer {IMAGE} shows the image.")
        self._painters[layer] = painter

    def set_image(self, image: np.ndarray, redraw: bool = True) -> bool:
        """Show an RGB ``uint8`` image: encode it once and send it compressed.

        The view is refitted when the image size differs from the previous one.

        Returns
        -------
        bool
            True if the view was refitted.
        """
        image = np.asarray(image)
        start = time.perf_counter()
        self.image_widget.value = encode_image(
            image, self.image_format.upper(), quality=self.jpeg_quality
        )
        self.last_encode_seconds = time.perf_counter() - start
        self.has_image = True
        self.message = ""
        refitted = self.view.set_image_size((image.shape[1], image.shape[0]))
        if redraw:
            self.redraw()
        return refitted

    def show_message(self, message: str, redraw: bool = True) -> None:
        """Show ``message`` instead of an image (e.g. a missing frame file)."""
        self.has_image = False
        self.message = message
        if redraw:
            self.redraw(IMAGE)

    def redraw(self, *layers: int) -> None:
        """Repaint ``layers`` (default: all) in one batch."""
        caching = self._canvas_manager._caching
        try:
            with hold_canvas():
                for layer in sorted(set(layers or LAYERS)):
                    if layer == IMAGE:
                        self._paint_image()
                    else:
                        canvas = self._canvases[layer]
                        canvas.clear()
                        painter = self._painters[layer]
                        if painter is not None:
                            painter(canvas, self.view)
        finally:
            # ipycanvas 0.14's hold_canvas leaves caching on when its block
            # raises, which would silently hold back every later command.
            self._canvas_manager._caching = caching

    def _paint_image(self) -> None:
        layer = self._canvases[IMAGE]
        layer.clear()
        layer.fill_style = BACKGROUND
        layer.fill_rect(0, 0, self.width, self.height)
        if self.has_image:
            layer.image_smoothing_enabled = self.view.scale < CRISP_SCALE
            layer.draw_image(self.image_widget, *self.view.image_rect())
        elif self.message:
            layer.fill_style = "#dddddd"
            layer.font = "16px sans-serif"
            layer.text_align = "center"
            layer.fill_text(self.message, self.width / 2, self.height / 2)

    # -- zoom and pan ------------------------------------------------------------ #
    def zoom_at(self, factor: float, u: float | None = None, v: float | None = None) -> None:
        """Zoom by ``factor`` around canvas point ``(u, v)`` (default centre) and repaint."""
        self.view.zoom_at(factor, u, v)
        self.redraw()

    def zoom_in(self) -> None:
        """Zoom in one step around the canvas centre."""
        self.zoom_at(ZOOM_STEP)

    def zoom_out(self) -> None:
        """Zoom out one step around the canvas centre."""
        self.zoom_at(1 / ZOOM_STEP)

    def fit(self) -> None:
        """Fit the whole image to the canvas."""
        self.view.fit()
        self.redraw()

    def set_view(self, zoom: float, center: tuple[float, float] | None = None) -> None:
        """Show image point ``center`` mid-canvas at ``zoom`` (relative to fit)."""
        self.view.set_view(zoom, center)
        self.redraw()

    def pan_by(self, du: float, dv: float) -> None:
        """Move the image by ``(du, dv)`` canvas pixels."""
        self.view.pan(du, dv)
        self.redraw()

    @property
    def pan_mode(self) -> bool:
        """While True, dragging pans instead of reaching the owner."""
        return bool(self.pan_button.value)

    @pan_mode.setter
    def pan_mode(self, value: bool) -> None:
        self.pan_button.value = bool(value)

    def _make_toolbar(self) -> widgets.HBox:
        def button(description: str, tooltip: str, action: Callable[[], None], css: str):
            b = widgets.Button(
                description=description, tooltip=tooltip, layout=widgets.Layout(width="auto")
            )
            b.add_class(css)
            b.on_click(lambda _: action())
            return b

        self.zoom_in_button = button(
            "+", "Zoom in (+ key, mouse wheel)", self.zoom_in, "posekit-zoom-in"
        )
        self.zoom_out_button = button("\u2212", "Zoom out (- key)", self.zoom_out, "posekit-zoom-out")
        self.fit_button = button(
            "Fit", "Fit the image to the canvas (f key)", self.fit, "posekit-fit"
        )
        self.pan_button = widgets.ToggleButton(
            description="Pan", tooltip="Drag to pan while on", layout=widgets.Layout(width="auto")
        )
        self.pan_button.add_class("posekit-pan")
        return widgets.HBox(
            [self.zoom_in_button, self.zoom_out_button, self.fit_button, self.pan_button]
        )

    # -- events -------------------------------------------------------------------- #
    def _emit(self, event: str, u: float, v: float) -> None:
        callback = self._callbacks[event]
        if callback is not None:
            callback(*self.view.canvas_to_image(u, v))

    def _mouse_down(self, u: float, v: float) -> None:
        self._pointer = (u, v)
        self._pressed = True
        if self.pan_mode:
            self._pan_from = (u, v)
            return
        self._emit("press", u, v)

    def _mouse_move(self, u: float, v: float) -> None:
        self._pointer = (u, v)
        if self._pan_from is not None:
            du, dv = u - self._pan_from[0], v - self._pan_from[1]
            self._pan_from = (u, v)
            self.pan_by(du, dv)
        elif self._pressed:
            self._emit("drag", u, v)
        else:
            self._emit("hover", u, v)

    def _mouse_up(self, u: float, v: float) -> None:
        self._pointer = (u, v)
        was_pressed, self._pressed = self._pressed, False
        if self._pan_from is not None:
            self._pan_from = None
        elif was_pressed:
            self._emit("release", u, v)

    def _mouse_out(self, u: float, v: float) -> None:
        # The browser never reports a button released outside the canvas:
        # end any drag where the pointer left.
        if self._pressed:
            self._mouse_up(u, v)
        self._emit("leave", u, v)

    def _mouse_wheel(self, dx: float, dy: float) -> None:
        # ipycanvas reports only the wheel deltas; zoom around the last pointer
        # position seen in mouse_move.
        factor = min(2.0, max(0.5, 2.0 ** (-float(dy) / 300.0)))
        self.zoom_at(factor, *self._pointer)

    def _key_down(self, key: str, shift: bool, ctrl: bool, meta: bool) -> None:
        callback = self._callbacks["key"]
        if callback is not None and callback(key, shift, ctrl, meta):
            return
        if key in ("+", "="):
            self.zoom_in()
        elif key in ("-", "_"):
            self.zoom_out()
        elif key in ("f", "F"):
            self.fit()

    def _client_ready(self, layers: Iterable[int]) -> None:
        # ipycanvas sends "switchCanvas" only when the target canvas changes, and
        # a new browser never saw the earlier one (ipycanvas issue #322): forget
        # it so the repaint starts with a switchCanvas the browser can follow.
        self._canvas_manager._current_canvas = None
        self.redraw(*layers)


# ---------------------------------------------------------------------------------- #
# painting helpers shared by the widgets
# ---------------------------------------------------------------------------------- #


def css_color(rgb: Sequence[int]) -> str:
    """CSS ``rgb(r, g, b)`` of an RGB triple (0-255)."""
    r, g, b = (int(c) for c in rgb[:3])
    return f"rgb({r}, {g}, {b})"


def paint_pose(
    layer: Canvas,
    view: ViewTransform,
    points: np.ndarray,
    colors: Sequence[str],
    radius: float,
    *,
    alpha: float = 0.7,
    skeleton: Iterable[tuple[int, int]] = (),
    skeleton_color: str = "black",
    selected: int | None = None,
    hollow: Sequence[bool] | None = None,
) -> None:
    """Paint one pose: skeleton segments, then a dot per labelled body part.

    Parameters
    ----------
    layer
        The canvas layer to paint on (not cleared here).
    view
        Maps the image coordinates of ``points`` to the canvas.
    points
        ``(J, 2)`` image coordinates; NaN rows are skipped.
    colors
        CSS colour per body part.
    radius
        Dot radius in canvas pixels (constant on screen while zooming, so a
        zoomed-in dot never hides the pixels around it).
    alpha
        Dot and segment opacity.
    skeleton
        Pairs of body-part indices to join.
    skeleton_color
        CSS colour of the segments.
    selected
        Index of a body part to ring in white (the current one).
    hollow
        Per body part, True to draw an open circle in its colour instead of a
        filled dot (refinement: an uncertain prediction).
    """
    canvas_points = [
        view.image_to_canvas(x, y) if np.isfinite(x) and np.isfinite(y) else None
        for x, y in np.asarray(points, dtype=float)
    ]
    layer.global_alpha = float(alpha)
    layer.line_width = max(1.0, radius / 3)
    layer.stroke_style = skeleton_color
    for a, b in skeleton:
        pa, pb = canvas_points[a], canvas_points[b]
        if pa is not None and pb is not None:
            layer.stroke_line(pa[0], pa[1], pb[0], pb[1])
    hollow = [False] * len(canvas_points) if hollow is None else list(hollow)
    for point, color, open_circle in zip(canvas_points, colors, hollow, strict=True):
        if point is None:
            continue
        if open_circle:
            layer.line_width = max(2.0, radius / 3)
            layer.stroke_style = color
        else:
            layer.line_width = 1.0
            layer.stroke_style = "black"
            layer.fill_style = color
            layer.fill_circle(point[0], point[1], radius)
        layer.stroke_circle(point[0], point[1], radius)
    layer.line_width = 1.0
    layer.global_alpha = 1.0
    if selected is not None and canvas_points[selected] is not None:
        paint_ring(layer, canvas_points[selected], radius + 3, "white")


def paint_ring(layer: Canvas, center: tuple[float, float], radius: float, color: str) -> None:
    """Paint a 2-px ring of ``radius`` canvas pixels around canvas point ``center``."""
    layer.global_alpha = 1.0
    layer.line_width = 2.0
    layer.stroke_style = color
    layer.stroke_circle(center[0], center[1], radius)
