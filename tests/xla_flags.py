"""XLA_FLAGS for the test processes that jax must start with several host devices."""

import os


def with_host_devices(count: int, env: dict | None = None) -> dict:
  """`env` (default os.environ) with `count` forced host devices added to its XLA_FLAGS,
  keeping the session's other flags (conftest.py's optimisation level)."""
  env = dict(os.environ if env is None else env)
  flags = env.get("XLA_FLAGS", "").split()
  flags = [f for f in flags if not f.startswith("--xla_force_host_platform_device_count")]
  env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={count}"])
  return env
