"""The CycleGAN family: digits2styled data, resume, history pool, losses, eval, bad input."""

import dataclasses
import importlib
import json
import os
import re
import shutil
from unittest import mock

import chex
import flax
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image as PILImage
import pytest
from scipy import ndimage
import tensorflow_datasets as tfds

from gans_jax.configs import base_config
from gans_jax import evaluate, families, optim, trainer
from gans_jax.data import builders, load_dataset, pipeline
from gans_jax.errors import UserError
from gans_jax.families import classifier, cyclegan
from gans_jax.train_settings import TrainSettings
from xla_flags import with_host_devices


def tiny(data_dir: str, num_steps: int = 4):
  """experiments/cyclegan_digits.py at 8x8, widths 4, one residual block, a 3-image pool."""
  config = importlib.import_module("experiments.cyclegan_digits").get_config()
  config.dataset.data_dir = data_dir
  config.dataset.resolution = 8
  config.model.g_width, config.model.g_blocks, config.model.d_width = 4, 1, 4
  config.loss.pool_size = 3
  config.loss.identity = True  # the paper's default (the digits experiment switches it off)
  config.train.num_steps, config.train.batch_size = num_steps, 4
  config.log_every = config.sample_every = config.checkpoint_every = 2
  config.num_sample_images = 4
  return config


def _dataset(data_dir, split="train"):
  return load_dataset("digits2styled", split=split, data_dir=data_dir, resolution=8)


def test_digits2styled_domains_are_disjoint_halves_and_test_b_is_t_of_test_a(data_dir):
  pos_a, pos_b = (builders.digits2styled_train_positions(d) for d in "AB")
  assert len(pos_a) == len(pos_b) == 718 and not set(pos_a) & set(pos_b)
  digits = load_dataset("digits", data_dir=data_dir, resolution=8).all()
  train = _dataset(data_dir).all()
  # T = -(3x3 max filter, background -1 outside), computed by scipy.
  t = lambda x: -ndimage.maximum_filter(x, size=(1, 3, 3, 1), mode="constant", cval=-1.0)
  np.testing.assert_array_equal(train["a"], digits["x"][pos_a])
  np.testing.assert_array_equal(train["b"], t(digits["x"][pos_b]))
  np.testing.assert_array_equal(train["y_b"], digits["y"][pos_b])
  test_a, test_b = _dataset(data_dir, "testA").all(), _dataset(data_dir, "testB").all()
  np.testing.assert_array_equal(test_b["x"], t(test_a["x"]))
  np.testing.assert_array_equal(test_a["y"], test_b["y"])
  view = load_dataset("digits2styled_b", split="test", data_dir=data_dir, resolution=8)
  np.testing.assert_array_equal(view.all()["x"], test_b["x"])


def test_cyclegan_trains_resumes_exactly_and_writes_grids(data_dir, tmp_path):
  full = trainer.train_and_evaluate(tiny(data_dir), str(tmp_path / "full"), progress=False)
  # The interrupted run: the full run's workdir as it was at step 2 (its checkpoint there, the
  # step-4 one gone), continued to step 4.
  shutil.copytree(tmp_path / "full", tmp_path / "resumed")
  shutil.rmtree(tmp_path / "resumed" / "checkpoints" / "4")
  os.remove(tmp_path / "resumed" / "samples" / "step_0000002.png")
  resumed = trainer.train_and_evaluate(tiny(data_dir), str(tmp_path / "resumed"),
                                       progress=False)
  assert int(resumed.step) == 4 and int(resumed.count_b) == 3  # 16 fakes passed a 3-slot pool
  # It resumed after step 2 (a run from scratch would have drawn step 2's grid again).
  assert sorted(os.listdir(tmp_path / "resumed" / "samples")) == ["step_0000004.png"]
  chex.assert_trees_all_equal(flax.serialization.to_state_dict(jax.device_get(resumed)),
                              flax.serialization.to_state_dict(jax.device_get(full)))
  rows = [json.loads(l) for l in open(tmp_path / "full" / "metrics.jsonl")]
  assert [r["step"] for r in rows] == [2, 4]
  assert {"g_adv", "cycle_a", "cycle_b", "identity", "d_a", "d_b"} <= set(rows[0])
  assert sorted(os.listdir(tmp_path / "full" / "samples")) == [
      "step_0000002.png", "step_0000004.png"]


