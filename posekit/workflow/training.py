"""Workflow verbs E-G: create the training dataset, train the network, evaluate it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from posekit.dataset.create import DatasetReport
from posekit.project import Project
from posekit.train.trainer import Progress
from posekit.workflow.dlc_compat import UNSET, check_gputouse, note_ignored, refuse
from posekit.workflow.results import EvaluationResult, TrainingRun

__all__ = ["create_training_dataset", "evaluate_network", "train_network"]

PathLike = str | os.PathLike


def create_training_dataset(
    config: PathLike | Project,
    num_shuffles: int = 1,
    Shuffles: Sequence[int] | None = None,  # DeepLabCut's name
    windows2linux: Any = UNSET,
    userfeedback: Any = UNSET,
    trainIndices: Sequence[Sequence[int]] | None = None,
    testIndices: Sequence[Sequence[int]] | None = None,
    net_type: str | None = None,
    augmenter_type: Any = UNSET,
    posecfg_template: Any = UNSET,
    *,
    seed: int | None = None,
    overwrite: bool = False,
    pose_cfg_overrides: dict | None = None,
) -> DatasetReport:
    """Merge the labels, split train/test and write pose_cfg.yaml (DeepLabCut's signature).

    See :func:`posekit.dataset.create.create_training_dataset` for the parameters
    posekit uses. ``windows2linux``, ``userfeedback``, ``augmenter_type`` and
    ``posecfg_template`` have no effect (posekit's augmentation runs on the device;
    an existing shuffle is never replaced without ``overwrite=True``).

    Returns
    -------
    DatasetReport
    """
    from posekit.dataset.create import create_training_dataset as create

    note_ignored("create_training_dataset", "posekit has one augmentation pipeline and never replaces "
                 "a shuffle without overwrite=True", windows2linux=windows2linux, userfeedback=userfeedback,
                 augmenter_type=augmenter_type, posecfg_template=posecfg_template)
    return create(config, num_shuffles, Shuffles, trainIndices, testIndices, net_type, seed, overwrite,
                  pose_cfg_overrides)


def train_network(
    config: PathLike,
    shuffle: int = 1,
    trainingsetindex: int = 0,
    max_snapshots_to_keep: int | None = 5,
    displayiters: int | None = None,
    saveiters: int | None = None,
    maxiters: int | None = None,
    allow_growth: Any = UNSET,
    gputouse: int | None = None,
    autotune: Any = UNSET,
    keepdeconvweights: Any = UNSET,
    modelprefix: str = "",
    *,
    block: bool | None = None,
    pretrained: bool = True,
    init_weights: str | None = None,
    restart: bool = False,
    batch_size: int | None = None,
    crop_size: tuple[int, int] | None = None,
    seed: int = 0,
    micro_batch_size: int | None = None,
) -> TrainingRun:
    """Train (or resume training) a shuffle's pose network (DeepLabCut's signature).

    Calling it again on a shuffle that has snapshots continues from the newest one
    (step counter, optimizer state and RNG restored) up to ``maxiters``;
    ``restart=True`` starts over. Snapshots are written every ``saveiters`` steps
    and at the end; ``learning_stats.csv`` logs every ``displayiters``.

    Parameters
    ----------
    config
        Path of the project's ``config.yaml``.
    shuffle, trainingsetindex
        The training set (made by ``create_training_dataset``).
    max_snapshots_to_keep
        Newest snapshots kept.
    displayiters, saveiters, maxiters
        Override pose_cfg ``display_iters``, ``save_iters`` and the last ``multi_step`` iteration.
    allow_growth, autotune, keepdeconvweights
        TensorFlow options; no effect.
    gputouse
        Device index (``jax.devices()``); None trains data-parallel on all devices.
    modelprefix
        Must be empty (posekit has no model prefixes).
    block
        True: train in this thread, printing progress, and return when done. False:
        train in a background thread and return at once (``.wait()``, ``.stop()``,
        ``.progress``). None (default): False in a Jupyter kernel, where the returned
        run shows as a progress widget with Stop, and True elsewhere.
    pretrained
        Start from ImageNet weights (False: from scratch).
    init_weights
        Override pose_cfg ``init_weights`` (``"imagenet"``, a ``.safetensors`` file,
        or a snapshot to start from).
    restart
        Ignore existing snapshots.
    batch_size, crop_size
        Override the batch size and the fixed (h, w) training crop.
    seed
        Seed of initialisation, batch order and augmentation.
    micro_batch_size
        Accumulate each batch's gradient over slices of this many images (see
        :class:`~posekit.train.trainer.Trainer`); 0: the whole batch at once.

    Returns
    -------
    TrainingRun
        The run: ``progress`` (step, state, loss history, images/s, snapshots),
        ``wait()``, ``stop()``. A run already at ``maxiters`` trains nothing, and a
        printed message says so and names the newest snapshot.
    """
    from posekit.train.trainer import Trainer
    from posekit.utils.notebook import in_notebook

    note_ignored("train_network", "it tunes TensorFlow", allow_growth=allow_growth, autotune=autotune,
                 keepdeconvweights=keepdeconvweights)
    if modelprefix:
        refuse("train_network", "modelprefix", modelprefix, "posekit keeps one model per shuffle under "
               "dlc-models/; use another shuffle number for a second model.")
    trainer = Trainer(
        config, shuffle=shuffle, trainingsetindex=trainingsetindex, pretrained=pretrained,
        init_weights=init_weights, restart=restart, maxiters=maxiters, displayiters=displayiters,
        saveiters=saveiters, max_snapshots_to_keep=max_snapshots_to_keep, batch_size=batch_size,
        crop_size=crop_size, gputouse=gputouse, seed=seed, micro_batch_size=micro_batch_size,
    )
    run = TrainingRun(trainer)
    if block is None:
        block = not in_notebook()
    if not block:
        idle = trainer.nothing_to_train()
        if idle:  # printed: seen in the cell even if the run is not its last line
            print(idle, flush=True)
        return run.start()
    run.subscribe(_print_progress)  # ends with what the run did (or why it did nothing)
    run.run()
    return run


def _print_progress(progress: Progress) -> None:
    if progress.state in ("compiling", "stopped", "finished", "failed"):
        print(progress.describe(), flush=True)
    elif progress.state == "running" and progress.history and progress.history[-1][0] == progress.step:
        step, loss, lr = progress.history[-1]
        print(f"iteration {step}/{progress.maxiters}  loss {loss:.5f}  lr {lr:g}  "
              f"{progress.images_per_second:.1f} images/s", flush=True)


def evaluate_network(
    config: PathLike | Project,
    Shuffles: Iterable[int] | int = (1,),  # DeepLabCut's name
    trainingsetindex: int | str = 0,
    plotting: bool = False,
    show_errors: bool = True,
    comparisonbodyparts: str | Sequence[str] = "all",
    gputouse: int | None = None,
    rescale: bool = False,
    modelprefix: str = "",
    *,
    shuffle: Iterable[int] | int | None = None,
    snapshots_to_evaluate: str | int | Sequence[int] | None = None,
    snapshots: str | int | Sequence[int] | None = None,
    batch_size: int | None = None,
    precision: str = "fp32",
) -> EvaluationResult:
    """Train and test errors of trained snapshots, in pixels (DeepLabCut's signature).

    Writes DeepLabCut's ``evaluation-results/`` files (see
    :func:`posekit.predict.evaluate.evaluate_network`).

    Parameters
    ----------
    config
        Path of the project's ``config.yaml`` (or an open Project).
    Shuffles, shuffle
        The shuffles (``shuffle=[1]``, as DeepLabCut's protocol prints, is the same).
    trainingsetindex
        Which training fraction, or ``"all"``.
    plotting
        Also draw the predictions on the labelled images.
    show_errors
        Print each snapshot's errors.
    comparisonbodyparts
        ``"all"`` or the body parts to average over.
    gputouse
        None, or 0 (posekit runs on the first GPU JAX sees, or the CPU).
    rescale
        Evaluate on images scaled by pose_cfg ``global_scale``.
    modelprefix
        Must be empty.
    snapshots_to_evaluate, snapshots
        Which snapshots (DeepLabCut 3's name, or posekit's): ``"all"``, an index, a
        list of indices; default config ``snapshotindex``.
    batch_size
        Images per network call.
    precision
        ``"fp32"`` (default), ``"int8"``, ``"bf16"`` or ``"auto"`` (what
        analyze_videos runs by default here): the errors of the network
        computing at that precision, in files tagged with it (see
        :func:`posekit.predict.evaluate.evaluate_network`).

    Returns
    -------
    EvaluationResult
        ``table`` (DeepLabCut's results table) and ``evaluations`` (per snapshot); in a
        notebook it shows as a browser of the labelled images and errors.
    """
    from posekit.predict.evaluate import evaluate_network as evaluate

    check_gputouse("evaluate_network", gputouse)
    if modelprefix:
        refuse("evaluate_network", "modelprefix", modelprefix, "posekit has no model prefixes.")
    if shuffle is not None:
        Shuffles = shuffle
    if snapshots_to_evaluate is not None and snapshots is not None:
        raise ValueError("evaluate_network: give snapshots_to_evaluate or snapshots, not both.")
    chosen = snapshots_to_evaluate if snapshots_to_evaluate is not None else snapshots
    shuffles = [Shuffles] if isinstance(Shuffles, int) else list(Shuffles)
    report = evaluate(config, shuffles, trainingsetindex, plotting, show_errors, comparisonbodyparts, rescale,
                      chosen, batch_size, precision)
    return EvaluationResult(report.table, report.evaluations)
