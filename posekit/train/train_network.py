"""``train_network``: train (or resume training) one shuffle's pose network."""

from __future__ import annotations

import os
from typing import Any

from posekit.train.trainer import Progress, Trainer
from posekit.utils.notebook import in_notebook


def train_network(
    config: str | os.PathLike,
    shuffle: int = 1,
    trainingsetindex: int = 0,
    gputouse: int | None = None,
    max_snapshots_to_keep: int | None = 5,
    displayiters: int | None = None,
    saveiters: int | None = None,
    maxiters: int | None = None,
    pretrained: bool = True,
    init_weights: str | None = None,
    restart: bool = False,
    batch_size: int | None = None,
    crop_size: tuple[int, int] | None = None,
    seed: int = 0,
    micro_batch_size: int | None = None,
) -> Progress | Any:
    """Train the pose network of a shuffle, resuming from its newest snapshot.

    Calling it again on a shuffle that has snapshots continues from the newest
    one (step counter, optimizer state and RNG restored) up to ``maxiters``;
    ``restart=True`` starts over. Snapshots ``train/snapshot-<iter>.msgpack`` are
    written every ``saveiters`` steps and at the end; ``learning_stats.csv`` logs
    ``iteration, loss, lr`` every ``displayiters``. A run already at
    ``maxiters`` (or ``maxiters=0``) trains nothing, and a printed message says
    so and names the newest snapshot.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml``.
    shuffle, trainingsetindex
        The training set (made by ``create_training_dataset``).
    gputouse
        Device index (``jax.devices()``); None trains data-parallel on all.
    max_snapshots_to_keep
        Newest snapshots kept.
    displayiters, saveiters, maxiters
        Override pose_cfg ``display_iters``, ``save_iters`` and the last
        ``multi_step`` iteration.
    pretrained
        Start from ImageNet weights (False: from scratch).
    init_weights
        Override pose_cfg ``init_weights`` (``"imagenet"``, a ``.safetensors``
        file, or a snapshot to start from).
    restart
        Ignore existing snapshots.
    batch_size, crop_size
        Override the batch size and the fixed (h, w) training crop.
    seed
        Seed of initialisation, batch order and augmentation.
    micro_batch_size
        Accumulate each batch's gradient over slices of this many images
        (a divisor of the batch size; pose_cfg ``micro_batch_size``) to save
        memory: a ResNet-50 at 448x448, batch 8, needs 4.6 GB at once and
        2.3 GB in slices of 2. Same gradient, except that batch norm trained
        from scratch normalises each slice by its own statistics. ``0`` takes
        the whole batch at once. By default (None, and no pose_cfg value),
        training on the CPU with frozen batch norm (the pretrained default)
        uses slices of one 448x448 image or more, which is exact and faster
        there (:func:`~posekit.train.trainer.auto_micro_batch_size`); otherwise
        the whole batch.

    Returns
    -------
    Progress or TrainingWidget
        Final step, loss history, images/s and snapshot paths. In a notebook,
        training runs in the background and a progress widget (bar, loss curve,
        Stop button) is returned at once; its ``trainer.progress`` is the same.
    """
    trainer = Trainer(
        config,
        shuffle=shuffle,
        trainingsetindex=trainingsetindex,
        pretrained=pretrained,
        init_weights=init_weights,
        restart=restart,
        maxiters=maxiters,
        displayiters=displayiters,
        saveiters=saveiters,
        max_snapshots_to_keep=max_snapshots_to_keep,
        batch_size=batch_size,
        crop_size=crop_size,
        gputouse=gputouse,
        seed=seed,
        micro_batch_size=micro_batch_size,
    )
    idle = trainer.nothing_to_train()
    if idle:  # printed: seen in a script and in a notebook cell, whatever the call returns
        print(idle, flush=True)
    if in_notebook():
        from posekit.widgets.training import TrainingWidget

        return TrainingWidget(trainer)
    return trainer.run(callback=_print_progress, on_state=_print_state)


def _print_state(progress: Progress) -> None:
    if progress.state == "compiling":
        print(progress.describe(), flush=True)


def _print_progress(progress: Progress) -> None:
    step, loss, lr = progress.history[-1]
    print(
        f"iteration {step}/{progress.maxiters}  loss {loss:.5f}  lr {lr:g}  "
        f"{progress.images_per_second:.1f} images/s",
        flush=True,
    )
