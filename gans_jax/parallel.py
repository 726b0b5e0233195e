"""Running one per-device step on several devices: jit, pmap or shard_map.

The per-device step (`train.make_step_fn`) is written once with collectives
that name `AXIS` (`lax.pmean` of gradients and metrics, BatchNorm statistics
with `axis_name=AXIS`); a `Runner` places state and data and calls it:

- ``jit``: one device, no collectives (the step is built with axis_name=None);
- ``pmap``: states replicated with a leading device axis, the global batch split
  over devices (the user's design; `jax.pmap` is in maintenance upstream);
- ``shard_map``: the same function over a one-axis `Mesh`; states are ordinary
  replicated global arrays, the batch is sharded along its batch axis.

Both parallel backends reach the parameters a single device reaches with the
same global batch (to float tolerance), because all randomness is drawn per
example from its global index (see `train.make_step_fn`).
"""

from typing import Any, Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

AXIS = "batch"
BACKENDS = ("pmap", "shard_map")


def _stacked_sharding(devices) -> NamedSharding:
  # The leading axis of a pmap argument, one slice per device (what the
  # deprecated jax.device_put_replicated/_sharded produced).
  return NamedSharding(Mesh(np.array(list(devices)), ("devices",)), P("devices"))


def replicate(tree, devices):
  """Stacks a copy of `tree` on each device (pmap layout)."""
  n, sharding = len(devices), _stacked_sharding(devices)
  return jax.tree.map(
      lambda x: jax.device_put(np.broadcast_to(np.asarray(x)[None], (n,) + np.shape(x)),
                               sharding), tree)


def shard_leading(tree, devices):
  """Places [devices, ...] arrays one slice per device (pmap layout)."""
  return jax.device_put(tree, _stacked_sharding(devices))


def unreplicate(tree):
  """The first replica of a pmap-replicated tree."""
  return jax.tree.map(lambda x: x[0], tree)


class Runner:
  """Places state and data for a backend and runs the compiled step.

  Args:
    step_fn: per-device ``(state, data, key) -> (state, metrics)``.
    backend: 'jit', 'pmap' or 'shard_map'.
    devices: the devices to run on (one for 'jit').
    streamed: data is ``{'x': [n_critic, B, ...]}`` per step (split over devices
      along B) rather than the whole resident dataset (replicated).
  """

  def __init__(self, step_fn: Callable, backend: str, devices, streamed: bool):
    self.backend, self.devices, self.streamed = backend, list(devices), streamed
    n = len(self.devices)
    if backend == "jit":
      self._step = jax.jit(step_fn, donate_argnums=(0,))
    elif backend == "pmap":
      self._step = jax.pmap(step_fn, axis_name=AXIS, in_axes=(0, 0, None),
                            donate_argnums=(0,), devices=self.devices)
    elif backend == "shard_map":
      self.mesh = Mesh(np.array(self.devices), (AXIS,))
      data_spec = P(None, AXIS) if streamed else P()
      # check_vma=False: with it on, the gradient with respect to replicated
      # params comes back already summed over devices (the transpose of the
      # implicit broadcast), and the step's own pmean would then average N
      # copies of the sum. Off, shard_map's collectives match pmap's, so one
      # per-device function serves both.
      mapped = jax.shard_map(step_fn, mesh=self.mesh, in_specs=(P(), data_spec, P()),
                             out_specs=(P(), P()), check_vma=False)
      self._step = jax.jit(mapped, donate_argnums=(0,))
      self._replicated = NamedSharding(self.mesh, P())
      self._data_sharding = NamedSharding(self.mesh, data_spec)
    else:
      raise ValueError(f"unknown backend {backend!r}")
    self.num_devices = n

  def put_state(self, state):
    if self.backend == "pmap":
      return replicate(state, self.devices)
    if self.backend == "shard_map":
      return jax.device_put(state, self._replicated)
    return state

  def get_state(self, state):
    """The state as one device's copy (for sampling, checkpoints, evaluation)."""
    return unreplicate(state) if self.backend == "pmap" else state

  def put_data(self, data: dict) -> dict:
    if self.backend == "pmap":
      if not self.streamed:
        return replicate(data, self.devices)
      n = self.num_devices
      # [n_critic, B, ...] -> [devices, n_critic, B / devices, ...]
      split = lambda x: np.moveaxis(
          x.reshape((x.shape[0], n, x.shape[1] // n) + x.shape[2:]), 1, 0)
      return shard_leading(jax.tree.map(lambda x: split(np.asarray(x)), data), self.devices)
    if self.backend == "shard_map":
      return jax.device_put(data, self._data_sharding)
    return jax.device_put(data)

  def step(self, state, data, key) -> tuple[Any, dict]:
    state, metrics = self._step(state, data, key)
    if self.backend == "pmap":
      metrics = unreplicate(metrics)
    return state, metrics

  def lower(self, state, data, key):
    return self._step.lower(state, data, key)
