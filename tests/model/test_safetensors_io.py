"""Tests for posekit.model.safetensors_io (numpy-only safetensors reader/writer)."""

from __future__ import annotations

import json
import struct

import ml_dtypes
import numpy as np
import pytest

from posekit.model.safetensors_io import (
    read_safetensors,
    read_safetensors_header,
    write_safetensors,
)


@pytest.fixture
def tensors():
    rng = np.random.default_rng(0)
    return {
        "conv1.weight": rng.normal(size=(4, 3, 7, 7)).astype(np.float32),
        "bn1.num_batches_tracked": np.array(5, np.int64),
        "half": rng.normal(size=(3, 2)).astype(np.float16),
        "bf": rng.normal(size=(5,)).astype(ml_dtypes.bfloat16),
        "flags": np.array([True, False, True]),
        "empty": np.zeros((0, 3), np.float32),
        "bytes": np.arange(7, dtype=np.uint8),
    }


def test_round_trip(tmp_path, tensors):
    path = write_safetensors(tmp_path / "a.safetensors", tensors, {"format": "pt"})
    back = read_safetensors(path)
    assert set(back) == set(tensors)
    for name, value in tensors.items():
        assert back[name].dtype == value.dtype, name
        assert back[name].shape == value.shape, name
        np.testing.assert_array_equal(back[name], value)
    header = read_safetensors_header(path)
    assert header["__metadata__"] == {"format": "pt"}
    assert header["conv1.weight"]["dtype"] == "F32"
    (size,) = struct.unpack("<Q", path.read_bytes()[:8])
    assert size % 8 == 0


def test_big_endian_input_is_stored_little_endian(tmp_path):
    value = np.arange(6, dtype=">f4").reshape(2, 3)
    back = read_safetensors(write_safetensors(tmp_path / "b.safetensors", {"x": value}))
    np.testing.assert_array_equal(back["x"], value)


def test_interoperates_with_the_safetensors_package(tmp_path, tensors):
    st = pytest.importorskip("safetensors.numpy")
    plain = {k: v for k, v in tensors.items() if k not in ("bf", "empty")}
    ours = write_safetensors(tmp_path / "ours.safetensors", plain)
    theirs = st.load_file(str(ours))
    for name, value in plain.items():
        np.testing.assert_array_equal(theirs[name], value)
    st.save_file(plain, str(tmp_path / "theirs.safetensors"))
    back = read_safetensors(tmp_path / "theirs.safetensors")
    for name, value in plain.items():
        np.testing.assert_array_equal(back[name], value)


def test_rejects_bad_files(tmp_path):
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"abc")
    with pytest.raises(ValueError, match="shorter than 8 bytes"):
        read_safetensors(short)
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(ValueError, match="header length"):
        read_safetensors(huge)
    header = json.dumps({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}}).encode()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", len(header)) + header + bytes(12))
    with pytest.raises(ValueError, match="'x' offsets"):
        read_safetensors(bad)
    header = json.dumps({"x": {"dtype": "Q99", "shape": [1], "data_offsets": [0, 1]}}).encode()
    bad.write_bytes(struct.pack("<Q", len(header)) + header + bytes(1))
    with pytest.raises(ValueError, match="invalid entry"):
        read_safetensors(bad)


def test_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="cannot be stored"):
        write_safetensors(tmp_path / "c.safetensors", {"c": np.zeros(2, np.complex64)})
