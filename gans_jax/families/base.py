"""What every model family shares: the TrainState, per-example randomness, batch draws.

A family (`gans_jax.families.<name>`) is one subclass of `Family`: its config
defaults and checks (module functions `default_config` and `check_config`),
the networks it builds, its initial state (one `TrainState` per named network
plus any arrays it keeps), its pure step ``(state, data, key) -> (state,
metrics)``, a sampler (and an encoder, where it has one) and the metrics it
adds to `--mode=eval`. The trainer (`gans_jax.trainer`) runs any of them and
knows nothing about what the networks are.
"""

import functools
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax.training import train_state

from gans_jax.data import Dataset, load_dataset
from gans_jax.errors import UserError
from gans_jax.nets import dcgan


class TrainState(train_state.TrainState):
  """Flax TrainState plus BatchNorm statistics (an empty dict when there are none)."""
  batch_stats: Any = flax.core.FrozenDict()


def variables(ts: TrainState, params=None) -> dict:
  """The Flax variables of a network: its (or the given) params, and BatchNorm statistics."""
  params = ts.params if params is None else params
  if ts.batch_stats:
    return {"params": params, "batch_stats": ts.batch_stats}
  return {"params": params}


def apply_train(module, ts: TrainState, inputs: tuple, params=None, **kwargs):
  """Train-mode forward of ``module(*inputs)``; returns (output, new batch_stats)."""
  if ts.batch_stats:
    out, updates = module.apply(variables(ts, params), *inputs, train=True,
                                mutable=["batch_stats"], **kwargs)
    return out, updates["batch_stats"]
  return module.apply(variables(ts, params), *inputs, train=True, **kwargs), ts.batch_stats


def new_train_state(module, variables_: dict, tx) -> TrainState:
  """A TrainState from a module's initial variables and its optax optimizer."""
  return TrainState.create(apply_fn=module.apply, params=variables_["params"],
                           batch_stats=variables_.get("batch_stats", {}), tx=tx)


def example_keys(key: jax.Array, offset, num: int) -> jax.Array:
  """One key per example: ``fold_in(key, global example index)``.

  Drawing per example from its global index makes the random numbers (data
  indices, z, penalty points) independent of how the batch is split over
  devices, so N devices reproduce the one-device step exactly.
  """
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(offset + jnp.arange(num))


def normal_per_example(key: jax.Array, offset, num: int, dim: int) -> jax.Array:
  """[num, dim] standard normals, row i from ``fold_in(key, offset + i)``."""
  return jax.vmap(lambda k: jax.random.normal(k, (dim,)))(example_keys(key, offset, num))


def draw_batch(data: dict, names: tuple, key: jax.Array, offset, batch: int, *,
               resident: bool, index: int = 0) -> tuple:
  """A training batch: the arrays `names` of `data`, as a tuple.

  Resident data (the whole dataset on the device): `batch` examples drawn
  uniformly with replacement, example i's index from ``fold_in(key, offset +
  i)``. Streamed data (``[draws, B_local, ...]`` from the host): slice `index`.
  """
  if resident:
    keys = example_keys(key, offset, batch)
    n = data[names[0]].shape[0]
    idx = jax.vmap(lambda k: jax.random.randint(k, (), 0, n))(keys)
    return tuple(data[k][idx] for k in names)
  return tuple(data[k][index] for k in names)


def step_key(key: jax.Array, step) -> jax.Array:
  """The key of training step `step`: ``fold_in(key, step)`` (resume draws what a full run draws)."""
  return jax.random.fold_in(key, step)


def device_mean(axis_name: str | None) -> Callable:
  """``pmean`` over the device axis (identity on one device)."""
  return (lambda t: jax.lax.pmean(t, axis_name)) if axis_name else (lambda t: t)


def device_offset(axis_name: str | None, batch: int):
  """This device's first global example index (0 on one device)."""
  return jax.lax.axis_index(axis_name) * batch if axis_name else 0


def load_config_dataset(config: ml_collections.ConfigDict, split: str = "train",
                        resolution: int | None = -1) -> Dataset:
  """The dataset `config.dataset` names (`resolution=-1`: the config's resolution)."""
  res = config.dataset.resolution if resolution == -1 else resolution
  return load_dataset(config.dataset.name, split=split, data_dir=config.dataset.data_dir,
                      resolution=res)


def require_dcgan_resolution(config: ml_collections.ConfigDict) -> None:
  """`dataset.resolution` must be one the DCGAN-shaped networks are built for (UserError otherwise)."""
  try:
    dcgan.num_stages(config.dataset.resolution)
  except (ValueError, TypeError) as e:
    raise UserError(f"dataset.resolution: {e} (dcgan)") from None


