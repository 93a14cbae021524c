"""Export a :class:`~posekit.model.pose_net.PoseNet` to ONNX, straight from its Flax variables.

The graph is written node by node with :mod:`onnx.helper` (no jax2tf, tf2onnx
or torch in the loop), mirroring :mod:`posekit.model.resnet` and
:mod:`posekit.model.heads` layer for layer:

* input ``images``: ``(batch, height, width, 3)`` RGB in 0-255, ``uint8`` by
  default (``float32`` on request), every dimension but the channels symbolic
  unless fixed at export, so one file serves every video size;
* one ``Transpose`` to NCHW, ``Cast`` to float32, ``Sub`` of ``mean_pixel``
  (inside the graph, before ``conv1``'s zero padding, exactly as the network);
* every convolution + eval-mode batch norm folded into one ``Conv`` with bias
  (``w * scale / sqrt(var + eps)``, ``beta - mean * scale / sqrt(var + eps)``,
  computed in float64), with the explicit symmetric padding, stride and
  dilation :func:`posekit.model.resnet._conv` uses; ``MaxPool`` 3x3/2 padded
  by 1 (ONNX pads max-pools with -inf, as Flax does); ``Relu``; ``Add``;
* the heads (:class:`~posekit.model.heads.PredictionHead`, i.e. Flax
  ``ConvTranspose`` with ``transpose_kernel=True``, ``SAME``, stride 2) as
  ``ConvTranspose`` whose pads are derived from
  :func:`jax.lax.conv_transpose`'s ``SAME`` rule: for a 3x3 kernel and stride
  2, ``pads = [0, 0, 1, 1]`` (nothing cut at the start, one row/column at the
  end), output ``2 * input``; the kernel maps without flipping (TensorFlow /
  ONNX ``conv2d_transpose`` semantics), layout ``(in, out, kh, kw)``;
* optionally (default) DeepLabCut's argmax decode in the graph
  (:func:`posekit.model.decode.decode_pose`): ``ArgMax`` over the flattened map
  per joint (first maximum, like ``np.argmax``), ``GatherElements`` of the
  logit and of the two offsets, ``Sigmoid``, ``x = col * stride + stride / 2 +
  dx * locref_stdev``.

Outputs: ``poses`` ``(batch, J, 3)`` (x, y, likelihood; with ``decode``),
``part_pred`` ``(batch, J, h, w)`` logits and ``locref`` ``(batch, 2J, h, w)``
(NCHW: transpose to compare with the network's NHWC maps). The intermediate
supervision head is a training aid and is not exported.

The computation is float32 whatever ``PoseNet.dtype`` is.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ONNX_FORMAT_VERSION",
    "build_onnx_model",
    "cached_onnx_export",
    "export_metadata",
    "export_onnx",
    "onnx_cache_path",
    "serialize_onnx_model",
]

#: Bumped whenever the exported graph changes, so stale cache files are rebuilt.
ONNX_FORMAT_VERSION = "1"

_OPSET = 17
_BN_EPSILON = 1e-5  # posekit.model.resnet._bn


# --------------------------------------------------------------------------- #
# Graph builder


class _Graph:
    """Nodes and initializers of one ONNX graph, with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, hint: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None,
           outputs: list[str] | None = None, **attrs: Any) -> str:
        from onnx import helper

        outputs = outputs or [self.name(hint or op_type.lower())]
        self.nodes.append(helper.make_node(op_type, inputs, outputs,
                                           name=self.name(f"{op_type}_node"), **attrs))
        return outputs[0]


def _np(tree: Any) -> Any:
    """A nested mapping of arrays as float64 numpy (host) arrays."""
    if isinstance(tree, Mapping):
        return {k: _np(v) for k, v in tree.items()}
    return np.asarray(tree, dtype=np.float64)


