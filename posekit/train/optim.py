"""The optimizer and its learning-rate schedule (DeepLabCut's ``multi_step``)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import optax

OPTIMIZERS = ("sgd", "adam")


def multi_step_schedule(multi_step: Sequence[Sequence[float]]) -> optax.Schedule:
    """DeepLabCut's piecewise-constant schedule.

    ``multi_step = [[lr_0, until_0], [lr_1, until_1], ...]``: step ``s`` uses
    ``lr_k`` for the first ``k`` with ``s < until_k``; past the last boundary the
    last rate holds.
    """
    if not multi_step:
        raise ValueError("multi_step is empty; give [[lr, until_iteration], ...].")
    rates = [float(lr) for lr, _ in multi_step]
    bounds = [int(until) for _, until in multi_step]
    if any(b <= a for a, b in pairwise(bounds)):
        raise ValueError(f"multi_step iterations must increase, got {bounds}.")
    boundaries = {b: rates[i + 1] / rates[i] for i, b in enumerate(bounds[:-1])}
    return optax.piecewise_constant_schedule(rates[0], boundaries)


def make_optimizer(pose_cfg: dict) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """The optax optimizer of a pose config: SGD + momentum 0.9 (DLC) or Adam.

    Returns the transformation and its schedule (to log the learning rate).
    """
    name = str(pose_cfg.get("optimizer", "sgd")).lower()
    schedule = multi_step_schedule(pose_cfg["multi_step"])
    if name == "sgd":
        return optax.sgd(schedule, momentum=0.9), schedule
    if name == "adam":
        return optax.adam(schedule), schedule
    raise ValueError(f"pose_cfg optimizer={name!r} is not known; use one of {OPTIMIZERS}.")
