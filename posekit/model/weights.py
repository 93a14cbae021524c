"""Pretrained backbone weights: torchvision-layout conversion and the ImageNet cache.

posekit starts from torchvision's ImageNet ResNets stored as safetensors
(Hugging Face ``timm/resnet<N>.tv_in1k``, whose keys are torchvision's).
:func:`load_torchvision_resnet` turns such a ``state_dict`` into Flax variables
of :class:`~posekit.model.resnet.ResNet`; :func:`resolve_init_weights` maps a
pose_cfg ``init_weights`` value to a file (downloading and caching ImageNet
weights on first use) or to a marker the training code resolves.

Checksums: where the hub publishes a file's sha256 (the Git LFS object id shown
under "Git LFS Details" on the file's page), it is pinned in
:data:`IMAGENET_WEIGHTS` and every use, the first download included, is checked
against it; a download that does not match is deleted and never reaches the
cache. That covers resnet18, resnet50 and resnet152. No published digest of
``resnet34.tv_in1k`` or ``resnet101.tv_in1k`` could be found (the files could
not be downloaded to hash them either), so those two stay on trust on first
use: the first download (or first use of a file put in the cache by hand)
records the file's sha256 in ``<file>.sha256.json`` beside it, and every later
use verifies the file against that record. :func:`cached_imagenet_weights`
(shown by :func:`posekit.check_install`) lists the cached files and whether
each matches its pinned digest.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import logging
import os
import re
import urllib.error
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from posekit.model.resnet import NET_TYPES, ResNet, resnet
from posekit.model.safetensors_io import read_safetensors
from posekit.utils.atomic import atomic_write_text
from posekit.utils.download import download as download_file
from posekit.utils.download import sha256_file

__all__ = [
    "IMAGENET_WEIGHTS",
    "TORCHVISION_PIXEL_STD",
    "ImagenetWeights",
    "InitWeights",
    "cached_imagenet_weights",
    "imagenet_weights_path",
    "load_torchvision_resnet",
    "resolve_cache_dir",
    "resolve_init_weights",
    "torchvision_resnet_shapes",
]

log = logging.getLogger(__name__)

#: torchvision's input std (0.229, 0.224, 0.225) on the 0-255 scale.
TORCHVISION_PIXEL_STD: tuple[float, float, float] = (58.395, 57.12, 57.375)

Variables = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class ImagenetWeights:
    """Where to get a net type's ImageNet weights.

    Attributes
    ----------
    name
        Cache file stem (``<name>.safetensors``).
    url
        Public download URL of a torchvision-layout safetensors file.
    size_mb
        Approximate download size in MB (float32 weights), for messages.
    sha256
        Pinned digest, or None to record it on first download.
    """

    name: str
    url: str
    size_mb: int
    sha256: str | None = None


def _hf_timm(name: str, size_mb: int, sha256: str | None = None) -> ImagenetWeights:
    return ImagenetWeights(
        name, f"https://huggingface.co/timm/{name}/resolve/main/model.safetensors", size_mb, sha256)


#: net_type -> torchvision's original ImageNet weights, as converted by timm.
#: Pinned digests are the Git LFS sha256 the hub publishes for ``model.safetensors``
#: (https://huggingface.co/timm/<name>/blob/main/model.safetensors, "Git LFS
#: Details"); the file has not changed since timm's "Add model" commit named beside
#: each. resnet34/resnet101: no published digest was found, so trust on first use.
IMAGENET_WEIGHTS: dict[str, ImagenetWeights] = {
    # hub commit a987fd6 ("Add model", 2023-04-05), 46.8 MB
    "resnet_18": _hf_timm("resnet18.tv_in1k", 47,
                          "694f673df6520a3158624e8a89af086f59923ee4cd7436fe5bc3bc71d295ad81"),
    "resnet_34": _hf_timm("resnet34.tv_in1k", 87),
    # hub commit aa6c2d3 ("Add model", 2023-04-05), 102 MB
    "resnet_50": _hf_timm("resnet50.tv_in1k", 102,
                          "5d061a3c593d795bfe682d9b152bafbcf550579873492def3515b46db1189888"),
    "resnet_101": _hf_timm("resnet101.tv_in1k", 179),
    # hub commit 2a9b5c2 ("Add model", 2023-04-05), 241 MB
    "resnet_152": _hf_timm("resnet152.tv_in1k", 242,
                           "15897077afdf4d6334dc0c3f8e6fb483afb3faa9298c139f3c6eb29bca6ae5b2"),
}


# --------------------------------------------------------------------------
# torchvision state_dict -> Flax variables

_BN_LEAVES = {  # Flax (collection, leaf) -> torchvision suffix
    ("params", "scale"): "weight",
    ("params", "bias"): "bias",
    ("batch_stats", "mean"): "running_mean",
    ("batch_stats", "var"): "running_var",
}


@dataclasses.dataclass(frozen=True)
class _Slot:
    collection: str
    path: tuple[str, ...]
    shape: tuple[int, ...]  # Flax shape
    is_kernel: bool

    @property
    def torch_shape(self) -> tuple[int, ...]:
        if self.is_kernel:  # HWIO -> OIHW
            kh, kw, cin, cout = self.shape
            return (cout, cin, kh, kw)
        return self.shape


def _as_backbone(net_type: str | ResNet) -> ResNet:
    return net_type if isinstance(net_type, ResNet) else resnet(net_type)


@functools.lru_cache(maxsize=16)
def _layout(backbone: ResNet) -> dict[str, _Slot]:
    """Map torchvision keys to slots, from the module's abstract variables."""
    abstract = jax.eval_shape(
        backbone.init, jax.random.key(0),
        jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32))
    layout = {}
    for collection, tree in abstract.items():
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
            names = tuple(str(p.key) for p in path)
            prefix, leaf_name = ".".join(names[:-1]), names[-1]
            if leaf_name == "kernel":
                key, is_kernel = f"{prefix}.weight", True
            else:
                key, is_kernel = f"{prefix}.{_BN_LEAVES[collection, leaf_name]}", False
            layout[key] = _Slot(collection, names, tuple(leaf.shape), is_kernel)
    return layout


