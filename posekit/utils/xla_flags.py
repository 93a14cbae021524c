"""XLA settings posekit chooses, applied before JAX starts its CPU backend.

XLA reads ``XLA_FLAGS`` once, when JAX first uses a device, so these are
added to the environment when ``posekit`` is imported. A flag the user has
already set in ``XLA_FLAGS`` is left as it is; if JAX was already running
before posekit was imported, they simply do not apply (results are the same,
only memory use differs).
"""

from __future__ import annotations

import os

#: flag -> value. On the CPU, XLA's default concurrency-optimised scheduler
#: keeps many large backward-pass buffers alive at once: training ResNet-50 at
#: 448x448, batch 8, peaks at about 8 GB that way and about 5 GB with the
#: plain sequential scheduler, at the same speed (benchmarks/bench_train.py).
DEFAULT_XLA_FLAGS = {"xla_cpu_enable_concurrency_optimized_scheduler": "false"}


def apply_default_xla_flags(environ: dict[str, str] | None = None) -> str:
    """Add posekit's defaults to ``XLA_FLAGS`` where the user has not set them.

    Parameters
    ----------
    environ
        The environment to update (default: ``os.environ``).

    Returns
    -------
    str
        The resulting ``XLA_FLAGS``.
    """
    env = os.environ if environ is None else environ
    flags = env.get("XLA_FLAGS", "").split()
    for name, value in DEFAULT_XLA_FLAGS.items():
        if not any(flag.lstrip("-").split("=")[0] == name for flag in flags):
            flags.append(f"--{name}={value}")
    env["XLA_FLAGS"] = " ".join(flags)
    return env["XLA_FLAGS"]
