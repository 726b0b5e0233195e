"""Train states, the compiled GAN train step, and the training loop.

Data flow: `train_and_evaluate(config, workdir)` builds the dataset, networks,
optimizers and states from the config; `make_train_step` returns one jitted
pure function ``(state, data, key) -> (state, metrics)`` that runs
``n_critic`` discriminator updates and one generator update; the loop around
it only logs, samples and checkpoints.

Randomness: ``init_key, train_key, sample_key = split(PRNGKey(seed), 3)``;
step ``s`` uses ``fold_in(train_key, s)`` and nothing else, so a resumed run
draws exactly the numbers an uninterrupted one would.
"""

import dataclasses
import json
import os
import signal
import threading
import time
from typing import Any, Callable, NamedTuple

import chex
import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax.training import train_state

from gans_jax import losses, nets, parallel, plots
from gans_jax.configs import check_config, parse_compiler_options
from gans_jax.data import Dataset, load_dataset
from gans_jax.errors import UserError
from gans_jax.optim import make_optimizer

# (discriminator loss, generator loss) per `config.loss.name`.
LOSSES = {
    "minimax": (losses.minimax_discriminator_loss, losses.minimax_generator_loss),
    "non_saturating": (losses.minimax_discriminator_loss,
                       losses.non_saturating_generator_loss),
    "wasserstein": (losses.wasserstein_discriminator_loss, losses.wasserstein_generator_loss),
    "hinge": (losses.hinge_discriminator_loss, losses.hinge_generator_loss),
    "least_squares": (losses.least_squares_discriminator_loss,
                      losses.least_squares_generator_loss),
}


class TrainingDiverged(RuntimeError):
  """A loss or parameter became non-finite; the last good checkpoint is kept."""


class TrainState(train_state.TrainState):
  """Flax TrainState plus BatchNorm statistics (an empty dict when there are none)."""
  batch_stats: Any = flax.core.FrozenDict()


@flax.struct.dataclass
class GANState:
  """Everything a run needs to continue: the step and one TrainState per network."""
  step: jnp.ndarray
  g: TrainState
  d: TrainState


class Models(NamedTuple):
  generator: nn.Module
  discriminator: nn.Module
  z_dim: int
  num_classes: int = 0  # > 0: class-conditional; both networks take (input, labels)


# ----------------------------------------------------------------------------- builders


def build_models(config: ml_collections.ConfigDict, dataset: Dataset,
                 axis_name: str | None = None) -> Models:
  """The generator and discriminator named by `config.model` for `dataset`'s shape.

  `axis_name`: the device axis BatchNorm averages its batch statistics over.
  """
  m = config.model
  shape = tuple(dataset.example_shape)
  if m.conditional != "none":
    if m.arch != "dcgan" or not dataset.num_classes:
      raise UserError(f"model.conditional: {m.conditional!r} needs model.arch='dcgan' and a "
                      f"labelled image dataset; {dataset.name!r} has no class labels"
                      if not dataset.num_classes else
                      f"model.conditional: {m.conditional!r} needs model.arch='dcgan'")
    k = int(dataset.num_classes)
    g = nets.ConditionalDCGANGenerator(resolution=shape[0], channels=shape[-1],
                                       width=m.g_width, num_classes=k, axis_name=axis_name,
                                       conv_impl=m.conv_impl)
    d_cls = (nets.ProjectionDCGANDiscriminator if m.conditional == "projection"
             else nets.ConcatDCGANDiscriminator)
    d = d_cls(resolution=shape[0], width=m.d_width, norm=m.d_norm, num_classes=k,
              axis_name=axis_name, conv_impl=m.conv_impl)
    return Models(g, d, m.z_dim, k)
  if m.arch == "dcgan":
    if dataset.kind != "image":
      raise UserError(f"model.arch: 'dcgan' needs images, but {dataset.name!r} holds "
                      f"{dataset.kind}; use model.arch='mlp'")
    g = nets.DCGANGenerator(resolution=shape[0], channels=shape[-1], width=m.g_width,
                            axis_name=axis_name, conv_impl=m.conv_impl)
    d = nets.DCGANDiscriminator(resolution=shape[0], width=m.d_width, norm=m.d_norm,
                                axis_name=axis_name, conv_impl=m.conv_impl)
  else:
    g = nets.MLPGenerator(out_shape=shape, hidden=tuple(m.g_hidden),
                          batch_norm=m.g_batch_norm, axis_name=axis_name,
                          output_activation="tanh" if dataset.kind == "image" else "none")
    d = nets.MLPDiscriminator(hidden=tuple(m.d_hidden), activation=m.d_activation,
                              maxout_pieces=m.maxout_pieces,
                              layer_norm=(m.d_norm == "layer"))
  return Models(g, d, m.z_dim)