def _pool_reference(pool, count, fakes, key):
  """The documented pool, one fake at a time, with NumPy state."""
  pool, out = np.array(pool), []
  for i, fake in enumerate(np.asarray(fakes)):
    k_u, k_j = jax.random.split(jax.random.fold_in(key, i))
    if count < len(pool):
      pool[count], count = fake, count + 1
      out.append(fake)
    elif float(jax.random.uniform(k_u)) < 0.5:
      j = int(jax.random.randint(k_j, (), 0, len(pool)))
      out.append(pool[j].copy())
      pool[j] = fake
    else:
      out.append(fake)
  return np.stack(out), pool, count


def test_history_pool_fills_then_swaps_half_the_fakes_from_the_documented_keys():
  size, fakes = 3, np.arange(1, 41, dtype=np.float32).reshape(40, 1, 1, 1)  # fake i holds i + 1
  key = jax.random.PRNGKey(7)
  out, pool, count = jax.jit(cyclegan.query_pool)(jnp.zeros((size, 1, 1, 1)), jnp.int32(0),
                                                  jnp.asarray(fakes), key)
  ref_out, ref_pool, ref_count = _pool_reference(np.zeros((size, 1, 1, 1)), 0, fakes, key)
  np.testing.assert_array_equal(out, ref_out)
  np.testing.assert_array_equal(pool, ref_pool)
  assert int(count) == ref_count == size
  np.testing.assert_array_equal(out[:size], fakes[:size])  # filling: each fake passes through
  np.testing.assert_array_equal(np.asarray(pool)[:, 0, 0, 0] > 0, True)
  swapped = out[size:, 0, 0, 0] != fakes[size:, 0, 0, 0]
  assert 0.2 < swapped.mean() < 0.8  # p = 1/2
  # A swapped-out image is an earlier fake, never a later one.
  assert np.all(out[size:, 0, 0, 0][swapped] < fakes[size:, 0, 0, 0][swapped])
  # No pool: the fakes themselves.
  same, _, _ = cyclegan.query_pool(jnp.zeros((0, 1, 1, 1)), jnp.int32(0), jnp.asarray(fakes), key)
  np.testing.assert_array_equal(same, fakes)


def test_step_losses_match_numpy_on_the_documented_draws(data_dir):
  """Step 0: the batch from split(fold_in(key, 0), 4)[:2] per example; cycle, identity and
  adversarial terms recomputed in NumPy from the networks' outputs; the pool takes G(a), F(b)."""
  config = tiny(data_dir, 1)
  config.loss.pool_size = 8
  dataset = _dataset(data_dir)
  fam = cyclegan.CycleGAN(config, dataset)
  state = fam.init_state(jax.random.PRNGKey(0))
  arrays = dataset.all()
  key = jax.random.PRNGKey(5)
  new, m = jax.jit(fam.step_fn(resident=True))(
      state, {"a": jnp.asarray(arrays["a"]), "b": jnp.asarray(arrays["b"])}, key)
  k_a, k_b, _, _ = jax.random.split(jax.random.fold_in(key, 0), 4)
  idx = lambda k: [int(jax.random.randint(jax.random.fold_in(k, i), (), 0, 718))
                   for i in range(4)]
  a, b = arrays["a"][idx(k_a)], arrays["b"][idx(k_b)]
  # The networks' forward passes compiled once each (op by op, every layer compiles its own).
  g_apply, d_apply = jax.jit(fam.g_net.apply), jax.jit(fam.d_net.apply)
  g = lambda ts, x: np.asarray(g_apply({"params": ts.params}, jnp.asarray(x, jnp.float32)),
                               np.float64)
  d = lambda ts, x: np.asarray(d_apply({"params": ts.params}, jnp.asarray(x, jnp.float32)),
                               np.float64)
  g_a, f_b = g(state.g_ab, a), g(state.g_ba, b)
  cyc_a = np.mean(np.abs(g(state.g_ba, g_a) - a))
  cyc_b = np.mean(np.abs(g(state.g_ab, f_b) - b))
  idt = np.mean(np.abs(g(state.g_ab, b) - b)) + np.mean(np.abs(g(state.g_ba, a) - a))
  adv = np.mean((d(state.d_b, g_a) - 1) ** 2) + np.mean((d(state.d_a, f_b) - 1) ** 2)
  np.testing.assert_allclose(float(m["cycle_a"]), cyc_a, rtol=1e-4)
  np.testing.assert_allclose(float(m["cycle_b"]), cyc_b, rtol=1e-4)
  np.testing.assert_allclose(float(m["identity"]), idt, rtol=1e-4)
  np.testing.assert_allclose(float(m["g_adv"]), adv, rtol=1e-4)
  np.testing.assert_allclose(float(m["g_loss"]), adv + 10 * (cyc_a + cyc_b) + 5 * idt,
                             rtol=1e-4)
  # D_B: 1/2 mean (D(b) - 1)^2 + 1/2 mean D(G(a))^2 (the pool was filling: it returns G(a)).
  d_b = 0.5 * np.mean((d(state.d_b, b) - 1) ** 2) + 0.5 * np.mean(d(state.d_b, g_a) ** 2)
  np.testing.assert_allclose(float(m["d_b"]), d_b, rtol=1e-4)
  assert int(new.count_b) == int(new.count_a) == 4
  np.testing.assert_allclose(np.asarray(new.pool_b)[:4], g_a, atol=1e-5)
  np.testing.assert_allclose(np.asarray(new.pool_a)[:4], f_b, atol=1e-5)
  np.testing.assert_array_equal(np.asarray(new.pool_b)[4:], 0.0)
  # Identity loss switched off: no identity term.
  config.loss.identity = False
  fam = cyclegan.CycleGAN(config, dataset)
  _, m = jax.jit(fam.step_fn(resident=True))(
      state, {"a": jnp.asarray(arrays["a"]), "b": jnp.asarray(arrays["b"])}, key)
  assert "identity" not in m
  np.testing.assert_allclose(float(m["g_loss"]), adv + 10 * (cyc_a + cyc_b), rtol=1e-4)


