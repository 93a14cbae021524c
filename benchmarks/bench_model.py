"""Benchmark the PoseNet forward pass: frames/s, jitted, after warm-up.

Usage::

    python benchmarks/bench_model.py [--nets resnet_50 resnet_18] [--batches 1 8]
                                     [--height 480] [--width 640] [--seconds 10]

For each network and batch size: compile once (the time is printed), run one
warm-up call, then time calls on the same uint8 batch (already on the device)
until ``--seconds`` have passed (at least 2 calls) and print the median and
best frames/s. ``--decode`` also times forward + argmax decoding (what video
analysis runs). Random weights: speed does not depend on the values. On a
shared machine the figures move with its load. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time


def _time_calls(fn, args, seconds: float) -> list[float]:
    """Call ``fn(*args)`` until ``seconds`` passed (at least twice); the times."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 2 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        _block(fn(*args))
        times.append(time.perf_counter() - t0)
    return times


def _block(tree):
    """Wait for every array in ``tree``."""
    import jax

    return jax.block_until_ready(tree)


def bench(net_type: str, batch: int, height: int, width: int, output_stride: int,
          seconds: float, decode: bool) -> dict:
    """Time one configuration; return its figures."""
    import jax
    import numpy as np

    from posekit.model import PoseNet, init_pose_net, make_predict_fn

    model, variables = init_pose_net(
        jax.random.key(0), PoseNet(num_joints=4, net_type=net_type,
                                   output_stride=output_stride))
    images = jax.device_put(
        np.random.default_rng(0).integers(0, 256, (batch, height, width, 3), np.uint8))
    forward = jax.jit(lambda v, x: model.apply(v, x, use_running_average=True))
    predict = make_predict_fn(model)
    result = {"net_type": net_type, "output_stride": output_stride, "batch": batch,
              "size": f"{width}x{height}"}
    functions = {"forward": forward}
    if decode:
        functions["forward+decode"] = predict
    for name, fn in functions.items():
        t0 = time.perf_counter()
        compiled = fn.lower(variables, images).compile()
        result[f"{name} compile s"] = round(time.perf_counter() - t0, 2)
        _block(compiled(variables, images))  # warm-up
        times = _time_calls(compiled, (variables, images), seconds)
        result[f"{name} fps median"] = round(batch / statistics.median(times), 2)
        result[f"{name} fps best"] = round(batch / min(times), 2)
        result[f"{name} calls"] = len(times)
    return result


def main() -> None:
    """Parse the options and print one JSON line per configuration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", default=["resnet_50", "resnet_18"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--output-stride", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="timing budget per configuration and function")
    parser.add_argument("--decode", action="store_true",
                        help="also time forward + decoding")
    args = parser.parse_args()

    import jax

    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind} "
          f"({jax.default_backend()}), {os.cpu_count()} CPU cores")
    for net_type in args.nets:
        for batch in args.batches:
            print(json.dumps(bench(net_type, batch, args.height, args.width,
                                   args.output_stride, args.seconds,
                                   args.decode)), flush=True)


if __name__ == "__main__":
    main()
