"""Small helpers shared across posekit (atomic writes, naming)."""
