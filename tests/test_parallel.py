"""Data parallelism: one step on 4 (forced host) devices equals one step on 1 device."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_four_devices_match_one_device_for_both_backends(data_dir):
  # A fresh process: the device count is fixed when jax initialises.
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
         "PYTHONPATH": ROOT}
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "tests", "parallel_equivalence.py"), data_dir],
      capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  diffs = json.loads(result.stdout.strip().splitlines()[-1])
  # WGAN-GP (per-example penalty) and DCGAN (BatchNorm across replicas), pmap
  # and shard_map, device-resident data and (DCGAN) host-streamed data.
  assert len(diffs) == 6
  for case, d in diffs.items():
    assert d["moved"] > 1e-4, case  # two steps really changed the parameters
    assert d["params"] < 1e-5, (case, d)
    assert d["batch_stats"] < 1e-5, (case, d)
