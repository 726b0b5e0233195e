"""Tests for gans_jax.nets.conditional.

The label plumbing is checked against an independent construction: the one-hot
inputs are built here in NumPy and fed to the unconditional DCGAN modules with
the same parameters, and the projection term is recomputed in NumPy from the
returned features and the embedding table.
"""

import chex
import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.nets.conditional import (ConcatDCGANDiscriminator, ConditionalDCGANGenerator,
                                       ProjectionDCGANDiscriminator)
from gans_jax.nets.dcgan import DCGANDiscriminator, DCGANGenerator, num_stages

K = 3  # classes
Z = 5  # latent width
WIDTH = 4


def _variables(module, *args, seed=0):
  """The variables `module.init(key, *args, train=False)` would make, drawn in NumPy.

  The tree comes from `jax.eval_shape` of `init` (so its structure is Flax's);
  the values are fixed by the seed: kernels N(0, 1/fan_in), embeddings N(0, 1),
  biases N(0, 0.1^2), BatchNorm scale 1 + N(0, 0.1^2), running mean 0 and
  variance 1. Cheaper than `init`, whose RNG compiles once per
  parameter shape (seconds each on a shared CPU).
  """
  shapes = jax.eval_shape(lambda *a: module.init(jax.random.PRNGKey(0), *a, train=False), *args)
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    name, shape = path[-1].key, leaf.shape
    if name == "kernel":
      value = rng.normal(size=shape) / np.sqrt(np.prod(shape[:-1]))
    elif name == "embedding":
      value = rng.normal(size=shape)
    elif name == "scale":
      value = 1.0 + 0.1 * rng.normal(size=shape)
    elif name == "var":
      value = np.ones(shape)
    elif name == "mean":
      value = np.zeros(shape)
    else:
      value = 0.1 * rng.normal(size=shape)
    return jnp.asarray(value, leaf.dtype)

  return jax.tree_util.tree_map_with_path(draw, shapes)


def _latents(batch, seed=0):
  return jnp.asarray(np.random.default_rng(seed).normal(size=(batch, Z)).astype(np.float32))


def _images(batch, resolution, channels, seed=0):
  return jnp.asarray(np.random.default_rng(seed).uniform(
      -1, 1, (batch, resolution, resolution, channels)).astype(np.float32))


def _discriminator(style, resolution, norm):
  cls = {"concat": ConcatDCGANDiscriminator, "projection": ProjectionDCGANDiscriminator}[style]
  return cls(resolution=resolution, width=WIDTH, norm=norm, num_classes=K)


# Shapes are checked abstractly (jax.eval_shape: no compilation, no FLOPs), for
# training mode with BatchNorm statistics updated; the numeric tests below run
# the networks for real.
@pytest.mark.parametrize("resolution", [8, 16])
def test_generator_shapes(resolution):
  g = ConditionalDCGANGenerator(resolution=resolution, channels=2, width=WIDTH, num_classes=K)
  z = jax.ShapeDtypeStruct((4, Z), jnp.float32)
  labels = jax.ShapeDtypeStruct((4,), jnp.int32)
  v = jax.eval_shape(lambda z, y: g.init(jax.random.PRNGKey(1), z, y, train=False), z, labels)
  x, _ = jax.eval_shape(lambda v, z, y: g.apply(v, z, y, train=True, mutable=["batch_stats"]),
                        v, z, labels)
  chex.assert_shape(x, (4, resolution, resolution, 2))
  assert x.dtype == jnp.float32
  # The DCGAN generator's first Dense takes [z, onehot(y)].
  chex.assert_shape(v["params"]["dcgan"]["Dense_0"]["kernel"], (Z + K, None))


@pytest.mark.parametrize("resolution", [8, 16])
@pytest.mark.parametrize("style", ["concat", "projection"])
@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_discriminator_shapes(style, resolution, norm):
  d = _discriminator(style, resolution, norm)
  x = jax.ShapeDtypeStruct((3, resolution, resolution, 1), jnp.float32)
  labels = jax.ShapeDtypeStruct((3,), jnp.int32)
  v = jax.eval_shape(lambda x, y: d.init(jax.random.PRNGKey(0), x, y, train=False), x, labels)
  # DCGAN normalises every stage but the first, and 8x8 has only one stage.
  assert ("batch_stats" in v) == (norm == "batch" and resolution > 8)
  (scores, features), _ = jax.eval_shape(
      lambda v, x, y: d.apply(v, x, y, train=True, mutable=["batch_stats"]), v, x, labels)
  chex.assert_shape(scores, (3,))
  chex.assert_shape(features, (3, 4 * 4 * WIDTH * 2 ** (num_stages(resolution) - 1)))


