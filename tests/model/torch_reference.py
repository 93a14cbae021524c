"""An independent numpy rendition of torchvision's ResNet, for checking posekit's.

Written from torchvision's ``models/resnet.py`` semantics (NCHW, OIHW kernels,
explicit symmetric padding, ``replace_stride_with_dilation``), in float64. It
shares no code with posekit.model.
"""

from __future__ import annotations

import numpy as np

EXPANSION = {"basic": 1, "bottleneck": 4}


def state_dict_shapes(
    block: str, layers: tuple[int, ...], base: int = 64, num_classes: int = 1000
) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of torchvision's ``resnetNN().state_dict()``."""
    shapes: dict[str, tuple[int, ...]] = {"conv1.weight": (base, 3, 7, 7)}

    def bn(prefix: str, channels: int) -> None:
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{leaf}"] = (channels,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    bn("bn1", base)
    expansion = EXPANSION[block]
    inplanes = base
    for li, n in enumerate(layers):
        planes = base * 2**li
        stride = 1 if li == 0 else 2
        for b in range(n):
            pre = f"layer{li + 1}.{b}"
            if block == "basic":
                shapes[f"{pre}.conv1.weight"] = (planes, inplanes, 3, 3)
                bn(f"{pre}.bn1", planes)
                shapes[f"{pre}.conv2.weight"] = (planes, planes, 3, 3)
                bn(f"{pre}.bn2", planes)
            else:
                shapes[f"{pre}.conv1.weight"] = (planes, inplanes, 1, 1)
                bn(f"{pre}.bn1", planes)
                shapes[f"{pre}.conv2.weight"] = (planes, planes, 3, 3)
                bn(f"{pre}.bn2", planes)
                shapes[f"{pre}.conv3.weight"] = (planes * 4, planes, 1, 1)
                bn(f"{pre}.bn3", planes * 4)
            if b == 0 and (stride != 1 or inplanes != planes * expansion):
                shapes[f"{pre}.downsample.0.weight"] = (planes * expansion, inplanes, 1, 1)
                bn(f"{pre}.downsample.1", planes * expansion)
            inplanes = planes * expansion
    shapes["fc.weight"] = (num_classes, inplanes)
    shapes["fc.bias"] = (num_classes,)
    return shapes


def random_state_dict(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, np.ndarray]:
    """Random but well-scaled values (He-normal convs, non-trivial batch norm)."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            out[key] = np.array(7, np.int64)
        elif key.endswith("running_var"):
            out[key] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif key.endswith(("running_mean", ".bias")):
            out[key] = rng.normal(0.0, 0.1, shape).astype(np.float32)
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            out[key] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        elif key.startswith("fc."):
            out[key] = rng.normal(0.0, 0.01, shape).astype(np.float32)
        else:  # batch-norm weight
            out[key] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
    return out


def conv2d(x, w, stride=1, padding=0, dilation=1):
    """NCHW x, OIHW w, no bias (float64)."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n, _c, h, wd = x.shape
    o, _i, kh, kw = w.shape
    ho = (h - dilation * (kh - 1) - 1) // stride + 1
    wo = (wd - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for a in range(kh):
        for b in range(kw):
            patch = x[:, :, a * dilation: a * dilation + stride * (ho - 1) + 1: stride,
                      b * dilation: b * dilation + stride * (wo - 1) + 1: stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, a, b])
    return out


def batch_norm(x, sd, prefix, eps=1e-5):
    def v(leaf):
        return np.asarray(sd[f"{prefix}.{leaf}"], np.float64)[None, :, None, None]

    return (x - v("running_mean")) / np.sqrt(v("running_var") + eps) * v("weight") + v("bias")


def relu(x):
    return np.maximum(x, 0.0)


def max_pool_3x3_s2(x):
    x = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    h = (x.shape[2] - 3) // 2 + 1
    w = (x.shape[3] - 3) // 2 + 1
    return np.max(
        [x[:, :, a: a + 2 * (h - 1) + 1: 2, b: b + 2 * (w - 1) + 1: 2]
         for a in range(3) for b in range(3)], axis=0)


def resnet_features(sd, x_nchw, block, layers, replace_stride_with_dilation=(False, False, False)):
    """torchvision ResNet forward (eval-mode BN); dict of stem/layer outputs."""
    w = {k: np.asarray(v, np.float64) for k, v in sd.items() if not k.endswith("tracked")}
    x = np.asarray(x_nchw, np.float64)
    x = relu(batch_norm(conv2d(x, w["conv1.weight"], 2, 3), w, "bn1"))
    x = max_pool_3x3_s2(x)
    feats = {"stem": x}
    dilation = 1
    for li, n in enumerate(layers):
        stride = 1 if li == 0 else 2
        previous_dilation = dilation
        if li > 0 and replace_stride_with_dilation[li - 1]:
            dilation *= stride
            stride = 1
        for b in range(n):
            pre = f"layer{li + 1}.{b}"
            s = stride if b == 0 else 1
            d = previous_dilation if b == 0 else dilation
            if block == "basic":
                if d != 1:
                    raise NotImplementedError("torchvision BasicBlock has no dilation")
                out = relu(batch_norm(conv2d(x, w[f"{pre}.conv1.weight"], s, 1), w, f"{pre}.bn1"))
                out = batch_norm(conv2d(out, w[f"{pre}.conv2.weight"], 1, 1), w, f"{pre}.bn2")
            else:
                out = relu(batch_norm(conv2d(x, w[f"{pre}.conv1.weight"]), w, f"{pre}.bn1"))
                out = conv2d(out, w[f"{pre}.conv2.weight"], s, d, d)
                out = relu(batch_norm(out, w, f"{pre}.bn2"))
                out = batch_norm(conv2d(out, w[f"{pre}.conv3.weight"]), w, f"{pre}.bn3")
            if f"{pre}.downsample.0.weight" in w:
                shortcut = batch_norm(conv2d(x, w[f"{pre}.downsample.0.weight"], s), w,
                                      f"{pre}.downsample.1")
            else:
                shortcut = x
            x = relu(out + shortcut)
        feats[f"layer{li + 1}"] = x
    return feats
