"""model.arch='resnet': SNGAN's ResNet generator and discriminator (gans_jax/nets/sngan.py)."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gans_jax import trainer
from gans_jax.families import gan
from gans_jax.nets import sngan

DN = ("NHWC", "HWIO", "NHWC")


def _num_params(module, example) -> int:
  shapes = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), example))
  return sum(math.prod(a.shape) for a in jax.tree.leaves(shapes["params"]))


def test_the_papers_cifar_networks_have_their_parameter_counts():
  # Miyato et al. 2018, Table 4, z 128, G 256 channels, D 128, by hand:
  # G: Dense 128 -> 4*4*256 (128*4096 + 4096 = 528,384); 3 up blocks of two 3x3 256->256 convs
  # (2 * 590,080), a 1x1 shortcut (65,792) and two BatchNorms (2 * 512): 1,246,976 each;
  # the last BatchNorm (512) and 3x3 conv 256->3 (6,915): 528,384 + 3 * 1,246,976 + 512 + 6,915.
  g = sngan.ResNetGenerator(resolution=32, channels=3, width=256)
  assert _num_params(g, jnp.zeros((2, 128))) == 4_276_739
  # D: optimised block 3x3 3->128 (3,584), 3x3 128->128 (147,584), 1x1 3->128 (512); a down
  # block 2 * 147,584 + 1x1 128->128 (16,512); two blocks 2 * 147,584 each; Dense 128 -> 1.
  d = sngan.ResNetDiscriminator(resolution=32, width=128)
  assert _num_params(d, jnp.zeros((2, 32, 32, 3))) == (
      151_680 + 311_680 + 2 * 295_168 + 129) == 1_053_825


def test_upsampling_and_pooling_match_numpy():
  x = np.random.default_rng(0).normal(size=(2, 4, 6, 3)).astype(np.float32)
  up = np.kron(x, np.ones((1, 2, 2, 1), np.float32))  # each pixel over a 2x2 block
  np.testing.assert_array_equal(sngan.upsample(jnp.asarray(x)), up)
  pooled = (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2]) / 4
  np.testing.assert_allclose(sngan.avg_pool(jnp.asarray(x)), pooled, rtol=1e-6, atol=1e-6)


def _conv(p, x):
  return lax.conv_general_dilated(x, p["kernel"], (1, 1), "SAME", dimension_numbers=DN) + p["bias"]


def _pool(x):
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _reference_discriminator(params, x):
  """Miyato et al.'s D at 32x32, written out layer by layer from the paper (no normalisation)."""
  c = [params[f"Conv_{i}"] for i in range(10)]
  relu = jax.nn.relu
  # Optimised block: conv, ReLU, conv, pool; shortcut pool, 1x1 conv.
  x = _pool(_conv(c[1], relu(_conv(c[0], x)))) + _conv(c[2], _pool(x))
  # Down block: ReLU, conv, ReLU, conv, pool; shortcut 1x1 conv, pool.
  x = _pool(_conv(c[4], relu(_conv(c[3], relu(x))))) + _pool(_conv(c[5], x))
  # Two blocks at 8x8 with identity shortcuts.
  x = x + _conv(c[7], relu(_conv(c[6], relu(x))))
  x = x + _conv(c[9], relu(_conv(c[8], relu(x))))
  features = relu(x).sum(axis=(1, 2))
  return features @ params["Dense_0"]["kernel"][:, 0] + params["Dense_0"]["bias"][0], features


def test_discriminator_is_the_papers_network():
  d = sngan.ResNetDiscriminator(resolution=32, width=8)
  x = jax.random.normal(jax.random.PRNGKey(1), (3, 32, 32, 3))
  params = d.init(jax.random.PRNGKey(0), x)["params"]
  assert "Conv_10" not in params  # 10 convs: 3 + 3 + 2 + 2
  scores, features = d.apply({"params": params}, x)
  ref_scores, ref_features = _reference_discriminator(params, x)
  assert scores.shape == (3,) and features.shape == (3, 8)
  np.testing.assert_allclose(features, ref_features, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(scores, ref_scores, rtol=1e-4, atol=1e-4)


def test_generator_block_is_the_papers_up_block():
  g = sngan.ResNetGenerator(resolution=8, channels=1, width=4)
  z = jax.random.normal(jax.random.PRNGKey(2), (5, 3))
  variables = g.init(jax.random.PRNGKey(0), z)
  out = g.apply(variables, z, train=False)
  p, s = variables["params"], variables["batch_stats"]

  def bn(i, x):  # inference BatchNorm from the running statistics
    st, pr = s[f"BatchNorm_{i}"], p[f"BatchNorm_{i}"]
    return (x - st["mean"]) / jnp.sqrt(st["var"] + 1e-5) * pr["scale"] + pr["bias"]

  up = lambda x: jnp.repeat(jnp.repeat(x, 2, 1), 2, 2)
  x = (z @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]).reshape(5, 4, 4, 4)
  h = _conv(p["Conv_1"], jax.nn.relu(bn(1, _conv(p["Conv_0"], up(jax.nn.relu(bn(0, x)))))))
  x = h + _conv(p["Conv_2"], up(x))
  ref = jnp.tanh(_conv(p["Conv_3"], jax.nn.relu(bn(2, x))))
  assert out.shape == (5, 8, 8, 1)
  np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("resolution", [8, 16, 64])
def test_shapes_at_every_resolution(resolution):
  g = sngan.ResNetGenerator(resolution=resolution, channels=3, width=8)
  d = sngan.ResNetDiscriminator(resolution=resolution, width=8, norm="layer")
  images = jax.eval_shape(lambda: g.init_with_output(jax.random.PRNGKey(0),
                                                     jnp.zeros((2, 16)))[0])
  assert images.shape == (2, resolution, resolution, 3)
  scores, features = jax.eval_shape(
      lambda: d.init_with_output(jax.random.PRNGKey(0), jnp.zeros(images.shape))[0])
  assert scores.shape == (2,) and features.shape == (2, 8)


def test_resnet_gan_trains_with_spectral_norm_through_the_trainer(tmp_path, data_dir):
  config = gan.default_config()
  config.dataset.name, config.dataset.resolution = "digits", 16
  config.dataset.data_dir = data_dir
  config.model.arch, config.model.g_width, config.model.d_width = "resnet", 8, 8
  config.model.z_dim = 16
  config.model.d_norm, config.model.d_spectral_norm = "none", True
  config.loss.name = "hinge"
  config.train.num_steps, config.train.batch_size = 4, 8
  config.log_every, config.sample_every, config.checkpoint_every = 2, 4, 4
  state = trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
  assert [r["step"] for r in rows if "d_loss" in r] == [2, 4]
  assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in rows if "d_loss" in r)
  # One power-iteration vector per D weight matrix at 16x16: the optimised block's 3 convs,
  # two blocks of 2, the score's Dense.
  assert len(jax.tree.leaves(state.d_sn)) == 3 + 2 * 2 + 1
  assert all(np.all(np.isfinite(np.asarray(v))) for v in jax.tree.leaves(state.g.params))
  with pytest.raises(ValueError, match="resolution must be"):
    sngan.ResNetDiscriminator(resolution=12).init(jax.random.PRNGKey(0), jnp.zeros((1, 12, 12, 1)))
