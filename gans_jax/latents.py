"""Latent sampling: the prior, and the truncation trick.

Truncation (Brock, Donahue & Simonyan 2019, "Large Scale GAN Training for High
Fidelity Natural Image Synthesis", arXiv:1809.11096, sec. 3.1): draw z from a
normal truncated to [-psi, psi] per coordinate. Smaller psi trades diversity
(recall) for fidelity (precision); psi = None is the untruncated prior.
"""

import jax
import jax.numpy as jnp


def sample_latents(key: jax.Array, num: int, z_dim: int, *, truncation: float | None = None,
                   dtype=jnp.float32) -> jax.Array:
  """z [num, z_dim] from N(0, I), or from N(0, I) truncated to [-psi, psi] per coordinate.

  Args:
    key: PRNG key.
    num: number of latents.
    z_dim: latent dimension.
    truncation: psi > 0, or None for no truncation.
  Returns:
    [num, z_dim] latents.
  """
  if truncation is None:
    return jax.random.normal(key, (num, z_dim), dtype)
  if truncation <= 0:
    raise ValueError(f"truncation must be positive, got {truncation}")
  return jax.random.truncated_normal(key, -truncation, truncation, (num, z_dim), dtype)
