"""The ex-post Gaussian-mixture prior (gans_jax.latent_prior) and its use by the VAE families."""

import importlib
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from gans_jax import latent_prior, trainer
from gans_jax.data import load_dataset
from gans_jax.errors import UserError
from gans_jax.families import check_config, vae

# Two well-separated 2-D components, unequal weights, correlated covariances.
WEIGHTS = np.array([0.3, 0.7])
MEANS = np.array([[-4.0, 1.0], [3.0, -2.0]])
COVS = np.array([[[1.0, 0.6], [0.6, 2.0]], [[0.5, -0.2], [-0.2, 0.8]]])


def mixture() -> latent_prior.GaussianMixture:
  return latent_prior.GaussianMixture(jnp.asarray(WEIGHTS, jnp.float32),
                                      jnp.asarray(MEANS, jnp.float32),
                                      jnp.asarray(np.linalg.cholesky(COVS), jnp.float32))


def test_log_density_is_scipys_mixture_density():
  z = np.random.default_rng(0).normal(size=(50, 2)) * 3
  expected = np.log(sum(w * stats.multivariate_normal(m, c).pdf(z)
                        for w, m, c in zip(WEIGHTS, MEANS, COVS)))
  np.testing.assert_allclose(np.asarray(latent_prior.log_density(mixture(), jnp.asarray(z))),
                             expected, rtol=1e-5, atol=1e-5)


def test_transform_of_standard_normals_samples_the_mixture():
  """Component frequencies (each sample lies near one mean) and each component's mean and
  covariance, from 200,000 transformed normals."""
  eps = jax.random.normal(jax.random.PRNGKey(0), (200_000, 2))
  z = np.asarray(latent_prior.transform(mixture(), eps), np.float64)
  nearest = np.argmin(((z[:, None] - MEANS[None]) ** 2).sum(-1), axis=1)
  np.testing.assert_allclose(np.bincount(nearest) / len(z), WEIGHTS, atol=0.005)
  for c in range(2):
    part = z[nearest == c]
    np.testing.assert_allclose(part.mean(0), MEANS[c], atol=0.03)
    np.testing.assert_allclose(np.cov(part, rowvar=False), COVS[c], atol=0.04)


def test_transform_in_one_dimension_has_the_mixture_cdf():
  """1-D: the transformed normals' empirical CDF is the mixture's (Kolmogorov-Smirnov)."""
  w, m, s = np.array([0.2, 0.5, 0.3]), np.array([-3.0, 0.0, 2.5]), np.array([0.5, 1.0, 0.3])
  prior = latent_prior.GaussianMixture(jnp.asarray(w, jnp.float32),
                                       jnp.asarray(m[:, None], jnp.float32),
                                       jnp.asarray(s[:, None, None], jnp.float32))
  eps = jax.random.normal(jax.random.PRNGKey(1), (50_000, 1))
  z = np.asarray(latent_prior.transform(prior, eps))[:, 0]
  cdf = lambda x: sum(wi * stats.norm(mi, si).cdf(x) for wi, mi, si in zip(w, m, s))
  assert stats.kstest(z, cdf).pvalue > 0.01


def test_truncation_keeps_the_weights_and_truncates_within_each_component():
  psi = 0.5
  eps = jax.random.truncated_normal(jax.random.PRNGKey(2), -psi, psi, (100_000, 2))
  z = np.asarray(latent_prior.transform(mixture(), eps, psi), np.float64)
  nearest = np.argmin(((z[:, None] - MEANS[None]) ** 2).sum(-1), axis=1)
  np.testing.assert_allclose(np.bincount(nearest) / len(z), WEIGHTS, atol=0.005)
  for c in range(2):
    # e = L^-1 (z - mean) is the component's standard normal: inside [-psi, psi].
    e = np.linalg.solve(np.linalg.cholesky(COVS[c]), (z[nearest == c] - MEANS[c]).T)
    assert np.abs(e).max() <= psi + 1e-4
    # ... and spread over it like a truncated normal (not piled at one edge).
    np.testing.assert_allclose(np.std(e[0]), stats.truncnorm(-psi, psi).std(), rtol=0.02)


