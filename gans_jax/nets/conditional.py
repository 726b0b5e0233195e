"""Class-conditional DCGAN networks: the label fed as one-hot inputs, or by projection.

Generator (Mirza & Osindero 2014, "Conditional Generative Adversarial Nets",
arXiv:1411.1784): the class enters as a one-hot vector concatenated to z,
``G([z, onehot(y)])``; the rest is the unconditional DCGAN generator.

Discriminators, two ways of showing D the label:

* concat: the one-hot class broadcast over space as ``num_classes`` extra image
  channels, ``D([x, onehot(y) 1_{R x R}])`` (Mirza & Osindero 2014). Simple, and
  costs ``num_classes`` input channels.
* projection (Miyato & Koyama 2018, "cGANs with Projection Discriminator",
  arXiv:1802.05637, eq. 3): ``D(x, y) = psi(phi(x)) + <embed(y), phi(x)>``, the
  unconditional score plus the inner product of a learned class embedding with
  the penultimate features.

All three wrap the modules of `gans_jax.nets.dcgan` (as the submodule named
``dcgan``), so the trunk, its normalisation options and its sizing rules are
exactly those of the unconditional networks. Every discriminator returns
``(scores [B], features [B, F])``; `features` are the DCGAN trunk's
penultimate features phi(x), which do not see the label in the projection
discriminator and do (through the input channels) in the concat one.

Labels are int32 class indices of shape [B]. The generator also takes a float
class vector [B, K] in their place, used as the already-encoded class input
(one-hot rows give exactly the int-label output); latent editing in the full
generator input (`gans_jax.edit`, ``edit.space='input'``) moves it continuously.
"""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.nets.dcgan import DCGANDiscriminator, DCGANGenerator

__all__ = [
    "ConditionalDCGANGenerator",
    "ConcatDCGANDiscriminator",
    "ProjectionDCGANDiscriminator",
]


def _check_labels(labels: jnp.ndarray, batch: int) -> None:
  chex.assert_shape(labels, (batch,))
  chex.assert_type(labels, int)


class ConditionalDCGANGenerator(nn.Module):
  r"""(z [B, Z], labels [B] or class vectors [B, K]) -> images [B, R, R, C] in [-1, 1].

  .. math::
    G(z, y) = G_{\mathrm{DCGAN}}\big([z, \operatorname{onehot}(y)]\big),
    \qquad G(z, c) = G_{\mathrm{DCGAN}}([z, c]) \text{ for a float } c \in \mathbb{R}^K

  The DCGAN generator's first Dense layer takes a ``Z + num_classes`` input.
  Int labels are one-hot encoded; a float [B, K] array is taken as the encoded
  class input as it is (one-hot rows reproduce the int path exactly).

  Attributes:
    resolution: output side, 8, 16, 32 or 64.
    channels: image channels.
    width: channels of the last hidden stage (doubling towards 4x4).
    num_classes: number of classes K.
    axis_name: mapped axis over which train-mode BatchNorm averages its
      statistics (pmap/shard_map/vmap across replicas); None for one device.
  """
  resolution: int = 32
  channels: int = 1
  width: int = 64
  num_classes: int = 10
  axis_name: str | None = None
  conv_impl: str = "auto"  # see gans_jax.nets.dcgan
  dtype: str = "float32"   # see gans_jax.nets.precision

  @nn.compact
  def __call__(self, z: jnp.ndarray, labels: jnp.ndarray, train: bool = True) -> jnp.ndarray:
    """z [B, Z] and labels: int [B], or a float class vector [B, K] used as the encoding."""
    chex.assert_rank(z, 2)
    if jnp.issubdtype(jnp.asarray(labels).dtype, jnp.floating):
      # Already encoded: the class input itself, e.g. a one-hot row moved by
      # latent editing. A one-hot row here equals the int label exactly.
      chex.assert_shape(labels, (z.shape[0], self.num_classes))
      onehot = jnp.asarray(labels, z.dtype)
    else:
      _check_labels(labels, z.shape[0])
      onehot = jax.nn.one_hot(labels, self.num_classes, dtype=z.dtype)
    dcgan = DCGANGenerator(resolution=self.resolution, channels=self.channels, width=self.width,
                           axis_name=self.axis_name, conv_impl=self.conv_impl,
                           dtype=self.dtype, name="dcgan")
    return dcgan(jnp.concatenate([z, onehot], axis=-1), train=train)


