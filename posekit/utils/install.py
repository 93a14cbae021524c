"""``check_install``: what posekit runs on (JAX devices, ffmpeg, widgets, cached weights), and what to fix."""

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
    """Report JAX's backend and devices, ffmpeg, the widget stack and cached ImageNet weights.

    Warns when a GPU is present but JAX sees only the CPU (the CPU-only jax
    wheel is installed), with the line that installs the CUDA wheels.

    Parameters
    ----------
    verbose
        Print the report.

    Returns
    -------
    dict
        ``backend``, ``devices``, ``gpu_present``, ``ffmpeg``, package versions,
        ``weights_cache`` (the folder) and ``weights``: one entry per cached
        ImageNet weight file (name, size, sha256, ``verified`` against the
        digest pinned in posekit, ``status``), see
        :func:`posekit.model.weights.cached_imagenet_weights`.
    """
    import imageio_ffmpeg
    import jax

    import posekit
    from posekit.model.weights import cached_imagenet_weights, resolve_cache_dir

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
        "weights_cache": str(resolve_cache_dir() / "weights"),
        "weights": cached_imagenet_weights(),
    }
    if verbose:
        width = max(map(len, report))
        for key, value in report.items():
            if key != "weights":
                print(f"{key:<{width}}  {value}")
        print(f"{'weights':<{width}}  {len(report['weights']) or 'none'} cached")
        for entry in report["weights"]:
            print(f"  {entry['file']}  {entry['size_bytes'] / 1e6:.1f} MB  {entry['status']}")
    if report["gpu_present"] and report["backend"] == "cpu":
        warnings.warn(
            "This machine has an NVIDIA GPU but JAX runs on the CPU only: the CPU-only jax "
            f"wheel is installed. Install the CUDA build with:  {CUDA_INSTALL}  "
            "then restart the kernel.",
            stacklevel=2,
        )
    bad = [e["path"] for e in report["weights"] if e["status"] in ("MISMATCH", "record unreadable")]
    if bad:
        warnings.warn(
            f"Cached ImageNet weights fail their sha256 check: {', '.join(bad)}. Delete them "
            "(and their .sha256.json) so posekit downloads them again.",
            stacklevel=2,
        )
    return report
