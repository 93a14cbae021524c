"""Reading and writing posekit's files: videos, label tables, prediction files."""
