"""What a DeepLabCut ``config.yaml`` holds: its keys in file order, defaults, required keys and bounds.

Data only, shared by the file writer (:mod:`posekit.project.config_file`), the
validator (:mod:`posekit.project.config_validation`) and the config model
(:mod:`posekit.project.config`).
"""

from __future__ import annotations

from typing import Any

#: DeepLabCut 2.3 single-animal keys, in file order, grouped by the section
#: comment written before each group.
CONFIG_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Project definitions (do not edit)",
        ("Task", "scorer", "date", "multianimalproject", "identity"),
    ),
    ("Project path (change when moving around)", ("project_path",)),
    (
        "Annotation data set configuration (and individual video cropping parameters)",
        ("video_sets", "bodyparts"),
    ),
    (
        "Fraction of video to start/stop when extracting frames for labeling/refinement",
        ("start", "stop", "numframes2pick"),
    ),
    (
        "Plotting configuration",
        (
            "skeleton",
            "skeleton_color",
            "pcutoff",
            "dotsize",
            "alphavalue",
            "colormap",
        ),
    ),
    (
        "Training,Evaluation and Analysis configuration",
        (
            "TrainingFraction",
            "iteration",
            "default_net_type",
            "default_augmenter",
            "snapshotindex",
            "batch_size",
        ),
    ),
    (
        "Cropping Parameters (for analysis and outlier frame detection)",
        ("cropping", "x1", "x2", "y1", "y2"),
    ),
    (
        "Refinement configuration (parameters from annotation dataset configuration also relevant in this stage)",
        ("corner2move2", "move2corner"),
    ),
)

CONFIG_KEYS: tuple[str, ...] = tuple(k for _, keys in CONFIG_SECTIONS for k in keys)

#: Defaults DeepLabCut 2.3 writes for a new single-animal project.
DEFAULTS: dict[str, Any] = {
    "multianimalproject": False,
    "identity": None,
    "video_sets": {},
    "bodyparts": ["bodypart1", "bodypart2", "bodypart3", "objectA"],
    "start": 0,
    "stop": 1,
    "numframes2pick": 20,
    "skeleton": [["bodypart1", "bodypart2"], ["objectA", "bodypart3"]],
    "skeleton_color": "black",
    "pcutoff": 0.6,
    "dotsize": 12,
    "alphavalue": 0.7,
    "colormap": "rainbow",
    "TrainingFraction": [0.95],
    "iteration": 0,
    "default_net_type": "resnet_50",
    "default_augmenter": "default",
    "snapshotindex": -1,
    "batch_size": 8,
    "cropping": False,
    "x1": 0,
    "x2": 640,
    "y1": 277,
    "y2": 624,
    "corner2move2": [50, 50],
    "move2corner": True,
}

#: Keys every usable config must have (the others fall back to DEFAULTS).
REQUIRED_KEYS: tuple[str, ...] = ("Task", "scorer", "date", "video_sets", "bodyparts")

#: Upper bounds of values that are only ever typos when larger: a marker wider
#: than any video frame, or more frames to label than anyone labels by hand.
MAX_DOTSIZE = 200
MAX_NUMFRAMES2PICK = 10_000

NET_TYPES = (
    "resnet_18",
    "resnet_34",
    "resnet_50",
    "resnet_101",
    "resnet_152",
)