def _variables(ts: TrainState, params=None) -> dict:
  params = ts.params if params is None else params
  if ts.batch_stats:
    return {"params": params, "batch_stats": ts.batch_stats}
  return {"params": params}


def create_train_state(config: ml_collections.ConfigDict, models: Models,
                       example_shape, key: jax.Array) -> GANState:
  """Initial parameters, optimizer states and BatchNorm statistics.

  Built in one compiled program: run eagerly, every initialiser and every op
  of the networks' dummy forward pass compiles on its own (~200 small XLA
  compiles, 14.5 s for the tiny WGAN-GP of tests/test_evaluate.py).
  """
  g_tx = make_optimizer(config.optimizer.g, field="optimizer.g")
  d_tx = make_optimizer(config.optimizer.d, clip=config.loss.clip, field="optimizer.d")

  def init(key):
    g_key, d_key = jax.random.split(key)
    batch = 2
    z = jnp.zeros((batch, models.z_dim), jnp.float32)
    x = jnp.zeros((batch,) + tuple(example_shape), jnp.float32)
    labels = (jnp.zeros((batch,), jnp.int32),) if models.num_classes else ()
    g_vars = models.generator.init(g_key, z, *labels, train=False)
    d_vars = models.discriminator.init(d_key, x, *labels, train=False)
    g = TrainState.create(apply_fn=models.generator.apply, params=g_vars["params"],
                          batch_stats=g_vars.get("batch_stats", {}), tx=g_tx)
    d = TrainState.create(apply_fn=models.discriminator.apply, params=d_vars["params"],
                          batch_stats=d_vars.get("batch_stats", {}), tx=d_tx)
    return GANState(step=jnp.zeros((), jnp.int32), g=g, d=d)

  return jax.jit(init)(key)


# ----------------------------------------------------------------------------- the step


def _apply(module: nn.Module, ts: TrainState, inputs: tuple, params=None):
  """Train-mode forward of ``module(*inputs)``; returns (output, new batch_stats).

  `inputs` is ``(x,)``, or ``(x, labels)`` for a conditional network.
  """
  if ts.batch_stats:
    out, updates = module.apply(_variables(ts, params), *inputs, train=True,
                                mutable=["batch_stats"])
    return out, updates["batch_stats"]
  return module.apply(_variables(ts, params), *inputs, train=True), ts.batch_stats


def _example_keys(key: jax.Array, offset, num: int) -> jax.Array:
  """One key per example: ``fold_in(key, global example index)``.

  Drawing per example from its global index makes the random numbers (data
  indices, z, the penalty's epsilon) independent of how the batch is split
  over devices, so N devices reproduce the one-device step exactly.
  """
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(offset + jnp.arange(num))


