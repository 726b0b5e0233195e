"""Salimans et al.'s improved techniques and PacGAN in the GAN family (nets.improved, families.techniques).

Expected values are NumPy formulas written here from the papers' definitions.
"""

import importlib
import importlib.util
import os

import chex
import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import families, trainer
from gans_jax.data import load_dataset
from gans_jax.errors import UserError
from gans_jax.families import gan
from gans_jax.nets import improved
from gans_jax.optim import optimizer_config


def _rng(seed):
  return np.random.default_rng(seed)


def np_minibatch_features(m):
  """o[i, b] = sum_j exp(-sum_c |M[i, b, c] - M[j, b, c]|), written as loops."""
  n, k, _ = m.shape
  o = np.zeros((n, k))
  for i in range(n):
    for b in range(k):
      o[i, b] = sum(np.exp(-np.abs(m[i, b] - m[j, b]).sum()) for j in range(n))
  return o


def test_minibatch_features_match_the_papers_sum_over_the_batch():
  m = _rng(0).normal(size=(6, 3, 4)).astype(np.float32) * 0.3
  np.testing.assert_allclose(improved.minibatch_features(jnp.asarray(m)),
                             np_minibatch_features(np.float64(m)), rtol=1e-5)


def test_minibatch_layer_appends_the_features_of_f_times_t():
  f = _rng(1).normal(size=(5, 7)).astype(np.float32)
  layer = improved.MinibatchDiscrimination(num_kernels=3, kernel_dim=2)
  params = layer.init(jax.random.PRNGKey(0), f)
  t = np.float64(params["params"]["T"])
  assert t.shape == (7, 6)
  out = np.asarray(layer.apply(params, f))
  m = (np.float64(f) @ t).reshape(5, 3, 2)
  np.testing.assert_allclose(out[:, :7], f)
  np.testing.assert_allclose(out[:, 7:], np_minibatch_features(m), rtol=1e-5)


def test_minibatch_features_over_a_device_axis_equal_one_device_values_and_gradients():
  """4 shards of 2 under a named axis (vmap runs the collectives as pmap would)."""
  f = jnp.asarray(_rng(2).normal(size=(8, 5)), jnp.float32)
  layer = improved.MinibatchDiscrimination(num_kernels=3, kernel_dim=2, axis_name="dev")
  params = layer.init(jax.random.PRNGKey(1), f, train=False)
  w = jnp.asarray(_rng(3).normal(size=(8, 8)), jnp.float32)  # a loss weight per output

  def loss(p, x, wx, axis):
    # The per-device mean loss; averaged over devices it is the global mean.
    out = layer.apply(p, x, train=axis is not None)
    return jnp.mean(jnp.sum(out * wx, -1))

  one = jax.jit(jax.value_and_grad(lambda p: loss(p, f, w, None)))(params)
  # One device: a layer without an axis compares the whole batch.
  one_layer = improved.MinibatchDiscrimination(num_kernels=3, kernel_dim=2)
  one_out = jax.jit(one_layer.apply)(params, f)

  def shard(p, x, wx):
    value, grads = jax.value_and_grad(loss)(p, x, wx, "dev")
    return layer.apply(p, x), jax.lax.pmean(value, "dev"), jax.lax.pmean(grads, "dev")

  out, value, grads = jax.jit(jax.vmap(shard, in_axes=(None, 0, 0), axis_name="dev"))(
      params, f.reshape(4, 2, 5), w.reshape(4, 2, 8))
  np.testing.assert_allclose(out.reshape(8, 8), one_out, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(value[0], one[0], rtol=1e-5)
  chex.assert_trees_all_close(jax.tree.map(lambda g: g[0], grads), one[1], rtol=1e-4,
                              atol=1e-6)


def np_virtual_batch_norm(h, r, eps=1e-5):
  """Per feature: reference stats, and per example (R * ref + own) / (R + 1) moments."""
  h = np.float64(h)
  spatial = tuple(range(1, h.ndim - 1))
  ref = h[:r]
  mu_r = ref.mean(axis=(0,) + spatial)
  sq_r = (ref ** 2).mean(axis=(0,) + spatial)
  out = [(ref - mu_r) / np.sqrt(sq_r - mu_r ** 2 + eps)]
  for x in h[r:]:
    own_mu = x.reshape(-1, x.shape[-1]).mean(0)
    own_sq = (x.reshape(-1, x.shape[-1]) ** 2).mean(0)
    mu = (r * mu_r + own_mu) / (r + 1)
    var = (r * sq_r + own_sq) / (r + 1) - mu ** 2
    out.append(((x - mu) / np.sqrt(var + eps))[None])
  return np.concatenate(out)


@pytest.mark.parametrize("shape", [(7, 3), (7, 4, 4, 3)], ids=["dense", "conv"])
def test_virtual_batch_norm_normalises_by_the_reference_batch_plus_the_example(shape):
  h = _rng(4).normal(size=shape).astype(np.float32) * 2 + 1
  layer = improved.VirtualBatchNorm(num_reference=4)
  params = layer.init(jax.random.PRNGKey(0), h)
  np.testing.assert_allclose(layer.apply(params, h), np_virtual_batch_norm(h, 4),
                             rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(6, 3), (6, 2, 2, 3)], ids=["vectors", "images"])
