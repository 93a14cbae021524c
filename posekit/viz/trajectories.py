"""``plot_trajectories``: DeepLabCut's four summary plots of an analysed video.

Figures are built with matplotlib's object API (:class:`matplotlib.figure.Figure`,
no pyplot, so no global figure state and no GUI backend) and saved headless.
In a notebook they are also shown as interactive ipympl canvases, built
directly around the same figures (no ``%matplotlib widget`` needed).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.predict.results import Analysis, current_scorer, find_analysis_file, read_analysis
from posekit.project.naming import PLOT_POSES, trajectory_plot_name
from posekit.project.project import Project, list_videos
from posekit.viz.labeled_video import displayed_mask
from posekit.viz.style import PlotStyle

__all__ = ["PLOTS", "TrajectoryPlots", "plot_trajectories", "trajectory_figures"]

#: The plots, in the order they are drawn and shown (DeepLabCut's file names).
PLOTS = ("trajectory", "plot", "plot-likelihood", "hist")
#: Number of histogram bins between 0 and the largest value in the analysis.
HIST_BINS = 100
#: Figure size in inches (DeepLabCut's).
FIGSIZE = (8, 6)
#: Resolution of the interactive canvases in the notebook (8 x 6 in -> 512 x 384 px).
DISPLAY_DPI = 64


@dataclass
class TrajectoryPlots:
    """What ``plot_trajectories`` made for one video.

    Attributes
    ----------
    stem : str
        The video's name without suffix.
    analysis : Path
        The analysis file plotted.
    folder : Path
        ``plot-poses/<stem>/``.
    paths : dict of str to Path
        Saved image per plot name (:data:`PLOTS`).
    figures : dict of str to matplotlib.figure.Figure
        The figures, for inspection or re-saving.
    """

    stem: str
    analysis: Path
    folder: Path
    paths: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict, repr=False)


def trajectory_figures(analysis: Analysis, cfg: dict[str, Any]) -> dict[str, Any]:
    """Build the four figures of one analysis.

    Parameters
    ----------
    analysis
        From :func:`~posekit.predict.results.read_analysis`. Coordinates are
        plotted as stored (crop-relative for cropped analyses, as in DeepLabCut).
    cfg
        Project config: ``pcutoff``, ``colormap``, ``alphavalue``.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        Keyed by :data:`PLOTS`:

        * ``trajectory``: y against x, ``.`` markers, y axis inverted (image
          coordinates); points with likelihood < pcutoff masked;
        * ``plot``: x (dashed) and y (solid) against frame index, masked alike;
        * ``plot-likelihood``: likelihood against frame index, unmasked;
        * ``hist``: step histograms of the frame-to-frame changes of x (dashed)
          and y (solid) of the kept points, :data:`HIST_BINS` bins from 0 to the
          largest value in the analysis (negative changes fall outside).

        Every line or histogram is labelled with its body part (``"snout"``,
        ``"snout x"``, ``"snout y"``); each axes has a colorbar naming the parts.
    """
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    parts = analysis.bodyparts
    n_parts = len(parts)
    plot = PlotStyle.from_config(cfg)
    cmap = matplotlib.colormaps[plot.colormap]
    colors = cmap(np.linspace(0.0, 1.0, max(n_parts, 1)))[:n_parts]
    alpha, pcutoff = plot.alphavalue, plot.pcutoff
    frames = np.arange(analysis.n_frames)
    x, y = analysis.xy[..., 0], analysis.xy[..., 1]
    likelihood = analysis.likelihood
    with np.errstate(invalid="ignore"):
        low = likelihood < pcutoff
    everything = np.concatenate([analysis.xy.ravel(), likelihood.ravel()])
    top = float(np.nanmax(everything)) if np.isfinite(everything).any() else 1.0
    bins = np.linspace(0.0, top if top > 0 else 1.0, HIST_BINS + 1)

    figures = {name: Figure(figsize=FIGSIZE) for name in PLOTS}
    axes = {name: fig.add_subplot(111) for name, fig in figures.items()}
    for j, part in enumerate(parts):
        mask = low[:, j] | ~np.isfinite(analysis.xy[:, j]).all(axis=-1)
        xm = np.ma.array(x[:, j], mask=mask)
        ym = np.ma.array(y[:, j], mask=mask)
        style = {"color": colors[j], "alpha": alpha}
        axes["trajectory"].plot(xm, ym, ".", label=part, **style)
        axes["plot"].plot(frames, xm, "--", label=f"{part} x", **style)
        axes["plot"].plot(frames, ym, "-", label=f"{part} y", **style)
        axes["plot-likelihood"].plot(frames, likelihood[:, j], "-", label=part, **style)
        for values, dash, coord in ((xm, "--", "x"), (ym, "-", "y")):
            steps = np.diff(values.filled(np.nan))
            steps = steps[np.isfinite(steps)]
            axes["hist"].hist(steps, bins=bins, histtype="step", linestyle=dash,
                              label=f"{part} {coord}", **style)
    ax = axes["trajectory"]
    ax.set_xlabel("X position in pixels")
    ax.set_ylabel("Y position in pixels")
    ax.invert_yaxis()
    axes["plot"].set_xlabel("Frame index")
    axes["plot"].set_ylabel("X (dashed) and Y (solid) position in pixels")
    axes["plot-likelihood"].set_xlabel("Frame index")
    axes["plot-likelihood"].set_ylabel("Likelihood")
    axes["plot-likelihood"].set_ylim(-0.05, 1.05)
    axes["hist"].set_xlabel("DeltaX (dashed) and DeltaY (solid) in pixels")
    axes["hist"].set_ylabel("Count")
    title = f"{analysis.path.name}\n(likelihood < pcutoff = {pcutoff:g} hidden)"
    for name, fig in figures.items():
        axes[name].set_title(analysis.path.name if name == "plot-likelihood" else title,
                             fontsize=8)
        if n_parts:
            mappable = ScalarMappable(norm=Normalize(vmin=0, vmax=max(n_parts - 1, 1)),
                                      cmap=cmap)
            bar = fig.colorbar(mappable, ax=axes[name], ticks=range(n_parts))
            bar.set_ticklabels(parts)
    return figures


def plot_trajectories(
    config: str | os.PathLike | Project,
    videos: str | os.PathLike | Iterable[str | os.PathLike],
    shuffle: int = 1,
    trainingsetindex: int = 0,
    destfolder: str | os.PathLike | None = None,
    imagetype: str = ".png",
    resolution: int = 100,
    filtered: bool = False,
    displayedbodyparts: str | Sequence[str] = "all",
    videotype: str | Sequence[str] = "",
) -> dict[str, TrajectoryPlots]:
    """Plot the predicted trajectories of analysed videos.

    Writes ``<folder>/plot-poses/<stem>/`` with ``trajectory``, ``plot``,
    ``plot-likelihood`` and ``hist`` images (see :func:`trajectory_figures`),
    where ``<folder>`` is ``destfolder`` or the video's folder; with
    ``filtered`` they are ``trajectory_filtered`` etc. (DeepLabCut's names).

    Parameters
    ----------
    config
        Project ``config.yaml`` (or an open Project).
    videos
        Video files, folders of videos, or project video stems.
    shuffle, trainingsetindex
        Which network's analysis (as for ``create_labeled_video``).
    destfolder
        Folder holding the analyses and receiving ``plot-poses/``.
    imagetype
        Image suffix (``.png``, ``.pdf``, ``.svg``, ``.jpg``...).
    resolution
        Dots per inch of the saved images.
    filtered
        Plot the ``filterpredictions`` output (``<stem><scorer>_filtered.h5``).
    displayedbodyparts
        ``"all"``, or the body parts to plot.
    videotype
        Suffix(es) of the videos taken from folders (default: every video suffix).

    Returns
    -------
    dict of str to TrajectoryPlots
        Per video stem.

    Raises
    ------
    FileNotFoundError
        If a video or its analysis is missing (run ``analyze_videos`` first).
    """
    project = Project.open(config)
    paths = list_videos(videos, videotype, project=project, required=True)
    scorer = current_scorer(project, shuffle, trainingsetindex)
    suffix = imagetype if imagetype.startswith(".") else f".{imagetype}"
    found = [(video, find_analysis_file(video, shuffle, destfolder, scorer, filtered=filtered))
             for video in paths]
    results: dict[str, TrajectoryPlots] = {}
    for video, h5 in found:
        analysis = read_analysis(h5)
        shown = displayed_mask(displayedbodyparts, analysis.bodyparts, h5)
        if not shown.all():
            analysis = dataclasses.replace(
                analysis, bodyparts=[b for b, keep in zip(analysis.bodyparts, shown, strict=True) if keep],
                xy=analysis.xy[:, shown], likelihood=analysis.likelihood[:, shown])
        folder = (Path(destfolder) if destfolder is not None else video.parent) / PLOT_POSES / video.stem
        folder.mkdir(parents=True, exist_ok=True)
        figures = trajectory_figures(analysis, project.cfg)
        result = TrajectoryPlots(stem=video.stem, analysis=h5, folder=folder, figures=figures)
        for name, fig in figures.items():
            result.paths[name] = folder / trajectory_plot_name(name, suffix, filtered)
            fig.savefig(result.paths[name], dpi=resolution)
        results[video.stem] = result
    return results
