"""The interface every model family implements: `Family`.

A family (`gans_jax.families.<name>`) is one subclass of `Family` plus two module functions,
`default_config()` and `check_config(config, num_devices=...)`. The subclass builds its networks
for one dataset, gives the pure initial state (one `base.TrainState` per named network plus any
arrays it keeps) and the pure step ``(state, data, key) -> (state, metrics)``, a sampler (and an
encoder, where it has one) and the metrics it adds to `--mode=eval`. The trainer
(`gans_jax.trainer`) runs any of them and knows nothing about what the networks are; evaluation
and editing ask only for `generate` (and `encode`).

Required: `name`, `init_fn`, `step_fn`, and `generate` when `has_sampler`. Everything else has a
default that fits a one-network family reading ``x``.
"""

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections

from gans_jax.data import Dataset


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

  def grid_legend(self, prefix: str, num_rows: int) -> tuple:
    """(what the grid `prefix` of `sample_grids` shows, a label per row) for its picture."""
    del prefix
    if self.num_classes:
      return ("one row per class, fixed latents", [f"class {k}" for k in range(num_rows)])
    return ("fixed latents", ())

  def fixed_inputs(self, key: jax.Array, num: int) -> dict:
    """The latents (and labels, columns) of the sample grids."""
    if not self.num_classes:
      return {"z": jax.random.normal(key, (num, self.z_dim))}
    k = self.num_classes  # one row per class
    return {"z": jax.random.normal(key, (k * k, self.z_dim)),
            "labels": jnp.repeat(jnp.arange(k), k), "ncols": k}

  # -- evaluation and end of training
  # ``(standard normals [N, z_dim], truncation psi or None) -> latents`` applied before
  # `generate` where samples are drawn from the prior for scoring and export (None: the prior
  # is N(0, I)); see `prepare_sampling`.
  latent_transform: Callable | None = None

  def prepare_sampling(self, state) -> None:
    """Called by `--mode=eval` and `--mode=sample` on the restored state before they draw
    samples: a family whose prior is fitted after training (`latent_transform`) fits it here."""
    del state

  def eval_metrics(self, state, evaluator, key: jax.Array) -> dict:
    """Metrics this family adds to `--mode=eval` beyond the sample metrics."""
    del state, evaluator, key
    return {}

  def finish(self, state, workdir: str) -> dict:
    """Called once when training reaches its last step; returns a summary for the command line."""
    del state, workdir
    return {}
