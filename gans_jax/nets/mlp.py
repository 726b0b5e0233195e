"""Fully connected generator and discriminator (Goodfellow et al. 2014, arXiv:1406.2661).

Used for 2-D mixtures (ring8, grid25) and for flattened images. The
discriminator supports maxout units (Goodfellow et al. 2013, arXiv:1302.4389),
the activation of the original GAN and of PacGAN's discriminator.
"""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from gans_jax.nets import improved


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
  # > 0: VirtualBatchNorm with this many fixed reference latents instead of
  # BatchNorm (Salimans et al. 2016; gans_jax.nets.improved).
  vbn_reference: int = 0

  @nn.compact
  def __call__(self, z: jnp.ndarray, train: bool = True) -> jnp.ndarray:
    x = improved.reference_batch(self, z, self.vbn_reference) if self.vbn_reference else z
    for width in self.hidden:
      x = nn.Dense(width, use_bias=not self.batch_norm)(x)
      if self.batch_norm:
        x = improved.generator_norm(self, train)(x)
      x = nn.relu(x)
    x = nn.Dense(int(np.prod(self.out_shape)))(x[x.shape[0] - z.shape[0]:])
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
    minibatch_kernels: > 0: minibatch discrimination features (that many
      kernels of `minibatch_kernel_dim`) appended before the score layer,
      compared over the batch on every device of `axis_name` (nets.improved).
  Returns:
    (scores [B], features [B, hidden[-1]]).
  """
  hidden: Sequence[int] = (256, 256)
  activation: str = "leaky_relu"
  maxout_pieces: int = 5
  layer_norm: bool = False
  minibatch_kernels: int = 0
  minibatch_kernel_dim: int = 5
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True):
    h = x.reshape((x.shape[0], -1))
    for width in self.hidden:
      if self.activation == "maxout":
        h = nn.Dense(width * self.maxout_pieces)(h)
        h = h.reshape(h.shape[:-1] + (width, self.maxout_pieces)).max(-1)
      else:
        h = _activation(self.activation, nn.Dense(width)(h))
      if self.layer_norm:
        h = nn.LayerNorm()(h)
    scores = nn.Dense(1)(improved.with_minibatch_features(self, h, train))[:, 0]
    return scores, h
