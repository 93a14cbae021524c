"""Benchmark ``analyze_videos(..., client=)``: a Dask LocalCluster against the local run.

Usage::

    python benchmarks/bench_distributed.py [--videos 8] [--frames 120] [--width 640] [--height 480]
                                           [--long-frames 10000] [--long-size 320 240] [--long-net resnet_50]
                                           [--long-chunk-frames N] [--nets resnet_50 tiny]
                                           [--precision auto|fp32|int8]

The defaults take about 16 minutes on the idle 2-core development machine (int8,
the default precision there: ResNet-50 640x480 at about 11.7 frames/s on 2
threads, the long video's 320x240 at about 26 frames/s on one); the long video
takes 10 of them. Smoke test (about a minute)::

    python benchmarks/bench_distributed.py --videos 2 --frames 6 --width 160 --height 120 \
        --long-frames 300 --long-size 160 120 --long-chunk-frames 150 --nets tiny --long-net tiny

Builds a throw-away project (``bench_analyze.make_project``: randomly initialised
snapshots, shuffle 1 resnet_50, shuffle 2 a tiny resnet_18 with 8 base
features; speed does not depend on the weights) and ``--videos`` synthetic
videos, and exports each network's ONNX file once (untimed: a project's first
run does it). For each network it runs, every time from cold (a fresh cluster,
the network loaded inside the timed run, as a local run loads it):

* ``local``: :func:`posekit.predict.analyze.analyze_videos` in this process;
* ``2 workers x 1 thread`` and ``1 worker x 2 threads``: LocalClusters (processes).

and prints per run total frames/s (all frames over the wall time of the call),
peak RSS of each worker process (MB), and the cluster's overhead as a % of the
local run's wall time, from measured parts. Each part is in thread-seconds,
divided by the cluster's threads (the wall time it adds to a perfectly split
run):

* ``load``: the workers' predictor loads (timed on the workers:
  :data:`posekit.predict.distributed.LOAD_TOPIC` events);
* ``task``: the rest of the tasks' time outside their decode + predict loop
  (unpickling the task, the first task importing posekit, opening and seeking
  the video, returning from the loop);
* ``sched``: tasks x the median round trip of a no-op task on the warm cluster
  (an upper bound: Dask queues the next task on a busy worker, hiding part of it);
* ``xfer``: tasks x (round trip of a task returning as many bytes as the
  largest video's poses, a bound on one range's - the no-op's);
* ``rest``: thread-seconds no task ran that the parts above do not explain
  (the client planning and writing files, the last task running alone).

The local run's own time outside the loop (its load, planning, writing) is
printed too: ``total`` less that is what the cluster really adds.

Then one ``--long-frames`` video (``--long-net``, ResNet-50 by default: a
network whose frames cost far more than decoding them, as in real use) on 2
single-thread workers against 1 (the default rule splits it into 2 frame
ranges), with the speed-up and the peak RSS per worker: 10,000 frames on the 1
worker, 5,000 on each of the 2, so equal figures mean memory flat in video
length. It is 320x240 by default to keep the run affordable here.

Every run uses ``--precision`` (default ``auto``, analyze_videos' default: int8
on CPUs with VNNI/AMX); the local line says which ran. Below each cluster run
its fixed costs are printed in seconds (each worker's network load, the time a
task spends outside its frame loop, a no-op task's round trip and the extra
time to return the poses), so the overhead can be scaled to other video lengths.

Workers get one ONNX Runtime thread per worker thread
(:func:`~posekit.predict.distributed.worker_threads`), but each worker also
decodes in a thread of its own: 2 single-thread workers keep a little more than
2 cores busy, which costs a 2-core machine a few percent of the long video's
speed-up (with the tiny network, whose frames cost about as much as decoding
them, it drops to about 1.4x). Figures only, no assertions; on a shared machine
the timings are noisy (the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import statistics
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
    """Sum of the tasks' time on their workers (compute, and unpickling where Dask logs it)."""
    return sum(span["stop"] - span["start"] for task in tasks for span in task["startstops"]
               if span["action"] != "transfer")


def _zeros(nbytes: int):
    import numpy as np

    return np.zeros(nbytes, np.uint8)


