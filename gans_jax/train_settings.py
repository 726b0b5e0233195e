"""The trainer's part of the config, read once at the start of a run into plain values.

`TrainSettings.from_config(config)` is the only place the trainer reads its fields; the data
feed, runner, checkpointer and outputs take these values, not the config. Its defaults are
`configs.base_config()`'s, for configs built without one of the fields.
"""

import dataclasses

import ml_collections

from gans_jax.configs import base_config, parse_compiler_options


@dataclasses.dataclass(frozen=True)
class TrainSettings:
  seed: int
  num_steps: int
  batch_size: int
  num_seeds: int
  steps_per_call: int
  log_every: int
  sample_every: int
  checkpoint_every: int
  eval_every: int
  keep_checkpoints: int
  keep_best: bool                  # eval.keep_best
  backend: str                     # parallel.backend
  cpu_compiler_options: tuple      # parallel.cpu_compiler_options, parsed: ((name, value), ...)
  max_resident_mb: float           # dataset.max_resident_mb
  prefetch_batches: int            # dataset.prefetch_batches
  num_sample_images: int
  num_sample_points: int
  eval_num_samples: int            # eval.num_samples_train
  eval_truncation: float | None    # eval.truncation

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "TrainSettings":
    base = base_config()

    def get(path: str):
      section, _, name = path.rpartition(".")
      source = config.get(section) if section else config
      default = base.get(section) if section else base
      value = source.get(name) if source is not None and name in source else None
      return default[name] if value is None and name in default else value

    return cls(
        seed=int(get("seed")), num_steps=int(get("train.num_steps")),
        batch_size=int(get("train.batch_size")), num_seeds=int(get("train.num_seeds")),
        steps_per_call=int(get("train.steps_per_call")), log_every=int(get("log_every")),
        sample_every=int(get("sample_every")), checkpoint_every=int(get("checkpoint_every")),
        eval_every=int(get("eval_every")), keep_checkpoints=int(get("keep_checkpoints")),
        keep_best=bool(get("eval.keep_best")), backend=str(get("parallel.backend")),
        cpu_compiler_options=tuple(parse_compiler_options(
            get("parallel.cpu_compiler_options") or "").items()),
        max_resident_mb=float(get("dataset.max_resident_mb")),
        prefetch_batches=int(get("dataset.prefetch_batches")),
        num_sample_images=int(get("num_sample_images")),
        num_sample_points=int(get("num_sample_points")),
        eval_num_samples=int(get("eval.num_samples_train")),
        eval_truncation=get("eval.truncation"))

  @property
  def event_steps(self) -> list:
    """The intervals at which the loop stops to log, sample, checkpoint (and evaluate)."""
    every = [self.log_every, self.sample_every, self.checkpoint_every]
    return every + ([self.eval_every] if self.eval_every > 0 else [])
