"""Reduced-precision inference: ``precision="fp32" | "int8" | "bf16"``.

* ``"int8"``: ONNX Runtime static quantization of the float32 export
  (:mod:`posekit.predict.onnx_export`) in QDQ format: int8 weights per output
  channel, uint8 activations whose ranges are calibrated (min/max) on the
  shuffle's own training images, fed at their own size exactly as inference
  feeds frames (the graph takes any size; nothing is resized or padded). The
  convolutions, additions and max-pool of the backbone run in int8 (VNNI /
  AMX-INT8 where the CPU has them); the argmax decode always stays float32, and
  so do the two prediction heads by default (see :data:`DEFAULT_KEEP_FLOAT`).
  A CPU without int8 dot-product instructions (x86 before VNNI, i.e. AVX2
  only) gets a warning: less speed, and uint8 x int8 products that can
  saturate (:func:`int8_cpu_support`).
  The model is cached as ``snapshot-<n>.int8.onnx`` beside the snapshot and the
  float32 ``snapshot-<n>.onnx``, and rebuilt when the snapshot or the
  quantization settings change (:func:`cached_int8_export`). The settings are
  optional keys of the shuffle's ``train/pose_cfg.yaml`` (:func:`int8_settings`):
  ``int8_keep_float`` (default ``[heads]``; ``[]``, ``[conv1, heads]``),
  ``int8_symmetric`` (default false), ``int8_calibration_frames`` (default 32)
  and ``int8_calibration`` (``minmax``, the default: each tensor's range over
  all calibration frames; ``mean_minmax``: the mean of each frame's range,
  which clips rare extremes).
* ``"bf16"``: ONNX Runtime's CPU provider has no bfloat16 convolution, so bf16
  runs with JAX/XLA and ``PoseNet(dtype=bfloat16)`` (mixed precision: float32
  outputs), as pose_cfg ``compute_dtype: bfloat16`` does. It is for GPUs: on
  a CPU it warns, as XLA's CPU convolutions gained nothing from bfloat16 even
  on a Xeon with AMX-BF16 and AVX512-BF16 (also with the oneDNN XLA flags), and
  a CPU without them emulates it, slower than float32
  (:func:`bf16_cpu_support`). For CPU speed use int8.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_CALIBRATION_FRAMES",
    "DEFAULT_KEEP_FLOAT",
    "INT8_FORMAT_VERSION",
    "PRECISIONS",
    "PRECISION_ENV",
    "auto_precision",
    "bf16_cpu_support",
    "cached_int8_export",
    "calibration_images",
    "int8_cache_path",
    "int8_cpu_support",
    "int8_settings",
    "parse_precision",
    "precision_backend",
    "quantize_onnx_model",
    "resolve_precision",
]

#: The precisions a run can use (``"auto"``, the default, picks one: :func:`auto_precision`).
PRECISIONS = ("fp32", "int8", "bf16")
#: Environment variable that overrides what ``precision="auto"`` picks (e.g. ``fp32`` for a whole lab).
PRECISION_ENV = "POSEKIT_PRECISION"
#: Bumped whenever the quantized graph changes, so stale ``.int8.onnx`` files are rebuilt.
INT8_FORMAT_VERSION = "1"
#: Training images the int8 ranges are calibrated on (evenly spaced over the training split).
DEFAULT_CALIBRATION_FRAMES = 32
#: Layers kept in float32 by default: the heads are a few percent of the work (one
#: transposed conv to J and 2J channels) but their outputs are the logits and offsets
#: the decode reads, where 256 levels cost location accuracy directly (demo network,
#: benchmarks/bench_precision.py: test error +0.11 px from float32 with the heads in
#: float32, +0.21 px with them quantized; mean deviation on its video 0.60 vs 0.70 px).
DEFAULT_KEEP_FLOAT: tuple[str, ...] = ("heads",)
_KEEP_FLOAT_CHOICES = ("conv1", "heads")
_CALIBRATIONS = ("minmax", "mean_minmax")
# Op types quantized; the decode's own Add/Mul nodes are excluded by name (_float_nodes).
_QUANTIZED_OPS = ["Conv", "ConvTranspose", "Add", "MaxPool", "Relu"]


def parse_precision(precision: str, *, allow_auto: bool = False) -> str:
    """Check a ``precision`` argument: ``"fp32"``, ``"int8"`` or ``"bf16"`` (case-insensitive).

    With ``allow_auto``, ``"auto"`` too (returned as it is; :func:`resolve_precision`
    decides it).

    Raises
    ------
    ValueError
        Any other value (the message lists the choices).
    """
    value = str(precision).strip().lower() if isinstance(precision, str) else None
    aliases = {"float32": "fp32", "bfloat16": "bf16"}
    value = aliases.get(value, value)
    choices = (*PRECISIONS, "auto") if allow_auto else PRECISIONS
    if value not in choices:
        raise ValueError(
            f"precision must be one of {list(choices)} ("
            + ("'auto', the default, picks 'int8' or 'fp32' for this machine; " if allow_auto else "")
            + "'int8' runs an ONNX Runtime int8 model calibrated on the training images; 'bf16' runs JAX in "
            f"bfloat16), got {precision!r}."
        )
    return value


def auto_precision(backend: str = "auto") -> str:
    """What ``precision="auto"`` runs in this process: ``"int8"`` or ``"fp32"``.

    The environment variable ``POSEKIT_PRECISION`` (``fp32``, ``int8`` or
    ``bf16``) if set; else ``"int8"`` where ONNX Runtime runs the network
    (``backend`` resolved as :func:`~posekit.predict.onnx_backend.resolve_backend`
    does: a CPU with ``onnxruntime``) and the CPU has int8 dot-product
    instructions (:func:`int8_cpu_support`: VNNI, AMX-INT8, ARM dot product);
    else ``"fp32"``: on GPUs (JAX), on older CPUs where int8 gains less and can
    saturate, and where the CPU cannot be told (not Linux).

    Raises
    ------
    ValueError
        ``POSEKIT_PRECISION`` holds something else.
    """
    from posekit.predict.onnx_backend import resolve_backend

    chosen = os.environ.get(PRECISION_ENV, "").strip()
    if chosen:
        try:
            return parse_precision(chosen)
        except ValueError as exc:
            raise ValueError(f"The environment variable {PRECISION_ENV}: {exc}") from None
    if resolve_backend(backend) != "onnx":
        return "fp32"
    return "int8" if int8_cpu_support() else "fp32"


def resolve_precision(
    precision: str,
    backend: str = "auto",
    *,
    snapshot: str | os.PathLike | None = None,
    calibration: Callable[[], Sequence[Path]] | None = None,
    decide: Callable[[str], str] | None = None,
) -> str:
    """The precision a run uses: ``precision`` checked, and ``"auto"`` decided.

    ``"auto"`` is ``decide(backend)`` (default :func:`auto_precision`, for this
    process; a Dask run asks a worker), but int8 only where its model exists or
    can be built: ``snapshot``'s cached ``.int8.onnx`` is there, or
    ``calibration()`` lists training images that exist. Otherwise float32.

    Raises
    ------
    ValueError
        A bad ``precision`` (or ``POSEKIT_PRECISION``).
    """
    precision = parse_precision(precision, allow_auto=True)
    if precision != "auto":
        return precision
    chosen = (decide or auto_precision)(backend)
    if chosen == "int8" and calibration is not None and not (snapshot and int8_cache_path(snapshot).exists()):
        try:
            images = calibration()
        except (OSError, ValueError, KeyError):
            images = []
        if not images or not all(Path(image).exists() for image in images):
            return "fp32"
    return chosen


def _cpu_flags(names: Sequence[str], cpuinfo: str | os.PathLike) -> list[str] | None:
    """Which of ``names`` the CPU flags list (None: no ``/proc/cpuinfo``, not Linux)."""
    try:
        flags = set(Path(cpuinfo).read_text(errors="replace").split())
    except OSError:
        return None
    return [f for f in names if f in flags]


def bf16_cpu_support(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str | None:
    """The CPU's native bfloat16 instruction sets (``"amx_bf16"``, ``"avx512_bf16"``), or None.

    None also where it cannot be told (no ``/proc/cpuinfo``: not Linux).
    """
    return ",".join(_cpu_flags(("amx_bf16", "avx512_bf16"), cpuinfo) or []) or None


def int8_cpu_support(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str | None:
    """The CPU's int8 dot-product instruction sets, ``""`` if it has none, None if it cannot be told.

    x86: ``amx_int8``, ``avx512_vnni``, ``avx_vnni``; ARM: ``i8mm``, ``asimddp``.
    Without them ONNX Runtime's int8 convolutions are slower, and on AVX2 its
    uint8 x int8 products can saturate (a larger accuracy cost).
    """
    found = _cpu_flags(("amx_int8", "avx512_vnni", "avx_vnni", "i8mm", "asimddp"), cpuinfo)
    return None if found is None else ",".join(found)


def int8_cache_path(snapshot: str | os.PathLike) -> Path:
    """``snapshot-<n>.int8.onnx`` beside ``snapshot-<n>.msgpack`` (and its float32 ``.onnx``)."""
    return Path(snapshot).with_suffix(".int8.onnx")


def calibration_images(config: Any, shuffle: int = 1, trainingsetindex: int = 0,
                       frames: int = DEFAULT_CALIBRATION_FRAMES) -> list[Path]:
    """Up to ``frames`` images of the shuffle's training split, evenly spaced (never the test split).

    The test images stay out so that the int8 test error measures what it claims.
    """
    from posekit.dataset.training_set import TrainingSet

    paths, _ = TrainingSet.read(config, shuffle, trainingsetindex).arrays("train")
    if len(paths) > frames:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, frames).round().astype(int)]
    return list(paths)


class _ImageReader:
    """ONNX Runtime ``CalibrationDataReader`` over image files, one frame per run, at its own size."""

    def __init__(self, paths: Sequence[Path], input_name: str = "images") -> None:
        self._paths = iter(paths)
        self._input = input_name

    def get_next(self) -> dict[str, np.ndarray] | None:
        from posekit.io.images import read_image

        path = next(self._paths, None)
        return None if path is None else {self._input: read_image(path)[None]}


def _keep_float(keep_float: Iterable[str]) -> list[str]:
    keep = sorted(set(keep_float))
    unknown = [k for k in keep if k not in _KEEP_FLOAT_CHOICES]
    if unknown:
        raise ValueError(f"keep_float may name {list(_KEEP_FLOAT_CHOICES)}, got {unknown}")
    return keep


def int8_settings(pose_cfg: Mapping[str, Any], where: str | os.PathLike = "pose_cfg.yaml") -> dict[str, Any]:
    """The int8 settings of a shuffle: ``keep_float``, ``symmetric``, ``calibration_frames``, ``calibration``.

    From the optional pose_cfg keys ``int8_keep_float`` (layers left in float32:
    ``conv1``, ``heads``), ``int8_symmetric``, ``int8_calibration_frames`` and
    ``int8_calibration`` (``minmax`` or ``mean_minmax``; see the module docstring).

    Raises
    ------
    ValueError
        A key of the wrong kind (the message names ``where`` and the key).
    """
    keep = pose_cfg.get("int8_keep_float", list(DEFAULT_KEEP_FLOAT))
    symmetric = pose_cfg.get("int8_symmetric", False)
    frames = pose_cfg.get("int8_calibration_frames", DEFAULT_CALIBRATION_FRAMES)
    calibration = pose_cfg.get("int8_calibration", "minmax")
    if calibration not in _CALIBRATIONS:
        raise ValueError(f"'{where}': int8_calibration must be one of {list(_CALIBRATIONS)}, got {calibration!r}.")
    if not isinstance(keep, (list, tuple)) or any(k not in _KEEP_FLOAT_CHOICES for k in keep):
        raise ValueError(f"'{where}': int8_keep_float must be a list drawn from {list(_KEEP_FLOAT_CHOICES)} "
                         f"(e.g. [heads]), got {keep!r}.")
    if not isinstance(symmetric, bool):
        raise ValueError(f"'{where}': int8_symmetric must be true or false, got {symmetric!r}.")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise ValueError(f"'{where}': int8_calibration_frames must be a whole number >= 1, got {frames!r}.")
    return {"keep_float": sorted(set(keep)), "symmetric": symmetric, "calibration_frames": frames,
            "calibration": calibration}


_HEADS = ("part_pred_head_", "locref_head_")


def _float_nodes(proto: Any, keep: Sequence[str]) -> list[str]:
    """Names of the nodes left in float32: the decode, and what ``keep`` (``"conv1"``, ``"heads"``) names.

    The decode (every node after the first head, the export's order) holds
    ``Add`` and ``Mul`` of pixel coordinates: quantized, x and y would snap to
    1/255 of the frame size.
    """
    wanted = (("conv1_",) if "conv1" in keep else ()) + (_HEADS if "heads" in keep else ())
    names, decode = [], False
    for node in proto.graph.node:
        output = node.output[0] if node.output else ""
        head = output.startswith(_HEADS)
        decode = decode or head
        if output.startswith(wanted) if wanted else False:
            names.append(node.name)
        elif decode and not head:
            names.append(node.name)
    return names


def quantize_onnx_model(model: Any, images: Sequence[str | os.PathLike], *,
                        keep_float: Iterable[str] = DEFAULT_KEEP_FLOAT, symmetric: bool = False,
                        calibration: str = "minmax", metadata: Mapping[str, str] | None = None) -> bytes:
    """Statically quantize a posekit float32 ONNX export (QDQ, per-channel int8 weights).

    Parameters
    ----------
    model
        The float32 export: a ``.onnx`` path, its bytes or an ``onnx.ModelProto``.
    images
        Calibration images (RGB files), each run at its own size.
    keep_float
        Layers left in float32: ``"conv1"`` (the first convolution), ``"heads"``
        (the two prediction heads).
    symmetric
        Symmetric activation ranges (int8, zero point 0) instead of asymmetric uint8.
    calibration
        ``"minmax"``: each tensor's range over all frames; ``"mean_minmax"``:
        the mean over frames of each frame's range (rare extremes clipped).
    metadata
        ``metadata_props`` to set on the result (the export's are kept).

    Returns
    -------
    bytes
        The serialised int8 model.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not images:
        raise ValueError("int8 calibration needs at least one training image; label frames and re-run "
                         "create_training_dataset, or use precision='fp32'.")
    if isinstance(model, bytes):
        proto = onnx.load_from_string(model)
    elif isinstance(model, (str, os.PathLike)):
        proto = onnx.load(str(model))
    else:
        proto = model
    keep = _keep_float(keep_float)
    if calibration not in _CALIBRATIONS:
        raise ValueError(f"calibration must be one of {list(_CALIBRATIONS)}, got {calibration!r}")
    props = {p.key: p.value for p in proto.metadata_props}
    props.update(metadata or {})
    with tempfile.TemporaryDirectory(prefix="posekit-int8-") as work:
        prepared, out = Path(work) / "prepared.onnx", Path(work) / "int8.onnx"
        # ONNX Runtime's recommended first step: shape inference and graph optimisation
        # (the symbolic frame size stays symbolic)
        quant_pre_process(proto, prepared)
        quantize_static(
            prepared, out, _ImageReader([Path(p) for p in images]),
            quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=False,
            activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
            weight_type=QuantType.QInt8, op_types_to_quantize=_QUANTIZED_OPS,
            nodes_to_exclude=_float_nodes(proto, keep), calibrate_method=CalibrationMethod.MinMax,
            # (the min/max calibrator keeps per-tensor minima and maxima, not activations:
            # memory stays small however many frames; "CalibMaxIntermediateOutputs" would
            # drop collected ranges in onnxruntime 1.32, so it is not used)
            extra_options={"ActivationSymmetric": bool(symmetric),
                           # with every frame's ranges collected at once, onnxruntime's
                           # "moving average" is their mean over the frames
                           "CalibMovingAverage": calibration == "mean_minmax"},
        )
        result = onnx.load(str(out))
    del result.metadata_props[:]
    onnx.helper.set_model_props(result, props)
    return result.SerializeToString()


def _read_metadata(path: Path) -> dict[str, str]:
    import onnx

    try:
        return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    except Exception:  # noqa: BLE001 - a damaged cache is just rebuilt
        return {}


def cached_int8_export(
    model: Any,
    variables: Mapping[str, Any],
    snapshot: str | os.PathLike,
    images: Callable[[int], Sequence[str | os.PathLike]],
    *,
    locref_stdev: float | None = None,
    keep_float: Iterable[str] = DEFAULT_KEEP_FLOAT,
    symmetric: bool = False,
    calibration_frames: int = DEFAULT_CALIBRATION_FRAMES,
    calibration: str = "minmax",
    force: bool = False,
) -> Path | bytes:
    """The int8 model of a snapshot: ``snapshot-<n>.int8.onnx``, quantized unless it is current.

    Re-used when it is at least as new as the snapshot and its metadata
    matches (the float32 export's, the snapshot's size and time, the int8
    format version and the quantization settings); else the float32 export is
    (re)made (:func:`~posekit.predict.onnx_export.cached_onnx_export`) and
    quantized, calibrated on ``images``, and written atomically. A read-only
    folder gives the model as bytes instead (with a warning).

    Parameters
    ----------
    model, variables
        The :class:`~posekit.model.pose_net.PoseNet` and its variables.
    snapshot
        The ``snapshot-<n>.msgpack`` file.
    images
        ``images(calibration_frames)``: the calibration images (e.g.
        :func:`calibration_images` of the shuffle), only called when the model
        is (re)built; none raises ValueError.
    locref_stdev, keep_float, symmetric
        As for :func:`~posekit.predict.onnx_export.build_onnx_model` and
        :func:`quantize_onnx_model`.
    calibration_frames
        Most calibration images.
    calibration
        ``"minmax"`` or ``"mean_minmax"`` (:func:`quantize_onnx_model`).
    force
        Rebuild even if the cache is current.

    Returns
    -------
    pathlib.Path or bytes
    """
    from posekit.model.targets import LOCREF_STDEV
    from posekit.predict.onnx_export import (
        _snapshot_stamp,
        cache_is_valid,
        cache_model_bytes,
        cached_onnx_export,
        export_metadata,
    )

    snapshot = Path(snapshot)
    locref_stdev = LOCREF_STDEV if locref_stdev is None else float(locref_stdev)
    options = {"keep_float": _keep_float(keep_float), "symmetric": bool(symmetric),
               "calibration_frames": int(calibration_frames), "calibration": calibration}
    cache = int8_cache_path(snapshot)
    stamp = {**_snapshot_stamp(snapshot), "posekit.precision": "int8",
             "posekit.int8_format": INT8_FORMAT_VERSION, "posekit.int8_options": json.dumps(options)}
    expected = {**export_metadata(model, locref_stdev=locref_stdev), **stamp}
    if not force and cache.is_file() and cache_is_valid(cache, snapshot, _read_metadata(cache), expected):
        return cache
    images = list(images(options["calibration_frames"]))
    # a ResNet-50 takes tens of seconds to calibrate on a laptop: say why the first call waits
    print(f"Quantizing '{snapshot.name}' to int8, calibrated on {len(images)} training image(s); "
          f"once, cached as '{cache.name}'.", flush=True)
    source = cached_onnx_export(model, variables, snapshot, locref_stdev=locref_stdev)
    stamp["posekit.calibration_frames"] = str(len(images))
    data = quantize_onnx_model(source, images, keep_float=options["keep_float"], symmetric=symmetric,
                               calibration=calibration, metadata=stamp)
    return cache_model_bytes(cache, data, "int8 model", "quantized again")


def precision_backend(precision: str, backend: str = "auto", *, warn: bool = True) -> str:
    """The backend that runs ``precision``: ``"auto"`` resolved, an impossible pair refused.

    int8 runs only with ONNX Runtime and bf16 only with JAX (ONNX Runtime's
    CPU provider has no bfloat16 convolution); fp32 keeps ``backend``. bf16 on
    a CPU warns that it brings no speed there (emulated without AVX512-BF16 or
    AMX-BF16), unless ``warn`` is False.

    Raises
    ------
    ValueError
        A bad precision, or ``backend`` named explicitly but unable to run it.
    ImportError
        int8 without ``onnxruntime`` installed.
    """
    precision = parse_precision(precision)
    if precision == "fp32":
        return backend
    needed = {"int8": "onnx", "bf16": "jax"}[precision]
    if backend not in ("auto", needed):
        raise ValueError(
            f"precision={precision!r} runs with backend={needed!r} only, got backend={backend!r}: "
            + ("int8 is an ONNX Runtime model." if precision == "int8" else
               "ONNX Runtime's CPU provider has no bfloat16 convolution.")
            + " Leave backend='auto'."
        )
    if needed == "onnx":
        from posekit.predict.onnx_backend import onnxruntime_available

        if not onnxruntime_available():
            raise ImportError("precision='int8' needs onnx and onnxruntime: pip install onnx onnxruntime")
        if warn and int8_cpu_support() == "":
            warnings.warn(
                "precision='int8': this CPU has no int8 dot-product instructions (VNNI, AMX-INT8, ARM "
                "dot product), so int8 gains less speed and its uint8 x int8 products can saturate (AVX2). "
                "Check its cost with evaluate_network(..., precision='int8') against 'fp32'.", stacklevel=3)
        return needed
    import jax

    if warn and jax.default_backend() == "cpu":
        native = bf16_cpu_support()
        why = (f"this CPU has {native}, but XLA's CPU convolutions gain nothing from bfloat16 (measured no "
               "faster than float32 on an AMX-BF16 Xeon)" if native else
               "this CPU has no native bfloat16 arithmetic (AVX512-BF16 or AMX-BF16), so XLA emulates it and "
               "it runs slower than 'fp32'")
        warnings.warn(f"precision='bf16' on the CPU: {why}. bf16 is for GPUs; on a CPU use 'int8' for speed.",
                      stacklevel=3)
    return needed
