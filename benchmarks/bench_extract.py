"""Benchmark k-means frame extraction on a long video: frames/s and peak memory.

Usage::

    python benchmarks/bench_extract.py [--frames 10000] [--width 640] [--height 480]

Makes a synthetic video (cached in benchmarks/results/), a project around it, and
runs ``extract_frames(algo="kmeans")`` in a child process so its peak RSS is its own.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _child(config: str, numframes: int) -> None:
    from posekit import extract_frames
    from posekit.project import edit_config

    edit_config(config, {"numframes2pick": numframes})
    t0 = time.perf_counter()
    result = extract_frames(config, algo="kmeans", seed=0)
    seconds = time.perf_counter() - t0
    (_stem, extraction), = result.items()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "n_frames": extraction.n_frames,
                      "written": len(extraction.written), "peak_rss_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--numframes2pick", type=int, default=20)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return

    from posekit.datasets import make_synthetic_video
    from posekit.project import create_project

    cache = HERE / "results"
    cache.mkdir(exist_ok=True)
    video = cache / f"synthetic_{args.frames}_{args.width}x{args.height}.mp4"
    if not video.exists():
        t0 = time.perf_counter()
        make_synthetic_video(video, args.frames, args.width, args.height)
        print(f"made {video.name} in {time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory() as work:
        config = create_project("bench", "b", [video], work)
        out = subprocess.run(
            [sys.executable, __file__, "--child", config, str(args.numframes2pick)],
            capture_output=True, text=True, check=True,
        )
        stats = json.loads(out.stdout.strip().splitlines()[-1])
    fps = stats["n_frames"] / stats["seconds"]
    print(f"extract_frames kmeans: {stats['n_frames']} frames {args.width}x{args.height} "
          f"in {stats['seconds']:.1f} s = {fps:.0f} frames/s, "
          f"{stats['written']} frames written, peak RSS {stats['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