def test_learning_rate_is_constant_then_linear_to_zero():
  sched = optim.constant_then_linear_decay(2e-4, 100, 0.5)
  np.testing.assert_allclose([float(sched(t)) for t in (0, 49, 50, 75, 100)],
                             [2e-4, 2e-4, 2e-4, 1e-4, 0.0], atol=1e-10)


def _stand_in_classifier(data_dir, domain, workdir):
  """An untrained classifier of one domain, exported as the classifier family does."""
  config = importlib.import_module("experiments.classifier_digits").get_config()
  config.dataset.name, config.dataset.data_dir = f"digits2styled_{domain}", data_dir
  config.dataset.resolution = 8
  config.model.width, config.model.feature_dim = 4, 8
  dataset = load_dataset(config.dataset.name, data_dir=data_dir, resolution=8)
  fam = classifier.Classifier(config, dataset)
  fam.finish(fam.init_state(jax.random.PRNGKey(0)), workdir)
  return workdir


def test_eval_reports_translation_metrics_and_names_the_missing_classifier(data_dir, tmp_path):
  config = tiny(data_dir, 2)
  config.eval.classifier_dir_a = str(tmp_path / "missing_a")
  config.eval.classifier_dir_b = _stand_in_classifier(data_dir, "b", str(tmp_path / "cls_b"))
  trainer.train_and_evaluate(config, str(tmp_path / "run"), progress=False)
  with pytest.raises(UserError, match=r"^eval.classifier_dir: no trained classifier in .*"
                     r"missing_a; train it with: python launch.py --config "
                     r"experiments/classifier_digits.py --config.dataset.name=digits2styled_a "):
    evaluate.evaluate(config, str(tmp_path / "run"))
  config.eval.classifier_dir_a = _stand_in_classifier(data_dir, "a", str(tmp_path / "cls_a"))
  results = evaluate.evaluate(config, str(tmp_path / "run"))
  keys = {"label_preservation_ab", "label_preservation_ba", "cycle_error_a", "cycle_error_b",
          "fid_a", "fid_b", "fid_a_train_test", "fid_b_train_test", "translation_error_ab",
          "identity_error_ab"}
  assert keys <= set(results), keys - set(results)
  assert all(np.isfinite(results[k]) for k in keys)
  assert 0 <= results["label_preservation_ab"] <= 1
  test_a = _dataset(data_dir, "testA").all()["x"]
  t_a = _dataset(data_dir, "testB").all()["x"]
  np.testing.assert_allclose(results["identity_error_ab"], np.mean(np.abs(test_a - t_a)),
                             rtol=1e-6)
  assert json.load(open(tmp_path / "run" / "eval.json")) == results


