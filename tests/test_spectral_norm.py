"""Spectral normalisation: sigma against NumPy's SVD, which leaves are normalised, its gradient."""

import jax
import jax.numpy as jnp
import numpy as np

from gans_jax.nets import spectral_norm


def _params(rng):
  return {"Conv_0": {"kernel": jnp.asarray(rng.normal(size=(4, 4, 3, 8)), jnp.float32),
                     "bias": jnp.asarray(rng.normal(size=(8,)), jnp.float32)},
          "Dense_0": {"kernel": jnp.asarray(rng.normal(size=(20, 6)) * 3, jnp.float32)},
          "LayerNorm_0": {"scale": jnp.ones(8)},
          "embed": {"embedding": jnp.asarray(rng.normal(size=(10, 5)), jnp.float32)}}


def test_normalised_matrices_have_largest_singular_value_one():
  params = _params(np.random.default_rng(0))
  vectors = spectral_norm.init_vectors(params, jax.random.PRNGKey(0))
  assert set(vectors) == {"Conv_0", "Dense_0", "embed"}
  assert set(vectors["Conv_0"]) == {"kernel"}  # biases and scales are not matrices
  step = jax.jit(lambda v: spectral_norm.normalize(params, v))
  for _ in range(100):  # one power iteration per call, as in training
    normed, vectors = step(vectors)
  for path in (("Conv_0", "kernel"), ("Dense_0", "kernel"), ("embed", "embedding")):
    w = np.asarray(params[path[0]][path[1]], np.float64)
    mat = w.reshape(-1, w.shape[-1])
    top = np.linalg.svd(mat, compute_uv=False)[0]
    got = np.asarray(normed[path[0]][path[1]], np.float64).reshape(mat.shape)
    np.testing.assert_allclose(np.linalg.svd(got, compute_uv=False)[0], 1.0, rtol=1e-3)
    np.testing.assert_allclose(got * top, mat, rtol=1e-3, atol=1e-5)
  np.testing.assert_array_equal(normed["Conv_0"]["bias"], params["Conv_0"]["bias"])
  np.testing.assert_array_equal(normed["LayerNorm_0"]["scale"], params["LayerNorm_0"]["scale"])


def test_gradient_holds_the_power_iteration_vectors_constant():
  # L = <A, W / sigma>, sigma = v^T W u with u, v constants:
  # dL/dW = A / sigma - <A, W> / sigma^2 * v u^T.
  rng = np.random.default_rng(1)
  w = rng.normal(size=(7, 4))
  a = rng.normal(size=(7, 4))
  vectors = spectral_norm.init_vectors({"d": {"kernel": jnp.asarray(w, jnp.float32)}},
                                       jax.random.PRNGKey(1))

  def loss(kernel):
    normed, _ = spectral_norm.normalize({"d": {"kernel": kernel}}, vectors)
    return jnp.sum(jnp.asarray(a, jnp.float32) * normed["d"]["kernel"])

  grad = np.asarray(jax.grad(loss)(jnp.asarray(w, jnp.float32)), np.float64)
  u = np.asarray(vectors["d"]["kernel"], np.float64)
  v = w @ u
  v /= np.linalg.norm(v)
  u = w.T @ v
  u /= np.linalg.norm(u)
  sigma = v @ w @ u
  expected = a / sigma - np.sum(a * w) / sigma**2 * np.outer(v, u)
  np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-5)