def torchvision_resnet_shapes(net_type: str | ResNet) -> dict[str, tuple[int, ...]]:
    """Return the torchvision ``state_dict`` keys and shapes a backbone needs.

    Excludes ``fc.*`` and ``*.num_batches_tracked``, which are ignored when
    loading. Computed with :func:`jax.eval_shape` (nothing is allocated).

    Parameters
    ----------
    net_type
        A DeepLabCut net type (``"resnet_50"``) or a :class:`ResNet`.

    Returns
    -------
    dict
        Key -> torchvision (OIHW / vector) shape.
    """
    return {k: s.torch_shape for k, s in _layout(_as_backbone(net_type)).items()}


def _ignored(key: str) -> bool:
    return key.startswith("fc.") or key.endswith(".num_batches_tracked")


def _guess_net_type(keys: Sequence[str]) -> str | None:
    """Find the standard net type whose block structure matches these keys."""
    blocks = [0, 0, 0, 0]
    for key in keys:
        match = re.match(r"layer([1-4])\.(\d+)\.", key)
        if match:
            layer, block = int(match[1]) - 1, int(match[2]) + 1
            blocks[layer] = max(blocks[layer], block)
    kind = "bottleneck" if any(".conv3." in k for k in keys) else "basic"
    for name, spec in NET_TYPES.items():
        if spec == (kind, tuple(blocks)):
            return name
    return None


