"""Shared fixtures: the Reaching example from ../shared and the synthetic project."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.project_copies import copy_project

# Trainers built in different tests compile the same programs: share XLA's
# compilation cache across them (and with subprocesses) for this test session.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="posekit-jax-cache-"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

# analyze_videos' default precision="auto" runs int8 on CPUs with VNNI/AMX: every
# test would quantize its network first (slow) and compare int8 poses with float32
# references. Tests run float32 unless they ask for "auto" or int8 themselves
# (tests/predict/test_precision.py takes the variable away to test the default).
os.environ.setdefault("POSEKIT_PRECISION", "fp32")

REPO = Path(__file__).resolve().parents[1]
REACHING = Path(
    os.environ.get(
        "POSEKIT_REACHING_DIR",
        REPO.parent / "shared" / "data" / "Reaching-Mackenzie-2018-08-30",
    )
)


@pytest.fixture(scope="session")
def reaching_source() -> Path:
    """The read-only Reaching example (skipped cleanly when ../shared is absent)."""
    if not (REACHING / "config.yaml").is_file():
        pytest.skip(f"Reaching example not found at {REACHING}")
    return REACHING


@pytest.fixture
def reaching_project(reaching_source, tmp_path) -> Path:
    """A writable copy of the Reaching example (config.yaml path)."""
    dest = tmp_path / reaching_source.name
    shutil.copytree(reaching_source, dest)
    for path in dest.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    dest.chmod(0o755)
    return dest / "config.yaml"


@pytest.fixture(scope="session")
def synthetic_config(tmp_path_factory) -> Path:
    """The synthetic project, built once per test session (read-only use)."""
    from posekit.datasets import make_synthetic_project

    work = tmp_path_factory.mktemp("synthetic")
    return Path(make_synthetic_project(work, n_frames=120, numframes2pick=8, seed=1))


@pytest.fixture
def synthetic_copy(synthetic_config, tmp_path) -> Path:
    """A private, writable copy of the synthetic project (config.yaml path)."""
    return copy_project(synthetic_config, tmp_path / synthetic_config.parent.name)
