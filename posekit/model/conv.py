"""The ResNet's 2-D convolutions, with gradients XLA's CPU backend runs fast.

On the CPU, XLA lowers the gradients of a convolution (the weight gradient
above all, every gradient of a 1x1 convolution, and the weight gradient of a
transposed convolution) to slow generic loops: a ResNet-50 training step
spent most of its time there, at a fraction of the speed its forward pass
reaches. :func:`conv2d` and :func:`conv2d_transpose` compute the same
convolutions with hand-written gradients made of matrix products (one per
kernel tap for the weights, im2col when there are few input channels) and
forward convolutions (for the input: for a strided kernel, one stride-1
convolution per phase of the input grid, see :func:`_strided_input_grad`),
which XLA runs near the CPU's peak. 1x1 convolutions are matrix products both
ways. On other platforms (cuDNN) the built-in gradients are
already fast and are kept.

The results and gradients equal ``lax.conv_general_dilated``'s (NHWC images,
HWIO kernels, symmetric padding ``dilation * (k - 1) // 2`` as torchvision's
ResNet uses) and ``lax.conv_transpose``'s up to float rounding.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
from jax.ad_checkpoint import checkpoint_name

__all__ = ["CONV_OUTPUT", "Conv2d", "conv2d", "conv2d_transpose"]

#: The name (``jax.ad_checkpoint.checkpoint_name``) every convolution output
#: carries, for rematerialisation policies that keep just these.
CONV_OUTPUT = "conv_output"

#: Weight gradients of convolutions with fewer input channels use im2col.
_IM2COL_BELOW_CHANNELS = 16

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


def _weight_grad(
    x: jax.Array, g: jax.Array, kernel: tuple[int, int], stride: int, dilation: int,
    pads: tuple[tuple[int, int], tuple[int, int]] | None = None,
) -> jax.Array:
    """d loss / d kernel, as matrix products over all output pixels.

    ``pads`` is the ((top, bottom), (left, right)) zero padding of ``x``
    (default: torchvision's symmetric padding).

    One (in, out) product per kernel tap; for few input channels (the RGB
    stem) the taps are gathered into one matrix first (im2col), since products
    with a handful of rows waste the CPU's vector units.
    """
    kh, kw = kernel
    channels = x.shape[-1]
    if pads is None:
        pads = ((_padding(kh, dilation),) * 2, (_padding(kw, dilation),) * 2)
    padded = jnp.pad(x, ((0, 0), *pads, (0, 0)))
    flat_g = g.reshape(-1, g.shape[-1])
    taps = [_tap(padded, i, j, g.shape[1:3], stride, dilation).reshape(-1, channels)
            for i in range(kh) for j in range(kw)]
    over_pixels = (((0,), (0,)), ((), ()))
    if channels < _IM2COL_BELOW_CHANNELS:
        columns = jnp.concatenate(taps, axis=-1)
        return lax.dot_general(columns, flat_g, over_pixels).reshape(kh, kw, channels, -1)
    return jnp.stack([lax.dot_general(tap, flat_g, over_pixels) for tap in taps]).reshape(kh, kw, channels, -1)


def _input_grad(w: jax.Array, g: jax.Array, in_shape: tuple[int, ...], stride: int, dilation: int) -> jax.Array:
    """d loss / d input: the adjoint convolution, as a forward convolution."""
    if w.shape[0] == 1 and w.shape[1] == 1:
        dx = jnp.einsum("bhwd,cd->bhwc", g, w[0, 0])
        if stride == 1:
            return dx
        return lax.pad(dx, jnp.zeros((), dx.dtype), [
            (0, 0, 0),
            (0, in_shape[1] - (stride * (g.shape[1] - 1) + 1), stride - 1),
            (0, in_shape[2] - (stride * (g.shape[2] - 1) + 1), stride - 1),
            (0, 0, 0),
        ])
    if stride > 1 and dilation == 1:
        return _strided_input_grad(w, g, in_shape, stride)
    if stride > 1:
        return jax.vjp(lambda image: _reference_conv(image, w, stride, dilation), jnp.zeros(in_shape, g.dtype))[1](g)[0]
    # stride 1, odd kernel: the adjoint of a "same" convolution is the "same"
    # convolution with the kernel flipped and its in/out channels swapped
    return _reference_conv(g, jnp.flip(w, (0, 1)).swapaxes(2, 3), 1, dilation)


def _strided_input_grad(w: jax.Array, g: jax.Array, in_shape: tuple[int, ...], stride: int) -> jax.Array:
    """d loss / d input of a strided convolution, as ``stride**2`` stride-1 convolutions.

    XLA's own adjoint dilates ``g`` with zeros (a "base-dilated" convolution),
    which its CPU backend runs on a slow generic path: the one in layer 2 of a
    ResNet-50 took 8 % of a whole training step (batch 8, 448x448;
    ``benchmarks/bench_train.py --op-profile``). Padded input row ``s*j + r``
    only meets the taps ``t = r, r + s, ...``, so each phase ``(r, c)`` of the
    gradient is a small stride-1 convolution of ``g`` with those taps (in/out
    channels swapped, order reversed); the phases are then interleaved and the
    padding cut off. Same products as the adjoint, none with the zeros.
    """
    kh, kw = w.shape[:2]
    pad_h, pad_w = _padding(kh, 1), _padding(kw, 1)
    _, height, width, channels = in_shape
    rows, cols = -(-(pad_h + height) // stride), -(-(pad_w + width) // stride)  # phase outputs per dimension
    phases = []
    for r in range(stride):
        row = []
        for c in range(stride):
            kernel = w[r::stride, c::stride][::-1, ::-1].swapaxes(2, 3)  # the taps phase (r, c) meets, last first
            count_r, count_c = kernel.shape[:2]
            if not count_r or not count_c:
                row.append(jnp.zeros((g.shape[0], rows, cols, channels), g.dtype))
                continue
            padded = lax.pad(g, jnp.zeros((), g.dtype), [
                (0, 0, 0),
                (count_r - 1, rows - g.shape[1], 0),  # a negative high pad crops
                (count_c - 1, cols - g.shape[2], 0),
                (0, 0, 0),
            ])
            row.append(lax.conv_general_dilated(padded, kernel, (1, 1), "VALID", dimension_numbers=_DIMS))
        phases.append(jnp.stack(row, axis=3))  # (N, rows, cols, stride, C)
    full = jnp.stack(phases, axis=2)  # (N, rows, stride, cols, stride, C)
    full = full.reshape(g.shape[0], rows * stride, cols * stride, channels)
    return full[:, pad_h:pad_h + height, pad_w:pad_w + width]


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


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _fast_grad_conv_transpose(z: jax.Array, w: jax.Array, stride: int) -> jax.Array:
    return lax.conv_transpose(z, w, (stride, stride), "SAME", transpose_kernel=True, dimension_numbers=_DIMS)


def _fast_grad_conv_transpose_fwd(z, w, stride):
    return _fast_grad_conv_transpose(z, w, stride), (z, w)


def _fast_grad_conv_transpose_bwd(stride, residuals, g):
    # The transposed convolution is the adjoint of the strided "SAME"
    # convolution from its output back to its input, with the same kernel.
    z, w = residuals
    pads = lax.padtype_to_pads(g.shape[1:3], w.shape[:2], (stride, stride), "SAME")
    dz = lax.conv_general_dilated(g, w, (stride, stride), pads, dimension_numbers=_DIMS)
    dw = _weight_grad(g, z, w.shape[:2], stride, 1, pads=tuple(pads))
    return dz, dw


_fast_grad_conv_transpose.defvjp(_fast_grad_conv_transpose_fwd, _fast_grad_conv_transpose_bwd)


def conv2d_transpose(z: jax.Array, w: jax.Array, stride: int = 2) -> jax.Array:
    """TensorFlow's ``conv2d_transpose`` with ``SAME`` padding (DeepLabCut's heads).

    Parameters
    ----------
    z
        (N, h, w, C_in) features.
    w
        (k, k, C_out, C_in) kernel, TensorFlow's layout (no flip).
    stride
        Upsampling factor.

    Returns
    -------
    jax.Array
        (N, stride * h, stride * w, C_out); equals
        ``lax.conv_transpose(z, w, (stride, stride), "SAME", transpose_kernel=True)``,
        with the fast CPU gradient.
    """
    if jax.default_backend() == "cpu":
        return _fast_grad_conv_transpose(z, w, int(stride))
    return lax.conv_transpose(z, w, (stride, stride), "SAME", transpose_kernel=True, dimension_numbers=_DIMS)


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
