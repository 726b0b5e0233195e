"""The training loop any model family runs on.

Data flow: `train_and_evaluate(config, workdir)` asks the family named by
`config.family` for its networks, initial state and pure step ``(state, data,
key) -> (state, metrics)``; the trainer owns everything around that step: the
data feed (device-resident dataset, or batches streamed from the host), the
`parallel.Runner` (jit / pmap / shard_map, vmapped seeds, fused steps),
checkpoints (`gans_jax.checkpoint`), metrics.jsonl, sample grids, periodic
evaluation, the progress bar, Ctrl-C / SIGTERM (`gans_jax.signals`) and
divergence checks. It knows nothing about generators or discriminators.

Randomness: ``init_key, train_key, sample_key = split(PRNGKey(seed), 3)``; the
step folds its step count into `train_key` (`families.base.step_key`), so a
resumed run draws exactly the numbers an uninterrupted one would.
"""

import contextlib
import copy
import json
import os
import shutil
import sys
import time
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gans_jax import families, parallel, plots
from gans_jax.atomic import write_text
from gans_jax.checkpoint import BEST_DIR, Checkpointer, SaveError, committed_steps, prepare_workdir
from gans_jax.configs import CONFIG_FILE, describe_changes, resume_changes
from gans_jax.data.prefetch import Prefetcher
from gans_jax.data.streaming import StreamedBatches
from gans_jax.errors import UserError
from gans_jax.families.base import all_finite, load_config_dataset, network_states, step_of
from gans_jax.nets.dcgan import resolve_conv_impl
from gans_jax.signals import GracefulStop
from gans_jax.tensorboard_log import EventLog, sample_tag
from gans_jax.train_settings import TrainSettings


class TrainingDiverged(RuntimeError):
  """A loss or parameter became non-finite; the last good checkpoint is kept."""


def seed_keys(seed: int, num_seeds: int = 1):
  """(init, train, sample) keys; stacked [num_seeds] init/train keys when num_seeds > 1.

  Replica i of a multi-seed run gets exactly the keys of a run with seed + i.
  """
  if num_seeds == 1:
    return tuple(jax.random.split(jax.random.PRNGKey(seed), 3))
  keys = jnp.stack([jax.random.split(jax.random.PRNGKey(seed + i), 3)
                    for i in range(num_seeds)])
  return keys[:, 0], keys[:, 1], keys[0, 2]


def init_states(family, init_key, num_seeds: int = 1):
  """`family.init_state`, vmapped over stacked init keys when num_seeds > 1."""
  return family.init_state(init_key) if num_seeds == 1 else jax.vmap(family.init_state)(init_key)


def make_runner(settings: TrainSettings, family_fn: Callable, *, resident: bool, devices=None):
  """(family, Runner) for `settings.backend` over `devices` (default: all local).

  `family_fn(axis_name)` builds the family; on one device the plain jitted step
  runs (no collectives), which is what pmap over one device computes. With
  several processes (multi-host) the step maps over every process's devices
  and the global batch is split over all of them. The runner also compiles
  `settings.steps_per_call` steps fused into one call.
  """
  devices = list(devices if devices is not None else jax.local_devices())
  num_seeds = settings.num_seeds
  kw = dict(streamed=not resident, steps_per_call=settings.steps_per_call,
            cpu_compiler_options=dict(settings.cpu_compiler_options))
  if num_seeds > 1:
    if parallel.multi_process():
      raise UserError("train.num_seeds: several seeds train in one program on one device; "
                      "under --distributed every process would train the same seeds. Run "
                      "them on one process, or use num_seeds=1 across processes")
    # Independent replicas in one program: state and key batched, data shared.
    family = family_fn(None)
    fn = jax.vmap(family.step_fn(resident=resident), in_axes=(0, None, 0))
    return family, parallel.Runner(fn, "jit", devices[:1], **kw)
  if len(devices) == 1 and not parallel.multi_process():
    family = family_fn(None)
    return family, parallel.Runner(family.step_fn(resident=resident), "jit", devices, **kw)
  family = family_fn(parallel.AXIS)
  fn = family.step_fn(resident=resident, num_shards=len(devices) * jax.process_count())
  return family, parallel.Runner(fn, settings.backend, devices, **kw)


