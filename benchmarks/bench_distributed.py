"""Benchmark ``analyze_videos(..., client=)``: a Dask LocalCluster against the local run.

Usage::

    python benchmarks/bench_distributed.py [--videos 8] [--frames 300] [--width 640] [--height 480]
                                           [--long-frames 10000] [--long-size 640 480]
                                           [--long-chunk-frames N] [--nets resnet_50 tiny]

Smoke test (seconds)::

    python benchmarks/bench_distributed.py --videos 2 --frames 20 --width 160 --height 120 \
        --long-frames 300 --long-size 160 120 --long-chunk-frames 150 --nets tiny

Builds a throw-away project (``bench_analyze.make_project``: randomly initialised
snapshots, shuffle 1 resnet_50, shuffle 2 a tiny resnet_18 with 8 base
features; speed does not depend on the weights) and ``--videos`` synthetic
videos. For each network it runs, every time from cold (a fresh cluster, the
network loaded inside the timed run, as a local run loads it):

* ``local``: :func:`posekit.predict.analyze.analyze_videos` in this process;
* ``2 workers x 1 thread`` and ``1 worker x 2 threads``: LocalClusters (processes).

and prints per run:

* total frames/s (all frames over the wall time of the call);
* per-task overhead as a % of the local run's wall time: the time tasks spend
  outside their decode + predict loop (loading the network, opening and seeking
  the video, returning the poses), summed over tasks, plus the wall time no
  worker computes (scheduling, transfers, the client writing the files, idle
  tails), times the number of worker threads;
* peak RSS of each worker process (MB).

Then one ``--long-frames`` video (tiny network) on 2 single-thread workers
against 1 (it is split into 2 frame ranges), with the speed-up, and the peak
RSS per worker for it (memory must not grow with video length: compare with
the short videos').

The ONNX Runtime backend (the CPU default) gives each worker's network every
core: on a small machine, 2 workers oversubscribe the CPU. Figures only, no
assertions; on a shared machine the timings are noisy.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_analyze import make_project  # noqa: E402 - the benchmarks folder is on the path now

NETS = {"resnet_50": 1, "tiny": 2}
CLUSTERS = {"2 workers x 1 thread": (2, 1), "1 worker x 2 threads": (1, 2)}


def _peak_rss_mb() -> float:
    """This process's peak RSS: Linux's VmHWM (getrusage's ru_maxrss would include the
    parent's peak for a worker process, as it survives fork + exec)."""
    try:
        status = pathlib.Path("/proc/self/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024.0
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _analysis_tasks(stream: list[dict]) -> list[dict]:
    return [task for task in stream if str(task["key"]).startswith("posekit-analyze")]


def _busy_seconds(tasks: list[dict]) -> float:
    """Sum of the tasks' compute time."""
    return sum(span["stop"] - span["start"] for task in tasks for span in task["startstops"]
               if span["action"] == "compute")


def run_local(config, videos, shuffle: int, dest: pathlib.Path) -> dict:
    from posekit.predict.analyze import analyze_videos

    t0 = time.perf_counter()
    result = analyze_videos(config, videos, shuffle=shuffle, destfolder=dest, overwrite=True)
    wall = time.perf_counter() - t0
    frames = sum(v.nframes for v in result.videos)
    return {"wall": wall, "frames": frames, "rss": [_peak_rss_mb()]}


def run_cluster(config, videos, shuffle: int, dest: pathlib.Path, workers: int, threads: int,
                chunk_frames: int | None = None) -> dict:
    from distributed import Client, LocalCluster, get_task_stream

    from posekit.predict.distributed import DEFAULT_CHUNK_FRAMES, analyze_videos_on_cluster

    with LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        with get_task_stream(client) as stream:
            t0 = time.perf_counter()
            result = analyze_videos_on_cluster(client, config, videos, shuffle=shuffle, destfolder=dest,
                                               overwrite=True, chunk_frames=chunk_frames or DEFAULT_CHUNK_FRAMES)
            wall = time.perf_counter() - t0
        rss = client.run(_peak_rss_mb)
    tasks = _analysis_tasks(stream.data)
    busy = _busy_seconds(tasks)
    loop = sum(v.seconds for v in result.videos)
    # outside the loop inside tasks, plus the thread-seconds no task ran
    overhead = (busy - loop) + (wall * workers * threads - busy)
    return {"wall": wall, "frames": sum(v.nframes for v in result.videos), "rss": list(rss.values()),
            "overhead": overhead, "tasks": len(tasks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--frames", type=int, default=300, help="frames of each video")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--long-frames", type=int, default=10_000, help="the long video (0: skip it)")
    parser.add_argument("--long-size", type=int, nargs=2, default=[640, 480], metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--long-chunk-frames", type=int, default=None,
                        help="chunk_frames for the long video (default: the default rule, 2 ranges on 2 workers)")
    parser.add_argument("--nets", nargs="*", default=list(NETS), choices=list(NETS))
    args = parser.parse_args()

    from posekit.datasets import make_synthetic_video

    with tempfile.TemporaryDirectory(prefix="posekit-bench-distributed-") as tmp:
        work = pathlib.Path(tmp)
        # workers inherit it: compiled programs are shared, as between local runs
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(work / "xla-cache"))
        print(f"setting up in {work} ...", flush=True)
        config = make_project(work)
        videos = []
        for i in range(args.videos):
            videos.append(work / f"video_{i}.mp4")
            make_synthetic_video(videos[-1], args.frames, args.width, args.height, seed=i)
        print(f"{args.videos} videos x {args.frames} frames {args.width}x{args.height}; cores: {os.cpu_count()}; "
              f"load average: {os.getloadavg()[0]:.1f}", flush=True)

        header = (f"{'network':<11}{'run':<24}{'frames/s':>10}{'wall s':>9}{'overhead % of local':>21}"
                  "  peak RSS/worker MB")
        print("\n" + header + "\n" + "-" * len(header), flush=True)
        for net in args.nets:
            shuffle = NETS[net]
            local = run_local(config, videos, shuffle, work / f"local-{net}")
            print(f"{net:<11}{'local':<24}{local['frames'] / local['wall']:>10.2f}{local['wall']:>9.1f}{'':>21}  "
                  f"{local['rss'][0]:.0f} (this process)", flush=True)
            for name, (workers, threads) in CLUSTERS.items():
                r = run_cluster(config, videos, shuffle, work / f"dask-{net}-{workers}x{threads}", workers, threads)
                print(f"{net:<11}{name:<24}{r['frames'] / r['wall']:>10.2f}{r['wall']:>9.1f}"
                      f"{100 * r['overhead'] / local['wall']:>20.1f}%  "
                      + ", ".join(f"{m:.0f}" for m in r["rss"]), flush=True)

        if args.long_frames:
            long_video = work / "long.mp4"
            make_synthetic_video(long_video, args.long_frames, *args.long_size, seed=99)
            print(f"\none {args.long_frames}-frame {args.long_size[0]}x{args.long_size[1]} video, tiny network, "
                  "single-thread workers", flush=True)
            walls = {}
            for workers in (1, 2):
                r = run_cluster(config, [long_video], NETS["tiny"], work / f"long-{workers}", workers, 1,
                                args.long_chunk_frames)
                walls[workers] = r["wall"]
                print(f"{workers} worker(s): {r['frames'] / r['wall']:.2f} frames/s, {r['wall']:.1f} s, "
                      f"{r['tasks']} task(s), peak RSS/worker " + ", ".join(f"{m:.0f}" for m in r["rss"]) + " MB",
                      flush=True)
            print(f"speed-up of 2 workers over 1: {walls[1] / walls[2]:.2f}x (target >= 1.8x)", flush=True)


if __name__ == "__main__":
    main()
