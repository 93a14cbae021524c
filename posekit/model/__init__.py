"""The pose network: ResNet backbones, DLC heads, targets, loss, decoding, weights.

Importing this package loads JAX and Flax and does nothing else (no tracing,
no file or network access).
"""

from posekit.model.decode import decode_pose, make_predict_fn
from posekit.model.heads import PredictionHead
from posekit.model.loss import LOCREF_LOSS_WEIGHT, pose_loss, weighted_mean
from posekit.model.pose_net import (
    MEAN_PIXEL,
    PoseNet,
    init_pose_net,
    output_map_shape,
    pose_net_from_cfg,
    preprocess,
    replace_backbone,
)
from posekit.model.resnet import (
    NET_TYPES,
    BasicBlock,
    Bottleneck,
    ResNet,
    layer_dilations,
    resnet,
)
from posekit.model.safetensors_io import (
    read_safetensors,
    read_safetensors_header,
    write_safetensors,
)
from posekit.model.targets import LOCREF_STDEV, POS_DIST_THRESH, make_targets
from posekit.model.weights import (
    IMAGENET_WEIGHTS,
    TORCHVISION_PIXEL_STD,
    ImagenetWeights,
    InitWeights,
    imagenet_weights_path,
    load_torchvision_resnet,
    resolve_cache_dir,
    resolve_init_weights,
    torchvision_resnet_shapes,
)

__all__ = [
    "IMAGENET_WEIGHTS",
    "LOCREF_LOSS_WEIGHT",
    "LOCREF_STDEV",
    "MEAN_PIXEL",
    "NET_TYPES",
    "POS_DIST_THRESH",
    "TORCHVISION_PIXEL_STD",
    "BasicBlock",
    "Bottleneck",
    "ImagenetWeights",
    "InitWeights",
    "PoseNet",
    "PredictionHead",
    "ResNet",
    "decode_pose",
    "imagenet_weights_path",
    "init_pose_net",
    "layer_dilations",
    "load_torchvision_resnet",
    "make_predict_fn",
    "make_targets",
    "output_map_shape",
    "pose_loss",
    "pose_net_from_cfg",
    "preprocess",
    "read_safetensors",
    "read_safetensors_header",
    "replace_backbone",
    "resnet",
    "resolve_cache_dir",
    "resolve_init_weights",
    "torchvision_resnet_shapes",
    "weighted_mean",
    "write_safetensors",
]
