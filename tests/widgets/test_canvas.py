"""The shared ImageCanvas and its ViewTransform, driven by the messages a browser sends.

Front-end messages are fed exactly as ipycanvas' JS sends them
(``model.send({event, x, y})`` arrives as ``_handle_custom_msg(content, buffers)``
on the MultiCanvas, which routes it to its top layer); what the kernel sends
back is recorded by replacing the canvas manager's ``_send_custom``.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ipycanvas")

from ipycanvas.canvas import _CMD_LIST

from posekit.labeling.view import MAX_ZOOM, ViewTransform
from posekit.widgets.canvas import IMAGE, POINTS, ImageCanvas, paint_pose


def send(canvas, event: str, x: float = 0.0, y: float = 0.0, **extra) -> None:
    """One front-end event, as the ipycanvas JS view sends it."""
    canvas._handle_custom_msg({"event": event, "x": float(x), "y": float(y), **extra}, [])


def key(canvas, name: str, ctrl: bool = False) -> None:
    canvas._handle_custom_msg(
        {"event": "key_down", "key": name, "shift_key": False, "ctrl_key": ctrl, "meta_key": False},
        [],
    )


@pytest.fixture
def recorder(monkeypatch):
    """Commands the kernel sends to the browser, flattened: list of (name, args)."""
    from ipycanvas.canvas import _CANVAS_MANAGER

    sent = []
    monkeypatch.setattr(
        _CANVAS_MANAGER, "_send_custom", lambda command, buffers=[]: sent.append(command)
    )

    def commands():
        flat = []
        for batch in sent:
            flat.extend(batch if isinstance(batch[0], list) else [batch])
        return [(_CMD_LIST[c[0]], c[1]) for c in flat]

    commands.clear = sent.clear
    return commands


def gradient(width: int, height: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack(
        [xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1), (xx + yy) % 256], -1
    ).astype(np.uint8)


# -- ViewTransform -------------------------------------------------------------- #


def test_fit_letterboxes_and_maps_pixel_centres():
    view = ViewTransform((800, 600), (832, 747))
    scale = 600 / 747
    assert view.scale == pytest.approx(scale) and view.zoom == pytest.approx(1.0)
    assert view.offset_x == pytest.approx((800 - 832 * scale) / 2) and view.offset_y == 0
    # pixel (0, 0) spans canvas [ox, ox + s): its centre is x = 0
    assert view.image_to_canvas(0, 0) == pytest.approx((view.offset_x + scale / 2, scale / 2))
    assert view.canvas_to_image(view.offset_x, 0.0) == pytest.approx((-0.5, -0.5))
    u, v = view.image_to_canvas(831.5, 746.5)  # far edge of the image
    assert (u - view.offset_x, v) == pytest.approx((832 * scale, 600))


def test_canvas_larger_than_image_scales_up():
    view = ViewTransform((640, 480), (160, 120))
    assert view.scale == 4.0 and (view.offset_x, view.offset_y) == (0, 0)
    assert view.canvas_to_image(2.0, 6.0) == (0.0, 1.0)


def test_zoom_at_keeps_the_point_under_the_cursor():
    view = ViewTransform((800, 600), (832, 747))
    before = view.canvas_to_image(300.0, 200.0)
    view.zoom_at(2.0, 300.0, 200.0)
    assert view.zoom == pytest.approx(2.0)
    assert view.canvas_to_image(300.0, 200.0) == pytest.approx(before)
    view.zoom_at(1e6)
    assert view.zoom == pytest.approx(MAX_ZOOM)
    with pytest.raises(ValueError, match="positive"):
        view.zoom_at(0.0)


def test_set_view_centres_and_pan_cannot_lose_the_image():
    view = ViewTransform((800, 600), (832, 747))
    view.set_view(3.0, center=(100.0, 200.0))
    assert view.image_to_canvas(100.0, 200.0) == pytest.approx((400.0, 300.0))
    view.pan(-25.0, 10.0)
    assert view.image_to_canvas(100.0, 200.0) == pytest.approx((375.0, 310.0))
    view.pan(1e6, -1e6)  # the image still covers the canvas centre
    left, top, width, height = view.image_rect()
    assert left <= 400 <= left + width and top <= 300 <= top + height
    for x, y in [(0.0, 0.0), (12.3, 700.7)]:
        assert view.canvas_to_image(*view.image_to_canvas(x, y)) == pytest.approx((x, y))
    assert view.set_image_size((832, 747)) is False  # same size keeps the zoom
    assert view.set_image_size((100, 100)) is True and view.zoom == pytest.approx(1.0)


# -- ImageCanvas ------------------------------------------------------------------ #


def test_layout_is_fixed_px_with_css_class():
    canvas = ImageCanvas(640, 480, css_class="posekit-test-canvas")
    assert (canvas.width, canvas.height) == (640, 480)
    assert canvas.layout.width == "640px" and canvas.layout.height == "480px"
    assert "posekit-test-canvas" in canvas._dom_classes
    assert all((layer.width, layer.height) == (640, 480) for layer in canvas._canvases)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_frames_travel_compressed_and_are_encoded_once(fmt, recorder, monkeypatch):
    import posekit.widgets.canvas as module

    calls = []
    real = module.encode_image
    monkeypatch.setattr(module, "encode_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    canvas = ImageCanvas(400, 300, image_format=fmt)
    image = gradient(832, 747)
    canvas.set_image(image)
    data = canvas.image_widget.value
    assert canvas.image_widget.format == fmt
    assert data[:3] == (b"\xff\xd8\xff" if fmt == "jpeg" else b"\x89PN")
    assert len(data) < image.nbytes / 4
    names = [name for name, _ in recorder()]
    assert "drawImage" in names and "putImageData" not in names
    recorder.clear()
    canvas.zoom_in()
    canvas.pan_by(10, 5)
    canvas.fit()
    assert calls == [1]  # zooming re-sends only drawImage, never pixels
    assert canvas.image_widget.value is data
    draws = [args for name, args in recorder() if name == "drawImage"]
    assert len(draws) == 3 and draws[-1][1:] == pytest.approx(list(canvas.view.image_rect()))


def test_redraw_touches_only_the_named_layer(recorder):
    canvas = ImageCanvas(200, 100)
    canvas.set_image(gradient(40, 20))
    painted = []
    canvas.set_painter(
        POINTS, lambda layer, view: painted.append(layer) or layer.fill_circle(1, 1, 1)
    )
    recorder.clear()
    canvas.redraw(POINTS)
    switches = [args[0] for name, args in recorder() if name == "switchCanvas"]
    targets = {s.split("IPY_MODEL_")[1] for s in switches}
    assert targets == {canvas[POINTS].model_id}
    assert painted == [canvas[POINTS]]
    assert "drawImage" not in [name for name, _ in recorder()]
    with pytest.raises(ValueError, match="layer"):
        canvas.set_painter(IMAGE, None)


def test_client_ready_repaints_everything_starting_with_switch_canvas(recorder):
    canvas = ImageCanvas(200, 100)
    canvas.set_image(gradient(40, 20))
    canvas.set_painter(POINTS, lambda layer, view: layer.fill_circle(5, 5, 3))
    canvas.redraw(IMAGE)  # the last commands went to the image layer ...
    recorder.clear()
    # ... which a browser connecting now never switched to: without the #322 fix
    # the replay would start drawing with no switchCanvas at all
    canvas._handle_custom_msg({"event": "client_ready"}, [])
    names = [name for name, _ in recorder()]
    assert names[0] == "switchCanvas", names
    assert "drawImage" in names and "fillCircle" in names
    recorder.clear()
    canvas[IMAGE]._handle_custom_msg({"event": "client_ready"}, [])  # one layer's model: that layer
    switches = [args[0] for name, args in recorder() if name == "switchCanvas"]
    assert recorder()[0][0] == "switchCanvas"
    assert {s.split("IPY_MODEL_")[1] for s in switches} == {canvas[IMAGE].model_id}


def test_events_reach_the_owner_in_image_coordinates():
    canvas = ImageCanvas(640, 480)
    canvas.set_image(gradient(160, 120))  # scale 4, no letterbox
    seen = []
    canvas.connect(
        press=lambda x, y: seen.append(("press", x, y)),
        drag=lambda x, y: seen.append(("drag", x, y)),
        release=lambda x, y: seen.append(("release", x, y)),
        hover=lambda x, y: seen.append(("hover", x, y)),
    )
    send(canvas, "mouse_move", 10, 10)
    send(canvas, "mouse_down", 42, 82)
    send(canvas, "mouse_move", 46, 86)
    send(canvas, "mouse_up", 50, 90)
    send(canvas, "mouse_down", 2, 2)
    send(canvas, "mouse_out", 0, 6)  # left the canvas pressed: the drag ends there
    assert seen == [
        ("hover", 2.0, 2.0),
        ("press", 10.0, 20.0),
        ("drag", 11.0, 21.0),
        ("release", 12.0, 22.0),
        ("press", 0.0, 0.0),
        ("release", -0.5, 1.0),
    ]
    with pytest.raises(ValueError, match="unknown canvas events"):
        canvas.connect(click=print)


def test_pan_mode_drags_the_view_not_the_owner():
    canvas = ImageCanvas(400, 300)
    canvas.set_image(gradient(200, 150))  # scale 2
    seen = []
    canvas.connect(press=lambda x, y: seen.append((x, y)))
    canvas.zoom_in()
    before = canvas.view.canvas_to_image(200, 150)
    canvas.pan_button.value = True  # front-end toggle
    send(canvas, "mouse_down", 200, 150)
    send(canvas, "mouse_move", 230, 130)
    send(canvas, "mouse_up", 240, 140)
    assert seen == []
    assert canvas.view.image_to_canvas(*before) == pytest.approx((230.0, 130.0))
    canvas.pan_mode = False
    send(canvas, "mouse_down", 200, 150)
    assert len(seen) == 1


def test_wheel_zooms_around_the_last_pointer_and_keys_zoom():
    canvas = ImageCanvas(400, 300)
    canvas.set_image(gradient(200, 150))
    send(canvas, "mouse_move", 100, 60)
    under = canvas.view.canvas_to_image(100, 60)
    send(canvas, "mouse_wheel", 0, -300)  # wheel up: zoom in x2 at the cursor
    assert canvas.view.zoom == pytest.approx(2.0)
    assert canvas.view.canvas_to_image(100, 60) == pytest.approx(under)
    key(canvas, "-")
    assert canvas.view.zoom == pytest.approx(2.0 / 1.5)
    key(canvas, "f")
    assert canvas.view.zoom == pytest.approx(1.0)
    canvas.zoom_in_button.click()
    assert canvas.view.zoom == pytest.approx(1.5)
    canvas.fit_button._handle_custom_msg({"event": "click"}, [])
    assert canvas.view.zoom == pytest.approx(1.0)
    handled = []
    canvas.connect(key=lambda k, *mods: handled.append(k) or True)
    key(canvas, "+")  # the owner took it
    assert handled == ["+"] and canvas.view.zoom == pytest.approx(1.0)


def test_touch_events_act_like_the_mouse():
    canvas = ImageCanvas(640, 480)
    canvas.set_image(gradient(160, 120))
    seen = []
    canvas.connect(
        press=lambda x, y: seen.append(("press", x, y)),
        release=lambda x, y: seen.append(("release", x, y)),
    )
    canvas._handle_custom_msg({"event": "touch_start", "touches": [{"x": 42.0, "y": 82.0}]}, [])
    canvas._handle_custom_msg({"event": "touch_end", "touches": []}, [])
    assert seen == [("press", 10.0, 20.0), ("release", 10.0, 20.0)]


def test_paint_pose_skips_nan_and_rings_the_selected(recorder):
    canvas = ImageCanvas(640, 480)
    canvas.set_image(gradient(160, 120))
    recorder.clear()
    points = np.array([[10.0, 20.0], [np.nan, np.nan], [30.0, 40.0]])
    paint_pose(
        canvas[POINTS],
        canvas.view,
        points,
        ["red", "green", "blue"],
        5.0,
        skeleton=[(0, 1), (0, 2)],
        selected=2,
    )
    commands = recorder()
    circles = [args for name, args in commands if name == "fillCircle"]
    assert circles == [[42.0, 82.0, 5.0], [122.0, 162.0, 5.0]]
    lines = [args for name, args in commands if name == "strokeLine"]
    assert lines == [[42.0, 82.0, 122.0, 162.0]]  # the NaN end draws no segment
    rings = [args for name, args in commands if name == "strokeCircle"]
    assert rings[-1] == [122.0, 162.0, 8.0]
    assert any(name == "set" and args[1] == "white" for name, args in commands)


def test_a_failing_painter_does_not_leave_the_canvas_holding_commands():
    canvas = ImageCanvas(100, 100)

    def broken(layer, view):
        raise RuntimeError("painter bug")

    canvas.set_painter(POINTS, broken)
    with pytest.raises(RuntimeError, match="painter bug"):
        canvas.redraw(POINTS)
    assert canvas._canvas_manager._caching is False
