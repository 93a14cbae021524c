"""The ResNet's 2-D convolution, with a gradient XLA's CPU backend runs fast.

On the CPU, XLA lowers the gradients of a convolution (the weight gradient
above all, and every gradient of a 1x1 convolution) to slow generic loops:
a ResNet-50 training step spends about 85% of its time there, at a fraction
of the speed its forward pass reaches. :func:`conv2d` computes the same
convolution with a hand-written gradient made of matrix products (one per
kernel tap for the weights, a plain forward convolution for the input), which
XLA runs near the CPU's peak. 1x1 convolutions are matrix products both ways.
On other platforms (cuDNN) the built-in gradient is already fast and is kept.

The result and gradients equal ``lax.conv_general_dilated``'s (NHWC images,
HWIO kernels, symmetric padding ``dilation * (k - 1) // 2`` as torchvision's
ResNet uses) up to float rounding.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
from jax.ad_checkpoint import checkpoint_name

__all__ = ["CONV_OUTPUT", "Conv2d", "conv2d"]

#: The name (``jax.ad_checkpoint.checkpoint_name``) every convolution output
#: carries, for rematerialisation policies that keep just these.
CONV_OUTPUT = "conv_output"

_DIMS = ("NHWC", "HWIO", "NHWC")


def _padding(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) // 2


def _reference_conv(x: jax.Array, w: jax.Array, stride: int, dilation: int) -> jax.Array:
    pad = _padding(w.shape[0], dilation)
    return lax.conv_general_dilated(
        x, w, (stride, stride), [(pad, pad), (pad, pad)],
        rhs_dilation=(dilation, dilation), dimension_numbers=_DIMS,
    )


def _matmul_conv(x: jax.Array, w: jax.Array, stride: int, dilation: int) -> jax.Array:
    """The convolution, with 1x1 kernels as a matrix product."""
    if w.shape[0] == 1 and w.shape[1] == 1:
        return jnp.einsum("bhwc,cd->bhwd", x[:, ::stride, ::stride], w[0, 0])
    return _reference_conv(x, w, stride, dilation)


def _tap(padded: jax.Array, i: int, j: int, shape: tuple[int, int], stride: int, dilation: int) -> jax.Array:
    """The input pixels kernel tap ``(i, j)`` meets, one per output pixel."""
    rows, cols = shape
    return padded[:, i * dilation: i * dilation + stride * (rows - 1) + 1: stride,
                  j * dilation: j * dilation + stride * (cols - 1) + 1: stride]


def _weight_grad(x: jax.Array, g: jax.Array, kernel: tuple[int, int], stride: int, dilation: int) -> jax.Array:
    """d loss / d kernel: one (out, in) matrix product per kernel tap."""
    kh, kw = kernel
    pad = _padding(kh, dilation)
    padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0))) if pad else x
    g_t = g.reshape(-1, g.shape[-1]).T  # (out, N*H*W)
    taps = [
        [g_t @ _tap(padded, i, j, g.shape[1:3], stride, dilation).reshape(-1, x.shape[-1])
         for j in range(kw)]
        for i in range(kh)
    ]
    return jnp.stack([jnp.stack(row) for row in taps]).swapaxes(2, 3)  # (kh, kw, in, out)


def _input_grad(w: jax.Array, g: jax.Array, in_shape: tuple[int, ...], stride: int, dilation: int) -> jax.Array:
    """d loss / d input: the adjoint convolution, as a forward convolution."""
    height, width = in_shape[1:3]
    if w.shape[0] == 1 and w.shape[1] == 1:
        dx = jnp.einsum("bhwd,cd->bhwc", g, w[0, 0])
        if stride == 1:
            return dx
        return lax.pad(dx, jnp.zeros((), dx.dtype), [
            (0, 0, 0),
            (0, height - (stride * (g.shape[1] - 1) + 1), stride - 1),
            (0, width - (stride * (g.shape[2] - 1) + 1), stride - 1),
            (0, 0, 0),
        ])
    pad = _padding(w.shape[0], dilation)
    if stride > 1:  # put the output gradient back on the input grid
        g = lax.pad(g, jnp.zeros((), g.dtype), [(0, 0, 0), (0, 0, stride - 1), (0, 0, stride - 1), (0, 0, 0)])
    reach = dilation * (w.shape[0] - 1)
    flipped = jnp.flip(w, (0, 1)).swapaxes(2, 3)
    full = lax.conv_general_dilated(
        g, flipped, (1, 1),
        [(reach, height + 2 * pad - g.shape[1]), (reach, width + 2 * pad - g.shape[2])],
        rhs_dilation=(dilation, dilation), dimension_numbers=_DIMS,
    )
    return full[:, pad: pad + height, pad: pad + width]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _fast_grad_conv(x: jax.Array, w: jax.Array, stride: int, dilation: int) -> jax.Array:
    return _matmul_conv(x, w, stride, dilation)


def _fast_grad_conv_fwd(x, w, stride, dilation):
    return _matmul_conv(x, w, stride, dilation), (x, w)


def _fast_grad_conv_bwd(stride, dilation, residuals, g):
    x, w = residuals
    return (_input_grad(w, g, x.shape, stride, dilation),
            _weight_grad(x, g, w.shape[:2], stride, dilation))


_fast_grad_conv.defvjp(_fast_grad_conv_fwd, _fast_grad_conv_bwd)


def conv2d(x: jax.Array, w: jax.Array, stride: int = 1, dilation: int = 1) -> jax.Array:
    """Convolve NHWC images with an HWIO kernel, torchvision-style padding.

    Parameters
    ----------
    x
        (N, H, W, C_in) images.
    w
        (k, k, C_in, C_out) kernel (square, odd ``k``).
    stride, dilation
        Stride and dilation in both directions.

    Returns
    -------
    jax.Array
        (N, H_out, W_out, C_out), zero padding ``dilation * (k - 1) // 2``;
        named :data:`CONV_OUTPUT` for rematerialisation policies.
    """
    if jax.default_backend() == "cpu":
        y = _fast_grad_conv(x, w, int(stride), int(dilation))
    else:
        y = _reference_conv(x, w, int(stride), int(dilation))
    return checkpoint_name(y, CONV_OUTPUT)


class Conv2d(nn.Module):
    """A bias-free square convolution; its one parameter is ``kernel`` (HWIO).

    Drop-in for ``flax.linen.Conv`` with symmetric padding
    ``dilation * (kernel_size - 1) // 2`` (same parameter name and layout), with
    the fast CPU gradient of :func:`conv2d`.
    """

    features: int
    kernel_size: int
    stride: int = 1
    dilation: int = 1
    kernel_init: Any = nn.initializers.lecun_normal()
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Convolve NHWC ``x``."""
        kernel = self.param(
            "kernel", self.kernel_init,
            (self.kernel_size, self.kernel_size, x.shape[-1], self.features), jnp.float32,
        )
        x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
        return conv2d(x, kernel, self.stride, self.dilation)
