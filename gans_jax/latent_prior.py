"""A Gaussian mixture over an autoencoder's latents, fitted after training (ex-post density
estimation).

A VAE's samples come from its prior N(0, I), but its decoder was trained on draws of the
aggregate posterior q(z) = E_x q(z | x), which N(0, I) matches only roughly: the regions of the
prior that no q(z | x) covers decode to images unlike the data (the "prior hole"). Ghosh et al.
2020 (arXiv:1903.12436, section 4) fit a mixture of full-covariance Gaussians to the training
codes after training and sample from it instead; here it is fitted to draws of q(z | x) (one per
draw of a training image), so that the mixture covers each posterior's spread and its density
bounds the likelihood of the same model the samples come from.

`transform` maps standard normals to mixture samples exactly, one [D] row to one [D] row, so the
samplers that draw z ~ N(0, I) (evaluation, export) draw from the mixture by applying it: the
first coordinate's normal CDF u picks component c with probability w_c (u in
[W_{c-1}, W_c), W the cumulative weights), the rescaled (u - W_{c-1}) / w_c is again uniform and
independent of c, and its normal quantile with the other coordinates is the component's
standard normal e; z = mean_c + L_c e with L_c the Cholesky factor of covariance_c.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import logsumexp, ndtr, ndtri

# Keeps the rescaled uniform off 0 and 1 (whose quantiles are infinite) in float32.
_EDGE = 1e-7


class GaussianMixture(NamedTuple):
  """Weights [K], means [K, D], Cholesky factors [K, D, D] (lower) of the covariances."""
  weights: jnp.ndarray
  means: jnp.ndarray
  chols: jnp.ndarray


def fit(codes: np.ndarray, num_components: int, seed: int) -> GaussianMixture:
  """The maximum-likelihood mixture of `num_components` full-covariance Gaussians for codes [N, D]
  (scikit-learn's EM from a k-means start, seeded; covariances regularised by 1e-6 I)."""
  # scikit-learn is imported only where a mixture is fitted.
  from sklearn.mixture import GaussianMixture as SklearnMixture  # pylint: disable=import-outside-toplevel
  codes = np.asarray(codes, np.float64)
  if len(codes) < num_components:
    raise ValueError(f"{len(codes)} codes cannot fit {num_components} components")
  gmm = SklearnMixture(num_components, covariance_type="full", random_state=seed,
                       reg_covar=1e-6, max_iter=500).fit(codes)
  return GaussianMixture(weights=jnp.asarray(gmm.weights_, jnp.float32),
                         means=jnp.asarray(gmm.means_, jnp.float32),
                         chols=jnp.asarray(np.linalg.cholesky(gmm.covariances_), jnp.float32))


def transform(prior: GaussianMixture, eps: jnp.ndarray,
              truncation: float | None = None) -> jnp.ndarray:
  """Standard normals eps [N, D] -> samples of the mixture [N, D] (module docstring).

  With `truncation` psi, eps are normals truncated to [-psi, psi] (`latents.sample_latents`):
  the component is still drawn with its weight, and the component's standard normal e is
  truncated to [-psi, psi] (the truncation trick within each component).
  """
  lo = 0.0 if truncation is None else ndtr(-float(truncation))
  mass = 1.0 if truncation is None else 1.0 - 2 * lo
  cumulative = jnp.cumsum(prior.weights)
  u = jnp.clip((ndtr(eps[:, 0]) - lo) / mass, 0.0, 1.0)  # uniform on [0, 1]
  c = jnp.clip(jnp.searchsorted(cumulative[:-1], u, side="right"), 0, len(prior.weights) - 1)
  below = jnp.where(c > 0, cumulative[jnp.maximum(c - 1, 0)], 0.0)
  v = jnp.clip((u - below) / prior.weights[c], _EDGE, 1 - _EDGE)  # uniform, independent of c
  e = eps.at[:, 0].set(ndtri(lo + v * mass))
  return prior.means[c] + jnp.einsum("nij,nj->ni", prior.chols[c], e)


def log_density(prior: GaussianMixture, z: jnp.ndarray) -> jnp.ndarray:
  """log sum_c w_c N(z; mean_c, L_c L_c^T) of z [..., D] (nats), shape [...]."""
  d = z.shape[-1]
  flat = z.reshape((-1, d))

  def component(mean, chol):
    white = solve_triangular(chol, (flat - mean).T, lower=True)  # [D, N]
    return (-0.5 * jnp.sum(white ** 2, axis=0) - jnp.sum(jnp.log(jnp.diag(chol)))
            - 0.5 * d * jnp.log(2 * jnp.pi))

  per_component = jax.vmap(component)(prior.means, prior.chols)  # [K, N]
  out = logsumexp(per_component + jnp.log(prior.weights)[:, None], axis=0)
  return out.reshape(z.shape[:-1])
