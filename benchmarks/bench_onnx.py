"""Benchmark pose prediction on the CPU: jitted JAX (XLA) vs ONNX Runtime.

Usage::

    python benchmarks/bench_onnx.py [--nets resnet_50 resnet_18] [--batches 1 8]
                                    [--height 480] [--width 640] [--repeats 5]
                                    [--threads N] [--json out.json]

Both backends run the whole prediction a video analysis runs: uint8 frames in,
``(batch, J, 3)`` poses out (mean-pixel subtraction, network, argmax decode):
JAX through :func:`posekit.model.decode.make_predict_fn`, ONNX Runtime through
:class:`posekit.predict.onnx_backend.OnnxPosePredictor` on the graph of
:func:`posekit.predict.onnx_export.export_onnx` (CPUExecutionProvider,
``--threads`` intra-op threads, default: the usable cores, all graph
optimisations).

Each (network, backend) runs in its own subprocess (so the peak RSS printed is
that backend's alone and one backend's thread pools cannot disturb the other);
it builds the network (random weights: speed does not depend on the values),
runs one warm-up call per batch size (JAX compiles there; the time is printed),
then ``--repeats`` timed calls on the same batch, and reports the median (and
best) frames/s and the median process CPU time per frame (all threads; less
sensitive to other jobs than wall time, though spinning worker threads count
too). The 1-minute load average is printed before and after each run: on a
shared machine the wall-clock figures move with it. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def _loadavg() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return float("nan")


def _peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``; ``ru_maxrss`` survives ``exec``)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _model(net_type: str, output_stride: int):
    import jax

    from posekit.model import PoseNet, init_pose_net

    return init_pose_net(jax.random.key(0), PoseNet(num_joints=4, net_type=net_type,
                                                    output_stride=output_stride))


def _time(fn, frames, repeats: int) -> tuple[list[float], list[float]]:
    """Wall-clock and process CPU seconds (all threads) of ``repeats`` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn(frames)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def worker(args: argparse.Namespace) -> None:
    """Time one backend for one network at every batch size; print one JSON line."""
    import numpy as np

    rng = np.random.default_rng(0)
    results = []
    t0 = time.perf_counter()
    if args.backend == "jax":
        import jax

        from posekit.model.decode import make_predict_fn

        model, variables = _model(args.net, args.output_stride)
        predict_fn = make_predict_fn(model)
        variables = jax.device_put(variables)

        def predict(frames):
            return np.asarray(predict_fn(variables, frames))
    else:
        from posekit.predict.onnx_backend import OnnxPosePredictor

        session = OnnxPosePredictor(args.onnx, threads=args.threads)
        predict = session.predict
    setup = time.perf_counter() - t0
    for batch in args.batches:
        frames = rng.integers(0, 256, (batch, args.height, args.width, 3), np.uint8)
        load_before = _loadavg()
        t0 = time.perf_counter()
        predict(frames)  # warm-up (JAX: compiles)
        warm = time.perf_counter() - t0
        times, cpu = _time(predict, frames, args.repeats)
        results.append({
            "batch": batch, "warmup_s": round(warm, 2),
            "fps_median": round(batch / statistics.median(times), 3),
            "fps_best": round(batch / min(times), 3),
            "cpu_s_per_frame": round(statistics.median(cpu) / batch, 3),
            "load_before": round(load_before, 2), "load_after": round(_loadavg(), 2),
        })
    peak_mb = _peak_rss_mb()
    print("RESULT " + json.dumps({"net": args.net, "backend": args.backend,
                                  "setup_s": round(setup, 2), "peak_rss_mb": round(peak_mb),
                                  "results": results}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nets", nargs="+", default=["resnet_50", "resnet_18"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--backends", nargs="+", default=["jax", "onnx"])
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--output-stride", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="ONNX Runtime intra-op threads (default: usable cores)")
    parser.add_argument("--json", default=None, help="also write the results here")
    # worker mode (internal)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--net", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--onnx", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return

    from posekit.predict.onnx_backend import usable_cores

    print(f"cores: {usable_cores()}, frames {args.width}x{args.height}, output stride "
          f"{args.output_stride}, repeats {args.repeats}, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    everything = []
    with tempfile.TemporaryDirectory(prefix="posekit-bench-onnx-") as tmp:
        for net in args.nets:
            onnx_path = os.path.join(tmp, f"{net}.onnx")
            if "onnx" in args.backends:
                from posekit.predict.onnx_export import export_onnx

                t0 = time.perf_counter()
                model, variables = _model(net, args.output_stride)
                export_onnx(model, variables, onnx_path)
                print(f"{net}: exported to ONNX in {time.perf_counter() - t0:.1f} s "
                      f"({os.path.getsize(onnx_path) / 1e6:.0f} MB)", flush=True)
            for backend in args.backends:
                cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--net", net,
                       "--backend", backend, "--onnx", onnx_path, "--height", str(args.height),
                       "--width", str(args.width), "--output-stride", str(args.output_stride),
                       "--repeats", str(args.repeats), "--batches",
                       *map(str, args.batches)]
                if args.threads:
                    cmd += ["--threads", str(args.threads)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=False)
                line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")),
                            None)
                if out.returncode or line is None:
                    print(f"{net} {backend}: FAILED\n{out.stderr[-2000:]}", flush=True)
                    continue
                record = json.loads(line[len("RESULT "):])
                everything.append(record)
                for r in record["results"]:
                    print(f"{net:10s} {backend:5s} batch {r['batch']:2d}: "
                          f"{r['fps_median']:6.2f} frames/s median ({r['fps_best']:.2f} best), "
                          f"{r['cpu_s_per_frame']:.2f} CPU s/frame, "
                          f"warm-up {r['warmup_s']:.1f} s, load {r['load_before']:.1f}"
                          f"->{r['load_after']:.1f}", flush=True)
                print(f"{net:10s} {backend:5s} setup {record['setup_s']:.1f} s, "
                      f"peak RSS {record['peak_rss_mb']} MB", flush=True)
    for net in args.nets:
        by = {r["backend"]: {x["batch"]: x["fps_median"] for x in r["results"]}
              for r in everything if r["net"] == net}
        if "jax" in by and "onnx" in by:
            ratios = ", ".join(f"batch {b}: {by['onnx'][b] / by['jax'][b]:.2f}x"
                               for b in args.batches if b in by["jax"] and b in by["onnx"])
            print(f"{net}: ONNX Runtime / JAX speed: {ratios}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(everything, fh, indent=1)


if __name__ == "__main__":
    main()