def make_step_fn(config: ml_collections.ConfigDict, models: Models, *, resident: bool,
                 axis_name: str | None = None, num_shards: int = 1,
                 label_classifier: Callable | None = None) -> Callable:
  """The pure per-device step ``(state, data, key) -> (state, metrics)`` (not compiled).

  Args:
    config: the experiment config (read here, never inside the step).
    models: generator and discriminator modules (built with ``axis_name`` when
      BatchNorm must see the global batch).
    resident: when True, ``data`` is the whole dataset ``{'x': [N, ...]}`` on the
      device and each critic update draws its batch inside the step (uniform
      indices, with replacement); when False, ``data`` is this device's
      ``{'x': [n_critic, B / num_shards, ...]}`` streamed from the host.
    axis_name: the device axis the gradients, metrics and BatchNorm statistics
      are averaged over (None on one device).
    num_shards: devices the global batch ``train.batch_size`` is split over.
    label_classifier: ``images -> logits [B, K]`` (frozen, parameters closed
      over), needed when ``loss.disentangle > 0``: supervised disentanglement
      ties z[:, :K] to the class ``y = argmax_k z[:, k]`` and adds
      ``loss.disentangle * CE(label_classifier(G(z)), y)`` to the G loss, so
      raising coordinate k makes a class-k image. y is a function of z, so the
      prior stays N(0, I) and prior samples cover the classes uniformly.

  The ``n_critic`` discriminator updates are unrolled at trace time: on XLA:CPU
  a ``lax.scan`` over five DCGAN WGAN-GP critic updates was measured 9x slower
  than the unrolled form (issue 3).
  """
  d_loss_fn, g_loss_fn = LOSSES[config.loss.name]
  n_critic = int(config.train.n_critic)
  batch = int(config.train.batch_size) // num_shards
  loss_cfg = config.loss
  real_label = float(loss_cfg.real_label)
  gp_weight = float(loss_cfg.gp_weight)
  fm_weight = float(loss_cfg.feature_matching)
  adv_weight = float(loss_cfg.adversarial_weight)
  G, D = models.generator, models.discriminator
  mean = (lambda t: jax.lax.pmean(t, axis_name)) if axis_name else (lambda t: t)
  dis_weight = float(loss_cfg.get("disentangle", 0.0))
  if dis_weight > 0 and label_classifier is None:
    raise ValueError("loss.disentangle > 0 needs a label_classifier")

  def d_loss(real_scores, fake_scores):
    if d_loss_fn is losses.minimax_discriminator_loss:
      return d_loss_fn(real_scores, fake_scores, real_label=real_label)
    return d_loss_fn(real_scores, fake_scores)

  conditional = models.num_classes > 0

  def draw(key, offset, data, i):
    """(real inputs, generator inputs, per-example penalty keys) for update i.

    Inputs are ``(x,)`` and ``(z,)``, or ``(x, y)`` and ``(z, y_fake)`` with
    fake labels uniform over the classes for a conditional model.
    """
    k_data, k_z, k_gp, k_y = jax.random.split(key, 4)
    if resident:
      keys = _example_keys(k_data, offset, batch)
      idx = jax.vmap(lambda k: jax.random.randint(k, (), 0, data["x"].shape[0]))(keys)
      real = tuple(data[k][idx] for k in (("x", "y") if conditional else ("x",)))
    else:
      real = tuple(data[k][i] for k in (("x", "y") if conditional else ("x",)))
    z = jax.vmap(lambda k: jax.random.normal(k, (models.z_dim,)))(
        _example_keys(k_z, offset, batch))
    g_in = (z,)
    if conditional:
      g_in = (z, jax.vmap(lambda k: jax.random.randint(k, (), 0, models.num_classes))(
          _example_keys(k_y, offset, batch)))
    return real, g_in, _example_keys(k_gp, offset, batch)

  def penalty(params, real, fake, labels, gp_keys):
    # The WGAN-GP penalty with epsilon drawn per example from that example's
    # key (so it does not depend on the device split), one batched backward.
    # A conditional critic is penalised at the fake labels (Gulrajani et al.'s
    # conditional CIFAR-10 model interpolates the images only).
    eps = jax.vmap(lambda k: jax.random.uniform(k, (1,) * (real.ndim - 1)))(gp_keys)
    critic = lambda x: D.apply({"params": params}, x, *labels, train=True)[0]
    return losses.gradient_norm_penalty(critic, eps * real + (1 - eps) * fake,
                                        target=loss_cfg.gp_target,
                                        one_sided=loss_cfg.gp_one_sided)

  def step(state: GANState, data, key):
    offset = jax.lax.axis_index(axis_name) * batch if axis_name else 0
    keys = jax.random.split(jax.random.fold_in(key, state.step), n_critic + 1)
    g, d = state.g, state.d
    d_metrics = []
    for i in range(n_critic):
      real, g_in, gp_keys = draw(keys[i], offset, data, i)
      fake, g_stats = _apply(G, g, g_in)
      fake = jax.lax.stop_gradient(fake)
      g = g.replace(batch_stats=g_stats)
      fake_in = (fake,) + g_in[1:]

      def loss_fn(params):
        (real_scores, _), stats = _apply(D, d, real, params)
        (fake_scores, _), stats = _apply(D, d.replace(batch_stats=stats), fake_in, params)
        adv = d_loss(real_scores, fake_scores)
        aux = {"d_loss": adv,
               "d_real": jnp.mean(real_scores), "d_fake": jnp.mean(fake_scores)}
        total = adv
        if gp_weight > 0:
          aux["gp"] = penalty(params, real[0], fake, g_in[1:], gp_keys)
          total = total + gp_weight * aux["gp"]
        return total, (aux, stats)

      grads, (aux, stats) = jax.grad(loss_fn, has_aux=True)(d.params)
      d = d.apply_gradients(grads=mean(grads), batch_stats=stats)
      d_metrics.append(aux)

    real, g_in, _ = draw(keys[n_critic], offset, data, n_critic - 1)
    real_features = None
    if fm_weight > 0:
      (_, real_features), _ = _apply(D, d, real)
      real_features = jax.lax.stop_gradient(real_features)

    def g_objective(params):
      fake, g_stats = _apply(G, g, g_in, params)
      # D's BatchNorm statistics are not updated by the generator's pass.
      (fake_scores, fake_features), _ = _apply(D, d, (fake,) + g_in[1:])
      adv = g_loss_fn(fake_scores)
      total = adv_weight * adv
      aux = {"g_loss": adv}
      if fm_weight > 0:
        # Feature means are per device here; exact across devices only on one.
        fm = losses.feature_matching_loss(real_features, fake_features)
        aux["feature_matching"] = fm
        total = total + fm_weight * fm
      if dis_weight > 0:
        logits = label_classifier(fake)
        z = g_in[0]
        labels = jnp.argmax(z[:, :logits.shape[-1]], axis=-1)
        ce = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
        aux["disentangle"] = ce
        total = total + dis_weight * ce
      return total, (aux, g_stats)

    grads, (g_aux, g_stats) = jax.grad(g_objective, has_aux=True)(g.params)
    g = g.apply_gradients(grads=mean(grads), batch_stats=g_stats)

    metrics = jax.tree.map(lambda *v: jnp.mean(jnp.stack(v)), *d_metrics)
    metrics.update(g_aux)
    if config.loss.name == "wasserstein":
      metrics["w_estimate"] = metrics["d_real"] - metrics["d_fake"]
    return GANState(step=state.step + 1, g=g, d=d), mean(metrics)

  return step


