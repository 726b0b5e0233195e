"""The K-class discriminators of the semi-supervised GAN (Salimans et al. 2016, arXiv:1606.03498).

Both end in K class logits; the fake class K+1 is implicit (logit 0). Each
returns ``(logits [B, K], features [B, F])``; the features are what the
generator's feature matching matches. Their layers are weight-normalised
(Salimans & Kingma 2016, arXiv:1602.07868: w = g v / ||v||), here with
`flax.linen.WeightNorm` (`weight_norm=True`).

`NoisyMLPClassifier` (``model.arch='mlp'``): Salimans et al.'s MNIST
discriminator (section 5, and their code openai/improved-gan,
mnist_svhn_cifar10/train_mnist_feature_matching.py), a fully connected ReLU
stack with additive Gaussian noise on the input and after every hidden layer
(training mode only). The noise is the regulariser that makes the
unsupervised real/fake signal useful to the classifier with few labels.

`ConvClassifier` (``model.arch='conv'``): their CIFAR-10 / SVHN discriminator
(section 5; mnist_svhn_cifar10/train_cifar_feature_matching.py), for images
of side 12 or more (the family builds it at 16, 32 or 64). Dropout 0.2 on the input; weight-normalised 3x3 convolutions with leaky
ReLU(0.2): w, w, w stride 2, dropout 0.5, 2w, 2w, 2w stride 2, dropout 0.5,
2w 3x3 valid, 2w 1x1, 2w 1x1; global average pooling (the features, F = 2w);
a weight-normalised dense layer to the K logits. Their w is 96; optional
Gaussian noise (theirs has none) on the input and after each downsampling
block, before the dropout. The generator of that arch is the DCGAN generator
(`nets.dcgan.DCGANGenerator`, BatchNorm, tanh output).

In training mode the Gaussian noise is drawn from the ``'noise'`` RNG stream and
the dropout masks from ``'dropout'`` (``apply(..., rngs={'noise': k1,
'dropout': k2})``); inference adds no noise and drops nothing.
"""

from typing import Sequence

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp


def gaussian_noise(module: nn.Module, h: jnp.ndarray, std: float, train: bool) -> jnp.ndarray:
  """``h + std * N(0, I)`` from `module`'s ``'noise'`` RNG stream in training mode; `h` otherwise."""
  if not train or std == 0:
    return h
  return h + std * jax.random.normal(module.make_rng("noise"), h.shape, h.dtype)


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
    return gaussian_noise(self, h, std, train)

  def _dense(self, width: int) -> nn.Module:
    return nn.WeightNorm(nn.Dense(width)) if self.weight_norm else nn.Dense(width)

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True):
    h = self._noise(x.reshape((x.shape[0], -1)), self.input_noise, train)
    for width in self.hidden:
      h = self._noise(nn.relu(self._dense(width)(h)), self.hidden_noise, train)
    return self._dense(self.num_classes)(h), h


class ConvClassifier(nn.Module):
  """images [B, R, R, C] -> (class logits [B, K], pooled features [B, 2 * width]).

  Salimans et al.'s CIFAR-10 discriminator (see the module docstring), R >= 12
  (the 3x3 valid convolution needs a 3x3 map after the two stride-2 blocks).

  Attributes:
    num_classes: K.
    width: channels of the first block (w); the second block and the head have 2w.
    input_dropout: dropout rate on the input (train only).
    hidden_dropout: dropout rate after each stride-2 block (train only).
    input_noise: std of the Gaussian added to the input (train only; data in [-1, 1]).
    hidden_noise: std of the Gaussian added after each stride-2 block (train only).
    weight_norm: weight-normalise every convolution and the dense layer.
  """
  num_classes: int = 10
  width: int = 96
  input_dropout: float = 0.2
  hidden_dropout: float = 0.5
  input_noise: float = 0.0
  hidden_noise: float = 0.0
  weight_norm: bool = True

  def _wn(self, layer: nn.Module) -> nn.Module:
    return nn.WeightNorm(layer) if self.weight_norm else layer

  def _conv(self, h: jnp.ndarray, width: int, size: int = 3, stride: int = 1,
            padding: str = "SAME") -> jnp.ndarray:
    conv = nn.Conv(width, (size, size), strides=(stride, stride), padding=padding)
    return nn.leaky_relu(self._wn(conv)(h), negative_slope=0.2)

  def _regularise(self, h: jnp.ndarray, std: float, rate: float, train: bool) -> jnp.ndarray:
    return nn.Dropout(rate, deterministic=not train)(gaussian_noise(self, h, std, train))

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True):
    chex.assert_rank(x, 4)
    h = self._regularise(x, self.input_noise, self.input_dropout, train)
    for width in (self.width, 2 * self.width):
      for stride in (1, 1, 2):
        h = self._conv(h, width, stride=stride)
      h = self._regularise(h, self.hidden_noise, self.hidden_dropout, train)
    if min(h.shape[1:3]) < 3:
      raise ValueError(f"images of side {x.shape[1]} leave a {h.shape[1]}x{h.shape[2]} map "
                       "for the 3x3 valid convolution; use a side of at least 12")
    h = self._conv(h, 2 * self.width, padding="VALID")
    for _ in range(2):
      h = self._conv(h, 2 * self.width, size=1)
    features = jnp.mean(h, axis=(1, 2))
    return self._wn(nn.Dense(self.num_classes))(features), features


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
