"""Play labeled videos in the notebook: :class:`VideoPlayer`.

Small files are sent to the browser as bytes in an ``ipywidgets.Video``
(controls on). That works wherever widgets work (JupyterLab, Notebook 7,
Voila, VS Code, Colab) because nothing has to be served over HTTP, but every
byte travels through the kernel's websocket and sits in browser memory (and
in the notebook file if widget state is saved), so files above
``max_embed_bytes`` are shown instead by an HTML5 ``<video>`` whose ``src`` is
the file's path relative to the kernel's working directory (normally the
notebook's folder). The browser then streams it from the Jupyter server's
``/files/`` route, with seeking, at no memory cost; that needs the file to be
inside the folder Jupyter serves. It is displayed through an ``Output`` widget
so JupyterLab's renderer resolves the relative URL; the absolute path is
printed under the player either way.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from pathlib import Path

import ipywidgets as W

__all__ = ["MAX_EMBED_BYTES", "VideoPlayer", "video_widget"]

#: Largest file embedded as bytes; bigger ones are streamed by URL.
MAX_EMBED_BYTES = 50 * 2**20

_MIME_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".webm": "webm", ".ogv": "ogg",
                 ".mkv": "webm", ".avi": "avi"}


def video_widget(path: str | os.PathLike, max_embed_bytes: int = MAX_EMBED_BYTES) -> W.Widget:
    """A widget that plays one video file (bytes when small, by URL when large)."""
    path = Path(path)
    fmt = _MIME_FORMATS.get(path.suffix.lower(), path.suffix.lstrip(".").lower() or "mp4")
    if path.stat().st_size <= max_embed_bytes:
        player = W.Video(value=path.read_bytes(), format=fmt, controls=True, autoplay=False,
                         loop=False, layout=W.Layout(max_width="100%"))
        player.add_class("posekit-video-embedded")
        return player
    from IPython.display import HTML

    try:
        src = os.path.relpath(path, os.getcwd())
    except ValueError:  # another drive on Windows
        src = str(path)
    src = Path(src).as_posix()
    out = W.Output(layout=W.Layout(max_width="100%"))
    out.add_class("posekit-video-linked")
    out.append_display_data(HTML(
        f'<video src="{html.escape(src, quote=True)}" controls preload="metadata" '
        'style="max-width:100%"></video>'))
    return out


class VideoPlayer(W.VBox):
    """Watch one or more videos: a chooser (when there are several) and a player.

    Only the chosen video is loaded, so a long list costs nothing until shown.

    Parameters
    ----------
    paths
        Video files (e.g. what ``create_labeled_video`` wrote).
    max_embed_bytes
        Files up to this size are embedded as bytes, larger ones linked.

    Attributes
    ----------
    paths : list of Path
    chooser : ipywidgets.Dropdown
    player : ipywidgets.Widget
        The current player (``ipywidgets.Video`` or an ``Output`` with a
        ``<video>`` element).
    """

    def __init__(self, paths: Iterable[str | os.PathLike],
                 max_embed_bytes: int = MAX_EMBED_BYTES) -> None:
        self.paths = [Path(p) for p in paths]
        self.max_embed_bytes = int(max_embed_bytes)
        self.chooser = W.Dropdown(options=[(p.name, i) for i, p in enumerate(self.paths)],
                                  description="Video", layout=W.Layout(width="max-content"))
        self.caption = W.Label()
        self.caption.add_class("posekit-video-caption")
        self.player: W.Widget = W.Label("No video.")
        super().__init__()
        self.add_class("posekit-video-player")
        self.chooser.observe(lambda change: self.show(change["new"]), "value")
        if self.paths:
            self.show(0)
        else:
            self.children = [self.player]

    def show(self, position: int) -> None:
        """Play ``paths[position]``."""
        path = self.paths[position]
        if self.chooser.value != position:
            self.chooser.value = position  # observer calls back here
            return
        self.player = video_widget(path, self.max_embed_bytes)
        self.caption.value = str(path)
        head = [self.chooser] if len(self.paths) > 1 else []
        self.children = [*head, self.player, self.caption]
