"""Turn score and location-refinement maps into poses (DeepLabCut's argmax decode)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
from jax import lax

from posekit.model.targets import LOCREF_STDEV

if TYPE_CHECKING:
    from posekit.model.pose_net import PoseNet

__all__ = ["decode_pose", "make_predict_fn"]


@jax.jit
def decode_pose(
    part_logits: jax.Array,
    locref: jax.Array | None = None,
    *,
    stride: float = 8.0,
    locref_stdev: float = LOCREF_STDEV,
) -> jax.Array:
    """Decode per-joint argmax positions, refined by the predicted offsets.

    For each joint: ``p = sigmoid(logits)``, ``(r, c) = argmax p`` (first
    maximum in row-major order, like ``np.argmax``; taken on the logits, which
    is the same without ties from float saturation of the sigmoid), ``(dx, dy) = locref[r,
    c, j] * locref_stdev``, ``x = c*stride + stride/2 + dx``, ``y =
    r*stride + stride/2 + dy``, likelihood ``p[r, c]`` (format spec 8.6).

    Parameters
    ----------
    part_logits
        ``(B, h, w, J)`` part score logits (``PoseNet`` ``"part_pred"``).
    locref
        ``(B, h, w, 2J)`` offsets (channel ``2j`` dx, ``2j + 1`` dy) in units
        of ``locref_stdev``, or None for no refinement (DeepLabCut with
        ``location_refinement: false``).
    stride
        Map stride in input pixels (pose_cfg ``stride``).
    locref_stdev
        Offset scale (pose_cfg ``locref_stdev``).

    Returns
    -------
    jax.Array
        ``(B, J, 3)`` float32 rows ``[x, y, likelihood]`` in input pixels.

    Examples
    --------
    >>> import numpy as np
    >>> logits = np.full((1, 4, 4, 1), -9.0, np.float32)
    >>> logits[0, 1, 2, 0] = 9.0                       # row 1, column 2
    >>> locref = np.zeros((1, 4, 4, 2), np.float32)
    >>> locref[0, 1, 2] = [1.0, -0.5]                  # dx, dy / locref_stdev
    >>> pose = decode_pose(logits, locref, stride=8.0, locref_stdev=2.0)
    >>> np.round(np.asarray(pose), 3).tolist()   # x = 2*8 + 4 + 2, y = 1*8 + 4 - 1
    [[[22.0, 11.0, 1.0]]]
    """
    batch, height, width, num_joints = part_logits.shape
    flat = part_logits.reshape(batch, height * width, num_joints)
    index = jnp.argmax(flat, axis=1)  # (B, J); sigmoid is monotonic
    logit = jnp.take_along_axis(flat, index[:, None, :], axis=1)[:, 0]
    row, col = jnp.divmod(index, width)
    xy = jnp.stack([col, row], axis=-1).astype(jnp.float32) * stride + stride / 2
    if locref is not None:
        offsets = locref.reshape(batch, height * width, num_joints, 2)
        picked = jnp.take_along_axis(offsets, index[:, None, :, None], axis=1)
        xy = xy + picked[:, 0].astype(jnp.float32) * locref_stdev
    likelihood = jax.nn.sigmoid(logit.astype(jnp.float32))
    return jnp.concatenate([xy, likelihood[..., None]], axis=-1)


def make_predict_fn(
    model: PoseNet,
    *,
    locref_stdev: float = LOCREF_STDEV,
    max_run_frames: int | None = None,
) -> Callable[[dict, jax.Array], jax.Array]:
    """Jit network forward pass + decoding into one function.

    Parameters
    ----------
    model
        The network (anything with ``apply`` and a ``stride`` attribute).
    locref_stdev
        Offset scale (pose_cfg ``locref_stdev``).
    max_run_frames
        Run bigger batches through the network in pieces of this many frames,
        one after the other inside the compiled function (``lax.map``), so
        memory holds one piece's activations; None runs the batch at once.

    Returns
    -------
    callable
        ``predict(variables, images) -> (B, J, 3)`` for RGB ``(B, H, W, 3)``
        images in 0-255 (uint8 is cheapest to transfer); batch norm uses its
        stored statistics. It compiles once per input shape.
    """
    stride = float(model.stride)

    def run(variables: dict, images: jax.Array) -> jax.Array:
        outputs = model.apply(variables, images, use_running_average=True)
        return decode_pose(outputs["part_pred"], outputs.get("locref"),
                           stride=stride, locref_stdev=locref_stdev)

    @jax.jit
    def predict(variables: dict, images: jax.Array) -> jax.Array:
        n = images.shape[0]
        if max_run_frames is None or n <= max_run_frames:
            return run(variables, images)
        pieces = -(-n // max_run_frames)
        padded = jnp.pad(images, ((0, pieces * max_run_frames - n),) + ((0, 0),) * (images.ndim - 1))
        poses = lax.map(lambda piece: run(variables, piece),
                        padded.reshape(pieces, max_run_frames, *images.shape[1:]))
        return poses.reshape(pieces * max_run_frames, *poses.shape[2:])[:n]

    return predict
