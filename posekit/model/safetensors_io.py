"""Read and write the safetensors format with numpy only.

The format (https://github.com/huggingface/safetensors) is: an unsigned
little-endian 64-bit header length ``N``; ``N`` bytes of UTF-8 JSON mapping each
tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (plus an
optional ``"__metadata__"`` dict of strings); then the byte buffer, where each
tensor is stored C-contiguous and little-endian at its offsets. That is simple
enough that posekit reads it itself instead of depending on the ``safetensors``
wheel (a compiled extension, and its numpy loader knows no bfloat16 without
extra packages); ``ml_dtypes`` (a JAX dependency) supplies bfloat16 / float8.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Mapping
from pathlib import Path

import ml_dtypes
import numpy as np

from posekit.utils.atomic import atomic_path

__all__ = ["read_safetensors", "read_safetensors_header", "write_safetensors"]

_DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype("<u1"),
    "I8": np.dtype("<i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
_MAX_HEADER = 100_000_000  # the reference implementation's limit


def read_safetensors_header(path: str | os.PathLike) -> dict:
    """Return the parsed JSON header of a safetensors file (no tensor data).

    Parameters
    ----------
    path
        The ``.safetensors`` file.

    Returns
    -------
    dict
        Tensor name -> ``{"dtype", "shape", "data_offsets"}``, plus
        ``"__metadata__"`` when present.

    Raises
    ------
    ValueError
        If the file is not a valid safetensors file.
    """
    with open(path, "rb") as fh:
        header, _ = _read_header(fh, Path(path))
    return header


def _read_header(fh, path: Path) -> tuple[dict, int]:
    raw = fh.read(8)
    if len(raw) != 8:
        raise ValueError(f"{path} is not a safetensors file (shorter than 8 bytes)")
    (size,) = struct.unpack("<Q", raw)
    file_size = os.fstat(fh.fileno()).st_size
    if size > _MAX_HEADER or 8 + size > file_size:
        raise ValueError(
            f"{path} is not a safetensors file (header length {size} does not "
            f"fit in {file_size} bytes)")
    try:
        header = json.loads(fh.read(size).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a safetensors file: bad header ({exc})"
                         ) from None
    if not isinstance(header, dict):
        raise ValueError(f"{path} is not a safetensors file: header is not a dict")
    return header, file_size - 8 - size


def read_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every tensor of a safetensors file into numpy arrays.

    Parameters
    ----------
    path
        The ``.safetensors`` file.

    Returns
    -------
    dict
        Tensor name -> array (native byte order, writable, sharing one buffer).

    Raises
    ------
    ValueError
        If the header is malformed, names an unknown dtype, or a tensor's
        offsets disagree with its shape or lie outside the file.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        header, data_size = _read_header(fh, path)
        buffer = bytearray(data_size)
        if fh.readinto(buffer) != data_size:
            raise ValueError(f"{path} is truncated")
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _DTYPES[info["dtype"]]
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"{path}: tensor {name!r} has an invalid entry {info!r} "
                f"(known dtypes: {', '.join(_DTYPES)})") from None
        nbytes = math.prod(shape) * dtype.itemsize
        if not 0 <= begin <= end <= data_size or end - begin != nbytes:
            raise ValueError(
                f"{path}: tensor {name!r} offsets [{begin}, {end}] do not hold "
                f"{info['dtype']}{list(shape)} ({nbytes} bytes) inside the "
                f"{data_size}-byte buffer")
        array = np.frombuffer(buffer, dtype, count=math.prod(shape), offset=begin)
        tensors[name] = array.reshape(shape).astype(dtype.newbyteorder("="),
                                                    copy=False)
    return tensors


def write_safetensors(
    path: str | os.PathLike,
    tensors: Mapping[str, np.ndarray],
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write arrays as a safetensors file (atomically).

    Parameters
    ----------
    path
        Destination file.
    tensors
        Name -> array; dtypes must be among the format's (bool, (u)int8-64,
        float16/32/64, bfloat16, float8).
    metadata
        Optional string -> string ``__metadata__``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        For a dtype the format cannot store.
    """
    header: dict = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    arrays, offset = [], 0
    for name, value in tensors.items():
        array = np.asarray(value)
        key = _NAMES.get(array.dtype.newbyteorder("<")) or _NAMES.get(array.dtype)
        if key is None:
            raise ValueError(f"tensor {name!r}: dtype {array.dtype} cannot be "
                             "stored in safetensors")
        data = np.ascontiguousarray(array, dtype=_DTYPES[key]).tobytes()
        header[name] = {"dtype": key, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        arrays.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # align the buffer to 8 bytes
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(encoded)))
        fh.write(encoded)
        for data in arrays:
            fh.write(data)
    return Path(path)
