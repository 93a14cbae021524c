"""The Trainer: one shuffle's training run, resumable from its snapshots.

Headless state (step, loss history, snapshots) lives here; ``train_network``
and the notebook progress widget only drive it.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np

from posekit.dataset.pose_cfg import read_pose_cfg
from posekit.dataset.training_set import TrainingSet
from posekit.model.pose_net import init_pose_net, pose_net_from_cfg
from posekit.model.weights import load_torchvision_resnet, resolve_init_weights
from posekit.train.augment import AugmentConfig
from posekit.train.data import TrainingImages, prefetch_batches
from posekit.train.optim import make_optimizer
from posekit.train.snapshots import (
    CorruptSnapshotError,
    list_snapshots,
    load_snapshot,
    remove_unfinished_saves,
    restore_snapshot,
    save_snapshot,
)
from posekit.train.state import create_train_state, host_state, make_train_step

#: What a run is doing (:attr:`Progress.state`).
STATES = ("ready", "compiling", "running", "stopped", "finished", "failed")


@dataclass
class Progress:
    """What a training run has done so far (read by widgets and callbacks).

    Attributes
    ----------
    state : str
        One of :data:`STATES`: ``ready`` (not started), ``compiling`` (until
        the first step is done), ``running``, ``stopped`` (by
        :meth:`Trainer.stop` or an interrupt), ``finished`` (``maxiters``
        reached) or ``failed`` (``error`` says why).
    note : str
        Why a run that ended did nothing, if it did nothing.
    """

    step: int = 0
    maxiters: int = 0
    history: list[tuple[int, float, float]] = field(default_factory=list)
    images_per_second: float = 0.0
    snapshots: list[Path] = field(default_factory=list)
    batch_size: int = 0
    state: str = "ready"
    error: str = ""
    note: str = ""

    @property
    def finished(self) -> bool:
        """Whether ``maxiters`` has been reached."""
        return self.state == "finished"

    def describe(self) -> str:
        """One line saying what the run is doing (the training widget shows it)."""
        snapshot = self.snapshots[-1].name if self.snapshots else "none"
        if self.state == "compiling":
            return "compiling the network (the first step can take a minute)…"
        if self.state == "stopped":
            return f"stopped at iteration {self.step}, snapshot saved: {snapshot}"
        if self.state == "failed":
            return f"failed: {self.error}"
        if self.state == "finished":
            return self.note or f"finished at iteration {self.step}, snapshot saved: {snapshot}"
        last = self.history[-1] if self.history else None
        line = f"{self.state}: iteration {self.step}/{self.maxiters}"
        if self.state == "running" and last is not None:
            line += f", loss {last[1]:.5f}, lr {last[2]:g}, {self.images_per_second:.1f} images/s"
            if self.images_per_second > 0 and self.batch_size:
                seconds = (self.maxiters - self.step) * self.batch_size / self.images_per_second
                line += f", ETA {int(seconds // 60)} min {int(seconds % 60)} s"
        return line


def default_crop_size(max_size: tuple[int, int], global_scale: float, limit: int = 512) -> tuple[int, int]:
    """Training crop (h, w): the scaled largest image, multiple of 16, at most ``limit``."""
    return tuple(
        int(min(limit, max(64, 16 * math.ceil(global_scale * s / 16)))) for s in max_size
    )  # type: ignore[return-value]


#: With frozen batch norm on the CPU, each batch's gradient is accumulated by
#: default over slices of at least this many crop pixels per device. ResNet-50,
#: 448x448, batch 8 (benchmarks/bench_train.py --bn frozen): slices of 1 image
#: train faster than the whole batch at once and need half the memory; smaller
#: slices than this would make the matrix products too small to run well.
AUTO_SLICE_PIXELS = 1 << 17


def auto_micro_batch_size(batch: int, n_devices: int, crop_size: tuple[int, int], platform: str,
                          train_batch_norm: bool) -> int:
    """The default ``micro_batch_size``: 0 (whole batch) unless slicing is exact and pays.

    Slices give exactly the whole batch's gradient only when batch norm is
    frozen, and pay on the CPU, where a batch's activations outgrow the caches
    and memory: there the smallest slice with at least :data:`AUTO_SLICE_PIXELS`
    crop pixels per device is used.
    """
    if platform != "cpu" or train_batch_norm:
        return 0
    per_device = batch // n_devices
    pixels = crop_size[0] * crop_size[1]
    for images in range(1, per_device):
        if per_device % images == 0 and images * pixels >= AUTO_SLICE_PIXELS:
            return images * n_devices
    return 0


def _micro_batches(batch: int, n_devices: int, micro_batch_size: int | None) -> int:
    """How many slices a batch's gradient is accumulated over (1: none)."""
    if not micro_batch_size or int(micro_batch_size) >= batch:
        return 1
    size = int(micro_batch_size)
    if size < 1 or batch % size or size % n_devices:
        raise ValueError(
            f"micro_batch_size={micro_batch_size} must divide the batch size {batch}"
            + (f" and be a multiple of the {n_devices} devices" if n_devices > 1 else "")
            + "; pick one of "
            + ", ".join(str(d) for d in range(1, batch) if batch % d == 0 and d % n_devices == 0)
        )
    return batch // size


