"""The generator's exponential moving average: decay schedule and update against hand sums."""

import chex
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.ema import ema_decay, ema_update


@pytest.mark.parametrize("step,start,warmup,expected", [
    (0, 0, True, 0.1),            # min(0.999, 1/10)
    (5, 0, True, 6 / 15),
    (10_000, 0, True, 0.999),     # (10001/10010 = 0.9991) > 0.999
    (7, 0, False, 0.999),
    (2, 3, True, 0.0),            # before the start step: a copy
    (3, 3, True, 0.1),            # the first averaging update restarts the warm-up
    (4, 3, False, 0.999),
])
def test_decay_follows_the_warm_up_rule(step, start, warmup, expected):
  got = ema_decay(step, 0.999, start_step=start, warmup=warmup)
  np.testing.assert_allclose(float(got), expected, rtol=1e-6)


class EmaUpdateTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_average_of_a_weight_sequence_equals_the_hand_computed_sum(self):
    # Weights after updates 0..4 of one parameter (and a BatchNorm mean).
    seq = [1.0, 3.0, -2.0, 4.0, 0.5]
    decay, start = 0.5, 1
    # By hand: update 0 copies (before start); then d = min(0.5, (1+n)/(10+n)), n = t - 1.
    avg = 0.0  # the initial average (the weights before update 0)
    for t, w in enumerate(seq):
      d = 0.0 if t < start else min(decay, (1 + t - start) / (10 + t - start))
      avg = d * avg + (1 - d) * w
    update = self.variant(lambda a, n, t: ema_update(a, n, t, decay, start_step=start))
    tree = {"params": {"w": jnp.zeros(2)}, "batch_stats": {"mean": jnp.zeros(1)}}
    for t, w in enumerate(seq):
      new = {"params": {"w": jnp.full(2, w)}, "batch_stats": {"mean": jnp.full(1, w)}}
      tree = update(tree, new, jnp.int32(t))
    np.testing.assert_allclose(tree["params"]["w"], [avg, avg], rtol=1e-6)
    np.testing.assert_allclose(tree["batch_stats"]["mean"], [avg], rtol=1e-6)
    # The first two by hand: update 0 copies 1.0; update 1 (d = 1/10): 0.1 * 1 + 0.9 * 3.
    two = {"params": {"w": jnp.zeros(2)}, "batch_stats": {"mean": jnp.zeros(1)}}
    for t, w in enumerate(seq[:2]):
      two = update(two, {"params": {"w": jnp.full(2, w)},
                         "batch_stats": {"mean": jnp.full(1, w)}}, jnp.int32(t))
    np.testing.assert_allclose(two["params"]["w"], [2.8, 2.8], rtol=1e-6)
