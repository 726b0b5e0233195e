"""DCGAN generator and discriminator (Radford, Metz & Chintala 2016, arXiv:1511.06434).

Generator: Dense -> 4x4 map -> [ConvTranspose(4, stride 2) -> BatchNorm -> ReLU]
  ... -> ConvTranspose to the image channels -> tanh.
Discriminator: strided Conv(4, stride 2) -> LeakyReLU(0.2), a normalisation on
  every layer but the first, no pooling, then one linear score. With
  ``norm='layer'`` or ``'none'`` it is a critic fit for a gradient penalty
  (Gulrajani et al. 2017, arXiv:1704.00028, sec. 4: no BatchNorm in the critic).

Both are sized from the resolution: log2(resolution / 4) up/down-sampling
stages, so 8x8 has one stage and 64x64 four. Widths double towards the 4x4
end: ``width * 2**i`` channels at stage i.
"""

import math

import flax.linen as nn
import jax.numpy as jnp

NORMS = ("batch", "layer", "none")


def num_stages(resolution: int) -> int:
  """Number of stride-2 stages between 4x4 and `resolution` (8 -> 1, 64 -> 4)."""
  stages = int(round(math.log2(resolution / 4)))
  if resolution not in (8, 16, 32, 64) or 4 * 2**stages != resolution:
    raise ValueError(f"resolution must be 8, 16, 32 or 64, got {resolution}")
  return stages


class DCGANGenerator(nn.Module):
  """z [B, Z] -> images [B, R, R, C] in [-1, 1]."""
  resolution: int = 32
  channels: int = 1
  width: int = 64
  axis_name: str | None = None  # BatchNorm statistics across replicas (pmap/shard_map)

  @nn.compact
  def __call__(self, z: jnp.ndarray, train: bool = True) -> jnp.ndarray:
    stages = num_stages(self.resolution)
    bn = lambda: nn.BatchNorm(use_running_average=not train, momentum=0.9,
                         axis_name=self.axis_name if train else None)
    top = self.width * 2 ** (stages - 1)
    x = nn.Dense(4 * 4 * top, use_bias=False)(z)
    x = nn.relu(bn()(x.reshape((z.shape[0], 4, 4, top))))
    for i in reversed(range(stages - 1)):
      x = nn.ConvTranspose(self.width * 2**i, (4, 4), strides=(2, 2),
                           padding="SAME", use_bias=False)(x)
      x = nn.relu(bn()(x))
    x = nn.ConvTranspose(self.channels, (4, 4), strides=(2, 2), padding="SAME")(x)
    return jnp.tanh(x)


class DCGANDiscriminator(nn.Module):
  """images [B, R, R, C] -> (scores [B], features [B, F])."""
  resolution: int = 32
  width: int = 64
  norm: str = "batch"
  axis_name: str | None = None  # BatchNorm statistics across replicas (pmap/shard_map)

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True):
    if self.norm not in NORMS:
      raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
    stages = num_stages(self.resolution)
    for i in range(stages):
      x = nn.Conv(self.width * 2**i, (4, 4), strides=(2, 2), padding="SAME",
                  use_bias=(i == 0 or self.norm == "none"))(x)
      if i > 0 and self.norm == "batch":
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                         axis_name=self.axis_name if train else None)(x)
      elif i > 0 and self.norm == "layer":
        # Normalises each example over (H, W, C): no coupling across the batch.
        x = nn.LayerNorm(reduction_axes=(-3, -2, -1), feature_axes=-1)(x)
      x = nn.leaky_relu(x, negative_slope=0.2)
    features = x.reshape((x.shape[0], -1))
    scores = nn.Dense(1)(features)[:, 0]
    return scores, features
