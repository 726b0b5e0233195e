"""Shapes, output ranges and the per-example property of the networks."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import nets
from gans_jax.nets.dcgan import num_stages


@pytest.mark.parametrize("resolution,channels", [(8, 1), (16, 3)])
def test_dcgan_shapes_for_every_resolution(resolution, channels):
  g = nets.DCGANGenerator(resolution=resolution, channels=channels, width=8)
  d = nets.DCGANDiscriminator(resolution=resolution, width=8, norm="batch")
  z = jax.random.normal(jax.random.PRNGKey(0), (3, 16))
  gv = g.init(jax.random.PRNGKey(1), z, train=False)
  x, _ = g.apply(gv, z, train=True, mutable=["batch_stats"])
  chex.assert_shape(x, (3, resolution, resolution, channels))
  assert float(jnp.max(jnp.abs(x))) <= 1.0  # tanh output
  dv = d.init(jax.random.PRNGKey(2), x, train=False)
  (scores, features), _ = d.apply(dv, x, train=True, mutable=["batch_stats"])
  chex.assert_shape(scores, (3,))
  # Penultimate features: the 4x4 map of the last stage, flattened.
  chex.assert_shape(features, (3, 4 * 4 * 8 * 2 ** (num_stages(resolution) - 1)))


@pytest.mark.parametrize("resolution", [32, 64])
def test_dcgan_large_resolutions_have_the_right_shapes(resolution):
  # Abstract evaluation only: the arithmetic of shapes without compiling.
  g = nets.DCGANGenerator(resolution=resolution, channels=3, width=8)
  d = nets.DCGANDiscriminator(resolution=resolution, width=8, norm="layer")
  z = jax.ShapeDtypeStruct((2, 16), jnp.float32)
  gv = jax.eval_shape(lambda z: g.init(jax.random.PRNGKey(0), z, train=False), z)
  x = jax.eval_shape(lambda v, z: g.apply(v, z, train=False), gv, z)
  assert x.shape == (2, resolution, resolution, 3)
  dv = jax.eval_shape(lambda x: d.init(jax.random.PRNGKey(0), x), x)
  scores, features = jax.eval_shape(lambda v, x: d.apply(v, x), dv, x)
  assert scores.shape == (2,)
  assert features.shape == (2, 4 * 4 * 8 * 2 ** (num_stages(resolution) - 1))


def test_dcgan_stage_count_follows_resolution():
  assert [num_stages(r) for r in (8, 16, 32, 64)] == [1, 2, 3, 4]
  with pytest.raises(ValueError):
    num_stages(24)


def test_dcgan_discriminator_first_layer_has_no_batchnorm():
  d = nets.DCGANDiscriminator(resolution=16, width=8, norm="batch")
  v = d.init(jax.random.PRNGKey(0), jnp.zeros((2, 16, 16, 1)), train=False)
  # Two stages: BatchNorm only on the second.
  assert list(v["batch_stats"].keys()) == ["BatchNorm_0"]
  assert v["batch_stats"]["BatchNorm_0"]["mean"].shape == (16,)


@pytest.mark.parametrize("norm", ["layer", "none"])
def test_critic_scores_are_per_example(norm):
  """Without BatchNorm an example's score does not depend on the rest of the batch,
  the property the gradient penalty relies on."""
  d = nets.DCGANDiscriminator(resolution=16, width=8, norm=norm)
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 16, 16, 1))
  v = d.init(jax.random.PRNGKey(1), x)
  assert "batch_stats" not in v
  full, _ = d.apply(v, x)
  single = jnp.concatenate([d.apply(v, x[i:i + 1])[0] for i in range(4)])
  np.testing.assert_allclose(full, single, rtol=1e-5, atol=1e-5)


def test_mlp_generator_and_maxout_discriminator():
  g = nets.MLPGenerator(out_shape=(2,), hidden=(32, 32), batch_norm=True)
  d = nets.MLPDiscriminator(hidden=(16,), activation="maxout", maxout_pieces=5)
  z = jax.random.normal(jax.random.PRNGKey(0), (5, 2))
  gv = g.init(jax.random.PRNGKey(1), z, train=False)
  x, _ = g.apply(gv, z, train=True, mutable=["batch_stats"])
  chex.assert_shape(x, (5, 2))
  dv = d.init(jax.random.PRNGKey(2), x)
  chex.assert_shape(dv["params"]["Dense_0"]["kernel"], (2, 16 * 5))
  scores, features = d.apply(dv, x)
  chex.assert_shape(scores, (5,))
  # Maxout, computed independently in NumPy: each unit is the max of 5 linear pieces.
  k = np.asarray(dv["params"]["Dense_0"]["kernel"])
  b = np.asarray(dv["params"]["Dense_0"]["bias"])
  expected = (np.asarray(x) @ k + b).reshape(5, 16, 5).max(-1)
  np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
  w, c = np.asarray(dv["params"]["Dense_1"]["kernel"]), np.asarray(dv["params"]["Dense_1"]["bias"])
  np.testing.assert_allclose(scores, (expected @ w + c)[:, 0], rtol=1e-5, atol=1e-6)


def test_mlp_generator_reshapes_to_images():
  g = nets.MLPGenerator(out_shape=(8, 8, 1), hidden=(16,), output_activation="tanh")
  z = jnp.ones((3, 4))
  v = g.init(jax.random.PRNGKey(0), z)
  x = g.apply(v, z)
  chex.assert_shape(x, (3, 8, 8, 1))
  assert float(jnp.max(jnp.abs(x))) <= 1.0
