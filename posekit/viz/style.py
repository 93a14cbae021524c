"""The plot style of a project, read from ``config.yaml`` in one place.

DeepLabCut's config keys ``pcutoff``, ``dotsize``, ``alphavalue``,
``colormap``, ``skeleton`` and ``skeleton_color`` drive every picture posekit
draws: check_labels, labeled videos, trajectory plots, evaluation images,
outlier frames (``savelabeled``), the refinement threshold and the labeling
widget. :meth:`PlotStyle.from_config` is the only reader of those keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from posekit.project.config import DEFAULTS

__all__ = ["PlotStyle"]


@dataclass(frozen=True)
class PlotStyle:
    """How predictions and labels are drawn.

    Attributes
    ----------
    pcutoff : float
        Predictions with likelihood strictly above it are drawn as confident.
    dotsize : float
        DeepLabCut's ``dotsize``: the dot radius in labeled videos, twice the
        marker size in images (see :attr:`marker_size`).
    alphavalue : float
        Opacity of dots, lines and markers.
    colormap : str
        matplotlib colormap the body part colours are spread over.
    skeleton : list of (str, str)
        Body-part pairs joined by a segment.
    skeleton_color : str
        matplotlib colour name or hex string of the segments.
    """

    pcutoff: float = float(DEFAULTS["pcutoff"])
    dotsize: float = float(DEFAULTS["dotsize"])
    alphavalue: float = float(DEFAULTS["alphavalue"])
    colormap: str = str(DEFAULTS["colormap"])
    skeleton: list[tuple[str, str]] = field(default_factory=list)
    skeleton_color: str = str(DEFAULTS["skeleton_color"])

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> PlotStyle:
        """The style a config asks for; keys it lacks (or leaves empty) take DeepLabCut's defaults.

        A missing ``skeleton`` means no segments (as :func:`posekit.project.config.read_config`
        fills it), not DeepLabCut's template skeleton.
        """

        def value(key: str) -> Any:
            given = cfg.get(key)
            return DEFAULTS[key] if given is None or given == "" else given

        return cls(
            pcutoff=float(value("pcutoff")),
            dotsize=float(value("dotsize")),
            alphavalue=float(value("alphavalue")),
            colormap=str(value("colormap")),
            skeleton=[(str(a), str(b)) for a, b, *_ in cfg.get("skeleton") or []],
            skeleton_color=str(value("skeleton_color")),
        )

    @property
    def marker_size(self) -> float:
        """Marker half-size in still images: ``dotsize / 2``, at least one pixel."""
        return max(self.dotsize / 2.0, 1.0)

    def colors(self, n: int) -> np.ndarray:
        """``(n, 3)`` uint8 RGB body part colours from :attr:`colormap` (DeepLabCut's spacing)."""
        from posekit.viz.colors import bodypart_colors

        return bodypart_colors(self.colormap, n)

    def skeleton_rgb(self) -> np.ndarray:
        """RGB uint8 of :attr:`skeleton_color`."""
        from posekit.viz.colors import named_color

        return named_color(self.skeleton_color)

    def skeleton_indices(self, bodyparts: Sequence[str]) -> list[tuple[int, int]]:
        """The skeleton as index pairs into ``bodyparts``; pairs naming a part it lacks are left out."""
        parts = list(bodyparts)
        return [(parts.index(a), parts.index(b)) for a, b in self.skeleton if a in parts and b in parts]
