"""Starting subprocesses without running Python's at-fork hooks.

Every subprocess posekit starts (ffmpeg, for reading, writing and probing
videos) goes through :func:`popen` or :func:`run`. CPython runs the hooks
registered with ``os.register_at_fork`` around the fork of a subprocess only
when ``preexec_fn`` is given; imageio-ffmpeg passes ``preexec_fn=os.setpgrp``.
Those hooks are not harmless: JAX's warns "os.fork() was called...", and a
warning handler that takes a lock another hook already holds (loguru's, which
movement installs) deadlocks the process. So no ``preexec_fn`` here: a new
session (``setsid`` done by the child itself, no Python code in between) keeps
ffmpeg out of the terminal's process group, so Ctrl-C in a console interrupts
Python and not the encoder half-way through a frame.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["popen", "run"]


def _kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    if "preexec_fn" in kwargs:
        raise TypeError("posekit starts subprocesses without preexec_fn: it runs Python's at-fork "
                        "hooks, which can deadlock (JAX warns there, loguru holds a lock).")
    if sys.platform.startswith("win"):
        kwargs.setdefault("creationflags", 0x00000200)  # CREATE_NEW_PROCESS_GROUP
    else:
        kwargs.setdefault("start_new_session", True)
    return kwargs


def popen(cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen(cmd, **kwargs)`` in a new session, never with ``preexec_fn``.

    Parameters
    ----------
    cmd : sequence of str
        Program and arguments.
    **kwargs
        Passed to :class:`subprocess.Popen`.

    Returns
    -------
    subprocess.Popen

    Raises
    ------
    TypeError
        If ``preexec_fn`` is given.
    """
    return subprocess.Popen(list(cmd), **_kwargs(kwargs))


def run(cmd: Sequence[str], *, check: bool = False, **kwargs: Any) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, check=check, **kwargs)`` in a new session, never with ``preexec_fn``.

    Parameters
    ----------
    cmd : sequence of str
        Program and arguments.
    check : bool, default False
        Raise :class:`subprocess.CalledProcessError` on a non-zero exit status.
    **kwargs
        Passed to :func:`subprocess.run` (``timeout``, ``capture_output``, ...).

    Returns
    -------
    subprocess.CompletedProcess

    Raises
    ------
    TypeError
        If ``preexec_fn`` is given.
    subprocess.TimeoutExpired
        If ``timeout`` passes (the process is killed first).
    """
    return subprocess.run(list(cmd), check=check, **_kwargs(kwargs))