def _round_trip(client, nbytes: int, repeats: int = 7) -> float:
    """Median seconds from submitting a task that returns ``nbytes`` bytes to holding them here."""
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        client.submit(_zeros, nbytes, key=f"bench-round-trip-{nbytes}-{i}", pure=False).result()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_local(config, videos, shuffle: int, dest: pathlib.Path, precision: str) -> dict:
    from posekit.predict.analyze import analyze_videos
    from posekit.predict.results import read_metadata

    t0 = time.perf_counter()
    result = analyze_videos(config, videos, shuffle=shuffle, destfolder=dest, overwrite=True, precision=precision)
    wall = time.perf_counter() - t0
    frames = sum(v.nframes for v in result.videos)
    return {"wall": wall, "frames": frames, "rss": [_peak_rss_mb()],
            "outside_loop": wall - sum(v.seconds for v in result.videos),
            "precision": read_metadata(result.videos[0].paths.meta)["precision"]}


def run_cluster(config, videos, shuffle: int, dest: pathlib.Path, workers: int, threads: int, precision: str,
                chunk_frames: int | None = None) -> dict:
    """One cold run on a fresh LocalCluster; overhead parts in thread-seconds (see the module docstring)."""
    from distributed import Client, LocalCluster, get_task_stream

    from posekit.predict.distributed import DEFAULT_CHUNK_FRAMES, LOAD_TOPIC, analyze_videos_on_cluster

    with LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        with get_task_stream(client) as stream:
            t0 = time.perf_counter()
            result = analyze_videos_on_cluster(client, config, videos, shuffle=shuffle, destfolder=dest,
                                               overwrite=True, chunk_frames=chunk_frames or DEFAULT_CHUNK_FRAMES,
                                               precision=precision)
            wall = time.perf_counter() - t0
        loads = [event for _, event in client.get_events(LOAD_TOPIC)]
        rss = client.run(_peak_rss_mb)
        # the largest video's poses (a bound on one range's): frames x body parts x (x, y, likelihood) float32
        nbytes = 12 * _bodyparts(config) * max(v.nframes for v in result.videos)
        no_op = _round_trip(client, 1)
        carry = _round_trip(client, nbytes)
    tasks = _analysis_tasks(stream.data)
    busy = _busy_seconds(tasks)
    loop = sum(v.seconds for v in result.videos)
    load = sum(event["seconds"] for event in loads)
    slots = workers * threads
    sched, xfer = len(tasks) * no_op, len(tasks) * max(carry - no_op, 0.0)
    overhead = {"load": load, "task": busy - loop - load, "sched": sched, "xfer": xfer,
                "rest": wall * slots - busy - sched - xfer}
    return {"wall": wall, "frames": sum(v.nframes for v in result.videos), "rss": list(rss.values()),
            "overhead": {k: v / slots for k, v in overhead.items()}, "tasks": len(tasks),
            "load_each": [event["seconds"] for event in loads], "no_op": no_op, "carry": carry,
            "task_each": (busy - loop - load) / max(len(tasks), 1),
            "backends": sorted({f"{e['backend']} x{e['threads']}" for e in loads}),
            "failed": [v.video.name for v in result.videos if v.state == "failed"]}


