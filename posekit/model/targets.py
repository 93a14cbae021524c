"""DeepLabCut 2.x training targets (score disks + location refinement), in JAX.

Reproduces ``compute_target_part_scoremap_numpy`` of DeepLabCut's imgaug
loader (format spec section 8.2) on fixed-shape, batched arrays so it runs
inside a jitted train step.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

__all__ = ["LOCREF_STDEV", "POS_DIST_THRESH", "make_targets"]

#: DeepLabCut defaults (pose_cfg ``locref_stdev`` and ``pos_dist_thresh``).
LOCREF_STDEV = 7.2801
POS_DIST_THRESH = 17.0


@functools.partial(
    jax.jit, static_argnames=("map_shape", "weigh_only_present_joints"))
def make_targets(
    keypoints: jax.Array,
    map_shape: tuple[int, int],
    *,
    visible: jax.Array | None = None,
    stride: float = 8.0,
    pos_dist_thresh: float = POS_DIST_THRESH,
    scale: float | jax.Array = 1.0,
    locref_stdev: float = LOCREF_STDEV,
    weigh_only_present_joints: bool = False,
) -> dict[str, jax.Array]:
    """Build DeepLabCut's score-map and location-refinement targets.

    For map cell ``(r, c)`` with centre ``(c*stride + stride/2,
    r*stride + stride/2)`` and a visible joint at ``(x, y)``, let ``dx = x -
    centre_x`` and ``dy = y - centre_y``. Cells with ``dx² + dy² <=
    (pos_dist_thresh * scale)²`` are positive: score 1, locref target
    ``(dx, dy) / locref_stdev`` with mask 1 on both channels.

    Parameters
    ----------
    keypoints
        ``(B, J, 2)`` joint positions ``(x, y)`` in pixels of the network
        input (after scaling / augmentation). NaN marks a missing joint.
    map_shape
        ``(h, w)`` of the output maps (static), e.g. from
        :func:`posekit.model.pose_net.output_map_shape`.
    visible
        ``(B, J)`` boolean: joints that are labelled and inside the image.
        Default: every joint with finite coordinates. Joints that are not
        visible get an all-zero score map and locref mask.
    stride
        Stride of the maps in input pixels (pose_cfg ``stride``: 8 for
        output stride 16).
    pos_dist_thresh
        Positive-disk radius in original-image pixels.
    scale
        Image scale factor(s), scalar or ``(B,)``: the disk radius is
        ``pos_dist_thresh * scale`` (DeepLabCut: ``global_scale`` times the
        scale jitter).
    locref_stdev
        Offsets are divided by this.
    weigh_only_present_joints
        If true, score weights are 0 for joints that are not visible
        (pose_cfg key of the same name); else all ones (DeepLabCut default,
        absent joints train as all-negative maps).

    Returns
    -------
    dict
        ``"part_score_targets"`` ``(B, h, w, J)`` float32 in {0, 1};
        ``"part_score_weights"`` ``(B, h, w, J)``;
        ``"locref_targets"`` ``(B, h, w, 2J)`` (channel ``2j`` dx, ``2j+1``
        dy); ``"locref_mask"`` ``(B, h, w, 2J)`` in {0, 1}.

    Examples
    --------
    >>> import numpy as np
    >>> keypoints = np.array([[[28.0, 20.0], [np.nan, np.nan]]])  # joint 1 missing
    >>> targets = make_targets(keypoints, (6, 8), pos_dist_thresh=8.0)
    >>> targets["part_score_targets"][0, :, :, 0].sum()  # centre cell + 4 neighbours
    Array(5., dtype=float32)
    >>> targets["part_score_targets"][..., 1].sum()
    Array(0., dtype=float32)
    """
    keypoints = jnp.asarray(keypoints, jnp.float32)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(
            f"keypoints must have shape (B, J, 2), got {keypoints.shape}")
    batch, num_joints, _ = keypoints.shape
    finite = jnp.all(jnp.isfinite(keypoints), axis=-1)
    if visible is None:
        visible = finite
    else:
        visible = jnp.asarray(visible, bool).reshape(batch, num_joints) & finite
    xy = jnp.where(visible[..., None], keypoints, 0.0)

    height, width = map_shape
    half = stride / 2
    centre_y = jnp.arange(height, dtype=jnp.float32) * stride + half
    centre_x = jnp.arange(width, dtype=jnp.float32) * stride + half
    # (B, h, w, J)
    dx = xy[:, None, None, :, 0] - centre_x[None, None, :, None]
    dy = xy[:, None, None, :, 1] - centre_y[None, :, None, None]
    dx = jnp.broadcast_to(dx, (batch, height, width, num_joints))
    dy = jnp.broadcast_to(dy, (batch, height, width, num_joints))

    radius = pos_dist_thresh * jnp.broadcast_to(
        jnp.asarray(scale, jnp.float32), (batch,))
    inside = dx**2 + dy**2 <= (radius**2)[:, None, None, None]
    positive = inside & visible[:, None, None, :]

    scores = positive.astype(jnp.float32)
    if weigh_only_present_joints:
        weights = jnp.broadcast_to(
            visible[:, None, None, :].astype(jnp.float32), scores.shape)
    else:
        weights = jnp.ones_like(scores)

    offsets = jnp.stack([dx, dy], axis=-1) / locref_stdev  # (B, h, w, J, 2)
    mask = jnp.broadcast_to(positive[..., None], offsets.shape)
    locref = jnp.where(mask, offsets, 0.0)
    flat = (batch, height, width, 2 * num_joints)
    return {
        "part_score_targets": scores,
        "part_score_weights": weights,
        "locref_targets": locref.reshape(flat),
        "locref_mask": mask.astype(jnp.float32).reshape(flat),
    }


def training_targets(
    keypoints: jax.Array,
    visible: jax.Array,
    scale: jax.Array,
    map_shape: tuple[int, int],
    stride: float,
    pose_cfg: dict,
) -> dict[str, jax.Array]:
    """:func:`make_targets` of an augmented batch, with a pose config's settings.

    Parameters
    ----------
    keypoints, visible
        ``(B, J, 2)`` crop positions and ``(B, J)`` visibility.
    scale
        ``(B,)`` scale factor the augmentation applied to each image.
    map_shape, stride
        Output map shape and its stride in crop pixels.
    pose_cfg
        ``pos_dist_thresh``, ``locref_stdev``, ``weigh_only_present_joints``
        and ``pos_dist_scaled``: whether the positive disk shrinks with the
        image's scale (DeepLabCut 2, the default for files without the key)
        or keeps ``pos_dist_thresh`` crop pixels (DeepLabCut 3).

    Returns
    -------
    dict
        As :func:`make_targets`.
    """
    return make_targets(
        keypoints, map_shape, visible=visible, stride=stride,
        pos_dist_thresh=float(pose_cfg["pos_dist_thresh"]),
        scale=scale if bool(pose_cfg.get("pos_dist_scaled", True)) else 1.0,
        locref_stdev=float(pose_cfg["locref_stdev"]),
        weigh_only_present_joints=bool(pose_cfg.get("weigh_only_present_joints", False)),
    )
