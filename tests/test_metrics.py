"""Tests for gans_jax.metrics.

Every expected value comes from math independent of the code under test:
closed forms (diagonal Gaussians, one-hot predictions), SciPy's `sqrtm`,
NumPy's `mean`/`cov`, brute-force NumPy re-implementations of the reference
estimators written here, or small cases counted by hand in the comments.
"""

import functools
import math
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import chex
import hypothesis
from hypothesis import strategies as st
import jax
import jax.numpy as jnp
import numpy as np
from scipy import linalg
from scipy.spatial import distance

from gans_jax import metrics

_SETTINGS = hypothesis.settings(max_examples=20, deadline=None)


def _random_spd(dim, seed, rank=None):
  """A random symmetric PSD matrix (rank-deficient when rank < dim)."""
  rng = np.random.default_rng(seed)
  a = rng.normal(size=(dim, rank or dim + 2))
  return a @ a.T / a.shape[1]


def _ring(num_modes=8):
  angles = 2 * np.pi * np.arange(num_modes) / num_modes
  return np.stack([np.cos(angles), np.sin(angles)], axis=-1)


def _np_fid(mu1, s1, mu2, s2):
  """The TTUR/pytorch-fid formula with SciPy's general matrix square root."""
  covmean = linalg.sqrtm(np.float64(s1) @ np.float64(s2)).real
  diff = np.float64(mu1) - np.float64(mu2)
  return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


class PublicApiTest(absltest.TestCase):

  def test_all_lists_exactly_the_public_names(self):
    self.assertCountEqual(metrics.__all__, [
        "frechet_distance", "FeatureStats", "feature_stats_init",
        "feature_stats_update", "feature_stats_merge",
        "feature_stats_finalize", "inception_score",
        "kernel_inception_distance", "precision_recall", "density_coverage",
        "mode_coverage"])
    for name in metrics.__all__:
      self.assertTrue(hasattr(metrics, name), name)

  def test_options_are_keyword_only(self):
    x = jnp.zeros((10, 2))
    with self.assertRaises(TypeError):
      metrics.inception_score(jnp.full((10, 2), 0.5), 2)  # pytype: disable=wrong-arg-count
    with self.assertRaises(TypeError):
      metrics.precision_recall(x, x, 3)  # pytype: disable=wrong-arg-count
    with self.assertRaises(TypeError):
      metrics.density_coverage(x, x, 3)  # pytype: disable=wrong-arg-count
    with self.assertRaises(TypeError):
      metrics.kernel_inception_distance(x, x, 3)  # pytype: disable=wrong-arg-count
    with self.assertRaises(TypeError):
      metrics.frechet_distance(x[0], jnp.eye(2), x[0], jnp.eye(2), 1e-6)  # pytype: disable=wrong-arg-count

  def test_out_of_range_static_options_raise_value_error(self):
    x = jnp.zeros((4, 2))
    with self.assertRaisesRegex(ValueError, "num_splits"):
      metrics.inception_score(jnp.full((4, 2), 0.5), num_splits=5)
    with self.assertRaisesRegex(ValueError, "k must be"):
      metrics.precision_recall(x, x, k=4)
    with self.assertRaisesRegex(ValueError, "k must be"):
      metrics.density_coverage(x, x, k=0)
    with self.assertRaisesRegex(ValueError, "subset size"):
      metrics.kernel_inception_distance(x[:1], x)


class FrechetDistanceTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_identical_statistics_give_zero(self):
    mu = np.random.default_rng(0).normal(size=6).astype(np.float32)
    sigma = _random_spd(6, 1).astype(np.float32)
    fid = self.variant(metrics.frechet_distance)(mu, sigma, mu, sigma)
    chex.assert_shape(fid, ())
    # float32 rounding of traces of size ~6.
    np.testing.assert_allclose(fid, 0.0, atol=1e-4)

  def test_is_symmetric(self):
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.normal(size=(2, 6)).astype(np.float32)
    s1, s2 = _random_spd(6, 3), _random_spd(6, 4)
    fid = metrics.frechet_distance
    np.testing.assert_allclose(fid(mu1, s1, mu2, s2), fid(mu2, s2, mu1, s1),
                               rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_diagonal_covariances_match_closed_form(self):
    # Commuting diagonal covariances: tr (AB)^{1/2} = sum sqrt(a_i b_i), so
    # d^2 = |mu1 - mu2|^2 + sum (sqrt a_i - sqrt b_i)^2.
    rng = np.random.default_rng(5)
    mu1, mu2 = rng.normal(size=(2, 6))
    a, b = rng.uniform(0.1, 3.0, size=(2, 6))
    expected = np.sum((mu1 - mu2)**2) + np.sum((np.sqrt(a) - np.sqrt(b))**2)
    fid = self.variant(metrics.frechet_distance)(
        np.float32(mu1), np.diag(a).astype(np.float32), np.float32(mu2),
        np.diag(b).astype(np.float32))
    np.testing.assert_allclose(fid, expected, rtol=1e-5)

  def test_rank_deficient_diagonal_covariances_match_closed_form(self):
    # Zeros on the diagonals: singular, still sum (sqrt a - sqrt b)^2.
    a = np.array([0.0, 2.0, 0.0, 1.0, 4.0, 0.0])
    b = np.array([0.0, 0.0, 3.0, 1.0, 1.0, 0.5])
    mu1, mu2 = np.zeros(6), np.full(6, 0.5)
    expected = 6 * 0.25 + np.sum((np.sqrt(a) - np.sqrt(b))**2)
    fid = metrics.frechet_distance(
        np.float32(mu1), np.diag(a).astype(np.float32), np.float32(mu2),
        np.diag(b).astype(np.float32))
    np.testing.assert_allclose(fid, expected, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_matches_scipy_sqrtm_on_random_spd_matrices_in_float64(self):
    rng = np.random.default_rng(6)
    with jax.enable_x64(True):
      for seed in range(3):
        mu1, mu2 = rng.normal(size=(2, 16))
        s1, s2 = _random_spd(16, 10 + seed), _random_spd(16, 20 + seed)
        fid = self.variant(metrics.frechet_distance)(mu1, s1, mu2, s2)
        chex.assert_type(fid, jnp.float64)
        np.testing.assert_allclose(fid, _np_fid(mu1, s1, mu2, s2), rtol=1e-4)

  def test_rank_deficient_covariances_give_a_finite_non_negative_value(self):
    # Fewer "samples" (rank 5) than dimensions (32), as with N < 2048.
    mu = np.zeros(32, np.float32)
    s1 = _random_spd(32, 7, rank=5).astype(np.float32)
    s2 = _random_spd(32, 8, rank=5).astype(np.float32)
    fid = metrics.frechet_distance(mu, s1, mu, s2)
    self.assertTrue(np.isfinite(fid))
    self.assertGreater(float(fid), 0.0)
    # The same matrices against themselves: 0 up to rounding, not NaN (the
    # square roots of eigenvalues of S1 sigma2 S1 would be ~3e-2 off here).
    np.testing.assert_allclose(
        metrics.frechet_distance(mu, s1, mu, s1), 0.0, atol=1e-4)

  @parameterized.named_parameters(("eager", False), ("jit", True))
  def test_non_finite_first_attempt_falls_back_to_offset_covariances(
      self, use_jit):
    # Force the first trace-of-sqrt to NaN; the guard must recompute with
    # sigma + eps I in the product and the original traces (pytorch-fid).
    real_trace_sqrt = metrics._trace_sqrt_product
    calls = []

    def nan_on_first_call(s1, s2):
      calls.append(None)
      out = real_trace_sqrt(s1, s2)
      return out * jnp.nan if len(calls) == 1 else out

    rng = np.random.default_rng(9)
    mu1, mu2 = rng.normal(size=(2, 4))
    s1, s2 = _random_spd(4, 11), _random_spd(4, 12)
    eps = 0.5  # large, so the offset visibly changes the answer
    # The un-jitted core, so that no compiled version cached by another test
    # bypasses the patch.
    fn = metrics._frechet_distance
    with jax.enable_x64(True), mock.patch.object(
        metrics, "_trace_sqrt_product", nan_on_first_call):
      fid = (jax.jit(fn) if use_jit else fn)(mu1, s1, mu2, s2, eps)
    offset = eps * np.eye(4)
    covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset)).real
    expected = (np.sum((mu1 - mu2)**2) + np.trace(s1) + np.trace(s2)
                - 2 * np.trace(covmean))
    np.testing.assert_allclose(fid, expected, rtol=1e-8)
    self.assertFalse(np.isclose(expected, _np_fid(mu1, s1, mu2, s2)))

  def test_float32_in_gives_float32_out(self):
    mu = jnp.zeros(6)
    fid = metrics.frechet_distance(mu, jnp.eye(6), mu + 1.0, 4.0 * jnp.eye(6))
    chex.assert_type(fid, jnp.float32)
    np.testing.assert_allclose(fid, 6.0 + 6.0, rtol=1e-6)  # 6*1^2 + 6*(1-2)^2

  @hypothesis.given(seeds=st.tuples(*[st.integers(0, 2**31 - 1)] * 3))
  @_SETTINGS
  def test_square_root_satisfies_triangle_inequality(self, seeds):
    # sqrt(FID) is the 2-Wasserstein distance between Gaussians, a metric.
    gaussians = []
    for seed in seeds:
      rng = np.random.default_rng(seed)
      gaussians.append((rng.normal(size=16) * rng.uniform(0, 3),
                        _random_spd(16, seed + 1) * rng.uniform(0.01, 5)))
    with jax.enable_x64(True):
      d = lambda a, b: math.sqrt(max(float(metrics.frechet_distance(
          *gaussians[a], *gaussians[b])), 0.0))
      self.assertLessEqual(d(0, 2), d(0, 1) + d(1, 2) + 1e-7)


class FeatureStatsTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_streamed_statistics_equal_numpy_mean_and_cov(self):
    x = np.random.default_rng(0).normal(size=(34, 3)).astype(np.float32)
    update = self.variant(metrics.feature_stats_update)
    stats = metrics.feature_stats_init(3)
    for batch in np.split(x, [13, 14, 19, 21]):  # sizes 13, 1, 5, 2, 13
      stats = update(stats, batch)
    self.assertEqual(int(stats.count), 34)
    mu, sigma = metrics.feature_stats_finalize(stats)
    np.testing.assert_allclose(mu, np.mean(np.float64(x), 0), atol=1e-6)
    np.testing.assert_allclose(
        sigma, np.cov(np.float64(x), rowvar=False), atol=1e-5)
    np.testing.assert_array_equal(sigma, np.asarray(sigma).T)

  def test_large_common_offset_keeps_float32_covariance_accurate(self):
    # Features 1000 + N(0, 1): raw float32 sums of squares (~1e6 per term)
    # would lose the unit variance entirely; shifted sums keep it.
    x = 1000.0 + np.random.default_rng(1).normal(size=(13 * 300, 3))
    stats = metrics.feature_stats_init(3, jnp.float32)
    for batch in np.split(x.astype(np.float32), 300):
      stats = metrics.feature_stats_update(stats, batch)
    mu, sigma = metrics.feature_stats_finalize(stats)
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), atol=2e-3)

  @chex.variants(with_jit=True, without_jit=True)
  def test_merge_equals_sequential_update(self):
    rng = np.random.default_rng(2)
    batches = [rng.normal(size=(n, 3)).astype(np.float32) + 3.0
               for n in (5, 13, 2, 13)]
    sequential = metrics.feature_stats_init(3)
    for b in batches:
      sequential = metrics.feature_stats_update(sequential, b)
    left = metrics.feature_stats_update(
        metrics.feature_stats_update(metrics.feature_stats_init(3),
                                     batches[0]), batches[1])
    right = metrics.feature_stats_update(
        metrics.feature_stats_update(metrics.feature_stats_init(3),
                                     batches[2]), batches[3])
    merged = self.variant(metrics.feature_stats_merge)(left, right)
    self.assertEqual(int(merged.count), int(sequential.count))
    for a, b in zip(metrics.feature_stats_finalize(merged),
                    metrics.feature_stats_finalize(sequential)):
      np.testing.assert_allclose(a, b, atol=1e-5)

  def test_merging_empty_statistics_changes_nothing(self):
    x = np.random.default_rng(3).normal(size=(13, 3)).astype(np.float32)
    stats = metrics.feature_stats_update(metrics.feature_stats_init(3), x)
    empty = metrics.feature_stats_init(3)
    for merged in (metrics.feature_stats_merge(stats, empty),
                   metrics.feature_stats_merge(empty, stats)):
      chex.assert_trees_all_close(merged, stats, atol=1e-6)

  def test_accumulates_in_float64_when_x64_is_enabled(self):
    with jax.enable_x64(True):
      stats = metrics.feature_stats_init(3)
      stats = metrics.feature_stats_update(stats, np.ones((2, 3)))
      chex.assert_type([stats.sum, stats.outer_sum], jnp.float64)
    chex.assert_type(metrics.feature_stats_init(3).sum, jnp.float32)

  @hypothesis.given(
      sizes=st.lists(st.sampled_from([1, 2, 5, 13]), min_size=1, max_size=8),
      seed=st.integers(0, 2**31 - 1))
  @_SETTINGS
  def test_any_batching_gives_numpy_cov_of_the_concatenation(self, sizes,
                                                             seed):
    # Batch sizes from a fixed set, in any order and number: the compiled
    # update is reused across examples instead of compiled per new size.
    sizes = [2] + sizes  # at least two rows in all
    x = np.random.default_rng(seed).normal(size=(sum(sizes), 3)) * 5 + 2
    with jax.enable_x64(True):
      stats = metrics.feature_stats_init(3)
      for batch in np.split(x, np.cumsum(sizes)[:-1]):
        stats = metrics.feature_stats_update(stats, batch)
      mu, sigma = metrics.feature_stats_finalize(stats)
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-10,
                               atol=1e-10)


