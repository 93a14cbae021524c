"""DeepLabCut 2.x pose loss: sigmoid cross-entropy + weighted Huber locref."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import optax

__all__ = ["LOCREF_LOSS_WEIGHT", "loss_counts", "pose_loss", "weighted_mean"]

#: pose_cfg template value (DeepLabCut's default_config.py says 1.0).
LOCREF_LOSS_WEIGHT = 0.05


def weighted_mean(losses: jax.Array, weights: jax.Array, count: jax.Array | None = None) -> jax.Array:
    """TensorFlow's ``SUM_BY_NONZERO_WEIGHTS`` reduction.

    ``sum(weights * losses) / count_nonzero(weights)``, and 0 when every weight
    is 0 (TF's ``div_no_nan``), which is how ``tf.losses.*`` reduce by default.

    Parameters
    ----------
    losses
        Element-wise losses.
    weights
        Weights broadcastable to ``losses``.
    count
        The divisor, if not ``count_nonzero(weights)`` (a whole batch's count
        when ``losses`` is one part of it: the parts' means then add up to
        the whole batch's).

    Returns
    -------
    jax.Array
        A scalar.
    """
    weights = jnp.broadcast_to(weights, losses.shape).astype(jnp.float32)
    if count is None:
        count = jnp.count_nonzero(weights)
    total = jnp.sum(weights * losses)
    return jnp.where(count > 0, total / jnp.maximum(count, 1), 0.0)


@functools.partial(jax.jit, static_argnames=("locref_huber_loss",))
def pose_loss(
    outputs: Mapping[str, jax.Array],
    targets: Mapping[str, jax.Array],
    *,
    locref_loss_weight: float = LOCREF_LOSS_WEIGHT,
    locref_huber_loss: bool = True,
    counts: Mapping[str, jax.Array] | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """DeepLabCut's training loss (format spec section 8.3).

    Parameters
    ----------
    outputs
        :class:`~posekit.model.pose_net.PoseNet` outputs: ``"part_pred"``
        logits, and optionally ``"locref"`` and ``"part_pred_interm"``.
    targets
        :func:`~posekit.model.targets.make_targets` output.
    locref_loss_weight
        Multiplier of the locref term (pose_cfg ``locref_loss_weight``).
    locref_huber_loss
        Huber loss with delta 1 (DeepLabCut's default: ``0.5 x²`` for
        ``|x| <= 1``, ``|x| - 0.5`` beyond) if true, else the squared error
        ``x²`` (``tf.losses.mean_squared_error``); pose_cfg
        ``locref_huber_loss``.
    counts
        :func:`loss_counts` of the whole batch when ``targets`` is a slice of
        it (gradient accumulation): the slices' losses then sum to the whole
        batch's loss.

    Returns
    -------
    total : jax.Array
        Scalar ``part_loss + locref_loss (+ part_loss_interm)``.
    parts : dict
        ``"part_loss"``, ``"locref_loss"`` (already weighted),
        ``"part_loss_interm"`` (those present) and ``"total_loss"``.

    Notes
    -----
    Every term is reduced like ``tf.losses``: weighted sum divided by the
    number of non-zero weights. With DeepLabCut's all-ones score weights the
    part loss is the mean over all ``B*h*w*J`` elements; the locref loss is
    normalised by the number of non-zero mask entries.
    """
    scores = targets["part_score_targets"]
    score_weights = targets.get("part_score_weights", jnp.ones_like(scores))
    counts = counts or {}

    def part_loss(logits: jax.Array) -> jax.Array:
        losses = optax.sigmoid_binary_cross_entropy(logits, scores)
        return weighted_mean(losses, score_weights, counts.get("part"))

    parts = {"part_loss": part_loss(outputs["part_pred"])}
    if "locref" in outputs:
        diff = outputs["locref"] - targets["locref_targets"]
        if locref_huber_loss:
            losses = optax.huber_loss(diff, delta=1.0)
        else:
            losses = diff**2
        parts["locref_loss"] = locref_loss_weight * weighted_mean(
            losses, targets["locref_mask"], counts.get("locref"))
    if "part_pred_interm" in outputs:
        parts["part_loss_interm"] = part_loss(outputs["part_pred_interm"])
    total = sum(parts.values())
    parts["total_loss"] = total
    return total, parts


def loss_counts(targets: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
    """The divisors :func:`pose_loss` uses for ``targets`` (non-zero weights).

    Parameters
    ----------
    targets
        :func:`~posekit.model.targets.make_targets` output for a whole batch.

    Returns
    -------
    dict
        ``"part"`` and ``"locref"`` counts, to pass as ``pose_loss(counts=...)``
        for each slice of the batch.
    """
    scores = targets["part_score_targets"]
    weights = targets.get("part_score_weights", jnp.ones_like(scores))
    return {
        "part": jnp.count_nonzero(jnp.broadcast_to(weights, scores.shape)),
        "locref": jnp.count_nonzero(jnp.broadcast_to(targets["locref_mask"], targets["locref_targets"].shape)),
    }
