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
