"""Multi-host training for real: two JAX processes on this machine.

`launch.py --distributed` in two processes on localhost (each with two forced
host devices, gloo collectives across processes) trains DCGAN with BatchNorm on
streamed batches, checkpoints, and resumes with the other backend. It must
reach the checkpoints and logged losses of one process on one device with the
same global batch, and only process 0 may write logs and samples.
"""

import importlib
import json
import os
import socket
import subprocess
import sys

import flax
import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from gans_jax.families.base import step_of
from gans_jax.optim import optimizer_config
from gans_jax.evaluate import restore_latest
from xla_flags import with_host_devices

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# DCGAN: BatchNorm statistics are averaged across processes. max_resident_mb=0
# streams batches, so each process reads only its own half of every batch.
# SGD: Adam's first steps turn float noise in a ~0 gradient into +-lr.
TINY = ["--config", "experiments/dcgan.py", "--config.train.batch_size=8",
        "--config.log_every=2", "--config.sample_every=2", "--config.checkpoint_every=2",
        "--config.dataset.resolution=8", "--config.model.g_width=8", "--config.model.d_width=8",
        "--config.model.conv_impl=xla", "--config.num_sample_images=4",
        "--config.dataset.max_resident_mb=0", "--config.optimizer.g.name=sgd",
        "--config.optimizer.g.learning_rate=0.05", "--config.optimizer.d.name=sgd",
        "--config.optimizer.d.learning_rate=0.05", "--progress=false"]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _run(args, num_processes: int, devices_per_process: int):
  """launch.py in `num_processes` processes (1: without --distributed)."""
  env = with_host_devices(devices_per_process)
  command = [sys.executable, os.path.join(ROOT, "launch.py"), *args]
  if num_processes == 1:
    commands = [command]
  else:
    port = _free_port()
    commands = [command + ["--distributed", f"--coordinator_address=localhost:{port}",
                           f"--num_processes={num_processes}", f"--process_id={i}"]
                for i in range(num_processes)]
  procs = [subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True) for c in commands]
  results = []
  try:
    for p in procs:
      out, err = p.communicate(timeout=480)
      results.append((p.returncode, out, err))
  finally:
    for p in procs:
      p.kill()
  for i, (code, out, err) in enumerate(results):
    assert code == 0, f"process {i} exited {code}:\n{err[-3000:]}"
  return [out for _, out, _ in results]


def _restore(workdir: str, step: int):
  path = os.path.join(workdir, "checkpoints", str(step), "default")
  with ocp.StandardCheckpointer() as ckptr:
    tree = ckptr.metadata(path).item_metadata.tree
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), tree)
    return ckptr.restore(path, target)


def _rows(workdir: str):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


def test_two_processes_train_resume_and_match_one_device(data_dir, tmp_path):
  data = f"--config.dataset.data_dir={data_dir}"
  multi, single = str(tmp_path / "two_processes"), str(tmp_path / "one_device")
  # 2 processes x 2 devices: pmap to step 4, then resume with shard_map to 6.
  outs = _run([*TINY, data, "--workdir", multi, "--config.train.num_steps=4",
               "--config.parallel.backend=pmap"], num_processes=2, devices_per_process=2)
  assert all("done: 4 steps" in o for o in outs), outs
  outs = _run([*TINY, data, "--workdir", multi, "--config.train.num_steps=6",
               "--config.parallel.backend=shard_map"], num_processes=2, devices_per_process=2)
  assert all("done: 6 steps" in o for o in outs), outs
  _run([*TINY, data, "--workdir", single, "--config.train.num_steps=6"],
       num_processes=1, devices_per_process=1)

  for step in (4, 6):
    a, b = _restore(multi, step), _restore(single, step)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
      np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=2e-5, rtol=1e-5)
  # The steps moved the parameters well beyond that tolerance, BatchNorm
  # statistics included.
  first, last = _restore(multi, 4), _restore(multi, 6)
  moved = [float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
           for x, y in zip(jax.tree.leaves(first["g"]), jax.tree.leaves(last["g"]))]
  assert max(moved) > 1e-3, moved

  # One process restores what two saved (as --mode=eval does after a multi-host run).
  config = importlib.import_module("experiments.dcgan").get_config()
  config.dataset.data_dir, config.dataset.resolution = data_dir, 8
  config.model.g_width = config.model.d_width = 8
  config.model.conv_impl = "xla"
  config.optimizer.g = optimizer_config("sgd", 0.05)
  config.optimizer.d = optimizer_config("sgd", 0.05)
  _, _, state = restore_latest(config, multi)
  assert step_of(state) == 6
  for x, y in zip(jax.tree.leaves(flax.serialization.to_state_dict(state)),
                  jax.tree.leaves(_restore(multi, 6))):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))

  # Process 0 alone logged: one row per logged step, with the one-device losses.
  rows_multi, rows_single = _rows(multi), _rows(single)
  assert [r["step"] for r in rows_multi] == [2, 4, 6]
  for r, s in zip(rows_multi, rows_single):
    for k in ("d_loss", "g_loss"):
      assert r[k] == pytest.approx(s[k], abs=1e-5), (k, r, s)
  assert sorted(os.listdir(os.path.join(multi, "samples"))) == [
      "step_0000002.png", "step_0000004.png", "step_0000006.png"]
