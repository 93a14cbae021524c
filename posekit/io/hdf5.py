"""Reading pandas HDF5 files (labels, machine labels, analyses) without running code from them.

PyTables unpickles two kinds of content as it reads: attributes whose bytes end in ``.``
(pandas stores its own lists and dicts that way, e.g. ``non_index_axes``) and object
nodes (``VLArray`` with ``ObjectAtom``, what pandas' ``fixed`` format writes for
object-dtype data). A crafted pickle runs arbitrary code when unpickled, and PyTables
unpickles a node's attributes as soon as it touches the node, so the file is checked
*before* PyTables opens it, with h5py, which never unpickles.

The check reads every pickle in the file with :mod:`pickletools` (a parser that runs
nothing) and refuses the file when a pickle holds an opcode that can call code: one
that looks up a class or function (``GLOBAL``, ``STACK_GLOBAL``, ``INST``, ``OBJ``,
``EXT*``), calls one (``REDUCE``, ``NEWOBJ*``, ``BUILD``) or asks for a persistent id.
Pickles of plain lists, tuples, dicts, strings and numbers, which is all pandas writes
in attributes, pass. Object nodes are refused as a whole: pandas pickles them as numpy
object arrays, which always need a class lookup.
"""

from __future__ import annotations

import os
import pickletools
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from posekit.errors import UnsafeFileError

__all__ = ["check_hdf5_safe", "read_pandas_hdf"]

# Opcodes through which unpickling can reach code (see the module docstring).
_CODE_OPCODES = frozenset({
    "GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "REDUCE", "BUILD",
    "EXT1", "EXT2", "EXT4", "PERSID", "BINPERSID",
})


def _code_opcode(data: bytes) -> str | None:
    """The first opcode in the pickle ``data`` that can call code, or None.

    Parsing stops where ``data`` stops being a valid pickle; the unpickler fails at the
    same point at the latest, so nothing after it can run.
    """
    try:
        for opcode, _arg, _pos in pickletools.genops(data):
            if opcode.name in _CODE_OPCODES:
                return opcode.name
    except Exception:  # noqa: BLE001 - any parse failure ends what an unpickler would run
        pass
    return None


def _attribute_problem(value: Any) -> str | None:
    """Why unpickling this attribute value could run code (None: it cannot)."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    if not isinstance(value, bytes) or not value.endswith(b"."):
        return None  # PyTables unpickles only byte strings that end in "."
    opcode = _code_opcode(value)
    return None if opcode is None else f"a pickle that calls code ({opcode})"


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
        return "an object node (pickled Python objects)"
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
