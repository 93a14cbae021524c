"""Benchmark posekit.create_labeled_video: frames/s of the decode -> draw -> encode stream.

Usage::

    python benchmarks/bench_labeled_video.py [--frames 600] [--width 640] [--height 480]
                                             [--trailpoints 5] [--repeat 2]

Builds the synthetic project with a ``width`` x ``height`` video of ``frames``
frames (7 body parts, 6 skeleton segments), writes perfect predictions as an
analysis file (about 10 % of the points below pcutoff), then prints frames/s of:

* decoding alone (``VideoReader.iter_frames``);
* drawing alone (dots + skeleton on one frame, repeatedly, in numpy);
* encoding alone (``write_video``, H.264 yuv420p, frames already in memory), with
  the x264 preset create_labeled_video uses and with x264's default (medium);
* the whole ``create_labeled_video`` (skeleton; then skeleton + trail);

and the process's peak memory before and after the runs (flat: frames are
streamed). Figures only, no assertions; timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from posekit.datasets import make_synthetic_project, synthetic_keypoints  # noqa: E402
from posekit.io.video import VideoReader, write_video  # noqa: E402
from posekit.project.project import Project  # noqa: E402
from posekit.viz.labeled_video import (  # noqa: E402
    _X264_PRESET,
    _style,
    create_labeled_video,
    draw_predictions,
    read_analysis,
    visible_points,
)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _write_predictions(project: Project, n: int, width: int, height: int) -> pathlib.Path:
    import pandas as pd

    stem = project.video_stems()[0]
    video = project.video_path(stem)
    kp = synthetic_keypoints(n, width, height)
    rng = np.random.default_rng(0)
    likelihood = np.where(rng.random(kp.shape[:2]) < 0.1, 0.1, 0.95)
    scorer = f"DLC_resnet50_{project.task_date}shuffle1_1000"
    cols = pd.MultiIndex.from_product([[scorer], project.bodyparts, ["x", "y", "likelihood"]],
                                      names=["scorer", "bodyparts", "coords"])
    data = np.concatenate([kp, likelihood[..., None]], axis=-1).reshape(n, -1)
    h5 = video.parent / f"{stem}{scorer}.h5"
    pd.DataFrame(data, columns=cols, index=range(n)).to_hdf(
        h5, key="df_with_missing", format="table", mode="w")
    return h5


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--trailpoints", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each timing (best kept)")
    args = parser.parse_args(argv)
    n, w, h = args.frames, args.width, args.height
    warnings.simplefilter("ignore")

    with tempfile.TemporaryDirectory(prefix="posekit-bench-lv-") as tmp:
        t = time.perf_counter()
        config = make_synthetic_project(tmp, n_frames=n, numframes2pick=2, width=w, height=h)
        project = Project.open(config)
        h5 = _write_predictions(project, n, w, h)
        video = project.video_path(project.video_stems()[0])
        print(f"setup: {n} frames {w}x{h}, 7 body parts, skeleton "
              f"({time.perf_counter() - t:.1f} s)")
        print(f"peak memory before runs    : {_peak_mib():.0f} MiB")

        def best(fn) -> float:
            times = []
            for _ in range(max(args.repeat, 1)):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            return min(times)

        def decode():
            with VideoReader(video) as reader:
                for _ in reader.iter_frames():
                    pass

        dt = best(decode)
        print(f"decode only                : {n / dt:7.0f} frames/s")

        analysis = read_analysis(h5)
        style = _style(project, analysis, "all", True, 0)
        visible = visible_points(analysis.xy, analysis.likelihood, style)
        with VideoReader(video) as reader:
            base = reader.read(0)
        frame = base.copy()

        def draw():
            for i in range(n):
                frame[...] = base
                draw_predictions(frame, i, analysis.xy, visible, style)

        dt = best(draw)
        print(f"draw only (skeleton)       : {n / dt:7.0f} frames/s "
              f"({dt / n * 1e3:.2f} ms/frame incl. a frame copy)")
        style_trail = _style(project, analysis, "all", True, args.trailpoints)

        def draw_trail():
            for i in range(n):
                frame[...] = base
                draw_predictions(frame, i, analysis.xy, visible, style_trail)

        dt = best(draw_trail)
        label = f"draw only (+trail {args.trailpoints})"
        print(f"{label:27s}: {n / dt:7.0f} frames/s")

        pool = [np.roll(base, 4 * k, axis=1) for k in range(30)]
        out = pathlib.Path(tmp) / "encode.mp4"
        for preset in (_X264_PRESET, "medium"):
            dt = best(lambda p=preset: write_video(out, (pool[i % 30] for i in range(n)), fps=30,
                                                   output_params=["-preset", p]))
            print(f"encode only (x264 {preset:8s}): {n / dt:5.0f} frames/s"
                  + ("  <- create_labeled_video's" if preset == _X264_PRESET else ""))

        dt = best(lambda: create_labeled_video(config, [video], draw_skeleton=True,
                                               overwrite=True))
        print(f"create_labeled_video       : {n / dt:7.0f} frames/s ({dt:.2f} s, skeleton)")
        dt = best(lambda: create_labeled_video(config, [video], draw_skeleton=True,
                                               trailpoints=args.trailpoints, overwrite=True))
        print(f"create_labeled_video       : {n / dt:7.0f} frames/s ({dt:.2f} s, skeleton + "
              f"trailpoints={args.trailpoints})")
        print(f"peak memory after runs     : {_peak_mib():.0f} MiB "
              f"(one {w}x{h} frame = {w * h * 3 / 2**20:.1f} MiB; "
              f"the video decoded = {n * w * h * 3 / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
