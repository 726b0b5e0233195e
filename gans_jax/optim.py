"""Optimizers from a config section, and WGAN weight clipping as an optax transformation."""

import jax
import jax.numpy as jnp
import ml_collections
import optax

from gans_jax.errors import UserError

OPTIMIZERS = ("adam", "rmsprop", "sgd")
SCHEDULES = ("constant", "linear", "cosine")


def optimizer_config(name="adam", learning_rate=2e-4, b1=0.5, b2=0.999, decay=0.99, *,
                     schedule="constant", warmup_steps=0, decay_steps=0, final_scale=0.0
                     ) -> ml_collections.ConfigDict:
  """A config section for `make_optimizer`.

  The learning-rate schedule (`learning_rate_schedule`), in training steps:
  `schedule` constant | linear | cosine, after a linear warm-up from 0 over
  `warmup_steps`; linear and cosine decay to ``final_scale * learning_rate``
  at `decay_steps` (0: the run's train.num_steps).
  """
  return ml_collections.ConfigDict(dict(
      name=name, learning_rate=learning_rate, b1=b1, b2=b2, decay=decay,
      schedule=schedule, warmup_steps=warmup_steps, decay_steps=decay_steps,
      final_scale=final_scale))


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
  check_schedule(opt, field)


def check_schedule(opt, field: str) -> None:
  """The schedule fields (absent in configs written before schedules: constant)."""
  if opt.get("schedule", "constant") not in SCHEDULES:
    raise UserError(f"{field}.schedule: {opt.schedule!r} is not one of {', '.join(SCHEDULES)}")
  for name in ("warmup_steps", "decay_steps"):
    if not (isinstance(opt.get(name, 0), int) and opt.get(name, 0) >= 0):
      raise UserError(f"{field}.{name}: must be an integer >= 0, got {opt.get(name)!r}")
  if not 0 <= opt.get("final_scale", 0.0) <= 1:
    raise UserError(f"{field}.final_scale: must be in [0, 1], got {opt.final_scale}")
  decay_steps = opt.get("decay_steps", 0)
  if decay_steps and decay_steps <= opt.get("warmup_steps", 0):
    raise UserError(f"{field}.decay_steps: must exceed warmup_steps ({opt.warmup_steps}), "
                    f"got {decay_steps}")


def uses_schedule(opt) -> bool:
  """Whether the learning rate varies (the optimizer state then holds a step count)."""
  return opt.get("schedule", "constant") != "constant" or opt.get("warmup_steps", 0) > 0


def learning_rate_schedule(opt, *, num_steps: int, updates_per_step: int = 1):
  """The learning rate of `opt` as a function of the optimizer's update count (or a float).

  With T = `warmup_steps`, S = `decay_steps` (or `num_steps`), lr the peak
  and f = `final_scale`, at training step t = count // updates_per_step:

  * t < T: ``lr * t / T`` (linear warm-up from 0);
  * constant: ``lr``;
  * linear: ``lr * (1 - (1 - f) * min(1, (t - T) / (S - T)))``;
  * cosine: ``lr * (f + (1 - f) * (1 + cos(pi * min(1, (t - T) / (S - T)))) / 2)``.

  `updates_per_step`: optimizer updates per training step (the critic's
  n_critic), so every optimizer follows the same schedule in training steps.
  Returns the float itself when the rate is constant (no schedule state).
  """
  lr = float(opt.learning_rate)
  if not uses_schedule(opt):
    return lr
  warmup = int(opt.get("warmup_steps", 0))
  total = int(opt.get("decay_steps", 0)) or int(num_steps)
  end = lr * float(opt.get("final_scale", 0.0))
  kind = opt.get("schedule", "constant")
  if kind == "constant":
    after = optax.constant_schedule(lr)
  elif kind == "linear":
    after = optax.linear_schedule(lr, end, max(total - warmup, 1))
  else:
    after = optax.cosine_decay_schedule(lr, max(total - warmup, 1), alpha=end / lr)
  fn = after if warmup == 0 else optax.join_schedules(
      [optax.linear_schedule(0.0, lr, warmup), after], [warmup])
  return lambda count: fn(count // updates_per_step)


def constant_then_linear_decay(lr: float, num_steps: int, decay_start: float) -> optax.Schedule:
  """lr for steps < n0 = round(decay_start * num_steps), then lr (n - t) / (n - n0) down to 0 at n
  (CycleGAN's and the semi-supervised GAN's fixed schedule, set by `optimizer.decay_start`)."""
  n0 = int(round(decay_start * num_steps))
  if n0 >= num_steps:
    return optax.constant_schedule(lr)
  return optax.join_schedules(
      [optax.constant_schedule(lr), optax.linear_schedule(lr, 0.0, num_steps - n0)], [n0])


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


def make_optimizer(opt, *, clip: float = 0.0, field: str = "optimizer", num_steps: int = 0,
                   updates_per_step: int = 1, learning_rate=None) -> optax.GradientTransformation:
  """Builds an optax optimizer from a config section (name, learning_rate, b1, b2, decay,
  and the schedule fields of `learning_rate_schedule`, over `num_steps` training steps).

  `learning_rate`: a float or optax schedule that replaces the section's rate and schedule (a
  family's fixed schedule, e.g. CycleGAN's `constant_then_linear_decay`).
  """
  name = opt.name
  if learning_rate is not None:
    lr = learning_rate
  else:
    if uses_schedule(opt) and not (num_steps or opt.get("decay_steps", 0)):
      raise UserError(f"{field}.decay_steps: this family does not pass its run length to the "
                      "schedule; set decay_steps")
    lr = learning_rate_schedule(opt, num_steps=num_steps, updates_per_step=updates_per_step)
  if name == "adam":
    tx = optax.adam(lr, b1=opt.b1, b2=opt.b2)
  elif name == "rmsprop":
    # PyTorch's RMSprop (used by the WGAN reference code) adds eps outside the sqrt.
    tx = optax.rmsprop(lr, decay=opt.get("decay", 0.99), eps=1e-8, eps_in_sqrt=False)
  elif name == "sgd":
    tx = optax.sgd(lr, momentum=opt.get("momentum", None))
  else:
    raise UserError(f"{field}.name={name!r} is not one of {OPTIMIZERS}")
  if clip > 0:
    tx = optax.chain(tx, clip_params(clip))
  return tx
