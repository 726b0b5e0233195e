"""Run as a script under XLA_FLAGS=--xla_force_host_platform_device_count=4 (see test_winograd_parallel.py).

One GAN step of the DCGAN networks at their default ``conv_impl`` (Winograd),
at a size where Winograd layers run (16x16, width 8: the generator's first
transposed conv, 16 -> 8 channels, and the discriminator's second conv,
8x8x8 -> 4x4x16), on 1 device (jit, ``axis_name=None``, the whole batch) and
on 4 devices (`gans_jax.parallel.Runner`, pmap and shard_map,
``axis_name=parallel.AXIS``, 4 examples each) with the same global batch of 16:

* a BatchNorm discriminator's non-saturating loss on real and (stop-gradient)
  fake images, its gradients and its updated batch statistics;
* a LayerNorm critic's WGAN-GP loss (Gulrajani et al. 2017, arXiv:1704.00028),
  whose penalty differentiates the Winograd VJPs a second time;
* the generator's loss through both, its gradients (the Winograd input VJP of
  the discriminators) and its updated batch statistics;
* the parameters after one SGD step with the device-averaged gradients.

Prints one JSON line: for each backend and each quantity, the largest absolute
difference from the one-device value divided by the largest absolute one-device
value (``rel``) and that largest value (``scale``, to show the step did
something), plus the per-example batch sizes the Winograd functions were traced
with.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gans_jax import nets, parallel
from gans_jax.nets import winograd

RESOLUTION, WIDTH, Z_DIM, BATCH = 16, 8, 8, 16
GP_WEIGHT, LR = 10.0, 0.1

# The batch sizes each Winograd function is traced with, by name.
TRACED = {"conv4x4s2": set(), "conv_transpose4x4s2": set()}


def _record_winograd_calls():
  for name in TRACED:
    fn = getattr(winograd, name)

    def recorded(x, kernel, dtype=None, *, fn=fn, name=name):
      TRACED[name].add(int(x.shape[0]))
      return fn(x, kernel, dtype)
    # gans_jax.nets.dcgan calls them as `winograd.<name>` at trace time.
    setattr(winograd, name, recorded)


def _models(axis_name):
  # conv_impl left at its default on purpose: the default is what runs in training.
  g = nets.DCGANGenerator(resolution=RESOLUTION, channels=1, width=WIDTH, axis_name=axis_name)
  d = nets.DCGANDiscriminator(resolution=RESOLUTION, width=WIDTH, norm="batch",
                              axis_name=axis_name)
  c = nets.DCGANDiscriminator(resolution=RESOLUTION, width=WIDTH, norm="layer",
                              axis_name=axis_name)
  return g, d, c


def make_step(axis_name):
  """The per-device step ``(state, data, key) -> (state, metrics)`` for `parallel.Runner`.

  `data` is streamed: ``{'x': [1, B, R, R, 1], 'z': [1, B, Z], 'eps': [1, B, 1, 1, 1]}``
  with B this device's share of the global batch.
  """
  g, d, c = _models(axis_name)
  mean = (lambda t: lax.pmean(t, axis_name)) if axis_name else (lambda t: t)
  softplus = jax.nn.softplus

  def step(state, data, key):
    del key  # the batch is given; nothing random
    x, z, eps = data["x"][0], data["z"][0], data["eps"][0]
    fake, _ = g.apply(state["g"], z, mutable=["batch_stats"])
    fake = lax.stop_gradient(fake)

    def d_loss(params):
      (real_s, _), upd = d.apply({"params": params, "batch_stats": state["d"]["batch_stats"]},
                                 x, mutable=["batch_stats"])
      (fake_s, _), upd = d.apply({"params": params, **upd}, fake, mutable=["batch_stats"])
      # Non-saturating D loss: -log sigmoid(D(x)) - log(1 - sigmoid(D(G(z)))).
      return jnp.mean(softplus(-real_s)) + jnp.mean(softplus(fake_s)), upd["batch_stats"]

    def c_loss(params):
      critic = lambda v: c.apply({"params": params}, v)[0]
      x_hat = eps * x + (1 - eps) * fake
      grad_x = jax.grad(lambda v: jnp.sum(critic(v)))(x_hat)  # per example: LayerNorm
      norms = jnp.sqrt(jnp.sum(grad_x**2, axis=(1, 2, 3)) + 1e-12)
      gp = jnp.mean((norms - 1.0)**2)
      return jnp.mean(critic(fake)) - jnp.mean(critic(x)) + GP_WEIGHT * gp

    def g_loss(params):
      out, upd = g.apply({"params": params, "batch_stats": state["g"]["batch_stats"]}, z,
                         mutable=["batch_stats"])
      # D's batch statistics are not updated by the generator's pass.
      (d_s, _), _ = d.apply(state["d"], out, mutable=["batch_stats"])
      c_s, _ = c.apply(state["c"], out)
      return jnp.mean(softplus(-d_s)) - jnp.mean(c_s), upd["batch_stats"]

    (d_value, d_stats), d_grads = jax.value_and_grad(d_loss, has_aux=True)(state["d"]["params"])
    c_value, c_grads = jax.value_and_grad(c_loss)(state["c"]["params"])
    (g_value, g_stats), g_grads = jax.value_and_grad(g_loss, has_aux=True)(state["g"]["params"])
    grads = mean({"g": g_grads, "d": d_grads, "c": c_grads})
    sgd = lambda p, gr: jax.tree.map(lambda a, b: a - LR * b, p, gr)
    new_state = {
        "g": {"params": sgd(state["g"]["params"], grads["g"]), "batch_stats": g_stats},
        "d": {"params": sgd(state["d"]["params"], grads["d"]), "batch_stats": d_stats},
        "c": {"params": sgd(state["c"]["params"], grads["c"])},
    }
    metrics = {"grads": grads,
               "losses": mean({"g": g_value, "d": d_value, "c": c_value})}
    return new_state, metrics

  return step


def init_state_and_data():
  g, d, c = _models(None)
  keys = jax.random.split(jax.random.PRNGKey(0), 6)
  z = jax.random.normal(keys[0], (BATCH, Z_DIM))
  x = jax.random.uniform(keys[1], (BATCH, RESOLUTION, RESOLUTION, 1), minval=-1, maxval=1)
  eps = jax.random.uniform(keys[2], (BATCH, 1, 1, 1))
  state = {"g": g.init(keys[3], z), "d": d.init(keys[4], x), "c": c.init(keys[5], x)}
  # Running statistics away from their (0, 1) init, so that an update computed from
  # the wrong examples is not hidden by a momentum-weighted average with ones/zeros.
  state = jax.tree_util.tree_map_with_path(
      lambda path, v: v + 0.5 if "batch_stats" in jax.tree_util.keystr(path) else v, state)
  data = {"x": x[None], "z": z[None], "eps": eps[None]}
  return jax.device_get(state), jax.device_get(data)


def _rel(a, b) -> dict:
  """max |a - b| / max |a| over a tree's leaves (one number), and max |a|."""
  scale = max(float(np.max(np.abs(np.asarray(u)))) for u in jax.tree.leaves(a))
  diff = max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
             for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
  return {"rel": diff / scale, "scale": scale}