def test_pack_concatenates_m_consecutive_examples(shape):
  x = _rng(5).normal(size=shape).astype(np.float32)
  packed = np.asarray(improved.pack(jnp.asarray(x), 3))
  assert packed.shape == (2,) + shape[1:-1] + (3 * shape[-1],)
  c = shape[-1]
  for p in range(2):
    for k in range(3):
      np.testing.assert_array_equal(packed[p, ..., k * c:(k + 1) * c], x[3 * p + k])
  np.testing.assert_array_equal(improved.pack(jnp.asarray(x), 1), x)


# ----------------------------------------------------------------------------- the GAN family


def _config(name="gan_mlp", **model):
  config = importlib.import_module(f"experiments.{name}").get_config()
  config.train.batch_size = 8
  config.model.g_hidden = (16, 16)
  config.model.d_hidden = (16,)
  for k, v in model.items():
    config.model[k] = v
  return config


def test_packed_discriminator_sees_m_points_per_input_all_real_or_all_fake(data_dir):
  config = _config(pack=4)
  fam = gan.GAN(config, load_dataset("ring8", data_dir=data_dir))
  state = fam.init_state(jax.random.PRNGKey(0))
  # The maxout D's first layer reads 4 points of 2 coordinates.
  assert state.d.params["Dense_0"]["kernel"].shape[0] == 8
  real = jnp.asarray(_rng(6).normal(size=(8, 2)), jnp.float32)
  score = jax.jit(lambda x: fam.discriminator.apply({"params": state.d.params},
                                                    improved.pack(x, 4))[0])
  scores = score(real)
  assert scores.shape == (2,)
  # Pack 1 is examples 4..7: its score changes with example 5 and not with example 1.
  s5, s1 = score(real.at[5].add(1.0)), score(real.at[1].add(1.0))
  assert s5[0] == scores[0] and s5[1] != scores[1]
  assert s1[1] == scores[1] and s1[0] != scores[0]


def test_vbn_generator_samples_do_not_depend_on_their_batch_and_keep_the_reference(data_dir):
  config = _config(vbn_reference=5)
  fam = gan.GAN(config, load_dataset("ring8", data_dir=data_dir))
  state = fam.init_state(jax.random.PRNGKey(0))
  z_ref = state.g.batch_stats["vbn_reference_z"]
  assert z_ref.shape == (5, 2) and "BatchNorm_0" not in state.g.params
  z = jax.random.normal(jax.random.PRNGKey(1), (6, 2))
  generate = jax.jit(fam.generate)
  np.testing.assert_allclose(generate(state, z)[:2], generate(state, z[:2]), atol=1e-6)


