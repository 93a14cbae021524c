"""The optimizer and its learning-rate schedule (DeepLabCut's ``multi_step``)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import optax

OPTIMIZERS = ("sgd", "adam", "adamw")


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
    """The optax optimizer of a pose config and its learning-rate schedule.

    ``optimizer``: ``sgd`` (momentum 0.9, DeepLabCut 2.x's TensorFlow default),
    ``adam``, or ``adamw`` (DeepLabCut 3's PyTorch default: decoupled weight
    decay ``weight_decay``, default 0.01 as in ``torch.optim.AdamW``, applied
    to every parameter as PyTorch does when given all of them).

    Returns the transformation and its schedule (to log the learning rate).
    """
    name = str(pose_cfg.get("optimizer", "sgd")).lower()
    schedule = multi_step_schedule(pose_cfg["multi_step"])
    if name == "sgd":
        return optax.sgd(schedule, momentum=0.9), schedule
    if name == "adam":
        return optax.adam(schedule), schedule
    if name == "adamw":
        return optax.adamw(schedule, weight_decay=float(pose_cfg.get("weight_decay", 0.01))), schedule
    raise ValueError(f"pose_cfg optimizer={name!r} is not known; use one of {OPTIMIZERS}.")
