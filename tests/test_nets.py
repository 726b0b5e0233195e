"""Shapes, output ranges and the per-example property of the networks."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import nets
from gans_jax.nets import dcgan
from gans_jax.nets.dcgan import num_stages


@pytest.mark.parametrize("resolution,channels", [(8, 1), (16, 3)])
def test_dcgan_shapes_for_every_resolution(resolution, channels):
  g = nets.DCGANGenerator(resolution=resolution, channels=channels, width=8)
  d = nets.DCGANDiscriminator(resolution=resolution, width=8, norm="batch")
  z = jax.random.normal(jax.random.PRNGKey(0), (3, 16))
  # Jitted: eagerly, every op compiles on its own (~30 s on 2 cores).
  gv = jax.jit(lambda k, z: g.init(k, z, train=False))(jax.random.PRNGKey(1), z)
  x, _ = jax.jit(lambda v, z: g.apply(v, z, train=True, mutable=["batch_stats"]))(gv, z)
  chex.assert_shape(x, (3, resolution, resolution, channels))
  assert float(jnp.max(jnp.abs(x))) <= 1.0  # tanh output
  dv = jax.jit(lambda k, x: d.init(k, x, train=False))(jax.random.PRNGKey(2), x)
  (scores, features), _ = jax.jit(
      lambda v, x: d.apply(v, x, train=True, mutable=["batch_stats"]))(dv, x)
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
  v = jax.eval_shape(lambda x: d.init(jax.random.PRNGKey(0), x, train=False),
                     jnp.zeros((2, 16, 16, 1)))  # structure and shapes only
  # Two stages: BatchNorm only on the second.
  assert list(v["batch_stats"].keys()) == ["BatchNorm_0"]
  assert v["batch_stats"]["BatchNorm_0"]["mean"].shape == (16,)


@pytest.mark.parametrize("norm", ["layer", "none"])
def test_critic_scores_are_per_example(norm):
  """Without BatchNorm an example's score does not depend on the rest of the batch,
  the property the gradient penalty relies on."""
  d = nets.DCGANDiscriminator(resolution=16, width=8, norm=norm)
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 16, 16, 1))
  v = jax.jit(d.init)(jax.random.PRNGKey(1), x)
  assert "batch_stats" not in v
  apply = jax.jit(d.apply)
  full, _ = apply(v, x)
  single = jnp.concatenate([apply(v, x[i:i + 1])[0] for i in range(4)])
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


class _FlaxConvs(nn.Module):
  """Reference: flax's own Conv and ConvTranspose, 4x4 stride 2 SAME."""
  features: int
  transpose: bool

  @nn.compact
  def __call__(self, x):
    layer = nn.ConvTranspose if self.transpose else nn.Conv
    return layer(self.features, (4, 4), strides=(2, 2), padding="SAME", name="layer")(x)


class _OurConvs(nn.Module):
  features: int
  transpose: bool
  impl: str

  @nn.compact
  def __call__(self, x):
    layer = dcgan.ConvTranspose4x4s2 if self.transpose else dcgan.Conv4x4s2
    return layer(self.features, impl=self.impl, name="layer")(x)


@pytest.mark.parametrize("transpose,features", [(False, 6), (True, 8), (True, 2)])
@pytest.mark.parametrize("impl,shape", [
    ("gemm", (3, 6, 6, 5)), ("xla", (3, 6, 6, 5)),
    # Winograd needs H, W multiples of 4 and >= 8 input channels for the strided conv.
    ("winograd", (3, 8, 8, 8))])
