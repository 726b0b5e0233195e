"""Tests for gans_jax.losses.

Every expected value is computed here, independently of the code under test:
with float64 NumPy/SciPy formulas written in the test, or as hand-computed
constants whose derivation is in a comment.
"""

import functools
import inspect

from absl.testing import absltest
from absl.testing import parameterized
import chex
import hypothesis
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
import jax
import jax.numpy as jnp
from jax import test_util as jtu
import numpy as np
from scipy import integrate
from scipy import special
from scipy import stats
from scipy.spatial import distance

from gans_jax import losses

# (name, real shape, fake shape): a per-example score, a PatchGAN map, and a
# PatchGAN map with a different number of fake examples (the two means are
# taken separately, so the batch sizes need not agree).
_SHAPES = (
    ("per_example", (6,), (6,)),
    ("patchgan", (3, 4, 4, 1), (3, 4, 4, 1)),
    ("patchgan_unequal_batches", (2, 4, 4, 1), (5, 4, 4, 1)),
)


def _normal(shape, seed, scale=2.0):
  return (scale * np.random.default_rng(seed).normal(size=shape)).astype(
      np.float32)


# Independent float64 references, written with the textbook (not the stable)
# formulas: the test inputs are moderate, so sigmoid never rounds to 0 or 1.
def _np_log_d(x):
  return np.log(special.expit(np.float64(x)))


def _np_log_one_minus_d(x):
  return np.log(1.0 - special.expit(np.float64(x)))


def _np_minimax_d(real, fake, real_label=1.0):
  real_term = -(real_label * _np_log_d(real)
                + (1.0 - real_label) * _np_log_one_minus_d(real))
  return np.mean(real_term) + np.mean(-_np_log_one_minus_d(fake))


_NP_REFERENCES = {
    "minimax_discriminator_loss": _np_minimax_d,
    "minimax_generator_loss": lambda f: np.mean(_np_log_one_minus_d(f)),
    "non_saturating_generator_loss": lambda f: -np.mean(_np_log_d(f)),
    "wasserstein_discriminator_loss":
        lambda r, f: np.mean(np.float64(f)) - np.mean(np.float64(r)),
    "wasserstein_generator_loss": lambda f: -np.mean(np.float64(f)),
    "hinge_discriminator_loss":
        lambda r, f: (np.mean(np.maximum(0.0, 1.0 - np.float64(r)))
                      + np.mean(np.maximum(0.0, 1.0 + np.float64(f)))),
    "hinge_generator_loss": lambda f: -np.mean(np.float64(f)),
    "least_squares_discriminator_loss":
        lambda r, f: (0.5 * np.mean((np.float64(r) - 1.0)**2)
                      + 0.5 * np.mean(np.float64(f)**2)),
    "least_squares_generator_loss":
        lambda f: 0.5 * np.mean((np.float64(f) - 1.0)**2),
}
_DISCRIMINATOR_LOSSES = tuple(n for n in _NP_REFERENCES if "discriminator" in n)
_GENERATOR_LOSSES = tuple(n for n in _NP_REFERENCES if "generator" in n)


class PublicApiTest(absltest.TestCase):

  def test_all_lists_exactly_the_public_functions(self):
    self.assertCountEqual(
        losses.__all__,
        list(_NP_REFERENCES) + ["gradient_penalty", "gradient_norm_penalty",
                                "feature_matching_loss"] + list(_VAE_FUNCTIONS)
        + list(_SEMI_SUPERVISED_AND_HISTORY_FUNCTIONS) + ["r1_penalty", "r2_penalty"])
    for name in losses.__all__:
      self.assertTrue(callable(getattr(losses, name)), name)

  def test_adversarial_losses_take_a_keyword_only_reduction(self):
    for name in _REDUCIBLE_LOSSES:
      parameter = inspect.signature(getattr(losses, name)).parameters[
          "reduction"]
      self.assertEqual(parameter.kind, inspect.Parameter.KEYWORD_ONLY, name)
      self.assertEqual(parameter.default, "mean", name)

  def test_hyperparameters_are_keyword_only(self):
    with self.assertRaises(TypeError):
      losses.minimax_discriminator_loss(jnp.zeros(2), jnp.zeros(2), 0.9)  # pytype: disable=wrong-arg-count
    with self.assertRaises(TypeError):
      losses.gradient_penalty(jnp.sum, jnp.zeros((2, 3)), jnp.zeros((2, 3)),
                              jax.random.key(0), 1.0)  # pytype: disable=wrong-arg-count


