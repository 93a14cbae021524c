"""Reading and writing frame images (PNG/JPEG) through Pillow, atomically."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from posekit.utils.atomic import atomic_path


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an RGB ``uint8`` array of shape (H, W, 3).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not an image Pillow can decode.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Image '{path}' does not exist.")
    try:
        with Image.open(path) as img:
            return np.array(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"Cannot read image '{path}': {err}") from None


def write_png(path: str | os.PathLike, image: np.ndarray, compress_level: int = 3) -> Path:
    """Write an RGB (or gray) ``uint8`` array to ``path`` as PNG, atomically."""
    from PIL import Image

    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(_as_uint8(image)).save(tmp, format="PNG", compress_level=compress_level)
    return path


def encode_image(image: np.ndarray, fmt: str = "JPEG", quality: int = 90) -> bytes:
    """Encode an array as PNG or JPEG bytes (for sending frames to a browser)."""
    from PIL import Image

    buf = io.BytesIO()
    options = {"quality": quality} if fmt.upper() == "JPEG" else {"compress_level": 1}
    Image.fromarray(_as_uint8(image)).save(buf, format=fmt.upper(), **options)
    return buf.getvalue()


def _as_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"Expected a uint8 image, got dtype {image.dtype}.")
    return np.ascontiguousarray(image)
