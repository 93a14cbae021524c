"""On-device augmentation: pure JAX functions of (rng, batch), fixed output shapes.

One random affine map per image (scale jitter around ``global_scale``,
rotation, mirror with left/right body-part swap, a crop window near a labelled
part) resamples the padded source image into a fixed-size crop, and moves the
keypoints with it; then brightness, contrast and blur. Everything is traced
once per batch shape, so the train step compiles once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Static augmentation settings (hashable, so they can be jit-static).

    Attributes mirror pose_cfg keys: ``global_scale``, ``scale_jitter_lo/up``,
    ``rotation`` (degrees), ``rotratio`` (probability of rotating), ``mirror``,
    ``cropratio`` (probability of centring the crop near a random labelled part
    rather than anywhere inside the image). ``crop_size`` is the (height, width) every
    augmented image has. ``mirror_perm`` maps each body part to its mirror twin.
    """

    crop_size: tuple[int, int] = (256, 256)
    global_scale: float = 0.8
    scale_jitter_lo: float = 0.5
    scale_jitter_up: float = 1.25
    rotation: float = 25.0
    rotratio: float = 0.4
    mirror: bool = False
    mirror_perm: tuple[int, ...] = ()
    cropratio: float = 0.4
    brightness: float = 0.1
    contrast: float = 0.2
    blur_prob: float = 0.2
    max_blur_sigma: float = 1.5

    @classmethod
    def from_pose_cfg(cls, pose_cfg: dict, crop_size: tuple[int, int]) -> AugmentConfig:
        """Settings from a pose_cfg mapping (bodypart names give the mirror twins)."""
        return cls(
            crop_size=tuple(int(v) for v in crop_size),
            global_scale=float(pose_cfg["global_scale"]),
            scale_jitter_lo=float(pose_cfg["scale_jitter_lo"]),
            scale_jitter_up=float(pose_cfg["scale_jitter_up"]),
            rotation=float(pose_cfg.get("rotation", 0) or 0),
            rotratio=float(pose_cfg.get("rotratio", 0) or 0),
            mirror=bool(pose_cfg.get("mirror", False)),
            mirror_perm=mirror_permutation(pose_cfg["all_joints_names"]),
            cropratio=float(pose_cfg.get("cropratio", 0.4)),
        )


_SIDES = re.compile(r"(left|right|Left|Right|LEFT|RIGHT)")


def mirror_permutation(bodyparts: Sequence[str]) -> tuple[int, ...]:
    """For each body part, the index of its mirror twin (``leftear`` <-> ``rightear``).

    Parts with no twin map to themselves.
    """
    swap = {"left": "right", "right": "left", "Left": "Right", "Right": "Left",
            "LEFT": "RIGHT", "RIGHT": "LEFT"}
    index = {name: i for i, name in enumerate(bodyparts)}
    perm = []
    for i, name in enumerate(bodyparts):
        twin = _SIDES.sub(lambda m: swap[m.group(0)], name)
        perm.append(index.get(twin, i))
    return tuple(perm)


def _sample(image: jnp.ndarray, rows: jnp.ndarray, cols: jnp.ndarray) -> jnp.ndarray:
    """Bilinear sampling of an (H, W, C) image at float pixel positions; 0 outside."""
    coords = jnp.stack([rows, cols])
    return jax.vmap(
        lambda ch: jax.scipy.ndimage.map_coordinates(ch, coords, order=1, mode="constant", cval=0.0),
        in_axes=-1,
        out_axes=-1,
    )(image)


def _gaussian_blur(image: jnp.ndarray, sigma: jnp.ndarray) -> jnp.ndarray:
    """Separable Gaussian blur with a fixed 7-tap kernel (sigma ~0 leaves the image)."""
    taps = jnp.arange(-3, 4, dtype=jnp.float32)
    kernel = jnp.exp(-0.5 * (taps / jnp.maximum(sigma, 1e-3)) ** 2)
    kernel = kernel / kernel.sum()
    pad = jnp.pad(image, ((3, 3), (3, 3), (0, 0)), mode="edge")
    rows = sum(kernel[k] * pad[k : k + image.shape[0], 3:-3] for k in range(7))
    rows_p = jnp.pad(rows, ((0, 0), (3, 3), (0, 0)), mode="edge")
    return sum(kernel[k] * rows_p[:, k : k + image.shape[1]] for k in range(7))


