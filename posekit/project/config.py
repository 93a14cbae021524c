"""DeepLabCut-compatible ``config.yaml``: template, reading, validation, writing.

A new config gets the single-animal DeepLabCut 2.x keys in DeepLabCut's order,
with its section comments, and every other key after them. Rewriting an
existing config changes only the keys whose values changed: everything else
(the user's comments, blank lines, key order, quoting, list style) is kept
byte for byte, and a new key goes where DeepLabCut puts it, so a config
survives any number of edits as its owner wrote it.
"""

from __future__ import annotations

import math
import os
import re
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


def dump_yaml(data: Mapping[str, Any], indent_sequences: bool = True) -> str:
    """Dump a mapping to YAML text in the given key order.

    ``indent_sequences=False`` writes block lists level with their key
    (``bodyparts:\n- Hand``), as DeepLabCut's own files do.
    """
    return yaml.dump(
        dict(data),
        Dumper=_Dumper if indent_sequences else yaml.SafeDumper,
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
    """Write ``cfg`` to ``path`` atomically, keeping an existing file's text.

    A new file (or one that is not a readable YAML mapping) gets DeepLabCut's
    layout: known keys in template order under their section comments, unknown
    keys after them. An existing file is edited instead (see
    :func:`_splice_config`): only the keys whose values changed are rewritten,
    keys no longer in ``cfg`` are removed, new keys go where DeepLabCut puts
    them; the user's comments, blank lines and key order stay. A missing
    ``skeleton`` becomes ``[]`` with ``skeleton_color: black``, as DeepLabCut does.

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
    path = Path(path)
    text = _splice_config(path.read_text(encoding="utf-8"), cfg) if path.is_file() else None
    atomic_write_text(path, _template_config(cfg) if text is None else text)
    return path


def _template_config(cfg: Mapping[str, Any]) -> str:
    """A config's text in DeepLabCut's order with its section comments (a new file)."""
    parts: list[str] = []
    for title, keys in CONFIG_SECTIONS:
        block = {k: cfg[k] for k in keys if k in cfg}
        if block:
            parts.append(f"    # {title}\n{dump_yaml(block)}")
    extra = {k: v for k, v in cfg.items() if k not in CONFIG_KEYS}
    if extra:
        parts.append(f"    # Other settings\n{dump_yaml(extra)}")
    return "\n".join(parts)


def _last_line(node: yaml.Node) -> int:
    """0-based line where ``node``'s text ends (its last scalar, or a flow collection's bracket).

    A block collection's own end mark lies at the next key, past any comment in
    between, so the last leaf is asked instead.
    """
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    end = node.end_mark
    # a block scalar (| or >) ends at column 0 of the line after its text
    return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types (``1``, ``1.0`` and ``True`` differ in a config)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively (the safe dumper writes no tuples)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _inline_comment(line: str, key: yaml.Node, value: yaml.Node) -> str:
    """The ``  # ...`` that ends a key's first line, or ``""``."""
    row = key.start_mark.line
    if value.start_mark.line > row:  # a block value below its key: the comment follows the colon
        rest = line[key.end_mark.column:]
        rest = rest[rest.index(":") + 1:] if ":" in rest else ""
    elif _last_line(value) == row:
        rest = line[value.end_mark.column:]
    else:
        return ""
    return rest.rstrip() if rest.strip().startswith("#") else ""


def _splice_config(text: str, cfg: Mapping[str, Any]) -> str | None:
    """``text`` with the top-level keys of ``cfg`` written into it, or None if it is no mapping.

    Each top-level key owns the lines from its key to the end of its value;
    the lines between two keys (blank lines, section and user comments) are
    kept whatever happens to the keys around them. A key whose value is
    unchanged keeps its text; a changed one is dumped again in the file's
    list style and keeps the comment that ended its first line; a new known
    key goes right after the file's key that is nearest before it in
    DeepLabCut's order (else right before the nearest after it), a new unknown
    key at the end.
    Parsing uses the same safe loader as :func:`load_yaml`: no code runs.
    """
    try:
        root = yaml.compose(text, Loader=_Loader)
        old = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode) or root.flow_style or not isinstance(old, dict):
        return None
    # split where YAML counts lines (str.splitlines also splits at form feeds etc.)
    lines = [line for line in re.findall(r"[^\r\n]*(?:\r\n|\r|\n|$)", text) if line]
    nodes = {k.value: (k, v) for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    if list(nodes) != list(old):  # non-string or repeated keys: no safe splice
        return None
    newline = "\r\n" if "\r\n" in text else "\n"
    seqs = [v for _, v in nodes.values() if isinstance(v, yaml.SequenceNode) and not v.flow_style]
    indent_sequences = not seqs or seqs[0].start_mark.column > 0

    def dumped(key: str, comment: str = "", flow_key: str = "") -> list[str]:
        value = cfg[key]
        if flow_key and isinstance(value, (list, tuple, dict)):  # a one-line [..] / {..} stays one line
            inline = yaml.safe_dump(_plain(value), default_flow_style=True, width=10**6, allow_unicode=True)
            block = [f"{flow_key}: {inline.strip()}"]
        else:
            block = dump_yaml({key: value}, indent_sequences).splitlines()
        if comment:
            block[0] += comment
        return [line + newline for line in block]

    # new keys go right after the existing key they follow in DeepLabCut's order (so above
    # the next section comment), or right before the one they precede (below its comments)
    after: dict[str, list[str]] = {}
    before: dict[str, list[str]] = {}
    at_end: list[str] = []
    for key in cfg:
        if key in old:
            continue
        if key not in CONFIG_KEYS:
            at_end.append(key)
            continue
        rank = CONFIG_KEYS.index(key)
        known = sorted((CONFIG_KEYS.index(k), k) for k in old if k in CONFIG_KEYS)
        preceding = [k for r, k in known if r < rank]
        following = [k for r, k in known if r > rank]
        if preceding:
            after.setdefault(preceding[-1], []).append(key)
        elif following:
            before.setdefault(following[0], []).append(key)
        else:
            at_end.append(key)

    out: list[str] = []
    cursor = 0  # first line not yet copied
    for key, (knode, vnode) in nodes.items():
        start, end = knode.start_mark.line, _last_line(vnode) + 1
        while end - 1 > start and not lines[end - 1].strip():  # a block scalar's trailing blank lines
            end -= 1
        out.extend(lines[cursor:start])  # the gap before the key: comments, blank lines
        cursor = end
        for new in before.get(key, []):
            out.extend(dumped(new))
        if key in cfg:
            if _same(old[key], cfg[key]):
                out.extend(lines[start:end])
            else:
                flow = isinstance(vnode, yaml.CollectionNode) and vnode.flow_style
                key_text = lines[start][knode.start_mark.column:knode.end_mark.column]
                out.extend(dumped(key, _inline_comment(lines[start], knode, vnode), key_text if flow else ""))
        for new in after.get(key, []):
            out.extend(dumped(new))
    out.extend(lines[cursor:])
    if out and not out[-1].endswith(("\n", "\r")):
        out[-1] += newline
    for key in at_end:
        out.extend(dumped(key))
    return "".join(out)


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
