"""DeepLabCut's prediction heads: one 3x3, stride-2 transposed convolution each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax

from posekit.model.conv import conv2d_transpose
from posekit.model.initializers import glorot_uniform

__all__ = ["PredictionHead"]


class PredictionHead(nn.ConvTranspose):
    """A single ``conv2d_transpose``: 3x3, stride 2, SAME, bias, no activation.

    DeepLabCut 2.x puts one of these on the backbone features for the part
    score logits (``features = J``), the location refinement (``2 * J``:
    channel ``2j`` is dx, ``2j + 1`` is dy) and, optionally, the intermediate
    supervision. It doubles the spatial size, so a stride-16 backbone gives
    maps of ``2*ceil(H/16) x 2*ceil(W/16)`` (effective stride 8).

    It is :class:`flax.linen.ConvTranspose` with DeepLabCut's settings as
    defaults, so its parameters are just ``kernel`` and ``bias``; build it as
    ``PredictionHead(num_outputs, name=...)``.

    Notes
    -----
    ``transpose_kernel=True`` makes this the gradient of a strided SAME
    convolution, i.e. TensorFlow's ``conv2d_transpose``, with TensorFlow's
    ``(3, 3, out, in)`` kernel layout, so DeepLabCut TF head weights would map
    onto it without flipping. Weights start Glorot-uniform (slim's "xavier"
    default) and biases at zero, as in DeepLabCut.
    """

    kernel_size: Sequence[int] = (3, 3)
    strides: Sequence[int] | None = (2, 2)
    padding: Any = "SAME"
    use_bias: bool = True
    transpose_kernel: bool = True
    kernel_init: Any = glorot_uniform
    bias_init: Any = nn.initializers.zeros

    @nn.compact
    def __call__(self, inputs: jax.Array) -> jax.Array:
        """Upsample NHWC ``inputs`` to ``features`` maps of twice the size.

        Computes what :class:`flax.linen.ConvTranspose` does with these
        settings (same parameters), through
        :func:`posekit.model.conv.conv2d_transpose` for its fast CPU gradient.
        """
        kernel = self.param("kernel", self.kernel_init,
                            (*self.kernel_size, self.features, inputs.shape[-1]), self.param_dtype)
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype)
        inputs, kernel, bias = self.promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        return conv2d_transpose(inputs, kernel, self.strides[0]) + bias