def _conv_bn(g: _Graph, x: str, conv: Mapping, bn: Mapping, stats: Mapping, *,
             stride: int = 1, dilation: int = 1, hint: str) -> str:
    """A bias-free Flax ``Conv`` (HWIO) + eval-mode ``BatchNorm``, folded into one ONNX Conv."""
    kernel = conv["kernel"]  # (kh, kw, in, out)
    kh, kw = kernel.shape[:2]
    if kh != kw:
        raise ValueError(f"{hint}: only square kernels are exported, got {kernel.shape}")
    scale = bn["scale"] / np.sqrt(stats["var"] + _BN_EPSILON)
    weight = np.transpose(kernel, (3, 2, 0, 1)) * scale[:, None, None, None]  # OIHW
    bias = bn["bias"] - stats["mean"] * scale
    pad = dilation * (kh - 1) // 2  # posekit.model.resnet._conv: explicit, symmetric
    return g.op(
        "Conv",
        [x, g.const(f"{hint}.weight", weight.astype(np.float32)),
         g.const(f"{hint}.bias", bias.astype(np.float32))],
        hint=hint,
        kernel_shape=[kh, kw], strides=[stride, stride], dilations=[dilation, dilation],
        pads=[pad, pad, pad, pad],
    )


def _head_pads(kernel: int, stride: int, dilation: int = 1) -> list[int]:
    """ONNX ``ConvTranspose`` pads equal to ``lax.conv_transpose(..., "SAME")`` (per spatial dim).

    ``lax`` pads the stride-dilated input by ``(a, b)`` and correlates with the
    flipped kernel; ONNX ConvTranspose scatters and then crops ``(k-1-a, k-1-b)``.
    """
    k = dilation * (kernel - 1) + 1
    pad_len = k + stride - 2
    pad_a = k - 1 if stride > k - 1 else int(np.ceil(pad_len / 2))
    pad_b = pad_len - pad_a
    begin, end = k - 1 - pad_a, k - 1 - pad_b
    if begin < 0 or end < 0:  # pragma: no cover - not reachable for 3x3 / stride 2
        raise ValueError(f"transposed conv k={kernel} s={stride} needs output_padding")
    return [begin, end]


def _head(g: _Graph, x: str, params: Mapping, *, hint: str) -> str:
    """:class:`~posekit.model.heads.PredictionHead` as an ONNX ``ConvTranspose``."""
    from posekit.model.heads import PredictionHead

    kernel = params["kernel"]  # transpose_kernel=True: (kh, kw, out, in)
    kh, kw = kernel.shape[:2]
    strides = tuple(PredictionHead.strides)
    if (not PredictionHead.transpose_kernel or PredictionHead.padding != "SAME"
            or tuple(PredictionHead.kernel_size) != (kh, kw)):
        raise ValueError("PredictionHead changed: the ONNX exporter must be updated")
    (b_h, e_h), (b_w, e_w) = _head_pads(kh, strides[0]), _head_pads(kw, strides[1])
    weight = np.transpose(kernel, (3, 2, 0, 1))  # (in, out, kh, kw), no flip
    return g.op(
        "ConvTranspose",
        [x, g.const(f"{hint}.weight", weight.astype(np.float32)),
         g.const(f"{hint}.bias", params["bias"].astype(np.float32))],
        hint=hint,
        kernel_shape=[kh, kw], strides=list(strides), pads=[b_h, b_w, e_h, e_w],
    )


def _backbone(g: _Graph, x: str, model: Any, params: Mapping, stats: Mapping) -> str:
    """The ResNet of :mod:`posekit.model.resnet` (same geometry rules), NCHW."""
    from posekit.model.resnet import NET_TYPES, layer_dilations

    block_kind, stage_sizes = NET_TYPES[model.net_type]
    x = _conv_bn(g, x, params["conv1"], params["bn1"], stats["bn1"], stride=2, hint="conv1")
    x = g.op("Relu", [x])
    x = g.op("MaxPool", [x], hint="maxpool", kernel_shape=[3, 3], strides=[2, 2],
             pads=[1, 1, 1, 1])
    previous_dilation = 1
    for index, (num_blocks, (stride, dilation)) in enumerate(
            zip(stage_sizes, layer_dilations(model.output_stride), strict=True)):
        layer = f"layer{index + 1}"
        for b in range(num_blocks):
            first = b == 0
            p, s = params[layer][str(b)], stats[layer][str(b)]
            name = f"{layer}.{b}"
            block_stride = stride if first else 1
            first_dilation = previous_dilation if first else dilation
            if block_kind == "basic":
                y = _conv_bn(g, x, p["conv1"], p["bn1"], s["bn1"], stride=block_stride,
                             dilation=first_dilation, hint=f"{name}.conv1")
                y = g.op("Relu", [y])
                y = _conv_bn(g, y, p["conv2"], p["bn2"], s["bn2"], dilation=dilation,
                             hint=f"{name}.conv2")
            else:
                y = _conv_bn(g, x, p["conv1"], p["bn1"], s["bn1"], hint=f"{name}.conv1")
                y = g.op("Relu", [y])
                y = _conv_bn(g, y, p["conv2"], p["bn2"], s["bn2"], stride=block_stride,
                             dilation=first_dilation, hint=f"{name}.conv2")
                y = g.op("Relu", [y])
                y = _conv_bn(g, y, p["conv3"], p["bn3"], s["bn3"], hint=f"{name}.conv3")
            shortcut = x
            if "downsample" in p:
                shortcut = _conv_bn(g, x, p["downsample"]["0"], p["downsample"]["1"],
                                    s["downsample"]["1"], stride=block_stride,
                                    hint=f"{name}.downsample")
            x = g.op("Relu", [g.op("Add", [y, shortcut])], hint=name)
        previous_dilation = dilation
    return x