class DataFeed:
  """What the runner's step reads: the resident dataset, or each step's streamed batches.

  Streamed batches of the calls in `calls` ((step, fused_steps) in the order the loop makes
  them, see `feed_calls`) are read and put on the devices `prefetch` calls ahead on a
  background thread; `feed(step, n)` returns the same arrays either way. Call `close()`.
  """

  def __init__(self, settings: TrainSettings, dataset, family, runner: parallel.Runner,
               resident: bool, calls: Iterable = (), prefetch: int = 0):
    self.runner, self.resident = runner, resident
    self.prefetcher = None
    have = set(dataset.get(np.zeros((0,), np.int64)))
    missing = [k for k in family.data_keys if k not in have]
    if missing:
      # e.g. a two-domain dataset ('a', 'b') for a family that reads 'x', or the reverse.
      raise UserError(f"dataset.name: family {family.name!r} reads arrays {missing} that "
                      f"{dataset.name!r} does not have (it has {sorted(have)})")
    if resident:
      arrays = dataset.all()
      self.device_data = runner.put_data({k: arrays[k] for k in family.data_keys})
    else:
      self.stream = StreamedBatches(dataset, settings.seed, settings.batch_size,
                                    family.draws_per_step, jax.process_index(),
                                    jax.process_count(), keys=family.data_keys)
      if prefetch > 0:
        self.prefetcher = Prefetcher(self._device_batches, calls, prefetch)

  def _device_batches(self, call: tuple):
    step, fused_steps = call
    if not fused_steps:
      data = self.runner.put_data(self.stream(step))
    else:
      batches = [self.stream(step + i) for i in range(fused_steps)]
      data = self.runner.put_data(jax.tree.map(lambda *b: np.stack(b), *batches), fused=True)
    return jax.block_until_ready(data)  # on the devices before the step asks for it

  def __call__(self, step: int, fused_steps: int = 0):
    if self.resident:
      return self.device_data
    if self.prefetcher is not None:
      return self.prefetcher.get((step, fused_steps))
    return self._device_batches((step, fused_steps))

  def close(self) -> None:
    if self.prefetcher is not None:
      self.prefetcher.close()


def loop_calls(settings: TrainSettings, start: int):
  """(step, n) of each loop iteration from `start`: n steps from `step`, never past an event.

  Calls never cross a log/sample/eval/checkpoint step, so fused and unfused runs write the
  same outputs at the same steps.
  """
  every, num_steps = settings.event_steps, settings.num_steps
  step = start
  while step < num_steps:
    n = min([settings.steps_per_call, num_steps - step] + [e - step % e for e in every])
    yield step, n
    step += n


def is_fused(n: int, settings: TrainSettings) -> bool:
  """Whether a loop call of `n` steps runs as one fused call (`steps_per_call` > 1 steps)."""
  return n == settings.steps_per_call > 1


def feed_calls(settings: TrainSettings, start: int):
  """The DataFeed calls `_Run.advance` makes from `start`, in order: (step, n) for n steps
  fused into one call, (step, 0) for a single step."""
  for step, n in loop_calls(settings, start):
    if is_fused(n, settings):
      yield step, n
    else:
      yield from ((step + i, 0) for i in range(n))


