"""Reading pandas HDF5 files (labels, machine labels, analyses) without running code from them.

PyTables unpickles two kinds of content as it reads: attributes whose bytes end in ``.``
(pandas stores its own lists and dicts that way, e.g. ``non_index_axes``) and object
nodes (``VLArray`` with ``ObjectAtom``, what pandas' ``fixed`` format writes for
object-dtype data). A crafted pickle runs arbitrary code when unpickled, and PyTables
unpickles a node's attributes as soon as it touches the node, so the file is checked
*before* PyTables opens it, with h5py, which never unpickles.

The check reads every pickle in the file with :mod:`pickletools` (a parser that runs
nothing) and refuses the file when a pickle can reach code: when it names a class or
function other than the three that rebuild a numpy array (``_reconstruct``,
``ndarray``, ``dtype``), or uses the extension registry or persistent ids. Without
such a name nothing can be called. Pickles of plain lists, tuples, dicts, strings and
numbers (what pandas writes in attributes) and numpy object arrays of those (what it
writes in object nodes, e.g. the empty index of a table without rows) pass.
"""

from __future__ import annotations

import errno
import os
import pickletools
import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import tables

from posekit.errors import UnsafeFileError

__all__ = ["check_hdf5_safe", "read_pandas_hdf", "write_pandas_hdf"]

# The only names a pickle may look up: what numpy needs to rebuild an array.
_SAFE_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
})
# Opcodes that reach code other than by naming it.
_REFUSED_OPCODES = frozenset({"EXT1", "EXT2", "EXT4", "PERSID", "BINPERSID"})
_STRING_PUSHES = frozenset({
    "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING", "SHORT_BINSTRING",
})
_MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_STACK_NEUTRAL = frozenset({"PROTO", "FRAME", "STOP"})


def _code_reference(data: bytes) -> str | None:
    """What in the pickle ``data`` can reach code (e.g. ``"GLOBAL posix system"``), or None.

    The stack is followed only as far as needed to know the two strings a
    ``STACK_GLOBAL`` takes: the values pushed since, strings or unknown (None), with the
    memo. A lookup whose names are not both known strings is refused. Parsing stops
    where ``data`` stops being a valid pickle; an unpickler fails there at the latest,
    so nothing after it can run.
    """
    pushed: list[str | None] = []  # what each stack-changing opcode left on top
    memo: dict[int, str | None] = {}
    try:
        for opcode, arg, _pos in pickletools.genops(data):
            name = opcode.name
            if name in _REFUSED_OPCODES:
                return name
            if name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                if (module, attr) not in _SAFE_GLOBALS:
                    return f"{name} {module}.{attr}"
                pushed.append(None)
            elif name == "STACK_GLOBAL":
                names = tuple(pushed[-2:])
                if names not in _SAFE_GLOBALS:
                    shown = ".".join(str(n) for n in names) if all(names) else "an unknown name"
                    return f"STACK_GLOBAL {shown}"
                pushed.append(None)
            elif name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif name in _MEMO_PUTS:
                memo[int(arg)] = pushed[-1] if pushed else None
            elif name in _MEMO_GETS:
                pushed.append(memo.get(int(arg)))
            elif name in _STRING_PUSHES:
                pushed.append(arg.decode("latin-1") if isinstance(arg, bytes) else str(arg))
            elif name not in _STACK_NEUTRAL:
                pushed.append(None)
    except Exception:  # noqa: BLE001 - any parse failure ends what an unpickler would run
        pass
    return None


