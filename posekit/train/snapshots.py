"""Training snapshots: ``snapshot-<iteration>`` files, newest-N kept, whole or absent.

A snapshot is the whole train state (parameters, batch statistics, optimizer
state, step, RNG) serialised with Flax's msgpack serialiser (no pickle), plus a
JSON file with what a reader needs to rebuild the network. The same JSON text
is also stored inside the msgpack (key :data:`METADATA_KEY`), and both files
are written and flushed before the ``.json`` is renamed into place, then the
``.msgpack``: a ``.msgpack`` therefore never exists without its metadata,
whenever a save is killed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from posekit.utils.atomic import atomic_paths, remove_stale_temps

_SNAPSHOT = re.compile(r"^snapshot-(\d+)\.msgpack$")
_SNAPSHOT_JSON = re.compile(r"^snapshot-(\d+)\.json$")
#: Temporary files of a snapshot save (``posekit.utils.atomic`` names them ``.<target>.*.tmp``).
_SNAPSHOT_TEMP = re.compile(r"^\.(snapshot-\d+\.(?:msgpack|json))\..*\.tmp$")

#: Key of the metadata (JSON text) inside a snapshot's msgpack.
METADATA_KEY = "posekit_metadata"


class CorruptSnapshotError(ValueError):
    """A snapshot file cannot be decoded (truncated or damaged)."""


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


def remove_unfinished_saves(folder: str | os.PathLike) -> list[Path]:
    """Delete what a killed :func:`save_snapshot` left in ``folder``.

    That is its temporary files (those :func:`~posekit.utils.atomic.remove_stale_temps`
    finds stale: their process is gone), and a ``snapshot-<n>.json`` whose
    ``.msgpack`` was never renamed into place (the json goes first).

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    targets = set()
    for p in folder.iterdir():
        temp = _SNAPSHOT_TEMP.match(p.name)
        if temp:  # the next save of this same target would remove them, but the next iteration's won't
            targets.add(folder / temp.group(1))
        elif _SNAPSHOT_JSON.match(p.name) and not p.with_suffix(".msgpack").exists():
            p.unlink(missing_ok=True)
            removed.append(p)
    for target in sorted(targets):
        removed += remove_stale_temps(target)
    return removed


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
        JSON-serialisable facts, written beside it (``.json``) and inside it.
    keep
        How many of the newest snapshots to keep (None: all).

    Returns
    -------
    pathlib.Path
        The ``.msgpack`` written.

    Raises
    ------
    OSError
        The snapshot could not be written (e.g. the disk is full); the message
        names it. Older snapshots are left as they were.
    """
    from flax import serialization

    path = snapshot_path(folder, iteration)
    meta_path = path.with_suffix(".json")
    text = json.dumps({"iteration": int(iteration), **metadata}, indent=1)
    data = serialization.msgpack_serialize({**serialization.to_state_dict(state), METADATA_KEY: text})
    remove_unfinished_saves(folder)
    try:
        with atomic_paths([meta_path, path]) as (meta_tmp, tmp):  # renamed in this order: the .msgpack commits
            meta_tmp.write_text(text, encoding="utf-8")
            tmp.write_bytes(data)
    except OSError as err:
        if not path.exists():  # failed between the two renames
            meta_path.unlink(missing_ok=True)
        kept = [p.name for _, p in list_snapshots(folder)]
        reason = os.strerror(err.errno) if err.errno else str(err)
        raise OSError(
            err.errno,
            f"Could not write snapshot '{path}' ({reason}). "
            + (f"The earlier snapshots ({', '.join(kept)}) are intact" if kept else "No snapshot was written")
            + "; free disk space and call train_network again to resume",
            str(path),
        ) from err
    if keep is not None:
        for _, old in list_snapshots(folder)[:-keep] if keep > 0 else []:
            for sibling in (old, old.with_suffix(".json"), old.with_suffix(".onnx")):
                sibling.unlink(missing_ok=True)  # .onnx: cached CPU export of it
    return path


def read_snapshot_dict(path: str | os.PathLike) -> dict[str, Any]:
    """The raw state dict of a snapshot file, its metadata included under :data:`METADATA_KEY`.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CorruptSnapshotError
        If the file cannot be decoded (truncated or damaged); names the file.
    """
    from flax import serialization

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Snapshot '{path}' does not exist.")
    data = path.read_bytes()
    try:
        restored = serialization.msgpack_restore(data)
    except Exception as err:  # msgpack raises many types (UnicodeDecodeError, ExtraData, ValueError...)
        raise CorruptSnapshotError(
            f"Snapshot '{path}' is truncated or damaged ({len(data)} bytes; {type(err).__name__}: {err}). "
            "Delete it to use the previous snapshot, or retrain."
        ) from err
    if not isinstance(restored, dict) or "params" not in restored:
        raise CorruptSnapshotError(f"Snapshot '{path}' holds no network parameters; it is not a posekit snapshot.")
    return restored


def restore_snapshot(path: str | os.PathLike, template: Any) -> tuple[Any, dict[str, Any]]:
    """Restore a snapshot into the structure of ``template``, with its metadata.

    The metadata is the copy stored inside the snapshot, else the ``.json``
    beside it (snapshots written before the copy existed), else ``{}``.

    Raises
    ------
    CorruptSnapshotError
        If the file cannot be decoded; names the file.
    """
    from flax import serialization

    data = read_snapshot_dict(path)
    embedded = data.pop(METADATA_KEY, None)
    metadata = json.loads(embedded) if embedded is not None else read_snapshot_metadata(path)
    return serialization.from_state_dict(template, data), metadata


def load_snapshot(path: str | os.PathLike, template: Any) -> Any:
    """Restore a snapshot into the structure of ``template`` (a freshly built state)."""
    return restore_snapshot(path, template)[0]


def read_snapshot_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON facts stored beside a snapshot (``{}`` if there are none)."""
    meta = Path(path).with_suffix(".json")
    return json.loads(meta.read_text()) if meta.is_file() else {}
