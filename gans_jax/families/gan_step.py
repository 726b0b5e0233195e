"""The GAN training step: `train.n_critic` discriminator updates, then one generator update.

`make_step` composes the parts of `gans_jax.families.gan_parts` (objective, penalty, techniques)
into the pure per-device step ``(state, data, key) -> (state, metrics)``:

  for each critic update: draw a batch and z; D minimises
      objective.d_loss(D(real), D(G(z))) + penalty + historical averaging
  then G minimises
      objective.g_weight * objective.g_loss(D(G(z))) + feature matching + disentanglement
      + historical averaging
  and the generator's moving average follows G.

Randomness: step s uses ``fold_in(key, s)`` split into one key per update; within an update
every example draws its data index, z, label and penalty point from ``fold_in(key_part, global
example index)``, so a resumed run and an N-device run draw exactly the numbers of an
uninterrupted one-device run. The updates are unrolled at trace time: on XLA:CPU a ``lax.scan``
over five DCGAN WGAN-GP critic updates was measured 9x slower than the unrolled form.
"""

from typing import Callable

import jax
import jax.numpy as jnp

from gans_jax.families import base
from gans_jax.families.gan_parts import StepParts, step_parts


def make_step(fam, *, resident: bool, num_shards: int) -> Callable:
  """The step of GAN family `fam` (its config, networks and dataset); not compiled."""
  config = fam.config
  parts = step_parts(config, fam.label_classifier)
  n_critic = int(config.train.n_critic)
  batch = int(config.train.batch_size) // num_shards
  draw = _drawer(fam, resident, batch)
  d_update = _discriminator_update(fam, parts)
  g_update = _generator_update(fam, parts)
  history_part, ema_part = parts.historical_averaging, parts.generator_ema
  mean = base.device_mean(fam.axis_name)

  def step(state, data, key):
    offset = base.device_offset(fam.axis_name, batch)
    keys = jax.random.split(base.step_key(key, state.step), n_critic + 1)
    g, d, sn, history = state.g, state.d, state.d_sn, state.history
    d_metrics = []
    for i in range(n_critic):
      real, g_in, example_keys = draw(keys[i], offset, data, i)
      d, g_stats, sn, aux = d_update(d, g, sn, real, g_in, example_keys, history)
      g = g.replace(batch_stats=g_stats)
      history = history_part.update(history, "d", d.params)
      d_metrics.append(aux)
    real, g_in, example_keys = draw(keys[n_critic], offset, data, n_critic - 1)
    g, g_aux = g_update(g, d, sn, real, g_in, example_keys, history)
    history = history_part.update(history, "g", g.params)
    metrics = jax.tree.map(lambda *v: jnp.mean(jnp.stack(v)), *d_metrics)
    metrics.update(g_aux)
    if config.loss.name == "wasserstein":
      metrics["w_estimate"] = metrics["d_real"] - metrics["d_fake"]
    g_ema = ema_part.update(state.g_ema, g, state.step)
    return (state.replace(step=state.step + 1, g=g, d=d, g_ema=g_ema, d_sn=sn, history=history),
            mean(metrics))

  return step


def _drawer(fam, resident: bool, batch: int) -> Callable:
  """``(key, offset, data, i) -> (real inputs, generator inputs, per-example keys)`` of update i.

  Inputs are ``(x,)`` and ``(z,)``, or ``(x, y)`` and ``(z, y_fake)`` with fake labels uniform
  over the classes for a conditional model. The per-example keys serve the penalty's points and
  the augmentation's draws.
  """
  def draw(key, offset, data, i):
    k_data, k_z, k_gp, k_y = jax.random.split(key, 4)
    real = base.draw_batch(data, fam.data_keys, k_data, offset, batch, resident=resident,
                           index=i)
    g_in = (base.normal_per_example(k_z, offset, batch, fam.z_dim),)
    if fam.num_classes > 0:
      g_in += (jax.vmap(lambda k: jax.random.randint(k, (), 0, fam.num_classes))(
          base.example_keys(k_y, offset, batch)),)
    return real, g_in, base.example_keys(k_gp, offset, batch)

  return draw


