"""Validation of a ``config.yaml`` mapping: every key checked, errors name the key and the fix."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from posekit.errors import ConfigError
from posekit.project.config_crop import parse_crop
from posekit.project.config_schema import DEFAULTS, MAX_DOTSIZE, MAX_NUMFRAMES2PICK, NET_TYPES, REQUIRED_KEYS


def _fail(source: Path | None, key: str, message: str) -> ConfigError:
    where = f" in '{source}'" if source else ""
    return ConfigError(f"config key '{key}'{where}: {message}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def validate_config(cfg: Mapping[str, Any], source: Path | None = None) -> None:
    """Check a configuration mapping; raise ConfigError naming the key and the fix.

    Parameters
    ----------
    cfg
        The configuration (as returned by :func:`read_config`).
    source
        The file it came from, quoted in messages.

    Raises
    ------
    posekit.errors.ConfigError
        On the first invalid key.
    """
    for key in REQUIRED_KEYS:
        if key not in cfg:
            raise _fail(source, key, "is missing; add it to config.yaml.")
    for key in ("Task", "scorer"):
        if not isinstance(cfg[key], str) or not cfg[key].strip():
            raise _fail(source, key, f"must be a non-empty string, got {cfg[key]!r}.")
    if cfg.get("multianimalproject"):
        raise _fail(
            source,
            "multianimalproject",
            "multi-animal projects are not supported by posekit yet; "
            "set it to false for a single-animal project.",
        )
    _validate_bodyparts(cfg, source)
    _validate_video_sets(cfg, source)
    for key in ("start", "stop"):
        if not _is_number(cfg[key]) or not 0 <= cfg[key] <= 1:
            raise _fail(
                source, key, f"must be a fraction between 0 and 1, got {cfg[key]!r}."
            )
    if cfg["start"] >= cfg["stop"]:
        raise _fail(
            source,
            "start",
            f"start ({cfg['start']}) must be smaller than stop ({cfg['stop']}).",
        )
    _check_int(cfg, "numframes2pick", source, minimum=1, maximum=MAX_NUMFRAMES2PICK)
    _check_int(cfg, "iteration", source, minimum=0)
    _check_int(cfg, "batch_size", source, minimum=1)
    _check_int(cfg, "dotsize", source, minimum=1, maximum=MAX_DOTSIZE)
    for key, lo, hi in (("pcutoff", 0, 1), ("alphavalue", 0, 1)):
        if not _is_number(cfg[key]) or not lo <= cfg[key] <= hi:
            raise _fail(
                source, key, f"must be a number in [{lo}, {hi}], got {cfg[key]!r}."
            )
    _validate_training_fraction(cfg, source)
    snap = cfg["snapshotindex"]
    if not (snap == "all" or (isinstance(snap, int) and not isinstance(snap, bool))):
        raise _fail(
            source, "snapshotindex", f"must be an integer or 'all', got {snap!r}."
        )
    net = cfg["default_net_type"]
    if net not in NET_TYPES:
        raise _fail(
            source,
            "default_net_type",
            f"unknown network {net!r}; choose one of {', '.join(NET_TYPES)}.",
        )
    _validate_colormap(cfg, source)
    _validate_skeleton_color(cfg, source)
    for key in ("cropping", "move2corner"):
        if not isinstance(cfg[key], bool):
            raise _fail(source, key, f"must be true or false, got {cfg[key]!r}.")
    if cfg["cropping"]:
        for key in ("x1", "x2", "y1", "y2"):
            _check_int(cfg, key, source, minimum=0)
        if not (cfg["x1"] < cfg["x2"] and cfg["y1"] < cfg["y2"]):
            raise _fail(
                source, "x1", "analysis crop needs x1 < x2 and y1 < y2."
            )
    corner = cfg["corner2move2"]
    if not (
        isinstance(corner, (list, tuple))
        and len(corner) == 2
        and all(_is_number(v) for v in corner)
    ):
        raise _fail(
            source, "corner2move2", f"must be a pair of numbers, got {corner!r}."
        )


def _check_int(
    cfg: Mapping[str, Any], key: str, source, minimum: int, maximum: int | None = None
) -> None:
    value = cfg[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _fail(
            source, key, f"must be an integer >= {minimum}, got {value!r}."
        )
    if maximum is not None and value > maximum:
        raise _fail(
            source,
            key,
            f"{value!r} is too large; use an integer from {minimum} to {maximum} "
            f"(DeepLabCut's default is {DEFAULTS[key]}).",
        )


def _validate_bodyparts(cfg: Mapping[str, Any], source) -> None:
    parts = cfg["bodyparts"]
    if parts == "MULTI!":
        raise _fail(
            source, "bodyparts", "multi-animal projects are not supported yet."
        )
    if not isinstance(parts, list) or not parts:
        raise _fail(
            source,
            "bodyparts",
            "must be a non-empty list of names, e.g. [nose, leftear, tailbase].",
        )
    if not all(isinstance(p, str) and p.strip() for p in parts):
        raise _fail(source, "bodyparts", f"every name must be a string: {parts!r}.")
    dupes = sorted({p for p in parts if parts.count(p) > 1})
    if dupes:
        raise _fail(
            source,
            "bodyparts",
            f"duplicate names {dupes}; each body part must appear once.",
        )
    skeleton = cfg.get("skeleton") or []
    if not isinstance(skeleton, list):
        raise _fail(source, "skeleton", "must be a list of [part, part] pairs.")
    for edge in skeleton:
        if not (isinstance(edge, (list, tuple)) and len(edge) >= 2):
            raise _fail(
                source, "skeleton", f"{edge!r} is not a [part, part] pair."
            )
        unknown = [p for p in edge if p not in parts]
        if unknown:
            raise _fail(
                source,
                "skeleton",
                f"edge {list(edge)} names unknown body part(s) {unknown}; "
                "use names from 'bodyparts'.",
            )


def _validate_video_sets(cfg: Mapping[str, Any], source) -> None:
    video_sets = cfg["video_sets"]
    if not isinstance(video_sets, dict):
        raise _fail(
            source, "video_sets", "must map each video path to {crop: 'x1, x2, y1, y2'}."
        )
    for video, entry in video_sets.items():
        if not isinstance(entry, dict) or "crop" not in entry:
            raise _fail(
                source,
                "video_sets",
                f"entry for '{video}' must be {{crop: 'x1, x2, y1, y2'}}, got {entry!r}.",
            )
        try:
            parse_crop(entry["crop"], where=f"crop of '{video}'")
        except ConfigError as err:
            raise _fail(source, "video_sets", str(err)) from None


def _validate_training_fraction(cfg: Mapping[str, Any], source) -> None:
    fractions = cfg["TrainingFraction"]
    if not isinstance(fractions, list) or not fractions:
        raise _fail(
            source, "TrainingFraction", "must be a list of fractions, e.g. [0.95]."
        )
    for f in fractions:
        if not _is_number(f) or not 0 < f < 1:
            raise _fail(
                source,
                "TrainingFraction",
                f"{f!r} is out of range; each fraction must be strictly between "
                "0 and 1 (e.g. 0.95).",
            )
        if round(f, 2) != f:
            raise _fail(
                source,
                "TrainingFraction",
                f"{f!r} has more than two decimals; use e.g. {round(f, 2)}.",
            )


def _validate_colormap(cfg: Mapping[str, Any], source) -> None:
    name = cfg["colormap"]
    if not isinstance(name, str):
        raise _fail(source, "colormap", f"must be a colormap name, got {name!r}.")
    from posekit.viz.colors import is_colormap  # matplotlib loads only here

    if not is_colormap(name):
        raise _fail(
            source,
            "colormap",
            f"unknown matplotlib colormap {name!r}; use e.g. rainbow, jet, viridis.",
        )


def _validate_skeleton_color(cfg: Mapping[str, Any], source) -> None:
    color = cfg["skeleton_color"]
    if color is None:  # drawn black, as DeepLabCut does
        return
    from matplotlib.colors import is_color_like  # matplotlib loads only here

    if not isinstance(color, str) or not is_color_like(color):
        raise _fail(
            source,
            "skeleton_color",
            f"{color!r} is not a matplotlib color; use a name or hex code, e.g. black or '#ff0000'.",
        )
