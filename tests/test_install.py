"""check_install reports JAX's devices and warns about an unused GPU."""

from __future__ import annotations

import pytest

from posekit.utils import install


def test_report(capsys):
    report = install.check_install()
    assert report["backend"] in ("cpu", "gpu", "cuda", "tpu")
    assert report["devices"] and report["ffmpeg"]
    assert "backend" in capsys.readouterr().out


def test_warns_when_gpu_unused(monkeypatch):
    import jax

    monkeypatch.setattr(install, "gpu_present", lambda: True)
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    with pytest.warns(UserWarning, match=r'jax\[cuda12\]'):
        install.check_install(verbose=False)


def test_lists_cached_weight_files_and_whether_they_are_verified(tmp_path, monkeypatch, capsys):
    import dataclasses

    from posekit.model import weights
    from posekit.utils.download import sha256_file

    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path))
    good = weights.imagenet_weights_path("resnet_18")
    good.parent.mkdir(parents=True)
    good.write_bytes(b"fake resnet18 weights")
    unpinned = weights.imagenet_weights_path("resnet_34")
    unpinned.write_bytes(b"fake resnet34 weights")
    for net_type, digest in (("resnet_18", sha256_file(good)), ("resnet_34", None)):
        entry = dataclasses.replace(weights.IMAGENET_WEIGHTS[net_type], sha256=digest)
        monkeypatch.setitem(weights.IMAGENET_WEIGHTS, net_type, entry)

    report = install.check_install()
    listed = {e["file"]: e for e in report["weights"]}
    assert set(listed) == {good.name, unpinned.name}
    assert listed[good.name]["verified"] and listed[good.name]["status"] == "verified"
    assert listed[good.name]["size_bytes"] == len(b"fake resnet18 weights")
    assert not listed[unpinned.name]["verified"]
    assert listed[unpinned.name]["status"] == "not yet recorded"
    out = capsys.readouterr().out
    assert f"{good.name}  0.0 MB  verified" in out and unpinned.name in out

    good.write_bytes(b"something else")
    with pytest.warns(UserWarning, match="fail their sha256 check"):
        report = install.check_install(verbose=False)
    assert {e["file"]: e["status"] for e in report["weights"]}[good.name] == "MISMATCH"


def test_empty_weights_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path))
    assert install.check_install()["weights"] == []
    assert "none cached" in capsys.readouterr().out
