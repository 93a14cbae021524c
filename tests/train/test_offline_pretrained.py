"""train_network(pretrained=True) offline: an error that says what to download, where to put it, or pretrained=False."""

from __future__ import annotations

import urllib.error

import pytest

import posekit.model.weights as weights_mod
from posekit import train_network


def test_offline_pretrained_names_the_cache_file_and_pretrained_false(config, tmp_path, monkeypatch):
    def offline(url, dest, timeout=60.0):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(weights_mod, "download_file", offline)
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path / "cache"))
    expected = tmp_path / "cache" / "weights" / "resnet18.tv_in1k.safetensors"
    with pytest.raises(FileNotFoundError) as info:
        train_network(config, maxiters=1, pretrained=True, batch_size=2, crop_size=(64, 64), block=True)
    message = str(info.value)
    assert f"put it at exactly {expected}" in message
    assert "https://huggingface.co/timm/resnet18.tv_in1k/resolve/main/model.safetensors (about 47 MB)" in message
    assert "pass pretrained=False" in message
    assert "Temporary failure in name resolution" in message  # the real cause, not hidden
    assert not expected.exists()
