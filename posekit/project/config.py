"""A project's ``config.yaml`` as a mapping: reading it, filling defaults, ordering, editing.

This is the public face of the config: every config name is importable from
here. The pieces live in small modules, one job each:
:mod:`~posekit.project.config_schema` (keys, section layout, defaults, bounds),
:mod:`~posekit.project.config_file` (YAML text in and out, and the rewrite
that keeps a user's comments and layout), :mod:`~posekit.project.config_crop`
(the ``"x1, x2, y1, y2"`` crop box) and
:mod:`~posekit.project.config_validation` (every key checked).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from posekit.project.config_crop import check_crop_inside, format_crop, parse_crop
from posekit.project.config_file import dump_yaml, load_yaml, write_config
from posekit.project.config_schema import (
    CONFIG_KEYS,
    CONFIG_SECTIONS,
    DEFAULTS,
    MAX_DOTSIZE,
    MAX_NUMFRAMES2PICK,
    NET_TYPES,
    REQUIRED_KEYS,
)
from posekit.project.config_validation import validate_config

__all__ = [
    "CONFIG_KEYS",
    "CONFIG_SECTIONS",
    "DEFAULTS",
    "MAX_DOTSIZE",
    "MAX_NUMFRAMES2PICK",
    "NET_TYPES",
    "REQUIRED_KEYS",
    "check_crop_inside",
    "dump_yaml",
    "edit_config",
    "format_crop",
    "load_yaml",
    "order_config",
    "parse_crop",
    "read_config",
    "validate_config",
    "with_defaults",
    "write_config",
]


def read_config(path: str | os.PathLike, validate: bool = True) -> dict[str, Any]:
    """Read and validate a project's ``config.yaml``.

    ``project_path`` is set to the folder that holds the file, so a moved project
    keeps working; the file is rewritten (as DeepLabCut does) when the stored value
    differs. Missing optional keys get DeepLabCut's defaults in the returned
    mapping; unknown keys are kept.

    Parameters
    ----------
    path
        Path of ``config.yaml``.
    validate
        Check every key (see :func:`validate_config`).

    Returns
    -------
    dict
        The configuration, keys in file order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    posekit.errors.ConfigError
        If the file is malformed or a value is invalid; the message names the key.
    """
    path = Path(path).resolve()
    raw = load_yaml(path)
    cfg = order_config(with_defaults(raw))
    if cfg.get("video_sets") is None:
        cfg["video_sets"] = {}
    if validate:
        validate_config(cfg, source=path)
    project_path = str(path.parent)
    if raw.get("project_path") != project_path:
        cfg["project_path"] = project_path
        if os.access(path, os.W_OK):
            raw["project_path"] = project_path
            write_config(path, raw)
    return cfg


def with_defaults(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` with DeepLabCut's defaults for its missing optional keys.

    Required keys (:data:`REQUIRED_KEYS`) are never filled in: a config without
    ``bodyparts`` must fail validation naming the key, not silently label the
    template's ``bodypart1``, ``bodypart2``...
    """
    missing = {k: v for k, v in DEFAULTS.items() if k not in raw and k not in REQUIRED_KEYS}
    return {**missing, **raw}


def order_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``cfg`` with known keys in DeepLabCut's order, unknown keys after."""
    ordered = {k: cfg[k] for k in CONFIG_KEYS if k in cfg}
    ordered.update({k: v for k, v in cfg.items() if k not in ordered})
    return ordered


def edit_config(path: str | os.PathLike, edits: Mapping[str, Any]) -> dict[str, Any]:
    """Set some keys of a config file, validate the result and write it.

    Parameters
    ----------
    path
        Path of ``config.yaml``.
    edits
        Keys and their new values.

    Returns
    -------
    dict
        The updated configuration.
    """
    raw = load_yaml(path)
    raw.update(edits)
    validate_config(with_defaults(raw), source=Path(path))
    write_config(path, raw)
    return read_config(path)