def _devices(gputouse: int | None) -> list[jax.Device]:
    devices = jax.devices()
    if gputouse is None:
        return devices
    if not 0 <= gputouse < len(devices):
        raise ValueError(
            f"gputouse={gputouse} but JAX sees {len(devices)} device(s): "
            f"{[str(d) for d in devices]}. Use an index in 0..{len(devices) - 1} or None."
        )
    return [devices[gputouse]]


class Trainer:
    """Train one shuffle's pose network.

    Parameters
    ----------
    config
        Project ``config.yaml`` path (or Project).
    shuffle, trainingsetindex
        Which training set (``create_training_dataset`` must have made it).
    pretrained
        Start from ImageNet weights (pose_cfg ``init_weights``) with frozen
        batch-norm statistics, as DeepLabCut; ``False`` trains from scratch with
        batch norm learning its statistics.
    init_weights
        Override pose_cfg ``init_weights``: ``"imagenet"``, a ``.safetensors``
        file, or a snapshot file (``snapshot-<n>.msgpack``) to start from.
    restart
        Ignore existing snapshots and start over at step 0.
    maxiters, displayiters, saveiters
        Override the pose_cfg values (final step, logging and snapshot periods).
    max_snapshots_to_keep
        Newest snapshots kept on disk (None: all).
    batch_size, crop_size
        Override pose_cfg ``batch_size`` and the fixed training crop (h, w).
    gputouse
        Device index; None uses every device (data-parallel).
    seed
        Seed of initialisation, batch order and augmentation.
    model_overrides
        PoseNet attributes to override (e.g. a narrow test network).
    micro_batch_size
        Accumulate the gradient over slices of this many images (pose_cfg
        ``micro_batch_size``; 0: the whole batch at once; None: pose_cfg's
        value, else :func:`auto_micro_batch_size`), see
        :func:`posekit.train_network`.
    """

    def __init__(
        self,
        config,
        shuffle: int = 1,
        trainingsetindex: int = 0,
        pretrained: bool = True,
        init_weights: str | None = None,
        restart: bool = False,
        maxiters: int | None = None,
        displayiters: int | None = None,
        saveiters: int | None = None,
        max_snapshots_to_keep: int | None = 5,
        batch_size: int | None = None,
        crop_size: tuple[int, int] | None = None,
        gputouse: int | None = None,
        seed: int = 0,
        model_overrides: dict[str, Any] | None = None,
        micro_batch_size: int | None = None,
    ) -> None:
        self.training_set = TrainingSet.read(config, shuffle, trainingsetindex)
        project = self.training_set.project
        self.model_dir = project.model_dir(self.training_set.split.fraction, shuffle)
        self.train_dir = self.model_dir / "train"
        self.pose_cfg = read_pose_cfg(self.train_dir / "pose_cfg.yaml")
        cfg = self.pose_cfg
        self.maxiters = int(maxiters if maxiters is not None else cfg["multi_step"][-1][1])
        self.displayiters = max(int(displayiters or cfg["display_iters"]), 1)
        self.saveiters = max(int(saveiters or cfg["save_iters"]), 1)
        self.keep = max_snapshots_to_keep
        self.seed = seed
        self.devices = _devices(gputouse)
        batch = int(batch_size or cfg["batch_size"])
        n_dev = len(self.devices)
        if batch % n_dev:
            batch = n_dev * math.ceil(batch / n_dev)
            warnings.warn(f"batch_size raised to {batch}, a multiple of the {n_dev} devices.", stacklevel=2)
        self.batch_size = batch
        requested = cfg.get("micro_batch_size") if micro_batch_size is None else micro_batch_size
        if requested is not None:  # checked before any weights are loaded or runs archived
            self.micro_batches = _micro_batches(batch, n_dev, requested)

        paths, keypoints = self.training_set.arrays("train")
        self.data = TrainingImages(paths, keypoints)
        crop = tuple(crop_size) if crop_size else default_crop_size(self.data.max_size, cfg["global_scale"])
        self.aug = AugmentConfig.from_pose_cfg(cfg, crop)
        self.model = pose_net_from_cfg(cfg, **(model_overrides or {}))
        self.tx, self.schedule = make_optimizer(cfg)
        self.progress = Progress(maxiters=self.maxiters, batch_size=batch)
        self.init_source, self.train_batch_norm, self.state = self._initial_state(
            pretrained, init_weights, restart
        )
        self.progress.step = int(self.state.step)
        self.progress.snapshots = [p for _, p in list_snapshots(self.train_dir)]
        if requested is None:  # the default depends on the batch-norm mode just resolved
            self.micro_batches = _micro_batches(batch, n_dev, auto_micro_batch_size(
                batch, n_dev, self.aug.crop_size, self.devices[0].platform, self.train_batch_norm))
        self._step_fn = make_train_step(self.model, self.aug, cfg, self.schedule, self.train_batch_norm,
                                        self.micro_batches)
        self._stop = threading.Event()

    # ------------------------------------------------------------------ #
    def _initial_state(self, pretrained: bool, init_weights: str | None, restart: bool):
        """Resume from the newest snapshot, or build a fresh state from init weights.

        Resuming needs no initial weights (so it works offline); with ``restart``
        the start weights are loaded first, then the old run is archived.
        """
        init_rng, state_rng = jax.random.split(jax.random.PRNGKey(self.seed))
        source = init_weights if init_weights is not None else (self.pose_cfg["init_weights"] if pretrained else None)
        remove_unfinished_saves(self.train_dir)
        if not restart:
            # This call's own mode is resolve_init_weights' "scratch" case (no source): batch norm trained.
            resumed = self._resume(init_rng, state_rng, train_bn=not str(source or "").strip())
            if resumed is not None:
                return resumed
        resolved = resolve_init_weights(source, self.model.net_type)
        backbone = None
        if resolved.kind == "torchvision":
            backbone = load_torchvision_resnet(resolved.path, self.model.net_type)
        _, variables = init_pose_net(init_rng, self.model, backbone_variables=backbone)
        state = create_train_state(self.model, variables, self.tx, state_rng)
        train_bn, how = resolved.kind == "scratch", resolved.source or "scratch"
        if resolved.kind == "snapshot":
            start = load_snapshot(self._snapshot_file(resolved.path), state)
            state = state.replace(params=start.params, batch_stats=start.batch_stats)
            train_bn, how = False, f"initialised from {resolved.path}"
        if restart:
            self._archive_previous_run()
        return how, train_bn, state

    def _resume(self, init_rng, state_rng, train_bn: bool) -> tuple[str, bool, Any] | None:
        """Continue from the newest readable snapshot, in the batch-norm mode it was trained in.

        A snapshot that cannot be decoded is renamed ``snapshot-<n>.corrupt.msgpack``
        (kept for inspection, no longer pruned or resumed) and the previous one
        is used, with a warning. ``train_bn`` (this call's own mode) is used only
        for a snapshot that records none, with a warning. None: no snapshot.
        """
        snapshots = list_snapshots(self.train_dir)
        if not snapshots:
            return None
        _, variables = init_pose_net(init_rng, self.model)
        template = create_train_state(self.model, variables, self.tx, state_rng)
        for iteration, path in reversed(snapshots):
            try:
                state, metadata = restore_snapshot(path, template)
            except CorruptSnapshotError as err:
                aside = path.with_name(f"{path.stem}.corrupt.msgpack")
                path.rename(aside)
                path.with_suffix(".json").unlink(missing_ok=True)
                warnings.warn(f"{err} Renamed it to '{aside.name}'; resuming from the snapshot before it.",
                              stacklevel=4)
                continue
            self._trim_log(iteration)
            if "train_batch_norm" in metadata:
                train_bn = bool(metadata["train_batch_norm"])
            else:
                warnings.warn(
                    f"Snapshot '{path}' records no batch-norm mode (its metadata is missing); resuming with "
                    f"this call's settings: batch norm {'trained (from scratch)' if train_bn else 'frozen'}.",
                    stacklevel=4,
                )
            return f"resumed from {path.name}", train_bn, state
        raise CorruptSnapshotError(
            f"No snapshot in '{self.train_dir}' can be read (each was renamed *.corrupt.msgpack). "
            "Call train_network(..., restart=True) to start over."
        )

    def _archive_previous_run(self) -> None:
        """Move an earlier run's snapshots and log aside (``train/previous-run-<time>/``)."""
        old = [p for _, p in list_snapshots(self.train_dir)]
        old += [p.with_suffix(s) for p in old for s in (".json", ".onnx") if p.with_suffix(s).exists()]
        if self.stats_path.exists():
            old.append(self.stats_path)
        if not old:
            return
        archive = self.train_dir / time.strftime("previous-run-%Y%m%d-%H%M%S")
        archive.mkdir(exist_ok=True)
        for path in old:
            path.rename(archive / path.name)

    @staticmethod
    def _snapshot_file(path: Path) -> Path:
        path = Path(path)
        if path.is_dir():
            found = list_snapshots(path)
            if not found:
                raise FileNotFoundError(f"No snapshot-*.msgpack in '{path}'.")
            return found[-1][1]
        return path if path.suffix else path.with_suffix(".msgpack")

    @property
    def stats_path(self) -> Path:
        """``learning_stats.csv``: lines ``iteration, loss, lr``."""
        return self.train_dir / "learning_stats.csv"

    def _trim_log(self, iteration: int) -> None:
        """Drop log lines past the resumed snapshot (they will be re-run)."""
        if self.stats_path.exists():
            lines = self.stats_path.read_text().splitlines()
            kept = [ln for ln in lines if ln and int(ln.split(",")[0]) <= iteration]
            self.stats_path.write_text("".join(f"{ln}\n" for ln in kept))

    def _metadata(self) -> dict[str, Any]:
        return {
            "net_type": self.model.net_type,
            "num_joints": self.model.num_joints,
            "bodyparts": list(self.pose_cfg["all_joints_names"]),
            "output_stride": self.model.output_stride,
            "backbone_features": self.model.backbone_features,
            "crop_size": list(self.aug.crop_size),
            "batch_size": self.batch_size,
            "micro_batch_size": self.batch_size // self.micro_batches,
            "train_batch_norm": self.train_batch_norm,
            "init": self.init_source,
            "seed": self.seed,
        }

    def save(self) -> Path:
        """Write the current state as ``snapshot-<step>``."""
        step = int(self.state.step)
        path = save_snapshot(self.train_dir, step, host_state(self.state), self._metadata(), self.keep)
        self.progress.snapshots = [p for _, p in list_snapshots(self.train_dir)]
        return path

    def stop(self) -> None:
        """Ask a running :meth:`run` to stop after the current step (and snapshot)."""
        self._stop.set()

    # ------------------------------------------------------------------ #
    def nothing_to_train(self) -> str:
        """Why :meth:`run` would train nothing (``maxiters`` already reached), else ``""``."""
        step = int(self.state.step)
        if step < self.maxiters:
            return ""
        newest = list_snapshots(self.train_dir)
        where = f"the newest snapshot is '{newest[-1][1]}'" if newest else f"there is no snapshot in '{self.train_dir}'"
        return (
            f"Nothing was trained: the run is at iteration {step} and maxiters={self.maxiters}; {where}. "
            "Pass a larger maxiters to train on, or restart=True to start over."
        )

    def run(self, callback: Callable[[Progress], None] | None = None,
            on_state: Callable[[Progress], None] | None = None) -> Progress:
        """Train from the current step up to ``maxiters``.

        Snapshots are written every ``saveiters`` steps and at the end (also when
        stopped); ``learning_stats.csv`` gets a line every ``displayiters``.
        ``callback(progress)`` is called after each logged step;
        ``on_state(progress)`` when :attr:`Progress.state` becomes
        ``compiling`` or ``running`` (the ending states are set when this
        returns or raises). If training raises, the state becomes ``failed``
        and the error propagates.
        """
        self._stop.clear()
        progress = self.progress
        progress.error = progress.note = ""
        start = int(self.state.step)
        if start >= self.maxiters:
            progress.state, progress.note = "finished", self.nothing_to_train()
            return progress
        progress.state = "compiling"
        if on_state is not None:
            on_state(progress)
        try:
            self._train(start, callback, on_state)
        except BaseException as err:
            progress.state, progress.error = "failed", f"{type(err).__name__}: {err}"
            raise
        progress.state = "finished" if int(self.state.step) >= self.maxiters else "stopped"
        return progress

    def _train(self, start: int, callback: Callable[[Progress], None] | None,
               on_state: Callable[[Progress], None] | None) -> None:
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        mesh = Mesh(np.array(self.devices), ("data",))
        data_sharding = NamedSharding(mesh, PartitionSpec("data"))
        self.state = jax.device_put(self.state, NamedSharding(mesh, PartitionSpec()))
        self.train_dir.mkdir(parents=True, exist_ok=True)
        batches = prefetch_batches(self.data, self.batch_size, self.seed, start_batch=start)
        loss_sum, n_losses = 0.0, 0  # summed on the device: no sync per step
        t0, n0 = time.perf_counter(), start
        progress = self.progress
        with open(self.stats_path, "a", encoding="utf-8") as log:
            try:
                for step in range(start + 1, self.maxiters + 1):
                    b = next(batches)
                    inputs = jax.device_put((b.images, b.sizes, b.keypoints, b.visible), data_sharding)
                    self.state, metrics = self._step_fn(self.state, *inputs)
                    if step == start + 1:  # compiled: time throughput from here
                        jax.block_until_ready(metrics)
                        t0, n0 = time.perf_counter(), step
                        progress.state, progress.step = "running", step
                        if on_state is not None:
                            on_state(progress)
                    loss_sum, n_losses = loss_sum + metrics["total_loss"], n_losses + 1
                    if step % self.displayiters == 0 or step == self.maxiters:
                        loss, lr = float(loss_sum) / n_losses, float(metrics["lr"])
                        loss_sum, n_losses = 0.0, 0
                        log.write(f"{step}, {loss:.6g}, {lr:.6g}\n")
                        log.flush()
                        elapsed = time.perf_counter() - t0
                        if step > n0:
                            progress.images_per_second = (step - n0) * self.batch_size / elapsed
                        progress.history.append((step, loss, lr))
                        progress.step = step
                        if callback is not None:
                            callback(progress)
                    progress.step = step
                    if step % self.saveiters == 0 or step == self.maxiters or self._stop.is_set():
                        self.save()
                    if self._stop.is_set():
                        break
            except KeyboardInterrupt:
                self.save()  # interrupted in a notebook: keep what was learnt
                warnings.warn(f"Training interrupted at step {int(self.state.step)}; snapshot saved.", stacklevel=3)
            finally:
                batches.close()