class LossValuesTest(chex.TestCase):
  """Every adversarial loss against its NumPy formula, on (B,) and PatchGAN."""

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.product(name=_DISCRIMINATOR_LOSSES, shapes=_SHAPES)
  def test_discriminator_loss_matches_numpy_formula(self, name, shapes):
    _, real_shape, fake_shape = shapes
    real, fake = _normal(real_shape, 0), _normal(fake_shape, 1)
    loss = self.variant(getattr(losses, name))(real, fake)
    chex.assert_shape(loss, ())
    chex.assert_type(loss, jnp.float32)
    np.testing.assert_allclose(
        loss, _NP_REFERENCES[name](real, fake), rtol=1e-5, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.product(name=_GENERATOR_LOSSES, shapes=_SHAPES[:2])
  def test_generator_loss_matches_numpy_formula(self, name, shapes):
    _, shape, _ = shapes
    fake = _normal(shape, 2)
    loss = self.variant(getattr(losses, name))(fake)
    chex.assert_shape(loss, ())
    chex.assert_type(loss, jnp.float32)
    np.testing.assert_allclose(
        loss, _NP_REFERENCES[name](fake), rtol=1e-5, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(*_SHAPES)
  def test_one_sided_label_smoothing_matches_numpy_formula(
      self, real_shape, fake_shape):
    real, fake = _normal(real_shape, 3), _normal(fake_shape, 4)
    loss_fn = functools.partial(losses.minimax_discriminator_loss,
                                real_label=0.9)
    np.testing.assert_allclose(
        self.variant(loss_fn)(real, fake),
        _np_minimax_d(real, fake, real_label=0.9), rtol=1e-5, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_uninformed_discriminator_costs_two_log_two(self):
    # Logit 0 means D = 1/2 everywhere: -log(1/2) - log(1 - 1/2) = 2 log 2.
    loss = self.variant(losses.minimax_discriminator_loss)(
        jnp.zeros((3, 4, 4, 1)), jnp.zeros((3, 4, 4, 1)))
    np.testing.assert_allclose(loss, 2.0 * np.log(2.0), rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_hand_computed_hinge_least_squares_and_wasserstein_values(self):
    real = jnp.array([2.0, 0.5, -1.0])
    fake = jnp.array([-2.0, 0.0])
    # hinge: relu(1 - real) = [0, .5, 2] -> 5/6; relu(1 + fake) = [0, 1] -> 1/2.
    np.testing.assert_allclose(
        self.variant(losses.hinge_discriminator_loss)(real, fake),
        5.0 / 6.0 + 0.5, rtol=1e-6)
    # lsgan: (real - 1)^2 = [1, .25, 4] -> 5.25/3 = 1.75; fake^2 = [4, 0] -> 2.
    np.testing.assert_allclose(
        self.variant(losses.least_squares_discriminator_loss)(real, fake),
        0.5 * 1.75 + 0.5 * 2.0, rtol=1e-6)
    # (fake - 1)^2 = [9, 1] -> 5.
    np.testing.assert_allclose(
        self.variant(losses.least_squares_generator_loss)(fake), 2.5,
        rtol=1e-6)
    # mean(fake) - mean(real) = -1 - 0.5.
    np.testing.assert_allclose(
        self.variant(losses.wasserstein_discriminator_loss)(real, fake), -1.5,
        rtol=1e-6)
    np.testing.assert_allclose(
        self.variant(losses.wasserstein_generator_loss)(fake), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        self.variant(losses.hinge_generator_loss)(fake), 1.0, rtol=1e-6)


class OutputContractTest(chex.TestCase):
  """Scalar out, in the dtype of the inputs."""

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.product(
      name=tuple(_NP_REFERENCES) + ("feature_matching_loss",),
      dtype=(jnp.float32, jnp.bfloat16))
  def test_loss_is_a_scalar_of_the_input_dtype(self, name, dtype):
    real = jnp.asarray(_normal((3, 4, 4, 1), 5), dtype)
    fake = jnp.asarray(_normal((3, 4, 4, 1), 6), dtype)
    fn = self.variant(getattr(losses, name))
    if name in _GENERATOR_LOSSES:
      loss = fn(fake)
      expected = _NP_REFERENCES[name](np.asarray(fake, np.float64))
    elif name == "feature_matching_loss":
      loss = fn(real, fake)
      expected = np.sum((np.asarray(real, np.float64).mean(0)
                         - np.asarray(fake, np.float64).mean(0))**2)
    else:
      loss = fn(real, fake)
      expected = _NP_REFERENCES[name](np.asarray(real, np.float64),
                                      np.asarray(fake, np.float64))
    chex.assert_shape(loss, ())
    chex.assert_type(loss, dtype)
    # bfloat16 keeps 8 significant bits: the only error is rounding the result.
    rtol = 1e-5 if dtype == jnp.float32 else 1e-2
    np.testing.assert_allclose(
        np.float64(loss), expected, rtol=rtol, atol=rtol)

  def test_integer_inputs_are_rejected(self):
    with self.assertRaises(AssertionError):
      losses.hinge_discriminator_loss(jnp.ones(3, jnp.int32), jnp.ones(3))


class ExtremeLogitsTest(chex.TestCase):
  """The BCE family in log_sigmoid form stays finite where sigmoid saturates."""

  # Expected values: log_sigmoid(x) = -softplus(-x), so log_sigmoid(1e9) = 0
  # and log_sigmoid(-1e9) = -1e9.
  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(
      # Perfect discriminator: -log_sigmoid(1e9) - log_sigmoid(1e9) = 0.
      ("d_perfect", "minimax_discriminator_loss", (1e9, -1e9), {}, 0.0),
      # Fully fooled: -log_sigmoid(-1e9) - log_sigmoid(-1e9) = 2e9.
      ("d_fooled", "minimax_discriminator_loss", (-1e9, 1e9), {}, 2e9),
      # Smoothed, perfect: -(0.9 * 0 + 0.1 * log_sigmoid(-1e9)) = 1e8.
      ("d_smoothed", "minimax_discriminator_loss", (1e9, -1e9),
       {"real_label": 0.9}, 1e8),
      ("g_minimax_rejected", "minimax_generator_loss", (-1e9,), {}, 0.0),
      ("g_minimax_accepted", "minimax_generator_loss", (1e9,), {}, -1e9),
      ("g_non_saturating_rejected", "non_saturating_generator_loss", (-1e9,),
       {}, 1e9),
      ("g_non_saturating_accepted", "non_saturating_generator_loss", (1e9,),
       {}, 0.0),
  )
  def test_extreme_logits_give_finite_exact_losses(self, name, values, kwargs,
                                                   expected):
    args = [jnp.full((2, 4, 4, 1), v, jnp.float32) for v in values]
    fn = self.variant(functools.partial(getattr(losses, name), **kwargs))
    loss = fn(*args)
    chex.assert_tree_all_finite(loss)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    grads = jax.grad(lambda *a: fn(*a), argnums=tuple(range(len(args))))(*args)
    chex.assert_tree_all_finite(grads)

  @chex.variants(with_jit=True, without_jit=True)
  def test_saturated_minimax_generator_gradient_vanishes_and_non_saturating_does_not(
      self):
    # d/dx log_sigmoid(-x) = -sigmoid(x) -> 0 as x -> -inf (saturates), while
    # d/dx -log_sigmoid(x) = -sigmoid(-x) -> -1: Goodfellow et al.'s argument.
    fake = jnp.full((4,), -1e9)
    minimax_grad = jax.grad(self.variant(losses.minimax_generator_loss))(fake)
    non_sat_grad = jax.grad(
        self.variant(losses.non_saturating_generator_loss))(fake)
    np.testing.assert_allclose(minimax_grad, np.zeros(4), atol=1e-30)
    np.testing.assert_allclose(non_sat_grad, np.full(4, -1.0 / 4), rtol=1e-6)


class GradientCheckTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(
      *[(n, {}) for n in _DISCRIMINATOR_LOSSES],
      ("minimax_discriminator_loss", {"real_label": 0.9}),
  )
  def test_discriminator_loss_gradients_match_finite_differences(
      self, name, kwargs):
    # Offsets keep hinge and relu kinks away from the finite-difference probes.
    real = jnp.array([[0.3, 1.7], [-0.6, 2.4]], jnp.float32)
    fake = jnp.array([[-1.6, 0.2], [0.7, -0.4], [1.3, -2.2]], jnp.float32)
    fn = self.variant(functools.partial(getattr(losses, name), **kwargs))
    jtu.check_grads(fn, (real, fake), order=1, modes=["rev"])

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*_GENERATOR_LOSSES)
  def test_generator_loss_gradients_match_finite_differences(self, name):
    fake = jnp.array([[-1.6, 0.2], [0.7, -0.4], [1.3, -2.2]], jnp.float32)
    jtu.check_grads(self.variant(getattr(losses, name)), (fake,), order=1,
                    modes=["rev"])

  @chex.variants(with_jit=True, without_jit=True)
  def test_feature_matching_gradients_match_finite_differences(self):
    real, fake = _normal((4, 3), 7, 1.0), _normal((5, 3), 8, 1.0)
    jtu.check_grads(self.variant(losses.feature_matching_loss), (real, fake),
                    order=1, modes=["rev"])


class FeatureMatchingTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(
      ("vector_features", (8, 16), (5, 16)),
      ("conv_features", (4, 4, 4, 8), (6, 4, 4, 8)),
      ("scalar_features", (7,), (3,)),
  )
  def test_feature_matching_matches_numpy(self, real_shape, fake_shape):
    real, fake = _normal(real_shape, 9), _normal(fake_shape, 10)
    diff = np.float64(real).mean(axis=0) - np.float64(fake).mean(axis=0)
    loss = self.variant(losses.feature_matching_loss)(real, fake)
    chex.assert_shape(loss, ())
    np.testing.assert_allclose(loss, np.sum(diff**2), rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_feature_matching_is_zero_for_equal_means(self):
    # Batches differ but both feature means are [1, -2] (hand-chosen).
    real = jnp.array([[0.0, -2.0], [2.0, -2.0]])
    fake = jnp.array([[1.0, -1.0], [1.0, -3.0], [1.0, -2.0]])
    np.testing.assert_allclose(
        self.variant(losses.feature_matching_loss)(real, fake), 0.0,
        atol=1e-7)

  def test_mismatched_feature_shapes_are_rejected(self):
    with self.assertRaises(AssertionError):
      losses.feature_matching_loss(jnp.ones((4, 3)), jnp.ones((4, 2)))


def _linear_critic(w, b=0.3):
  """f(x_i) = sum(w * x_i) + b: its input gradient is w for every example."""
  def critic(x):
    return jnp.sum(x * w, axis=tuple(range(1, x.ndim))) + b
  return critic


class GradientPenaltyTest(chex.TestCase):

  def _images(self, shape=(5, 4, 4, 3)):
    return _normal(shape, 11, 1.0), _normal(shape, 12, 1.0)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.product(
      target=(1.0, 0.5, 2.0),
      shape=((5, 4, 4, 3), (6, 10)),
      score_rank=(1, 2))
  def test_linear_critic_penalty_is_squared_gap_of_weight_norm(
      self, target, shape, score_rank):
    real, fake = self._images(shape)
    w = _normal(shape[1:], 13, 0.4)
    critic = _linear_critic(w)
    if score_rank == 2:  # Scores of shape (B, 1) are summed the same way.
      critic = lambda x, c=critic: c(x)[:, None]
    penalty_fn = functools.partial(losses.gradient_penalty, critic,
                                   target=target)
    penalty = self.variant(penalty_fn)(real, fake, jax.random.key(0))
    chex.assert_shape(penalty, ())
    chex.assert_type(penalty, jnp.float32)
    # Every interpolate has gradient w, whatever epsilon was drawn.
    expected = (np.linalg.norm(np.float64(w)) - target)**2
    np.testing.assert_allclose(penalty, expected, rtol=1e-5, atol=1e-7)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(
      # ||w|| = 0.5 < 1: one-sided ignores it, two-sided charges (0.5 - 1)^2.
      ("below_target", 0.5, 0.0, 0.25),
      # ||w|| = 3 > 1: both charge (3 - 1)^2 = 4.
      ("above_target", 3.0, 4.0, 4.0),
  )
  def test_one_sided_penalty_charges_only_norms_above_target(
      self, w_norm, one_sided_expected, two_sided_expected):
    real, fake = self._images()
    w = np.ones((4, 4, 3), np.float32)
    w *= w_norm / np.linalg.norm(w)
    critic = _linear_critic(jnp.asarray(w))
    key = jax.random.key(1)
    for one_sided, expected in ((True, one_sided_expected),
                                (False, two_sided_expected)):
      penalty_fn = functools.partial(losses.gradient_penalty, critic,
                                     one_sided=one_sided)
      np.testing.assert_allclose(
          self.variant(penalty_fn)(real, fake, key), expected, rtol=1e-5,
          atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_penalty_averages_per_example_gradient_norms(self):
    # f(x_i) = sum(x_i^2) has gradient 2 x_i. With real == fake, the
    # interpolate is real_i whatever epsilon is, so the penalty is
    # mean_i (2 ||real_i|| - 1)^2 -- not (||whole batch gradient|| - 1)^2.
    real = _normal((6, 3, 3, 2), 14, 0.3)
    critic = lambda x: jnp.sum(jnp.square(x), axis=(1, 2, 3))
    penalty = self.variant(functools.partial(losses.gradient_penalty, critic))(
        real, real, jax.random.key(2))
    norms = 2.0 * np.linalg.norm(np.float64(real).reshape(6, -1), axis=1)
    np.testing.assert_allclose(penalty, np.mean((norms - 1.0)**2), rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_epsilon_is_one_uniform_draw_per_example(self):
    # Recover the interpolates without reproducing the random draw: with
    # f(x_i) = 1/2 ||x_i - theta_i||^2 and target 0 the penalty is
    # mean_i ||x_hat_i - theta_i||^2, whose gradient at theta = 0 is
    # -(2 / B) x_hat. Then eps_i = (x_hat_i - fake_i) / (real_i - fake_i)
    # must be one number per example, in [0, 1], and differ across examples.
    batch = 16
    fake = _normal((batch, 3, 3, 2), 15, 1.0)
    real = fake + np.random.default_rng(16).uniform(
        0.5, 1.5, fake.shape).astype(np.float32)

    def penalty(theta, key):
      critic = lambda x: 0.5 * jnp.sum(jnp.square(x - theta), axis=(1, 2, 3))
      return losses.gradient_penalty(critic, real, fake, key, target=0.0)

    grad_fn = self.variant(jax.grad(penalty))
    theta = jnp.zeros_like(real)
    x_hat = -0.5 * batch * np.asarray(grad_fn(theta, jax.random.key(3)))
    eps = ((x_hat - fake) / (real - fake)).reshape(batch, -1)
    np.testing.assert_allclose(eps, eps[:, :1] * np.ones_like(eps), atol=1e-5)
    self.assertTrue(np.all((eps >= -1e-6) & (eps <= 1.0 + 1e-6)))
    self.assertGreater(np.std(eps[:, 0]), 0.1)  # U[0,1] has std 0.29.
    # The same key gives the same draw; another key another.
    x_hat_again = -0.5 * batch * np.asarray(grad_fn(theta, jax.random.key(3)))
    x_hat_other = -0.5 * batch * np.asarray(grad_fn(theta, jax.random.key(4)))
    np.testing.assert_array_equal(x_hat, x_hat_again)
    self.assertGreater(np.max(np.abs(x_hat - x_hat_other)), 1e-2)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(1.0, 0.5)
  def test_penalty_gradient_wrt_closed_over_weights_is_closed_form(
      self, target):
    # P(w) = (||w|| - t)^2  =>  dP/dw = 2 (||w|| - t) w / ||w||.
    real, fake = self._images()
    w = _normal((4, 4, 3), 17, 0.4)

    def penalty(w):
      return losses.gradient_penalty(_linear_critic(w), real, fake,
                                     jax.random.key(5), target=target)

    grad = self.variant(jax.grad(penalty))(jnp.asarray(w))
    w64 = np.float64(w)
    norm = np.linalg.norm(w64)
    np.testing.assert_allclose(grad, 2.0 * (norm - target) * w64 / norm,
                               rtol=1e-4, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_zero_critic_gradient_gives_target_squared_and_finite_gradient(self):
    # w = 0: ||grad|| = 0, so the penalty is (0 - 1)^2 = 1. The naive
    # sqrt(sum(g^2)) would back-propagate 0 * inf = NaN into w.
    real, fake = self._images()

    def penalty(w):
      return losses.gradient_penalty(_linear_critic(w), real, fake,
                                     jax.random.key(6))

    value, grad = self.variant(jax.value_and_grad(penalty))(
        jnp.zeros((4, 4, 3)))
    np.testing.assert_allclose(value, 1.0, rtol=1e-6)
    chex.assert_tree_all_finite(grad)

  @chex.variants(with_jit=True, without_jit=True)
  def test_bfloat16_inputs_give_bfloat16_penalty(self):
    real, fake = self._images()
    w = jnp.full((4, 4, 3), 0.25, jnp.bfloat16)  # ||w|| = 0.25 * sqrt(48).
    penalty = self.variant(
        functools.partial(losses.gradient_penalty, _linear_critic(w)))(
            real.astype(jnp.bfloat16), fake.astype(jnp.bfloat16),
            jax.random.key(7))
    chex.assert_shape(penalty, ())
    chex.assert_type(penalty, jnp.bfloat16)
    np.testing.assert_allclose(
        np.float64(penalty), (0.25 * np.sqrt(48.0) - 1.0)**2, rtol=1e-2)


class GoodfellowTheoryTest(chex.TestCase):
  """Goodfellow et al. (2014), Prop. 1 and Thm. 1, checked by quadrature.

  Data p = N(0, 1), generator q = N(1, 1.5^2). Expectations are computed with
  the midpoint rule in quantile space: E_p[g] ~ mean_k g(F_p^{-1}((k + 1/2)/N)).
  This is deterministic and lets the mean-based loss compute the expectations
  itself: -minimax_discriminator_loss(logits(x_p), logits(x_q)) = V(D). With
  N = 2^16 the quadrature error on V is about 6e-6.
  """

  N = 2**16
  P = stats.norm(0.0, 1.0)
  Q = stats.norm(1.0, 1.5)

  def setUp(self):
    super().setUp()
    u = (np.arange(self.N) + 0.5) / self.N
    self.x_p = self.P.ppf(u)
    self.x_q = self.Q.ppf(u)
    self.value = jax.jit(
        lambda r, f: -losses.minimax_discriminator_loss(r, f))

  def _optimal_logit(self, x):
    # D* = p / (p + q), so logit(D*) = log D* - log(1 - D*) = log p - log q.
    return self.P.logpdf(x) - self.Q.logpdf(x)

  def _v(self, logit_fn):
    return float(self.value(np.float32(logit_fn(self.x_p)),
                            np.float32(logit_fn(self.x_q))))

  def _jsd(self):
    """JSD(p || q) in nats by adaptive quadrature of the KL integrands."""
    def kl_integrand(dist):
      def integrand(x):
        log_m = np.logaddexp(self.P.logpdf(x), self.Q.logpdf(x)) - np.log(2.0)
        return np.exp(dist.logpdf(x)) * (dist.logpdf(x) - log_m)
      return integrand
    kl_pm = integrate.quad(kl_integrand(self.P), -np.inf, np.inf,
                           epsabs=1e-12)[0]
    kl_qm = integrate.quad(kl_integrand(self.Q), -np.inf, np.inf,
                           epsabs=1e-12)[0]
    return 0.5 * kl_pm + 0.5 * kl_qm

  def test_optimal_discriminator_maximises_value_function(self):
    v_star = self._v(self._optimal_logit)
    directions = {
        "constant": lambda x: np.ones_like(x),
        "linear": lambda x: x,
        "tanh": np.tanh,
        "cosine": lambda x: np.cos(2.0 * x),
        "quadratic": lambda x: -0.1 * x**2,
    }
    for name, h in directions.items():
      for delta in (-0.3, 0.3):
        v = self._v(lambda x, h=h, d=delta: self._optimal_logit(x) + d * h(x))
        # Second-order decrease ~ delta^2 E[D*(1 - D*) h^2] >> 1e-4.
        self.assertLess(v, v_star - 1e-4, f"{name}, delta={delta}")

  def test_value_at_optimum_is_minus_log_four_plus_two_jsd(self):
    jsd = self._jsd()
    # Cross-check the integral against SciPy's own JSD on a fine grid.
    grid = np.linspace(-15.0, 17.0, 200_001)
    grid_jsd = distance.jensenshannon(self.P.pdf(grid), self.Q.pdf(grid),
                                      base=np.e)**2
    np.testing.assert_allclose(grid_jsd, jsd, atol=1e-7)
    np.testing.assert_allclose(
        self._v(self._optimal_logit), -np.log(4.0) + 2.0 * jsd, atol=1e-4)

  def test_value_is_minus_log_four_when_generator_matches_data(self):
    # q = p gives D* = 1/2 (logit 0) and JSD = 0: V = 2 log(1/2) = -log 4.
    self.assertAlmostEqual(self._v(np.zeros_like), -np.log(4.0), places=6)

  def test_minimising_the_loss_recovers_the_log_density_ratio(self):
    # log p - log q is quadratic for Gaussians, so D = sigmoid(a x^2 + b x + c)
    # contains D*. Expanding -x^2/2 + (x - 1)^2 / (2 * 1.5^2) + log 1.5:
    # a = -1/2 + 1/4.5, b = -2/4.5, c = 1/4.5 + log 1.5.
    expected = np.array([-0.5 + 1 / 4.5, -2 / 4.5, 1 / 4.5 + np.log(1.5)])
    feats_p = jnp.asarray(np.stack([self.x_p**2, self.x_p, 1 + 0 * self.x_p],
                                   -1), jnp.float32)
    feats_q = jnp.asarray(np.stack([self.x_q**2, self.x_q, 1 + 0 * self.x_q],
                                   -1), jnp.float32)

    def loss(theta):
      return losses.minimax_discriminator_loss(feats_p @ theta,
                                               feats_q @ theta)

    @jax.jit
    def newton_step(theta):
      # The loss is convex in theta (BCE is convex in logits, linear in theta).
      return theta - jnp.linalg.solve(jax.hessian(loss)(theta),
                                      jax.grad(loss)(theta))

    theta = jnp.zeros(3)
    for _ in range(12):
      theta = newton_step(theta)
    np.testing.assert_allclose(theta, expected, atol=2e-3)


_moderate_floats = st.floats(-100.0, 100.0, width=32)
_score_arrays = hnp.arrays(np.float32, (2, 3, 3, 1), elements=_moderate_floats)
_property_settings = hypothesis.settings(max_examples=25, deadline=None)
_jit_wasserstein_d = jax.jit(losses.wasserstein_discriminator_loss)
_jit_hinge_d = jax.jit(losses.hinge_discriminator_loss)
_jit_least_squares_d = jax.jit(losses.least_squares_discriminator_loss)
_jit_minimax_d = jax.jit(losses.minimax_discriminator_loss)
_jit_minimax_g = jax.jit(losses.minimax_generator_loss)
_jit_non_saturating_g = jax.jit(losses.non_saturating_generator_loss)


class PropertyTest(absltest.TestCase):

  @_property_settings
  @hypothesis.given(real=_score_arrays, fake=_score_arrays)
  def test_swapping_real_and_fake_negates_wasserstein_critic_loss(
      self, real, fake):
    np.testing.assert_allclose(_jit_wasserstein_d(real, fake),
                               -_jit_wasserstein_d(fake, real), atol=1e-4)

  @_property_settings
  @hypothesis.given(real=_score_arrays, fake=_score_arrays)
  def test_hinge_least_squares_and_bce_discriminator_losses_are_nonnegative(
      self, real, fake):
    self.assertGreaterEqual(float(_jit_hinge_d(real, fake)), 0.0)
    self.assertGreaterEqual(float(_jit_least_squares_d(real, fake)), 0.0)
    self.assertGreaterEqual(float(_jit_minimax_d(real, fake)), 0.0)

  @_property_settings
  @hypothesis.given(fake=_score_arrays)
  def test_non_saturating_loss_is_minus_minimax_loss_of_negated_logits(
      self, fake):
    # -mean log sigmoid(x) = -mean log(1 - sigmoid(-x)).
    np.testing.assert_allclose(_jit_non_saturating_g(fake),
                               -_jit_minimax_g(-fake), rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- #
# Per-example adversarial losses: reduction="mean" | "sum" | "none".
# --------------------------------------------------------------------------- #

# (name, loss, kwargs, real term, fake term): float64 elementwise references
# written from the formulas. A discriminator loss's element is its real term
# plus its fake term; a generator loss has only a fake term (real term None).
_ELEMENTWISE_CASES = (
    ("minimax_d", "minimax_discriminator_loss", {},
     lambda r: -_np_log_d(r), lambda f: -_np_log_one_minus_d(f)),
    ("minimax_d_smoothed", "minimax_discriminator_loss", {"real_label": 0.9},
     lambda r: -(0.9 * _np_log_d(r) + 0.1 * _np_log_one_minus_d(r)),
     lambda f: -_np_log_one_minus_d(f)),
    ("minimax_g", "minimax_generator_loss", {}, None, _np_log_one_minus_d),
    ("non_saturating_g", "non_saturating_generator_loss", {}, None,
     lambda f: -_np_log_d(f)),
    ("wasserstein_d", "wasserstein_discriminator_loss", {},
     lambda r: -np.float64(r), np.float64),
    ("wasserstein_g", "wasserstein_generator_loss", {}, None,
     lambda f: -np.float64(f)),
    ("hinge_d", "hinge_discriminator_loss", {},
     lambda r: np.maximum(0.0, 1.0 - np.float64(r)),
     lambda f: np.maximum(0.0, 1.0 + np.float64(f))),
    ("hinge_g", "hinge_generator_loss", {}, None, lambda f: -np.float64(f)),
    ("least_squares_d", "least_squares_discriminator_loss", {},
     lambda r: 0.5 * (np.float64(r) - 1.0)**2, lambda f: 0.5 * np.float64(f)**2),
    ("least_squares_g", "least_squares_generator_loss", {}, None,
     lambda f: 0.5 * (np.float64(f) - 1.0)**2),
)
_PAIR_CASES = tuple(c for c in _ELEMENTWISE_CASES if c[3] is not None)
# Tests are parameterised by case name: a test id holding the lambdas' reprs (memory addresses)
# differs between pytest-xdist workers, which then refuse to run.
_CASES_BY_NAME = {c[0]: c for c in _ELEMENTWISE_CASES}
_REDUCIBLE_LOSSES = tuple(_NP_REFERENCES) + ("semi_supervised_unsupervised_loss",)


def _np_elementwise(case, real, fake):
  _, _, _, real_term, fake_term = case
  if real_term is None:
    return fake_term(fake)
  return real_term(real) + fake_term(fake)


def _case_fn(case, **kwargs):
  """The case's loss as a function of (real, fake); generators ignore real."""
  _, name, case_kwargs, real_term, _ = case
  fn = functools.partial(getattr(losses, name), **case_kwargs, **kwargs)
  if real_term is None:
    return lambda real, fake: fn(fake)
  return fn


class ReductionTest(chex.TestCase):
  """The per-example form of every adversarial loss, against NumPy."""

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.product(case=tuple(_CASES_BY_NAME), shapes=_SHAPES[:2])
  def test_none_is_the_elementwise_numpy_formula(self, case, shapes):
    case = _CASES_BY_NAME[case]
    _, shape, _ = shapes
    real, fake = _normal(shape, 80), _normal(shape, 81)
    loss = self.variant(_case_fn(case, reduction="none"))(real, fake)
    chex.assert_shape(loss, shape)
    chex.assert_type(loss, jnp.float32)
    np.testing.assert_allclose(loss, _np_elementwise(case, real, fake),
                               rtol=1e-5, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.product(case=tuple(_CASES_BY_NAME), shapes=_SHAPES[:2])
  def test_mean_and_sum_are_the_mean_and_sum_of_none(self, case, shapes):
    case = _CASES_BY_NAME[case]
    _, shape, _ = shapes
    real, fake = _normal(shape, 82), _normal(shape, 83)
    per_element = np.float64(
        self.variant(_case_fn(case, reduction="none"))(real, fake))
    mean = self.variant(_case_fn(case, reduction="mean"))(real, fake)
    total = self.variant(_case_fn(case, reduction="sum"))(real, fake)
    chex.assert_shape([mean, total], ())
    np.testing.assert_allclose(mean, np.mean(per_element), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(total, np.sum(per_element), rtol=1e-5, atol=1e-5)
    # "mean" is the default: the same number as a call without `reduction`.
    np.testing.assert_array_equal(mean, self.variant(_case_fn(case))(real, fake))

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*(c[0] for c in _PAIR_CASES))
  def test_unequal_batches_sum_each_side_but_cannot_pair_elements(
      self, case):
    case = _CASES_BY_NAME[case]
    _, real_shape, fake_shape = _SHAPES[2]
    real, fake = _normal(real_shape, 84), _normal(fake_shape, 85)
    _, _, _, real_term, fake_term = case
    total = self.variant(_case_fn(case, reduction="sum"))(real, fake)
    np.testing.assert_allclose(
        total, np.sum(real_term(real)) + np.sum(fake_term(fake)), rtol=1e-5,
        atol=1e-5)
    with self.assertRaises(AssertionError):
      _case_fn(case, reduction="none")(real, fake)

  @chex.variants(with_jit=True, without_jit=True)
  def test_masked_none_is_the_mean_over_the_kept_examples(self):
    # A batch padded from 4 to 6 examples: the padding's logits are garbage
    # (1e3), its mask 0. The masked mean is the loss of the 4 real examples,
    # and the padding receives no gradient.
    kept = _normal((4,), 86)
    logits = jnp.concatenate([kept, jnp.full((2,), 1e3, jnp.float32)])
    mask = jnp.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])

    def masked_loss(x):
      per_example = losses.non_saturating_generator_loss(x, reduction="none")
      return jnp.sum(mask * per_example) / jnp.sum(mask)

    value, grad = self.variant(jax.value_and_grad(masked_loss))(logits)
    np.testing.assert_allclose(value, -np.mean(_np_log_d(kept)), rtol=1e-6)
    # d/dx -log sigmoid(x) = -sigmoid(-x), averaged over the 4 kept examples.
    np.testing.assert_allclose(
        grad[:4], -special.expit(-np.float64(kept)) / 4.0, rtol=1e-5)
    np.testing.assert_array_equal(grad[4:], np.zeros(2))

  @chex.variants(with_jit=True, without_jit=True)
  def test_per_example_weights_on_a_patchgan_map_match_numpy(self):
    # One weight per example, broadcast over its (4, 4, 1) map.
    real, fake = _normal((3, 4, 4, 1), 87), _normal((3, 4, 4, 1), 88)
    weights = np.array([0.5, 2.0, 0.0], np.float32).reshape(3, 1, 1, 1)

    def weighted_loss(r, f):
      per_element = losses.minimax_discriminator_loss(r, f, reduction="none")
      return jnp.mean(weights * per_element)

    expected = np.mean(weights * (-_np_log_d(real) - _np_log_one_minus_d(fake)))
    np.testing.assert_allclose(self.variant(weighted_loss)(real, fake),
                               expected, rtol=1e-5)

  @parameterized.product(name=_REDUCIBLE_LOSSES,
                         reduction=("average", "MEAN", None))
  def test_unknown_reduction_raises_value_error(self, name, reduction):
    fn = functools.partial(getattr(losses, name), reduction=reduction)
    x = jnp.zeros((2, 3))
    with self.assertRaisesRegex(ValueError, "reduction must be one of"):
      if name in _GENERATOR_LOSSES:
        fn(x)
      else:
        fn(x, x)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*_CASES_BY_NAME)
  def test_none_has_the_input_dtype(self, case):
    case = _CASES_BY_NAME[case]
    real = jnp.asarray(_normal((3, 4, 4, 1), 89), jnp.bfloat16)
    fake = jnp.asarray(_normal((3, 4, 4, 1), 90), jnp.bfloat16)
    loss = self.variant(_case_fn(case, reduction="none"))(real, fake)
    chex.assert_shape(loss, (3, 4, 4, 1))
    chex.assert_type(loss, jnp.bfloat16)
    expected = _np_elementwise(case, np.asarray(real, np.float64),
                               np.asarray(fake, np.float64))
    # bfloat16 keeps 8 significant bits: the only error is rounding the result.
    np.testing.assert_allclose(np.float64(loss), expected, rtol=1e-2, atol=1e-2)



def test_gradient_norm_penalty_is_r1_on_a_linear_critic():
  """At any points, a linear critic f(x) = <w, x> + b has gradient norm ||w||:
  the penalty with target 0 (R1, Mescheder et al. 2018) is ||w||^2, with
  target t it is (||w|| - t)^2."""
  w = np.arange(1.0, 13.0, dtype=np.float32).reshape(1, 2, 2, 3) / 10.0
  critic = lambda x: jnp.sum(x * w, axis=(1, 2, 3)) + 0.5
  x = jax.random.normal(jax.random.PRNGKey(3), (5, 2, 2, 3))
  norm = np.sqrt(np.sum(w.astype(np.float64) ** 2))
  np.testing.assert_allclose(losses.gradient_norm_penalty(critic, x, target=0.0), norm**2,
                             rtol=1e-5)
  np.testing.assert_allclose(losses.gradient_norm_penalty(critic, x, target=1.0),
                             (norm - 1.0) ** 2, rtol=1e-5)
  np.testing.assert_allclose(
      losses.gradient_norm_penalty(critic, x, target=10.0, one_sided=True), 0.0)


# --------------------------------------------------------------------------- #
# VAE, beta-VAE, IWAE and VAE-GAN objectives.
# --------------------------------------------------------------------------- #

_VAE_FUNCTIONS = (
    "gaussian_kl_to_standard_normal",
    "gaussian_log_likelihood",
    "bernoulli_log_likelihood",
    "gaussian_log_density",
    "standard_normal_log_density",
    "importance_weighted_bound",
    "elbo",
    "vae_gan_feature_log_likelihood",
)


def _np_kl_by_quadrature(mean, log_var):
  """KL(N(m, e^v) || N(0, 1)) of each element, as the integral of q log(q/p)."""
  kl = np.empty(np.shape(mean))
  for idx in np.ndindex(*np.shape(mean)):
    q = stats.norm(np.float64(mean[idx]), np.exp(0.5 * np.float64(log_var[idx])))
    integrand = lambda z, q=q: q.pdf(z) * (q.logpdf(z) - stats.norm.logpdf(z))
    kl[idx] = integrate.quad(integrand, q.mean() - 12 * q.std(),
                             q.mean() + 12 * q.std(), epsabs=1e-12)[0]
  return kl


def _per_example_sum(values):
  values = np.asarray(values, np.float64)
  return values.reshape(values.shape[0], -1).sum(axis=1)


# float64 references for the output-dtype test (gaussian_log_likelihood with
# log_scale=0.3), from SciPy's densities.
_NP_PER_EXAMPLE_REFERENCES = {
    "gaussian_kl_to_standard_normal":
        lambda m, v: _per_example_sum(0.5 * (np.exp(v) + m**2 - 1.0 - v)),
    "gaussian_log_likelihood":
        lambda x, m: _per_example_sum(stats.norm.logpdf(x, m, np.exp(0.3))),
    "bernoulli_log_likelihood":
        lambda x, l: _per_example_sum(stats.bernoulli.logpmf(x, special.expit(l))),
    "gaussian_log_density":
        lambda z, m, v: _per_example_sum(stats.norm.logpdf(z, m, np.exp(0.5 * v))),
    "standard_normal_log_density":
        lambda z: _per_example_sum(stats.norm.logpdf(z)),
    "vae_gan_feature_log_likelihood":
        lambda r, f: _per_example_sum(stats.norm.logpdf(r, f, 1.0)),
    "elbo": lambda ll, kl: ll - kl,
}


class VaeLossValuesTest(chex.TestCase):
  """Each VAE-family function against SciPy's densities or a quadrature."""

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(("latent_vector", (3, 4)),
                                  ("latent_map", (2, 2, 2, 2)))
  def test_kl_to_standard_normal_matches_quadrature(self, shape):
    mean = _normal(shape, 20, 1.0)
    log_var = _normal(shape, 21, 0.8)
    kl = self.variant(losses.gaussian_kl_to_standard_normal)(mean, log_var)
    chex.assert_shape(kl, (shape[0],))
    chex.assert_type(kl, jnp.float32)
    np.testing.assert_allclose(
        kl, _per_example_sum(_np_kl_by_quadrature(mean, log_var)), rtol=1e-5,
        atol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_kl_is_zero_only_at_the_prior(self):
    kl_fn = self.variant(losses.gaussian_kl_to_standard_normal)
    np.testing.assert_allclose(kl_fn(jnp.zeros((2, 5)), jnp.zeros((2, 5))),
                               np.zeros(2), atol=1e-7)
    # One coordinate off: mean 1 gives 1/2; log-variance 1 gives (e - 2) / 2.
    np.testing.assert_allclose(
        kl_fn(jnp.array([[1.0, 0.0], [0.0, 0.0]]),
              jnp.array([[0.0, 0.0], [0.0, 1.0]])),
        [0.5, 0.5 * (np.e - 2.0)], rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(
      ("unit_scale", lambda b: 0.0),
      ("fixed_scalar", lambda b: -1.3),
      ("per_pixel", lambda b: _normal((4, 4, 1), 22, 0.5)),
      ("per_example", lambda b: _normal((b, 1, 1, 1), 23, 0.5)),
      ("full_decoder_output", lambda b: _normal((b, 4, 4, 1), 24, 0.5)),
  )
  def test_gaussian_log_likelihood_matches_scipy(self, log_scale_fn):
    x, mean = _normal((3, 4, 4, 1), 25, 1.0), _normal((3, 4, 4, 1), 26, 1.0)
    log_scale = log_scale_fn(3)
    fn = self.variant(functools.partial(losses.gaussian_log_likelihood,
                                        log_scale=log_scale))
    ll = fn(x, mean)
    chex.assert_shape(ll, (3,))
    chex.assert_type(ll, jnp.float32)
    scale = np.broadcast_to(np.exp(np.float64(log_scale)), x.shape)
    expected = _per_example_sum(stats.norm.logpdf(x, loc=mean, scale=scale))
    np.testing.assert_allclose(ll, expected, rtol=1e-5, atol=1e-4)

  def test_gaussian_log_scale_may_not_enlarge_the_data(self):
    with self.assertRaises(ValueError):
      losses.gaussian_log_likelihood(jnp.zeros((3, 2)), jnp.zeros((3, 2)),
                                     log_scale=jnp.zeros((4, 3, 2)))

  @chex.variants(with_jit=True, without_jit=True)
  def test_bernoulli_log_likelihood_matches_scipy_on_binary_data(self):
    logits = _normal((3, 4, 4, 1), 27, 2.0)
    x = (np.random.default_rng(28).uniform(size=logits.shape) < 0.4).astype(
        np.float32)
    ll = self.variant(losses.bernoulli_log_likelihood)(x, logits)
    chex.assert_shape(ll, (3,))
    expected = _per_example_sum(
        stats.bernoulli.logpmf(x, special.expit(np.float64(logits))))
    np.testing.assert_allclose(ll, expected, rtol=1e-5, atol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_bernoulli_log_likelihood_of_grey_levels_is_negated_cross_entropy(
      self):
    logits = _normal((2, 6), 29, 2.0)
    x = np.random.default_rng(30).uniform(size=(2, 6)).astype(np.float32)
    p = special.expit(np.float64(logits))
    expected = _per_example_sum(x * np.log(p) + (1 - x) * np.log(1 - p))
    np.testing.assert_allclose(
        self.variant(losses.bernoulli_log_likelihood)(x, logits), expected,
        rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(("latent_vector", (4, 3)),
                                  ("latent_map", (2, 2, 2, 1)))
  def test_gaussian_log_density_matches_scipy_multivariate_normal(self, shape):
    z, mean = _normal(shape, 31, 1.0), _normal(shape, 32, 1.0)
    log_var = _normal(shape, 33, 0.7)
    log_q = self.variant(losses.gaussian_log_density)(z, mean, log_var)
    log_p = self.variant(losses.standard_normal_log_density)(z)
    chex.assert_shape([log_q, log_p], (shape[0],))
    flat = lambda a: np.float64(a).reshape(shape[0], -1)
    dim = flat(z).shape[1]
    expected_q = [stats.multivariate_normal(m, np.diag(np.exp(v))).logpdf(zz)
                  for zz, m, v in zip(flat(z), flat(mean), flat(log_var))]
    expected_p = stats.multivariate_normal(np.zeros(dim), np.eye(dim)).logpdf(
        flat(z))
    np.testing.assert_allclose(log_q, expected_q, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_p, expected_p, rtol=1e-5, atol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_gaussian_log_density_of_k_samples_by_vmap(self):
    # K = 5 samples of B = 3 examples: the (B, Z) parameters broadcast.
    z = _normal((5, 3, 2), 34, 1.0)
    mean, log_var = _normal((3, 2), 35, 1.0), _normal((3, 2), 36, 0.5)
    log_q = self.variant(jax.vmap(losses.gaussian_log_density,
                                  in_axes=(0, None, None)))(z, mean, log_var)
    chex.assert_shape(log_q, (5, 3))
    expected = stats.norm.logpdf(z, mean, np.exp(0.5 * np.float64(log_var)))
    np.testing.assert_allclose(log_q, expected.sum(-1), rtol=1e-5, atol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(1, 2, 7)
  def test_importance_weighted_bound_is_log_mean_exp(self, num_samples):
    log_joint = _normal((num_samples, 4), 37, 3.0)
    log_q = _normal((num_samples, 4), 38, 3.0)
    bound = self.variant(losses.importance_weighted_bound)(log_joint, log_q)
    chex.assert_shape(bound, (4,))
    log_w = np.float64(log_joint) - np.float64(log_q)
    np.testing.assert_allclose(
        bound, special.logsumexp(log_w, axis=0) - np.log(num_samples),
        rtol=1e-5, atol=1e-5)
    if num_samples == 1:  # One sample: the log-weight itself (an ELBO sample).
      np.testing.assert_allclose(bound, log_w[0], rtol=1e-6, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_elbo_subtracts_beta_times_kl(self):
    ll, kl = jnp.array([-10.0, -3.5]), jnp.array([2.0, 0.25])
    np.testing.assert_allclose(self.variant(losses.elbo)(ll, kl),
                               [-12.0, -3.75], rtol=1e-6)
    beta_vae = self.variant(functools.partial(losses.elbo, beta=4.0))
    np.testing.assert_allclose(beta_vae(ll, kl), [-18.0, -4.5], rtol=1e-6)
    with self.assertRaises(TypeError):
      losses.elbo(ll, kl, 4.0)  # pytype: disable=wrong-arg-count

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(("vector_features", (4, 16)),
                                  ("feature_map", (2, 4, 4, 8)))
  def test_vae_gan_feature_log_likelihood_is_unit_gaussian(self, shape):
    real, recon = _normal(shape, 39, 1.0), _normal(shape, 40, 1.0)
    fn = self.variant(losses.vae_gan_feature_log_likelihood)
    ll = fn(real, recon)
    chex.assert_shape(ll, (shape[0],))
    expected = _per_example_sum(stats.norm.logpdf(real, loc=recon, scale=1.0))
    np.testing.assert_allclose(ll, expected, rtol=1e-5, atol=1e-4)
    # Maximal at equal features, where only the normaliser -F/2 log 2 pi stays;
    # the gradient pulls the reconstruction's features towards the data's.
    num_features = int(np.prod(shape[1:]))
    np.testing.assert_allclose(fn(real, real),
                               np.full(shape[0], -0.5 * num_features * np.log(
                                   2 * np.pi)), rtol=1e-6)
    grad = jax.grad(lambda r: jnp.sum(fn(real, r)))(recon)
    np.testing.assert_allclose(grad, np.float64(real) - np.float64(recon),
                               rtol=1e-5, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(*_NP_PER_EXAMPLE_REFERENCES)
  def test_per_example_output_has_the_input_dtype(self, name):
    reference = _NP_PER_EXAMPLE_REFERENCES[name]
    num_args = reference.__code__.co_argcount
    shape = (3,) if name == "elbo" else (3, 2, 2, 1)
    args = [jnp.asarray(_normal(shape, 41 + i, 0.5), jnp.bfloat16)
            for i in range(num_args)]
    kwargs = {"log_scale": 0.3} if name == "gaussian_log_likelihood" else {}
    if name == "bernoulli_log_likelihood":
      args[0] = jnp.asarray(args[0] > 0, jnp.bfloat16)
    out = self.variant(functools.partial(getattr(losses, name), **kwargs))(
        *args)
    chex.assert_shape(out, (3,))
    chex.assert_type(out, jnp.bfloat16)
    expected = reference(*[np.asarray(a, np.float64) for a in args])
    # bfloat16 keeps 8 significant bits: the only error is rounding the result.
    np.testing.assert_allclose(np.float64(out), expected, rtol=1e-2, atol=1e-2)

  def test_log_scale_is_keyword_only(self):
    with self.assertRaises(TypeError):
      losses.gaussian_log_likelihood(jnp.zeros((2, 3)), jnp.zeros((2, 3)), 0.0)  # pytype: disable=wrong-arg-count


class VaeExtremeInputsTest(chex.TestCase):
  """Saturated logits, huge log-weights and extreme variances stay finite."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_bernoulli_log_likelihood_is_exact_and_finite_at_logits_1e9(self):
    # log_sigmoid(1e9) = 0 and log_sigmoid(-1e9) = -1e9: a confident right
    # pixel costs 0, a confident wrong one 1e9.
    x = jnp.array([[1.0, 0.0], [1.0, 0.0]])
    logits = jnp.array([[1e9, -1e9], [-1e9, 1e9]])
    fn = self.variant(losses.bernoulli_log_likelihood)
    np.testing.assert_allclose(fn(x, logits), [0.0, -2e9], rtol=1e-6)
    grad = jax.grad(lambda l: jnp.sum(fn(x, l)))(logits)
    chex.assert_tree_all_finite(grad)
    # d/dl = x - sigmoid(l): 0 where right, +-1 where wrong.
    np.testing.assert_allclose(grad, [[0.0, 0.0], [1.0, -1.0]], atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_importance_weighted_bound_is_finite_where_exp_overflows(self):
    # exp(+-1e4) is inf / 0 in float32. logsumexp of K equal values v is
    # v + log K, so the bound returns v itself.
    log_joint = jnp.array([[1e4, -1e4], [1e4, -1e4], [1e4, -1e4]])
    bound = self.variant(losses.importance_weighted_bound)(
        log_joint, jnp.zeros_like(log_joint))
    np.testing.assert_allclose(bound, [1e4, -1e4], rtol=1e-6)
    grad = jax.grad(lambda lj: jnp.sum(losses.importance_weighted_bound(
        lj, jnp.zeros_like(lj))))(log_joint)
    # Softmax weights: 1/3 each.
    np.testing.assert_allclose(grad, np.full((3, 2), 1.0 / 3.0), rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(-80.0, 80.0)
  def test_gaussian_terms_are_finite_at_extreme_log_variances(self, log_var):
    mean = jnp.array([[1e9, -1.0], [0.5, 0.0]])
    log_var = jnp.full((2, 2), log_var)
    kl = self.variant(losses.gaussian_kl_to_standard_normal)(mean, log_var)
    log_q = self.variant(losses.gaussian_log_density)(
        jnp.zeros((2, 2)), mean * 0.0 + 1.0, log_var)
    ll = self.variant(functools.partial(losses.gaussian_log_likelihood,
                                        log_scale=0.5 * log_var))(
                                            jnp.zeros((2, 2)), mean * 0.0 + 1.0)
    chex.assert_tree_all_finite((kl, log_q, ll))
    # Closed forms for example 1 (mean (0.5, 0)), in float64.
    v = np.float64(log_var[0, 0])
    np.testing.assert_allclose(kl[1], 0.5 * (2 * np.exp(v) + 0.25 - 2 - 2 * v),
                               rtol=1e-5)
    np.testing.assert_allclose(log_q, 2 * stats.norm.logpdf(
        0.0, 1.0, np.exp(0.5 * v)) * np.ones(2), rtol=1e-5)
    np.testing.assert_allclose(log_q, ll, rtol=1e-6)
    grads = jax.grad(
        lambda m, lv: jnp.sum(losses.gaussian_kl_to_standard_normal(m, lv)),
        argnums=(0, 1))(mean, log_var)
    chex.assert_tree_all_finite(grads)


class VaeGradientCheckTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(
      ("kl", losses.gaussian_kl_to_standard_normal, 2),
      ("gaussian_learned_scale",
       lambda x, m, s: losses.gaussian_log_likelihood(x, m, log_scale=s), 3),
      ("bernoulli", losses.bernoulli_log_likelihood, 2),
      ("log_density", losses.gaussian_log_density, 3),
      ("standard_normal", losses.standard_normal_log_density, 1),
      ("iwae", losses.importance_weighted_bound, 2),
      ("vae_gan", losses.vae_gan_feature_log_likelihood, 2),
  )
  def test_gradients_match_finite_differences(self, fn, num_args):
    # In float64: these sums carry constants like -F/2 log(2 pi), and float32
    # central differences of such values lose the third digit.
    with jax.enable_x64(True):
      args = [jnp.asarray(np.float64(_normal((3, 4), 50 + i, 0.7)))
              for i in range(num_args)]
      if fn is losses.bernoulli_log_likelihood:  # x in [0, 1]
        args[0] = jax.nn.sigmoid(args[0])
      jtu.check_grads(self.variant(lambda *a: jnp.sum(fn(*a))), tuple(args),
                      order=1, modes=["rev"])


class LinearGaussianModelTest(chex.TestCase):
  """The bounds on a model whose marginal likelihood and posterior are exact.

  p(z) = N(0, I_d), p(x | z) = N(W z + b, sigma^2 I_D), so
  p(x) = N(b, W W^T + sigma^2 I) and p(z | x) = N(mu, S) with
  S = (I + W^T W / sigma^2)^{-1} and mu = S W^T (x - b) / sigma^2. W has
  orthogonal columns, so W^T W and the posterior are diagonal: a diagonal
  Gaussian encoder can represent the posterior exactly. For a diagonal
  q = N(m, C), E_q log p(x | z) = log N(x; W m + b, sigma^2 I)
  - tr(W C W^T) / (2 sigma^2), and log p(x) - ELBO(q) = KL(q || p(z | x)).
  """

  D, DZ, B, SIGMA = 6, 3, 4, 0.5

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(60)
    q, _ = np.linalg.qr(rng.normal(size=(self.D, self.DZ)))
    self.w = q * np.array([2.0, 0.7, 1.3])  # orthogonal columns
    self.b = rng.normal(size=self.D)
    self.x = rng.normal(size=(self.B, self.D)) * 1.5 + self.b
    self.marginal = stats.multivariate_normal(
        self.b, self.w @ self.w.T + self.SIGMA**2 * np.eye(self.D))
    self.log_px = self.marginal.logpdf(self.x)
    post_cov = np.linalg.inv(np.eye(self.DZ) + self.w.T @ self.w / self.SIGMA**2)
    np.testing.assert_allclose(post_cov, np.diag(np.diag(post_cov)), atol=1e-12)
    self.post_cov = post_cov
    self.post_mean = (self.x - self.b) @ self.w @ post_cov / self.SIGMA**2
    self.post_log_var = np.log(np.diag(post_cov))

  def _elbo_by_library(self, mean, log_var):
    """E_q log p(x|z) in closed form and the KL, combined by losses.elbo."""
    mean32 = np.float32(mean)
    recon_mean = mean32 @ np.float32(self.w.T) + np.float32(self.b)
    trace = np.sum(np.exp(log_var) * np.sum(self.w**2, axis=0), axis=-1)
    expected_ll = losses.gaussian_log_likelihood(
        np.float32(self.x), recon_mean,
        log_scale=np.log(self.SIGMA)) - np.float32(trace / (2 * self.SIGMA**2))
    kl = losses.gaussian_kl_to_standard_normal(
        mean32, np.float32(np.broadcast_to(log_var, mean.shape)))
    return losses.elbo(expected_ll, kl)

  def _log_weights(self, x, mean, log_var, num_samples, key):
    """log p(x, z_k) and log q(z_k | x) for z_k ~ q, shape (K, B), by the library."""
    mean, log_var = jnp.float32(mean), jnp.float32(log_var)
    eps = jax.random.normal(key, (num_samples,) + mean.shape)
    z = mean + jnp.exp(0.5 * log_var) * eps
    x, w, b = jnp.float32(x), jnp.float32(self.w), jnp.float32(self.b)
    log_lik = jax.vmap(lambda zk: losses.gaussian_log_likelihood(
        x, zk @ w.T + b, log_scale=np.log(self.SIGMA)))(z)
    log_joint = log_lik + jax.vmap(losses.standard_normal_log_density)(z)
    log_q = jax.vmap(losses.gaussian_log_density,
                     in_axes=(0, None, None))(z, mean, log_var)
    return log_joint, log_q

  def test_elbo_at_the_exact_posterior_is_the_log_marginal_likelihood(self):
    elbo = self._elbo_by_library(self.post_mean, self.post_log_var)
    chex.assert_shape(elbo, (self.B,))
    np.testing.assert_allclose(elbo, self.log_px, rtol=1e-5, atol=1e-4)

  def test_elbo_gap_of_a_mismatched_encoder_is_kl_to_the_posterior(self):
    mean = self.post_mean + np.array([0.3, -0.2, 0.1])
    log_var = self.post_log_var + np.array([0.7, -0.5, 0.2])
    elbo = self._elbo_by_library(mean, log_var)
    # KL(N(m, C) || N(mu, S)) for full matrices, in float64.
    cov = np.diag(np.exp(log_var))
    prec = np.linalg.inv(self.post_cov)
    diff = self.post_mean - mean
    kl_post = 0.5 * (np.trace(prec @ cov) - self.DZ
                     + np.einsum("bi,ij,bj->b", diff, prec, diff)
                     + np.linalg.slogdet(self.post_cov)[1]
                     - np.linalg.slogdet(cov)[1])
    self.assertTrue(np.all(kl_post > 0.1))
    np.testing.assert_allclose(self.log_px - elbo, kl_post, rtol=1e-4,
                               atol=2e-4)

  @parameterized.parameters(1, 3, 50)
  def test_exact_posterior_proposal_makes_every_weight_the_marginal(
      self, num_samples):
    log_joint, log_q = jax.jit(self._log_weights, static_argnums=3)(
        self.x, self.post_mean, self.post_log_var, num_samples,
        jax.random.key(61))
    # Zero variance: p(x, z) / p(z | x) = p(x) for every z.
    np.testing.assert_allclose(log_joint - log_q,
                               np.broadcast_to(self.log_px, log_q.shape),
                               rtol=1e-5, atol=1e-4)
    bound = losses.importance_weighted_bound(log_joint, log_q)
    np.testing.assert_allclose(bound, self.log_px, rtol=1e-5, atol=1e-4)

  def test_mismatched_proposal_bound_increases_with_k_towards_log_px(self):
    # q: posterior mean shifted by about one posterior s.d., variance doubled.
    mean = self.post_mean + 0.3
    log_var = np.broadcast_to(self.post_log_var + np.log(2.0), mean.shape)
    replicates, max_k = 2000, 64
    tile = lambda a: np.tile(a, (replicates, 1))  # row r * B + i: example i
    log_joint, log_q = jax.jit(self._log_weights, static_argnums=3)(
        tile(self.x), tile(mean), tile(log_var), max_k, jax.random.key(62))
    bounds, errors = [], []
    for k in (1, 4, 16, 64):
      per_replicate = np.asarray(losses.importance_weighted_bound(
          log_joint[:k], log_q[:k])).reshape(replicates, self.B)
      bounds.append(per_replicate.mean(0))
      errors.append(per_replicate.std(0) / np.sqrt(replicates))
    bounds, errors = np.array(bounds), np.array(errors)
    # E L_1 is the ELBO, whose closed form the previous tests established.
    np.testing.assert_allclose(bounds[0],
                               self._elbo_by_library(mean, log_var),
                               atol=float(4 * errors[0].max()))
    # Monotone by clear margins (each step several standard errors), and every
    # estimate below log p(x).
    steps = np.diff(bounds, axis=0)
    self.assertTrue(np.all(steps > 4 * errors[:-1]), (bounds, errors))
    self.assertTrue(np.all(bounds < self.log_px), (bounds, self.log_px))
    # K = 64 closes most of the K = 1 gap.
    self.assertTrue(np.all(self.log_px - bounds[-1]
                           < 0.25 * (self.log_px - bounds[0])),
                    (bounds, self.log_px))


# --------------------------------------------------------------------------- #
# Semi-supervised K+1 GAN and historical averaging (Salimans et al. 2016).
# --------------------------------------------------------------------------- #


_SEMI_SUPERVISED_AND_HISTORY_FUNCTIONS = (
    "semi_supervised_classification_loss", "semi_supervised_unsupervised_loss",
    "semi_supervised_discriminator_loss", "historical_averaging_penalty")


def _np_k_plus_one(logits):
  """float64 probabilities over K + 1 classes, the fake class's logit fixed at 0."""
  full = np.concatenate([np.float64(logits), np.zeros((len(logits), 1))], axis=1)
  e = np.exp(full - full.max(1, keepdims=True))
  return e / e.sum(1, keepdims=True)


class SemiSupervisedLossTest(chex.TestCase):
  """The K+1 losses against float64 NumPy written from the explicit K+1 softmax."""

  def setUp(self):
    super().setUp()
    self.real = _normal((7, 4), 161)
    self.fake = _normal((5, 4), 162)
    self.labels = np.array([2, 0, 3, 1, 9, -5, 0], np.int32)  # garbage where unlabelled
    self.mask = np.array([1, 1, 1, 1, 0, 0, 0], bool)

  @chex.variants(with_jit=True, without_jit=True)
  def test_classification_loss_is_mean_cross_entropy_over_the_labelled_rows(self):
    got = self.variant(losses.semi_supervised_classification_loss)(
        self.real, self.labels, self.mask)
    # p(y | x, y <= K): the K+1 softmax renormalised over the real classes.
    p = _np_k_plus_one(self.real)[:, :4]
    p = p / p.sum(1, keepdims=True)
    rows = np.flatnonzero(self.mask)
    expected = -np.mean(np.log(p[rows, self.labels[rows]]))
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_classification_loss_is_zero_without_labels(self):
    got = self.variant(losses.semi_supervised_classification_loss)(
        self.real, self.labels, np.zeros(7, bool))
    self.assertEqual(float(got), 0.0)

  @chex.variants(with_jit=True, without_jit=True)
  def test_unsupervised_loss_is_bce_of_one_minus_the_fake_class_probability(self):
    got = self.variant(losses.semi_supervised_unsupervised_loss)(self.real, self.fake)
    # D(x) = 1 - p(K + 1 | x): real rows should have D = 1, fake rows D = 0.
    d_real = 1.0 - _np_k_plus_one(self.real)[:, -1]
    d_fake = 1.0 - _np_k_plus_one(self.fake)[:, -1]
    expected = -np.mean(np.log(d_real)) - np.mean(np.log(1.0 - d_fake))
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_unsupervised_loss_per_row_is_bce_of_each_real_and_fake_row(self):
    fake = _normal((7, 4), 163)  # As many rows as the real batch.
    fn = functools.partial(losses.semi_supervised_unsupervised_loss,
                           reduction="none")
    got = self.variant(fn)(self.real, fake)
    chex.assert_shape(got, (7,))
    d_real = 1.0 - _np_k_plus_one(self.real)[:, -1]
    d_fake = 1.0 - _np_k_plus_one(fake)[:, -1]
    np.testing.assert_allclose(got, -np.log(d_real) - np.log(1.0 - d_fake),
                               rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_discriminator_loss_is_supervised_plus_weighted_unsupervised(self):
    got = self.variant(functools.partial(losses.semi_supervised_discriminator_loss,
                                         unsupervised_weight=0.5))(
        self.real, self.fake, self.labels, self.mask)
    p = _np_k_plus_one(self.real)
    rows = np.flatnonzero(self.mask)
    sup = -np.mean(np.log(p[rows, self.labels[rows]] / p[rows, :4].sum(1)))
    unsup = (-np.mean(np.log(1.0 - p[:, -1]))
             - np.mean(np.log(_np_k_plus_one(self.fake)[:, -1])))
    np.testing.assert_allclose(got, sup + 0.5 * unsup, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_extreme_logits_stay_finite(self):
    big = np.array([[1e9, -1e9, 0.0], [-1e9, -1e9, -1e9]], np.float32)
    got = self.variant(losses.semi_supervised_discriminator_loss)(
        big, big, np.array([0, 1], np.int32), np.array([True, True]))
    self.assertTrue(np.isfinite(float(got)))

  def test_gradients_match_finite_differences(self):
    fn = lambda r, f: losses.semi_supervised_discriminator_loss(
        r, f, self.labels, self.mask)
    jtu.check_grads(fn, (self.real.astype(np.float64) / 2, self.fake.astype(np.float64) / 2),
                    order=1, modes=["rev"], atol=1e-2, rtol=1e-2)


class HistoricalAveragingTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_penalty_is_the_squared_distance_summed_over_leaves(self):
    params = {"a": _normal((3, 2), 171), "b": {"c": _normal((4,), 172)}}
    avg = {"a": _normal((3, 2), 173), "b": {"c": _normal((4,), 174)}}
    got = self.variant(losses.historical_averaging_penalty)(params, avg)
    expected = sum(np.sum((np.float64(params[k]) - avg[k]) ** 2) for k in ("a",))
    expected += np.sum((np.float64(params["b"]["c"]) - avg["b"]["c"]) ** 2)
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  def test_gradient_is_twice_the_distance_and_the_mean_gets_none(self):
    params, avg = _normal((5,), 175), _normal((5,), 176)
    gp, ga = jax.grad(losses.historical_averaging_penalty, argnums=(0, 1))(params, avg)
    np.testing.assert_allclose(gp, 2 * (np.float64(params) - avg), rtol=1e-5)
    np.testing.assert_array_equal(ga, np.zeros(5))


# --------------------------------------------------------------------------- #
# Zero-centred gradient penalties R1 and R2 (Mescheder et al. 2018).
# --------------------------------------------------------------------------- #


class ZeroCentredPenaltyTest(chex.TestCase):
  """R1 / R2 (Mescheder et al. 2018): 1/2 mean_i |grad_x D(x_i)|^2."""

  @chex.all_variants(with_pmap=False)
  @parameterized.parameters("r1_penalty", "r2_penalty")
  def test_linear_critic_gives_half_squared_weight_norm(self, name):
    # D(x) = <w, x> + b: the gradient is w at every point.
    w = jnp.array([[1.0, -2.0], [0.5, 3.0]])
    critic = lambda x: jnp.sum(x * w, axis=(1, 2)) + 0.7
    x = jax.random.normal(jax.random.key(0), (5, 2, 2))
    got = self.variant(lambda v: getattr(losses, name)(critic, v))(x)
    np.testing.assert_allclose(got, 0.5 * (1 + 4 + 0.25 + 9), rtol=1e-6)

  @chex.all_variants(with_pmap=False)
  def test_quadratic_critic_matches_closed_form(self):
    # D(x) = 1/2 x^T A x (A symmetric): grad = A x, R1 = 1/2 mean_i |A x_i|^2.
    rng = np.random.default_rng(0)
    m = rng.normal(size=(3, 3))
    a = (m + m.T) / 2
    x = rng.normal(size=(6, 3))
    critic = lambda v: 0.5 * jnp.einsum("bi,ij,bj->b", v, jnp.asarray(a, jnp.float32), v)
    got = self.variant(lambda v: losses.r1_penalty(critic, v))(jnp.asarray(x, jnp.float32))
    expected = 0.5 * np.mean(np.sum((x @ a) ** 2, axis=1))
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  def test_nonlinear_critic_matches_central_finite_differences(self):
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4,))
    x = rng.normal(size=(3, 4))
    f = lambda v: np.tanh(v @ w) + 0.1 * np.sum(v**3, axis=-1)
    h = 1e-5
    grads = np.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(4)], axis=1)
    expected = 0.5 * np.mean(np.sum(grads**2, axis=1))
    critic = lambda v: jnp.tanh(v @ jnp.asarray(w)) + 0.1 * jnp.sum(v**3, axis=-1)
    with jax.enable_x64(True):
      got = losses.r2_penalty(critic, jnp.asarray(x))
    np.testing.assert_allclose(float(got), expected, rtol=1e-7)

  def test_gradient_wrt_critic_weights_is_closed_form(self):
    # D(x) = <w, x>: R1 = 1/2 |w|^2, so dR1/dw = w (a gradient through a gradient).
    w = jnp.array([0.3, -1.2, 2.0])
    x = jnp.ones((4, 3))
    grad = jax.grad(lambda ww: losses.r1_penalty(lambda v: v @ ww, x))(w)
    np.testing.assert_allclose(grad, w, rtol=1e-6)
    jtu.check_grads(lambda ww: losses.r1_penalty(lambda v: jnp.tanh(v @ ww), x), (w,),
                    order=2, modes=["rev"])

  def test_zero_gradient_gives_zero_and_finite_derivative(self):
    x = jnp.zeros((2, 3))
    grad = jax.grad(lambda c: losses.r1_penalty(lambda v: c * jnp.sum(v**2, -1), x))(1.0)
    self.assertEqual(float(losses.r1_penalty(lambda v: jnp.sum(v**2, -1), x)), 0.0)
    self.assertTrue(np.isfinite(grad))


if __name__ == "__main__":
  absltest.main()
