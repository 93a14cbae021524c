"""This CPU's float32 peak, the yardstick for "fraction of peak" figures.

Two numbers: the nominal peak (cores x clock x 32 float32 FLOP per cycle for
AVX2 with two FMA units; 64 with AVX-512) and the measured one (the best of a
few large matrix products through XLA, i.e. what a perfect convolution could
reach here). Fractions in the benchmarks are of the measured peak.
"""

from __future__ import annotations

import os
import time


def nominal_peak_gflops() -> float | None:
    """Cores x clock (``/proc/cpuinfo``) x FLOP per cycle, or None if unknown."""
    try:
        with open("/proc/cpuinfo") as fh:
            info = fh.read()
    except OSError:
        return None
    clocks = [float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz")]
    if not clocks:
        return None
    per_cycle = 64 if " avx512f" in info else 32 if " fma" in info else 8
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores * max(clocks) / 1e3 * per_cycle


def measured_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The best GFLOP/s of ``repeats`` float32 ``size`` x ``size`` products through XLA."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones((size, size), jnp.float32)
    matmul = jax.jit(lambda x: x @ x)
    matmul(a).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        matmul(a).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


def describe_peak() -> dict[str, float | None]:
    """Both peaks, for printing."""
    return {"measured_gflops": measured_peak_gflops(), "nominal_gflops": nominal_peak_gflops()}


if __name__ == "__main__":
    peaks = describe_peak()
    print(f"measured float32 peak (XLA matmul): {peaks['measured_gflops']:.0f} GFLOP/s; "
          f"nominal: {peaks['nominal_gflops'] or float('nan'):.0f} GFLOP/s")