def _bodyparts(config) -> int:
    from posekit.project.project import Project

    return len(Project.open(config).cfg["bodyparts"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--frames", type=int, default=120, help="frames of each video")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--long-frames", type=int, default=10_000, help="the long video (0: skip it)")
    parser.add_argument("--long-size", type=int, nargs=2, default=[320, 240], metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--long-chunk-frames", type=int, default=None,
                        help="chunk_frames for the long video (default: the default rule, 2 ranges on 2 workers)")
    parser.add_argument("--long-net", default="resnet_50", choices=list(NETS), help="the long video's network")
    parser.add_argument("--nets", nargs="*", default=list(NETS), choices=list(NETS))
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "int8"],
                        help="analysis precision (auto, the default: int8 on CPUs with VNNI/AMX)")
    args = parser.parse_args()

    from posekit.datasets import make_synthetic_video
    from posekit.predict.predictor import load_predictor

    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="posekit-bench-distributed-") as tmp:
        work = pathlib.Path(tmp)
        # workers inherit it: compiled programs are shared, as between local runs
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(work / "xla-cache"))
        print(f"setting up in {work} ...", flush=True)
        config = make_project(work)
        # export (and quantize) the networks now: every timed run then loads them, as after a first run
        for net in {*args.nets, *([args.long_net] if args.long_frames else [])}:
            load_predictor(config, NETS[net], precision=args.precision)
        videos = []
        for i in range(args.videos):
            videos.append(work / f"video_{i}.mp4")
            make_synthetic_video(videos[-1], args.frames, args.width, args.height, seed=i)
        print(f"{args.videos} videos x {args.frames} frames {args.width}x{args.height}; cores: {os.cpu_count()}; "
              f"load average: {os.getloadavg()[0]:.1f}", flush=True)

        parts = ("load", "task", "sched", "xfer", "rest")
        header = (f"{'network':<11}{'run':<22}{'frames/s':>9}{'wall s':>8}  overhead % of local wall: "
                  + "".join(f"{p:>6}" for p in parts) + f"{'total':>7}{'wall+':>7}  peak RSS/worker MB")
        print("\n" + header + "\n" + "-" * len(header), flush=True)
        for net in args.nets:
            shuffle = NETS[net]
            local = run_local(config, videos, shuffle, work / f"local-{net}", args.precision)
            outside = (f"({local['precision']}; its own time outside the loop: "
                       f"{100 * local['outside_loop'] / local['wall']:.1f} %)")
            print(f"{net:<11}{'local':<22}{local['frames'] / local['wall']:>9.2f}{local['wall']:>8.1f}  "
                  f"{outside:<70}  {local['rss'][0]:.0f} (this process)", flush=True)
            for name, (workers, threads) in CLUSTERS.items():
                r = run_cluster(config, videos, shuffle, work / f"dask-{net}-{workers}x{threads}", workers, threads,
                                args.precision)
                pct = {k: 100 * v / local["wall"] for k, v in r["overhead"].items()}
                print(f"{net:<11}{name:<22}{r['frames'] / r['wall']:>9.2f}{r['wall']:>8.1f}  {'':<26}"
                      + "".join(f"{pct[p]:>6.1f}" for p in parts) + f"{sum(pct.values()):>7.1f}"
                      f"{100 * (r['wall'] / local['wall'] - 1):>7.1f}  " + ", ".join(f"{m:.0f}" for m in r["rss"])
                      + f"  [{r['tasks']} tasks, "
                      f"{', '.join(r['backends'])}]" + (f" FAILED: {r['failed']}" if r["failed"] else ""), flush=True)
                print(f"{'':<33}fixed costs: load {', '.join(f'{s:.2f}' for s in r['load_each'])} s per worker; "
                      f"per task {r['task_each']:.2f} s in the task outside the loop, {r['no_op'] * 1e3:.0f} ms "
                      f"scheduling, {max(r['carry'] - r['no_op'], 0) * 1e3:.0f} ms returning the poses",
                      flush=True)

        if args.long_frames:
            long_video = work / "long.mp4"
            make_synthetic_video(long_video, args.long_frames, *args.long_size, seed=99)
            print(f"\none {args.long_frames}-frame {args.long_size[0]}x{args.long_size[1]} video, {args.long_net}, "
                  f"single-thread workers; load average: {os.getloadavg()[0]:.1f}", flush=True)
            walls = {}
            for workers in (1, 2):
                r = run_cluster(config, [long_video], NETS[args.long_net], work / f"long-{workers}", workers, 1,
                                args.precision, args.long_chunk_frames)
                walls[workers] = r["wall"]
                print(f"{workers} worker(s): {r['frames'] / r['wall']:.2f} frames/s, {r['wall']:.1f} s, "
                      f"{r['tasks']} task(s), peak RSS/worker " + ", ".join(f"{m:.0f}" for m in r["rss"]) + " MB",
                      flush=True)
            print(f"speed-up of 2 workers over 1: {walls[1] / walls[2]:.2f}x (target >= 1.8x; see the docstring "
                  "about 2-core machines)", flush=True)
    print(f"\nbenchmark took {time.perf_counter() - began:.0f} s", flush=True)

if __name__ == "__main__":
    main()
