"""Running one per-device step on several devices: jit, pmap or shard_map.

The per-device step (a family's `step_fn`, gans_jax/families) is written once with collectives
that name `AXIS` (`lax.pmean` of gradients and metrics, BatchNorm statistics
with `axis_name=AXIS`); a `Runner` places state and data and calls it:

- ``jit``: one device, no collectives (the step is built with axis_name=None);
- ``pmap``: states replicated with a leading device axis, the global batch split
  over devices (the user's design; `jax.pmap` is in maintenance upstream);
- ``shard_map``: the same function over a one-axis `Mesh`; states are ordinary
  replicated global arrays, the batch is sharded along its batch axis.

Both parallel backends reach the parameters a single device reaches with the
same global batch (to float tolerance), because all randomness is drawn per
example from its global index (see `gans_jax.families.base.example_keys`).
"""

from typing import Any, Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from gans_jax.errors import UserError

AXIS = "batch"
BACKENDS = ("pmap", "shard_map")


def _stacked_sharding(devices) -> NamedSharding:
  # The leading axis of a pmap argument, one slice per device (what the
  # deprecated jax.device_put_replicated/_sharded produced).
  return NamedSharding(Mesh(np.array(list(devices)), ("devices",)), P("devices"))


def multi_process() -> bool:
  """Several JAX processes (hosts) after `jax.distributed.initialize()`."""
  return jax.process_count() > 1


def _all_devices_replicated() -> NamedSharding:
  return NamedSharding(Mesh(np.array(jax.devices()), ("all",)), P())


def _is_array(x) -> bool:
  # A state's leaves are arrays, except a fresh TrainState's Python int `step`.
  return isinstance(x, (jax.Array, np.ndarray, jax.ShapeDtypeStruct))


def to_global(tree):
  """Multi-process: each array leaf, identical in every process, as one global
  array replicated over every process's devices (what orbax can save across
  hosts; it refuses the host-local arrays that `unreplicate` gives)."""
  sharding = _all_devices_replicated()
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x))
      if _is_array(x) else x, tree)


def to_local(tree):
  """The inverse of `to_global`: this process's copy of each replicated leaf."""
  return jax.tree.map(lambda x: x.addressable_data(0) if isinstance(x, jax.Array) else x, tree)


def restore_target(tree):
  """Shapes and dtypes of `tree`'s arrays, placed as `to_global` places them
  (several processes) or on the first local device (one process), whatever
  topology the checkpoint was saved from; other leaves unchanged."""
  sharding = (_all_devices_replicated() if multi_process()
              else jax.sharding.SingleDeviceSharding(jax.local_devices()[0]))
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding)
      if _is_array(x) else x, tree)


def replicate(tree, devices):
  """Stacks a copy of `tree` on each device (pmap layout)."""
  n = len(devices)
  stack = lambda x: np.broadcast_to(np.asarray(x)[None], (n,) + np.shape(x))
  if multi_process():
    # pmap over all hosts' devices takes each process's [local devices, ...]
    # host arrays and places them itself.
    return jax.tree.map(stack, tree)
  sharding = _stacked_sharding(devices)
  return jax.tree.map(lambda x: jax.device_put(stack(x), sharding), tree)


def shard_leading(tree, devices):
  """Places [devices, ...] arrays one slice per device (pmap layout)."""
  if multi_process():
    return jax.tree.map(np.asarray, tree)
  return jax.device_put(tree, _stacked_sharding(devices))


def _local_copy(x, stacked: bool):
  # The first local device's copy: works for arrays spanning several hosts
  # (not fully addressable), where x[0] would need the other hosts' data.
  if isinstance(x, jax.Array):
    x = x.addressable_data(0)
  return x[0] if stacked else x


def unreplicate(tree):
  """The first replica of a pmap-replicated tree (this process's first device)."""
  return jax.tree.map(lambda x: _local_copy(x, True), tree)


