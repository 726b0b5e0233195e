"""Run as a script under XLA_FLAGS=--xla_force_host_platform_device_count=4 (see test_parallel.py).

Prints one JSON line: for each (experiment, backend), the largest absolute
difference between parameters after two steps on 4 devices and on 1 device
with the same global batch, plus the largest parameter change (to show the
steps did something).
"""

import importlib
import json
import sys

import flax
import jax
import numpy as np

from gans_jax import families, trainer
from gans_jax.data.streaming import StreamedBatches
from gans_jax.families import gan
from gans_jax.optim import optimizer_config
from gans_jax.data import load_dataset
from gans_jax.train_settings import TrainSettings


def max_diff(a, b) -> float:
  return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def run(name: str, backend: str, data_dir: str, devices, streamed: bool = False):
  config = importlib.import_module(f"experiments.{name}").get_config()
  config.dataset.data_dir = data_dir
  config.dataset.resolution = 8
  config.model.g_width = config.model.d_width = 8
  # XLA's convolutions, which compile faster, at 8x8 (where the default Winograd
  # form would not run anyway: it needs >= 8 channels and H, W multiples of 4).
  # The default form on 4 devices is checked by tests/winograd_parallel_equivalence.py.
  config.model.conv_impl = "xla"
  config.train.batch_size = 8
  config.parallel.backend = backend
  # SGD, not the configs' Adam: Adam's first steps move each weight by ~lr*sign(g),
  # so a gradient entry within float noise of 0 would flip by 2*lr and hide
  # whether the step itself is the same computation.
  config.optimizer.g = optimizer_config("sgd", 0.05)
  config.optimizer.d = optimizer_config("sgd", 0.05)
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  family, runner = trainer.make_runner(TrainSettings.from_config(config), lambda axis: gan.GAN(config, dataset, axis),
                                       resident=not streamed, devices=devices)
  state = family.init_state(jax.random.PRNGKey(0))
  init = jax.device_get(state)
  pstate = runner.put_state(state)
  if streamed:
    stream = StreamedBatches(dataset, 0, config.train.batch_size, config.train.n_critic)
  data = None if streamed else runner.put_data({"x": dataset.all()["x"]})
  key = jax.random.PRNGKey(1)
  for step in range(2):
    pstate, _ = runner.step(pstate, runner.put_data(stream(step)) if streamed else data, key)
  return init, jax.device_get(runner.get_state(pstate))


def run_family(name: str, data_dir: str, devices):
  """One step of a VAE family at 8x8, widths 8, XLA's convolutions (as `run`'s)."""
  config = importlib.import_module(f"experiments.{name}").get_config()
  config.dataset.data_dir = data_dir
  config.dataset.resolution = 8
  config.model.conv_impl = "xla"
  config.model.e_width = config.model.g_width = 8
  if "d_width" in config.model:
    config.model.d_width = 8
  config.train.batch_size = 8
  for group in config.optimizer:
    config.optimizer[group] = optimizer_config("sgd", 0.05)
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  fam_cls = families.get(config)
  family, runner = trainer.make_runner(TrainSettings.from_config(config), lambda axis: fam_cls(config, dataset, axis),
                                       resident=True, devices=devices)
  state = family.init_state(jax.random.PRNGKey(0))
  init = flax.serialization.to_state_dict(jax.device_get(state))
  pstate = runner.put_state(state)
  data = runner.put_data({"x": dataset.all()["x"]})
  pstate, _ = runner.step(pstate, data, jax.random.PRNGKey(1))
  return init, flax.serialization.to_state_dict(jax.device_get(runner.get_state(pstate)))


def run_techniques(backend: str, data_dir: str, devices):
  """Two SGD steps of gan_mlp on ring8 with every improved technique at once: minibatch
  discrimination (features over the global batch), PacGAN packs of 2, virtual BN in G
  and historical averaging. Batch 8: 2 examples, one pack, per device on 4 devices."""
  config = importlib.import_module("experiments.gan_mlp").get_config()
  config.dataset.data_dir = data_dir
  config.model.g_hidden = (16, 16)
  config.model.d_hidden = (16, 16)
  config.model.minibatch_kernels = 3
  config.model.minibatch_kernel_dim = 2
  config.model.pack = 2
  config.model.vbn_reference = 4
  config.loss.historical_averaging = 0.1
  config.train.batch_size = 8
  config.parallel.backend = backend
  config.optimizer.g = optimizer_config("sgd", 0.05)
  config.optimizer.d = optimizer_config("sgd", 0.05)
  families.check_config(config, num_devices=len(devices))
  dataset = load_dataset("ring8", data_dir=data_dir)
  family, runner = trainer.make_runner(TrainSettings.from_config(config), lambda axis: gan.GAN(config, dataset, axis),
                                       resident=True, devices=devices)
  state = family.init_state(jax.random.PRNGKey(0))
  init = flax.serialization.to_state_dict(jax.device_get(state))
  pstate = runner.put_state(state)
  data = runner.put_data({"x": dataset.all()["x"]})
  for _ in range(2):
    pstate, _ = runner.step(pstate, data, jax.random.PRNGKey(1))
  return init, flax.serialization.to_state_dict(jax.device_get(runner.get_state(pstate)))


def main(data_dir: str) -> None:
  devices = jax.local_devices()
  assert len(devices) == 4, devices
  out = {}
  # Each case on one backend, the two backends alternating over the cases (each backend sees a
  # BatchNorm GAN and data of both kinds); the one-device reference (plain jit) is backend-free.
  cases = [("wgan_gp", False, "shard_map"), ("dcgan", False, "pmap"), ("dcgan", True, "shard_map")]
  for name, streamed, backend in cases:
    init, one = run(name, "pmap", data_dir, devices[:1], streamed)
    _, four = run(name, backend, data_dir, devices, streamed)
    out[f"{name}/{backend}/{'streamed' if streamed else 'resident'}"] = {
        "params": max(max_diff(one.g.params, four.g.params),
                      max_diff(one.d.params, four.d.params)),
        "batch_stats": max_diff(one.g.batch_stats, four.g.batch_stats)
        if one.g.batch_stats else 0.0,
        "moved": max_diff(one.g.params, init.g.params),
    }
  for name in ("vae", "vae_gan"):
    init, one = run_family(name, data_dir, devices[:1])
    _, four = run_family(name, data_dir, devices)
    out[f"{name}/pmap/resident"] = {"params": max_diff(one, four), "batch_stats": 0.0,
                                    "moved": max_diff(one, init)}
  init, one = run_techniques("pmap", data_dir, devices[:1])
  _, four = run_techniques("pmap", data_dir, devices)
  out["gan_mlp_techniques/pmap/resident"] = {
      "params": max_diff(one, four), "batch_stats": 0.0,
      "moved": min(max_diff(one[p]["params"], init[p]["params"]) for p in ("g", "d"))}
  print(json.dumps(out))


if __name__ == "__main__":
  main(sys.argv[1])
