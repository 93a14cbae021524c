"""pandas helpers shared by the label and prediction files."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd


def object_multiindex(
    tuples: Sequence[tuple[Any, ...]],
    names: Sequence[str | None] | None = None,
    nlevels: int | None = None,
) -> pd.MultiIndex:
    """A MultiIndex whose levels are object dtype, in the given order.

    pandas 3 would infer its ``str`` dtype for string levels; DeepLabCut-era
    pandas (1.x/2.x) reads object-dtype levels from HDF5 without surprises.
    ``nlevels`` is needed only for an empty index without ``names``.
    """
    tuples = [tuple(t) for t in tuples]
    if nlevels is None:
        nlevels = len(tuples[0]) if tuples else len(names or ())
    levels: list[pd.Index] = []
    codes: list[list[int]] = []
    for level in range(nlevels):
        column = [t[level] for t in tuples]
        uniques = list(dict.fromkeys(column))  # first-seen order
        lookup = {value: code for code, value in enumerate(uniques)}
        levels.append(pd.Index(uniques, dtype=object))
        codes.append([lookup[value] for value in column])
    return pd.MultiIndex(
        levels=levels,
        codes=codes,
        names=list(names) if names else [None] * nlevels,
        verify_integrity=False,
    )
