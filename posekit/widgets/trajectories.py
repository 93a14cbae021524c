"""Interactive (ipympl) canvases of :func:`posekit.plot_trajectories` figures."""

from __future__ import annotations

import warnings
from typing import Any

import ipywidgets as W

from posekit.viz.trajectories import DISPLAY_DPI, TrajectoryPlots

__all__ = ["TrajectoryViewer"]


class TrajectoryViewer(W.VBox):
    """Interactive (ipympl) canvases of ``plot_trajectories`` figures.

    A chooser picks the video when there are several; its four canvases
    wrap to the width available. Pan and zoom work on each one.

    Parameters
    ----------
    results
        What :func:`plot_trajectories` computed.
    dpi
        Display resolution of the figures (they were saved at their own).

    Attributes
    ----------
    results : dict of str to TrajectoryPlots
    canvases : dict of str to dict of str to ipympl Canvas
        Per stem and plot name.
    """

    def __init__(self, results: dict[str, TrajectoryPlots], dpi: float = DISPLAY_DPI):
        from ipympl.backend_nbagg import Canvas, FigureManager

        self.results = dict(results)
        self.canvases: dict[str, dict[str, Any]] = {}
        self.grids: dict[str, W.Box] = {}
        number = 0
        for stem, result in self.results.items():
            row = {}
            for name, fig in result.figures.items():
                fig.set_dpi(dpi)
                # Canvas + manager, not new_figure_manager_given_figure: that
                # also queues the figure for pyplot's show() under
                # %matplotlib widget, which would display it a second time.
                canvas = Canvas(fig)
                number += 1
                with warnings.catch_warnings():  # ipympl's Toolbar passes traitlets an arg
                    warnings.filterwarnings("ignore", "Passing unrecognized arguments",
                                            DeprecationWarning)
                    FigureManager(canvas, number)
                canvas.header_visible = False
                canvas.footer_visible = False
                canvas.toolbar_visible = "fade-in-fade-out"
                row[name] = canvas
            self.canvases[stem] = row
            self.grids[stem] = W.Box(list(row.values()),
                                     layout=W.Layout(flex_flow="row wrap"))
        self.chooser = W.Dropdown(options=list(self.results), description="Video")
        super().__init__()
        self.add_class("posekit-trajectories")
        self.chooser.observe(lambda change: self.show(change["new"]), "value")
        if self.results:
            self.show(self.chooser.value)

    def show(self, stem: str) -> None:
        """Show the canvases of video ``stem``."""
        if self.chooser.value != stem:
            self.chooser.value = stem  # observer calls back here
            return
        head = [self.chooser] if len(self.results) > 1 else []
        self.children = [*head, W.HTML(f"<b>{stem}</b>"), self.grids[stem]]