class _ConditionalDiscriminator(nn.Module):
  """Fields shared by both conditional discriminators, and their DCGAN trunk."""
  resolution: int = 32
  width: int = 64
  norm: str = "batch"
  num_classes: int = 10
  axis_name: str | None = None
  conv_impl: str = "auto"  # see gans_jax.nets.dcgan
  dtype: str = "float32"   # see gans_jax.nets.precision

  def _trunk(self) -> DCGANDiscriminator:
    return DCGANDiscriminator(resolution=self.resolution, width=self.width, norm=self.norm,
                              axis_name=self.axis_name, conv_impl=self.conv_impl,
                              dtype=self.dtype, name="dcgan")


class ConcatDCGANDiscriminator(_ConditionalDiscriminator):
  r"""(images [B, R, R, C], labels [B]) -> (scores [B], features [B, F]).

  .. math::
    D(x, y) = D_{\mathrm{DCGAN}}\big([x, \operatorname{onehot}(y)\,
              \mathbf{1}_{R \times R}]\big)

  The class is appended as ``num_classes`` constant channels (1 in channel y,
  0 elsewhere), so the first conv has ``C + num_classes`` input channels.

  Attributes:
    resolution: input side, 8, 16, 32 or 64.
    width: channels of the first stage.
    norm: 'batch', 'layer' or 'none' (see `DCGANDiscriminator`).
    num_classes: number of classes K.
    axis_name: mapped axis over which train-mode BatchNorm averages its
      statistics (pmap/shard_map/vmap across replicas); None for one device.
  """

  @nn.compact
  def __call__(self, x: jnp.ndarray, labels: jnp.ndarray, train: bool = True):
    chex.assert_rank(x, 4)
    batch, height, width_px, _ = x.shape
    _check_labels(labels, batch)
    onehot = jax.nn.one_hot(labels, self.num_classes, dtype=x.dtype)
    maps = jnp.broadcast_to(onehot[:, None, None, :], (batch, height, width_px, self.num_classes))
    return self._trunk()(jnp.concatenate([x, maps], axis=-1), train=train)


class ProjectionDCGANDiscriminator(_ConditionalDiscriminator):
  r"""(images [B, R, R, C], labels [B]) -> (scores [B], features [B, F]).

  .. math::
    D(x, y) = \psi(\phi(x)) + \langle e_y, \phi(x) \rangle

  where phi(x) [F] are the DCGAN trunk's penultimate features (the returned
  `features`), psi is its final linear layer and ``e = Embed(num_classes, F)``
  (parameter ``embed/embedding`` [K, F]). Miyato & Koyama (2018) derive this
  form from the log density ratio when p(y|x) is log-linear in phi(x); it
  replaces the input concatenation and keeps the label out of the trunk.

  Attributes:
    resolution: input side, 8, 16, 32 or 64.
    width: channels of the first stage.
    norm: 'batch', 'layer' or 'none' (see `DCGANDiscriminator`).
    num_classes: number of classes K.
    axis_name: mapped axis over which train-mode BatchNorm averages its
      statistics (pmap/shard_map/vmap across replicas); None for one device.
  """

  @nn.compact
  def __call__(self, x: jnp.ndarray, labels: jnp.ndarray, train: bool = True):
    chex.assert_rank(x, 4)
    _check_labels(labels, x.shape[0])
    scores, features = self._trunk()(x, train=train)
    embedding = nn.Embed(self.num_classes, features.shape[-1], name="embed")(labels)
    projection = jnp.sum(embedding.astype(features.dtype) * features, axis=-1)
    return scores + projection, features
