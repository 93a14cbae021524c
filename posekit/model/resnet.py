"""ResNet backbones in Flax, laid out one-to-one like torchvision's ``ResNet``.

Parameter paths mirror torchvision's ``state_dict`` keys with ``/`` for ``.``:
``conv1``, ``bn1``, ``layer1`` ... ``layer4``, blocks ``"0"``, ``"1"``, ... holding
``conv1``/``bn1``/``conv2``/``bn2`` (+ ``conv3``/``bn3`` for bottlenecks) and
``downsample/"0"`` (1x1 conv) + ``downsample/"1"`` (batch norm). Convolution
kernels are HWIO (torchvision: OIHW); batch-norm ``weight``/``bias`` are
``params`` ``scale``/``bias`` and ``running_mean``/``running_var`` are
``batch_stats`` ``mean``/``var``. Images are NHWC.

The computation is torchvision's (ResNet "v1.5"): the stride of a layer sits on
the 3x3 convolution of its first block, every convolution uses explicit
symmetric padding, and the max-pool pads with ``-inf``. A smaller output stride
replaces the stride-2 of the last layer(s) by dilation, the way torchvision's
``replace_stride_with_dilation`` does (the first block of a dilated layer keeps
the previous dilation on its strided 3x3 convolution). torchvision forbids
dilation in ``BasicBlock``; here ResNet-18/34 follow timm instead (first 3x3
convolution of a block at its "first" dilation, the second at the layer's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from posekit.model.conv import CONV_OUTPUT, Conv2d
from posekit.model.initializers import kaiming_normal_fan_out

__all__ = [
    "NET_TYPES",
    "BasicBlock",
    "Bottleneck",
    "Downsample",
    "ResLayer",
    "ResNet",
    "layer_dilations",
    "resnet",
]

#: net_type -> (block kind, blocks per layer), as in torchvision / DeepLabCut.
NET_TYPES: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "resnet_18": ("basic", (2, 2, 2, 2)),
    "resnet_34": ("basic", (3, 4, 6, 3)),
    "resnet_50": ("bottleneck", (3, 4, 6, 3)),
    "resnet_101": ("bottleneck", (3, 4, 23, 3)),
    "resnet_152": ("bottleneck", (3, 8, 36, 3)),
}

#: output stride -> (stride, dilation) of layer1..layer4.
_LAYER_GEOMETRY: dict[int, tuple[tuple[int, int], ...]] = {
    32: ((1, 1), (2, 1), (2, 1), (2, 1)),
    16: ((1, 1), (2, 1), (2, 1), (1, 2)),
    8: ((1, 1), (2, 1), (1, 2), (1, 4)),
}


def layer_dilations(output_stride: int) -> tuple[tuple[int, int], ...]:
    """Return ``(stride, dilation)`` of ``layer1``..``layer4`` for an output stride.

    Parameters
    ----------
    output_stride
        Ratio of input size to ``layer4`` feature size: 32 (plain ResNet),
        16 (``layer4`` dilated by 2, DeepLabCut's default) or 8 (``layer3``
        dilated by 2 and ``layer4`` by 4).

    Returns
    -------
    tuple of (int, int)
        One ``(stride, dilation)`` pair per layer.

    Raises
    ------
    ValueError
        If ``output_stride`` is not 8, 16 or 32.
    """
    try:
        return _LAYER_GEOMETRY[int(output_stride)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"output_stride must be 8, 16 or 32, got {output_stride!r}"
        ) from None


def _conv(
    features: int,
    kernel: int,
    *,
    stride: int = 1,
    dilation: int = 1,
    name: str,
    dtype: Any,
) -> Conv2d:
    """Build a bias-free convolution with torchvision's symmetric padding."""
    return Conv2d(
        features,
        kernel,
        stride=stride,
        dilation=dilation,
        kernel_init=kaiming_normal_fan_out,
        dtype=dtype,
        name=name,
    )


def _bn(
    name: str, use_running_average: bool, momentum: float, dtype: Any
) -> nn.BatchNorm:
    """Batch norm with torchvision's epsilon (1e-5)."""
    return nn.BatchNorm(
        use_running_average=use_running_average,
        momentum=momentum,
        epsilon=1e-5,
        dtype=dtype,
        name=name,
    )