def test_4x4_stride2_convs_equal_flax_with_the_same_parameters(transpose, features, impl, shape,
                                                                monkeypatch):
  """Same init, outputs, input/weight gradients and a penalty's second derivative as flax."""
  calls = []
  for name in ("conv4x4s2", "conv_transpose4x4s2"):  # record which Winograd form runs
    fn = getattr(dcgan.winograd, name)
    monkeypatch.setattr(dcgan.winograd, name,
                        lambda *a, fn=fn, name=name: calls.append(name) or fn(*a))
  x = jax.random.normal(jax.random.PRNGKey(0), shape)
  ref, ours = _FlaxConvs(features, transpose), _OurConvs(features, transpose, impl)
  params = ref.init(jax.random.PRNGKey(1), x)
  r = jax.random.normal(jax.random.PRNGKey(2), jax.eval_shape(ref.apply, params, x).shape)

  @jax.jit  # one program per module: eagerly, every op compiles on its own (~20 s)
  def everything(init_key):
    module = ours if init_key is not None else ref
    f = lambda p, xx: jnp.sum(r * jnp.tanh(module.apply(p, xx)))

    def pen(p):
      # d/dparams of |d<r, f(x)>/dx|^2: the WGAN-GP penalty's double backward.
      return jnp.sum(jax.grad(f, argnums=1)(p, x)**2)
    return (module.init(init_key, x) if init_key is not None else None,
            module.apply(params, x), jax.grad(f, argnums=(0, 1))(params, x), jax.grad(pen)(params))

  init, out, grads, penalty_grad = everything(jax.random.PRNGKey(1))
  _, ref_out, ref_grads, ref_penalty_grad = everything(None)
  chex.assert_trees_all_equal(init, params)
  chex.assert_trees_all_close(out, ref_out, atol=1e-5)
  chex.assert_trees_all_close(grads, ref_grads, atol=1e-5)
  chex.assert_trees_all_close(penalty_grad, ref_penalty_grad, atol=1e-4)
  # The Winograd form ran, except for the image-channel transposed conv (XLA's).
  winograd_ran = impl == "winograd" and (not transpose or features >= 8)
  assert bool(calls) == winograd_ran
  if winograd_ran:
    assert set(calls) == {"conv_transpose4x4s2" if transpose else "conv4x4s2"}


def test_dcgan_conv_impls_give_the_same_networks():
  z = jax.random.normal(jax.random.PRNGKey(0), (2, 8))
  gens = [nets.DCGANGenerator(resolution=16, width=8, conv_impl=i) for i in dcgan.CONV_IMPLS]
  v = gens[0].init(jax.random.PRNGKey(1), z, train=False)
  for g in gens[1:]:
    chex.assert_trees_all_equal(g.init(jax.random.PRNGKey(1), z, train=False), v)
    chex.assert_trees_all_close(g.apply(v, z, train=False), gens[0].apply(v, z, train=False),
                                atol=1e-5)


@pytest.mark.parametrize("platform,expected", [("cpu", "winograd"), ("gpu", "xla"), ("tpu", "xla")])
def test_auto_conv_impl_is_winograd_on_cpus_and_xla_on_gpus_and_tpus(platform, expected):
  assert dcgan.resolve_conv_impl("auto", platform) == expected
  for impl in dcgan.CONV_IMPLS:  # an explicit choice is kept on every platform
    assert dcgan.resolve_conv_impl(impl, platform) == impl


def test_default_conv_impl_runs_the_winograd_forms_on_this_cpu(monkeypatch):
  """The networks' default is 'auto'; on the CPU the Winograd forms are what they trace."""
  assert jax.default_backend() == "cpu"
  assert dcgan.resolve_conv_impl("auto") == "winograd"
  calls = []
  for name in ("conv4x4s2", "conv_transpose4x4s2"):
    fn = getattr(dcgan.winograd, name)
    monkeypatch.setattr(dcgan.winograd, name,
                        lambda *a, fn=fn, name=name: calls.append(name) or fn(*a))
  g = nets.DCGANGenerator(resolution=16, width=8)
  d = nets.DCGANDiscriminator(resolution=16, width=8)
  assert g.conv_impl == d.conv_impl == "auto"
  x = jax.eval_shape(lambda: g.init_with_output(jax.random.PRNGKey(0), jnp.zeros((2, 8)),
                                                train=False)[0])
  jax.eval_shape(lambda: d.init(jax.random.PRNGKey(0), jnp.zeros(x.shape), train=False))
  assert set(calls) == {"conv4x4s2", "conv_transpose4x4s2"}