def seed_keys(seed: int, num_seeds: int = 1):
  """(init, train, sample) keys; stacked [num_seeds] init/train keys when num_seeds > 1.

  Replica i of a multi-seed run gets exactly the keys of a run with seed + i.
  """
  if num_seeds == 1:
    return tuple(jax.random.split(jax.random.PRNGKey(seed), 3))
  keys = jnp.stack([jax.random.split(jax.random.PRNGKey(seed + i), 3)
                    for i in range(num_seeds)])
  return keys[:, 0], keys[:, 1], keys[0, 2]


def init_states(config, models: Models, example_shape, init_key, num_seeds: int = 1):
  """`create_train_state`, vmapped over stacked init keys when num_seeds > 1."""
  create = lambda k: create_train_state(config, models, example_shape, k)
  return create(init_key) if num_seeds == 1 else jax.vmap(create)(init_key)


def make_runner(config: ml_collections.ConfigDict, models_fn: Callable, *, resident: bool,
                devices=None, extra_inputs: dict | None = None):
  """(models, Runner) for `config.parallel.backend` over `devices` (default: all local).

  `models_fn(axis_name)` builds the models; on one device the plain jitted step
  runs (no collectives), which is what pmap over one device computes. With
  several processes (multi-host) the step maps over every process's devices
  and the global batch is split over all of them. `extra_inputs`: keyword
  arguments of `make_step_fn` beyond the config (e.g. ``label_classifier``).
  The runner also compiles `train.steps_per_call` steps fused into one call.
  """
  devices = list(devices if devices is not None else jax.local_devices())
  num_seeds = config.train.num_seeds
  kw = dict(streamed=not resident, steps_per_call=config.train.steps_per_call,
            cpu_compiler_options=parse_compiler_options(
                config.parallel.get("cpu_compiler_options", "")))
  extra = extra_inputs or {}
  if num_seeds > 1:
    if parallel.multi_process():
      raise UserError("train.num_seeds: several seeds train in one program on one device; "
                      "under --distributed every process would train the same seeds. Run "
                      "them on one process, or use num_seeds=1 across processes")
    # Independent replicas in one program: state and key batched, data shared.
    models = models_fn(None)
    fn = jax.vmap(make_step_fn(config, models, resident=resident, **extra),
                  in_axes=(0, None, 0))
    return models, parallel.Runner(fn, "jit", devices[:1], **kw)
  if len(devices) == 1 and not parallel.multi_process():
    models = models_fn(None)
    fn = make_step_fn(config, models, resident=resident, **extra)
    return models, parallel.Runner(fn, "jit", devices, **kw)
  models = models_fn(parallel.AXIS)
  fn = make_step_fn(config, models, resident=resident, axis_name=parallel.AXIS,
                    num_shards=len(devices) * jax.process_count(), **extra)
  return models, parallel.Runner(fn, config.parallel.backend, devices, **kw)


