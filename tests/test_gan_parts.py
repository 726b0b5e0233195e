"""Each named part of the GAN step, alone, against values computed by hand or in NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.families import gan
from gans_jax.families.gan_parts import (Augmentation, Disentanglement, FeatureMatching,
                                         GeneratorEMA, HistoricalAveraging, Objective, Packing,
                                         Penalty, SpectralNorm, step_parts)


def _sigmoid(x):
  return 1 / (1 + np.exp(-x))


REAL = np.array([0.5, -1.0, 2.0], np.float32)
FAKE = np.array([-0.3, 0.8, -2.5], np.float32)


def _objective(**loss_fields):
  config = gan.default_config()
  for k, v in loss_fields.items():
    config.loss[k] = v
  return Objective.from_config(config.loss)


def test_the_minimax_objective_smooths_only_the_real_label_and_weights_the_g_loss():
  obj = _objective(name="non_saturating", real_label=0.9, adversarial_weight=0.25)
  t = 0.9
  expected_d = np.mean(-(t * np.log(_sigmoid(REAL)) + (1 - t) * np.log(1 - _sigmoid(REAL)))
                       - np.log(1 - _sigmoid(FAKE)))
  assert float(obj.d_loss(REAL, FAKE)) == pytest.approx(expected_d, rel=1e-5)
  assert float(obj.g_loss(FAKE)) == pytest.approx(np.mean(-np.log(_sigmoid(FAKE))), rel=1e-5)
  assert obj.g_weight == 0.25


def test_the_hinge_objective_is_the_hinge_losses():
  obj = _objective(name="hinge")
  expected = np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE))
  assert float(obj.d_loss(REAL, FAKE)) == pytest.approx(expected, rel=1e-6)
  assert float(obj.g_loss(FAKE)) == pytest.approx(-np.mean(FAKE), rel=1e-6)


W = np.array([3.0, 4.0], np.float32)  # |w| = 5
LINEAR = lambda labels: lambda x: x @ W  # a critic whose input gradient is w everywhere


@pytest.mark.parametrize("point, expected", [
    ("interpolate", (5.0 - 1.0) ** 2),   # WGAN-GP: (|grad| - 1)^2
    ("real", 0.5 * 25.0),                # R1: 1/2 |grad|^2
    ("fake", 0.5 * 25.0),                # R2
])
def test_the_penalty_adds_its_weight_times_the_penalty_at_its_points(point, expected):
  x = (jnp.ones((4, 2)),)
  keys = jax.random.split(jax.random.PRNGKey(0), 4)
  aux = {}
  total = Penalty(weight=10.0, point=point).add(1.0, aux, LINEAR, x, x, keys, Packing(1))
  assert float(aux["gp"]) == pytest.approx(expected, rel=1e-5)
  assert float(total) == pytest.approx(1.0 + 10.0 * expected, rel=1e-5)


def test_a_part_that_is_off_adds_nothing_and_records_nothing():
  aux = {}
  assert Penalty(weight=0.0).add(1.5, aux, None, None, None, None, None) == 1.5
  assert HistoricalAveraging(0.0).add(1.5, aux, None, None, "d") == 1.5
  assert FeatureMatching(0.0).add(1.5, aux, None, None) == 1.5
  assert Disentanglement(0.0).add(1.5, aux, None, None) == 1.5
  assert aux == {}
  x = jnp.arange(6.0).reshape(3, 2)
  assert Augmentation(())(x, None, 1) is x
  assert Packing(1)(x) is x
  params, vectors = {"w": x}, {"u": 1}
  assert SpectralNorm(False)(params, vectors) == (params, vectors)
  assert GeneratorEMA(0.0).update("average", None, 3) == "average"
  assert HistoricalAveraging(0.0).update("history", "d", None) == "history"


def test_historical_averaging_is_the_squared_distance_to_the_running_mean():
  thetas = [{"a": np.array([1.0, 2.0], np.float32)}, {"a": np.array([3.0, -2.0], np.float32)},
            {"a": np.array([2.0, 6.0], np.float32)}]
  part = HistoricalAveraging(0.5)
  history = {"d": {"mean": thetas[0], "count": jnp.ones((), jnp.int32)}}
  for theta in thetas[1:]:
    history = part.update(history, "d", theta)
  mean = np.mean([t["a"] for t in thetas], axis=0)  # [2, 2]
  np.testing.assert_allclose(history["d"]["mean"]["a"], mean, rtol=1e-6)
  params = {"a": np.array([0.0, 5.0], np.float32)}
  aux = {}
  total = part.add(1.0, aux, params, history, "d")
  assert float(aux["d_historical"]) == pytest.approx(0.5 * (4.0 + 9.0), rel=1e-6)
  assert float(total) == pytest.approx(1.0 + 6.5, rel=1e-6)


def test_feature_matching_is_the_squared_distance_between_feature_means():
  real = np.array([[1.0, 0.0], [3.0, 2.0]], np.float32)   # mean [2, 1]
  fake = np.array([[0.0, 0.0], [0.0, 4.0], [3.0, 2.0]], np.float32)  # mean [1, 2]
  aux = {}
  total = FeatureMatching(2.0).add(0.0, aux, real, fake)
  assert float(aux["feature_matching"]) == pytest.approx(2.0, rel=1e-6)
  assert float(total) == pytest.approx(4.0, rel=1e-6)


def test_disentanglement_is_the_cross_entropy_against_the_argmax_of_the_first_coordinates():
  logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]], np.float32)
  z = np.array([[0.1, 0.9, -3.0, 7.0], [2.0, -1.0, 0.0, 9.0]], np.float32)  # classes 1, 0
  log_softmax = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
  expected = -np.mean([log_softmax[0, 1], log_softmax[1, 0]])
  aux = {}
  total = Disentanglement(0.5, classifier=lambda images: images).add(1.0, aux, logits, z)
  assert float(aux["disentangle"]) == pytest.approx(expected, rel=1e-5)
  assert float(total) == pytest.approx(1.0 + 0.5 * expected, rel=1e-5)


def test_the_generator_ema_is_the_decayed_average_from_its_start_step():
  part = GeneratorEMA(decay=0.9, start_step=2, warmup=False)

  class G:
    params = {"w": jnp.array([10.0])}
    batch_stats = {}
  average = {"params": {"w": jnp.array([0.0])}, "batch_stats": {}}
  # Before start_step the average copies G; after it, 0.9 * average + 0.1 * G.
  np.testing.assert_allclose(part.update(average, G, 1)["params"]["w"], [10.0])
  np.testing.assert_allclose(part.update(average, G, 2)["params"]["w"], [1.0], rtol=1e-6)


def test_packing_concatenates_consecutive_examples_on_the_last_axis():
  x = np.arange(12.0, dtype=np.float32).reshape(4, 3)
  np.testing.assert_array_equal(Packing(2)(x), [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])


def test_spectral_norm_when_on_divides_each_kernel_by_its_largest_singular_value():
  kernel = np.diag([4.0, 2.0]).astype(np.float32)
  params = {"Dense_0": {"kernel": kernel, "bias": np.zeros(2, np.float32)}}
  from gans_jax.nets import spectral_norm
  vectors = spectral_norm.init_vectors(params, jax.random.PRNGKey(0))
  for _ in range(30):  # power iterations converge on the top singular vector
    normalised, vectors = SpectralNorm(True)(params, vectors)
  np.testing.assert_allclose(normalised["Dense_0"]["kernel"], np.diag([1.0, 0.5]), atol=1e-4)


def test_step_parts_reads_every_part_from_the_config_and_loads_no_classifier_unless_asked():
  config = gan.default_config()
  config.loss.gp_weight, config.loss.gp_point = 10.0, "real"
  config.model.pack = 3
  config.augment.policy = "translation,cutout"
  config.ema.decay = 0.99
  config.loss.historical_averaging = 0.1

  def no_classifier():
    raise AssertionError("the classifier was loaded although loss.disentangle is 0")
  parts = step_parts(config, no_classifier)
  assert parts.penalty == Penalty(10.0, "real", 1.0, False)
  assert parts.packing == Packing(3)
  assert parts.augmentation.policy == ("translation", "cutout")
  assert parts.generator_ema.decay == 0.99
  assert parts.historical_averaging.weight == 0.1
  assert parts.disentanglement.classifier is None
