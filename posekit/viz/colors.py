"""Per-bodypart colors from a matplotlib colormap, as DeepLabCut assigns them."""

from __future__ import annotations

import numpy as np


def is_colormap(name: str) -> bool:
    """Whether matplotlib knows a colormap called ``name``."""
    import matplotlib

    return name in matplotlib.colormaps


def bodypart_colors(colormap: str, n: int) -> np.ndarray:
    """``n`` RGB colors (uint8, shape (n, 3)) spread evenly over ``colormap``.

    Body part ``i`` of ``n`` gets the colormap value at ``i / (n - 1)``, so the
    first and last parts take the colormap's two ends.
    """
    import matplotlib

    cmap = matplotlib.colormaps[colormap]
    positions = np.linspace(0.0, 1.0, max(n, 1))
    rgba = cmap(positions)[:n]
    return np.round(np.asarray(rgba)[:, :3] * 255).astype(np.uint8)


def named_color(name: str) -> np.ndarray:
    """RGB uint8 of a matplotlib color name or hex string (e.g. ``skeleton_color``)."""
    from matplotlib.colors import to_rgb

    return np.round(np.asarray(to_rgb(name)) * 255).astype(np.uint8)
