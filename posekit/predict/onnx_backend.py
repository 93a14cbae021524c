"""Pose prediction with ONNX Runtime on the CPU (the export of :mod:`posekit.predict.onnx_export`).

:class:`OnnxPosePredictor` wraps one ``onnxruntime.InferenceSession``
(``CPUExecutionProvider``, one intra-op thread per usable core, all graph
optimisations) around a posekit export, whose graph already holds the
mean-pixel subtraction and the argmax decode: ``predict(frames)`` returns
``(n, J, 3)`` x, y, likelihood exactly like
:meth:`posekit.predict.predictor.Predictor.predict`. Batch and frame size are
dynamic, so nothing is padded or recompiled per video.

:meth:`OnnxPosePredictor.predict_async` runs the batch in one worker thread
(ONNX Runtime releases the GIL) and returns a :class:`PendingPoses` at once;
``numpy.asarray(pending)`` waits for it. Batches run one after another in
submission order, so a caller can decode frame ``k + 1`` while batch ``k``
computes, as :func:`posekit.predict.frame_loop.predict_frames` does with JAX.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OnnxPosePredictor", "PendingPoses", "onnxruntime_available", "resolve_backend", "usable_cores"]


def onnxruntime_available() -> bool:
    """Whether ``onnx`` and ``onnxruntime`` can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken install counts as missing
        return False
    return True


def resolve_backend(backend: str = "auto") -> str:
    """``"jax"`` or ``"onnx"`` for a :func:`~posekit.predict.predictor.load_predictor` ``backend``.

    ``"auto"``: the ``POSEKIT_PREDICT_BACKEND`` environment variable if set, else
    ONNX Runtime when JAX's default backend is the CPU and ``onnxruntime`` is
    installed, else JAX.

    Raises
    ------
    ValueError
        Any other backend name.
    """
    if backend == "auto":
        backend = os.environ.get("POSEKIT_PREDICT_BACKEND", "").strip().lower() or "auto"
        if backend == "auto":
            import jax

            return "onnx" if jax.default_backend() == "cpu" and onnxruntime_available() else "jax"
    if backend not in ("jax", "onnx"):
        raise ValueError(f"backend must be 'auto', 'jax' or 'onnx', got {backend!r}")
    return backend


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class PendingPoses:
    """The future result of :meth:`OnnxPosePredictor.predict_async`.

    ``numpy.asarray(pending)`` (or :meth:`result`) blocks until the batch is
    done and returns the ``(n, J, 3)`` float32 poses; errors are raised there.
    """

    def __init__(self, future: Future) -> None:
        self._future = future

    def result(self) -> np.ndarray:
        """Wait for and return the poses."""
        return self._future.result()

    def block_until_ready(self) -> PendingPoses:
        """Wait (like ``jax.Array.block_until_ready``); returns ``self``."""
        self._future.result()
        return self

    def done(self) -> bool:
        """Whether the batch has finished."""
        return self._future.done()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        out = self._future.result()
        if dtype is not None and np.dtype(dtype) != out.dtype:
            return out.astype(dtype)
        return out.copy() if copy else out

    def __len__(self) -> int:
        return len(self._future.result())