def _np_inception_score(probs, splits):
  """The Salimans et al. reference loop, in float64 NumPy."""
  probs = np.float64(probs)
  n = len(probs)
  scores = []
  for i in range(splits):
    part = probs[i * n // splits:(i + 1) * n // splits]
    py = part.mean(0, keepdims=True)
    kl = part * (np.log(part) - np.log(py))
    scores.append(np.exp(np.mean(np.sum(kl, 1))))
  return np.mean(scores), np.std(scores)


class InceptionScoreTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_confident_balanced_predictions_score_the_class_count(self):
    # 5 classes, 5 splits of 10 rows; each split has every class twice:
    # p(y) uniform, KL(onehot || uniform) = log 5, IS = 5 in every split.
    probs = np.eye(5, dtype=np.float32)[np.arange(50) % 5]
    mean, std = self.variant(
        functools.partial(metrics.inception_score, num_splits=5))(probs)
    np.testing.assert_allclose(mean, 5.0, rtol=1e-6)
    np.testing.assert_allclose(std, 0.0, atol=1e-6)

  def test_collapsed_generator_scores_one(self):
    probs = np.tile(np.eye(4, dtype=np.float32)[2], (30, 1))
    mean, std = metrics.inception_score(probs, num_splits=3)
    np.testing.assert_allclose(mean, 1.0, rtol=1e-6)
    np.testing.assert_allclose(std, 0.0, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_hand_computed_two_row_case(self):
    # p(y) = (3/4, 1/4). Row 1: 1 log(1/(3/4)) = log(4/3).
    # Row 2: .5 log(.5/.75) + .5 log(.5/.25) = .5 log(4/3).
    # IS = exp(mean) = exp(.75 log(4/3)) = (4/3)^(3/4).
    probs = np.array([[1.0, 0.0], [0.5, 0.5]], np.float32)
    mean, std = self.variant(
        functools.partial(metrics.inception_score, num_splits=1))(probs)
    np.testing.assert_allclose(mean, (4.0 / 3.0)**0.75, rtol=1e-6)
    np.testing.assert_allclose(std, 0.0, atol=1e-7)

  @chex.variants(with_jit=True, without_jit=True)
  def test_uneven_splits_use_floor_boundaries(self):
    # N = 7, 3 splits -> rows [0, 2), [2, 4), [4, 7) (i N // K), not the
    # (3, 2, 2) of np.array_split. Scores: {e0, e1} -> 2, {e0, e0} -> 1,
    # {e0, e1, e2} -> 3; mean 2, std sqrt(2/3).
    e = np.eye(3, dtype=np.float32)
    probs = e[[0, 1, 0, 0, 0, 1, 2]]
    mean, std = self.variant(
        functools.partial(metrics.inception_score, num_splits=3))(probs)
    np.testing.assert_allclose(mean, 2.0, rtol=1e-6)
    np.testing.assert_allclose(std, math.sqrt(2.0 / 3.0), rtol=1e-5)

  def test_matches_numpy_reference_loop_on_random_softmax(self):
    logits = np.random.default_rng(4).normal(size=(103, 10)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    mean, std = metrics.inception_score(probs.astype(np.float32),
                                        num_splits=10)
    ref_mean, ref_std = _np_inception_score(probs, 10)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-5)
    np.testing.assert_allclose(std, ref_std, rtol=1e-3, atol=1e-6)

  @hypothesis.given(seed=st.integers(0, 2**31 - 1),
                    scale=st.floats(0.0, 20.0))
  @_SETTINGS
  def test_score_lies_between_one_and_class_count(self, seed, scale):
    num_classes = 4
    logits = scale * np.random.default_rng(seed).normal(size=(30, num_classes))
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs = (probs / probs.sum(1, keepdims=True)).astype(np.float32)
    mean, _ = metrics.inception_score(probs, num_splits=3)
    self.assertGreaterEqual(float(mean), 1.0 - 1e-5)
    self.assertLessEqual(float(mean), num_classes + 1e-4)


def _np_unbiased_mmd2(x, y):
  """The reference `_mmd2_and_variance(..., mmd_est='unbiased')`, float64."""
  x, y = np.float64(x), np.float64(y)
  d, m = x.shape[1], x.shape[0]
  kernel = lambda a, b: (a @ b.T / d + 1.0)**3
  k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
  off_diagonal = lambda k: k.sum() - np.trace(k)
  return ((off_diagonal(k_xx) + off_diagonal(k_yy)) / (m * (m - 1))
          - 2 * k_xy.sum() / m**2)


class KernelInceptionDistanceTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_full_size_subsets_match_numpy_unbiased_estimator(self):
    # subset_size >= n: each subset is a permutation of the whole set and the
    # estimator is permutation invariant, so every subset gives the same value.
    rng = np.random.default_rng(0)
    real = rng.normal(size=(12, 4)).astype(np.float32)
    fake = (rng.normal(size=(12, 4)) * 1.5 + 0.7).astype(np.float32)
    kid = functools.partial(metrics.kernel_inception_distance, num_subsets=3,
                            subset_size=1000)
    mean, std = self.variant(kid)(real, fake)
    expected = _np_unbiased_mmd2(fake, real)
    self.assertGreater(expected, 0.0)
    np.testing.assert_allclose(mean, expected, rtol=1e-4)
    np.testing.assert_allclose(std, 0.0, atol=1e-4 * expected)

  def test_subset_size_is_clipped_to_the_smaller_set(self):
    # 10 reals, 30 identical fakes: every subset is all 10 reals and 10 copies
    # of the fake point, whichever rows are drawn.
    rng = np.random.default_rng(1)
    real = rng.normal(size=(10, 3)).astype(np.float32)
    fake = np.tile(np.float32([[0.5, -1.0, 2.0]]), (30, 1))
    mean, _ = metrics.kernel_inception_distance(
        real, fake, num_subsets=4, subset_size=1000)
    np.testing.assert_allclose(mean, _np_unbiased_mmd2(fake[:10], real),
                               rtol=1e-4)

  def test_two_samples_of_one_distribution_give_near_zero(self):
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(2, 400, 8)).astype(np.float32)
    kid = functools.partial(metrics.kernel_inception_distance, num_subsets=10,
                            subset_size=200)
    same, _ = kid(real, fake)
    shifted, _ = kid(real, fake + 0.5)
    # The unbiased estimate of a zero MMD^2 scatters around 0 (about +-0.02
    # for m = 200, d = 8); a 0.5 shift in every coordinate gives ~1.
    self.assertLess(abs(float(same)), 0.05)
    self.assertGreater(float(shifted), 0.5)

  def test_default_key_is_prng_key_zero(self):
    rng = np.random.default_rng(3)
    real = rng.normal(size=(10, 3)).astype(np.float32)
    fake = rng.normal(size=(30, 3)).astype(np.float32)
    kid = functools.partial(metrics.kernel_inception_distance, num_subsets=4,
                            subset_size=1000)
    chex.assert_trees_all_close(kid(real, fake),
                                kid(real, fake, key=jax.random.PRNGKey(0)))
    self.assertFalse(np.allclose(kid(real, fake)[0],
                                 kid(real, fake, key=jax.random.PRNGKey(1))[0]))


def _np_knn_radii(points, k):
  d = distance.cdist(points, points)
  np.fill_diagonal(d, np.inf)
  return np.sort(d, axis=1)[:, k - 1]


def _np_precision_recall(real, fake, k):
  """Brute force Kynkäänniemi et al.: closed balls, full distance matrix."""
  real, fake = np.float64(real), np.float64(fake)
  d = distance.cdist(real, fake)
  precision = np.mean(np.any(d <= _np_knn_radii(real, k)[:, None], axis=0))
  recall = np.mean(np.any(d <= _np_knn_radii(fake, k)[None, :], axis=1))
  return precision, recall


def _np_density_coverage(real, fake, k):
  """Brute force Naeem et al.: open balls around the reals."""
  real, fake = np.float64(real), np.float64(fake)
  inside = distance.cdist(real, fake) < _np_knn_radii(real, k)[:, None]
  return inside.sum() / (k * len(fake)), np.mean(inside.any(axis=1))


# (name, block_size, k, fake scale, fake shift): uneven blocks with a small k
# (repeated minima), and one row per block with a k large enough for the
# lax.top_k path, fakes moved away so that the sets overlap only partly even
# with these large balls. The hand-counted tests cover a single block.
_BRUTE_FORCE_CASES = (
    ("uneven_blocks_small_k", 7, 4, 1.3, 0.4),
    ("single_rows_large_k", 1, 40, 1.0, 3.0))


def _brute_force_sets(scale, shift):
  rng = np.random.default_rng(3)
  real = rng.normal(size=(60, 3)).astype(np.float32)
  fake = (rng.normal(size=(45, 3)) * scale + shift).astype(np.float32)
  return real, fake


class PrecisionRecallTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_fakes_equal_to_reals_give_full_precision_and_recall(self):
    real = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    pr = self.variant(functools.partial(metrics.precision_recall, k=3))(
        real, real.copy())
    np.testing.assert_allclose(pr["precision"], 1.0)
    np.testing.assert_allclose(pr["recall"], 1.0)

  def test_far_away_fakes_give_zero_precision_and_recall(self):
    rng = np.random.default_rng(1)
    real = rng.normal(size=(40, 3)).astype(np.float32)
    fake = rng.normal(size=(40, 3)).astype(np.float32) + 100.0
    pr = metrics.precision_recall(real, fake, k=3)
    np.testing.assert_allclose(pr["precision"], 0.0)
    np.testing.assert_allclose(pr["recall"], 0.0)

  def test_half_near_half_far_fakes_give_half_precision(self):
    rng = np.random.default_rng(2)
    real = rng.normal(size=(40, 3)).astype(np.float32)
    # 20 fakes within 1e-3 of a real point (inside its ball: radii are ~0.1+),
    # 20 fakes 100 away from everything.
    fake = np.concatenate([real[:20] + 1e-3, real[20:] + 100.0])
    pr = metrics.precision_recall(real, fake, k=3)
    np.testing.assert_allclose(pr["precision"], 0.5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_hand_counted_one_dimensional_case(self):
    # Reals {0, 1, 3, 7}, k = 1: radii 1, 1, 2, 4, closed balls
    # [-1, 1], [0, 2], [1, 5], [3, 11].
    # Fakes {0.5, 1.5, 20, 21, 5.5, 6}, k = 1: radii 1, 1, 1, 1, .5, .5, balls
    # [-.5, 1.5], [.5, 2.5], [19, 21], [20, 22], [5, 6], [5.5, 6.5].
    # Precision: .5, 1.5, 5.5, 6 are in real balls -> 4/6.
    # Recall: 0 and 1 are in fake balls, 3 and 7 are not -> 2/4.
    real = np.float32([[0], [1], [3], [7]])
    fake = np.float32([[0.5], [1.5], [20], [21], [5.5], [6]])
    pr = self.variant(functools.partial(metrics.precision_recall, k=1))(
        real, fake)
    np.testing.assert_allclose(pr["precision"], 4 / 6, rtol=1e-6)
    np.testing.assert_allclose(pr["recall"], 0.5, rtol=1e-6)

  def test_duplicates_are_neighbours_at_distance_zero(self):
    # Reals {0, 0, 5, 9}, k = 1: the two zeros are each other's nearest
    # neighbour, radius 0; balls [0, 0], [0, 0], [1, 9], [5, 13]. Fakes
    # {0, .5, 12, 50, 60, 70}: 0 and 12 are inside -> precision 2/6.
    real = np.float32([[0], [0], [5], [9]])
    fake = np.float32([[0], [0.5], [12], [50], [60], [70]])
    pr = metrics.precision_recall(real, fake, k=1)
    np.testing.assert_allclose(pr["precision"], 2 / 6, rtol=1e-6)

  @parameterized.named_parameters(*_BRUTE_FORCE_CASES)
  def test_matches_numpy_brute_force_for_any_block_size_and_k(
      self, block_size, k, scale, shift):
    real, fake = _brute_force_sets(scale, shift)
    pr = metrics.precision_recall(real, fake, k=k, block_size=block_size)
    precision, recall = _np_precision_recall(real, fake, k)
    self.assertTrue(0.0 < precision < 1.0 and 0.0 < recall < 1.0)
    np.testing.assert_allclose(pr["precision"], precision, rtol=1e-6)
    np.testing.assert_allclose(pr["recall"], recall, rtol=1e-6)


class DensityCoverageTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_fakes_equal_to_reals_give_unit_density_and_full_coverage(self):
    # With Y = X and no distance ties, the open ball of X_i holds X_i and its
    # k - 1 nearest neighbours: sum of counts = N k, density = 1 exactly.
    real = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    dc = self.variant(functools.partial(metrics.density_coverage, k=5))(
        real, real.copy())
    np.testing.assert_allclose(dc["density"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(dc["coverage"], 1.0)

  def test_far_away_fakes_give_zero_density_and_coverage(self):
    rng = np.random.default_rng(1)
    real = rng.normal(size=(40, 3)).astype(np.float32)
    fake = rng.normal(size=(40, 3)).astype(np.float32) - 100.0
    dc = metrics.density_coverage(real, fake, k=5)
    np.testing.assert_allclose(dc["density"], 0.0)
    np.testing.assert_allclose(dc["coverage"], 0.0)

  @chex.variants(with_jit=True, without_jit=True)
  def test_hand_counted_one_dimensional_case(self):
    # Reals {0, 1, 3, 7}, k = 1: open balls (-1, 1), (0, 2), (1, 5), (3, 11).
    # Fakes {.5, .25, 20, 6, 30, 40}: .5 and .25 are each in 2 balls, 6 in
    # one, the rest in none -> density 5 / (1 * 6). Balls holding a fake:
    # those of 0, 1 and 7, not 3 -> coverage 3/4.
    real = np.float32([[0], [1], [3], [7]])
    fake = np.float32([[0.5], [0.25], [20], [6], [30], [40]])
    dc = self.variant(functools.partial(metrics.density_coverage, k=1))(
        real, fake)
    np.testing.assert_allclose(dc["density"], 5 / 6, rtol=1e-6)
    np.testing.assert_allclose(dc["coverage"], 0.75, rtol=1e-6)

  def test_ball_boundary_counts_for_precision_but_not_for_density(self):
    # Fake at -1 lies exactly on the boundary of the real ball [-1, 1] around
    # 0 (every number here is exact in float32): closed balls (Kynkäänniemi)
    # include it, open balls (Naeem) do not.
    real = np.float32([[0], [1], [3], [7]])
    fake = np.float32([[-1.0], [30.0], [40.0], [50.0], [60.0], [70.0]])
    np.testing.assert_allclose(
        metrics.precision_recall(real, fake, k=1)["precision"], 1 / 6,
        rtol=1e-6)
    dc = metrics.density_coverage(real, fake, k=1)
    self.assertEqual(float(dc["density"]), 0.0)
    self.assertEqual(float(dc["coverage"]), 0.0)

  @parameterized.named_parameters(*_BRUTE_FORCE_CASES)
  def test_matches_numpy_brute_force_for_any_block_size_and_k(
      self, block_size, k, scale, shift):
    real, fake = _brute_force_sets(scale, shift)
    dc = metrics.density_coverage(real, fake, k=k, block_size=block_size)
    density, coverage = _np_density_coverage(real, fake, k)
    self.assertTrue(0.0 < coverage < 1.0)
    np.testing.assert_allclose(dc["density"], density, rtol=1e-6)
    np.testing.assert_allclose(dc["coverage"], coverage, rtol=1e-6)


class ModeCoverageTest(chex.TestCase):
  # Ring of 8 unit-radius modes with sigma = 0.01 (3 sigma = 0.03).

  @chex.variants(with_jit=True, without_jit=True)
  def test_uniform_hits_on_all_modes_give_eight_modes_and_zero_kl(self):
    centers = _ring()
    noise = np.random.default_rng(0).uniform(-0.01, 0.01, size=(16, 2))
    samples = np.repeat(centers, 2, axis=0) + noise  # |noise| < 0.015 < 0.03
    out = self.variant(metrics.mode_coverage)(
        samples.astype(np.float32), centers.astype(np.float32), 0.01)
    self.assertEqual(int(out["modes"]), 8)
    np.testing.assert_allclose(out["high_quality"], 1.0)
    np.testing.assert_allclose(out["reverse_kl"], 0.0, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_collapse_to_one_mode_gives_kl_log_eight(self):
    # q = (1, 0, ..., 0): KL(q || u) = 1 log(1 / (1/8)) = log 8.
    centers = _ring()
    samples = np.tile(centers[3], (16, 1))
    out = self.variant(metrics.mode_coverage)(
        samples.astype(np.float32), centers.astype(np.float32), 0.01)
    self.assertEqual(int(out["modes"]), 1)
    np.testing.assert_allclose(out["high_quality"], 1.0)
    np.testing.assert_allclose(out["reverse_kl"], math.log(8), rtol=1e-6)

  def test_points_far_from_every_centre_lower_the_high_quality_fraction(self):
    # One sample on each mode plus 8 at the origin (distance 1 = 100 sigma
    # from every centre): HQ = 8/16, histogram still uniform over 8 modes.
    centers = _ring()
    samples = np.concatenate([centers, np.zeros((8, 2))])
    out = metrics.mode_coverage(
        samples.astype(np.float32), centers.astype(np.float32), 0.01)
    self.assertEqual(int(out["modes"]), 8)
    np.testing.assert_allclose(out["high_quality"], 0.5)
    np.testing.assert_allclose(out["reverse_kl"], 0.0, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_hand_computed_histogram_kl(self):
    # HQ counts (2, 1, 1, 0, 0, 0, 0, 0) and 12 far samples: HQ = 4/16,
    # q = (.5, .25, .25), KL = .5 log(8 .5) + 2 (.25 log(8 .25))
    # = .5 log 4 + .5 log 2 = 1.5 log 2.
    centers = _ring()
    samples = np.concatenate([centers[[0, 0, 1, 2]], np.full((12, 2), 5.0)])
    out = self.variant(metrics.mode_coverage)(
        samples.astype(np.float32), centers.astype(np.float32), 0.01)
    self.assertEqual(int(out["modes"]), 3)
    np.testing.assert_allclose(out["high_quality"], 0.25)
    np.testing.assert_allclose(out["reverse_kl"], 1.5 * math.log(2),
                               rtol=1e-6)

  def test_high_quality_threshold_is_three_sigma(self):
    # Radial offsets of 2.9 sigma (HQ) and 3.1 sigma (not HQ) on a 5x5 grid.
    values = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = np.stack(np.meshgrid(values, values), -1).reshape(25, 2)
    std = 0.05
    samples = np.stack([centers[7] + [2.9 * std, 0.0],
                        centers[12] + [0.0, -3.1 * std]])
    out = metrics.mode_coverage(
        samples.astype(np.float32), centers.astype(np.float32), std)
    self.assertEqual(int(out["modes"]), 1)
    np.testing.assert_allclose(out["high_quality"], 0.5)
    np.testing.assert_allclose(out["reverse_kl"], math.log(25), rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_no_high_quality_sample_gives_nan_kl_and_zero_counts(self):
    centers = _ring()
    out = self.variant(metrics.mode_coverage)(
        np.zeros((16, 2), np.float32), centers.astype(np.float32), 0.01)
    self.assertEqual(int(out["modes"]), 0)
    np.testing.assert_allclose(out["high_quality"], 0.0)
    self.assertTrue(np.isnan(out["reverse_kl"]))


if __name__ == "__main__":
  absltest.main()
