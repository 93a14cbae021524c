"""posekit adds its XLA defaults without overriding the user's."""

from posekit.utils.xla_flags import apply_default_xla_flags


def test_default_xla_flags_respect_the_users_choice():
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    assert apply_default_xla_flags(env) == (
        "--xla_force_host_platform_device_count=2 --xla_cpu_enable_concurrency_optimized_scheduler=false")
    env = {"XLA_FLAGS": "--xla_cpu_enable_concurrency_optimized_scheduler=true"}
    assert apply_default_xla_flags(env) == "--xla_cpu_enable_concurrency_optimized_scheduler=true"
    assert apply_default_xla_flags({}) == "--xla_cpu_enable_concurrency_optimized_scheduler=false"


def test_importing_posekit_sets_the_default():
    import os

    import posekit  # noqa: F401

    assert "xla_cpu_enable_concurrency_optimized_scheduler" in os.environ["XLA_FLAGS"]
