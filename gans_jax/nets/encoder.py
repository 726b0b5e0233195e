"""Gaussian encoders q(z | x) for the VAE families, and the reparameterisation.

Both encoders map data to the parameters of a diagonal Gaussian,
``(mean [B, z_dim], log_var [B, z_dim])``, the recognition model of the VAE
(Kingma & Welling 2014, arXiv:1312.6114, sec. 2.4 and appendix C.2), also used
by beta-VAE (Higgins et al. 2017) and VAE-GAN (Larsen et al. 2016,
arXiv:1512.09300). ``log_var`` is an unconstrained linear output: the variance
``exp(log_var)`` is positive by construction, so no softplus or clipping is
needed.

* `DCGANEncoder`: the trunk of `gans_jax.nets.dcgan.DCGANDiscriminator`, layer
  for layer and with the same parameter names (strided 4x4 convs, LeakyReLU(0.2),
  a normalisation on every conv but the first), followed by two linear heads,
  ``mean`` and ``log_var``, in place of the discriminator's score.
  ``conv_impl``, ``norm`` and ``axis_name`` mean what they mean there.
* `MLPEncoder`: flattened data (2-D points, small images) through a Dense stack.
* `reparameterize`: ``z = mean + exp(log_var / 2) * eps``, ``eps ~ N(0, I)``,
  differentiable in ``mean`` and ``log_var``.
"""

from typing import Sequence

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.nets.dcgan import CONV_IMPL_CHOICES, NORMS, discriminator_trunk
from gans_jax.nets.mlp import _activation

ACTIVATIONS = ("relu", "leaky_relu", "tanh")


class DCGANEncoder(nn.Module):
  """images [B, R, R, C] -> (mean [B, z_dim], log_var [B, z_dim]).

  Attributes:
    resolution: R, one of 8, 16, 32, 64 (``log2(R / 4)`` stride-2 stages).
    z_dim: latent dimension.
    width: channels of the first stage; stage i has ``width * 2**i``.
    norm: 'batch', 'layer' or 'none', after every conv but the first.
    axis_name: BatchNorm statistics across replicas (pmap/shard_map) in
      training mode.
    conv_impl: 'auto', 'winograd', 'gemm' or 'xla': the same function and parameters
      (see `gans_jax.nets.dcgan`).
  """
  resolution: int = 32
  z_dim: int = 64
  width: int = 64
  norm: str = "batch"
  axis_name: str | None = None
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True):
    if self.norm not in NORMS:
      raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
    if self.conv_impl not in CONV_IMPL_CHOICES:
      raise ValueError(f"conv_impl must be one of {CONV_IMPL_CHOICES}, got {self.conv_impl!r}")
    chex.assert_rank(x, 4)
    if x.shape[1:3] != (self.resolution, self.resolution):
      raise ValueError(f"images must be {self.resolution}x{self.resolution}, got shape {x.shape}")
    # DCGANDiscriminator's trunk, with its module names, so the two share
    # checkpoints of these layers.
    features = discriminator_trunk(self, x, train)
    mean = nn.Dense(self.z_dim, name="mean")(features)
    log_var = nn.Dense(self.z_dim, name="log_var")(features)
    return mean, log_var


class MLPEncoder(nn.Module):
  """x [B, ...] (flattened) -> Dense stack -> (mean [B, z_dim], log_var [B, z_dim]).

  Attributes:
    z_dim: latent dimension.
    hidden: widths of the hidden layers.
    activation: 'relu', 'leaky_relu' (slope 0.2) or 'tanh'.
  """
  z_dim: int
  hidden: Sequence[int] = (256, 256)
  activation: str = "relu"

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True):
    del train  # no batch-dependent layers; the argument matches DCGANEncoder's
    if self.activation not in ACTIVATIONS:
      raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
    h = x.reshape((x.shape[0], -1))
    for width in self.hidden:
      h = _activation(self.activation, nn.Dense(width)(h))
    mean = nn.Dense(self.z_dim, name="mean")(h)
    log_var = nn.Dense(self.z_dim, name="log_var")(h)
    return mean, log_var


def reparameterize(key: jax.Array, mean: jnp.ndarray, log_var: jnp.ndarray, *,
                   num_samples: int | None = None) -> jnp.ndarray:
  r"""Samples z ~ N(mean, diag exp(log_var)) as a differentiable function of both.

  .. math::
    z = \mu + e^{v / 2} \odot \epsilon, \qquad \epsilon \sim \mathcal N(0, I),

  the reparameterisation trick of Kingma & Welling (2014, sec. 2.4,
  arXiv:1312.6114): the randomness is in :math:`\epsilon`, so gradients of a
  function of :math:`z` flow into :math:`\mu` and :math:`v`.

  Args:
    key: PRNG key for :math:`\epsilon`.
    mean: :math:`\mu`, shape ``(B, Z)`` (or any shape).
    log_var: :math:`v = \log \sigma^2`, the shape of ``mean``.
    num_samples: if given, K independent samples per example, stacked on a new
      leading axis (for the importance-weighted bound).

  Returns:
    ``z`` of the shape of ``mean``, or ``(K,) + mean.shape`` with
    ``num_samples=K``; of ``mean``'s dtype.
  """
  chex.assert_equal_shape([mean, log_var])
  shape = mean.shape if num_samples is None else (num_samples,) + mean.shape
  return posterior_sample(mean, log_var, jax.random.normal(key, shape, dtype=mean.dtype))


def posterior_sample(mean: jnp.ndarray, log_var: jnp.ndarray, eps: jnp.ndarray) -> jnp.ndarray:
  r""":math:`z = \mu + e^{v / 2} \odot \epsilon` for given standard normals `eps` (`reparameterize`
  with the noise drawn by the caller, e.g. per example from its global index)."""
  return mean + jnp.exp(0.5 * log_var) * eps