def augment_one(
    rng: jax.Array,
    image: jnp.ndarray,
    size: jnp.ndarray,
    keypoints: jnp.ndarray,
    visible: jnp.ndarray,
    cfg: AugmentConfig,
) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """Augment one padded image and its keypoints.

    Parameters
    ----------
    rng
        PRNG key.
    image
        (Hmax, Wmax, 3) image (uint8 or float), valid in its top-left ``size``.
    size
        (2,) true (height, width) of the image.
    keypoints
        (J, 2) x, y in source pixels (any value where not visible).
    visible
        (J,) bool, labelled and usable.
    cfg
        Static settings.

    Returns
    -------
    image : (crop_h, crop_w, 3) float32 in 0..255
    keypoints : (J, 2) x, y in crop pixels
    visible : (J,) bool, also False where a part left the crop
    scale : scalar, the image's scale factor (sizes DLC's positive disk)
    """
    keys = jax.random.split(rng, 11)
    out_h, out_w = cfg.crop_size
    h, w = size[0].astype(jnp.float32), size[1].astype(jnp.float32)
    scale = cfg.global_scale * jax.random.uniform(
        keys[0], minval=cfg.scale_jitter_lo, maxval=cfg.scale_jitter_up
    )
    angle = jnp.where(
        jax.random.uniform(keys[1]) < cfg.rotratio,
        jnp.deg2rad(jax.random.uniform(keys[2], minval=-cfg.rotation, maxval=cfg.rotation)),
        0.0,
    )
    visible = visible & (keypoints[:, 0] >= 0) & (keypoints[:, 0] <= w - 1)
    visible = visible & (keypoints[:, 1] >= 0) & (keypoints[:, 1] <= h - 1)
    flip = jnp.asarray(cfg.mirror) & (jax.random.uniform(keys[3]) < 0.5)
    if cfg.mirror_perm:
        perm = jnp.asarray(cfg.mirror_perm)
        keypoints = jnp.where(flip, keypoints[perm], keypoints)
        visible = jnp.where(flip, visible[perm], visible)
    kx = jnp.where(flip, w - 1.0 - keypoints[:, 0], keypoints[:, 0])
    pts = jnp.stack([kx, keypoints[:, 1]], axis=-1)

    # crop centre: near a random labelled part (prob cropratio), else anywhere that keeps the crop
    # inside the image (its centre when the crop is larger); always the centre would never show a
    # small crop the image's edges
    probs = visible.astype(jnp.float32)
    has_any = probs.sum() > 0
    part = jax.random.choice(keys[4], pts.shape[0],
                             p=jnp.where(has_any, probs / jnp.maximum(probs.sum(), 1), 1.0 / pts.shape[0]))
    reach = jnp.array([out_w, out_h]) / scale  # the crop's size in source pixels
    jitter = jax.random.uniform(keys[5], (2,), minval=-0.25, maxval=0.25) * reach
    near_part = has_any & (jax.random.uniform(keys[6]) < cfg.cropratio)
    slack = jnp.maximum(jnp.array([w, h]) - reach, 0.0)
    anywhere = jnp.array([w, h]) / 2.0 - 0.5 + slack * jax.random.uniform(keys[10], (2,), minval=-0.5, maxval=0.5)
    centre = jnp.where(near_part, pts[part] + jitter, anywhere)

    cos, sin = jnp.cos(angle), jnp.sin(angle)
    # forward: out = scale * R (src - centre) + out_centre
    out_centre = jnp.array([out_w, out_h], jnp.float32) / 2.0 - 0.5
    d = pts - centre
    new_pts = scale * jnp.stack([cos * d[:, 0] - sin * d[:, 1], sin * d[:, 0] + cos * d[:, 1]], -1) + out_centre
    inside = (
        (new_pts[:, 0] >= 0) & (new_pts[:, 0] <= out_w - 1) & (new_pts[:, 1] >= 0) & (new_pts[:, 1] <= out_h - 1)
    )
    # inverse map for every output pixel
    oy, ox = jnp.meshgrid(jnp.arange(out_h, dtype=jnp.float32), jnp.arange(out_w, dtype=jnp.float32), indexing="ij")
    ux, uy = (ox - out_centre[0]) / scale, (oy - out_centre[1]) / scale
    sx = cos * ux + sin * uy + centre[0]
    sy = -sin * ux + cos * uy + centre[1]
    sx = jnp.where(flip, w - 1.0 - sx, sx)
    valid = (sx >= -0.5) & (sx <= w - 0.5) & (sy >= -0.5) & (sy <= h - 0.5)
    out = _sample(image.astype(jnp.float32), sy, sx) * valid[..., None]

    # photometric
    bright = jax.random.uniform(keys[7], minval=-cfg.brightness, maxval=cfg.brightness) * 255.0
    contrast = jax.random.uniform(keys[8], minval=1 - cfg.contrast, maxval=1 + cfg.contrast)
    mean = out.mean()
    out = (out - mean) * contrast + mean + bright
    sigma = jnp.where(
        jax.random.uniform(keys[9]) < cfg.blur_prob,
        jax.random.uniform(jax.random.fold_in(keys[9], 1), minval=0.3, maxval=cfg.max_blur_sigma),
        0.0,
    )
    out = jnp.where(sigma > 0, _gaussian_blur(out, sigma), out)
    return jnp.clip(out, 0.0, 255.0), new_pts, visible & inside, scale


def augment_batch(
    rng: jax.Array,
    images: jnp.ndarray,
    sizes: jnp.ndarray,
    keypoints: jnp.ndarray,
    visible: jnp.ndarray,
    cfg: AugmentConfig,
) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """:func:`augment_one` over a batch, one key per image (``cfg`` static)."""
    keys = jax.random.split(rng, images.shape[0])
    return jax.vmap(augment_one, in_axes=(0, 0, 0, 0, 0, None))(keys, images, sizes, keypoints, visible, cfg)


def pad_images(images: Sequence[np.ndarray], shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack images of different sizes into one zero-padded uint8 array.

    Returns the (N, Hmax, Wmax, 3) array and the (N, 2) true sizes.
    """
    hmax = shape[0] if shape else max(im.shape[0] for im in images)
    wmax = shape[1] if shape else max(im.shape[1] for im in images)
    out = np.zeros((len(images), hmax, wmax, 3), np.uint8)
    sizes = np.zeros((len(images), 2), np.int32)
    for i, im in enumerate(images):
        out[i, : im.shape[0], : im.shape[1]] = im
        sizes[i] = im.shape[:2]
    return out, sizes
