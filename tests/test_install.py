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
