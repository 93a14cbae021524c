"""DeepLabCut's keywords that posekit accepts but cannot use, or cannot honour.

The workflow verbs take DeepLabCut's positional order and keywords, so commands copied
from DeepLabCut's protocol or docs run as printed. Keywords that only steer
TensorFlow (``autotune``, ``allow_growth``, ...) are accepted and noted once per verb
and keyword as ignored; keywords asking for something posekit does not do raise an
error that names what to do instead.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["UNSET", "IgnoredKeywordWarning", "check_gputouse", "note_ignored", "refuse"]


class _Unset:
    """Default of a keyword posekit ignores: tells "not given" from any value."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
_noted: set[tuple[str, str]] = set()


class IgnoredKeywordWarning(UserWarning):
    """A DeepLabCut keyword that has no effect in posekit was given."""


def note_ignored(verb: str, why: str, **given: Any) -> None:
    """Warn once per verb and keyword that a given DeepLabCut keyword has no effect.

    Parameters
    ----------
    verb
        The verb's name.
    why
        Why it has no effect (e.g. "it tunes TensorFlow").
    **given
        The keywords as passed; those left at :data:`UNSET` were not given.
    """
    for name, value in given.items():
        if value is UNSET or (verb, name) in _noted:
            continue
        _noted.add((verb, name))
        warnings.warn(f"{verb}: {name}={value!r} has no effect in posekit ({why}); it is ignored.",
                      IgnoredKeywordWarning, stacklevel=3)


def refuse(verb: str, name: str, value: Any, instead: str) -> None:
    """Raise for a DeepLabCut keyword value posekit cannot honour, naming the alternative.

    Raises
    ------
    ValueError
        Always.
    """
    raise ValueError(f"{verb}: {name}={value!r} is not supported by posekit; {instead}")


def check_gputouse(verb: str, gputouse: int | None) -> None:
    """Accept DeepLabCut's ``gputouse``: None, or the index of a device JAX sees.

    posekit runs on the first GPU JAX sees (or the CPU), so an index other than 0 cannot
    be honoured from here; the message says how to pick the GPU.

    Raises
    ------
    ValueError
        For an index of a device that does not exist, or another GPU than the first.
    """
    if gputouse is None:
        return
    import jax

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if not gpus:
        note_ignored(verb, "no GPU is visible to JAX, so it runs on the CPU", gputouse=gputouse)
        return
    if int(gputouse) != 0:
        refuse(verb, "gputouse", gputouse,
               f"JAX sees {len(gpus)} GPU(s) and posekit uses the first; to use GPU {gputouse}, start "
               f"Python with CUDA_VISIBLE_DEVICES={gputouse} (it then is the first).")
