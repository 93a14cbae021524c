"""Environment that shrinks the demo notebook's training to seconds (headless and browser runs)."""

SMALL = {
    "POSEKIT_DEMO_MAXITERS": "2",
    "POSEKIT_DEMO_PRETRAINED": "0",
    "POSEKIT_DEMO_NET": "resnet_18",
    "POSEKIT_DEMO_CROP": "64",
    "POSEKIT_DEMO_REPEATS": "1",
    "JAX_PLATFORMS": "cpu",
}
