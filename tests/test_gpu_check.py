"""benchmarks/gpu_check.py at its smoke size: every step runs and the JSON line holds the figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_smoke_prints_one_json_line():
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--smoke"],
                         capture_output=True, text=True, check=False, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [line for line in res.stdout.splitlines() if line.strip()]
    report = json.loads(lines[-1])
    assert report["smoke"] is True and report["backend"]
    assert report["train"]["steps"] == 3 and report["train"]["images_per_second"] > 0
    for batch in ("2", "4"):
        assert report["analyze"][batch]["nframes"] == 24
        assert report["analyze"][batch]["frames_per_second"] > 0
    # JAX and ONNX Runtime run the same trained network: the same poses
    assert report["onnx_vs_jax"]["frames"] == 4
    assert report["onnx_vs_jax"]["max_px"] < 0.5
