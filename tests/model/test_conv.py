"""The convolution with the hand-written CPU gradient equals XLA's own."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from posekit.model.conv import Conv2d, conv2d, conv2d_transpose

CASES = [  # (kernel, stride, dilation, height, width)
    (1, 1, 1, 9, 7),
    (1, 2, 1, 9, 8),
    (3, 1, 1, 8, 9),
    (3, 2, 1, 9, 10),
    (3, 2, 1, 8, 8),
    (3, 1, 2, 9, 7),
    (3, 1, 4, 11, 12),
    (7, 2, 1, 13, 12),
    (3, 2, 1, 4, 5),    # rows of the gradient the padding leaves out, at both parities
    (5, 3, 1, 10, 11),  # phases meeting 2, 2 and 1 taps per dimension
]


def _lax_conv(x, w, stride, dilation):
    pad = dilation * (w.shape[0] - 1) // 2
    return lax.conv_general_dilated(x, w, (stride, stride), [(pad, pad)] * 2, rhs_dilation=(dilation, dilation),
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))


#: input channels that take each weight-gradient path: im2col (few),
#: one product per tap (more)
CHANNELS = [5, 24]


@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("kernel,stride,dilation,height,width", CASES)
def test_conv2d_value_and_gradients_match_lax(kernel, stride, dilation, height, width, channels):
    rng = np.random.default_rng(kernel * 100 + stride * 10 + dilation + channels)
    x = jnp.asarray(rng.normal(size=(2, height, width, channels)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(kernel, kernel, channels, 6)) / np.sqrt(channels), jnp.float32)
    out = conv2d(x, w, stride, dilation)
    ref = _lax_conv(x, w, stride, dilation)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-4)

    # a loss that weighs every output differently, so a misplaced gradient shows
    weights = jnp.asarray(rng.normal(size=ref.shape), jnp.float32)
    grads = jax.grad(lambda a, b: jnp.sum(weights * conv2d(a, b, stride, dilation)), argnums=(0, 1))(x, w)
    expected = jax.grad(lambda a, b: jnp.sum(weights * _lax_conv(a, b, stride, dilation)), argnums=(0, 1))(x, w)
    for got, want in zip(grads, expected, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


def test_conv_module_has_flax_conv_parameter_layout():
    module = Conv2d(features=4, kernel_size=3, stride=2)
    variables = module.init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
    assert jax.tree_util.tree_map(jnp.shape, variables) == {"params": {"kernel": (3, 3, 3, 4)}}
    assert module.apply(variables, jnp.ones((1, 8, 8, 3))).shape == (1, 4, 4, 4)



@pytest.mark.parametrize("height,width", [(4, 5), (7, 6)])
def test_conv2d_transpose_value_and_gradients_match_lax(height, width):
    rng = np.random.default_rng(height)
    z = jnp.asarray(rng.normal(size=(2, height, width, 6)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(3, 3, 4, 6)), jnp.float32)

    def reference(a, b):
        return lax.conv_transpose(a, b, (2, 2), "SAME", transpose_kernel=True,
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"))

    out = conv2d_transpose(z, w, 2)
    np.testing.assert_allclose(out, reference(z, w), rtol=1e-5, atol=1e-4)
    weights = jnp.asarray(rng.normal(size=out.shape), jnp.float32)
    grads = jax.grad(lambda a, b: jnp.sum(weights * conv2d_transpose(a, b, 2)), argnums=(0, 1))(z, w)
    expected = jax.grad(lambda a, b: jnp.sum(weights * reference(a, b)), argnums=(0, 1))(z, w)
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
