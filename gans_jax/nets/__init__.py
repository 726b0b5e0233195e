"""Flax linen generators and discriminators.

Every discriminator returns ``(scores, features)``: scores of shape ``(B,)`` and
the penultimate features ``(B, F)`` that feature matching (Salimans et al. 2016)
needs. Every encoder returns ``(mean, log_var)`` of a diagonal Gaussian
q(z | x), each ``(B, z_dim)``.
"""

from gans_jax.nets.conditional import (ConcatDCGANDiscriminator, ConditionalDCGANGenerator,
                                       ProjectionDCGANDiscriminator)
from gans_jax.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gans_jax.nets.encoder import DCGANEncoder, MLPEncoder, reparameterize
from gans_jax.nets.mlp import MLPDiscriminator, MLPGenerator
from gans_jax.nets.sngan import ResNetDiscriminator, ResNetGenerator

__all__ = [
    "ConcatDCGANDiscriminator",
    "ConditionalDCGANGenerator",
    "ProjectionDCGANDiscriminator",
    "DCGANDiscriminator",
    "DCGANEncoder",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPEncoder",
    "MLPGenerator",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "reparameterize",
]
