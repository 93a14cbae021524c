"""Choosing which frames to extract: uniform sampling and k-means on tiny frames.

Shared by ``extract_frames`` and outlier extraction. The maths works on frame
indices and small arrays; the video is streamed, never held at full size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np


def frame_range(n_frames: int, start: float, stop: float) -> tuple[int, int]:
    """Frame-index range [first, last) for the ``start``/``stop`` fractions (DLC rules)."""
    first = 0 if start == 0 else math.floor(n_frames * start)
    last = min(math.ceil(n_frames * stop), n_frames)
    return first, last


def uniform_indices(
    candidates: Sequence[int], n_pick: int, rng: np.random.Generator
) -> np.ndarray:
    """Pick ``n_pick`` distinct candidates uniformly at random (all if fewer), sorted."""
    candidates = np.asarray(candidates, dtype=np.int64)
    if len(candidates) <= n_pick:
        return np.sort(candidates)
    return np.sort(rng.choice(candidates, size=n_pick, replace=False))


def downsample(
    frame: np.ndarray, resize_width: int, color: bool = False
) -> np.ndarray:
    """Shrink a frame to ``resize_width`` columns by nearest-neighbour sampling.

    Gray (mean over RGB) by default; with ``color`` the three channels are placed
    side by side, as DeepLabCut's k-means selection does.
    """
    h, w = frame.shape[:2]
    if resize_width > w:
        raise ValueError(
            f"cluster_resizewidth={resize_width} is larger than the frame width {w}; "
            f"pass at most the frame width (e.g. cluster_resizewidth={min(30, w)})."
        )
    ratio = resize_width / w
    new_h = max(int(round(h * ratio)), 1)  # noqa: RUF046 - a NumPy float rounds to a float before NumPy 2
    rows = np.minimum((np.arange(new_h) / ratio).astype(np.int64), h - 1)
    cols = np.minimum((np.arange(resize_width) / ratio).astype(np.int64), w - 1)
    small = frame[rows[:, None], cols[None, :]].astype(np.float32)
    if color:
        return np.hstack([small[..., c] for c in range(small.shape[-1])])
    return small.mean(axis=-1)


def kmeans_indices(
    indices: Sequence[int],
    features: np.ndarray | Iterable[np.ndarray],
    n_pick: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Cluster small frames with MiniBatchKMeans and pick one frame per cluster.

    Parameters
    ----------
    indices
        Frame index of each feature row.
    features
        One downsampled frame per index (any shape, flattened here).
    n_pick
        Number of clusters (frames wanted). Fewer candidates: all are returned.
    rng
        Random generator seeding both the clustering and the pick in each cluster.

    Returns
    -------
    numpy.ndarray
        Sorted frame indices; can be fewer than ``n_pick`` if clusters are empty.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if len(indices) <= n_pick:
        return np.sort(indices)
    data = np.asarray([np.ravel(f) for f in features], dtype=np.float32)
    if len(data) != len(indices):
        raise ValueError(f"{len(indices)} indices but {len(data)} feature rows.")
    data -= data.mean(axis=0, keepdims=True)
    from sklearn.cluster import MiniBatchKMeans

    batch = 100 if len(data) >= 100 else max(len(data) // 2, 1)
    km = MiniBatchKMeans(
        n_clusters=n_pick,
        tol=1e-3,
        batch_size=batch,
        max_iter=50,
        n_init=3,
        random_state=int(rng.integers(2**31 - 1)),
    ).fit(data)
    picked = []
    for cluster in range(n_pick):
        members = np.flatnonzero(km.labels_ == cluster)
        if len(members):
            picked.append(indices[rng.choice(members)])
    return np.sort(np.asarray(picked, dtype=np.int64))
