"""Writable copies of test projects."""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_project(config: Path, dest: Path) -> Path:
    """Copy a project and point its video_sets at the copied videos; return the new config."""
    from posekit.project import Project

    shutil.copytree(config.parent, dest)
    project = Project.open(dest / "config.yaml")
    project.cfg["video_sets"] = {
        str(project.videos_dir / Path(key).name): entry
        for key, entry in project.cfg["video_sets"].items()
    }
    project.save_config()
    return dest / "config.yaml"
