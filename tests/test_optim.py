"""WGAN weight clipping and the optimizer builder."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gans_jax.errors import UserError
from gans_jax.optim import clip_params, make_optimizer, optimizer_config


def test_clip_params_lands_on_the_clipped_parameters():
  params = {"w": jnp.array([0.005, -0.009, 0.0]), "b": jnp.array([0.02])}
  grads = {"w": jnp.array([-1.0, 1.0, 0.001]), "b": jnp.array([0.0])}
  tx = optax.chain(optax.sgd(0.01), clip_params(0.01))
  state = tx.init(params)
  updates, _ = tx.update(grads, state, params)
  new = optax.apply_updates(params, updates)
  # SGD proposes w - 0.01 g = [0.015, -0.019, -0.00001], b = 0.02; clipped to +-0.01.
  np.testing.assert_allclose(new["w"], [0.01, -0.01, -0.00001], rtol=1e-6)
  np.testing.assert_allclose(new["b"], [0.01], rtol=1e-6)


def test_clip_params_needs_params():
  tx = clip_params(0.1)
  with pytest.raises(ValueError, match="params"):
    tx.update({"w": jnp.ones(2)}, tx.init({"w": jnp.ones(2)}))


def test_make_optimizer_adam_matches_optax_adam():
  params = {"w": jnp.array([1.0, -2.0])}
  grads = {"w": jnp.array([0.5, 0.25])}
  ours = make_optimizer(optimizer_config("adam", 1e-4, b1=0.0, b2=0.9))
  ref = optax.adam(1e-4, b1=0.0, b2=0.9)
  u1, _ = ours.update(grads, ours.init(params), params)
  u2, _ = ref.update(grads, ref.init(params), params)
  np.testing.assert_allclose(u1["w"], u2["w"])
  # First Adam step moves each weight by -lr * sign(g) (bias-corrected, eps aside).
  np.testing.assert_allclose(u1["w"], [-1e-4, -1e-4], rtol=1e-4)


def test_unknown_optimizer_names_the_field():
  with pytest.raises(UserError, match=r"optimizer\.d\.name"):
    make_optimizer(optimizer_config("adagrad"), field="optimizer.d")


# ----------------------------------------------------------------------------- schedules

from gans_jax.optim import learning_rate_schedule, uses_schedule  # noqa: E402


def _hand_rate(kind, t, *, lr=1e-3, warmup=0, total=100, final=0.0):
  """The documented formulas, in training steps t."""
  if t < warmup:
    return lr * t / warmup
  frac = min(1.0, (t - warmup) / (total - warmup))
  if kind == "constant":
    return lr
  if kind == "linear":
    return lr * (1 - (1 - final) * frac)
  return lr * (final + (1 - final) * (1 + np.cos(np.pi * frac)) / 2)


@pytest.mark.parametrize("kind", ["constant", "linear", "cosine"])
@pytest.mark.parametrize("warmup,final,per_step", [(0, 0.0, 1), (10, 0.1, 5)])
def test_schedule_matches_the_hand_formula(kind, warmup, final, per_step):
  opt = optimizer_config("adam", 1e-3, schedule=kind, warmup_steps=warmup, final_scale=final)
  fn = learning_rate_schedule(opt, num_steps=100, updates_per_step=per_step)
  if kind == "constant" and warmup == 0:
    assert fn == 1e-3 and not uses_schedule(opt)  # no schedule state at all
    return
  for t in (0, 1, 5, 9, 10, 11, 37, 50, 99, 100, 140):
    for sub in range(per_step):  # every update of step t uses step t's rate
      np.testing.assert_allclose(float(fn(t * per_step + sub)),
                                 _hand_rate(kind, t, warmup=warmup, final=final),
                                 rtol=1e-5, atol=1e-9, err_msg=f"{kind} t={t}")


def test_decay_steps_overrides_the_run_length():
  opt = optimizer_config("sgd", 0.5, schedule="linear", decay_steps=20)
  fn = learning_rate_schedule(opt, num_steps=1000)
  np.testing.assert_allclose([float(fn(c)) for c in (0, 10, 20, 30)], [0.5, 0.25, 0.0, 0.0],
                             atol=1e-7)


def test_scheduled_sgd_moves_by_the_scheduled_rate():
  opt = optimizer_config("sgd", 0.1, schedule="cosine", warmup_steps=2)
  tx = make_optimizer(opt, num_steps=10)
  params = {"w": jnp.zeros(1)}
  state = tx.init(params)
  steps = []
  for _ in range(4):
    updates, state = tx.update({"w": jnp.ones(1)}, state, params)
    steps.append(-float(updates["w"][0]))
  # Warm-up 0, 0.05, then cosine from 0.1 over 8 steps: 0.1, 0.1 (1 + cos(pi / 8)) / 2.
  np.testing.assert_allclose(steps, [0.0, 0.05, 0.1, 0.05 * (1 + np.cos(np.pi / 8))],
                             rtol=1e-6)


@pytest.mark.parametrize("field,value,match", [
    ("schedule", "step", r"optimizer\.g\.schedule: 'step'"),
    ("warmup_steps", -1, r"optimizer\.g\.warmup_steps"),
    ("final_scale", 1.5, r"optimizer\.g\.final_scale"),
    ("decay_steps", 5, r"optimizer\.g\.decay_steps: must exceed warmup_steps"),
])
def test_bad_schedule_fields_name_the_field(field, value, match):
  from gans_jax.optim import check_optimizer_config
  opt = optimizer_config("adam", 1e-3, warmup_steps=10)
  opt[field] = value
  with pytest.raises(UserError, match=match):
    check_optimizer_config(opt, "optimizer.g")
