"""Weight initialisers that draw their random numbers on the host with numpy.

XLA:CPU compiles every random-number fusion separately, which made
``PoseNet.init`` take 10-20 s on a 2-core CPU (ResNet-50: ~160 kernels), far
more than the forward pass. These initialisers have the usual Flax signature
``(key, shape, dtype) -> array`` but call numpy through ``jax.pure_callback``,
seeded from the JAX key's data: the same key gives the same values, jitted or
not, on CPU or GPU, and compiling them costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["glorot_uniform", "kaiming_normal_fan_out", "variance_scaling"]

Initializer = Callable[[jax.Array, Sequence[int], Any], jax.Array]


def _key_data(key: jax.Array) -> jax.Array:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return key  # legacy uint32 keys


def _fans(shape: Sequence[int]) -> tuple[int, int]:
    """Fan-in / fan-out of a kernel whose last two axes are (in, out)."""
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    fan_in = shape[-2] * receptive if len(shape) > 1 else shape[0]
    fan_out = shape[-1] * receptive
    return fan_in, fan_out


def variance_scaling(scale: float, mode: str, distribution: str) -> Initializer:
    """Host-side counterpart of :func:`jax.nn.initializers.variance_scaling`.

    Parameters
    ----------
    scale
        Variance multiplier.
    mode
        ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
    distribution
        ``"normal"`` (untruncated, like PyTorch's ``kaiming_normal_``) or
        ``"uniform"``.

    Returns
    -------
    callable
        ``init(key, shape, dtype=jnp.float32) -> jax.Array``.
    """
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"mode must be fan_in, fan_out or fan_avg, got {mode!r}")
    if distribution not in ("normal", "uniform"):
        raise ValueError(
            f"distribution must be normal or uniform, got {distribution!r}")

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32
             ) -> jax.Array:
        shape = tuple(int(s) for s in shape)
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out,
               "fan_avg": (fan_in + fan_out) / 2}[mode]
        variance = scale / max(fan, 1)

        def draw(seed: np.ndarray) -> np.ndarray:
            rng = np.random.default_rng(np.asarray(seed, np.uint32).ravel())
            if distribution == "normal":
                values = rng.standard_normal(shape) * math.sqrt(variance)
            else:
                limit = math.sqrt(3.0 * variance)
                values = rng.uniform(-limit, limit, shape)
            return values.astype(np.float32)

        out = jax.ShapeDtypeStruct(shape, jnp.float32)
        values = jax.pure_callback(draw, out, _key_data(key),
                                   vmap_method="sequential")
        return values.astype(dtype)

    return init


#: torchvision's convolution init: ``kaiming_normal_(mode="fan_out")``.
kaiming_normal_fan_out: Initializer = variance_scaling(2.0, "fan_out", "normal")

#: slim's default ``xavier_initializer`` (used by DeepLabCut's heads).
glorot_uniform: Initializer = variance_scaling(1.0, "fan_avg", "uniform")
