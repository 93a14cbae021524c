"""Benchmark filterpredictions' filters: accuracy against known truth and speed.

Usage::

    python benchmarks/bench_filter.py [--frames 100000] [--bodyparts 4] [--arima-frames 10000]

No trained network is used: the detector is SIMULATED on the synthetic
animal's exact keypoints (:func:`posekit.datasets.synthetic_keypoints`), so the
truth is known for every frame. The simulated detections have

* Gaussian noise (2 px per axis) with likelihoods between 0.6 and 1, the
  noise growing as the likelihood falls (1 px at 1, 3 px at 0.6);
* dropouts: runs of 1-8 frames with no detection (NaN), about 3% of frames;
* confusions: about 2% of frames where the detector jumped 30-80 px away and
  said so (likelihood 0.0005, below the default p_bound 0.001);
* unsure misses: about 2% of frames 8-15 px off with likelihood 0.05-0.3.

For raw, median, arima, spline and kalman (default parameters of
``filterpredictions``: windowlength 5, p_bound 0.001, ARdegree 3, MAdegree 1)
it prints the RMSE against the truth (px, over the frames each method gives a
position for, and over the "clean" frames: detected with likelihood >=
p_bound, the same frames for every method), the share of frames with a
position, and frames/s on ``--frames`` frames x ``--bodyparts`` body parts.
ARIMA fits are slow, so arima is timed on ``--arima-frames`` frames (in this
process, ``n_jobs=1``) and its frames/s extrapolated from that. The accuracy
table is computed on the first ``--arima-frames`` frames for every method so
the rows compare like with like. Prints the CPU model and load; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

METHODS = ("raw", "median", "arima", "spline", "kalman")


def simulate(n: int, n_parts: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(detections (n, J, 3), truth (n, J, 2)) of the simulated detector described above."""
    from posekit.datasets import synthetic_keypoints

    rng = np.random.default_rng(seed)
    truth = synthetic_keypoints(n)[:, :n_parts]
    likelihood = rng.uniform(0.6, 1.0, (n, n_parts))
    sigma = 1.0 + 5.0 * (1.0 - likelihood)  # 1 px at likelihood 1, 3 px at 0.6
    poses = np.empty((n, n_parts, 3))
    poses[..., :2] = truth + rng.normal(0, 1, (n, n_parts, 2)) * sigma[..., None]
    poses[..., 2] = likelihood
    for _ in range(int(0.03 * n * n_parts / 4.5)):  # dropouts, mean length 4.5
        start, part, length = rng.integers(n - 8), rng.integers(n_parts), rng.integers(1, 9)
        poses[start:start + length, part, :2] = np.nan
    confused = rng.random((n, n_parts)) < 0.02
    angle = rng.uniform(0, 2 * np.pi, confused.sum())
    radius = rng.uniform(30, 80, confused.sum())
    poses[confused, :2] += np.stack([np.cos(angle), np.sin(angle)], -1) * radius[:, None]
    poses[confused, 2] = 0.0005
    unsure = (rng.random((n, n_parts)) < 0.02) & ~confused
    angle = rng.uniform(0, 2 * np.pi, unsure.sum())
    radius = rng.uniform(8, 15, unsure.sum())
    poses[unsure, :2] += np.stack([np.cos(angle), np.sin(angle)], -1) * radius[:, None]
    poses[unsure, 2] = rng.uniform(0.05, 0.3, unsure.sum())
    return poses, truth


def run(method: str, poses: np.ndarray) -> np.ndarray:
    from posekit.predict.filtering import filter_predictions

    if method == "raw":
        return poses.copy()
    params = {"windowlength": 5, "p_bound": 0.001, "ARdegree": 3, "MAdegree": 1, "alpha": 0.01}
    if method == "arima":
        params["n_jobs"] = 1
    return filter_predictions(poses, method, **params)


def accuracy(out: np.ndarray, poses: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    error = np.sum((out[..., :2] - truth) ** 2, axis=-1)
    has = np.isfinite(error)
    clean = np.isfinite(poses[..., :2]).all(-1) & (poses[..., 2] >= 0.001)
    return {
        "rmse_px": float(np.sqrt(error[has].mean())),
        "rmse_clean_px": float(np.sqrt(error[clean].mean())),
        "coverage": float(has.mean()),
    }


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--bodyparts", type=int, default=4)
    parser.add_argument("--arima-frames", type=int, default=10_000)
    args = parser.parse_args()

    poses, truth = simulate(args.frames, args.bodyparts)
    block = slice(0, args.arima_frames)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"CPU: {cpu_model()} ({cpus} cores available, 1-min load {os.getloadavg()[0]:.1f})")
    print("Detector SIMULATED on the synthetic animal's exact keypoints (no trained network): "
          "noise, dropouts, flagged confusions, unsure misses (see the docstring).")
    print(f"Accuracy on the first {args.arima_frames} frames x {args.bodyparts} body parts; "
          f"speed on {args.frames} frames (arima: {args.arima_frames}, extrapolated).\n")
    header = f"{'method':8} {'RMSE px':>8} {'RMSE clean px':>14} {'coverage':>9} {'frames/s':>10} {'seconds':>8}"
    print(header)
    print("-" * len(header))
    for method in METHODS:
        timed = poses[block] if method == "arima" else poses
        t0 = time.perf_counter()
        out = run(method, timed)
        seconds = time.perf_counter() - t0
        if method != "arima":  # accuracy on the same frames as arima's
            out = run(method, poses[block])
        scores = accuracy(out, poses[block], truth[block])
        rate = len(timed) / seconds if seconds > 0 else float("inf")
        print(f"{method:8} {scores['rmse_px']:8.2f} {scores['rmse_clean_px']:14.2f} "
              f"{scores['coverage']:9.1%} {rate:10.0f} {seconds:8.2f}"
              + (f"  (timed on {len(timed)} frames)" if method == "arima" else ""))


if __name__ == "__main__":
    main()
