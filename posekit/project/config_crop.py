"""The crop box DeepLabCut stores as ``"x1, x2, y1, y2"``: parsing, formatting, bounds check."""

from __future__ import annotations

from typing import Any

from posekit.errors import ConfigError


def parse_crop(value: Any, where: str = "crop") -> tuple[int, int, int, int]:
    """Parse a DLC crop value ``"x1, x2, y1, y2"`` (string or list) to ints."""
    if isinstance(value, str):
        items = [p.strip() for p in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ConfigError(
            f"{where} must be a string 'x1, x2, y1, y2', got {value!r}."
        )
    try:
        box = tuple(int(float(p)) for p in items)
    except (TypeError, ValueError):
        box = ()
    if len(box) != 4:
        raise ConfigError(
            f"{where} must be four integers 'x1, x2, y1, y2', got {value!r}."
        )
    x1, x2, y1, y2 = box
    if not (0 <= x1 < x2 and 0 <= y1 < y2):
        raise ConfigError(
            f"{where} = {value!r} is not a box: need 0 <= x1 < x2 and 0 <= y1 < y2."
        )
    return box  # type: ignore[return-value]


def format_crop(box: tuple[int, int, int, int]) -> str:
    """Format a crop box as DeepLabCut stores it: ``"x1, x2, y1, y2"``."""
    return ", ".join(str(int(v)) for v in box)


def check_crop_inside(
    box: tuple[int, int, int, int], width: int, height: int, where: str
) -> None:
    """Raise ConfigError if ``box`` reaches outside a ``width`` x ``height`` frame."""
    _x1, x2, _y1, y2 = box
    if x2 > width or y2 > height:
        raise ConfigError(
            f"{where} = '{format_crop(box)}' lies outside the {width}x{height} "
            f"frame; use x2 <= {width} and y2 <= {height}."
        )