def resolve_platform_choices(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`config`, or a copy with `model.conv_impl='auto'` replaced by the form that runs on this
  platform (`nets.dcgan.resolve_conv_impl`), so config.json records what ran."""
  if "model" not in config or config.model.get("conv_impl") != "auto":
    return config
  config = copy.deepcopy(config)
  config.model.conv_impl = resolve_conv_impl("auto")
  return config


def resident_fits(settings: TrainSettings, dataset) -> bool:
  """Whether the dataset (float32) fits in `dataset.max_resident_mb` on the device."""
  domains = dataset.domains  # two domains live on the device as their own arrays, not as pairs
  count = sum(d.num_examples for d in domains) if domains else dataset.num_examples
  nbytes = count * int(np.prod(dataset.example_shape)) * 4
  return nbytes <= settings.max_resident_mb * 2**20


def read_rows(path: str, upto_step: int) -> list:
  """JSON rows already logged, dropping any beyond the checkpoint resumed from."""
  if not os.path.exists(path):
    return []
  with open(path) as f:
    rows = [json.loads(line) for line in f if line.strip()]
  return [r for r in rows if r["step"] <= upto_step]


def write_rows(path: str, rows: list) -> None:
  """Rewrites a JSON-lines file atomically."""
  write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


class MetricsLog:
  """metrics.jsonl: rows trimmed to the restored step, one appended per log step (and, with
  `events`, each row's numbers as TensorBoard scalars ``train/<key>``)."""

  def __init__(self, path: str, start: int, enabled: bool, events: EventLog | None = None):
    self.path, self.enabled, self.events = path, enabled, events
    self.rows = read_rows(path, start)
    if enabled:
      write_rows(path, self.rows)

  def append(self, row: dict) -> None:
    self.rows.append(row)
    if self.enabled:
      with open(self.path, "a") as f:
        f.write(json.dumps(row) + "\n")
    if self.events is not None:
      self.events.scalars("train", row)


class Outputs:
  """Sample grids, loss plots and in-training evaluation rows of process 0 (also as
  TensorBoard images and ``eval/<key>`` scalars in `events`)."""

  def __init__(self, settings: TrainSettings, workdir: str, family, dataset, sample_key,
               start: int, evaluator, events: EventLog | None):
    """`evaluator`: the in-training `evaluate.Evaluator`, or None (no periodic evaluation)."""
    self.workdir, self.family, self.dataset, self.events = workdir, family, dataset, events
    self.name = plots.run_name(workdir)
    num = settings.num_sample_images if dataset.kind == "image" else settings.num_sample_points
    self.fixed = family.fixed_inputs(sample_key, num)
    self.grids_fn = jax.jit(lambda s: family.sample_grids(s, self.fixed))
    self.real_points = (dataset.get(np.arange(min(dataset.num_examples, num)))["x"]
                        if dataset.kind == "points" else None)
    self.evaluator = evaluator
    if evaluator is not None:
      self.eval_key = jax.random.fold_in(sample_key, 1)
      self.eval_path = os.path.join(workdir, "eval.jsonl")
      self.eval_rows = read_rows(self.eval_path, start)
      write_rows(self.eval_path, self.eval_rows)
    self.eval_num, self.truncation = settings.eval_num_samples, settings.eval_truncation

  def samples(self, state, history: list) -> None:
    step = step_of(state)
    name = self.name
    for prefix, (out, ncols) in self.grids_fn(state).items():
      path = os.path.join(self.workdir, "samples", f"{prefix}step_{step:07d}.png")
      out = np.asarray(out)
      if self.dataset.kind == "image":
        ncols = int(ncols) if ncols is not None else int(np.ceil(np.sqrt(len(out))))
        what, rows = self.family.grid_legend(prefix, -(-len(out) // ncols))
        plots.save_image_grid(out, path, ncols=ncols, row_labels=rows,
                              title=f"{name}: {what}, step {step:,}")
      else:
        plots.save_scatter(out, path, reference=self.real_points,
                           title=f"{name}: samples (blue) over data (grey), step {step:,}")
      if self.events is not None:
        self.events.image(sample_tag(prefix), path, step)
    plots.save_metric_plot(history, os.path.join(self.workdir, "losses.png"),
                           title=f"{name}: training metrics to step {step:,}")

  def evaluate(self, state) -> dict:
    # Same latents at every evaluation, so the curve shows the model changing.
    row = {"step": step_of(state),
           **self.evaluator(state, self.eval_key, self.eval_num, self.truncation)}
    self.eval_rows.append(row)
    write_rows(self.eval_path, self.eval_rows)
    if self.events is not None:
      self.events.scalars("eval", row)
    keys = [k for k in ("fid", "precision", "recall", "modes", "high_quality", "reverse_kl")
            if k in row]
    plots.save_metric_plot(self.eval_rows, os.path.join(self.workdir, "eval.png"), keys=keys,
                           title=f"{self.name}: "
                                 f"evaluation during training ({self.eval_num:,} samples)")
    return row


def _fetch_async(metrics):
  """`metrics`, each array's device-to-host copy started (a later read does not wait for it)."""
  for x in jax.tree.leaves(metrics):
    if isinstance(x, jax.Array):
      x.copy_to_host_async()
  return metrics


def _log_metrics(metrics, done: int, num_seeds: int, describe: Callable) -> dict:
  """Host floats of the step's metrics (mean over seeds, plus per-seed lists);
  raises TrainingDiverged on a non-finite one."""
  metrics = jax.device_get(metrics)
  per_seed = ({f"{k}_per_seed": [float(x) for x in v] for k, v in metrics.items()}
              if num_seeds > 1 else {})
  means = {k: float(np.mean(v)) for k, v in metrics.items()}
  bad = [k for k, v in means.items() if not np.isfinite(v)]
  if bad:
    raise TrainingDiverged(f"non-finite {', '.join(bad)} at step {done}; stopped "
                           f"({describe()}); try a lower optimizer learning rate")
  return {**means, **per_seed}


class _Run:
  """One training run's pieces, built by `train_and_evaluate` and driven by `_loop`."""

  def __init__(self, config, workdir: str, progress: bool):
    config = resolve_platform_choices(config)
    # The trainer's fields, read once; below this class only the family and the evaluator
    # (built by families.get and evaluate.Evaluator) read the config.
    self.settings, self.workdir = TrainSettings.from_config(config), workdir
    # Multi-host: every process trains; only process 0 writes logs, samples and
    # evaluations (orbax coordinates the checkpoint writes of all processes).
    self.is_main = jax.process_index() == 0
    fam_cls = families.check_config(config, num_devices=jax.device_count())
    # Before any slow work: the workdir can be written and no other run uses it
    # (process 0 locks it; the others share its filesystem or have their own).
    self.lock, created = prepare_workdir(workdir, lock=self.is_main)
    self.ckpt = self.bar = self.events = self.feed = self.best = None
    self.last_log = (time.perf_counter(), 0)  # (time, step) of the last metrics row
    self.pending = None  # (step, metrics being copied to the host) of a row not written yet
    self.show_progress = False
    try:
      self._start(config, workdir, progress, fam_cls)
    except BaseException:
      self.close()
      if created:  # nothing was trained: leave no half-made workdir behind
        shutil.rmtree(created, ignore_errors=True)
      raise

  def _start(self, config, workdir: str, progress: bool, fam_cls) -> None:
    checkpoints = os.path.join(workdir, "checkpoints")
    # A resumed run must mean the same state (UserError naming the fields otherwise).
    changes = resume_changes(workdir, config) if committed_steps(checkpoints) else {}
    settings = self.settings
    self.dataset = load_config_dataset(config)
    resident = resident_fits(settings, self.dataset)
    if settings.num_seeds > 1 and not resident:
      raise UserError("train.num_seeds: several seeds need a dataset that fits on the device "
                      "(dataset.max_resident_mb); streamed batches would be shared by all seeds")
    self.family, self.runner = make_runner(
        settings, lambda axis: fam_cls(config, self.dataset, axis), resident=resident)
    self.num_seeds = settings.num_seeds
    init_key, self.train_key, sample_key = seed_keys(settings.seed, self.num_seeds)
    state = init_states(self.family, init_key, self.num_seeds)
    self.ckpt = Checkpointer(checkpoints, settings.keep_checkpoints)
    self.start = 0
    # The newest checkpoint that restores; damaged newer ones are set aside with a warning.
    hint = (f"the config differs from the run's in {describe_changes(changes)}"
            if changes else "")
    restored = self.ckpt.restore_newest(state, set_aside=self.is_main, hint=hint)
    if restored is not None:
      state, self.start = restored, step_of(restored)
    if self.is_main:
      os.makedirs(os.path.join(workdir, "samples"), exist_ok=True)
      # Written only now, after the restore: config.json always describes the checkpoints.
      write_text(os.path.join(workdir, CONFIG_FILE), config.to_json_best_effort(indent=2))
      if changes and restored is not None:
        with open(os.path.join(workdir, "config_changes.jsonl"), "a") as f:
          f.write(json.dumps({"step": self.start, "changes": changes}) + "\n")
    self.feed = DataFeed(settings, self.dataset, self.family, self.runner, resident,
                         feed_calls(settings, self.start), settings.prefetch_batches)
    self.pstate = self.runner.put_state(state)
    del state  # from here on the runner's copy is the state; its buffers get donated
    evaluator = None
    if self.is_main and settings.eval_every > 0 and self.family.has_sampler:
      evaluator = _evaluator(config, self.family, self.dataset.kind)  # UserError: no classifier
    # After the last check that can refuse the run; event files in the workdir, for TensorBoard.
    self.events = EventLog(workdir, self.start) if self.is_main else None
    self.outputs = (Outputs(settings, workdir, self.family, self.dataset, sample_key, self.start,
                            evaluator, self.events) if self.is_main else None)
    self.log = MetricsLog(os.path.join(workdir, "metrics.jsonl"), self.start, self.is_main,
                          self.events)
    self.best = _best_checkpointer(settings, workdir, self.outputs, self.dataset.kind)
    self.show_progress = progress and self.is_main
    if self.show_progress and self.start < settings.num_steps:
      print("compiling the training step (the first call; no estimate of the remaining time "
            "until it is done) ...", file=sys.stderr, flush=True)

  def start_bar(self, done: int) -> None:
    """The progress bar, from after the first call (its compile time would ruin the estimate),
    its rate the mean since then (smoothing 0), so logging or sampling steps do not swing it."""
    if self.show_progress and self.bar is None:
      from tqdm import tqdm
      self.bar = tqdm(total=self.settings.num_steps, initial=done, unit="step",
                      dynamic_ncols=True, smoothing=0)

  def first_replica(self, state):
    # Samples and in-training evaluation: replica 0 when several seeds train at once.
    return jax.tree.map(lambda x: x[0], state) if self.num_seeds > 1 else state

  def state(self):
    return self.runner.get_state(self.pstate)

  def save_checkpoint(self) -> None:
    state = self.state()
    if not all(all_finite(ts.params) for ts in network_states(state).values()):
      raise TrainingDiverged(f"non-finite parameters at step {step_of(state)}; kept the last "
                             f"good checkpoint ({self.ckpt.describe()})")
    try:
      self.ckpt.save(state)
    except SaveError as err:
      kept = self.ckpt.latest_step() or 0
      if self.is_main:
        self._drop_rows_after(kept)
      raise UserError(f"--workdir: {err}; {self.ckpt.describe()}. Free space or fix the disk, "
                      "then re-run the same command to resume from it") from err

  def _drop_rows_after(self, step: int) -> None:
    """Forgets logged rows no checkpoint backs (a resume would drop them anyway)."""
    logs = [(self.log, "rows", self.log.path)]
    if self.outputs is not None and self.outputs.evaluator is not None:
      logs.append((self.outputs, "eval_rows", self.outputs.eval_path))
    for owner, attr, path in logs:
      setattr(owner, attr, [r for r in getattr(owner, attr) if r["step"] <= step])
      if os.path.exists(path):
        try:
          write_rows(path, getattr(owner, attr))
        except OSError:  # the disk that refused the checkpoint may refuse this too
          with contextlib.suppress(OSError):
            os.remove(path + ".tmp")

  def advance(self, step: int, n: int):
    """Runs `n` steps from `step` (fused into one call when n is the fuse size)."""
    if is_fused(n, self.settings):
      self.pstate, metrics = self.runner.step(self.pstate, self.feed(step, n), self.train_key,
                                              fused=True)
    else:
      for i in range(n):
        self.pstate, metrics = self.runner.step(self.pstate, self.feed(step + i),
                                                self.train_key)
    return metrics

  def after_steps(self, done: int, metrics) -> None:
    """Logs, samples, evaluates and checkpoints at the steps they are due."""
    c = self.settings
    last = done == c.num_steps
    due = lambda every: done % every == 0 or last
    self.write_pending_row()
    sample_due = self.outputs is not None and due(c.sample_every)
    eval_due = (self.outputs is not None and self.outputs.evaluator is not None
                and due(c.eval_every))
    if due(c.log_every) and not (last or due(c.checkpoint_every) or sample_due or eval_due):
      # Nothing else at this step waits for the device: the metrics are copied to the host
      # while the next steps run, and written after the next step is dispatched.
      self.pending = (done, _fetch_async(metrics))
    elif due(c.log_every) or due(c.checkpoint_every):
      self._record(done, metrics, due(c.log_every))
    if sample_due:
      self.outputs.samples(self.first_replica(self.state()), self.log.rows)
    if eval_due:
      row = self.outputs.evaluate(self.first_replica(self.state()))
      metric = self.best.best_metric if self.best is not None else None
      if metric and np.isfinite(row.get(metric, np.nan)):
        self.best.save(self.state(), {metric: row[metric]})
    if due(c.checkpoint_every):
      self.save_checkpoint()

  def write_pending_row(self) -> None:
    """Logs the row whose metrics `after_steps` left to copy (its step finished by now)."""
    if self.pending is not None:
      (done, metrics), self.pending = self.pending, None
      self._record(done, metrics, log=True)

  def _record(self, done: int, metrics, log: bool) -> None:
    """Checks the metrics of step `done` (TrainingDiverged when one is not finite) and, with
    `log`, appends them to metrics.jsonl with the rate since the last row."""
    values = _log_metrics(metrics, done, self.num_seeds, self.ckpt.describe)
    if not log:
      return
    now = time.perf_counter()
    self.log.append({"step": done, **values,
                     "steps_per_s": (done - self.last_log[1]) / max(now - self.last_log[0], 1e-9)})
    self.last_log = (now, done)
    if self.bar is not None:
      self.bar.set_postfix({k: f"{values[k]:.3g}" for k in self.family.progress_keys
                            if k in values})

  def close(self) -> None:
    if self.bar is not None:
      self.bar.close()
    if self.events is not None:
      self.events.close()
      self.events = None
    if self.feed is not None:
      self.feed.close()  # stops the prefetch thread
    try:
      if self.ckpt is not None:
        self.ckpt.close()  # waits for any save in progress to be committed
      if self.best is not None:
        self.best.close()
    finally:
      if self.lock is not None:
        self.lock.release()
        self.lock = None


def _evaluator(config, family, kind: str):
  from gans_jax.evaluate import Evaluator  # pylint: disable=import-outside-toplevel
  return Evaluator(config, family, kind)


def _best_checkpointer(settings: TrainSettings, workdir: str, outputs, kind: str):
  """The Checkpointer of `workdir/checkpoints_best`, which keeps the one state with the lowest
  in-training FID (images) or reverse KL (2-D mixtures); None when there is nothing to keep.

  Kept by process 0 of a one-process, one-seed run with periodic evaluation on.
  """
  if (outputs is None or outputs.evaluator is None or not settings.keep_best
      or settings.num_seeds > 1 or parallel.multi_process()):
    return None
  return Checkpointer(os.path.join(workdir, BEST_DIR), 1, best_metric=best_metric(kind),
                      best_mode="min")


def best_metric(kind: str) -> str:
  """The evaluation metric the best checkpoint minimises for a dataset of `kind`."""
  return "fid" if kind == "image" else "reverse_kl"


def _loop(run: _Run, stop: GracefulStop) -> None:
  run.last_log = (time.perf_counter(), run.start)  # (time, step) the rate is measured from
  for step, n in loop_calls(run.settings, run.start):
    if stop.requested:
      raise KeyboardInterrupt
    metrics = run.advance(step, n)
    if run.bar is None:
      run.start_bar(step + n)
    else:
      run.bar.update(n)
    run.after_steps(step + n, metrics)


class Interrupted(KeyboardInterrupt):
  """Training stopped by a signal after saving a checkpoint; `signum` names the signal."""

  def __init__(self, signum):
    super().__init__(signum)
    self.signum = signum


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *,
                       progress: bool = True):
  """Trains from `config`, writing config, metrics, samples, plots and checkpoints to `workdir`.

  Re-running with the same workdir resumes from the latest checkpoint. Raises
  `UserError` for bad configs or data, `TrainingDiverged` on a non-finite loss,
  `Interrupted` (a KeyboardInterrupt) after saving when SIGINT or SIGTERM
  arrives. Returns the final state (one device's copy).
  """
  run = _Run(config, workdir, progress)
  stop = GracefulStop()
  try:
    with stop:
      _loop(run, stop)
    state = run.state()
    if run.is_main and step_of(state) == run.settings.num_steps:
      summary = run.family.finish(run.first_replica(state), workdir)
      numbers = {k: v for k, v in summary.items() if isinstance(v, float)}
      if numbers:  # e.g. the classifier's test accuracy
        print("final: " + ", ".join(f"{k} {v:.4f}" for k, v in numbers.items()))
    return state
  except KeyboardInterrupt:
    # The signal only set a flag (see GracefulStop), so the state is the
    # complete result of the last step and its buffers were not donated.
    run.write_pending_row()
    run.save_checkpoint()
    raise Interrupted(stop.signum) from None
  finally:
    run.close()
