"""The train state and the one jitted train step."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax.training import train_state

from posekit.model.loss import loss_counts, pose_loss
from posekit.model.pose_net import PoseNet, output_map_shape
from posekit.model.targets import training_targets
from posekit.train.augment import AugmentConfig, augment_batch


class TrainState(train_state.TrainState):
    """Flax TrainState plus batch-norm statistics and the augmentation RNG."""

    batch_stats: Any
    rng: jax.Array


def create_train_state(
    model: PoseNet, variables: dict, tx: optax.GradientTransformation, rng: jax.Array
) -> TrainState:
    """A fresh train state from model variables (step 0, new optimizer state)."""
    return TrainState.create(
        apply_fn=model.apply,
        params=variables["params"],
        batch_stats=variables.get("batch_stats", {}),
        tx=tx,
        rng=rng,
    )


def make_train_step(
    model: PoseNet,
    aug: AugmentConfig,
    pose_cfg: dict,
    schedule: optax.Schedule,
    train_batch_norm: bool,
    micro_batches: int = 1,
):
    """Build ``step(state, images, sizes, keypoints, visible) -> (state, metrics)``.

    Augmentation, targets, forward, loss and the optimizer update run in one
    jitted function, compiled once for the fixed batch shape. Batch norm
    statistics are frozen (DeepLabCut, pretrained start) unless
    ``train_batch_norm`` (training from scratch).

    With ``micro_batches > 1`` the batch's gradient is accumulated over that
    many equal slices, one after the other, so only one slice's activations
    are in memory at a time. The loss and gradient are the whole batch's
    (every slice's loss is divided by the whole batch's counts); only trained
    batch norm differs, normalising each slice by its own statistics.
    """
    map_shape = output_map_shape(*aug.crop_size, model.output_stride)
    loss_kwargs = {
        "locref_loss_weight": float(pose_cfg["locref_loss_weight"]),
        "locref_huber_loss": bool(pose_cfg["locref_huber_loss"]),
    }

    def loss_fn(params, batch_stats, crops, targets, counts):
        variables = {"params": params, "batch_stats": batch_stats}
        if train_batch_norm:
            outputs, updates = model.apply(variables, crops, use_running_average=False, mutable=["batch_stats"])
            batch_stats = updates["batch_stats"]
        else:
            outputs = model.apply(variables, crops, use_running_average=True)
        total, parts = pose_loss(outputs, targets, counts=counts, **loss_kwargs)
        return total, (parts, batch_stats)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def accumulate(params, batch_stats, crops, targets):
        counts = loss_counts(targets)

        def slices(a):  # slice j holds images j, j + m, ...: each stays spread over the devices
            return a.reshape(a.shape[0] // micro_batches, micro_batches, *a.shape[1:]).swapaxes(0, 1)

        def body(carry, micro):
            grads, stats = carry
            (_, (parts, stats)), micro_grads = grad_fn(params, stats, *micro, counts)
            return (jax.tree_util.tree_map(jnp.add, grads, micro_grads), stats), parts

        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        (grads, stats), parts = jax.lax.scan(
            body, (zeros, batch_stats), (slices(crops), jax.tree_util.tree_map(slices, targets)))
        return jax.tree_util.tree_map(lambda v: v.sum(0), parts), stats, grads

    def step(state: TrainState, images, sizes, keypoints, visible):
        rng, aug_rng = jax.random.split(state.rng)
        crops, points, vis, scale = augment_batch(aug_rng, images, sizes, keypoints, visible, aug)
        targets = training_targets(points, vis, scale, map_shape, model.stride, pose_cfg)
        if micro_batches > 1:
            parts, stats, grads = accumulate(state.params, state.batch_stats, crops, targets)
        else:
            (_, (parts, stats)), grads = grad_fn(state.params, state.batch_stats, crops, targets, None)
        metrics = {**parts, "lr": schedule(state.step)}
        new_state = state.apply_gradients(grads=grads).replace(batch_stats=stats, rng=rng)
        return new_state, metrics

    return jax.jit(step, donate_argnums=0)


def host_state(state: TrainState) -> TrainState:
    """Copy a (possibly sharded) state to host numpy arrays for saving."""
    return jax.device_get(state)