def _attribute_problem(value: Any) -> str | None:
    """Why unpickling this attribute value could run code (None: it cannot)."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    if not isinstance(value, bytes) or not value.endswith(b"."):
        return None  # PyTables unpickles only byte strings that end in "."
    reference = _code_reference(value)
    return None if reference is None else f"a pickle that calls code ({reference})"


def _node_problem(obj: h5py.HLObject) -> str | None:
    """Why reading this node through PyTables could run code (None: it cannot)."""
    for name in obj.attrs:
        try:
            value = obj.attrs[name]
        except Exception as exc:  # noqa: BLE001 - h5py raises many types for odd attribute types
            return f"attribute {name!r} cannot be checked ({exc})"
        problem = _attribute_problem(value)
        if problem is not None:
            return f"attribute {name!r} holds {problem}"
    if isinstance(obj, h5py.Dataset) and _is_object_node(obj):
        for row, element in enumerate(obj[()]):
            reference = _code_reference(np.asarray(element, dtype=np.uint8).tobytes())
            if reference is not None:
                return f"an object node whose row {row} is a pickle that calls code ({reference})"
    return None


def _is_object_node(dataset: h5py.Dataset) -> bool:
    pseudo = dataset.attrs.get("PSEUDOATOM")
    if isinstance(pseudo, (bytes, np.bytes_)):
        pseudo = pseudo.decode("ascii", "replace")
    return pseudo == "object"


def check_hdf5_safe(path: str | os.PathLike) -> None:
    """Refuse an HDF5 file whose reading through PyTables could run code.

    Parameters
    ----------
    path
        An ``.h5`` file.

    Raises
    ------
    UnsafeFileError
        If any node of the file holds a pickle that can call code, or an object node.
        The message names the file and the node, says why, and how to convert it.
    OSError
        If the file is not a readable HDF5 file (h5py's error).
    """
    path = Path(path)
    with h5py.File(path, "r") as handle:
        found: list[tuple[str, str]] = []

        def visit(name: str, obj: h5py.HLObject) -> None:
            if not found:
                problem = _node_problem(obj)
                if problem is not None:
                    found.append((name, problem))

        visit("/", handle)
        if not found:
            handle.visititems(visit)
    if found:
        node, problem = found[0]
        node = node if node.startswith("/") else f"/{node}"
        raise UnsafeFileError(
            f"{path}: node {node} has {problem}. Reading it could run code hidden in the file, "
            "so posekit does not read it. If you trust where the file came from, convert it "
            "once with pandas and use the copy: df = pandas.read_hdf(path); "
            "df.astype(float).to_hdf(path, key='df_with_missing', format='table') "
            "(or df.to_csv(...) and delete the .h5)."
        )


def read_pandas_hdf(
    path: str | os.PathLike, preferred_keys: tuple[str, ...] = ("/df_with_missing",)
) -> tuple[str, Any]:
    """Check an HDF5 file with :func:`check_hdf5_safe`, then read one pandas object.

    Parameters
    ----------
    path
        An ``.h5`` file written by pandas (``fixed`` or ``table`` format).
    preferred_keys
        Keys tried first, in order, when the file holds several objects; otherwise the
        only (or first) key is read.

    Returns
    -------
    tuple
        ``(key, object)``.

    Raises
    ------
    UnsafeFileError
        See :func:`check_hdf5_safe`.
    ValueError
        If the file holds no pandas object.
    Exception
        Whatever h5py, PyTables or pandas raise for an unreadable or corrupt file;
        callers turn these into an error of their own that names the file.
    """
    check_hdf5_safe(path)
    with pd.HDFStore(path, mode="r") as store:
        keys = list(store.keys())
        if not keys:
            raise ValueError(f"{path}: the HDF5 file holds no pandas object.")
        key = next((k for k in preferred_keys if k in keys), keys[0])
        return key, store.get(key)


def write_pandas_hdf(frame: pd.DataFrame, path: str | os.PathLike, key: str, fmt: str) -> None:
    """Write ``frame`` as the only object of a new HDF5 file (pandas ``to_hdf``).

    Parameters
    ----------
    frame
        The table to write.
    path
        The file to create (normally a temporary file of :mod:`posekit.utils.atomic`).
    key
        The HDF5 key (DeepLabCut's ``df_with_missing``).
    fmt
        pandas' ``"fixed"`` or ``"table"`` format.

    Raises
    ------
    OSError
        If the write fails; PyTables reports a full disk as ``HDF5ExtError``, which is
        turned into an ``OSError`` that says how much space is left.
    """
    try:
        frame.to_hdf(path, key=key, mode="w", format=fmt)
    except tables.HDF5ExtError as exc:
        free = shutil.disk_usage(Path(path).parent).free
        raise OSError(errno.EIO, f"HDF5 write failed: {exc} ({free / 1e6:.1f} MB free on the disk)") from exc
