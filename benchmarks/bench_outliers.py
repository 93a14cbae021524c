"""Benchmark the outlier detectors on a long prediction series (the ``fitting`` ARMA fits above all).

Usage::

    python benchmarks/bench_outliers.py [--frames 100000] [--bodyparts 4] [--jobs N] [--serial]

Builds predictions like ``analyze_videos`` writes for a long video: the
synthetic animal's exact keypoints plus 1 px Gaussian noise, likelihood 0.95,
stretches of low likelihood, and single-frame glitches (whole body moved by
60 px) at known frames. Times ``detect_outliers`` for ``uncertain``, ``jump``
and ``fitting`` (2 fits per body part, in worker processes unless
``--serial``) and reports how many glitches each found, with wall and CPU
seconds (on a shared machine, CPU seconds / cores bounds the idle wall time).
Prints JSON figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def make_predictions(n: int, n_parts: int, n_glitches: int, seed: int = 0):
    from posekit.datasets import synthetic_keypoints

    rng = np.random.default_rng(seed)
    keypoints = synthetic_keypoints(n)[:, :n_parts]
    poses = np.empty((n, n_parts, 3))
    poses[:, :, :2] = keypoints + rng.normal(0, 1.0, keypoints.shape)
    poses[:, :, 2] = 0.95
    for start in rng.choice(n - 20, size=max(n // 5000, 1), replace=False):
        poses[start : start + 10, rng.integers(n_parts), 2] = 0.001  # occlusions
    glitches = np.sort(rng.choice(np.arange(100, n - 100, 7), size=n_glitches, replace=False))
    poses[glitches, :, :2] += 60.0
    return poses, glitches


def _cpu_seconds() -> float:
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--bodyparts", type=int, default=4)
    parser.add_argument("--glitches", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=None, help="worker processes for fitting")
    parser.add_argument("--serial", action="store_true", help="fit in this process (n_jobs=1)")
    args = parser.parse_args()

    from posekit.refine.outliers import detect_outliers

    poses, glitches = make_predictions(args.frames, args.bodyparts, args.glitches)
    figures = {
        "frames": args.frames,
        "bodyparts": args.bodyparts,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    jobs = 1 if args.serial else args.jobs
    for algorithm in ("uncertain", "jump", "fitting"):
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        scores = detect_outliers(poses, algorithm, epsilon=20, p_bound=0.01, n_min=40, n_jobs=jobs)
        seconds = time.perf_counter() - t0
        found = np.isin(glitches, scores.candidates).sum()
        figures[algorithm] = {
            "seconds": round(seconds, 3),
            # this process + its finished workers: a figure the machine's load barely changes
            "cpu_seconds": round(_cpu_seconds() - cpu0, 2),
            "candidates": len(scores.candidates),
            "glitches_found": f"{found}/{len(glitches)}",
        }
        print(algorithm, json.dumps(figures[algorithm]), flush=True)
    figures["fitting"]["n_jobs"] = jobs if jobs is not None else "default (CPUs)"
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
