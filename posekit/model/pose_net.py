"""The DeepLabCut 2.x single-animal pose network: ResNet backbone + DLC heads."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from posekit.model.heads import PredictionHead
from posekit.model.resnet import NET_TYPES, layer_dilations, resnet

__all__ = [
    "MEAN_PIXEL",
    "PoseNet",
    "init_pose_net",
    "output_map_shape",
    "pose_net_from_cfg",
    "preprocess",
    "replace_backbone",
]

#: DeepLabCut's ``mean_pixel`` (RGB, 0-255), subtracted from every image.
MEAN_PIXEL: tuple[float, float, float] = (123.68, 116.779, 103.939)

Variables = dict[str, Any]


def preprocess(
    images: jax.Array,
    mean_pixel: Sequence[float] = MEAN_PIXEL,
    dtype: Any = jnp.float32,
) -> jax.Array:
    """Turn RGB images (0-255, uint8 or float) into network input.

    As DeepLabCut: subtract ``mean_pixel`` per channel, no scaling by a
    standard deviation (torchvision's scaling is folded into ``conv1`` when its
    weights are loaded, see :func:`posekit.model.weights.load_torchvision_resnet`).

    Parameters
    ----------
    images
        ``(..., H, W, 3)`` RGB values in 0-255.
    mean_pixel
        Per-channel mean to subtract.
    dtype
        Output dtype.

    Returns
    -------
    jax.Array
        ``images - mean_pixel`` as ``dtype``.

    Raises
    ------
    ValueError
        If the last axis is not 3 (RGB).
    """
    if images.shape[-1] != 3:
        raise ValueError(
            f"images must be RGB with 3 channels last, got shape {images.shape}; "
            "convert grayscale frames to RGB first"
        )
    mean = jnp.asarray(mean_pixel, dtype=jnp.float32)
    return (images.astype(jnp.float32) - mean).astype(dtype)


def output_map_shape(
    height: int, width: int, output_stride: int = 16
) -> tuple[int, int]:
    """Size ``(h, w)`` of the score / locref maps for an input of ``height x width``.

    Parameters
    ----------
    height, width
        Input image size in pixels.
    output_stride
        Backbone output stride (the maps' stride is half of it).

    Returns
    -------
    tuple of int
        ``(2*ceil(height/output_stride), 2*ceil(width/output_stride))``.
    """
    layer_dilations(output_stride)  # validates
    return (2 * math.ceil(height / output_stride),
            2 * math.ceil(width / output_stride))


class PoseNet(nn.Module):
    """DeepLabCut's single-animal network: ResNet + transposed-conv heads.

    Attributes
    ----------
    num_joints
        Number of body parts ``J``.
    net_type
        ``"resnet_18"``, ``"resnet_34"``, ``"resnet_50"`` (DeepLabCut's
        default), ``"resnet_101"`` or ``"resnet_152"``.
    output_stride
        Backbone stride: 16 (DeepLabCut), 8 or 32. Output maps have half this
        stride (:attr:`stride`).
    intermediate_supervision
        Add DeepLabCut's extra part-score head on an inner ``layer3`` block.
    intermediate_supervision_layer
        1-based block of ``layer3`` that head reads (DeepLabCut's
        ``block3/unit_<n>``; default 12). slim's ``block3`` and torchvision's
        ``layer3`` are the same stage (stride 16, 1024 channels), so unit ``n``
        is torchvision block ``layer3.<n-1>``. ResNet-50 has only 6 blocks
        there (DeepLabCut fails on its default too), ResNet-101 23, -152 36.
    location_refinement
        Add the location-refinement head (DeepLabCut ``location_refinement``).
    mean_pixel
        RGB mean subtracted inside the network.
    backbone_features
        Width of the first ResNet stage; torchvision's 64 unless a test wants a
        tiny network (pretrained weights need 64).
    bn_momentum
        Flax momentum for batch-norm statistics when they are trained.
    dtype
        Computation dtype (e.g. ``jnp.bfloat16`` on GPU); outputs are float32.

    Notes
    -----
    ``model.apply(variables, images, use_running_average=True)`` takes RGB
    images ``(B, H, W, 3)`` in 0-255 (uint8 or float) and returns a dict:

    ``"part_pred"``
        ``(B, h, w, J)`` part score **logits** (sigmoid gives probabilities).
    ``"locref"``
        ``(B, h, w, 2J)`` location refinement, channel ``2j`` = dx,
        ``2j + 1`` = dy, in units of ``locref_stdev`` (if enabled).
    ``"part_pred_interm"``
        ``(B, h, w, J)`` intermediate-supervision logits (if enabled).

    with ``(h, w) = output_map_shape(H, W, output_stride)``. Pass
    ``use_running_average=False`` and ``mutable=["batch_stats"]`` to train the
    batch-norm statistics (from scratch); keep ``True`` to freeze them
    (fine-tuning ImageNet weights, as DeepLabCut does, and inference).
    """

    num_joints: int
    net_type: str = "resnet_50"
    output_stride: int = 16
    intermediate_supervision: bool = False
    intermediate_supervision_layer: int = 12
    location_refinement: bool = True
    mean_pixel: tuple[float, float, float] = MEAN_PIXEL
    backbone_features: int = 64
    bn_momentum: float = 0.9
    dtype: Any = jnp.float32

    def __post_init__(self) -> None:
        # a list would make the module unhashable (jit uses it as a static key)
        object.__setattr__(self, "mean_pixel", tuple(float(v) for v in self.mean_pixel))
        super().__post_init__()
        if int(self.num_joints) < 1:
            raise ValueError(f"num_joints must be >= 1, got {self.num_joints!r}")
        if self.net_type not in NET_TYPES:
            raise ValueError(
                f"net_type {self.net_type!r} is not supported; posekit builds "
                f"{', '.join(NET_TYPES)}"
            )
        layer_dilations(self.output_stride)
        if self.intermediate_supervision:
            self._check_intermediate_supervision()

    def _check_intermediate_supervision(self) -> None:
        if self.output_stride == 32:
            raise ValueError(
                "intermediate_supervision needs output_stride 16 or 8: with 32, "
                "layer3 and layer4 have different sizes"
            )
        blocks = NET_TYPES[self.net_type][1][2]
        if not 1 <= self.intermediate_supervision_layer <= blocks:
            raise ValueError(
                f"intermediate_supervision_layer must be in 1..{blocks} for "
                f"{self.net_type} (layer3 has {blocks} blocks), got "
                f"{self.intermediate_supervision_layer}; DeepLabCut's default 12 "
                "only exists in resnet_101 and resnet_152"
            )

    @property
    def stride(self) -> float:
        """Stride of the output maps in input pixels (pose_cfg ``stride``)."""
        return self.output_stride / 2

    @nn.compact
    def __call__(
        self, images: jax.Array, *, use_running_average: bool = True
    ) -> dict[str, jax.Array]:
        """Run the network on RGB ``images`` (0-255); see the class Notes."""
        x = preprocess(images, self.mean_pixel, self.dtype)
        features = resnet(
            self.net_type,
            output_stride=self.output_stride,
            base_features=self.backbone_features,
            bn_momentum=self.bn_momentum,
            dtype=self.dtype,
            name="backbone",
        )(x, use_running_average=use_running_average)

        def head(num_outputs: int, name: str, x: jax.Array) -> jax.Array:
            y = PredictionHead(num_outputs, dtype=self.dtype, name=name)(x)
            return y.astype(jnp.float32)

        top = features["layer4"]
        outputs = {"part_pred": head(self.num_joints, "part_pred", top)}
        if self.location_refinement:
            outputs["locref"] = head(2 * self.num_joints, "locref_pred", top)
        if self.intermediate_supervision:
            tap = features[f"layer3.{self.intermediate_supervision_layer - 1}"]
            outputs["part_pred_interm"] = head(
                self.num_joints, "intermediate_supervision", tap)
        return outputs


#: pose_cfg ``compute_dtype`` values: the network's computation dtype (bfloat16 = mixed precision).
COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def pose_net_from_cfg(pose_cfg: Mapping[str, Any], **overrides: Any) -> PoseNet:
    """Build a :class:`PoseNet` from DeepLabCut ``pose_cfg`` keys.

    Parameters
    ----------
    pose_cfg
        A ``pose_cfg.yaml`` mapping. Read: ``num_joints`` (required),
        ``net_type`` (default ``resnet_50``), ``stride`` (map stride, default 8,
        giving ``output_stride = 2 * stride``), ``intermediate_supervision``,
        ``intermediate_supervision_layer``, ``location_refinement`` (default
        true), ``mean_pixel`` and posekit's ``compute_dtype`` (``"float32"``,
        the default, or ``"bfloat16"``: mixed precision for training and JAX
        inference on GPUs; parameters, batch statistics and outputs stay
        float32, and the ONNX export computes in float32 either way).
    **overrides
        :class:`PoseNet` attributes that win over the config (e.g. ``dtype``).

    Returns
    -------
    PoseNet

    Raises
    ------
    ValueError
        If ``num_joints`` is missing or a value is unsupported.
    """
    if "num_joints" not in pose_cfg:
        raise ValueError("pose_cfg has no 'num_joints'; it is required")
    stride = float(pose_cfg.get("stride") or 8.0)
    if stride * 2 not in (8, 16, 32):
        raise ValueError(
            f"pose_cfg 'stride' must be 4, 8 or 16 (output stride 8, 16, 32), "
            f"got {pose_cfg.get('stride')!r}"
        )
    kwargs: dict[str, Any] = {
        "num_joints": int(pose_cfg["num_joints"]),
        "net_type": pose_cfg.get("net_type") or "resnet_50",
        "output_stride": int(stride * 2),
        "intermediate_supervision": bool(
            pose_cfg.get("intermediate_supervision", False)),
        "intermediate_supervision_layer": int(
            pose_cfg.get("intermediate_supervision_layer") or 12),
        "location_refinement": bool(pose_cfg.get("location_refinement", True)),
        # posekit key: width of the first ResNet stage (64 = torchvision; narrower
        # backbones train from scratch fast on a CPU)
        "backbone_features": int(pose_cfg.get("backbone_features") or 64),
    }
    if pose_cfg.get("mean_pixel") is not None:
        kwargs["mean_pixel"] = tuple(float(v) for v in pose_cfg["mean_pixel"])
    compute = str(pose_cfg.get("compute_dtype") or "float32")
    if compute not in COMPUTE_DTYPES:
        raise ValueError(f"pose_cfg 'compute_dtype' must be one of {sorted(COMPUTE_DTYPES)}, got "
                         f"{pose_cfg.get('compute_dtype')!r}; set it in the shuffle's train/pose_cfg.yaml.")
    kwargs["dtype"] = COMPUTE_DTYPES[compute]
    kwargs.update(overrides)
    return PoseNet(**kwargs)


def init_pose_net(
    rng: jax.Array,
    cfg: PoseNet | Mapping[str, Any],
    input_shape: Sequence[int] = (1, 64, 64, 3),
    *,
    backbone_variables: Variables | None = None,
) -> tuple[PoseNet, Variables]:
    """Create a :class:`PoseNet` and its variables.

    Parameters
    ----------
    rng
        A ``jax.random.key``.
    cfg
        A :class:`PoseNet`, or a ``pose_cfg`` mapping (see
        :func:`pose_net_from_cfg`).
    input_shape
        ``(B, H, W, 3)`` of a sample batch. Parameter shapes do not depend on
        it, so the small default is the cheapest choice.
    backbone_variables
        ``{"params": ..., "batch_stats": ...}`` of the ResNet (e.g. from
        :func:`posekit.model.weights.load_torchvision_resnet`) to use instead
        of the random backbone; heads stay randomly initialised.

    Returns
    -------
    model : PoseNet
    variables : dict
        ``{"params": ..., "batch_stats": ...}``; the backbone lives under
        ``"backbone"``, the heads under ``"part_pred"``, ``"locref_pred"`` and
        ``"intermediate_supervision"``.

    Raises
    ------
    ValueError
        If ``backbone_variables`` does not fit the model's backbone (paths and
        shapes are named).

    Examples
    --------
    >>> import jax
    >>> model, variables = init_pose_net(
    ...     jax.random.key(0), {"num_joints": 4, "net_type": "resnet_18"})
    >>> outputs = model.apply(variables, jax.numpy.zeros((1, 64, 96, 3)))
    >>> {name: value.shape for name, value in outputs.items()}
    {'part_pred': (1, 8, 12, 4), 'locref': (1, 8, 12, 8)}
    """
    model = cfg if isinstance(cfg, PoseNet) else pose_net_from_cfg(cfg)
    variables = _jitted_init(model)(rng, jnp.zeros(tuple(input_shape), jnp.float32))
    if backbone_variables is not None:
        variables = replace_backbone(variables, backbone_variables)
    return model, variables


@functools.lru_cache(maxsize=8)
def _jitted_init(model: PoseNet):
    """One compiled ``model.init`` per model (and input shape, via jit)."""
    return jax.jit(functools.partial(model.init, use_running_average=True))


def replace_backbone(
    variables: Variables, backbone_variables: Variables
) -> Variables:
    """Return ``variables`` with its ``"backbone"`` entries replaced.

    Parameters
    ----------
    variables
        :class:`PoseNet` variables.
    backbone_variables
        ResNet variables (``{"params": ..., "batch_stats": ...}``) with exactly
        the same paths and shapes as ``variables[...]["backbone"]``.

    Returns
    -------
    dict
        New variables (the inputs are not modified).

    Raises
    ------
    ValueError
        Naming missing, unexpected or shape-mismatched paths.
    """
    collections = sorted((c for c, tree in variables.items() if "backbone" in tree),
                         key=lambda c: c != "params")  # params first: clearer errors
    for collection in collections:
        given = backbone_variables.get(collection)
        if given is None:
            raise ValueError(f"backbone_variables has no {collection!r} collection")
        _check_same_layout(variables[collection]["backbone"], given,
                           f"{collection}/backbone")
    out = {collection: dict(tree) for collection, tree in variables.items()}
    for collection in collections:
        out[collection]["backbone"] = jax.tree_util.tree_map(
            jnp.asarray, backbone_variables[collection])
    return out


def _flat_shapes(tree: Any) -> dict[str, tuple[int, ...]]:
    leaves = jax.tree_util.tree_leaves_with_path(tree)
    return {
        "/".join(str(getattr(k, "key", k)) for k in path): tuple(jnp.shape(leaf))
        for path, leaf in leaves
    }


def _check_same_layout(expected: Any, given: Any, where: str) -> None:
    want, got = _flat_shapes(expected), _flat_shapes(given)
    problems = [f"missing {k}" for k in sorted(want.keys() - got.keys())]
    problems += [f"unexpected {k}" for k in sorted(got.keys() - want.keys())]
    problems += [
        f"{k}: shape {got[k]} != expected {want[k]}"
        for k in sorted(want.keys() & got.keys()) if want[k] != got[k]
    ]
    if problems:
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ValueError(f"{where} does not fit the model: {shown}{more}")