def make_train_step(config: ml_collections.ConfigDict, models: Models, *,
                    resident: bool) -> Callable:
  """The one-device step ``(state, data, key) -> (state, metrics)``, jitted, state donated."""
  return jax.jit(make_step_fn(config, models, resident=resident), donate_argnums=(0,))


def generate(models: Models, state: GANState, z: jax.Array,
             labels: jax.Array | None = None) -> jax.Array:
  """Samples from the generator in inference mode (BatchNorm running statistics).

  `labels` [B] int: the requested classes of a conditional generator.
  """
  inputs = (z,) if labels is None else (z, labels)
  return models.generator.apply(_variables(state.g), *inputs, train=False)


def step_of(state: GANState) -> int:
  """The step count (the same in every replica of a multi-seed state)."""
  return int(np.asarray(state.step).reshape(-1)[0])


def all_finite(tree) -> bool:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
  return bool(jnp.all(jnp.stack(leaves))) if leaves else True


# ----------------------------------------------------------------------------- checkpoints


class Checkpointer:
  """Orbax CheckpointManager over `workdir/checkpoints` (atomic writes, keeps the last few)."""

  def __init__(self, directory: str, keep: int):
    self.directory = os.path.abspath(directory)
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

  def latest_step(self):
    return self.manager.latest_step()

  def save(self, state: GANState) -> None:
    step = step_of(state)
    if step in self.manager.all_steps():
      return
    tree = flax.serialization.to_state_dict(state)
    if parallel.multi_process():
      # Every process holds the same state on its own devices; orbax saves
      # global arrays (each process writes its share, process 0 commits).
      tree = parallel.to_global(tree)
    self.manager.save(step, args=ocp.args.StandardSave(tree))

  def restore(self, template: GANState, step=None) -> GANState:
    step = self.manager.latest_step() if step is None else step
    # Explicit placements: a checkpoint saved by N processes restores in one
    # (e.g. --mode=eval after a multi-host run) and the other way round.
    abstract = parallel.restore_target(flax.serialization.to_state_dict(template))
    restored = self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
    if parallel.multi_process():
      restored = parallel.to_local(restored)
    return flax.serialization.from_state_dict(template, restored)

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


