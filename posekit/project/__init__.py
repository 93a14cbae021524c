"""Projects: config.yaml, the Project object, create_project and add_new_videos."""

from posekit.project.config import edit_config, read_config, write_config
from posekit.project.create import add_new_videos, create_project
from posekit.project.project import Project, frame_filename, frame_index_from_name

__all__ = [
    "Project",
    "add_new_videos",
    "create_project",
    "edit_config",
    "frame_filename",
    "frame_index_from_name",
    "read_config",
    "write_config",
]