def _decode(g: _Graph, part: str, locref: str | None, *, num_joints: int, stride: float,
            locref_stdev: float, output: str) -> str:
    """:func:`posekit.model.decode.decode_pose` on NCHW maps -> ``(B, J, 3)``."""
    def i64(v):
        return np.asarray(v, np.int64)

    def f32(v):
        return np.asarray(v, np.float32)

    flat = g.op("Reshape", [part, g.const("shape_flat", i64([0, 0, -1]))], hint="part_flat")
    index = g.op("ArgMax", [flat], hint="argmax", axis=2, keepdims=1, select_last_index=0)
    logit = g.op("GatherElements", [flat, index], hint="logit", axis=2)  # (B, J, 1)
    likelihood = g.op("Sigmoid", [logit], hint="likelihood")
    width = g.op("Shape", [part], hint="map_width", start=3, end=4)  # (1,) int64
    row = g.op("Div", [index, width], hint="row")
    col = g.op("Mod", [index, width], hint="col")
    cells = g.op("Cast", [g.op("Concat", [col, row], hint="colrow", axis=2)],
                 hint="colrow_f", to=1)  # FLOAT
    xy = g.op("Mul", [cells, g.const("stride", f32(stride))], hint="xy_scaled")
    xy = g.op("Add", [xy, g.const("half_stride", f32(stride / 2))], hint="xy_centre")
    if locref is not None:
        offsets = g.op("Reshape", [locref, g.const("shape_loc", i64([0, num_joints, 2, -1]))],
                       hint="locref_flat")  # (B, J, 2, hw)
        index4 = g.op("Unsqueeze", [index, g.const("axis3", i64([3]))], hint="index4")
        index4 = g.op("Expand", [index4, g.const("expand", i64([1, 1, 2, 1]))], hint="index4x")
        picked = g.op("GatherElements", [offsets, index4], hint="picked", axis=3)
        picked = g.op("Squeeze", [picked, g.const("axis3s", i64([3]))], hint="offset")
        picked = g.op("Mul", [picked, g.const("locref_stdev", f32(locref_stdev))],
                      hint="offset_px")
        xy = g.op("Add", [xy, picked], hint="xy")
    return g.op("Concat", [xy, likelihood], outputs=[output], axis=2)


# --------------------------------------------------------------------------- #
# Public API


def export_metadata(model: Any, *, locref_stdev: float, input_dtype: str = "uint8",
                    decode: bool = True) -> dict[str, str]:
    """The ``metadata_props`` an export of ``model`` carries (all strings)."""
    return {
        "posekit.onnx_format": ONNX_FORMAT_VERSION,
        "posekit.net_type": str(model.net_type),
        "posekit.output_stride": str(int(model.output_stride)),
        "posekit.num_joints": str(int(model.num_joints)),
        "posekit.location_refinement": str(bool(model.location_refinement)),
        "posekit.stride": repr(float(model.stride)),
        "posekit.locref_stdev": repr(float(locref_stdev)),
        "posekit.mean_pixel": ",".join(repr(float(v)) for v in model.mean_pixel),
        "posekit.input_dtype": input_dtype,
        "posekit.decode": str(bool(decode)),
    }


