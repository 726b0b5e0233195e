"""What the model families' steps share: the TrainState, per-example randomness, batch draws,
device collectives and the config's dataset.

The interface a family implements is `Family`, in `gans_jax.families.interface`.
"""

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

  @classmethod
  def create(cls, **kwargs):
    # A strongly typed int32 step, as a restored checkpoint's: flax's Python 0 traces as a weakly
    # typed one, and the step compiled for a new run would not be the program a resumed run
    # finds in the compilation cache.
    return super().create(**kwargs).replace(step=jnp.zeros((), jnp.int32))


def register_optional_fields(cls, optional: tuple) -> None:
  """Checkpoint the struct dataclass `cls` with each field of `optional` left out while it is off
  (None or empty), so a run with the options off writes the checkpoints written before they
  existed, and the two restore into each other."""
  def to_dict(state) -> dict:
    tree = {f: flax.serialization.to_state_dict(getattr(state, f))
            for f in state.__dataclass_fields__}
    return {k: v for k, v in tree.items() if k not in optional or v}

  def from_dict(target, tree: dict):
    return target.replace(**{
        f: flax.serialization.from_state_dict(getattr(target, f), tree[f], name=f)
        for f in target.__dataclass_fields__ if f in tree or f not in optional})

  flax.serialization.register_serialization_state(cls, to_dict, from_dict, override=True)


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
    idx = uniform_indices(key, offset, batch, data[names[0]].shape[0])
    return tuple(data[k][idx] for k in names)
  return tuple(data[k][index] for k in names)


def uniform_indices(key: jax.Array, offset, num: int, n: int) -> jax.Array:
  """`num` indices uniform in [0, n) (with replacement), index i from ``fold_in(key, offset + i)``."""
  keys = example_keys(key, offset, num)
  return jax.vmap(lambda k: jax.random.randint(k, (), 0, n))(keys)


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
  """True when every floating-point leaf of `tree` is finite.

  Checked in NumPy on a host copy: jnp's eager ops would compile a program per leaf shape.
  np.asarray gives Python-number leaves a dtype; jnp.issubdtype because NumPy's does not count
  bfloat16 (an ml_dtypes type) as inexact.
  """
  leaves = (np.asarray(x) for x in jax.tree.leaves(jax.device_get(tree)))
  return all(bool(np.isfinite(x).all()) for x in leaves if jnp.issubdtype(x.dtype, jnp.inexact))


def step_of(state) -> int:
  """The step count (the same in every replica of a multi-seed state)."""
  return int(np.asarray(state.step).reshape(-1)[0])


def network_states(state) -> dict:
  """The state's TrainStates by field name (g, d, encoder, ...)."""
  return {f: getattr(state, f) for f in state.__dataclass_fields__
          if isinstance(getattr(state, f), TrainState)}