class OnnxPosePredictor:
    """Predict poses with ONNX Runtime (CPU) from a posekit ONNX export.

    Parameters
    ----------
    model
        Path of a ``.onnx`` file written by
        :func:`~posekit.predict.onnx_export.export_onnx` (with the default
        ``decode=True``), or its bytes.
    threads
        Intra-op threads (default: the usable cores).
    optimize
        Apply all ONNX Runtime graph optimisations (fusions, NCHWc layout).

    Attributes
    ----------
    session : onnxruntime.InferenceSession
    metadata : dict
        The export's ``posekit.*`` metadata.
    num_joints : int
    input_dtype : numpy.dtype
        ``uint8`` for the default export.
    max_run_frames : int
        Most frames one ``session.run`` gets; bigger batches run in pieces.
        ONNX Runtime's speed hardly depends on the batch (ResNet-50 640x480:
        2.17 / 2.24 / 2.14 frames/s at 1 / 8 / 32) but its memory grows with
        it (0.9 / 1.6 / 4.7 GB).
    """

    max_run_frames: int = 8

    def __init__(self, model: str | os.PathLike | bytes, *, threads: int | None = None,
                 optimize: bool = True) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or usable_cores())
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                            else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        source = model if isinstance(model, bytes) else str(Path(model))
        self.source = None if isinstance(model, bytes) else Path(model)
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        outputs = [o.name for o in self.session.get_outputs()]
        if "poses" not in outputs:
            raise ValueError("This ONNX model has no 'poses' output; export it with decode=True")
        self._outputs = outputs
        (inp,) = self.session.get_inputs()
        self._input = inp.name
        self.input_dtype = np.dtype(np.uint8 if inp.type == "tensor(uint8)" else np.float32)
        self.num_joints = int(self.session.get_outputs()[outputs.index("poses")].shape[1])
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ #
    @classmethod
    def from_snapshot(cls, model: Any, variables: Mapping[str, Any],
                      snapshot: str | os.PathLike, *, locref_stdev: float | None = None,
                      threads: int | None = None) -> OnnxPosePredictor:
        """Use (exporting first if needed) the ``snapshot-<n>.onnx`` cache of a snapshot.

        See :func:`~posekit.predict.onnx_export.cached_onnx_export` for when
        the cache is rebuilt.
        """
        from posekit.predict.onnx_export import cached_onnx_export

        return cls(cached_onnx_export(model, variables, snapshot, locref_stdev=locref_stdev),
                   threads=threads)

    @classmethod
    def from_variables(cls, model: Any, variables: Mapping[str, Any], *,
                       locref_stdev: float | None = None,
                       threads: int | None = None) -> OnnxPosePredictor:
        """Export ``model`` + ``variables`` in memory (no file) and open a session."""
        from posekit.predict.onnx_export import serialize_onnx_model

        return cls(serialize_onnx_model(model, variables, locref_stdev=locref_stdev),
                   threads=threads)

    # ------------------------------------------------------------------ #
    def _prepare(self, frames: Any) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be (n, H, W, 3) RGB, got shape {frames.shape}")
        if frames.dtype == self.input_dtype:
            return np.ascontiguousarray(frames)
        if self.input_dtype == np.uint8:
            converted = frames.astype(np.uint8)
            if not np.array_equal(converted, frames):
                raise ValueError("This ONNX model takes uint8 frames; got non-integer or "
                                 f"out-of-range {frames.dtype} values")
            return converted
        return frames.astype(np.float32)

    def predict(self, frames: Any) -> np.ndarray:
        """Poses of RGB frames ``(n, H, W, 3)`` (uint8, 0-255): ``(n, J, 3)`` float32."""
        frames = self._prepare(frames)
        if len(frames) == 0:
            return np.zeros((0, self.num_joints, 3), np.float32)
        pieces = [self.session.run(["poses"], {self._input: frames[start:start + self.max_run_frames]})[0]
                  for start in range(0, len(frames), self.max_run_frames)]
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def heads(self, frames: Any) -> dict[str, np.ndarray]:
        """The network's maps like ``PoseNet``'s outputs: NHWC ``part_pred`` (logits), ``locref``."""
        frames = self._prepare(frames)
        names = [n for n in ("part_pred", "locref") if n in self._outputs]
        values = self.session.run(names, {self._input: frames})
        return {n: np.ascontiguousarray(v.transpose(0, 2, 3, 1)) for n, v in zip(names, values, strict=True)}

    def predict_async(self, frames: Any) -> PendingPoses:
        """Start :meth:`predict` in the worker thread; returns a :class:`PendingPoses` at once.

        ``frames`` is copied first, so the caller may refill its buffer
        immediately.
        """
        frames = np.array(frames, copy=True)
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1,
                                                    thread_name_prefix="posekit-onnx")
            return PendingPoses(self._executor.submit(self.predict, frames))

    def close(self) -> None:
        """Stop the worker thread (pending batches finish first)."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def __del__(self) -> None:  # pragma: no cover - best effort
        executor = getattr(self, "_executor", None)
        if executor is not None:
            executor.shutdown(wait=False)
