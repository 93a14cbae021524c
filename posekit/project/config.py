"""DeepLabCut-compatible ``config.yaml``: template, reading, validation, writing.

posekit writes the single-animal DeepLabCut 2.x keys in DeepLabCut's order,
with its section comments, and keeps every key it does not know (3.x keys,
user additions) at the end, so a config survives a round trip unchanged.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from posekit.errors import ConfigError
from posekit.utils.atomic import atomic_write_text

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


class _Loader(yaml.SafeLoader):
    """Safe loader that also accepts the ``!!python/tuple`` old DLC configs hold."""


_Loader.add_constructor(
    "tag:yaml.org,2002:python/tuple",
    lambda loader, node: list(loader.construct_sequence(node)),
)


class _Dumper(yaml.SafeDumper):
    """Dumper that indents lists under their key like DeepLabCut's ruamel output."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML mapping, with an error naming the file when it is malformed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Config file '{path}' does not exist. Pass the path of a project's "
            "config.yaml (create one with posekit.create_project)."
        )
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as err:
        raise ConfigError(
            f"'{path}' is not valid YAML: {err}. Fix the syntax at the line shown."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"'{path}' must hold a mapping of keys (Task, scorer, bodyparts, ...), "
            f"but holds {type(data).__name__}."
        )
    return data


def dump_yaml(data: Mapping[str, Any]) -> str:
    """Dump a mapping to YAML text in the given key order."""
    return yaml.dump(
        dict(data),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1000,
    )


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


def write_config(path: str | os.PathLike, cfg: Mapping[str, Any]) -> Path:
    """Write ``cfg`` to ``path`` atomically, in DeepLabCut's order with its comments.

    Known keys come in template order under their section comments; unknown keys
    follow at the end in their own order. A missing ``skeleton`` becomes ``[]``
    with ``skeleton_color: black``, as DeepLabCut does.

    Parameters
    ----------
    path
        Destination ``config.yaml``.
    cfg
        The configuration mapping.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    cfg = dict(cfg)
    if cfg.get("skeleton") is None and "skeleton" not in cfg:
        cfg["skeleton"] = []
        cfg.setdefault("skeleton_color", "black")
    parts: list[str] = []
    for title, keys in CONFIG_SECTIONS:
        block = {k: cfg[k] for k in keys if k in cfg}
        if block:
            parts.append(f"    # {title}\n{dump_yaml(block)}")
    extra = {k: v for k, v in cfg.items() if k not in CONFIG_KEYS}
    if extra:
        parts.append(f"    # Other settings\n{dump_yaml(extra)}")
    path = Path(path)
    atomic_write_text(path, "\n".join(parts))
    return path


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


# --------------------------------------------------------------------------- #
# validation


def parse_crop(value: Any, where: str = "crop") -> tuple[int, int, int, int]:
    """Parse a DLC crop value ``"x1, x2, y1, y2"`` (string or list) to ints."""
    if isinstance(value, str):
        items = [p.strip() for p in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ConfigError(
            f"{where} must be a string 'x1, x2, y1, y2', got {value!r}."
        )
    try:
        box = tuple(int(float(p)) for p in items)
    except (TypeError, ValueError):
        box = ()
    if len(box) != 4:
        raise ConfigError(
            f"{where} must be four integers 'x1, x2, y1, y2', got {value!r}."
        )
    x1, x2, y1, y2 = box
    if not (0 <= x1 < x2 and 0 <= y1 < y2):
        raise ConfigError(
            f"{where} = {value!r} is not a box: need 0 <= x1 < x2 and 0 <= y1 < y2."
        )
    return box  # type: ignore[return-value]


def format_crop(box: tuple[int, int, int, int]) -> str:
    """Format a crop box as DeepLabCut stores it: ``"x1, x2, y1, y2"``."""
    return ", ".join(str(int(v)) for v in box)


def check_crop_inside(
    box: tuple[int, int, int, int], width: int, height: int, where: str
) -> None:
    """Raise ConfigError if ``box`` reaches outside a ``width`` x ``height`` frame."""
    _x1, x2, _y1, y2 = box
    if x2 > width or y2 > height:
        raise ConfigError(
            f"{where} = '{format_crop(box)}' lies outside the {width}x{height} "
            f"frame; use x2 <= {width} and y2 <= {height}."
        )


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