def test_one_domain_data_for_cyclegan_and_two_domains_for_a_gan_are_user_errors(data_dir,
                                                                                tmp_path):
  config = tiny(data_dir)
  config.dataset.name = "digits"
  with pytest.raises(UserError, match=r"^dataset.name: CycleGAN needs a two-domain dataset"):
    trainer.train_and_evaluate(config, str(tmp_path / "a"), progress=False)
  gan = importlib.import_module("experiments.lsgan").get_config()
  gan.dataset.name, gan.dataset.data_dir, gan.dataset.resolution = "digits2styled", data_dir, 8
  gan.model.g_width = gan.model.d_width = 8
  gan.train.num_steps = 1
  with pytest.raises(UserError, match=r"^dataset.name: family 'gan' reads arrays \['x'\]"):
    trainer.train_and_evaluate(gan, str(tmp_path / "b"), progress=False)
  with pytest.raises(UserError, match=r"^dataset.split: 'digits2styled' has no split 'testC'"):
    load_dataset("digits2styled", split="testC", data_dir=data_dir)


@pytest.mark.parametrize("field, value, message", [
    ("dataset.resolution", 9, r"^dataset.resolution: the ResNet generator downsamples 1 times"),
    ("model.d_layers", 4, r"^model.d_layers: 4 stages leave no score map"),
    ("loss.pool_size", -1, r"^loss.pool_size: must be an integer >= 0"),
    ("optimizer.decay_start", 1.5, r"^optimizer.decay_start: must be in \[0, 1\]"),
])
def test_bad_config_names_the_field(field, value, message, data_dir):
  config = tiny(data_dir)
  section, name = field.split(".")
  config[section][name] = value
  with pytest.raises(UserError, match=message):
    families.check_config(config)


