"""Benchmark training: images/s, compile time, FLOPs per image and peak RSS.

Usage::

    python benchmarks/bench_train.py [--net resnet_50] [--crop 448] [--batch 8] [--steps 6]
                                     [--micro-batch N] [--bn trained|frozen] [--op-profile]

Builds the synthetic project, a training set, and runs the real jitted train step
(augmentation + forward + backward + SGD) from random init in a child process, so
the peak RSS is its own; ``--micro-batch N`` accumulates each batch's gradient
over slices of N images (less memory; 0: the whole batch; default: the
trainer's own choice). ``--bn trained`` (default) trains batch norm as from
scratch; ``--bn frozen`` starts from a (random) snapshot, which freezes batch
norm as the pretrained default does. Prints figures; asserts nothing. For
DeepLabCut's figure on the same machine, run ``bench_deeplabcut.py``.

``--op-profile`` also traces the timed steps (``jax.profiler``) and prints where
a step spends its time: XLA's operations grouped by kind (convolution, matrix
product, reduction such as batch-norm statistics, elementwise, layout copies)
and pass (forward, backward: ``transpose(jvp(...))`` in the operation's
metadata; augmentation; optimizer), then the heaviest single operations. Times
are thread-seconds per step, summed over XLA's threads.
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import re
import resource
import subprocess
import sys
import tempfile
import time

from cpu_peak import measured_peak_gflops


def _flops(compiled) -> float:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("flops", 0.0)) if cost else 0.0


_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*.*?\s([a-z][\w\-]*)\(")
_COMPUTATION = re.compile(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")


def _hlo_ops(hlo_text: str) -> dict[str, tuple[str, str]]:
    """Each instruction of an optimized HLO module: name -> (kind, metadata op_name)."""
    bodies: dict[str, list[str]] = {}
    ops: dict[str, tuple[str, str | None, str]] = {}
    current = None
    for line in hlo_text.splitlines():
        if not line.startswith((" ", "}")) and (start := _COMPUTATION.match(line)):
            current = start.group(1)
            bodies[current] = []
            continue
        if current is not None:
            bodies[current].append(line)
        if found := _INSTRUCTION.match(line):
            calls = re.search(r"calls=%?([\w.\-]+)", line)
            op_name = re.search(r'op_name="([^"]*)"', line)
            ops[found.group(1)] = (found.group(2), calls.group(1) if calls else None,
                                   op_name.group(1) if op_name else "")
    kinds = {"convolution": "convolution", "dot": "matrix product", "select-and-scatter": "max-pool backward",
             "reduce-window": "max-pool", "reduce": "reduction", "transpose": "layout copy", "copy": "layout copy"}

    def kind(opcode: str, calls: str | None) -> str:
        if opcode == "fusion" and calls in bodies:
            body = "\n".join(bodies[calls])
            return next((k for op, k in kinds.items() if f" {op}(" in body), "elementwise")
        return kinds.get(opcode, opcode)

    return {name: (kind(opcode, calls), op_name) for name, (opcode, calls, op_name) in ops.items()}


def _phase(op_name: str) -> str:
    if "transpose(jvp" in op_name:
        return "backward"
    for word, phase in (("augment", "augmentation"), ("adam", "optimizer"), ("optax", "optimizer"),
                        ("sgd", "optimizer")):
        if word in op_name.lower():
            return phase
    return "forward" if op_name else "other"


def _op_profile(run, steps: int, hlo_text: str, top: int = 12) -> None:
    """Trace ``steps`` calls of ``run`` and print the time per operation kind, pass and operation."""
    import jax

    with tempfile.TemporaryDirectory(prefix="posekit-trace-") as trace_dir:
        with jax.profiler.trace(trace_dir):
            for _ in range(steps):
                out = run()
            jax.block_until_ready(out)
        (path,) = pathlib.Path(trace_dir).rglob("*.xplane.pb")
        profile = jax.profiler.ProfileData.from_file(str(path))
    per_op: collections.Counter = collections.Counter()
    for plane in profile.planes:
        for line in plane.lines:
            for event in line.events:
                stats = dict(event.stats)
                if "hlo_op" in stats:
                    per_op[stats["hlo_op"]] += event.duration_ns / 1e9 / steps
    ops = _hlo_ops(hlo_text)
    total = sum(per_op.values())
    groups: collections.Counter = collections.Counter()
    for name, seconds in per_op.items():
        kind, op_name = ops.get(name, ("?", ""))
        groups[(kind, _phase(op_name))] += seconds
    print(f"op profile: {total:.2f} thread-s per step over XLA's threads", file=sys.stderr)
    for (kind, phase), seconds in groups.most_common():
        print(f"  {kind:<18}{phase:<14}{seconds:>8.3f} s {100 * seconds / total:>6.1f} %", file=sys.stderr)
    print("  heaviest operations:", file=sys.stderr)
    for name, seconds in per_op.most_common(top):
        kind, op_name = ops.get(name, ("?", ""))
        print(f"  {seconds:>8.3f} s {100 * seconds / total:>5.1f} %  {kind:<15} {name:<28} {op_name[-70:]}",
              file=sys.stderr)


def _child(config: str, net: str, crop: int, batch: int, steps: int, micro: int, bn: str,
           op_profile: bool = False) -> None:
    import jax

    from posekit.train.state import make_train_step
    from posekit.train.trainer import Trainer

    kwargs = {"maxiters": 10**9, "batch_size": batch, "crop_size": (crop, crop), "model_overrides": {"net_type": net},
              "micro_batch_size": None if micro < 0 else micro}
    init_weights = None
    if bn == "frozen":  # start from a snapshot: batch norm frozen, as from ImageNet weights
        init_weights = str(Trainer(config, pretrained=False, **kwargs).save())
    t0 = time.perf_counter()
    trainer = Trainer(config, pretrained=False, init_weights=init_weights, restart=True, **kwargs)
    init_s = time.perf_counter() - t0
    batch_arrays = trainer.data.batch(list(range(batch)) if len(trainer.data) >= batch
                                      else [i % len(trainer.data) for i in range(batch)])
    args = (batch_arrays.images, batch_arrays.sizes, batch_arrays.keypoints, batch_arrays.visible)
    t0 = time.perf_counter()
    compiled = trainer._step_fn.lower(trainer.state, *args).compile()
    compile_s = time.perf_counter() - t0
    flops = _flops(compiled)
    state = trainer.state
    state, metrics = compiled(state, *args)  # warm-up
    jax.block_until_ready(metrics)
    t0 = time.perf_counter()
    for _ in range(steps):
        state, metrics = compiled(state, *args)
    jax.block_until_ready(metrics)
    seconds = time.perf_counter() - t0
    if op_profile:
        carried = [state]  # the step may donate its state: each call takes the previous call's

        def run():
            carried[0], step_metrics = compiled(carried[0], *args)
            return step_metrics

        _op_profile(run, steps, compiled.as_text())
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if trainer.micro_batches > 1:  # XLA counts a loop's body once: count the unsliced step
        whole = make_train_step(trainer.model, trainer.aug, trainer.pose_cfg, trainer.schedule,
                                trainer.train_batch_norm)
        flops = _flops(whole.lower(state, *args).compile())
    print(json.dumps({
        "micro_batch_size": batch // trainer.micro_batches, "train_batch_norm": trainer.train_batch_norm,
        "init_s": init_s, "compile_s": compile_s, "images_per_s": steps * batch / seconds,
        "gflop_per_image": flops / batch / 1e9, "gflops_per_s": flops * steps / seconds / 1e9,
        "peak_rss_mb": peak_rss_mb,
        "peak_gflops": measured_peak_gflops(),
    }))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--net", default="resnet_50")
    parser.add_argument("--crop", type=int, default=448)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--micro-batch", type=int, default=-1,
                        help="images per gradient slice (0: whole batch; default: the trainer's choice)")
    parser.add_argument("--bn", choices=("trained", "frozen"), default="trained",
                        help="batch norm trained (from scratch) or frozen (as from pretrained weights)")
    parser.add_argument("--op-profile", action="store_true", help="also print where a step spends its time")
    parser.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        config, net, crop, batch, steps, micro, bn = args.child
        _child(config, net, int(crop), int(batch), int(steps), int(micro), bn, args.op_profile)
        return
    from posekit.dataset import create_training_dataset
    from posekit.datasets import make_synthetic_project

    with tempfile.TemporaryDirectory() as work:
        config = make_synthetic_project(work, n_frames=120, numframes2pick=16, width=640, height=480)
        create_training_dataset(config, seed=0, net_type=args.net)
        out = subprocess.run(
            [sys.executable, __file__, "--child", config, args.net, str(args.crop), str(args.batch), str(args.steps),
             str(args.micro_batch), args.bn, *(["--op-profile"] if args.op_profile else [])],
            stdout=subprocess.PIPE, text=True, check=True,  # the profile (stderr) goes straight to the terminal
        )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    slices = f" in slices of {r['micro_batch_size']}" if r["micro_batch_size"] < args.batch else ""
    bn = "batch norm trained" if r["train_batch_norm"] else "batch norm frozen"
    print(f"train {args.net} {args.crop}x{args.crop} batch {args.batch}{slices}, {bn}: "
          f"{r['images_per_s']:.2f} images/s, "
          f"compile {r['compile_s']:.1f} s, {r['gflop_per_image']:.1f} GFLOP/image "
          f"({r['gflops_per_s']:.1f} GFLOP/s reached, {r['gflops_per_s'] / r['peak_gflops']:.0%} of this CPU's "
          f"measured {r['peak_gflops']:.0f} GFLOP/s peak), peak RSS {r['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
