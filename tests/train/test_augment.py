"""On-device augmentation: keypoints move with the pixels under every transform."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from posekit.train.augment import AugmentConfig, augment_batch, mirror_permutation, pad_images


def _dots(h=120, w=160):
    """An image with 3 coloured 5x5 dots and their centres."""
    img = np.full((h, w, 3), 40, np.uint8)
    pts = np.array([[30.0, 40.0], [100.0, 60.0], [130.0, 100.0]])
    colors = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    for (x, y), c in zip(pts.astype(int), colors, strict=True):
        img[y - 2 : y + 3, x - 2 : x + 3] = c
    return img, pts, colors


@pytest.mark.parametrize(
    "cfg",
    [
        AugmentConfig(crop_size=(96, 128), global_scale=1.0, scale_jitter_lo=1.0, scale_jitter_up=1.0,
                      rotation=0, rotratio=0, brightness=0, contrast=0, blur_prob=0),
        AugmentConfig(crop_size=(96, 96), global_scale=0.8, rotation=30, rotratio=1.0,
                      brightness=0, contrast=0, blur_prob=0, cropratio=1.0),
        AugmentConfig(crop_size=(96, 96), mirror=True, mirror_perm=(0, 1, 2), global_scale=1.0,
                      scale_jitter_lo=1.2, scale_jitter_up=1.5, brightness=0, contrast=0, blur_prob=0),
    ],
)
def test_keypoints_follow_pixels(cfg):
    img, pts, colors = _dots()
    images, sizes = pad_images([img, img[:100, :150]], shape=(128, 160))
    kp = np.stack([pts, pts])
    vis = np.ones((2, 3), bool)
    out, new_kp, new_vis, scale = jax.jit(augment_batch, static_argnums=5)(
        jax.random.PRNGKey(3), images, sizes, kp.astype(np.float32), vis, cfg
    )
    lo, up = cfg.global_scale * cfg.scale_jitter_lo, cfg.global_scale * cfg.scale_jitter_up
    assert np.all((np.asarray(scale) >= lo - 1e-6) & (np.asarray(scale) <= up + 1e-6))
    out, new_kp, new_vis = map(np.asarray, (out, new_kp, new_vis))
    assert out.shape == (2, *cfg.crop_size, 3)
    checked = 0
    for b in range(2):
        for j in range(3):
            if new_vis[b, j]:
                x, y = np.round(new_kp[b, j]).astype(int)
                assert np.abs(out[b, y, x] - colors[j]).max() < 60, (b, j)
                checked += 1
            else:
                x, y = new_kp[b, j]
                assert not (0 <= x <= cfg.crop_size[1] - 1 and 0 <= y <= cfg.crop_size[0] - 1) or (b == 1 and j == 2)
    assert checked >= 2


def test_mirror_swaps_left_and_right():
    assert mirror_permutation(["snout", "leftear", "rightear", "LeftPaw", "RightPaw", "tail"]) == (
        0, 2, 1, 4, 3, 5
    )


def test_invisible_stays_invisible_and_photometric_bounds():
    img, pts, _ = _dots()
    images, sizes = pad_images([img])
    cfg = AugmentConfig(crop_size=(64, 64), blur_prob=1.0)
    out, _, vis, _ = augment_batch(jax.random.PRNGKey(0), images, sizes, pts[None].astype(np.float32),
                                np.array([[True, False, True]]), cfg)
    assert not bool(vis[0, 1])
    assert float(out.min()) >= 0 and float(out.max()) <= 255


def test_crops_away_from_parts_cover_the_image_and_stay_inside():
    """A crop not centred on a part lands anywhere inside the image, not always on its centre."""
    h, w = 240, 320
    rows, cols = np.mgrid[0:h, 0:w]
    img = np.stack([rows % 256, cols % 256, np.full((h, w), 200)], -1).astype(np.uint8)
    images, sizes = pad_images([img] * 16)
    kp = np.zeros((16, 1, 2), np.float32)
    vis = np.zeros((16, 1), bool)
    cfg = AugmentConfig(crop_size=(64, 64), global_scale=1.0, scale_jitter_lo=1.0, scale_jitter_up=1.0,
                        rotation=0, rotratio=0, brightness=0, contrast=0, blur_prob=0, cropratio=0.0)
    out = np.asarray(jax.jit(augment_batch, static_argnums=5)(jax.random.PRNGKey(0), images, sizes, kp, vis, cfg)[0])
    assert out[..., 2].min() > 150  # no padding: every crop lies inside the image
    tops, lefts = out[:, 0, 0, 0], out[:, 0, 0, 1]  # source row and column of each crop's corner
    assert np.ptp(tops) > 60 and np.ptp(lefts) > 100
