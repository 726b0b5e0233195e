"""Data parallelism: one step on 4 (forced host) devices equals one step on 1 device."""

import importlib
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gans_jax import parallel
from gans_jax.configs import parse_compiler_options
from gans_jax.errors import UserError
from xla_flags import with_host_devices

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_four_devices_match_one_device_for_both_backends(data_dir):
  # A fresh process: the device count is fixed when jax initialises.
  env = {**with_host_devices(4), "PYTHONPATH": ROOT}
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "tests", "parallel_equivalence.py"), data_dir],
      capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  diffs = json.loads(result.stdout.strip().splitlines()[-1])
  # WGAN-GP (per-example penalty, shard_map) and DCGAN (BatchNorm across replicas; pmap with
  # device-resident data, shard_map with host-streamed data); the VAE and VAE-GAN families
  # (whole states: encoder, decoder, discriminator, BatchNorm); gan_mlp with minibatch
  # discrimination, packing, virtual BN and historical averaging (whole states: history and
  # VBN references too).
  assert sorted(diffs) == ["dcgan/pmap/resident", "dcgan/shard_map/streamed",
                           "gan_mlp_techniques/pmap/resident", "vae/pmap/resident",
                           "vae_gan/pmap/resident", "wgan_gp/shard_map/resident"]
  for case, d in diffs.items():
    assert d["moved"] > 1e-4, case  # two steps really changed the parameters
    # Float noise scales with the step: the VAE's per-image loss sums 256 pixels, so
    # its SGD step moves weights by tens.
    assert d["params"] < 1e-5 * max(1.0, d["moved"]), (case, d)
    assert d["batch_stats"] < 1e-5, (case, d)


def _maxout_sgd_step(axis_name):
  """A maxout layer's SGD step (the reduction YNN fuses into the dot)."""
  def step(state, data, key):
    del key
    def loss(w):
      h = (data["x"] @ w).reshape(data["x"].shape[0], -1, 5).max(-1)
      return jnp.mean(jnp.tanh(h) ** 2)
    value, grad = jax.value_and_grad(loss)(state)
    if axis_name:
      grad, value = lax.pmean((grad, value), axis_name)
    return state - 0.5 * grad, {"loss": value}
  return step


def test_cpu_compiler_options_reach_xla_and_keep_the_step():
  """gan_mlp's XLA:CPU options change the compiled program, not its result, under jit and pmap."""
  config = importlib.import_module("experiments.gan_mlp").get_config()
  options = parse_compiler_options(config.parallel.cpu_compiler_options)
  assert options  # the config sets them
  rng = np.random.default_rng(0)
  w0 = rng.normal(size=(64, 1000)).astype(np.float32) / 8
  data = {"x": rng.normal(size=(100, 64)).astype(np.float32)}
  device, key = jax.local_devices()[:1], jax.random.PRNGKey(0)
  texts, results = {}, {}
  for backend, opts in (("jit", {}), ("jit", options), ("pmap", options)):
    runner = parallel.Runner(_maxout_sgd_step(parallel.AXIS if backend == "pmap" else None),
                             backend, device, streamed=False, cpu_compiler_options=opts)
    state, placed = runner.put_state(jnp.asarray(w0)), runner.put_data(data)
    if backend == "jit":
      texts[bool(opts)] = runner.compile(state, placed, key).as_text()
    for _ in range(3):  # pmap compiles with the options on its first call
      state, _ = runner.step(state, placed, key)
    results[backend, bool(opts)] = np.asarray(runner.get_state(state))
  if device[0].platform == "cpu":
    assert texts[True] != texts[False]
  reference = results["jit", False]
  assert np.max(np.abs(reference - w0)) > 1e-4  # the steps moved the weights
  np.testing.assert_allclose(results["jit", True], reference, atol=1e-6)
  np.testing.assert_allclose(results["pmap", True], reference, atol=1e-6)
  if device[0].platform == "cpu":  # an option XLA does not know: one clear error, up front
    with pytest.raises(UserError, match=r"parallel\.cpu_compiler_options.*xla_cpu_no_such_option"):
      parallel.Runner(_maxout_sgd_step(None), "jit", device, streamed=False,
                      cpu_compiler_options={"xla_cpu_no_such_option": "1"})