def test_generator_runs_in_train_mode_with_tanh_range():
  g = ConditionalDCGANGenerator(resolution=8, channels=1, width=WIDTH, num_classes=K)
  z = 3.0 * _latents(4)
  labels = jnp.array([0, 1, 2, 1], jnp.int32)
  v = _variables(g, z, labels)
  x, updates = g.apply(v, z, labels, train=True, mutable=["batch_stats"])
  chex.assert_tree_all_finite(x)
  assert float(jnp.max(jnp.abs(x))) <= 1.0
  assert set(updates["batch_stats"]) == {"dcgan"}


def test_generator_equals_dcgan_on_z_concatenated_with_numpy_one_hot():
  g = ConditionalDCGANGenerator(resolution=8, channels=1, width=WIDTH, num_classes=K)
  z = np.random.default_rng(0).normal(size=(4, Z)).astype(np.float32)
  labels = np.array([2, 0, 1, 2], np.int32)
  v = _variables(g, z, labels)
  onehot = np.zeros((4, K), np.float32)
  onehot[np.arange(4), labels] = 1.0
  inner = {col: tree["dcgan"] for col, tree in v.items()}
  expected = DCGANGenerator(resolution=8, channels=1, width=WIDTH).apply(
      inner, np.concatenate([z, onehot], axis=1), train=False)
  np.testing.assert_allclose(g.apply(v, z, labels, train=False), expected, rtol=1e-6, atol=1e-6)


def test_generator_output_depends_on_label():
  g = ConditionalDCGANGenerator(resolution=8, channels=1, width=WIDTH, num_classes=K)
  z = jnp.ones((2, Z))
  v = _variables(g, z, jnp.zeros(2, jnp.int32))
  a = g.apply(v, z, jnp.array([0, 1], jnp.int32), train=False)
  assert float(jnp.max(jnp.abs(a[0] - a[1]))) > 1e-4


@pytest.mark.parametrize("channels", [1, 3])
def test_concat_first_conv_has_image_plus_class_input_channels(channels):
  d = _discriminator("concat", 16, "batch")
  x = jax.ShapeDtypeStruct((2, 16, 16, channels), jnp.float32)
  v = jax.eval_shape(lambda x, y: d.init(jax.random.PRNGKey(0), x, y, train=False), x,
                     jax.ShapeDtypeStruct((2,), jnp.int32))
  chex.assert_shape(v["params"]["dcgan"]["Conv_0"]["kernel"], (4, 4, channels + K, WIDTH))


@pytest.mark.parametrize("norm,resolution", [("batch", 16), ("none", 8)])
def test_concat_equals_dcgan_on_numpy_one_hot_channels(norm, resolution):
  """Channel C + y is all ones over space, the other class channels all zeros."""
  d = _discriminator("concat", resolution, norm)
  x = np.asarray(_images(4, resolution, 2))
  labels = np.array([1, 0, 2, 1], np.int32)
  v = _variables(d, x, labels)
  maps = np.zeros((4, resolution, resolution, K), np.float32)
  for i, y in enumerate(labels):
    maps[i, :, :, y] = 1.0
  inner = {col: tree["dcgan"] for col, tree in v.items()}
  exp_scores, exp_features = DCGANDiscriminator(resolution=resolution, width=WIDTH,
                                                norm=norm).apply(
      inner, np.concatenate([x, maps], axis=-1), train=False)
  scores, features = d.apply(v, x, labels, train=False)
  np.testing.assert_allclose(scores, exp_scores, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(features, exp_features, rtol=1e-5, atol=1e-6)


def _projection_setup(norm="none", batch=6, resolution=8):
  d = _discriminator("projection", resolution, norm)
  x = _images(batch, resolution, 1, seed=3)
  labels = jnp.array([0, 1, 2, 0, 1, 2][:batch], jnp.int32)
  v = _variables(d, x, labels, seed=4)
  return d, x, labels, v


def test_projection_features_do_not_see_the_label():
  d, x, labels, v = _projection_setup()
  _, f1 = d.apply(v, x, labels, train=False)
  _, f2 = d.apply(v, x, (labels + 1) % K, train=False)
  np.testing.assert_array_equal(f1, f2)


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_projection_score_difference_is_embedding_difference_dot_features(norm):
  """D(x, y1) - D(x, y2) = <e_y1 - e_y2, phi(x)>: psi(phi(x)) cancels."""
  d, x, labels, v = _projection_setup(norm)
  y1, y2 = labels, (labels + 1) % K
  s1, features = d.apply(v, x, y1, train=False)
  s2, _ = d.apply(v, x, y2, train=False)
  table = np.asarray(v["params"]["embed"]["embedding"], np.float64)
  chex.assert_shape(table, (K, features.shape[-1]))
  phi = np.asarray(features, np.float64)
  expected = np.einsum("bf,bf->b", table[np.asarray(y1)] - table[np.asarray(y2)], phi)
  np.testing.assert_allclose(np.asarray(s1) - np.asarray(s2), expected, rtol=1e-4, atol=1e-4)


def test_projection_score_is_trunk_score_plus_numpy_projection():
  d, x, labels, v = _projection_setup()
  scores, features = d.apply(v, x, labels, train=False)
  trunk_scores, trunk_features = DCGANDiscriminator(resolution=8, width=WIDTH, norm="none").apply(
      {"params": v["params"]["dcgan"]}, x, train=False)
  np.testing.assert_array_equal(features, trunk_features)
  table = np.asarray(v["params"]["embed"]["embedding"], np.float64)
  expected = np.asarray(trunk_scores, np.float64) + np.einsum(
      "bf,bf->b", table[np.asarray(labels)], np.asarray(features, np.float64))
  np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)


