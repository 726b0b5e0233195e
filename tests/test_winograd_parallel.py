"""Data parallelism with the Winograd convolutions: 4 (forced host) devices equal 1 device.

tests/test_parallel.py checks whole training steps with ``conv_impl='xla'`` and
tiny widths, where no Winograd layer runs; this checks the default conv_impl
at a size where the Winograd forms and their hand-written VJPs (first and
second order) run on every device, with BatchNorm statistics across devices.
"""

import json
import os
import subprocess
import sys

from xla_flags import with_host_devices

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Float32 rounding differs with the per-device split of the batch sums
# (measured <= 5e-7 of the largest value); examples mixed across the split or
# statistics of a device's share instead of the whole batch give >= 1e-2.
RTOL = 1e-5


def test_winograd_dcgan_on_four_devices_matches_one_device_for_both_backends():
  """Gradients, BatchNorm statistics and SGD-updated parameters of G, a BatchNorm D and a
  WGAN-GP critic: pmap and shard_map over 4 devices equal jit on 1 with the same global batch."""
  # A fresh process: the device count is fixed when jax initialises.
  env = {**with_host_devices(4), "JAX_PLATFORMS": "cpu", "PYTHONPATH": ROOT}
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "tests", "winograd_parallel_equivalence.py")],
      capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])
  # Both Winograd forms ran, on the whole batch (1 device) and on a device's quarter.
  assert out.pop("traced_batch_sizes") == {"conv4x4s2": [4, 16], "conv_transpose4x4s2": [4, 16]}
  assert sorted(out) == ["pmap", "shard_map"]
  for backend, quantities in out.items():
    assert len(quantities) == 7, quantities
    for name, d in quantities.items():
      assert d["scale"] > 1e-2, (backend, name, d)  # the quantity is not trivially zero
      assert d["rel"] < RTOL, (backend, name, d)
