"""The ResNet generator and discriminator of SNGAN (Miyato, Kataoka, Koyama & Yoshida 2018,
arXiv:1802.05957, Appendix B.4, Table 4: the CIFAR-10 ResNet of Gulrajani et al. 2017).

Generator: z -> Dense -> 4x4 x width -> [ResBlock up] x stages -> BatchNorm, ReLU,
  3x3 conv to the image channels -> tanh. ResBlock up: BN, ReLU, nearest 2x upsampling,
  3x3 conv, BN, ReLU, 3x3 conv, plus the shortcut (upsampling, 1x1 conv).
Discriminator: the optimised first block (3x3 conv, ReLU, 3x3 conv, 2x2 average pooling;
  shortcut: pooling, 1x1 conv), [ResBlock down] until 8x8 (ReLU, 3x3 conv, ReLU, 3x3 conv,
  pooling; shortcut: 1x1 conv, pooling), two ResBlocks at that size (identity shortcut),
  ReLU, global sum pooling -> features [B, width], one linear score.

At 32x32 with g_width 256 and d_width 128 these are the paper's networks (3 up blocks; D:
optimised block 32->16, one down block 16->8, two blocks at 8x8). Spectral normalisation is
the family's parameter transform (`model.d_spectral_norm`, gans_jax/nets/spectral_norm.py),
not a layer here; `norm` adds BatchNorm or LayerNorm before each ReLU of D's residual branches
(LayerNorm for a gradient-penalty critic, as Gulrajani et al.'s ResNet), 'none' by default.
Convolutions are `lax` convolutions (3x3 stride 1 and 1x1: no strided or dilated form for
XLA:CPU to run slowly, so there is no `conv_impl` here) in `dtype` (gans_jax.nets.precision).
"""

import flax.linen as nn
import jax.numpy as jnp

from gans_jax.nets import improved, precision
from gans_jax.nets.dcgan import NORMS, discriminator_norm, num_stages

_DN = ("NHWC", "HWIO", "NHWC")
# Chainer's GlorotUniform(sqrt 2) of the reference code for the residual branches' convs,
# GlorotUniform(1) for the shortcuts and the linear layers.
_RESIDUAL_INIT = nn.initializers.variance_scaling(2.0, "fan_avg", "uniform")
_SHORTCUT_INIT = nn.initializers.xavier_uniform()


class Conv(nn.Module):
  """A stride-1 SAME convolution computed in `dtype`, with flax.linen.Conv's parameter names."""
  features: int
  kernel_size: int = 3
  kernel_init: nn.initializers.Initializer = _RESIDUAL_INIT
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    k = self.kernel_size
    kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features),
                        jnp.float32)
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32)
    y = precision.conv(x, kernel, (1, 1), "SAME", _DN, precision.compute_dtype(self.dtype))
    return y + bias


def upsample(x: jnp.ndarray) -> jnp.ndarray:
  """Nearest-neighbour 2x: each pixel repeated over a 2x2 block."""
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def avg_pool(x: jnp.ndarray) -> jnp.ndarray:
  """2x2 average pooling, stride 2."""
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


class ResNetGenerator(nn.Module):
  """z [B, Z] -> images [B, R, R, C] in [-1, 1]."""
  resolution: int = 32
  channels: int = 3
  width: int = 256
  axis_name: str | None = None  # BatchNorm statistics across replicas (pmap/shard_map)
  dtype: str = "float32"
  vbn_reference: int = 0       # > 0: VirtualBatchNorm (Salimans et al. 2016) instead of BatchNorm

  @nn.compact
  def __call__(self, z: jnp.ndarray, train: bool = True) -> jnp.ndarray:
    bn = lambda: improved.generator_norm(self, train)
    conv = lambda f, k=3, init=_RESIDUAL_INIT: Conv(f, k, init, self.dtype)
    zr = improved.reference_batch(self, z, self.vbn_reference) if self.vbn_reference else z
    x = nn.Dense(4 * 4 * self.width, kernel_init=_SHORTCUT_INIT, dot_general=(
        precision.dense_dot_general(precision.compute_dtype(self.dtype))))(zr)
    x = x.reshape((zr.shape[0], 4, 4, self.width))
    for _ in range(num_stages(self.resolution)):
      h = upsample(nn.relu(bn()(x)))
      h = conv(self.width)(h)
      h = nn.relu(bn()(h))
      h = conv(self.width)(h)
      x = h + conv(self.width, 1, _SHORTCUT_INIT)(upsample(x))
    x = nn.relu(bn()(x))[x.shape[0] - z.shape[0]:]
    return jnp.tanh(Conv(self.channels, 3, _SHORTCUT_INIT, self.dtype)(x))


class ResNetDiscriminator(nn.Module):
  """images [B, R, R, C] -> (scores [B], features [B, width])."""
  resolution: int = 32
  width: int = 128
  norm: str = "none"            # none | layer | batch: before each ReLU of the residual branches
  axis_name: str | None = None
  dtype: str = "float32"
  minibatch_kernels: int = 0    # > 0: minibatch discrimination features (nets.improved)
  minibatch_kernel_dim: int = 5

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True):
    if self.norm not in NORMS:
      raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
    num_stages(self.resolution)  # raises for a resolution the blocks are not built for
    conv = lambda k=3, init=_RESIDUAL_INIT: Conv(self.width, k, init, self.dtype)
    act = lambda h: nn.relu(discriminator_norm(h, self.norm, self.axis_name, train))
    # Modules are created in the order they apply, so their names (Conv_0, Conv_1, ...) follow
    # the data. The optimised block: no activation before the first conv (it sees the image).
    h = conv()(x)
    h = conv()(act(h))
    x = avg_pool(h) + conv(1, _SHORTCUT_INIT)(avg_pool(x))
    while x.shape[1] > 8:
      h = conv()(act(x))
      h = conv()(act(h))
      x = avg_pool(h) + avg_pool(conv(1, _SHORTCUT_INIT)(x))
    for _ in range(2):
      h = conv()(act(x))
      h = conv()(act(h))
      x = x + h
    features = jnp.sum(nn.relu(x), axis=(1, 2))
    dense = nn.Dense(1, kernel_init=_SHORTCUT_INIT, dot_general=(
        precision.dense_dot_general(precision.compute_dtype(self.dtype))))
    scores = dense(improved.with_minibatch_features(self, features, train))[:, 0]
    return scores, features