class Runner:
  """Places state and data for a backend and runs the compiled step.

  Args:
    step_fn: per-device ``(state, data, key) -> (state, metrics)``.
    backend: 'jit', 'pmap' or 'shard_map'.
    devices: the devices to run on (one for 'jit').
    streamed: data is ``{'x': [n_critic, B, ...]}`` per step (split over devices
      along B) rather than the whole resident dataset (replicated).
    steps_per_call: > 1 also compiles `fuse_steps(step_fn, steps_per_call)`,
      run by ``step(..., fused=True)``; its streamed data is
      ``[steps_per_call, n_critic, B, ...]``.
    cpu_compiler_options: XLA options ({DebugOptions field: value}) the step is
      compiled with when the devices are CPUs (ignored on other platforms).
  """

  def __init__(self, step_fn: Callable, backend: str, devices, streamed: bool,
               steps_per_call: int = 1, cpu_compiler_options: dict | None = None):
    self.backend, self.devices, self.streamed = backend, list(devices), streamed
    on_cpu = self.devices[0].platform == "cpu"
    self.compiler_options = dict(cpu_compiler_options or {}) if on_cpu else {}
    if self.compiler_options:
      _check_compiler_options(self.compiler_options, self.devices[0])
    self.num_devices = len(self.devices)
    self.steps_per_call = int(steps_per_call)
    if backend not in ("jit",) + BACKENDS:
      raise ValueError(f"unknown backend {backend!r}")
    if backend == "shard_map":
      # Multi-host: one mesh over every process's devices; each process feeds
      # its local part (`_global`).
      mesh_devices = jax.devices() if multi_process() else self.devices
      self.mesh = Mesh(np.array(mesh_devices), (AXIS,))
      self._replicated = NamedSharding(self.mesh, P())
    self._step = self._compile(step_fn, batch_axis=1)
    self._fused = None
    if self.steps_per_call > 1:
      self._fused = self._compile(
          fuse_steps(step_fn, self.steps_per_call, scan_data=streamed), batch_axis=2)

  def _data_spec(self, batch_axis: int) -> P:
    return P(*([None] * batch_axis), AXIS) if self.streamed else P()

  def _compile(self, fn: Callable, batch_axis: int) -> Callable:
    options = self.compiler_options or None
    if self.backend == "jit":
      return jax.jit(fn, donate_argnums=(0,), compiler_options=options)
    if self.backend == "pmap":
      # Multi-host: pmap over all devices of all processes (devices=None), each
      # process passing [local devices, ...] arrays; collectives span hosts.
      mapped = jax.pmap(fn, axis_name=AXIS, in_axes=(0, 0, None), donate_argnums=(0,),
                        devices=None if multi_process() else self.devices)
      # pmap takes no compiler options: compile ahead of time on first call.
      return _CompiledOnFirstCall(mapped, options) if options else mapped
    # check_vma=False: with it on, the gradient with respect to replicated
    # params comes back already summed over devices (the transpose of the
    # implicit broadcast), and the step's own pmean would then average N
    # copies of the sum. Off, shard_map's collectives match pmap's, so one
    # per-device function serves both.
    mapped = jax.shard_map(fn, mesh=self.mesh,
                           in_specs=(P(), self._data_spec(batch_axis), P()),
                           out_specs=(P(), P()), check_vma=False)
    return jax.jit(mapped, donate_argnums=(0,), compiler_options=options)

  def put_state(self, state):
    if self.backend == "pmap":
      return replicate(state, self.devices)
    if self.backend == "shard_map":
      return self._global(state, self._replicated)
    # Committed to the device, as a restored checkpoint is: the step compiled for a new run is
    # then the one a resumed run (or --mode=eval) finds in the compilation cache.
    return jax.device_put(state, self.devices[0])

  def _global(self, tree, sharding):
    if multi_process():
      return jax.tree.map(
          lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), tree)
    return jax.device_put(tree, sharding)

  def get_state(self, state):
    """The state as one device's copy (for sampling, checkpoints, evaluation)."""
    if self.backend == "pmap":
      return unreplicate(state)
    if self.backend == "shard_map" and multi_process():
      return jax.tree.map(lambda x: _local_copy(x, False), state)
    return state

  def put_data(self, data: dict, fused: bool = False) -> dict:
    """Places resident data, or one call's streamed batches ([n_critic, B, ...],
    with a leading [steps_per_call] axis when `fused`)."""
    batch_axis = 2 if fused else 1
    if self.backend == "pmap":
      if not self.streamed:
        return replicate(data, self.devices)
      n = self.num_devices

      def split(x):  # [..., B, ...] -> [devices, ..., B / devices, ...]
        x = np.asarray(x)
        shape = x.shape[:batch_axis] + (n, x.shape[batch_axis] // n) + x.shape[batch_axis + 1:]
        return np.moveaxis(x.reshape(shape), batch_axis, 0)

      return shard_leading(jax.tree.map(split, data), self.devices)
    if self.backend == "shard_map":
      return self._global(data, NamedSharding(self.mesh, self._data_spec(batch_axis)))
    return jax.device_put(data)

  def step(self, state, data, key, fused: bool = False) -> tuple[Any, dict]:
    """One step, or `steps_per_call` steps in one call when `fused`."""
    state, metrics = (self._fused if fused else self._step)(state, data, key)
    if self.backend == "pmap":
      metrics = unreplicate(metrics)
    elif self.backend == "shard_map" and multi_process():
      metrics = jax.tree.map(lambda x: _local_copy(x, False), metrics)
    return state, metrics

  def lower(self, state, data, key, fused: bool = False):
    return (self._fused if fused else self._step).lower(state, data, key)

  def compile(self, state, data, key, fused: bool = False):
    """The compiled step (or fused steps) for these arguments, with the
    runner's compiler options: ``compiled(state, data, key)``."""
    return self.lower(state, data, key, fused).compile(
        compiler_options=self.compiler_options or None)


def _check_compiler_options(options: dict, device) -> None:
  # XLA rejects an unknown option or value only when compiling: try a trivial
  # program now, so a typo is one clear error before data and models are built.
  try:
    jax.jit(lambda x: x + 1).lower(
        jax.ShapeDtypeStruct((), np.float32, sharding=jax.sharding.SingleDeviceSharding(device))
    ).compile(compiler_options=options)
  except Exception as e:  # XlaRuntimeError / JaxRuntimeError, version dependent
    message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise UserError(f"parallel.cpu_compiler_options: XLA rejects them: {message}") from None


class _CompiledOnFirstCall:
  """A pmapped function compiled ahead of time with `compiler_options` on its
  first call (a training step's argument shapes do not change)."""

  def __init__(self, mapped: Callable, compiler_options: dict):
    self._mapped, self._options, self._compiled = mapped, compiler_options, None

  def lower(self, *args):
    return self._mapped.lower(*args)

  def __call__(self, *args):
    if self._compiled is None:
      self._compiled = self._mapped.lower(*args).compile(compiler_options=self._options)
    return self._compiled(*args)


def fuse_steps(step_fn: Callable, num_steps: int, *, scan_data: bool) -> Callable:
  """`num_steps` consecutive calls of `step_fn` as one program (a `lax.scan`).

  ``fused(state, data, key)`` equals applying ``step_fn(state, data_i, key)``
  `num_steps` times (each step folds its own step count into `key`), with
  ``data_i = data[i]`` when `scan_data` (host-streamed batches, one slice per
  step) and ``data`` itself otherwise (a resident dataset). Returns the final
  state and the metrics of the last step, so a log row is the same fused or
  not. Fusing saves the per-call dispatch and host sync of small steps.
  """
  def fused(state, data, key):
    def body(s, d):
      return step_fn(s, d if scan_data else data, key)
    state, metrics = jax.lax.scan(body, state, data if scan_data else None, length=num_steps)
    return state, jax.tree.map(lambda m: m[-1], metrics)
  return fused
