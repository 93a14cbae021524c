"""Training snapshots: ``snapshot-<iteration>`` files, newest-N kept, atomic writes.

A snapshot is the whole train state (parameters, batch statistics, optimizer
state, step, RNG) serialised with Flax's msgpack serialiser (no pickle), plus a
JSON file with what a reader needs to rebuild the network.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from posekit.utils.atomic import atomic_path, atomic_write_text

_SNAPSHOT = re.compile(r"^snapshot-(\d+)\.msgpack$")


def snapshot_path(folder: str | os.PathLike, iteration: int) -> Path:
    """``<folder>/snapshot-<iteration>.msgpack``."""
    return Path(folder) / f"snapshot-{int(iteration)}.msgpack"


def list_snapshots(folder: str | os.PathLike) -> list[tuple[int, Path]]:
    """(iteration, path) of every snapshot in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        match = _SNAPSHOT.match(p.name)
        if match:
            found.append((int(match.group(1)), p))
    return sorted(found)


def save_snapshot(
    folder: str | os.PathLike,
    iteration: int,
    state: Any,
    metadata: dict[str, Any],
    keep: int | None = 5,
) -> Path:
    """Write ``state`` as ``snapshot-<iteration>`` (atomically) and prune old ones.

    Parameters
    ----------
    folder
        The shuffle's ``train/`` folder.
    iteration
        The training step the state has reached.
    state
        A pytree of arrays (Flax serialisable).
    metadata
        JSON-serialisable facts written beside it (``.json``).
    keep
        How many of the newest snapshots to keep (None: all).
    """
    from flax import serialization

    path = snapshot_path(folder, iteration)
    with atomic_path(path) as tmp:
        tmp.write_bytes(serialization.msgpack_serialize(serialization.to_state_dict(state)))
    atomic_write_text(path.with_suffix(".json"), json.dumps({"iteration": int(iteration), **metadata}, indent=1))
    if keep is not None:
        for _, old in list_snapshots(folder)[:-keep] if keep > 0 else []:
            for sibling in (old, old.with_suffix(".json"), old.with_suffix(".onnx")):
                sibling.unlink(missing_ok=True)  # .onnx: cached CPU export of it
    return path


def load_snapshot(path: str | os.PathLike, template: Any) -> Any:
    """Restore a snapshot into the structure of ``template`` (a freshly built state)."""
    from flax import serialization

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Snapshot '{path}' does not exist.")
    data = serialization.msgpack_restore(path.read_bytes())
    return serialization.from_state_dict(template, data)


def read_snapshot_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON facts stored beside a snapshot."""
    meta = Path(path).with_suffix(".json")
    return json.loads(meta.read_text()) if meta.is_file() else {}