def load_torchvision_resnet(
    path_or_mapping: str | os.PathLike | Mapping[str, Any],
    net_type: str | ResNet,
    *,
    pixel_std: Sequence[float] | None = TORCHVISION_PIXEL_STD,
) -> Variables:
    """Convert torchvision-layout ResNet weights into Flax backbone variables.

    Parameters
    ----------
    path_or_mapping
        A ``.safetensors`` file, or a mapping of torchvision ``state_dict``
        keys (``conv1.weight``, ``layer1.0.bn1.running_mean``, ...) to arrays.
        ``fc.*`` and ``*.num_batches_tracked`` are ignored.
    net_type
        ``"resnet_18"`` ... ``"resnet_152"``, or a :class:`ResNet` (its
        ``output_stride`` does not change the weights).
    pixel_std
        torchvision models expect ``(x/255 - mean) / std``; posekit feeds
        DeepLabCut's ``x - mean_pixel``. Dividing ``conv1``'s input channels by
        ``pixel_std`` (0-255 scale) makes the two agree exactly (``conv1`` has
        no bias and pads with zeros). Pass None to keep the kernel as stored.
        The means differ by < 0.5 grey levels (DeepLabCut uses
        ``(123.68, 116.779, 103.939)``, torchvision ``255 * (0.485, 0.456,
        0.406)``), which is left as is.

    Returns
    -------
    dict
        ``{"params": ..., "batch_stats": ...}`` for :class:`ResNet` (use as
        ``backbone_variables`` of
        :func:`~posekit.model.pose_net.init_pose_net`). Kernels are HWIO
        (torchvision OIHW, transposed); batch norm ``weight``/``bias``/
        ``running_mean``/``running_var`` become ``scale``/``bias``/``mean``/
        ``var``. All float32.

    Raises
    ------
    ValueError
        Naming every missing, unexpected and shape-mismatched key (and the net
        type the keys look like, when that is a different standard one).
    FileNotFoundError
        If the file does not exist.
    """
    backbone = _as_backbone(net_type)
    label = net_type if isinstance(net_type, str) else "the given ResNet"
    if isinstance(path_or_mapping, Mapping):
        source, tensors = "the given mapping", dict(path_or_mapping)
    else:
        path = Path(path_or_mapping)
        if not path.is_file():
            raise FileNotFoundError(f"no weight file at {path}")
        source, tensors = str(path), read_safetensors(path)
    tensors = {k: v for k, v in tensors.items() if not _ignored(k)}
    layout = _layout(backbone)

    missing = sorted(layout.keys() - tensors.keys())
    unexpected = sorted(tensors.keys() - layout.keys())
    mismatched = [
        f"{key} {tuple(np.shape(tensors[key]))} (expected "
        f"{layout[key].torch_shape})"
        for key in sorted(layout.keys() & tensors.keys())
        if tuple(np.shape(tensors[key])) != layout[key].torch_shape
    ]
    if missing or unexpected or mismatched:
        raise ValueError(_mismatch_message(
            source, label, missing, unexpected, mismatched, list(tensors)))

    variables: Variables = {}
    for key, slot in layout.items():
        value = np.asarray(tensors[key], dtype=np.float32)
        if slot.is_kernel:
            value = value.transpose(2, 3, 1, 0)
            if key == "conv1.weight" and pixel_std is not None:
                value = value / np.asarray(pixel_std, np.float32)[None, None, :, None]
        node = variables.setdefault(slot.collection, {})
        for name in slot.path[:-1]:
            node = node.setdefault(name, {})
        node[slot.path[-1]] = jnp.asarray(value)
    return variables


def _mismatch_message(source: str, label: str, missing: list[str],
                      unexpected: list[str], mismatched: list[str],
                      keys: list[str]) -> str:
    def listing(title: str, items: list[str]) -> str:
        shown = ", ".join(items[:12])
        more = f", ... ({len(items) - 12} more)" if len(items) > 12 else ""
        return f"{len(items)} {title}: {shown}{more}"

    parts = [listing(title, items) for title, items in (
        ("missing key(s)", missing), ("unexpected key(s)", unexpected),
        ("shape mismatch(es)", mismatched)) if items]
    message = (f"torchvision ResNet weights from {source} do not fit {label}: "
               + "; ".join(parts))
    guess = _guess_net_type(keys)
    if guess is not None and guess != label:
        message += f". The keys look like {guess}: check net_type"
    elif any(k.startswith(("module.", "model.", "backbone.")) for k in keys):
        message += (". Keys carry a prefix (e.g. 'module.'); strip it to get "
                    "torchvision's names")
    return message


# --------------------------------------------------------------------------
# init_weights resolution, cache and download