def test_four_devices_compute_the_one_device_steps(data_dir):
  """Two SGD steps (resident and streamed data) on 4 forced host devices = on 1 device,
  pools included (16 fakes pass an 8-slot pool: it fills, then swaps)."""
  import subprocess
  import sys
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = {**with_host_devices(4), "PYTHONPATH": root}
  result = subprocess.run([sys.executable, os.path.abspath(__file__), data_dir],
                          capture_output=True, text=True, env=env, cwd=root, timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  diffs = json.loads(result.stdout.strip().splitlines()[-1])
  assert set(diffs) == {"pmap resident", "shard_map streamed"}
  for case, d in diffs.items():
    assert d["moved"] > 1e-3, case
    assert d["step1"] < 1e-5, (case, d)  # one step: the same to float precision
    assert d["params"] < 2e-3 * d["moved"], (case, d)
    assert d["pools"] < 1e-4 and d["counts"] == [8, 8], (case, d)


def _equivalence_main(data_dir: str) -> None:
  """Run in a subprocess with 4 host devices: prints {case: max differences} as JSON."""
  from gans_jax.data.streaming import StreamedBatches
  from gans_jax.optim import optimizer_config

  def run(backend, devices, streamed):
    config = tiny(data_dir)
    # 16x16: the generator's bottleneck (one downsampling) is 8x8, so instance norm averages
    # 64 pixels rather than 16 (at 8x8), less float noise to amplify.
    config.dataset.resolution = 16
    config.train.batch_size, config.loss.pool_size = 8, 8
    config.parallel.backend = backend
    # A small SGD step. After one step the two runs agree to 1e-6; the second step's
    # generator gradient amplifies that float noise, the more the larger the first
    # step was (relative parameter difference after two steps: 28 % at lr 0.05, 2 % at
    # 0.01, so noise, not a different algorithm, which would not shrink with lr).
    config.optimizer.g = optimizer_config("sgd", 0.002)
    config.optimizer.d = optimizer_config("sgd", 0.002)
    dataset = load_dataset("digits2styled", data_dir=data_dir, resolution=16)
    fam, runner = trainer.make_runner(
        TrainSettings.from_config(config), lambda axis: cyclegan.CycleGAN(config, dataset, axis), resident=not streamed,
        devices=devices)
    state = fam.init_state(jax.random.PRNGKey(0))
    init = jax.device_get(state)
    pstate = runner.put_state(state)
    arrays = dataset.all()
    stream = StreamedBatches(dataset, 0, 8, fam.draws_per_step, keys=fam.data_keys)
    data = runner.put_data({"a": arrays["a"], "b": arrays["b"]})
    states = []
    for step in range(2):
      pstate, _ = runner.step(pstate, runner.put_data(stream(step)) if streamed else data,
                              jax.random.PRNGKey(1))
      states.append(jax.device_get(runner.get_state(pstate)))
    return init, states

  def max_diff(x, y):
    return max(float(np.max(np.abs(np.asarray(p) - np.asarray(q))))
               for p, q in zip(jax.tree.leaves(x), jax.tree.leaves(y)))

  out = {}
  devices = jax.local_devices()
  assert len(devices) == 4
  # One backend per data kind: the pools and pairing do not depend on the backend, which
  # tests/test_parallel.py covers with both kinds of data.
  for backend, streamed in (("pmap", False), ("shard_map", True)):
    init, (one1, one) = run(backend, devices[:1], streamed)
    _, (four1, four) = run(backend, devices, streamed)
    nets = lambda s: [getattr(s, n).params for n in cyclegan.NETWORKS]
    out[f"{backend} {'streamed' if streamed else 'resident'}"] = {
        "step1": max_diff(nets(one1), nets(four1)),
        "params": max_diff(nets(one), nets(four)), "moved": max_diff(nets(one), nets(init)),
        "pools": max_diff((one.pool_a, one.pool_b), (four.pool_a, four.pool_b)),
        "counts": [int(four.count_a), int(four.count_b)]}
  print(json.dumps(out))



def _one_domain(x: np.ndarray, split: str):
  return pipeline.Dataset(name="toy", kind="image", example_shape=x.shape[1:],
                          num_examples=len(x), num_classes=None, split=split, data_dir="",
                          resolution=None, reader=pipeline._ArrayReader({"x": x}))


def test_two_domains_of_different_sizes_pair_index_i_with_a_i_div_nb_and_b_i_mod_nb():
  a = np.arange(3, dtype=np.float32).reshape(3, 1, 1, 1)
  b = 10 + np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1)
  ds = pipeline._two_domains("toy", _one_domain(a, "trainA"), _one_domain(b, "trainB"))
  assert ds.num_examples == 15 and [d.num_examples for d in ds.domains] == [3, 5]
  batch = ds.get(np.arange(15))
  # Every (a, b) pair exactly once: a uniform index draws each domain uniformly, independently.
  pairs = {(float(x), float(y)) for x, y in zip(batch["a"].ravel(), batch["b"].ravel())}
  assert pairs == {(float(i), 10.0 + j) for i in range(3) for j in range(5)}
  np.testing.assert_array_equal(ds.get(np.array([7]))["a"].ravel(), [1.0])   # 7 // 5
  np.testing.assert_array_equal(ds.get(np.array([7]))["b"].ravel(), [12.0])  # 10 + 7 % 5
  whole = ds.all()
  np.testing.assert_array_equal(whole["a"], a)
  np.testing.assert_array_equal(whole["b"], b)
  # Resident data holds the 8 images, not the 15 pairs.
  settings = TrainSettings.from_config(base_config())
  fits = lambda images: trainer.resident_fits(
      dataclasses.replace(settings, max_resident_mb=images * 4 / 2**20), ds)
  assert fits(8) and not fits(7)


@pytest.mark.parametrize("shape_b, field", [((2, 2, 3), "dataset.name"),
                                            ((3, 3, 1), "dataset.resolution")])
def test_domains_of_different_shapes_are_a_user_error_naming_the_field(shape_b, field):
  a, b = np.zeros((2, 2, 2, 1), np.float32), np.zeros((2,) + shape_b, np.float32)
  with pytest.raises(UserError, match=rf"^{field}: the domains of 'toy' differ in shape: "
                     rf"trainA \(2, 2, 1\), trainB {re.escape(str(shape_b))}"):
    pipeline._two_domains("toy", _one_domain(a, "trainA"), _one_domain(b, "trainB"))


