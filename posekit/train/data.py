"""Training batches: images loaded once, fixed-shape batches prepared in a background thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.io.images import read_image
from posekit.train.augment import pad_images


@dataclass
class Batch:
    """One fixed-shape batch (host arrays, ready to hand to the device)."""

    images: np.ndarray  # (B, Hmax, Wmax, 3) uint8, zero padded
    sizes: np.ndarray  # (B, 2) int32 true (height, width)
    keypoints: np.ndarray  # (B, J, 2) float32, 0 where not visible
    visible: np.ndarray  # (B, J) bool


class TrainingImages:
    """The training images and labels of a shuffle, held in memory once.

    Parameters
    ----------
    paths
        Image files.
    keypoints
        (N, J, 2) labels, NaN where a part is not labelled.
    """

    def __init__(self, paths: Sequence[Path], keypoints: np.ndarray) -> None:
        if len(paths) == 0:
            raise ValueError(
                "The training split holds no images; label more frames or raise "
                "TrainingFraction in config.yaml."
            )
        self.images, self.sizes = pad_images([read_image(p) for p in paths])
        keypoints = np.asarray(keypoints, np.float32)
        self.visible = np.isfinite(keypoints).all(axis=-1)
        self.keypoints = np.where(self.visible[..., None], keypoints, 0.0).astype(np.float32)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def max_size(self) -> tuple[int, int]:
        """(height, width) of the largest image."""
        return int(self.sizes[:, 0].max()), int(self.sizes[:, 1].max())

    def batch(self, indices: np.ndarray) -> Batch:
        """Gather the rows ``indices`` into a batch."""
        return Batch(
            self.images[indices], self.sizes[indices], self.keypoints[indices], self.visible[indices]
        )


def prefetch_batches(
    data: TrainingImages,
    batch_size: int,
    seed: int,
    start_batch: int = 0,
    depth: int = 3,
) -> Iterator[Batch]:
    """Yield endless shuffled batches, built ``depth`` ahead in a background thread.

    Epochs are permutations of the images (with wrap-around so every batch is
    full: one compiled shape). The order depends only on ``seed`` and the batch
    number, so a resumed run continues the same sequence from ``start_batch``.
    Closing the generator stops the thread.
    """
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    n = len(data)

    def positions(first: int) -> np.ndarray:
        """Image indices at sample positions first..first+batch_size of the epoch stream."""
        k = np.arange(first, first + batch_size)
        epochs = {int(e): np.random.default_rng([seed, int(e)]).permutation(n) for e in set(k // n)}
        return np.array([epochs[int(i // n)][i % n] for i in k], np.int64)

    def work() -> None:
        b = start_batch
        try:
            while not stop.is_set():
                idx = positions(b * batch_size)
                item = data.batch(idx)
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                b += 1
        except BaseException as err:  # noqa: BLE001 - hand errors to the consumer
            out.put(err)

    thread = threading.Thread(target=work, name="posekit-batches", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
