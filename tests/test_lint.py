"""The code base passes the project's ruff configuration (``[tool.ruff]`` in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    try:
        import ruff  # noqa: F401
    except ImportError:
        exe = shutil.which("ruff")
        if exe is None:
            pytest.skip("ruff is not installed (it comes with the test extra)")
        return [exe]
    return [sys.executable, "-m", "ruff"]


def test_ruff_check_passes():
    result = subprocess.run([*_ruff(), "check", "--no-cache", "posekit", "tests", "benchmarks", "notebooks"],
                            cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"ruff check found problems (fix them or `ruff check --fix`):\n{result.stdout}"
