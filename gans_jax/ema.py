"""Exponential moving average of network weights (parameters and BatchNorm statistics).

After generator update t (counted from 0) the average moves towards the new
weights :math:`\\theta_{t+1}`:

.. math::
  \\bar\\theta_{t+1} = d_t \\bar\\theta_t + (1 - d_t) \\theta_{t+1}, \\qquad
  d_t = \\min\\Big(d, \\frac{1 + n}{10 + n}\\Big), \\quad n = t - t_0,

with :math:`d_t = d` when the warm-up is off, and :math:`\\bar\\theta = \\theta`
(a copy) before the start step :math:`t_0`. The warm-up is TensorFlow's
``ExponentialMovingAverage(num_updates=...)`` rule: early on, when the
weights move fast, the average forgets quickly, so it is not dragged towards
the random initialisation. Averaging a generator's weights over training
(Yazici et al., "The Unusual Effectiveness of Averaging in GAN Training",
2019, arXiv:1806.04498; Karras et al. 2018, arXiv:1710.10196) removes much of
the oscillation of the last iterates.

Pure functions on pytrees; `optax.incremental_update` does the averaging.
"""

import jax.numpy as jnp
import optax


def ema_decay(step, decay: float, *, start_step: int = 0, warmup: bool = True):
  """The decay :math:`d_t` used by the update after step `step` (0 before `start_step`).

  Args:
    step: the update's index t (int or int array, counted from 0).
    decay: the target decay d in [0, 1).
    start_step: updates before this one copy the weights (decay 0).
    warmup: use ``min(d, (1 + n) / (10 + n))``, n = t - start_step.

  Returns:
    A float32 scalar array.
  """
  n = jnp.asarray(step, jnp.float32) - start_step
  d = jnp.asarray(decay, jnp.float32)
  if warmup:
    d = jnp.minimum(d, (1.0 + n) / (10.0 + n))
  return jnp.where(n < 0, 0.0, d)


def ema_update(average, new, step, decay: float, *, start_step: int = 0,
               warmup: bool = True):
  """The average after update `step`: ``d_t * average + (1 - d_t) * new`` per leaf.

  Args:
    average: the current average (any pytree of float arrays).
    new: the weights after update `step`, same structure as `average`.
    step, decay, start_step, warmup: as in `ema_decay`.

  Returns:
    The new average, with the structure and dtypes of `average`.
  """
  d = ema_decay(step, decay, start_step=start_step, warmup=warmup)
  return optax.incremental_update(new, average, 1.0 - d)


def average_variables(average: dict) -> dict:
  """The Flax variables of an average ``{'params', 'batch_stats'}`` (statistics left out when the
  network has none), to `apply` the averaged network with."""
  if average["batch_stats"]:
    return {"params": average["params"], "batch_stats": average["batch_stats"]}
  return {"params": average["params"]}