def all_finite(tree) -> bool:
  """True when every floating-point leaf of `tree` is finite."""
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
  return bool(jnp.all(jnp.stack(leaves))) if leaves else True


def step_of(state) -> int:
  """The step count (the same in every replica of a multi-seed state)."""
  return int(np.asarray(state.step).reshape(-1)[0])


def network_states(state) -> dict:
  """The state's TrainStates by field name (g, d, encoder, ...)."""
  return {f: getattr(state, f) for f in state.__dataclass_fields__
          if isinstance(getattr(state, f), TrainState)}


class Family:
  """One model family's networks, state, step, sampler (and encoder) for one dataset.

  Built as ``Family(config, dataset, axis_name)``: `axis_name` is the device
  axis gradients, metrics and BatchNorm statistics are averaged over (None on
  one device). Subclasses set the class attributes and implement the methods
  that raise NotImplementedError; the others have defaults.
  """
  name: str = ""
  # Keys of the progress-bar summary, in order.
  progress_keys: tuple = ()
  # Does the family generate data from a prior (evaluation scores its samples)?
  has_sampler: bool = True

  def __init__(self, config: ml_collections.ConfigDict, dataset: Dataset,
               axis_name: str | None = None):
    self.config, self.dataset, self.axis_name = config, dataset, axis_name
    self.z_dim = 0
    self.num_classes = 0  # > 0: a class-conditional sampler (it takes labels)

  # -- data
  @property
  def data_keys(self) -> tuple:
    """The dataset arrays the step reads ('x', or 'x' and 'y')."""
    return ("x",)

  @property
  def draws_per_step(self) -> int:
    """Batches one step reads (streamed data is ``[draws_per_step, B, ...]``)."""
    return 1

  # -- state and step
  def init_state(self, key: jax.Array):
    """The initial state for `key`, from one compiled program built on first use.

    One program per family, so the optimizers inside the state (static pytree
    metadata of every TrainState) are the same objects on every call: a second
    init (the next group of seeds, a restart) reuses the compiled init, step and
    sampler instead of tracing and compiling all three again (~3 s per group of
    a mode-coverage row on the 2-core CPU). Compiled rather than run eagerly,
    where every initialiser and every op of the networks' dummy forward pass
    would compile on its own (~200 small compiles).
    """
    return self._compiled_init(key)

  @functools.cached_property
  def _compiled_init(self) -> Callable:
    return jax.jit(self.init_fn())

  def init_fn(self) -> Callable:
    """The pure ``key -> initial state`` (its optimizers built once, outside it)."""
    raise NotImplementedError

  def step_fn(self, *, resident: bool, num_shards: int = 1) -> Callable:
    """The pure per-device step ``(state, data, key) -> (state, metrics)`` (not compiled)."""
    raise NotImplementedError

  # -- sampling and encoding
  def generate(self, state, z: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    """Samples from latents `z` [B, z_dim] (and labels [B] if conditional), inference mode."""
    raise NotImplementedError(f"family {self.name!r} has no sampler")

  def encode(self, state, x: jax.Array):
    """(mean, log_var) [B, z_dim] of q(z | x); None for a family without an encoder."""
    del state, x
    return None

  @property
  def has_encoder(self) -> bool:
    return False

  def sample_grids(self, state, fixed: dict) -> dict:
    """Pictures for the sample directory: {file prefix: (images or points, ncols)}.

    `fixed` is `fixed_inputs(key)`, the same at every call, so successive
    grids show the model changing.
    """
    if not self.has_sampler:
      return {}
    return {"": (self.generate(state, fixed["z"], fixed.get("labels")), fixed.get("ncols"))}

  def fixed_inputs(self, key: jax.Array, num: int) -> dict:
    """The latents (and labels, columns) of the sample grids."""
    if not self.num_classes:
      return {"z": jax.random.normal(key, (num, self.z_dim))}
    k = self.num_classes  # one row per class
    return {"z": jax.random.normal(key, (k * k, self.z_dim)),
            "labels": jnp.repeat(jnp.arange(k), k), "ncols": k}

  # -- evaluation and end of training
  def eval_metrics(self, state, evaluator, key: jax.Array) -> dict:
    """Metrics this family adds to `--mode=eval` beyond the sample metrics."""
    del state, evaluator, key
    return {}

  def finish(self, state, workdir: str) -> dict:
    """Called once when training reaches its last step; returns a summary for the command line."""
    del state, workdir
    return {}
