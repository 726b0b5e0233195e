"""The K-class discriminator of the semi-supervised GAN (Salimans et al. 2016, arXiv:1606.03498).

Salimans et al.'s MNIST discriminator (section 5, and their code
openai/improved-gan, mnist_svhn_cifar10/train_mnist_feature_matching.py): a
fully connected ReLU stack with additive Gaussian noise on the input and after
every hidden layer (training mode only), ending in K class logits; the fake
class K+1 is implicit (logit 0). The noise is the regulariser that makes the
unsupervised real/fake signal useful to the classifier with few labels. Their
dense layers are weight-normalised (Salimans & Kingma 2016, arXiv:1602.07868:
w = g v / ||v||), here with `flax.linen.WeightNorm` (`weight_norm=True`).
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class NoisyMLPClassifier(nn.Module):
  """x (flattened) -> (class logits [B, K], last hidden features [B, hidden[-1]]).

  Attributes:
    num_classes: K.
    hidden: widths of the hidden ReLU layers.
    input_noise: std of the Gaussian added to the input (train only; data in [-1, 1]).
    hidden_noise: std of the Gaussian added after each hidden layer (train only).
    weight_norm: weight-normalise every dense layer.
  In training mode the noise is drawn from the ``'noise'`` RNG stream
  (``apply(..., rngs={'noise': key})``); inference adds none.
  """
  num_classes: int = 10
  hidden: Sequence[int] = (500, 250, 250)
  input_noise: float = 0.6
  hidden_noise: float = 0.5
  weight_norm: bool = True

  def _noise(self, h: jnp.ndarray, std: float, train: bool) -> jnp.ndarray:
    if not train or std == 0:
      return h
    return h + std * jax.random.normal(self.make_rng("noise"), h.shape, h.dtype)

  def _dense(self, width: int) -> nn.Module:
    return nn.WeightNorm(nn.Dense(width)) if self.weight_norm else nn.Dense(width)

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True):
    h = self._noise(x.reshape((x.shape[0], -1)), self.input_noise, train)
    for width in self.hidden:
      h = self._noise(nn.relu(self._dense(width)(h)), self.hidden_noise, train)
    return self._dense(self.num_classes)(h), h


class SSGANGenerator(nn.Module):
  """z [B, Z] -> images of `out_shape` in [-1, 1]: Salimans et al.'s MNIST generator.

  [Dense -> BatchNorm -> softplus] per hidden width, then Dense -> tanh (their
  sigmoid, for data in [-1, 1]).
  """
  out_shape: Sequence[int]
  hidden: Sequence[int] = (500, 500)
  axis_name: str | None = None  # BatchNorm statistics across replicas (pmap/shard_map)

  @nn.compact
  def __call__(self, z: jnp.ndarray, train: bool = True) -> jnp.ndarray:
    h = z
    for width in self.hidden:
      h = nn.Dense(width)(h)
      h = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                       axis_name=self.axis_name if train else None)(h)
      h = nn.softplus(h)
    size = 1
    for d in self.out_shape:
      size *= d
    return jnp.tanh(nn.Dense(size)(h)).reshape((z.shape[0],) + tuple(self.out_shape))