def _discriminator_update(fam, parts: StepParts) -> Callable:
  """One critic update ``(d, g, sn, real, g_in, keys, history) -> (d, g's BatchNorm statistics,
  sn, metrics)`` on a batch from `_drawer`."""
  G, D = fam.generator, fam.discriminator
  aug, pack, objective = parts.augmentation, parts.packing, parts.objective
  mean = base.device_mean(fam.axis_name)
  critic_scores = _critic_scores(D, batch_independent=_critic_is_batch_independent(fam.config))

  def d_update(d, g, sn, real, g_in, keys, history):
    fake, g_stats = base.apply_train(G, g, g_in)
    fake = jax.lax.stop_gradient(fake)
    real = (aug(real[0], keys, 1),) + real[1:]
    fake_in = (aug(fake, keys, 2),) + g_in[1:]

    def loss_fn(raw_params):
      params, new_sn = parts.spectral_norm(raw_params, sn)
      real_scores, fake_scores, stats = critic_scores(
          d, params, (pack(real[0]),) + real[1:], (pack(fake_in[0]),) + fake_in[1:])
      adv = objective.d_loss(real_scores, fake_scores)
      aux = {"d_loss": adv, "d_real": jnp.mean(real_scores), "d_fake": jnp.mean(fake_scores)}
      critic = lambda labels: lambda x: D.apply({"params": params}, x, *labels, train=True)[0]
      total = parts.penalty.add(adv, aux, critic, real, fake_in, keys, pack)
      total = parts.historical_averaging.add(total, aux, raw_params, history, "d")
      return total, (aux, stats, new_sn)

    grads, (aux, stats, sn) = jax.grad(loss_fn, has_aux=True)(d.params)
    return d.apply_gradients(grads=mean(grads), batch_stats=stats), g_stats, sn, aux

  return d_update


def _critic_is_batch_independent(config) -> bool:
  """Whether D's score of an example can depend on that example alone: no minibatch
  discrimination (BatchNorm statistics are seen in the state, by `_critic_scores`)."""
  return int(config.model.get("minibatch_kernels", 0)) == 0


def _critic_scores(D, *, batch_independent: bool) -> Callable:
  """``(d, params, real inputs, fake inputs) -> (real scores, fake scores, D's batch_stats)``.

  A batch-independent critic scores both halves in one pass over their concatenation: the
  same function (float32 rounding aside) with GEMMs twice as tall, 1-5 % faster on the CPU
  workloads (benchmarks/critic_pass.py). Otherwise (BatchNorm,
  minibatch discrimination) each half is its own batch, as the papers train them: real first,
  then fake with the statistics the real pass left.
  """
  def scores(d, params, real_in, fake_in):
    if batch_independent and not d.batch_stats:
      both = tuple(jnp.concatenate([r, f]) for r, f in zip(real_in, fake_in))
      (out, _), stats = base.apply_train(D, d, both, params)
      n_real = real_in[0].shape[0]
      return out[:n_real], out[n_real:], stats
    (real_scores, _), stats = base.apply_train(D, d, real_in, params)
    (fake_scores, _), stats = base.apply_train(D, d.replace(batch_stats=stats), fake_in, params)
    return real_scores, fake_scores, stats

  return scores


def _generator_update(fam, parts: StepParts) -> Callable:
  """The generator update ``(g, d, sn, real, g_in, keys, history) -> (g, metrics)``."""
  G, D = fam.generator, fam.discriminator
  aug, pack, objective = parts.augmentation, parts.packing, parts.objective
  mean = base.device_mean(fam.axis_name)

  def g_update(g, d, sn, real, g_in, keys, history):
    # D as the generator's pass sees it: normalised weights (vectors not advanced).
    d = d.replace(params=parts.spectral_norm(d.params, sn)[0])
    real = (aug(real[0], keys, 1),) + real[1:]
    real_features = None
    if parts.feature_matching.weight > 0:
      (_, real_features), _ = base.apply_train(D, d, (pack(real[0]),) + real[1:])
      real_features = jax.lax.stop_gradient(real_features)

    def g_objective(params):
      fake, g_stats = base.apply_train(G, g, g_in, params)
      # D's BatchNorm statistics are not updated by the generator's pass.
      (fake_scores, fake_features), _ = base.apply_train(
          D, d, (pack(aug(fake, keys, 2)),) + g_in[1:])
      adv = objective.g_loss(fake_scores)
      aux = {"g_loss": adv}
      total = objective.g_weight * adv
      total = parts.feature_matching.add(total, aux, real_features, fake_features)
      total = parts.disentanglement.add(total, aux, fake, g_in[0])
      total = parts.historical_averaging.add(total, aux, params, history, "g")
      return total, (aux, g_stats)

    grads, (aux, g_stats) = jax.grad(g_objective, has_aux=True)(g.params)
    return g.apply_gradients(grads=mean(grads), batch_stats=g_stats), aux

  return g_update