def test_fit_recovers_a_known_mixture():
  rng = np.random.default_rng(3)
  counts = (WEIGHTS * 20_000).astype(int)
  codes = np.concatenate([rng.multivariate_normal(m, c, n) for m, c, n in zip(MEANS, COVS, counts)])
  fitted = latent_prior.fit(codes, 2, seed=0)
  order = np.argsort(np.asarray(fitted.means)[:, 0])
  np.testing.assert_allclose(np.asarray(fitted.weights)[order], WEIGHTS, atol=0.01)
  np.testing.assert_allclose(np.asarray(fitted.means)[order], MEANS, atol=0.05)
  chols = np.asarray(fitted.chols, np.float64)[order]
  np.testing.assert_allclose(chols @ chols.transpose(0, 2, 1), COVS, atol=0.06)


def _tiny_vae(data_dir: str):
  config = importlib.import_module("experiments.vae").get_config()
  config.dataset.data_dir, config.dataset.resolution = data_dir, 8
  config.model.e_width = config.model.g_width = 8
  config.model.z_dim = 3
  config.train.num_steps, config.train.batch_size = 30, 16
  config.log_every = config.sample_every = config.checkpoint_every = 30
  config.eval.latent_prior_draws, config.eval.latent_prior_components = 2000, 3
  return config


def test_a_standard_normal_mixture_gives_the_standard_priors_bounds(data_dir):
  """The mixture path of the test bounds, with the mixture set to N(0, I) itself, reproduces
  the standard path: the same importance-weighted bound (same draws), and an ELBO whose KL is
  the closed form's one-sample estimate."""
  config = _tiny_vae(data_dir)
  dataset = load_dataset("digits", data_dir=data_dir, resolution=8)
  fam = vae.VAE(config, dataset)
  state = fam.init_state(jax.random.PRNGKey(0))
  test = load_dataset("digits", split="test", data_dir=data_dir, resolution=8).all()
  key = jax.random.PRNGKey(4)
  standard = vae.test_bounds(fam, state, test, key, 20, 64)
  fam.latent_prior = latent_prior.GaussianMixture(jnp.ones((1,)), jnp.zeros((1, 3)),
                                                  jnp.eye(3)[None])
  mixed = vae.test_bounds(fam, state, test, key, 20, 64)
  np.testing.assert_allclose(mixed["log_likelihood_iw"], standard["log_likelihood_iw"], rtol=1e-5)
  np.testing.assert_allclose(mixed["elbo"], standard["elbo"], rtol=0.02)
  assert (standard["latent_prior_components"], mixed["latent_prior_components"]) == (0, 1)


def test_eval_with_the_mixture_prior_fits_it_and_scores_its_samples(data_dir, digits_classifier,
                                                                    tmp_path):
  config = _tiny_vae(data_dir)
  config.eval.classifier_dir = digits_classifier[0]
  config.eval.num_samples, config.eval.truncation_sweep = 500, ()
  trainer.train_and_evaluate(config, str(tmp_path), progress=False)
  config.eval.latent_prior = "gmm"
  from gans_jax.evaluate import evaluate  # pylint: disable=import-outside-toplevel
  results = evaluate(config, str(tmp_path))
  assert results["latent_prior_components"] == 3
  assert np.isfinite([results["fid"], results["elbo"], results["log_likelihood_iw"]]).all()
  assert json.load(open(tmp_path / "eval.json"))["latent_prior_components"] == 3
  assert (tmp_path / "eval_samples.png").exists()  # the picture of what was scored
  # --mode=sample draws from the mixture too: the same keys give other images than N(0, I).
  from gans_jax import export  # pylint: disable=import-outside-toplevel
  config.sample.num, config.sample.batch_size = 32, 16
  exported = {}
  for prior in ("standard", "gmm"):
    config.eval.latent_prior = prior
    export.export_samples(config, str(tmp_path))
    exported[prior] = np.load(tmp_path / export.EXPORT_DIR / export.NPZ_FILE)["arr_0"].astype(float)
  assert exported["gmm"].shape == exported["standard"].shape
  assert np.abs(exported["gmm"] - exported["standard"]).max() > 0


@pytest.mark.parametrize("field, value, message", [
    ("latent_prior", "vamp", r"eval\.latent_prior: 'vamp' is not one of standard, gmm"),
    ("latent_prior_components", 0, r"eval\.latent_prior_components: must be an integer >= 1"),
    ("latent_prior_draws", 5, r"eval\.latent_prior_draws: must be at least"),
])
def test_bad_latent_prior_fields_are_one_error_each(field, value, message):
  for name in ("vae", "vae_gan"):
    config = importlib.import_module(f"experiments.{name}").get_config()
    config.eval[field] = value
    with pytest.raises(UserError, match=message):
      check_config(config)
