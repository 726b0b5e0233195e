"""The K-class discriminator of the semi-supervised GAN (Salimans et al. 2016, arXiv:1606.03498).

Salimans et al.'s MNIST discriminator (section 5, and their code
openai/improved-gan, mnist_svhn_cifar10/train_mnist_feature_matching.py): a
fully connected ReLU stack with additive Gaussian noise on the input and after
every hidden layer (training mode only), ending in K class logits; the fake
class K+1 is implicit (logit 0). The noise is the regulariser that makes the
unsupervised real/fake signal useful to the classifier with few labels.
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
  In training mode the noise is drawn from the ``'noise'`` RNG stream
  (``apply(..., rngs={'noise': key})``); inference adds none.
  """
  num_classes: int = 10
  hidden: Sequence[int] = (500, 250, 250)
  input_noise: float = 0.6
  hidden_noise: float = 0.5

  def _noise(self, h: jnp.ndarray, std: float, train: bool) -> jnp.ndarray:
    if not train or std == 0:
      return h
    return h + std * jax.random.normal(self.make_rng("noise"), h.shape, h.dtype)

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True):
    h = self._noise(x.reshape((x.shape[0], -1)), self.input_noise, train)
    for width in self.hidden:
      h = self._noise(nn.relu(nn.Dense(width)(h)), self.hidden_noise, train)
    return nn.Dense(self.num_classes)(h), h
