"""``check_labels``: draw each labeled frame's labels to ``labeled-data/<stem>_labeled/``."""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from posekit.io.images import read_image, write_png
from posekit.project.project import Project
from posekit.viz.draw import draw_pose
from posekit.viz.style import PlotStyle


@dataclass
class LabelCheck:
    """What ``check_labels`` wrote for one video."""

    stem: str
    folder: Path
    images: list[Path] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)


def write_labeled_images(
    config: str | os.PathLike | Project,
    draw_skeleton: bool = True,
    marker: str = "+",
    workers: int = 2,
) -> dict[str, LabelCheck]:
    """Draw the labels of every labeled video onto its frames.

    Writes ``labeled-data/<stem>_labeled/<image stem>_bodypart.png`` for every
    labeled image, colours from ``colormap``, marker size ``dotsize``, opacity
    ``alphavalue``, and the ``skeleton`` in ``skeleton_color``. Labels whose
    image file is missing are reported (warning and in the result), never
    dropped silently.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    draw_skeleton
        Draw the skeleton segments.
    marker
        ``"+"`` (DeepLabCut's default), ``"."``, ``"x"`` or ``"o"``.
    workers
        Threads encoding PNGs in parallel.

    Returns
    -------
    dict of str to LabelCheck
        Per video stem: the output folder, images written and labels without an
        image.
    """
    from posekit.io.labels import LabelTable

    project = Project.open(config)
    plot = PlotStyle.from_config(project.cfg)
    style = {
        "colors": plot.colors(len(project.bodyparts)),
        "size": plot.marker_size,
        "marker": marker,
        "alpha": plot.alphavalue,
        "skeleton": plot.skeleton_indices(project.bodyparts) if draw_skeleton else [],
        "skeleton_color": plot.skeleton_rgb(),
        "thickness": max(1.0, plot.marker_size / 4),
    }
    results = {}
    for stem in project.labeled_stems():
        table = LabelTable.read(project.labeled_folder(stem), bodyparts=project.bodyparts, scorer=project.scorer)
        out = project.labeled_images_dir(stem)
        out.mkdir(parents=True, exist_ok=True)
        missing = set(table.missing_images(project.root))
        result = LabelCheck(stem=stem, folder=out, missing_images=["/".join(k) for k in missing])
        if missing:
            warnings.warn(
                f"{len(missing)} labeled image(s) of '{stem}' are missing on disk, e.g. "
                f"{sorted(result.missing_images)[0]}; their labels are kept but not drawn.",
                stacklevel=2,
            )
        todo = [key for key in table.images if key not in missing]

        def render(key, table=table, out=out):
            image = read_image(project.root.joinpath(*key))
            draw_pose(image, table.points(key), **style)
            return write_png(out / f"{Path(key[-1]).stem}_bodypart.png", image, compress_level=1)

        with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
            result.images = list(pool.map(render, todo))
        results[stem] = result
    return results