# ----------------------------------------------------------------------------- the loop


class StreamedBatches:
  """Host-side batches for datasets too large for the device.

  Indices for step s come from ``numpy.random.default_rng([seed, s])``, so a
  resumed run reads exactly the batches an uninterrupted one would. With
  several processes (multi-host) each reads only its own contiguous slice of
  every global batch: process p of P gets examples [p B/P, (p+1) B/P).
  """

  def __init__(self, dataset: Dataset, seed: int, batch_size: int, n_critic: int,
               process_index: int = 0, process_count: int = 1):
    self.dataset, self.seed = dataset, seed
    self.batch_size, self.n_critic = batch_size, n_critic
    self.process_index, self.process_count = process_index, process_count

  def __call__(self, step: int) -> dict:
    rng = np.random.default_rng([self.seed, step])
    idx = rng.integers(0, self.dataset.num_examples, (self.n_critic, self.batch_size))
    local = self.batch_size // self.process_count
    idx = idx[:, self.process_index * local:(self.process_index + 1) * local]
    batch = self.dataset.get(idx.reshape(-1))
    return {k: v.reshape((self.n_critic, local) + v.shape[1:]) for k, v in batch.items()}


class _GracefulInterrupt:
  """Turns the first Ctrl-C into a flag checked between steps; a second one aborts.

  A KeyboardInterrupt raised inside the step call could leave `state` pointing
  at donated (deleted) buffers; checking a flag between steps cannot.
  """

  def __init__(self):
    self.requested = False
    self._previous = None

  def _handler(self, signum, frame):
    del frame
    if self.requested:
      raise KeyboardInterrupt
    self.requested = True
    signal.signal(signum, self._previous)

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGINT, self._handler)
    return self

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGINT, self._previous)
    return False


def _describe(ckpt: "Checkpointer") -> str:
  step = ckpt.latest_step()
  if step is None:
    return "no checkpoint was written before it"
  return f"the last good checkpoint, step {step}, is kept in {ckpt.directory}"


def _read_metrics(path: str, upto_step: int) -> list:
  """Metric rows already logged, dropping any beyond the checkpoint resumed from."""
  if not os.path.exists(path):
    return []
  with open(path) as f:
    rows = [json.loads(line) for line in f if line.strip()]
  return [r for r in rows if r["step"] <= upto_step]


def _write_rows(path: str, rows: list) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    for r in rows:
      f.write(json.dumps(r) + "\n")
  os.replace(tmp, path)


class _NullLog:
  """Stands in for metrics.jsonl on processes other than 0 (they write nothing)."""

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return False

  def write(self, text: str) -> None:
    del text

  def flush(self) -> None:
    pass


