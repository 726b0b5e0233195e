"""Optimizers from a config section, and WGAN weight clipping as an optax transformation."""

import jax
import jax.numpy as jnp
import ml_collections
import optax

from gans_jax.errors import UserError

OPTIMIZERS = ("adam", "rmsprop", "sgd")


def optimizer_config(name="adam", learning_rate=2e-4, b1=0.5, b2=0.999, decay=0.99
                     ) -> ml_collections.ConfigDict:
  """A config section for `make_optimizer`."""
  return ml_collections.ConfigDict(dict(
      name=name, learning_rate=learning_rate, b1=b1, b2=b2, decay=decay))


def check_optimizer_config(opt, field: str) -> None:
  """Raises `UserError` naming `field.<key>` for an unknown name or an out-of-range value."""
  if opt.name not in OPTIMIZERS:
    raise UserError(f"{field}.name: {opt.name!r} is not one of {', '.join(OPTIMIZERS)}")
  if not opt.learning_rate > 0:
    raise UserError(f"{field}.learning_rate: must be > 0, got {opt.learning_rate}")
  for beta in ("b1", "b2", "decay"):
    value = opt.get(beta, 0.0)
    if not 0 <= value < 1:
      raise UserError(f"{field}.{beta}: must be in [0, 1), got {value}")


def clip_params(clip: float) -> optax.GradientTransformation:
  """Keeps every parameter in [-clip, clip] after the update (WGAN weight clipping).

  The emitted update is ``clip(p + u, -c, c) - p``, so ``optax.apply_updates``
  lands exactly on the clipped parameters. Put it last in an ``optax.chain``.

  Arjovsky, Chintala & Bottou, "Wasserstein GAN", 2017, arXiv:1701.07875, Alg. 1.
  """
  if clip <= 0:
    raise ValueError(f"clip must be positive, got {clip}")

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("clip_params needs the params: call tx.update(g, s, params)")
    updates = jax.tree.map(
        lambda p, u: jnp.clip(p + u, -clip, clip) - p, params, updates)
    return updates, state

  return optax.GradientTransformation(init_fn, update_fn)


def make_optimizer(opt, *, clip: float = 0.0, field: str = "optimizer"
                   ) -> optax.GradientTransformation:
  """Builds an optax optimizer from a config section (name, learning_rate, b1, b2, decay)."""
  name = opt.name
  if name == "adam":
    tx = optax.adam(opt.learning_rate, b1=opt.b1, b2=opt.b2)
  elif name == "rmsprop":
    # PyTorch's RMSprop (used by the WGAN reference code) adds eps outside the sqrt.
    tx = optax.rmsprop(opt.learning_rate, decay=opt.get("decay", 0.99), eps=1e-8,
                       eps_in_sqrt=False)
  elif name == "sgd":
    tx = optax.sgd(opt.learning_rate, momentum=opt.get("momentum", None))
  else:
    raise UserError(f"{field}.name={name!r} is not one of {OPTIMIZERS}")
  if clip > 0:
    tx = optax.chain(tx, clip_params(clip))
  return tx
