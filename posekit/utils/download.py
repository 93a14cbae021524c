"""Downloading files atomically and checking their sha256 digests."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from posekit.utils.atomic import atomic_path


def sha256_file(path: str | os.PathLike) -> str:
    """The sha256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: str | os.PathLike, timeout: float = 60.0) -> str:
    """Stream ``url`` to ``dest`` atomically and return the sha256 of what arrived.

    Raises whatever ``urllib`` raises (``URLError``, ``OSError``, ``TimeoutError``);
    ``dest`` is untouched on failure.
    """
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "posekit"})
    with urllib.request.urlopen(request, timeout=timeout) as response, atomic_path(
        Path(dest)
    ) as tmp, open(tmp, "wb") as out:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()
