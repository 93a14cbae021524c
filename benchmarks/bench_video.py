"""Benchmark posekit.io.video: sequential decoding and random-access latency.

Usage::

    python benchmarks/bench_video.py [--frames 3000] [--width 640] [--height 480]
                                     [--codec libx264] [--gop 250] [--reads 20]
                                     [--video existing.mp4]

Generates a test video (moving texture; H.264 in .mp4 by default) in a
temporary folder, or uses ``--video``, then prints:

* sequential decode speed of ``VideoReader.iter_frames`` (frames/s), also with
  ``step=5``;
* the first ``read()`` in the middle of the video (includes building the
  timestamp index) and ``n_frames`` (includes checking the last frames);
* median / max latency of ``read()`` at random indices (each one a seek) and of
  consecutive reads (``read(i)`` then ``read(i + 1)``, reusing the stream).

Figures only, no assertions. Timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from posekit.io.video import VideoReader, write_video  # noqa: E402


def _frames(n: int, width: int, height: int, seed: int = 0):
    """Cheap synthetic frames: a random texture drifting by one pixel a frame."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8 + 2, width // 8 + 2, 3), dtype=np.uint8)
    texture = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)
    for i in range(n):
        dy, dx = i % 8, (2 * i) % 8
        frame = np.ascontiguousarray(texture[dy:dy + height, dx:dx + width])
        frame[: 16, : 16 * 16] = 0
        for b in range(16):  # the index as white blocks, top left
            if (i >> b) & 1:
                frame[:16, b * 16:(b + 1) * 16] = 255
        yield frame


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--codec", default="libx264")
    parser.add_argument("--gop", type=int, default=250, help="key frame interval")
    parser.add_argument("--reads", type=int, default=20, help="random reads to time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--video", type=pathlib.Path, help="benchmark this file instead")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="posekit-bench-") as tmp:
        if args.video is not None:
            path = args.video
        else:
            suffix = ".mp4" if args.codec.startswith("libx26") else ".avi"
            path = pathlib.Path(tmp) / f"bench{suffix}"
            t0 = time.perf_counter()
            params = ["-g", str(args.gop)]
            if args.codec == "libx264":
                params += ["-preset", "veryfast"]
            write_video(path, _frames(args.frames, args.width, args.height, args.seed),
                        fps=args.fps, codec=args.codec, output_params=params)
            print(f"generated {path.name}: {args.frames} frames {args.width}x{args.height} "
                  f"{args.codec} (key frame every {args.gop}), "
                  f"{path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")
        run(path, args.reads, args.seed)


def run(path: pathlib.Path, n_reads: int, seed: int) -> None:
    t0 = time.perf_counter()
    reader = VideoReader(path)
    print(f"open (probe)                     {_ms(time.perf_counter() - t0)}")
    with reader:
        stated = reader.metadata_n_frames
        t0 = time.perf_counter()
        reader.read(stated // 2)
        print(f"first read, middle (index+seek)  {_ms(time.perf_counter() - t0)}")
        t0 = time.perf_counter()
        n = reader.n_frames
        print(f"n_frames = {n:<6d} (tail check)      {_ms(time.perf_counter() - t0)}")

        rng = np.random.default_rng(seed)
        lat = []
        for i in rng.integers(0, n, n_reads):
            t0 = time.perf_counter()
            reader.read(int(i))
            lat.append(time.perf_counter() - t0)
        print(f"random read() x{n_reads:<3d} median      {_ms(statistics.median(lat))}"
              f"   (max {_ms(max(lat)).strip()})")
        nxt = []
        for i in rng.integers(0, n - 1, 5):
            reader.read(int(i))
            t0 = time.perf_counter()
            reader.read(int(i) + 1)
            nxt.append(time.perf_counter() - t0)
        print(f"consecutive read(i+1) median     {_ms(statistics.median(nxt))}")

    for step in (1, 5):
        with VideoReader(path) as reader:
            t0 = time.perf_counter()
            count = sum(1 for _ in reader.iter_frames(step=step))
            dt = time.perf_counter() - t0
        print(f"iter_frames(step={step}): {count} frames in {dt:.2f} s = "
              f"{count / dt:7.1f} frames/s yielded ({count * step / dt:7.1f} decoded/s)")


if __name__ == "__main__":
    main()
