"""A small gallery of ``check_labels`` images: :class:`LabelGallery`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as W

from posekit.io.images import read_image
from posekit.viz.check_labels import LabelCheck
from posekit.widgets.grabber import preview_jpeg

__all__ = ["LabelGallery"]

#: Widest image sent to the browser (pixels).
GALLERY_MAX_WIDTH = 800


class LabelGallery(W.VBox):
    """Browse the images ``check_labels`` drew: a video chooser, a slider and the image.

    Parameters
    ----------
    results
        Per video stem, a :class:`~posekit.viz.check_labels.LabelCheck` (what
        ``check_labels`` returns) or a sequence of image paths.
    max_width
        Images wider than this are downscaled before being sent (JPEG).

    Notes
    -----
    CSS classes: ``posekit-gallery``, ``posekit-gallery-image``,
    ``posekit-gallery-caption``, ``posekit-gallery-slider``,
    ``posekit-gallery-previous``, ``posekit-gallery-next``.
    """

    def __init__(
        self,
        results: Mapping[str, LabelCheck | Sequence[str | os.PathLike]],
        max_width: int = GALLERY_MAX_WIDTH,
    ) -> None:
        self.results = dict(results)
        self.images: dict[str, list[Path]] = {
            stem: [Path(p) for p in getattr(result, "images", result)] for stem, result in results.items()
        }
        self.images = {stem: paths for stem, paths in self.images.items() if paths}
        self.max_width = int(max_width)
        self._syncing = False
        self.video = W.Dropdown(options=list(self.images), description="Video")
        self.slider = W.IntSlider(min=0, max=0, value=0, description="Image", continuous_update=False,
                                  readout=False)  # the caption says "3 / 8"
        self.slider.add_class("posekit-gallery-slider")
        self.previous = W.Button(description="\u25c0", tooltip="Previous image", layout=W.Layout(width="40px"))
        self.next = W.Button(description="\u25b6", tooltip="Next image", layout=W.Layout(width="40px"))
        self.previous.add_class("posekit-gallery-previous")
        self.next.add_class("posekit-gallery-next")
        self.caption = W.Label()
        self.caption.add_class("posekit-gallery-caption")
        self.image = W.Image(format="jpeg", layout=W.Layout(max_width="100%"))
        self.image.add_class("posekit-gallery-image")
        self.previous.on_click(lambda _b: self.show(self.slider.value - 1))
        self.next.on_click(lambda _b: self.show(self.slider.value + 1))
        self.video.observe(self._on_video, "value")
        self.slider.observe(self._on_slider, "value")
        super().__init__(children=[self.video, W.HBox([self.previous, self.slider, self.next]),
                                   self.caption, W.HBox([self.image])])  # HBox: natural size, not stretched
        self.add_class("posekit-gallery")
        self._on_video({"new": self.video.value})

    @property
    def current_path(self) -> Path | None:
        """The image shown (None when there is nothing to show)."""
        paths = self.images.get(self.video.value or "", [])
        return paths[self.slider.value] if paths else None

    def show(self, position: int, stem: str | None = None) -> None:
        """Show image number ``position`` (clamped) of video ``stem`` (default: current)."""
        if stem is not None:
            self.video.value = stem
        self.slider.value = min(max(int(position), self.slider.min), self.slider.max)

    def _on_video(self, change: dict[str, Any]) -> None:
        paths = self.images.get(change["new"] or "", [])
        self._syncing = True  # one render per video switch, not one per slider trait
        try:
            self.slider.value = 0
            self.slider.max = max(len(paths) - 1, 0)
        finally:
            self._syncing = False
        self._render()

    def _on_slider(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self._render()

    def _render(self) -> None:
        path = self.current_path
        if path is None:
            self.caption.value = "No labeled images to show: label some frames, then run check_labels."
            self.image.value = b""
            return
        count = len(self.images[self.video.value])
        self.caption.value = f"{self.video.value}: {self.slider.value + 1} / {count}  {path.name}"
        self.image.value = preview_jpeg(read_image(path), self.max_width)