def test_historical_averaging_keeps_the_mean_of_the_parameter_trajectory(data_dir):
  config = _config(vbn_reference=5)  # and the VBN reference batch stays as drawn
  config.loss.historical_averaging = 0.5
  config.optimizer.g = optimizer_config("sgd", 0.05)
  config.optimizer.d = optimizer_config("sgd", 0.05)
  fam = gan.GAN(config, load_dataset("ring8", data_dir=data_dir))
  state = fam.init_state(jax.random.PRNGKey(0))
  z_ref = state.g.batch_stats["vbn_reference_z"]
  step = jax.jit(fam.step_fn(resident=True))
  data = {"x": jnp.asarray(_rng(7).normal(size=(32, 2)), jnp.float32)}
  flat = lambda p: np.concatenate([np.float64(x).ravel() for x in jax.tree.leaves(p)])
  trajectory = {"g": [flat(state.g.params)], "d": [flat(state.d.params)]}
  for _ in range(3):
    state, metrics = step(state, data, jax.random.PRNGKey(1))
    expected_penalty = {k: 0.5 * np.sum((trajectory[k][-1] - np.mean(trajectory[k], 0)) ** 2)
                        for k in ("d",)}
    trajectory["g"].append(flat(state.g.params))
    trajectory["d"].append(flat(state.d.params))
  # The D penalty of step 3 is at theta_2 against mean(theta_0..theta_2) (the
  # parameters before that update); with SGD it is > 0 once the params moved.
  np.testing.assert_allclose(metrics["d_historical"], expected_penalty["d"], rtol=1e-4)
  assert expected_penalty["d"] > 0
  np.testing.assert_array_equal(state.g.batch_stats["vbn_reference_z"], z_ref)
  for k in ("g", "d"):
    assert int(state.history[k]["count"]) == 4
    np.testing.assert_allclose(flat(state.history[k]["mean"]), np.mean(trajectory[k], 0),
                               rtol=1e-5, atol=1e-7)


def test_techniques_train_and_resume_exactly(data_dir, tmp_path):
  def config(steps):
    c = _config(minibatch_kernels=3, vbn_reference=4, pack=2, d_activation="leaky_relu")
    c.loss.historical_averaging = 0.1
    c.dataset.data_dir = data_dir
    c.train.num_steps = steps
    c.log_every = c.sample_every = c.checkpoint_every = 2
    c.num_sample_points = 16
    return c

  full = trainer.train_and_evaluate(config(4), str(tmp_path / "full"), progress=False)
  trainer.train_and_evaluate(config(2), str(tmp_path / "resumed"), progress=False)
  resumed = trainer.train_and_evaluate(config(4), str(tmp_path / "resumed"), progress=False)
  assert int(resumed.history["d"]["count"]) == 5
  chex.assert_trees_all_equal(flax.serialization.to_state_dict(jax.device_get(resumed)),
                              flax.serialization.to_state_dict(jax.device_get(full)))


@pytest.mark.parametrize("fields, message", [
    (dict(minibatch_kernels=4, loss_gp_weight=10.0),
     r"^model\.minibatch_kernels: makes a score depend on the whole batch"),
    (dict(minibatch_kernels=-1), r"^model\.minibatch_kernels: must be >= 0"),
    (dict(vbn_reference=8, g_batch_norm=False),
     r"^model\.vbn_reference: replaces the generator's BatchNorm"),
    (dict(pack=3), r"^model\.pack: train\.batch_size 8 is not divisible into packs of 3"),
    (dict(pack=0), r"^model\.pack: must be an integer >= 1"),
    (dict(loss_historical_averaging=-1.0), r"^loss\.historical_averaging: must be >= 0"),
])
def test_each_technique_that_does_not_apply_is_one_error_naming_its_field(fields, message):
  config = _config()
  for k, v in fields.items():
    if k.startswith("loss_"):
      config.loss[k[5:]] = v
    else:
      config.model[k] = v
  with pytest.raises(UserError, match=message):
    families.check_config(config)


@pytest.mark.parametrize("field", ["minibatch_kernels", "vbn_reference", "pack"])
def test_techniques_refuse_conditional_networks(field):
  config = _config("cgan_digits", **{field: 2})
  with pytest.raises(UserError, match=rf"^model\.{field}: .*model\.conditional='none'"):
    families.check_config(config)


