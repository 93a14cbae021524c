"""A tiny DeepLabCut-layout project built from scratch (no video, no other posekit step).

Shared by tests/labeling and the widget tests, so they run without the Reaching
example or a video decoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from posekit.io.images import write_png
from posekit.project.config import DEFAULTS, write_config

STEM = "mouse1"
BODYPARTS = ["snout", "leftear", "rightear", "tailbase"]
SCORER = "tester"


def make_tiny_project(
    root: Path, size: tuple[int, int] = (160, 120), n_images: int = 3, seed: int = 0
) -> Path:
    """Write config.yaml and ``labeled-data/mouse1/img00{i}.png``; return the config path.

    There is no CollectedData yet; ``video_sets`` names a (missing) video
    ``videos/mouse1.mp4`` with a full-frame crop.
    """
    root = Path(root)
    width, height = size
    cfg = dict(DEFAULTS)
    cfg.update(
        Task="tiny",
        scorer=SCORER,
        date="Jan1",
        project_path=str(root),
        video_sets={str(root / "videos" / f"{STEM}.mp4"): {"crop": f"0, {width}, 0, {height}"}},
        bodyparts=list(BODYPARTS),
        skeleton=[["snout", "leftear"], ["snout", "rightear"]],
        dotsize=6,
    )
    root.mkdir(parents=True, exist_ok=True)
    write_config(root / "config.yaml", cfg)
    folder = root / "labeled-data" / STEM
    rng = np.random.default_rng(seed)
    for i in range(n_images):
        image = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
        write_png(folder / f"img{i:03d}.png", image)
    return root / "config.yaml"


def read_disk(folder: Path, scorer: str = SCORER) -> tuple[pd.DataFrame, pd.DataFrame]:
    """CollectedData as pandas reads it back: ``(h5 frame, csv frame)``, rows as 3-tuples.

    Old files (DeepLabCut < 2.2, like the Reaching example) index rows by a
    ``labeled-data/<stem>/<image>`` string; both forms come back as tuples.
    The csv header rows are read apart from the data: with
    ``read_csv(header=[0, 1, 2], index_col=[0, 1, 2])`` pandas takes an
    all-empty first data row for a row of index names and drops it.
    """
    h5 = pd.read_hdf(Path(folder) / f"CollectedData_{scorer}.h5")
    path = Path(folder) / f"CollectedData_{scorer}.csv"
    header = pd.read_csv(path, header=None, nrows=3, dtype=str, keep_default_na=False)
    n_index = 3 if header.iloc[0, 1] == "" else 1
    csv = pd.read_csv(path, header=None, skiprows=3, index_col=list(range(n_index)))
    csv.columns = pd.MultiIndex.from_arrays(
        [list(header.iloc[i, n_index:]) for i in range(3)], names=["scorer", "bodyparts", "coords"]
    )
    for frame in (h5, csv):
        rows = [tuple(k) if isinstance(k, tuple) else tuple(str(k).split("/")) for k in frame.index]
        frame.index = pd.MultiIndex.from_tuples(rows)
    return h5, csv


def disk_point(
    folder: Path, image: str, bodypart: str, scorer: str = SCORER
) -> tuple[float, float]:
    """``(x, y)`` of one label in BOTH files; asserts the h5 and csv agree."""
    h5, csv = read_disk(folder, scorer)
    row = ("labeled-data", Path(folder).name, image)
    values = []
    for frame in (h5, csv):
        values.append(
            (
                float(frame.loc[row, (scorer, bodypart, "x")]),
                float(frame.loc[row, (scorer, bodypart, "y")]),
            )
        )
    np.testing.assert_allclose(values[0], values[1], rtol=0, atol=1e-9, equal_nan=True)
    return values[0]