def test_changing_one_class_embedding_changes_only_that_class_scores():
  d, x, labels, v = _projection_setup()
  y = 1
  delta = np.random.default_rng(5).normal(size=v["params"]["embed"]["embedding"].shape[1])
  params = flax.core.unfreeze(jax.tree.map(np.array, v["params"]))
  params["embed"]["embedding"][y] += delta.astype(np.float32)
  before, features = d.apply(v, x, labels, train=False)
  after, features_after = d.apply({"params": params}, x, labels, train=False)
  np.testing.assert_array_equal(features, features_after)  # the trunk is untouched
  is_y = np.asarray(labels) == y
  np.testing.assert_array_equal(np.asarray(after)[~is_y], np.asarray(before)[~is_y])
  expected = np.asarray(features, np.float64)[is_y] @ delta
  np.testing.assert_allclose(np.asarray(after - before)[is_y], expected, rtol=1e-4, atol=1e-4)
  assert np.all(np.abs(expected) > 1e-3)  # the change is real, not a vacuous pass


@pytest.mark.parametrize("style", ["concat", "projection"])
def test_scores_are_per_example_without_batchnorm(style):
  d = _discriminator(style, 8, "layer")
  x = _images(4, 8, 1)
  labels = jnp.array([0, 1, 2, 0], jnp.int32)
  v = _variables(d, x, labels, seed=1)
  assert "batch_stats" not in v
  full, _ = d.apply(v, x, labels)
  single = jnp.concatenate([d.apply(v, x[i:i + 1], labels[i:i + 1])[0] for i in range(4)])
  np.testing.assert_allclose(full, single, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("style", ["concat", "projection"])
def test_discriminator_rejects_mismatched_or_float_labels(style):
  d = _discriminator(style, 8, "none")
  x = _images(2, 8, 1)
  with pytest.raises(AssertionError):
    _variables(d, x, jnp.zeros(3, jnp.int32))
  with pytest.raises(AssertionError):
    _variables(d, x, jnp.zeros(2, jnp.float32))


def test_axis_name_batchnorm_over_replicas_equals_full_batch():
  """Train-mode BatchNorm with `axis_name` averages its statistics across the mapped
  axis, so two replicas of half a batch compute what one device does on the whole."""
  z = _latents(8)
  labels = jnp.array([0, 1, 2, 0, 1, 2, 0, 1], jnp.int32)
  split = lambda a: a.reshape((2, 4) + a.shape[1:])
  merge = lambda a: a.reshape((8,) + a.shape[2:])

  kwargs = dict(resolution=8, channels=1, width=WIDTH, num_classes=K)
  g, g_mapped = ConditionalDCGANGenerator(**kwargs), ConditionalDCGANGenerator(**kwargs, axis_name="r")
  gv = _variables(g, z, labels, seed=1)
  x, _ = g.apply(gv, z, labels, train=True, mutable=["batch_stats"])
  # Compiled: vmap dispatched op by op is slow, and the property is not about dispatch.
  x_mapped = jax.jit(jax.vmap(
      lambda z, y: g_mapped.apply(gv, z, y, train=True, mutable=["batch_stats"])[0],
      axis_name="r"))(split(z), split(labels))
  np.testing.assert_allclose(merge(x_mapped), x, rtol=1e-4, atol=1e-5)

  kwargs = dict(resolution=16, width=WIDTH, norm="batch", num_classes=K)
  d = ProjectionDCGANDiscriminator(**kwargs)
  d_mapped = ProjectionDCGANDiscriminator(**kwargs, axis_name="r")
  images = _images(8, 16, 1)
  dv = _variables(d, images, labels, seed=2)
  scores = d.apply(dv, images, labels, train=True, mutable=["batch_stats"])[0][0]
  scores_mapped = jax.jit(jax.vmap(
      lambda x, y: d_mapped.apply(dv, x, y, train=True, mutable=["batch_stats"])[0][0],
      axis_name="r"))(split(images), split(labels))
  np.testing.assert_allclose(merge(scores_mapped), scores, rtol=1e-4, atol=1e-4)