def test_pack_must_divide_every_devices_share_of_the_batch():
  config = _config(pack=4)
  families.check_config(config, num_devices=2)
  with pytest.raises(UserError, match=r"^model\.pack: .* on each of the 4 devices"):
    families.check_config(config, num_devices=4)


def test_every_mode_coverage_row_is_a_valid_config_and_technique_rows_change_one_thing():
  path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks", "mode_coverage.py")
  spec = importlib.util.spec_from_file_location("mode_coverage_benchmark", path)
  bench = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(bench)
  base_row = bench.make_config("ring8", "non_saturating", 10, 2, 0, 5).to_dict()
  for name in bench.ROWS:
    config = bench.make_config("ring8", name, 10, 2, 0, 5)  # runs check_config
    if name in bench.TECHNIQUES:
      changed = {f"{s}.{k}" for s in ("model", "loss", "train")
                 for k, v in config[s].items() if base_row[s][k] != v}
      assert changed - {"train.batch_size"}, name
      assert len(changed - {"train.batch_size"}) <= 2, (name, changed)
  tuned = bench.make_config("grid25", "pacgan2_tuned", 100, 2, 0, 5)
  assert (tuned.model.pack, tuned.train.batch_size, tuned.model.g_batch_norm) == (2, 200, False)
  assert tuned.ema.decay == 0.999
  for player in ("g", "d"):
    opt = tuned.optimizer[player]
    assert (opt.name, opt.learning_rate, opt.b1, opt.schedule, opt.final_scale) == (
        "adam", 1e-3, 0.5, "linear", 0.0)


def test_mode_coverage_seed_groups_cover_every_seed_once_in_order():
  path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks", "mode_coverage.py")
  spec = importlib.util.spec_from_file_location("mode_coverage_benchmark", path)
  bench = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(bench)
  assert bench.seed_groups(0, 10, 2) == [(0, 2), (2, 2), (4, 2), (6, 2), (8, 2)]
  assert bench.seed_groups(3, 5, 2) == [(3, 2), (5, 2), (7, 1)]
  assert bench.seed_groups(0, 3, 10) == [(0, 3)]
  # The method rows train for their own per-dataset schedule unless --method_steps is given.
  args = type("Args", (), {"steps": 0, "method_steps": 0})()  # the defaults
  assert bench.row_steps("grid25", "non_saturating", args) == bench.DEFAULT_STEPS == 600
  assert bench.row_steps("grid25", "pacgan2_tuned", args) == 32_000
  assert bench.row_steps("ring8", "pacgan2_tuned", args) == 12_000
  args.steps = 40  # an explicit --steps shortens the method rows too
  assert bench.row_steps("ring8", "pacgan2_tuned", args) == 40
  args.method_steps = 50
  assert bench.row_steps("ring8", "pacgan2_tuned", args) == 50
  assert bench.row_steps("ring8", "pacgan3", args) == 40


def test_dcgan_nets_take_the_techniques(data_dir):
  config = _config("dcgan", minibatch_kernels=3, vbn_reference=4, pack=2, g_width=8, d_width=8,
                   conv_impl="xla")
  config.dataset.resolution = 8
  fam = gan.GAN(config, load_dataset("digits", data_dir=data_dir, resolution=8))
  state = fam.init_state(jax.random.PRNGKey(0))
  # D reads 2 packed images (2 channels); its one stage gives 8 x 4 x 4 features for T.
  assert state.d.params["Conv_0"]["kernel"].shape == (4, 4, 2, 8)
  assert state.d.params["MinibatchDiscrimination_0"]["T"].shape == (8 * 4 * 4, 15)
  assert "BatchNorm_0" not in state.g.params and "VirtualBatchNorm_0" in state.g.params
  z = jax.random.normal(jax.random.PRNGKey(1), (5, config.model.z_dim))
  np.testing.assert_allclose(fam.generate(state, z)[:2], fam.generate(state, z[:2]), atol=1e-5)