def test_a_prepared_tfds_cycle_gan_dataset_trains_by_name(tmp_path):
  """TFDS cycle_gan/horse2zebra under tfds.testing.mock_data (random images of varying size)."""
  from tensorflow_datasets.core.data_sources import base as tfds_base
  one_by_one = lambda self, keys: [self[k] for k in keys]  # see test_data.py: mock's __getitems__
  config = tiny(str(tmp_path / "tfds"), 2)
  config.dataset.name = "cycle_gan/horse2zebra"
  with tfds.testing.mock_data(num_examples=6), \
      mock.patch.object(tfds_base.BaseDataSource, "__getitems__", one_by_one):
    train = load_dataset(config.dataset.name, data_dir=config.dataset.data_dir, resolution=8)
    domain_b = load_dataset(config.dataset.name, split="trainB",
                            data_dir=config.dataset.data_dir, resolution=8)
    assert train.example_shape == (8, 8, 3) and train.num_examples == 36
    np.testing.assert_array_equal(train.get(np.array([13]))["b"], domain_b.get(np.array([1]))["x"])
    state = trainer.train_and_evaluate(config, str(tmp_path / "run"), progress=False)
    assert int(state.step) == 2
    results = evaluate.evaluate(config, str(tmp_path / "run"))
    # No domain classifiers for a catalog dataset: cycle errors only.
    assert set(results) == {"step", "cycle_error_a", "cycle_error_b"}
    assert all(np.isfinite(results[k]) for k in ("cycle_error_a", "cycle_error_b"))
    gan = importlib.import_module("experiments.lsgan").get_config()
    gan.dataset.name, gan.dataset.data_dir = config.dataset.name, config.dataset.data_dir
    gan.dataset.resolution = 8
    with pytest.raises(UserError, match=r"^dataset.name: family 'gan' reads arrays \['x'\]"):
      trainer.train_and_evaluate(gan, str(tmp_path / "gan"), progress=False)


@pytest.mark.parametrize("downsampling", [0, 1, 2])
def test_resnet_generator_blocks_run_at_one_2_to_the_d_th_of_the_side(downsampling):
  from gans_jax.nets.resnet import ResnetGenerator
  net = ResnetGenerator(channels=1, width=4, num_blocks=1, num_downsampling=downsampling)
  x = jnp.zeros((2, 8, 8, 1))
  params = net.init(jax.random.PRNGKey(0), x)["params"]
  block_input = jax.tree.leaves(params["ResidualBlock_0"]["Conv_0"]["kernel"])[0]
  assert block_input.shape == (3, 3, 4 * 2**downsampling, 4 * 2**downsampling)
  assert len([k for k in params if k.startswith("ConvTranspose")]) == downsampling
  # Each stride-2 stage halves the side: the blocks see 8 / 2^d.
  _, inter = net.apply({"params": params}, x, capture_intermediates=True)
  block_out = inter["intermediates"]["ResidualBlock_0"]["__call__"][0]
  assert block_out.shape == (2, 8 // 2**downsampling, 8 // 2**downsampling, 4 * 2**downsampling)
  assert net.apply({"params": params}, x).shape == x.shape


class TwoDomainsMissingB(builders._PackageBuilder, skip_registration=True):  # pylint: disable=protected-access
  """A prepared two-domain dataset whose trainB split is missing (PNG `Image` via PIL, no TF)."""

  VERSION = tfds.core.Version("1.0.0")

  def _info(self):
    return tfds.core.DatasetInfo(
        builder=self, features=tfds.features.FeaturesDict(
            {"image": tfds.features.Image(shape=(4, 4, 3))}), disable_shuffling=True)

  def _split_generators(self, dl_manager):
    return {split: self._generate_examples() for split in ("trainA", "testA", "testB")}

  def _generate_examples(self):
    for i in range(2):
      yield i, {"image": PILImage.fromarray(np.full((4, 4, 3), 40 * i, np.uint8))}


def test_a_two_domain_dataset_missing_a_split_names_it(tmp_path):
  TwoDomainsMissingB(data_dir=str(tmp_path), file_format="array_record").download_and_prepare()
  with pytest.raises(UserError, match=r"^dataset.split: 'two_domains_missing_b' has no split "
                     r"'trainB'; use one of \['testA', 'testB', 'trainA'\]"):
    load_dataset("two_domains_missing_b", data_dir=str(tmp_path))


if __name__ == "__main__":
  import sys
  _equivalence_main(sys.argv[1])