class Downsample(nn.Module):
    """The projection shortcut: 1x1 convolution ``"0"`` and batch norm ``"1"``."""

    features: int
    stride: int = 1
    bn_momentum: float = 0.9
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, use_running_average: bool) -> jax.Array:
        """Project ``x`` to the block's output shape."""
        x = _conv(self.features, 1, stride=self.stride, name="0", dtype=self.dtype)(x)
        return _bn("1", use_running_average, self.bn_momentum, self.dtype)(x)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34).

    Attributes
    ----------
    planes
        Output channels.
    stride
        Stride of the first 3x3 convolution.
    dilation
        Dilation of the second 3x3 convolution.
    first_dilation
        Dilation of the first 3x3 convolution.
    downsample
        Use a projection shortcut (needed when shape changes).
    """

    planes: int
    stride: int = 1
    dilation: int = 1
    first_dilation: int = 1
    downsample: bool = False
    bn_momentum: float = 0.9
    dtype: Any = jnp.float32

    expansion = 1

    @nn.compact
    def __call__(self, x: jax.Array, use_running_average: bool) -> jax.Array:
        """Apply the block to NHWC ``x``."""

        def bn(name: str) -> nn.BatchNorm:
            return _bn(name, use_running_average, self.bn_momentum, self.dtype)

        shortcut = x
        y = _conv(self.planes, 3, stride=self.stride,
                  dilation=self.first_dilation, name="conv1", dtype=self.dtype)(x)
        y = nn.relu(bn("bn1")(y))
        y = _conv(self.planes, 3, dilation=self.dilation, name="conv2",
                  dtype=self.dtype)(y)
        y = bn("bn2")(y)
        if self.downsample:
            shortcut = Downsample(self.planes, self.stride, self.bn_momentum,
                                  self.dtype, name="downsample")(
                x, use_running_average)
        return nn.relu(y + shortcut)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided, dilated) -> 1x1 block with 4x expansion (ResNet-50+).

    Attributes are those of :class:`BasicBlock`; ``planes`` is the width of the
    3x3 convolution, the block outputs ``4 * planes`` channels, and ``dilation``
    is unused (torchvision dilates only the 3x3 convolution, by
    ``first_dilation``).
    """

    planes: int
    stride: int = 1
    dilation: int = 1
    first_dilation: int = 1
    downsample: bool = False
    bn_momentum: float = 0.9
    dtype: Any = jnp.float32

    expansion = 4

    @nn.compact
    def __call__(self, x: jax.Array, use_running_average: bool) -> jax.Array:
        """Apply the block to NHWC ``x``."""

        def bn(name: str) -> nn.BatchNorm:
            return _bn(name, use_running_average, self.bn_momentum, self.dtype)

        out_features = self.planes * self.expansion
        shortcut = x
        y = _conv(self.planes, 1, name="conv1", dtype=self.dtype)(x)
        y = nn.relu(bn("bn1")(y))
        y = _conv(self.planes, 3, stride=self.stride,
                  dilation=self.first_dilation, name="conv2", dtype=self.dtype)(y)
        y = nn.relu(bn("bn2")(y))
        y = _conv(out_features, 1, name="conv3", dtype=self.dtype)(y)
        y = bn("bn3")(y)
        if self.downsample:
            shortcut = Downsample(out_features, self.stride, self.bn_momentum,
                                  self.dtype, name="downsample")(
                x, use_running_average)
        return nn.relu(y + shortcut)


