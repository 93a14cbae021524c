"""Package-level promises: fast import, public verbs, README and CI in step."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import posekit

REPO = Path(__file__).resolve().parents[1]

VERBS = [
    "create_project",
    "add_new_videos",
    "extract_frames",
    "label_frames",
    "check_labels",
    "create_training_dataset",
    "train_network",
    "evaluate_network",
    "analyze_videos",
    "create_labeled_video",
    "plot_trajectories",
    "extract_outlier_frames",
    "refine_labels",
    "merge_datasets",
]



def test_import_is_light():
    code = (
        "import sys, time; t = time.perf_counter(); import posekit; "
        "dt = time.perf_counter() - t; "
        "heavy = [m for m in ('jax', 'matplotlib', 'pandas', 'sklearn', 'flax') if m in sys.modules]; "
        "print(dt, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, heavy = out.stdout.split(" ", 1)
    assert heavy.strip() == "[]"
    assert float(seconds) < 2.0


@pytest.mark.parametrize("verb", VERBS)
def test_verbs_importable(verb):
    assert callable(getattr(posekit, verb))
    assert verb in dir(posekit)


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no_such_thing"):
        posekit.no_such_thing  # noqa: B018


def test_readme_commands_and_ci_agree():
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    assert len(commands) >= 2
    main_job, test_cmd = commands[0], commands[1]
    assert "posekit demo" in main_job and "pip install" in main_job
    assert "pytest" in test_cmd and "pip install" in test_cmd
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci_lines
