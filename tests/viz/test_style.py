"""PlotStyle.from_config: the one reader of the config's plot keys."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.project.config import DEFAULTS
from posekit.viz.colors import bodypart_colors
from posekit.viz.style import PlotStyle


def test_config_values_and_defaults():
    style = PlotStyle.from_config({"pcutoff": 0.9, "dotsize": 3, "alphavalue": 0.5, "colormap": "jet",
                                   "skeleton": [["a", "b"], ["b", "z"]], "skeleton_color": "red"})
    assert (style.pcutoff, style.dotsize, style.alphavalue, style.colormap) == (0.9, 3.0, 0.5, "jet")
    assert style.marker_size == 1.5 and style.skeleton == [("a", "b"), ("b", "z")]
    assert style.skeleton_indices(["b", "a"]) == [(1, 0)]  # pairs naming an unknown part are left out
    assert style.skeleton_rgb().tolist() == [255, 0, 0]
    assert np.array_equal(style.colors(4), bodypart_colors("jet", 4))
    # keys a config lacks or leaves empty (null, "") take DeepLabCut's defaults; no skeleton means none
    empty = PlotStyle.from_config({"colormap": None, "skeleton_color": ""})
    assert (empty.pcutoff, empty.dotsize, empty.alphavalue, empty.colormap, empty.skeleton_color) == (
        DEFAULTS["pcutoff"], DEFAULTS["dotsize"], DEFAULTS["alphavalue"], DEFAULTS["colormap"], "black")
    assert empty.skeleton == [] and PlotStyle.from_config({}).marker_size == DEFAULTS["dotsize"] / 2


def test_tiny_dots_keep_one_pixel():
    assert PlotStyle.from_config({"dotsize": 1}).marker_size == 1.0


def test_trajectories_read_the_style(tmp_path):
    """Before, a config with colormap: null (DeepLabCut writes nulls for unset keys) crashed the plots."""
    from posekit.predict.results import Analysis
    from posekit.viz.trajectories import trajectory_figures

    xy = np.zeros((3, 1, 2))
    analysis = Analysis(path=tmp_path / "a.h5", scorer="DLC_x", bodyparts=["p"], xy=xy,
                        likelihood=np.ones((3, 1)))
    figures = trajectory_figures(analysis, {"colormap": None, "alphavalue": 0.25})
    (line,) = figures["trajectory"].axes[0].get_lines()
    assert line.get_alpha() == pytest.approx(0.25)