_BLOCKS: dict[str, type[nn.Module]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResLayer(nn.Module):
    """One torchvision ``layerN``: blocks named ``"0"``, ``"1"``, ...

    Returns the output of every block (the last one is the layer's output), so
    callers can tap an inner block (DeepLabCut's intermediate supervision).
    """

    block: str
    num_blocks: int
    planes: int
    in_features: int
    stride: int = 1
    dilation: int = 1
    previous_dilation: int = 1
    bn_momentum: float = 0.9
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(
        self, x: jax.Array, use_running_average: bool
    ) -> tuple[jax.Array, ...]:
        """Apply the blocks in turn; return each block's output."""
        # In training, keep only the convolution outputs for the backward pass
        # and recompute batch norm and ReLU from them (cheap, element-wise).
        block_cls = nn.remat(
            _BLOCKS[self.block],
            static_argnums=(2,),
            prevent_cse=False,  # lets XLA share work; measured: less memory, same speed
            policy=jax.checkpoint_policies.save_only_these_names(CONV_OUTPUT),
        )
        out_features = self.planes * block_cls.expansion
        outputs = []
        for index in range(self.num_blocks):
            first = index == 0
            x = block_cls(
                planes=self.planes,
                stride=self.stride if first else 1,
                dilation=self.dilation,
                first_dilation=self.previous_dilation if first else self.dilation,
                downsample=first and (self.stride != 1
                                      or self.in_features != out_features),
                bn_momentum=self.bn_momentum,
                dtype=self.dtype,
                name=str(index),
            )(x, use_running_average)
            outputs.append(x)
        return tuple(outputs)


class ResNet(nn.Module):
    """A torchvision-layout ResNet feature extractor (no pooling, no ``fc``).

    Attributes
    ----------
    block
        ``"basic"`` (ResNet-18/34) or ``"bottleneck"`` (ResNet-50/101/152).
    stage_sizes
        Blocks in ``layer1``..``layer4``.
    output_stride
        32, 16 or 8; see :func:`layer_dilations`.
    base_features
        Channels of ``conv1`` and ``layer1``'s 3x3 convolutions (torchvision:
        64). Only smaller for fast tests; pretrained weights need 64.
    bn_momentum
        Flax momentum of the running statistics (torchvision's 0.1 = 0.9 here).
    dtype
        Computation dtype (parameters stay float32).

    Notes
    -----
    Call with ``use_running_average=True`` to normalise with the stored
    statistics and leave them unchanged (DeepLabCut keeps batch norm frozen when
    fine-tuning ImageNet weights), or ``False`` with ``mutable=["batch_stats"]``
    to train them (from scratch). The input must already be normalised (see
    :func:`posekit.model.pose_net.preprocess`).

    The call returns a dict of features keyed like torchvision modules:
    ``"stem"`` (after the max-pool, stride 4), ``"layer1"``..``"layer4"`` and
    ``"layerN.K"`` for the output of block ``K`` of ``layerN``.
    """

    block: str
    stage_sizes: Sequence[int]
    output_stride: int = 32
    base_features: int = 64
    bn_momentum: float = 0.9
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(
        self, x: jax.Array, use_running_average: bool = True
    ) -> dict[str, jax.Array]:
        """Compute the feature dict of normalised NHWC images ``x``."""
        if self.block not in _BLOCKS:
            raise ValueError(
                f"block must be one of {sorted(_BLOCKS)}, got {self.block!r}"
            )
        geometry = layer_dilations(self.output_stride)
        x = _conv(self.base_features, 7, stride=2, name="conv1",
                  dtype=self.dtype)(x)
        x = _bn("bn1", use_running_average, self.bn_momentum, self.dtype)(x)
        x = nn.relu(x)
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
        features = {"stem": x}
        in_features = self.base_features
        previous_dilation = 1
        expansion = _BLOCKS[self.block].expansion
        for index, (num_blocks, (stride, dilation)) in enumerate(
            zip(self.stage_sizes, geometry, strict=True)
        ):
            planes = self.base_features * 2**index
            name = f"layer{index + 1}"
            outputs = ResLayer(
                block=self.block,
                num_blocks=num_blocks,
                planes=planes,
                in_features=in_features,
                stride=stride,
                dilation=dilation,
                previous_dilation=previous_dilation,
                bn_momentum=self.bn_momentum,
                dtype=self.dtype,
                name=name,
            )(x, use_running_average)
            for block_index, output in enumerate(outputs):
                features[f"{name}.{block_index}"] = output
            x = features[name] = outputs[-1]
            in_features = planes * expansion
            previous_dilation = dilation
        return features


def resnet(net_type: str, **kwargs: Any) -> ResNet:
    """Build the :class:`ResNet` for a DeepLabCut ``net_type``.

    Parameters
    ----------
    net_type
        ``"resnet_18"``, ``"resnet_34"``, ``"resnet_50"``, ``"resnet_101"`` or
        ``"resnet_152"``.
    **kwargs
        Other :class:`ResNet` attributes (``output_stride``, ``dtype``, ...).

    Returns
    -------
    ResNet
        The (unbound) module.

    Raises
    ------
    ValueError
        For an unknown or unsupported ``net_type`` (MobileNet / EfficientNet
        are DeepLabCut options posekit does not build).
    """
    try:
        block, stage_sizes = NET_TYPES[net_type]
    except KeyError:
        raise ValueError(
            f"net_type {net_type!r} is not supported; posekit builds "
            f"{', '.join(NET_TYPES)}"
        ) from None
    return ResNet(block=block, stage_sizes=stage_sizes, **kwargs)
