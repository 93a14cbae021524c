"""``config.yaml`` text in and out: safe YAML reading and dumping, and writing a config.

A new config gets the single-animal DeepLabCut 2.x keys in DeepLabCut's order,
with its section comments, and every other key after them. Rewriting an
existing config changes only the keys whose values changed: everything else
(the user's comments, blank lines, key order, quoting, list style) is kept
byte for byte, and a new key goes where DeepLabCut puts it, so a config
survives any number of edits as its owner wrote it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from posekit.errors import ConfigError
from posekit.project.config_schema import CONFIG_KEYS, CONFIG_SECTIONS
from posekit.utils.atomic import atomic_write_text


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