def main() -> None:
  devices = jax.local_devices()
  assert len(devices) == 4, devices
  _record_winograd_calls()
  state, data = init_state_and_data()
  key = jax.random.PRNGKey(1)

  def run(backend, devs, axis_name):
    runner = parallel.Runner(make_step(axis_name), backend, devs, streamed=True)
    new, metrics = runner.step(runner.put_state(state), runner.put_data(data), key)
    return jax.device_get({"state": runner.get_state(new), "metrics": metrics})

  one = run("jit", devices[:1], None)
  out = {}
  for backend in parallel.BACKENDS:
    four = run(backend, devices, parallel.AXIS)
    out[backend] = {
        "g_grads": _rel(one["metrics"]["grads"]["g"], four["metrics"]["grads"]["g"]),
        "d_grads": _rel(one["metrics"]["grads"]["d"], four["metrics"]["grads"]["d"]),
        "c_grads": _rel(one["metrics"]["grads"]["c"], four["metrics"]["grads"]["c"]),
        "g_batch_stats": _rel(one["state"]["g"]["batch_stats"], four["state"]["g"]["batch_stats"]),
        "d_batch_stats": _rel(one["state"]["d"]["batch_stats"], four["state"]["d"]["batch_stats"]),
        "params": _rel({k: one["state"][k]["params"] for k in "gdc"},
                       {k: four["state"][k]["params"] for k in "gdc"}),
        "losses": _rel(one["metrics"]["losses"], four["metrics"]["losses"]),
    }
  out["traced_batch_sizes"] = {k: sorted(v) for k, v in TRACED.items()}
  print(json.dumps(out))


if __name__ == "__main__":
  main()
