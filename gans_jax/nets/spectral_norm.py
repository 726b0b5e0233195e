"""Spectral normalisation of a network's weights, as a pure transform of its parameters.

Every weight matrix W (a ``kernel`` or ``embedding`` leaf of a Flax parameter
tree) is divided by an estimate of its largest singular value,

.. math::
  \\bar W = W / \\sigma(W), \\qquad \\sigma(W) \\approx v^\\top W u, \\qquad
  v \\leftarrow \\frac{W u}{\\lVert W u\\rVert}, \\;
  u \\leftarrow \\frac{W^\\top v}{\\lVert W^\\top v\\rVert},

with W the leaf reshaped to ``[-1, out]`` (a conv kernel [kh, kw, cin, cout]
as [kh kw cin, cout], Miyato et al.'s approximation of the conv operator's
norm) and one vector u [out] per matrix carried between calls, so a single
power iteration per training step suffices. No gradient flows through u and
v (as in the reference implementation). Biases and normalisation scales
(1-D leaves) are left alone.

Miyato, Kataoka, Koyama & Yoshida, "Spectral Normalization for Generative
Adversarial Networks", 2018, arXiv:1802.05957.

Being a transform of the parameter tree, it normalises any network (DCGAN,
MLP, projection discriminators' class embeddings) without changing the
modules; the vectors u are state the caller keeps and checkpoints.
"""

import flax
import jax
import jax.numpy as jnp

NORMALISED = ("kernel", "embedding")  # the parameter names that are weight matrices
_EPS = 1e-12


def _normalised_paths(params) -> dict:
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params))
  return {path: w for path, w in flat.items()
          if path[-1] in NORMALISED and jnp.ndim(w) >= 2}


def init_vectors(params, key: jax.Array) -> dict:
  """One random unit vector u [out] per weight matrix of `params`, in a tree shaped like them.

  Args:
    params: a Flax parameter tree.
    key: PRNG key (each matrix's u from ``fold_in(key, its index)``).

  Returns:
    A nested dict with the paths of the normalised leaves of `params`.
  """
  vectors = {}
  for i, (path, w) in enumerate(sorted(_normalised_paths(params).items())):
    u = jax.random.normal(jax.random.fold_in(key, i), (w.shape[-1],), jnp.float32)
    vectors[path] = u / jnp.linalg.norm(u)
  return flax.traverse_util.unflatten_dict(vectors)


def _power_iteration(w: jax.Array, u: jax.Array, num_iterations: int):
  """(sigma, new u) for the matrix w [in, out] from the start vector u [out]."""
  w = jax.lax.stop_gradient(w)
  v = None
  for _ in range(num_iterations):
    v = w @ u
    v = v / (jnp.linalg.norm(v) + _EPS)
    u = w.T @ v
    u = u / (jnp.linalg.norm(u) + _EPS)
  return v, u


def normalize(params, vectors: dict, *, num_iterations: int = 1):
  """(spectrally normalised params, updated vectors).

  Args:
    params: a Flax parameter tree.
    vectors: `init_vectors(params)`'s tree (or its last update).
    num_iterations: power iterations per call (>= 1).

  Returns:
    ``(params with each weight matrix W replaced by W / sigma(W), vectors after
    the iterations)``; gradients flow to W through both W and sigma(W) = v^T W u,
    with u, v held constant.
  """
  if num_iterations < 1:
    raise ValueError(f"num_iterations must be >= 1, got {num_iterations}")
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params))
  new_vectors = {}
  for path, u in flax.traverse_util.flatten_dict(vectors).items():
    w = flat[path]
    mat = w.reshape(-1, w.shape[-1])
    v, u = _power_iteration(mat, u, num_iterations)
    sigma = v @ mat @ u
    flat[path] = w / sigma
    new_vectors[path] = u
  return (flax.traverse_util.unflatten_dict(flat),
          flax.traverse_util.unflatten_dict(new_vectors))
