"""Tests for gans_jax.nets.encoder: shapes, the shared DCGAN trunk, conv forms,
BatchNorm modes, and the reparameterised sampler's distribution.

Expected values come from independent NumPy/SciPy computations or from the
DCGAN discriminator (a separately tested module), never from earlier outputs.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from gans_jax import nets
from gans_jax.nets import dcgan
from gans_jax.nets import encoder


def _images(shape, seed=0):
  return jax.random.uniform(jax.random.PRNGKey(seed), shape, minval=-1.0, maxval=1.0)


@functools.lru_cache(maxsize=None)
def _init(resolution, channels, norm, z_dim=3):
  """Encoder variables, made once per configuration: compiling an init costs
  seconds, and the parameters do not depend on conv_impl or axis_name."""
  enc = encoder.DCGANEncoder(resolution=resolution, z_dim=z_dim, width=8, norm=norm,
                             conv_impl="xla")
  x = jnp.zeros((2, resolution, resolution, channels))
  return jax.jit(functools.partial(enc.init, train=False))(jax.random.PRNGKey(1), x)


@pytest.mark.parametrize("resolution,channels,norm", [(16, 1, "batch"), (16, 3, "layer"),
                                                      (8, 3, "none")])
def test_dcgan_encoder_is_the_discriminator_trunk_with_two_linear_heads(
    resolution, channels, norm):
  """Shapes, finiteness, and: with the encoder's trunk parameters, DCGANDiscriminator
  yields the features from which mean and log_var are the two affine heads."""
  # One conv form (the cheapest to compile); the forms' equality is tested below.
  enc = encoder.DCGANEncoder(resolution=resolution, z_dim=3, width=8, norm=norm, conv_impl="xla")
  disc = nets.DCGANDiscriminator(resolution=resolution, width=8, norm=norm, conv_impl="xla")
  x = _images((3, resolution, resolution, channels))
  v = _init(resolution, channels, norm)
  trunk = {k: p for k, p in v["params"].items() if k not in ("mean", "log_var")}
  # The discriminator's variables are the trunk's plus its score layer, Dense_0.
  d_shapes = jax.eval_shape(functools.partial(disc.init, train=False), jax.random.PRNGKey(2), x)
  assert set(d_shapes["params"]) == set(trunk) | {"Dense_0"}
  chex.assert_trees_all_equal_shapes(
      {k: p for k, p in d_shapes["params"].items() if k != "Dense_0"}, trunk)
  num_features = d_shapes["params"]["Dense_0"]["kernel"].shape[0]
  assert num_features == 4 * 4 * 8 * 2 ** (dcgan.num_stages(resolution) - 1)
  dv = {**v, "params": {**trunk, "Dense_0": {"kernel": jnp.zeros((num_features, 1)),
                                             "bias": jnp.zeros((1,))}}}

  @jax.jit  # one program: eagerly every op compiles on its own
  def run(x):
    (mean, log_var), _ = enc.apply(v, x, train=True, mutable=["batch_stats"])
    (_, features), _ = disc.apply(dv, x, train=True, mutable=["batch_stats"])
    return mean, log_var, features

  mean, log_var, features = run(x)
  chex.assert_shape([mean, log_var], (3, 3))
  chex.assert_tree_all_finite((mean, log_var))
  has_norm = norm != "none" and resolution > 8  # none on the first (only, at 8x8) conv
  assert ("batch_stats" in v) == (has_norm and norm == "batch")
  assert ("LayerNorm_0" in v["params"]) == (has_norm and norm == "layer")
  f = np.asarray(features, np.float64)
  for head, out in (("mean", mean), ("log_var", log_var)):
    p = v["params"][head]
    np.testing.assert_allclose(out, f @ np.float64(p["kernel"]) + np.float64(p["bias"]),
                               rtol=1e-4, atol=1e-5)


def test_dcgan_encoder_conv_impls_give_the_same_function():
  x = _images((2, 16, 16, 1), seed=3)
  v = _init(16, 1, "batch")
  encs = {impl: encoder.DCGANEncoder(resolution=16, z_dim=3, width=8, norm="batch",
                                     conv_impl=impl) for impl in dcgan.CONV_IMPLS}

  @functools.partial(jax.jit, static_argnums=0)
  def run(impl, x):
    enc = encs[impl]
    return enc.apply(v, x, train=False), enc.apply(v, x, train=True, mutable=["batch_stats"])

  ref = run("xla", x)
  for impl in ("gemm", "winograd"):
    # The same parameter tree (names, shapes) from every form's init.
    shapes = jax.eval_shape(functools.partial(encs[impl].init, train=False),
                            jax.random.PRNGKey(1), x)
    chex.assert_trees_all_equal_shapes(shapes, v)
    chex.assert_trees_all_close(run(impl, x), ref, atol=1e-5)


def test_batchnorm_uses_batch_statistics_in_training_and_running_averages_in_eval():
  enc = encoder.DCGANEncoder(resolution=16, z_dim=3, width=8, norm="batch")
  x = _images((4, 16, 16, 1), seed=5)
  x_other = x.at[1:].set(_images((3, 16, 16, 1), seed=6))  # example 0 unchanged
  v = _init(16, 1, "batch")
  # Running averages moved away from their (0, 1) initial values.
  shifted = jax.tree.map(lambda s: s + 0.5, v["batch_stats"])
  v_shifted = {**v, "batch_stats": shifted}

  @jax.jit
  def run(v, x):
    (train_out, _), updates = enc.apply(v, x, train=True, mutable=["batch_stats"])
    eval_out, _ = enc.apply(v, x, train=False)
    return train_out, updates["batch_stats"], eval_out

  train_a, stats_a, eval_a = run(v, x)
  train_b, _, eval_b = run(v, x_other)
  train_s, stats_s, eval_s = run(v_shifted, x)
  # Eval: per example (example 0 ignores the rest of the batch) and driven by the
  # running averages.
  np.testing.assert_allclose(eval_a[0], eval_b[0], rtol=1e-6, atol=1e-6)
  assert np.max(np.abs(eval_s - eval_a)) > 1e-3
  # Train: example 0 depends on the rest of the batch, not on the running averages,
  # and the averages move by momentum 0.9 towards the batch's statistics.
  assert np.max(np.abs(train_a[0] - train_b[0])) > 1e-3
  np.testing.assert_allclose(train_s, train_a, rtol=1e-6, atol=1e-6)
  chex.assert_trees_all_close(
      jax.tree.map(lambda new, old: new - 0.9 * old, stats_s, shifted),
      jax.tree.map(lambda new, old: new - 0.9 * old, stats_a, v["batch_stats"]), atol=1e-5)
  assert np.max(np.abs(stats_a["BatchNorm_0"]["mean"])) > 1e-4


def test_axis_name_pools_batchnorm_statistics_across_replicas():
  """Two replicas of 3 examples with axis_name equal one batch of 6 without it."""
  pooled = encoder.DCGANEncoder(resolution=16, z_dim=3, width=8, axis_name="replica")
  single = encoder.DCGANEncoder(resolution=16, z_dim=3, width=8)
  x = _images((6, 16, 16, 1), seed=8)
  v = _init(16, 1, "batch")

  @jax.jit
  def run(x):
    (m, lv), upd = single.apply(v, x, train=True, mutable=["batch_stats"])
    per_replica = jax.vmap(
        lambda xr: pooled.apply(v, xr, train=True, mutable=["batch_stats"]),
        axis_name="replica")
    (mr, lvr), updr = per_replica(x.reshape(2, 3, 16, 16, 1))
    return (m, lv, upd), (mr.reshape(6, 3), lvr.reshape(6, 3), jax.tree.map(lambda a: a[0], updr))

  whole, replicated = run(x)
  chex.assert_trees_all_close(replicated, whole, atol=1e-5)
  # Not vacuous: the halves' own statistics would give other outputs.
  (m_half, _), _ = jax.jit(lambda xr: single.apply(v, xr, train=True, mutable=["batch_stats"]))(
      x[:3])
  assert np.max(np.abs(m_half - whole[0][:3])) > 1e-3


def test_encoders_reject_unknown_options():
  x = jnp.zeros((1, 8, 8, 1))
  for kwargs in ({"norm": "group"}, {"conv_impl": "fft"}, {"resolution": 12}):
    with pytest.raises(ValueError):
      jax.eval_shape(lambda x, kw=kwargs: encoder.DCGANEncoder(**{"resolution": 8, **kw}).init(
          jax.random.PRNGKey(0), x), x)
  with pytest.raises(ValueError, match="16x16"):
    jax.eval_shape(lambda x: encoder.DCGANEncoder(resolution=16).init(jax.random.PRNGKey(0), x), x)
  with pytest.raises(ValueError):
    encoder.MLPEncoder(z_dim=2, activation="maxout").init(jax.random.PRNGKey(0), jnp.zeros((1, 2)))


@pytest.mark.parametrize("activation", encoder.ACTIVATIONS)
def test_mlp_encoder_matches_numpy_forward_pass(activation):
  enc = encoder.MLPEncoder(z_dim=2, hidden=(16, 8), activation=activation)
  x = _images((5, 4, 4, 1), seed=10)  # flattened to 16 inputs
  v = enc.init(jax.random.PRNGKey(11), x)
  mean, log_var = enc.apply(v, x)
  chex.assert_shape([mean, log_var], (5, 2))
  act = {"relu": lambda h: np.maximum(h, 0.0), "tanh": np.tanh,
         "leaky_relu": lambda h: np.where(h > 0, h, 0.2 * h)}[activation]
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), v["params"])
  h = np.asarray(x, np.float64).reshape(5, 16)
  for name in ("Dense_0", "Dense_1"):
    h = act(h @ p[name]["kernel"] + p[name]["bias"])
  np.testing.assert_allclose(mean, h @ p["mean"]["kernel"] + p["mean"]["bias"], rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_allclose(log_var, h @ p["log_var"]["kernel"] + p["log_var"]["bias"],
                             rtol=1e-5, atol=1e-6)


def test_reparameterize_draws_from_the_diagonal_gaussian():
  mean = jnp.array([[0.0, 2.0, -1.5], [10.0, -3.0, 0.5]])
  log_var = jnp.array([[0.0, -2.0, 1.5], [np.log(4.0), -6.0, 0.3]])
  n = 20_000
  z = np.asarray(jax.jit(functools.partial(encoder.reparameterize, num_samples=n))(
      jax.random.PRNGKey(12), mean, log_var), np.float64)
  assert z.shape == (n, 2, 3)
  var = np.exp(np.float64(log_var))
  # Sample mean within 4 standard errors; sample variance within 4 of its
  # standard errors (sqrt(2 / n) relative, for a Gaussian).
  np.testing.assert_array_less(np.abs(z.mean(0) - mean), 4 * np.sqrt(var / n))
  np.testing.assert_array_less(np.abs(z.var(0) / var - 1.0), 4 * np.sqrt(2.0 / n))
  # Each coordinate standardised is N(0, 1), and coordinates are uncorrelated.
  std = (z - np.float64(mean)) / np.sqrt(var)
  assert stats.kstest(std.reshape(n, -1)[:, 0], "norm").pvalue > 1e-3
  assert stats.kstest(std.reshape(n, -1)[:, 4], "norm").pvalue > 1e-3
  corr = np.corrcoef(std.reshape(n, -1), rowvar=False)
  np.testing.assert_allclose(corr, np.eye(6), atol=4 / np.sqrt(n))


def test_reparameterize_is_deterministic_per_key_and_pathwise_differentiable():
  mean, log_var = jnp.array([[0.5, -1.0]]), jnp.array([[0.2, -0.7]])
  key = jax.random.PRNGKey(13)
  z = encoder.reparameterize(key, mean, log_var)
  assert z.shape == (1, 2)
  np.testing.assert_array_equal(z, encoder.reparameterize(key, mean, log_var))
  assert np.max(np.abs(z - encoder.reparameterize(jax.random.PRNGKey(14), mean, log_var))) > 0
  # z = mean + exp(v / 2) eps: dz/dmean = 1, dz/dv = (z - mean) / 2.
  g_mean, g_lv = jax.grad(lambda m, lv: jnp.sum(encoder.reparameterize(key, m, lv)),
                          argnums=(0, 1))(mean, log_var)
  np.testing.assert_allclose(g_mean, np.ones((1, 2)))
  np.testing.assert_allclose(g_lv, 0.5 * (np.asarray(z) - np.asarray(mean)), rtol=1e-6)