def _label_classifier(config: ml_collections.ConfigDict, dataset: Dataset) -> Callable:
  """The frozen domain classifier as ``images -> logits`` for `loss.disentangle`."""
  from gans_jax.classifier import classifier_logits, load_classifier  # imports data, not train
  from gans_jax.evaluate import classifier_dir
  if dataset.kind != "image" or not dataset.num_classes:
    raise UserError(f"loss.disentangle: needs a labelled image dataset; {dataset.name!r} "
                    "has no class labels")
  clf = load_classifier(classifier_dir(config), config.dataset.name)
  if config.model.z_dim < clf.num_classes:
    raise UserError(f"loss.disentangle: ties z[:, :{clf.num_classes}] to the classes, so "
                    f"model.z_dim must be >= {clf.num_classes}, got {config.model.z_dim}")
  return classifier_logits(clf)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *,
                       progress: bool = True) -> GANState:
  """Trains from `config`, writing config, metrics, samples, plots and checkpoints to `workdir`.

  Re-running with the same workdir resumes from the latest checkpoint. Raises
  `UserError` for bad configs or data, `TrainingDiverged` on a non-finite loss.
  """
  check_config(config, num_devices=jax.device_count())
  # Multi-host: every process trains; only process 0 writes logs, samples and
  # evaluations (orbax coordinates the checkpoint writes of all processes).
  is_main = jax.process_index() == 0
  dataset = load_dataset(config.dataset.name, split="train",
                         data_dir=config.dataset.data_dir,
                         resolution=config.dataset.resolution)
  nbytes = dataset.num_examples * int(np.prod(dataset.example_shape)) * 4
  resident = nbytes <= config.dataset.max_resident_mb * 2**20
  extra = {}
  if config.loss.disentangle > 0:
    extra["label_classifier"] = _label_classifier(config, dataset)
  models, runner = make_runner(config, lambda axis: build_models(config, dataset, axis),
                               resident=resident, extra_inputs=extra)
  if is_main:
    os.makedirs(os.path.join(workdir, "samples"), exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))

  num_seeds = config.train.num_seeds
  init_key, train_key, sample_key = seed_keys(config.seed, num_seeds)
  state = init_states(config, models, dataset.example_shape, init_key, num_seeds)
  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), config.keep_checkpoints)
  start = 0
  if ckpt.latest_step() is not None:
    state = ckpt.restore(state)
    start = step_of(state)

  if num_seeds > 1 and not resident:
    raise UserError("train.num_seeds: several seeds need a dataset that fits on the device "
                    "(dataset.max_resident_mb); streamed batches would be shared by all seeds")
  if resident:
    arrays = dataset.all()
    device_data = runner.put_data(
        {k: arrays[k] for k in (("x", "y") if models.num_classes else ("x",))})
    next_data = lambda step, fused_steps=0: device_data
  else:
    stream = StreamedBatches(dataset, config.seed, config.train.batch_size,
                             config.train.n_critic, jax.process_index(), jax.process_count())

    def next_data(step, fused_steps=0):
      if not fused_steps:
        return runner.put_data(stream(step))
      batches = [stream(step + i) for i in range(fused_steps)]
      return runner.put_data(jax.tree.map(lambda *b: np.stack(b), *batches), fused=True)
  pstate = runner.put_state(state)
  del state  # from here on the runner's copy is the state; its buffers get donated

  num_samples = (config.num_sample_images if dataset.kind == "image"
                 else config.num_sample_points)
  ncols = None
  fixed_labels = None
  if models.num_classes:
    # One row per class: num_classes rows of num_classes samples.
    ncols = models.num_classes
    num_samples = ncols * ncols
    fixed_labels = jnp.repeat(jnp.arange(ncols), ncols)
  fixed_z = jax.random.normal(sample_key, (num_samples, models.z_dim))
  # Samples, in-training evaluation: replica 0 when several seeds train at once.
  first = (lambda s: jax.tree.map(lambda x: x[0], s)) if num_seeds > 1 else (lambda s: s)
  sample_fn = jax.jit(lambda s, z: generate(models, s, z, fixed_labels))
  real_points = dataset.get(np.arange(min(dataset.num_examples, num_samples)))["x"] \
      if dataset.kind == "points" else None

  metrics_path = os.path.join(workdir, "metrics.jsonl")
  history = _read_metrics(metrics_path, start)
  if is_main:
    _write_rows(metrics_path, history)

  evaluator = None
  if config.eval_every > 0 and is_main:
    from gans_jax.evaluate import Evaluator  # evaluate imports this module
    evaluator = Evaluator(config, models, dataset.kind)  # UserError if no classifier
    eval_key = jax.random.fold_in(sample_key, 1)
    eval_path = os.path.join(workdir, "eval.jsonl")
    eval_history = _read_metrics(eval_path, start)
    _write_rows(eval_path, eval_history)

  def run_eval(s: GANState) -> None:
    # Same latents at every evaluation, so the curve shows the generator changing.
    row = {"step": step_of(s), **evaluator(s, eval_key, config.eval.num_samples_train,
                                           config.eval.truncation)}
    eval_history.append(row)
    _write_rows(eval_path, eval_history)
    keys = [k for k in ("fid", "precision", "recall", "modes", "high_quality", "reverse_kl")
            if k in row]
    plots.save_metric_plot(eval_history, os.path.join(workdir, "eval.png"), keys=keys)

  def write_samples(s: GANState) -> None:
    out = np.asarray(sample_fn(s, fixed_z))
    path = os.path.join(workdir, "samples", f"step_{step_of(s):07d}.png")
    if dataset.kind == "image":
      plots.save_image_grid(out, path, ncols=ncols)
    else:
      plots.save_scatter(out, path, reference=real_points)
    plots.save_metric_plot(history, os.path.join(workdir, "losses.png"))

  def save_checkpoint(s: GANState) -> None:
    if not all_finite(s.g.params) or not all_finite(s.d.params):
      raise TrainingDiverged(
          f"non-finite parameters at step {step_of(s)}; kept the last good checkpoint "
          f"({_describe(ckpt)})")
    ckpt.save(s)

  num_steps = config.train.num_steps
  fuse = config.train.steps_per_call
  every = [config.log_every, config.sample_every, config.checkpoint_every]
  every += [config.eval_every] if config.eval_every > 0 else []

  def steps_until_event(step: int) -> int:
    # Calls never cross a log/sample/eval/checkpoint step, so fused and
    # unfused runs write the same outputs at the same steps.
    return min([num_steps - step] + [e - step % e for e in every])

  bar = None
  if progress and is_main:
    from tqdm import tqdm
    bar = tqdm(total=num_steps, initial=start, unit="step", dynamic_ncols=True)
  t_last, s_last = time.perf_counter(), start
  interrupt = _GracefulInterrupt()
  try:
    with interrupt, (open(metrics_path, "a") if is_main else _NullLog()) as log:
      step = start
      while step < num_steps:
        if interrupt.requested:
          raise KeyboardInterrupt
        n = min(fuse, steps_until_event(step))
        if n == fuse > 1:
          pstate, metrics = runner.step(pstate, next_data(step, n), train_key, fused=True)
        else:
          for i in range(n):
            pstate, metrics = runner.step(pstate, next_data(step + i), train_key)
        done = step + n
        last = done == num_steps
        if done % config.log_every == 0 or last or done % config.checkpoint_every == 0:
          metrics = jax.device_get(metrics)
          per_seed = ({f"{k}_per_seed": [float(x) for x in v] for k, v in metrics.items()}
                      if num_seeds > 1 else {})
          metrics = {k: float(np.mean(v)) for k, v in metrics.items()}
          bad = [k for k, v in metrics.items() if not np.isfinite(v)]
          if bad:
            raise TrainingDiverged(
                f"non-finite {', '.join(bad)} at step {done}; stopped ({_describe(ckpt)}); "
                f"try a lower optimizer.*.learning_rate")
          if done % config.log_every == 0 or last:
            now = time.perf_counter()
            row = {"step": done, **metrics,
                   "steps_per_s": (done - s_last) / max(now - t_last, 1e-9), **per_seed}
            t_last, s_last = now, done
            history.append(row)
            log.write(json.dumps(row) + "\n")
            log.flush()
            if bar is not None:
              bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items()
                               if k in ("d_loss", "g_loss", "gp")})
        if is_main and (done % config.sample_every == 0 or last):
          write_samples(first(runner.get_state(pstate)))
        if evaluator is not None and (done % config.eval_every == 0 or last):
          run_eval(first(runner.get_state(pstate)))
        if done % config.checkpoint_every == 0 or last:
          save_checkpoint(runner.get_state(pstate))
        if bar is not None:
          bar.update(n)
        step = done
  except KeyboardInterrupt:
    # Ctrl-C only sets a flag (see _GracefulInterrupt), so `state` is the
    # complete result of the last step and its buffers were not donated.
    save_checkpoint(runner.get_state(pstate))
    raise
  finally:
    if bar is not None:
      bar.close()
    ckpt.close()  # waits for any asynchronous save to be committed
  return runner.get_state(pstate)
