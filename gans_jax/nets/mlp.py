"""Fully connected generator and discriminator (Goodfellow et al. 2014, arXiv:1406.2661).

Used for 2-D mixtures (ring8, grid25) and for flattened images. The
discriminator supports maxout units (Goodfellow et al. 2013, arXiv:1302.4389),
the activation of the original GAN and of PacGAN's discriminator.
"""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np


# Activations of the discriminator's hidden layers.
D_ACTIVATIONS = ("leaky_relu", "relu", "maxout")


def _activation(name: str, x: jnp.ndarray) -> jnp.ndarray:
  if name == "relu":
    return nn.relu(x)
  if name == "leaky_relu":
    return nn.leaky_relu(x, negative_slope=0.2)
  if name == "tanh":
    return jnp.tanh(x)
  raise ValueError(f"unknown activation {name!r}")


class MLPGenerator(nn.Module):
  """z -> Dense/[BatchNorm]/ReLU stack -> data of shape `out_shape`.

  Attributes:
    out_shape: per-example output shape, e.g. (2,) or (8, 8, 1).
    hidden: widths of the hidden layers.
    batch_norm: BatchNorm after each hidden Dense (PacGAN's generator uses it).
    output_activation: 'tanh' for images in [-1, 1], 'none' for points.
  """
  out_shape: Sequence[int]
  hidden: Sequence[int] = (256, 256)
  batch_norm: bool = False
  output_activation: str = "none"
  axis_name: str | None = None  # BatchNorm statistics across replicas (pmap/shard_map)

  @nn.compact
  def __call__(self, z: jnp.ndarray, train: bool = True) -> jnp.ndarray:
    x = z
    for width in self.hidden:
      x = nn.Dense(width, use_bias=not self.batch_norm)(x)
      if self.batch_norm:
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                         axis_name=self.axis_name if train else None)(x)
      x = nn.relu(x)
    x = nn.Dense(int(np.prod(self.out_shape)))(x)
    if self.output_activation == "tanh":
      x = jnp.tanh(x)
    return x.reshape((z.shape[0],) + tuple(self.out_shape))


class MLPDiscriminator(nn.Module):
  """x (flattened) -> hidden stack -> one score per example.

  Attributes:
    hidden: widths of the hidden layers.
    activation: 'maxout', 'relu' or 'leaky_relu'.
    maxout_pieces: number of linear pieces per maxout unit.
    layer_norm: LayerNorm after each hidden layer (safe with gradient penalties).
  Returns:
    (scores [B], features [B, hidden[-1]]).
  """
  hidden: Sequence[int] = (256, 256)
  activation: str = "leaky_relu"
  maxout_pieces: int = 5
  layer_norm: bool = False

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True):
    del train  # no batch-dependent layers
    h = x.reshape((x.shape[0], -1))
    for width in self.hidden:
      if self.activation == "maxout":
        h = nn.Dense(width * self.maxout_pieces)(h)
        h = h.reshape(h.shape[:-1] + (width, self.maxout_pieces)).max(-1)
      else:
        h = _activation(self.activation, nn.Dense(width)(h))
      if self.layer_norm:
        h = nn.LayerNorm()(h)
    scores = nn.Dense(1)(h)[:, 0]
    return scores, h
