"""posekit starts its subprocesses (ffmpeg) without running Python's at-fork hooks.

``subprocess`` runs the hooks registered with ``os.register_at_fork`` only when
``preexec_fn`` is given. JAX's hook warns "os.fork() was called..."; if a
warning handler takes a lock that another at-fork hook already holds (loguru,
through movement), the process deadlocks. Each scenario runs the four video
verbs in a child process with a timeout, so a hang fails the test instead of
hanging the suite.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.project_copies import copy_project

REPO = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT = 120

CHILD = textwrap.dedent(
    """
    import os, sys, threading, warnings
    from pathlib import Path

    config, scenario, scratch = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    import jax.numpy as jnp
    import numpy as np

    import posekit
    from posekit.predict.results import poses_to_dataframe, write_poses
    from posekit.project import Project

    jnp.ones(3).block_until_ready()  # JAX's backend (and its at-fork hook) is up
    project = Project.open(config)
    video = project.video_path("synthetic")
    if scenario == "movement":
        # movement routes warnings through loguru, whose at-fork hook holds its handler lock
        from movement.io import load_poses

        poses = np.random.default_rng(0).uniform(10, 100, (20, len(project.bodyparts), 3))
        poses[..., 2] = 0.9
        h5 = scratch / "otherDLC_resnet50_otherJan1shuffle1_10.h5"
        write_poses(poses_to_dataframe(poses, "DLC_resnet50_otherJan1shuffle1_10", project.bodyparts), h5)
        load_poses.from_dlc_file(h5)
    elif scenario == "lock":
        # A warning handler that takes a lock an at-fork hook holds: any hook that warns deadlocks.
        lock = threading.Lock()

        def showwarning(message, category, filename, lineno, file=None, line=None):
            with lock:
                sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

        warnings.showwarning = showwarning
        os.register_at_fork(before=lock.acquire, after_in_parent=lock.release,
                            after_in_child=lock.release)
    for verb in ("extract_frames", "analyze_videos", "create_labeled_video", "extract_outlier_frames"):
        print("start", verb, flush=True)
        if verb == "extract_frames":
            out = posekit.extract_frames(config, algo="uniform", seed=0)
            assert out["synthetic"].written, out
        elif verb == "analyze_videos":
            result = posekit.analyze_videos(config, [video], save_as_csv=True)
            assert result.videos[0].nframes == 120, result.summary()
        elif verb == "create_labeled_video":
            (labeled,) = posekit.create_labeled_video(config, [video])
            assert Path(labeled).stat().st_size > 0
        else:
            out = posekit.extract_outlier_frames(config, [video], outlieralgorithm="list",
                                                 frames2use=[5, 40], automatic=True)
            assert out, out
        print("done", verb, flush=True)
    """
)


@pytest.fixture
def fork_project(predict_project, tmp_path) -> Path:
    return copy_project(predict_project, tmp_path / predict_project.parent.name)


@pytest.mark.parametrize("scenario", ["movement", "lock"])
def test_video_verbs_do_not_run_at_fork_hooks(fork_project, tmp_path, scenario):
    pytest.importorskip("movement")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(fork_project), scenario, str(scratch)],
                              cwd=REPO, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        pytest.fail(f"{scenario}: the child hung (> {CHILD_TIMEOUT} s); last steps:\n{out}")
    assert proc.returncode == 0, f"{scenario}: child failed\n{proc.stdout}\n{proc.stderr[-4000:]}"
    assert proc.stdout.count("done ") == 4, proc.stdout
    assert "os.fork() was called" not in proc.stderr, proc.stderr[-4000:]


# Process creation that would run at-fork hooks, or bypass posekit.utils.process. The
# multiprocessing "spawn" start method is allowed: it execs a fresh interpreter without
# preexec_fn (multiprocessing.util.spawnv_passfds), so no at-fork hook runs.
_FORBIDDEN = re.compile(r"\bpreexec_fn\s*=|\bsubprocess\.(Popen|run|call|check_call|check_output)\(|"
                        r"\bos\.(fork|forkpty|system|spawn\w*|posix_spawn\w*|popen)\(|from subprocess import|"
                        r"\bget_context\((?!\"spawn\")|\bmultiprocessing\.(Process|Pool)\(|"
                        r"ProcessPoolExecutor\((?!.*mp_context=)")
_WRAPPER = REPO / "posekit" / "utils" / "process.py"


def _offenders() -> list[str]:
    found = []
    for path in sorted((REPO / "posekit").rglob("*.py")):
        if path == _WRAPPER:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if _FORBIDDEN.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    return found


def test_no_process_creation_outside_the_wrapper():
    offenders = _offenders()
    assert not offenders, ("start subprocesses with posekit.utils.process (no preexec_fn, no fork):\n"
                           + "\n".join(offenders))


@pytest.mark.parametrize("line", ["subprocess.Popen(cmd)", "x = subprocess.run(cmd, check=False)",
                                  "os.fork()", "Popen(cmd, preexec_fn=os.setpgrp)",
                                  'multiprocessing.get_context("fork")', "ProcessPoolExecutor(max_workers=2)"])
def test_the_lint_catches(line):
    assert _FORBIDDEN.search(line)


def test_wrapper_refuses_preexec_fn():
    from posekit.utils import process

    with pytest.raises(TypeError, match="preexec_fn"):
        process.popen(["true"], preexec_fn=lambda: None)
