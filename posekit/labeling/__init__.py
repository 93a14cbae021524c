"""Headless state of the interactive tools: labeling sessions, crop boxes, view transforms."""

from posekit.labeling.crop import CropBox
from posekit.labeling.session import Change, LabelingSession
from posekit.labeling.view import ViewTransform

__all__ = ["Change", "CropBox", "LabelingSession", "ViewTransform"]