def build_onnx_model(
    model: Any,
    variables: Mapping[str, Any],
    *,
    input_hw: tuple[int, int] | None = None,
    batch_size: int | None = None,
    locref_stdev: float | None = None,
    decode: bool = True,
    input_dtype: str = "uint8",
    opset: int = _OPSET,
    extra_metadata: Mapping[str, str] | None = None,
    check: bool = True,
):
    """Build the ONNX ``ModelProto`` of a :class:`PoseNet` and its variables.

    Parameters
    ----------
    model
        The :class:`~posekit.model.pose_net.PoseNet`.
    variables
        ``{"params": ..., "batch_stats": ...}`` (batch norm is folded in eval mode).
    input_hw
        Fixed ``(height, width)``; None keeps them symbolic.
    batch_size
        Fixed batch; None keeps it symbolic.
    locref_stdev
        Offset scale baked into the decode (default: DeepLabCut's 7.2801).
    decode
        Put the argmax decode in the graph (output ``poses``).
    input_dtype
        ``"uint8"`` (video frames) or ``"float32"`` (0-255 values).
    opset
        ONNX opset (>= 15).
    extra_metadata
        More ``metadata_props`` (strings).
    check
        Run :func:`onnx.checker.check_model` (it serialises the model: about
        1 s for ResNet-50; :func:`serialize_onnx_model` checks the bytes it
        makes anyway).

    Returns
    -------
    onnx.ModelProto
    """
    import onnx
    from onnx import TensorProto, helper

    from posekit.model.targets import LOCREF_STDEV

    if locref_stdev is None:
        locref_stdev = LOCREF_STDEV
    elem = {"uint8": TensorProto.UINT8, "float32": TensorProto.FLOAT}.get(input_dtype)
    if elem is None:
        raise ValueError(f"input_dtype must be 'uint8' or 'float32', got {input_dtype!r}")
    if opset < 15:
        raise ValueError(f"opset must be >= 15 (Shape with start/end), got {opset}")
    params = _np(variables["params"])
    stats = _np(variables.get("batch_stats") or {})
    if "backbone" not in stats:
        raise ValueError("variables have no batch_stats/backbone: the batch-norm statistics "
                         "are needed to fold batch norm into the convolutions")
    num_joints = int(model.num_joints)

    g = _Graph()
    height, width = input_hw if input_hw is not None else ("height", "width")
    batch = batch_size if batch_size is not None else "batch"
    x = g.op("Transpose", ["images"], hint="nchw", perm=[0, 3, 1, 2])
    if input_dtype != "float32":
        x = g.op("Cast", [x], hint="float", to=TensorProto.FLOAT)
    mean = np.asarray(model.mean_pixel, np.float32).reshape(1, 3, 1, 1)
    x = g.op("Sub", [x, g.const("mean_pixel", mean)], hint="centred")
    top = _backbone(g, x, model, params["backbone"], stats["backbone"])
    part = _head(g, top, params["part_pred"], hint="part_pred_head")
    part = g.op("Identity", [part], outputs=["part_pred"])
    locref = None
    if model.location_refinement:
        locref = _head(g, top, params["locref_pred"], hint="locref_head")
        locref = g.op("Identity", [locref], outputs=["locref"])

    # output map size: 2 * ceil(size / output_stride) (symbolic unless fixed)
    def map_dim(size: Any, name: str) -> Any:
        if isinstance(size, str):
            return f"{name}_map"
        return 2 * -(-int(size) // int(model.output_stride))

    h_map, w_map = map_dim(height, "height"), map_dim(width, "width")
    outputs = []
    if decode:
        _decode(g, part, locref, num_joints=num_joints, stride=float(model.stride),
                locref_stdev=float(locref_stdev), output="poses")
        outputs.append(helper.make_tensor_value_info(
            "poses", TensorProto.FLOAT, [batch, num_joints, 3]))
    outputs.append(helper.make_tensor_value_info(
        "part_pred", TensorProto.FLOAT, [batch, num_joints, h_map, w_map]))
    if locref is not None:
        outputs.append(helper.make_tensor_value_info(
            "locref", TensorProto.FLOAT, [batch, 2 * num_joints, h_map, w_map]))
    inputs = [helper.make_tensor_value_info("images", elem, [batch, height, width, 3])]
    graph = helper.make_graph(g.nodes, f"posekit_{model.net_type}", inputs, outputs,
                              initializer=g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="posekit")
    proto.ir_version = min(proto.ir_version, 8)  # readable by older runtimes too
    meta = export_metadata(model, locref_stdev=float(locref_stdev), input_dtype=input_dtype,
                           decode=decode)
    meta.update(extra_metadata or {})
    helper.set_model_props(proto, meta)
    if check:
        onnx.checker.check_model(proto)
    return proto


def serialize_onnx_model(model: Any, variables: Mapping[str, Any], **kwargs: Any) -> bytes:
    """:func:`build_onnx_model` as checked, serialised bytes (what a session or file takes)."""
    import onnx

    data = build_onnx_model(model, variables, check=False, **kwargs).SerializeToString()
    onnx.checker.check_model(data)
    return data


def export_onnx(
    model: Any,
    variables: Mapping[str, Any],
    path: str | os.PathLike,
    input_hw: tuple[int, int] | None = None,
    batch_size: int | None = None,
    **kwargs: Any,
) -> Path:
    """Write ``model`` + ``variables`` as an ONNX file (atomically).

    Parameters
    ----------
    model, variables
        The :class:`~posekit.model.pose_net.PoseNet` and its
        ``{"params", "batch_stats"}``.
    path
        Output file (``.onnx``); written beside, then renamed.
    input_hw, batch_size
        Fix the input size / batch (default: symbolic, one file for all sizes).
    **kwargs
        ``locref_stdev``, ``decode``, ``input_dtype``, ``opset``,
        ``extra_metadata`` of :func:`build_onnx_model`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from posekit.utils.atomic import atomic_path

    data = serialize_onnx_model(model, variables, input_hw=input_hw, batch_size=batch_size,
                                **kwargs)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def onnx_cache_path(snapshot: str | os.PathLike) -> Path:
    """``snapshot-<n>.onnx`` beside ``snapshot-<n>.msgpack``."""
    return Path(snapshot).with_suffix(".onnx")


def _snapshot_stamp(snapshot: Path) -> dict[str, str]:
    st = snapshot.stat()
    return {"posekit.snapshot": snapshot.name, "posekit.snapshot_size": str(st.st_size),
            "posekit.snapshot_mtime_ns": str(st.st_mtime_ns)}


def cache_is_valid(cache: Path, snapshot: Path, metadata: Mapping[str, str],
                   expected: Mapping[str, str]) -> bool:
    """Whether ``cache`` (with ``metadata``) is an export of the current ``snapshot``."""
    try:
        if cache.stat().st_mtime_ns < snapshot.stat().st_mtime_ns:
            return False
    except OSError:
        return False
    return all(metadata.get(k) == v for k, v in expected.items())


def cached_onnx_export(
    model: Any,
    variables: Mapping[str, Any],
    snapshot: str | os.PathLike,
    *,
    locref_stdev: float | None = None,
    force: bool = False,
) -> Path | bytes:
    """Export ``model`` to ``snapshot-<n>.onnx`` beside its snapshot (unless it is current).

    The file is re-used when it is at least as new as the snapshot and its
    metadata matches (format version, network, decode constants, the
    snapshot's size and modification time). It is written atomically; if the
    folder is read-only the model is returned as bytes instead (with a warning).

    Returns
    -------
    pathlib.Path or bytes
        The cache file, or the serialised model when it could not be written.
    """
    from posekit.model.targets import LOCREF_STDEV

    snapshot = Path(snapshot)
    locref_stdev = LOCREF_STDEV if locref_stdev is None else float(locref_stdev)
    cache = onnx_cache_path(snapshot)
    expected = {**export_metadata(model, locref_stdev=locref_stdev), **_snapshot_stamp(snapshot)}
    if not force and cache.is_file():
        import onnx

        try:
            proto = onnx.load(str(cache), load_external_data=False)
            current = {p.key: p.value for p in proto.metadata_props}
        except Exception:  # noqa: BLE001 - a damaged cache is just rebuilt
            current = {}
        if cache_is_valid(cache, snapshot, current, expected):
            return cache
    data = serialize_onnx_model(model, variables, locref_stdev=locref_stdev,
                                extra_metadata=_snapshot_stamp(snapshot))
    return cache_model_bytes(cache, data, "ONNX export", "rebuilt")


def cache_model_bytes(cache: Path, data: bytes, what: str, redone: str) -> Path | bytes:
    """Write a model's bytes to ``cache`` atomically; the bytes themselves when that fails.

    A read-only or full snapshot folder only costs the work again on the next
    load (a warning says so), never the analysis.
    """
    try:
        from posekit.utils.atomic import atomic_path

        with atomic_path(cache) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        warnings.warn(f"Could not cache the {what} at '{cache}' ({exc}); using it from "
                      f"memory (it will be {redone} on the next load).", stacklevel=3)
        return data
    return cache
