"""A trained network ready to predict: the snapshot config.yaml names, compiled once per shape."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.dataset.pose_cfg import read_pose_cfg
from posekit.project import naming
from posekit.project.project import Project
from posekit.train.snapshots import list_snapshots, read_snapshot_dict, read_snapshot_metadata


def select_snapshots(train_dir: Path, snapshotindex: int | str) -> list[tuple[int, Path]]:
    """The snapshot(s) a config ``snapshotindex`` picks (-1 newest, ``"all"``, an index).

    Raises
    ------
    FileNotFoundError
        If the shuffle has no snapshot yet (train it first).
    IndexError
        If the index is out of range (the message lists what exists).
    """
    found = list_snapshots(train_dir)
    if not found:
        raise FileNotFoundError(
            f"No snapshot in '{train_dir}'. Train this shuffle first (posekit.train_network)."
        )
    if snapshotindex == "all":
        return found
    try:
        return [found[int(snapshotindex)]]
    except (IndexError, ValueError):
        raise IndexError(
            f"snapshotindex={snapshotindex!r} but '{train_dir}' holds {len(found)} snapshot(s) "
            f"(iterations {[it for it, _ in found]}); use -1 for the newest, 'all', or 0..{len(found) - 1}."
        ) from None


def scorer_name(project: Project, shuffle: int, iterations: int, net_type: str) -> str:
    """DeepLabCut's scorer of a project's network (:func:`posekit.project.naming.scorer_name`)."""
    return naming.scorer_name(net_type, project.task_date, shuffle, iterations)


def selected_snapshot(
    project: Project, shuffle: int = 1, trainingsetindex: int = 0
) -> tuple[Path, int, Path]:
    """(train folder, iteration, snapshot file) that config ``snapshotindex`` picks.

    ``"all"`` picks the newest (one network predicts). Raises like
    :func:`select_snapshots`.
    """
    fraction = project.training_fraction(trainingsetindex)
    train_dir = project.model_dir(fraction, shuffle) / "train"
    index = project.cfg["snapshotindex"]
    iteration, snapshot = select_snapshots(train_dir, -1 if index == "all" else index)[0]
    return train_dir, iteration, snapshot


def snapshot_scorer(
    config: str | os.PathLike | Project, shuffle: int = 1, trainingsetindex: int = 0
) -> str:
    """The scorer name :func:`load_predictor` gives, from the snapshot's files alone.

    Names the analysis files of the current network without loading its weights.

    Raises
    ------
    FileNotFoundError
        If the shuffle has no snapshot (train it first).
    """
    project = Project.open(config)
    train_dir, iteration, snapshot = selected_snapshot(project, shuffle, trainingsetindex)
    meta = read_snapshot_metadata(snapshot)
    net_type = meta.get("net_type") or read_pose_cfg(train_dir / "pose_cfg.yaml")["net_type"]
    return scorer_name(project, shuffle, int(meta.get("iteration", iteration)), net_type)


@dataclass
class Predictor:
    """Predict poses with one snapshot.

    Attributes
    ----------
    model : PoseNet
    variables : dict
        ``params`` and ``batch_stats`` from the snapshot.
    bodyparts : list of str
    iteration : int
        Training iteration of the snapshot.
    scorer : str
        DeepLabCut scorer name of this network and snapshot.
    snapshot : Path
    pose_cfg : dict
    batch_size : int
        Every call is padded to this many frames (one compiled shape per size).
    backend : str
        ``"jax"`` (jitted XLA) or ``"onnx"`` (ONNX Runtime on the CPU, from the
        ``snapshot-<n>.onnx`` export cached beside the snapshot; see
        :mod:`posekit.predict.onnx_backend`). :func:`load_predictor` resolves
        ``"auto"``.
    threads : int or None
        ONNX Runtime's intra-op threads (None: every usable core); JAX ignores it.
    precision : str
        ``"fp32"``, ``"int8"`` (ONNX Runtime, the ``snapshot-<n>.int8.onnx``
        model calibrated on ``calibration_images``) or ``"bf16"`` (JAX, the
        network computing in bfloat16); see :mod:`posekit.predict.quantize`.
    calibration_images : callable or None
        ``calibration_images(n)``: up to ``n`` training images to calibrate the
        int8 model on (called only when it is (re)built; the settings are
        pose_cfg keys, :func:`posekit.predict.quantize.int8_settings`).
    """

    model: Any
    variables: dict
    bodyparts: list[str]
    iteration: int
    scorer: str
    snapshot: Path
    pose_cfg: dict
    batch_size: int
    backend: str = "jax"
    threads: int | None = None
    precision: str = "fp32"
    calibration_images: Callable[[int], list[Path]] | None = None

    def __post_init__(self) -> None:
        from posekit.predict.quantize import parse_precision, precision_backend

        locref_stdev = float(self.pose_cfg["locref_stdev"])
        if self.backend not in ("jax", "onnx"):
            raise ValueError(f"backend must be 'jax' or 'onnx' here, got {self.backend!r}")
        self.precision = parse_precision(self.precision)
        precision_backend(self.precision, self.backend, warn=False)  # an impossible pair raises
        if self.backend == "onnx":
            from posekit.predict.onnx_backend import OnnxPosePredictor
            from posekit.predict.quantize import cached_int8_export, int8_settings

            if self.precision == "int8":
                if self.calibration_images is None:
                    raise ValueError("precision='int8' needs calibration_images (load_predictor sets it)")
                settings = int8_settings(self.pose_cfg, self.snapshot.parent / "pose_cfg.yaml")
                self._onnx = OnnxPosePredictor(
                    cached_int8_export(self.model, self.variables, self.snapshot, self.calibration_images,
                                       locref_stdev=locref_stdev, **settings), threads=self.threads)
                return
            self._onnx = OnnxPosePredictor.from_snapshot(
                self.model, self.variables, self.snapshot, locref_stdev=locref_stdev, threads=self.threads)
            return
        import jax
        import jax.numpy as jnp

        from posekit.model.decode import make_predict_fn
        from posekit.predict.onnx_backend import OnnxPosePredictor

        # on the CPU, big batches run in pieces as with ONNX Runtime: same
        # speed, a fraction of the memory (ResNet-50 640x480, batch 32)
        pieces = OnnxPosePredictor.max_run_frames if jax.default_backend() == "cpu" else None
        if self.precision == "bf16":
            self.model = self.model.clone(dtype=jnp.bfloat16)
        self._predict = make_predict_fn(self.model, locref_stdev=locref_stdev, max_run_frames=pieces)

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Poses of up to ``batch_size`` RGB frames.

        Parameters
        ----------
        frames
            (n, H, W, 3) uint8, n <= batch_size; with JAX padded to the batch
            size, so one compiled function serves every batch of a video
            (ONNX Runtime takes any batch as is).

        Returns
        -------
        numpy.ndarray
            (n, J, 3): x, y, likelihood per body part, in frame pixels.
        """
        n = len(frames)
        if n > self.batch_size:
            raise ValueError(f"Got {n} frames, more than batch_size={self.batch_size}.")
        if self.backend == "onnx":  # dynamic batch: nothing to pad
            return self._onnx.predict(frames)
        if n < self.batch_size:
            pad = np.zeros((self.batch_size - n, *frames.shape[1:]), frames.dtype)
            frames = np.concatenate([frames, pad])
        return np.asarray(self._predict(self.variables, frames))[:n]

    def predict_async(self, frames: np.ndarray):
        """Like :meth:`predict` (full batches only) but returns the device array at once.

        Lets the caller decode the next batch while the device computes. With
        ``backend="onnx"`` the batch runs in a worker thread (on a copy of
        ``frames``) and a :class:`~posekit.predict.onnx_backend.PendingPoses`
        comes back; ``numpy.asarray`` of either result waits for the poses.
        """
        if self.backend == "onnx":
            return self._onnx.predict_async(frames)
        return self._predict(self.variables, frames)