@dataclasses.dataclass(frozen=True)
class InitWeights:
    """What a pose_cfg ``init_weights`` value resolved to.

    Attributes
    ----------
    kind
        ``"scratch"`` (random init), ``"torchvision"`` (a torchvision-layout
        safetensors backbone at ``path``: pass it to
        :func:`load_torchvision_resnet`) or ``"snapshot"`` (a posekit snapshot
        folder or name, for the training code to restore).
    path
        The file, snapshot folder or snapshot name; None for scratch.
    source
        The value it was resolved from.
    """

    kind: Literal["scratch", "torchvision", "snapshot"]
    path: Path | None
    source: str


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Return posekit's download cache folder.

    Parameters
    ----------
    cache_dir
        An explicit folder; wins when given.

    Returns
    -------
    pathlib.Path
        ``cache_dir``, else ``$POSEKIT_CACHE``, else ``~/.cache/posekit``.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("POSEKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "posekit"


def imagenet_weights_path(net_type: str,
                          cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the ImageNet weights of ``net_type`` are cached.

    Parameters
    ----------
    net_type
        ``"resnet_18"`` ... ``"resnet_152"``.
    cache_dir
        Cache folder (default: see :func:`resolve_cache_dir`).

    Returns
    -------
    pathlib.Path
        ``<cache>/weights/<name>.safetensors``, e.g.
        ``~/.cache/posekit/weights/resnet50.tv_in1k.safetensors``.
    """
    name = f"{_imagenet(net_type).name}.safetensors"
    return resolve_cache_dir(cache_dir) / "weights" / name


def _imagenet(net_type: str) -> ImagenetWeights:
    try:
        return IMAGENET_WEIGHTS[net_type]
    except KeyError:
        raise ValueError(
            f"no ImageNet weights known for net_type {net_type!r}; posekit has "
            f"them for {', '.join(IMAGENET_WEIGHTS)}") from None


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def _now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _write_record(path: Path, digest: str, url: str, how: str) -> None:
    record = {
        "file": path.name,
        "sha256": digest,
        "size": path.stat().st_size,
        "url": url,
        "recorded": _now_utc(),
        "how": how,
    }
    atomic_write_text(_record_path(path), json.dumps(record, indent=2) + "\n")


def _expected_digest(path: Path, weights: ImagenetWeights) -> tuple[str | None, str]:
    """The digest ``path`` must have and where it comes from (None: nothing known yet)."""
    if weights.sha256 is not None:
        return weights.sha256, "pinned in posekit"
    record = _record_path(path)
    if not record.is_file():
        return None, "no pinned digest and no record"
    try:
        return json.loads(record.read_text(encoding="utf-8"))["sha256"], f"recorded in {record}"
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            f"checksum record {record} is unreadable; delete it to record "
            f"the digest of {path} again") from None


def _verify(path: Path, weights: ImagenetWeights) -> None:
    """Check ``path`` against the pinned digest, else its recorded one (recording it if none)."""
    digest = sha256_file(path)
    expected, origin = _expected_digest(path, weights)
    if expected is None:
        _write_record(path, digest, weights.url,
                      "recorded on first use of a file placed in the cache")
        log.info("recorded sha256 %s of %s", digest, path)
    elif digest != expected:
        raise ValueError(
            f"{path} has sha256 {digest}, but {expected} was {origin}: the file "
            f"is corrupt or was replaced. Delete it (and {_record_path(path).name}, if "
            f"present) to download it again from {weights.url}")


def _fetch_imagenet(net_type: str, cache: str | os.PathLike | None,
                    download: bool) -> Path:
    weights = _imagenet(net_type)
    path = imagenet_weights_path(net_type, cache)
    if path.is_file():
        _verify(path, weights)
        return path
    how_to = (f"Download {weights.url} (about {weights.size_mb} MB) on a machine with internet access and "
              f"put it at exactly {path} (or set $POSEKIT_CACHE to a folder "
              f"holding weights/{path.name}), or pass pretrained=False "
              "(init_weights=None) to train from scratch")
    if not download:
        raise FileNotFoundError(
            f"ImageNet weights for {net_type} are not cached at {path} and "
            f"downloading is off. {how_to}")
    log.info("downloading %s to %s", weights.url, path)
    # Download beside the target and move it into place only once its digest
    # matches, so a bad download never sits in the cache under the real name.
    partial = path.with_name(path.name + ".download")
    try:
        try:
            digest = download_file(weights.url, partial)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise FileNotFoundError(
                f"ImageNet weights for {net_type} are not cached at {path} and "
                f"could not be downloaded from {weights.url} ({exc}). {how_to}"
            ) from exc
        if weights.sha256 is not None and digest != weights.sha256:
            raise ValueError(
                f"download of {path.name} from {weights.url} has sha256 {digest}, but "
                f"{weights.sha256} is pinned in posekit: the download is corrupt or the "
                "hub's file changed. It was deleted and nothing was cached; try again, "
                f"and if it persists, report it (or put a file you trust at {path})")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    how = ("verified against the pinned digest on download" if weights.sha256 is not None
           else "recorded on first download")
    _write_record(path, digest, weights.url, how)
    return path


def cached_imagenet_weights(cache_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """List the ImageNet weight files in the cache and check each one's sha256.

    Parameters
    ----------
    cache_dir
        Cache folder (default: see :func:`resolve_cache_dir`).

    Returns
    -------
    list of dict
        One entry per cached file, in :data:`IMAGENET_WEIGHTS` order:
        ``net_type``, ``file`` (name), ``path``, ``size_bytes``, ``sha256``,
        ``verified`` (True only when the file matches the digest pinned in
        posekit) and ``status``: ``"verified"`` (matches the pinned digest),
        ``"matches record"`` (no pinned digest; unchanged since its first use,
        which is all trust on first use can say), ``"not yet recorded"``,
        ``"MISMATCH"`` (corrupt or replaced: delete it) or
        ``"record unreadable"``. Files are hashed, not loaded.
    """
    entries = []
    for net_type, weights in IMAGENET_WEIGHTS.items():
        path = imagenet_weights_path(net_type, cache_dir)
        if not path.is_file():
            continue
        digest = sha256_file(path)
        try:
            expected, _ = _expected_digest(path, weights)
        except ValueError:
            status = "record unreadable"
        else:
            if expected is None:
                status = "not yet recorded"
            elif digest != expected:
                status = "MISMATCH"
            else:
                status = "verified" if weights.sha256 is not None else "matches record"
        entries.append({
            "net_type": net_type,
            "file": path.name,
            "path": str(path),
            "size_bytes": path.stat().st_size,
            "sha256": digest,
            "verified": status == "verified",
            "status": status,
        })
    return entries


_DLC_IMAGENET_CKPT = re.compile(r"^resnet_v1_\d+\.ckpt$")


def resolve_init_weights(
    init_weights: str | os.PathLike | None,
    net_type: str = "resnet_50",
    cache_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
) -> InitWeights:
    """Resolve a pose_cfg ``init_weights`` value to something loadable.

    Parameters
    ----------
    init_weights
        ``None``/``""`` -> train from scratch. ``"imagenet"`` -> torchvision's
        ImageNet weights of ``net_type`` from the cache, downloaded on first
        use. DeepLabCut's TF checkpoint paths (``.../resnet_v1_50.ckpt``)
        mean the same (TF slim weights cannot be loaded; ``net_type`` decides
        the depth). A ``.safetensors`` file -> used as is. An existing folder,
        or a name / path whose last part starts with ``snapshot`` -> a posekit
        snapshot, left to the training code.
    net_type
        The network's net type (selects the ImageNet file).
    cache_dir
        Cache folder (default ``$POSEKIT_CACHE`` or ``~/.cache/posekit``).
    download
        Allow downloading missing ImageNet weights.

    Returns
    -------
    InitWeights

    Raises
    ------
    FileNotFoundError
        ImageNet weights neither cached nor downloadable (the message names
        the URL, the exact path to put the file at, and ``pretrained=False``),
        or a named file that does not exist.
    ValueError
        A download or cached file whose sha256 differs from the pinned (or,
        without one, the recorded) digest; a bad download is deleted first. Or
        a value that is none of the above.
    """
    if init_weights is None or str(init_weights).strip() == "":
        return InitWeights("scratch", None, "")
    source = os.fspath(init_weights)
    path = Path(source).expanduser()
    if source.lower() == "imagenet" or _DLC_IMAGENET_CKPT.match(path.name):
        return InitWeights("torchvision",
                           _fetch_imagenet(net_type, cache_dir, download), source)
    if path.is_dir() or path.name.startswith("snapshot"):
        return InitWeights("snapshot", path, source)
    if path.suffix == ".safetensors":
        if not path.is_file():
            raise FileNotFoundError(f"init_weights file {path} does not exist")
        return InitWeights("torchvision", path, source)
    if path.exists():
        raise ValueError(
            f"init_weights {source!r} is not a .safetensors file of "
            "torchvision-layout weights, a snapshot or 'imagenet'")
    raise FileNotFoundError(
        f"init_weights {source!r} is neither 'imagenet', an existing file or "
        "folder, nor a snapshot name")
