"""``check_install``: what posekit runs on (JAX devices, ffmpeg, widgets), and what to fix."""

from __future__ import annotations

import os
import shutil
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

CUDA_INSTALL = 'pip install -U "jax[cuda12]"'


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def gpu_present() -> bool:
    """Whether this machine has an NVIDIA GPU (driver device nodes or ``nvidia-smi``)."""
    return Path("/dev/nvidia0").exists() or shutil.which("nvidia-smi") is not None


def check_install(verbose: bool = True) -> dict[str, Any]:
    """Report JAX's backend and devices, ffmpeg and the widget stack.

    Warns when a GPU is present but JAX sees only the CPU (the CPU-only jax
    wheel is installed), with the line that installs the CUDA wheels.

    Parameters
    ----------
    verbose
        Print the report.

    Returns
    -------
    dict
        ``backend``, ``devices``, ``gpu_present``, ``ffmpeg`` and package versions.
    """
    import imageio_ffmpeg
    import jax

    import posekit

    report: dict[str, Any] = {
        "posekit": posekit.__version__,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "gpu_present": gpu_present(),
        "ffmpeg": imageio_ffmpeg.get_ffmpeg_exe(),
        "onnxruntime": _version("onnxruntime"),
        "ipywidgets": _version("ipywidgets"),
        "ipycanvas": _version("ipycanvas"),
        "ipympl": _version("ipympl"),
        "cpu_count": os.cpu_count(),
    }
    if verbose:
        width = max(map(len, report))
        for key, value in report.items():
            print(f"{key:<{width}}  {value}")
    if report["gpu_present"] and report["backend"] == "cpu":
        warnings.warn(
            "This machine has an NVIDIA GPU but JAX runs on the CPU only: the CPU-only jax "
            f"wheel is installed. Install the CUDA build with:  {CUDA_INSTALL}  "
            "then restart the kernel.",
            stacklevel=2,
        )
    return report