def load_predictor(
    config: str | os.PathLike | Project,
    shuffle: int = 1,
    trainingsetindex: int = 0,
    snapshot: Path | None = None,
    batch_size: int | None = None,
    backend: str = "auto",
    threads: int | None = None,
    precision: str = "fp32",
) -> Predictor:
    """Load the snapshot that config ``snapshotindex`` names (or ``snapshot``).

    Parameters
    ----------
    config
        Project config path (or Project).
    shuffle, trainingsetindex
        Which trained shuffle.
    snapshot
        A specific ``snapshot-<n>.msgpack`` (default: per ``snapshotindex``;
        ``"all"`` takes the newest).
    batch_size
        Inference batch (default: config ``batch_size``).
    backend
        ``"jax"``, ``"onnx"`` (ONNX Runtime, CPU) or ``"auto"``: the
        ``POSEKIT_PREDICT_BACKEND`` environment variable if set, else ONNX
        Runtime when JAX's default backend is the CPU and ``onnxruntime`` is
        installed, else JAX. If ``"auto"`` picked ONNX and the export fails,
        it warns and uses JAX.
    threads
        Intra-op threads of the ONNX Runtime session (default: every core this
        process may use, right for one process per machine; a Dask worker passes
        its own thread count so that workers sharing a machine do not
        oversubscribe it). JAX ignores it.
    precision
        ``"fp32"`` (default here), ``"int8"`` (ONNX Runtime; the int8 model is
        calibrated on the shuffle's training images and cached as
        ``snapshot-<n>.int8.onnx``), ``"bf16"`` (JAX in bfloat16) or ``"auto"``
        (what :func:`~posekit.predict.analyze.analyze_videos` runs by default:
        :func:`~posekit.predict.quantize.resolve_precision`). ``backend="auto"``
        picks the backend that runs it; see :mod:`posekit.predict.quantize`.

    Raises
    ------
    ValueError
        A bad ``precision``, or a ``backend`` that cannot run it.
    """
    from posekit.model.pose_net import pose_net_from_cfg
    from posekit.predict.onnx_backend import resolve_backend
    from posekit.predict.quantize import calibration_images, parse_precision, precision_backend, resolve_precision

    parse_precision(precision, allow_auto=True)  # before any loading
    project = Project.open(config)
    if snapshot is None:
        train_dir, _, snapshot = selected_snapshot(project, shuffle, trainingsetindex)
    snapshot = Path(snapshot)
    precision = resolve_precision(precision, backend, snapshot=snapshot,
                                  calibration=lambda: calibration_images(project, shuffle, trainingsetindex))
    backend = precision_backend(precision, backend)
    train_dir = snapshot.parent
    meta = read_snapshot_metadata(snapshot)
    pose_cfg = read_pose_cfg(train_dir / "pose_cfg.yaml")
    overrides = {k: meta[k] for k in ("net_type", "output_stride") if k in meta}
    if "backbone_features" in meta:
        overrides["backbone_features"] = meta["backbone_features"]
    model = pose_net_from_cfg(pose_cfg, **overrides)
    state = read_snapshot_dict(snapshot)  # a damaged file: an error naming it
    variables = {"params": state["params"], "batch_stats": state.get("batch_stats", {})}
    iteration = int(meta.get("iteration", state.get("step", 0)))
    fields: dict[str, Any] = {
        "model": model,
        "variables": variables,
        "bodyparts": list(pose_cfg["all_joints_names"]),
        "iteration": iteration,
        "scorer": scorer_name(project, shuffle, iteration, model.net_type),
        "snapshot": snapshot,
        "pose_cfg": pose_cfg,
        "batch_size": int(batch_size or project.cfg["batch_size"]),
        "threads": threads,
        "precision": precision,
    }
    if precision == "int8":
        fields["calibration_images"] = functools.partial(calibration_images, project, shuffle, trainingsetindex)
    chosen = resolve_backend(backend)
    if backend == "auto" and chosen == "onnx":
        try:
            return Predictor(**fields, backend="onnx")
        except Exception as exc:  # noqa: BLE001 - fall back to the reference backend
            warnings.warn(f"ONNX Runtime backend unavailable ({type(exc).__name__}: {exc}); "
                          "predicting with JAX.", stacklevel=2)
            chosen = "jax"
    return Predictor(**fields, backend=chosen)
