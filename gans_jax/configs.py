"""The shared config skeleton every experiment starts from, and its validation.

A family's `default_config()` starts from `base_config()`; experiments
(`experiments/*.py`) start from their family's defaults and set what differs.
`check_common` (with each family's own `check_config`, combined by
`gans_jax.families.check_config`) turns every mistake a user can make in a
config into one `UserError` naming the field, before anything is built. Lists
of allowed names live with the code that owns them (losses and archs in the
family, norms and conv forms in `nets`, optimizers in `optim`, backends in
`parallel`); the checks ask the owner.
"""

import json
import os
import re

import ml_collections
from ml_collections import config_dict

from gans_jax import augment
from gans_jax.errors import UserError
from gans_jax.parallel import BACKENDS


def base_config() -> ml_collections.ConfigDict:
  """The sections every family shares: data, schedule, devices, outputs, evaluation, editing.

  A family's `default_config()` (gans_jax/families/<name>.py) adds its own
  `model`, `loss` and `optimizer` sections and sets `family`.
  """
  config = ml_collections.ConfigDict()
  config.family = "gan"  # the model family: see gans_jax.families.FAMILIES
  config.seed = 0

  # Data
  config.dataset = ml_collections.ConfigDict()
  config.dataset.name = "digits"
  config.dataset.data_dir = config_dict.placeholder(str)  # None: ~/tensorflow_datasets
  # An image side, or None (2-D points, native size). A typed reference, so an
  # experiment that sets None can still be overridden: --config.dataset.resolution=8.
  config.dataset.resolution = config_dict.FieldReference(16, field_type=int)
  # Datasets up to this size (float32 bytes) live on the device and batches are
  # drawn inside the compiled step; larger ones stream from the host.
  config.dataset.max_resident_mb = 512
  # Streamed data: the batches of this many calls of the step are read and put on the
  # devices ahead, on a background thread (0: read between steps).
  config.dataset.prefetch_batches = 2

  # Schedule
  config.train = ml_collections.ConfigDict()
  config.train.num_steps = 2000
  config.train.batch_size = 64
  config.train.n_critic = 1  # gan: discriminator updates per generator update
  config.train.num_seeds = 1  # > 1: independent replicas (init and noise) vmapped in one program
  # Steps fused into one compiled call (lax.scan); the loop logs, samples and
  # checkpoints only at multiples of it. 1: one call per step.
  config.train.steps_per_call = 1

  # Devices: pmap (default) or shard_map over all local devices; one device runs plain jit.
  config.parallel = ml_collections.ConfigDict()
  config.parallel.backend = "pmap"
  # XLA options for the compiled training step when it runs on the CPU
  # ("name=value;name=value", DebugOptions fields; ignored on GPU/TPU). See
  # `parse_compiler_options` and experiments/gan_mlp.py for a measured use.
  config.parallel.cpu_compiler_options = ""

  # Outputs
  config.log_every = 50
  config.sample_every = 500
  config.checkpoint_every = 500
  config.keep_checkpoints = 3
  config.num_sample_images = 64      # fixed-z grid
  config.num_sample_points = 2500    # fixed-z scatter for 2-D data

  # Evaluation (--mode=eval, and every eval_every training steps when > 0)
  config.eval_every = 0
  config.eval = ml_collections.ConfigDict()
  config.eval.classifier_dir = config_dict.placeholder(str)  # None: runs/classifier_<dataset>
  # The features samples are scored in: 'classifier' (the domain classifier) or
  # 'inception' (the FID InceptionV3, weights from inception_path; see gans_jax/features.py).
  config.eval.features = "classifier"
  # pytorch-fid's .pth or its converted .npz; None: ~/.cache/gans_jax/pt_inception-2015-12-05-6726825d.{npz,pth}
  config.eval.inception_path = config_dict.placeholder(str)
  config.eval.num_samples = 5000      # generated samples scored by --mode=eval
  config.eval.num_samples_train = 1000  # ... and by the in-training evaluation
  config.eval.batch_size = 500
  config.eval.truncation = config_dict.placeholder(float)  # psi; None: untruncated prior
  config.eval.truncation_sweep = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # --mode=eval P/R curve
  config.eval.pr_k = 3                # k of precision/recall (Kynkaanniemi et al. 2019)
  config.eval.dc_k = 5                # k of density/coverage (Naeem et al. 2020)
  config.eval.kid_subset_size = 1000
  config.eval.kid_subsets = 100
  config.eval.is_splits = 10
  # With eval_every > 0, also keep the checkpoint of the best in-training
  # evaluation (lowest FID; reverse KL on 2-D data) in <workdir>/checkpoints_best;
  # --mode=eval/edit read it with eval.checkpoint='best'.
  config.eval.keep_best = True
  config.eval.checkpoint = "latest"   # latest | best

  # Sample export (--mode=sample): PNGs and samples.npz in <workdir>/export (gans_jax/export.py)
  config.sample = ml_collections.ConfigDict()
  config.sample.num = 10000
  config.sample.batch_size = 500
  config.sample.truncation = config_dict.placeholder(float)  # psi; None: untruncated prior
  # Conditional models: the classes requested, cycled through; (): all classes, balanced.
  config.sample.classes = ()
  # A split name ('test', 'train'): export that split's real images (the first sample.num, at
  # dataset.resolution) to <workdir>/export_<split> instead of samples; needs no checkpoint.
  config.sample.split = config_dict.placeholder(str)

  # Latent editing (--mode=edit): classifier-gradient ascent on the generator
  # input towards class `target` (gans_jax/edit.py, gans_jax/latents.py).
  config.edit = ml_collections.ConfigDict()
  config.edit.target = 7              # class index in [0, K) of the domain classifier
  config.edit.num_samples = 256       # starting latents; those already of class target are dropped
  config.edit.batch_size = 128
  config.edit.step_size = 0.05        # gradient-ascent step eta
  config.edit.num_steps = 50
  config.edit.objective = "log_softmax"  # logit | log_softmax: the target score ascended
  # Weight of the penalty on non-target logit changes. 0.01 on the digits runs:
  # success 0.93-0.98 (1.0 without) and the non-target logits move half as
  # much; 0.1 stalls the edit, and 1 with this step size diverges.
  config.edit.keep_others = 0.01
  config.edit.prior_weight = 0.0      # weight of 1/2 |z|^2 (stay near the prior)
  # Conditional generators: 'z' edits z with the requested label fixed; 'input'
  # edits z and a continuous class vector that starts at onehot(label).
  config.edit.space = "z"
  # Transfer of the saved direction d: new latents z + s d, one s per entry.
  config.edit.direction_scales = (25.0, 50.0, 100.0, 200.0, 400.0)
  # A saved edit_direction.npy to measure on new latents instead of this run's.
  config.edit.direction_path = config_dict.placeholder(str)
  config.edit.num_interpolations = 8  # rows of the lerp/slerp strips and arithmetic grid
  config.edit.interpolation_steps = 10
  return config


def augment_config() -> ml_collections.ConfigDict:
  """The `augment` section (gans_jax/augment.py) of the families that augment images: '' (off) or a
  comma-separated subset of color, translation, cutout, flip, applied in that order."""
  return ml_collections.ConfigDict(dict(policy="", translation_ratio=0.125, cutout_ratio=0.5))


def ema_config() -> ml_collections.ConfigDict:
  """The `ema` section of the families that average their generator (gans_jax/ema.py): decay 0 is
  off; before start_step the average copies the network; warmup: decay min(d, (1 + n) / (10 + n))."""
  return ml_collections.ConfigDict(dict(decay=0.0, start_step=0, warmup=True))


def check_ema(config: ml_collections.ConfigDict) -> None:
  require_sections(config, "ema")
  e = config.ema
  require(0 <= e.decay < 1, "ema.decay", f"must be in [0, 1), got {e.decay}")
  require(e.start_step >= 0, "ema.start_step", f"must be >= 0, got {e.start_step}")


def check_augment(config: ml_collections.ConfigDict) -> tuple:
  """The `augment` section's fields; returns the parsed policy."""
  require_sections(config, "augment")
  try:
    policy = augment.parse_policy(config.augment.policy)
  except ValueError as e:
    raise UserError(f"augment.policy: {e}") from None
  for field in ("translation_ratio", "cutout_ratio"):
    value = config.augment[field]
    require(0 <= value <= 1, f"augment.{field}", f"must be in [0, 1], got {value}")
  return policy


def require(cond: bool, field: str, message: str) -> None:
  """Raises `UserError` ``'<field>: <message>'`` unless `cond`."""
  if not cond:
    raise UserError(f"{field}: {message}")


def require_sections(config, *names: str) -> None:
  """Raises `UserError` naming the first of the top-level sections `names` the config lacks."""
  for name in names:
    require(name in config, name, "missing from the config")


def field_value(config, field: str):
  """The value of a dotted field, e.g. ``'model.arch'``."""
  value = config
  for part in field.split("."):
    value = value[part]
  return value


def require_one_of(config, field: str, allowed) -> None:
  """Raises `UserError` unless the dotted `field` of `config` is one of `allowed`."""
  value = field_value(config, field)
  require(value in allowed, field, f"{value!r} is not one of {', '.join(allowed)}")


def parse_compiler_options(spec: str) -> dict[str, str]:
  """``'xla_a=1;xla_b=X,Y'`` -> ``{'xla_a': '1', 'xla_b': 'X,Y'}``.

  The names are XLA DebugOptions fields, passed to `jax.jit(compiler_options=)`
  (repeated enum fields take comma-separated enum names). Raises `UserError`
  naming `parallel.cpu_compiler_options` for a malformed item.
  """
  options = {}
  for item in filter(None, (part.strip() for part in spec.split(";"))):
    name, sep, value = item.partition("=")
    require(bool(sep) and name.strip().startswith("xla_"),
             "parallel.cpu_compiler_options",
             f"expected 'xla_name=value' items separated by ';', got {item!r}")
    options[name.strip()] = value.strip()
  return options


def check_directory(path, field: str) -> None:
  """Raises `UserError` naming `field` unless `path` (None: a default) is a directory or can
  be created as one. Creates nothing: the path, or its nearest existing parent, must be a
  directory that can be written."""
  if path is None or "://" in os.fspath(path):  # None: TFDS's default; gs://...: not local
    return
  path = os.path.abspath(os.path.expanduser(os.fspath(path)))
  if os.path.exists(path):
    require(os.path.isdir(path), field, f"{path} is a file, not a directory")
    return
  parent = os.path.dirname(path)
  while not os.path.exists(parent):
    parent = os.path.dirname(parent)
  require(os.path.isdir(parent), field,
          f"{path} cannot be created: {parent} is a file, not a directory")
  require(os.access(parent, os.W_OK | os.X_OK), field,
          f"{path} cannot be created: {parent} is not writable")


def check_common(config: ml_collections.ConfigDict, *, num_devices: int = 1) -> None:
  """Raises `UserError` naming the first bad field of the sections every family shares."""
  require_sections(config, "seed", "dataset", "train")
  require_one_of(config, "parallel.backend", BACKENDS)
  parse_compiler_options(config.parallel.get("cpu_compiler_options", ""))
  require(isinstance(config.dataset.name, str) and config.dataset.name, "dataset.name",
          "must name a dataset (digits, ring8, grid25, a prepared TFDS dataset or "
          "folder:/path/to/images)")
  check_directory(config.dataset.get("data_dir"), "dataset.data_dir")
  prefetch = config.dataset.get("prefetch_batches", 0)
  require(isinstance(prefetch, int) and prefetch >= 0, "dataset.prefetch_batches",
          f"must be an integer >= 0, got {prefetch!r}")
  train = config.train
  require(train.num_steps >= 1, "train.num_steps", f"must be >= 1, got {train.num_steps}")
  require(train.num_seeds >= 1, "train.num_seeds", f"must be >= 1, got {train.num_seeds}")
  require(train.num_seeds == 1 or num_devices == 1, "train.num_seeds",
          "several seeds run vmapped on one device; use one device (or num_seeds=1)")
  require(train.steps_per_call >= 1, "train.steps_per_call",
          f"must be >= 1, got {train.steps_per_call}")
  require(train.batch_size >= 1, "train.batch_size", f"must be >= 1, got {train.batch_size}")
  require(train.batch_size % num_devices == 0, "train.batch_size",
          f"{train.batch_size} is not divisible by the {num_devices} devices")
  for field in ("log_every", "sample_every", "checkpoint_every", "keep_checkpoints"):
    require(config[field] >= 1, field, f"must be >= 1, got {config[field]}")
  require(config.eval_every >= 0, "eval_every", f"must be >= 0, got {config.eval_every}")
  require(config.eval.num_samples >= 2, "eval.num_samples",
          f"must be >= 2, got {config.eval.num_samples}")
  require(config.eval.truncation is None or config.eval.truncation > 0, "eval.truncation",
          f"must be > 0 or None, got {config.eval.truncation}")
  require_one_of(config, "eval.features", ("classifier", "inception"))
  if "sample" in config:
    _check_sample(config)
  require_one_of(config, "eval.checkpoint", ("latest", "best"))
  if "edit" in config:
    _check_edit(config)


def _check_sample(config: ml_collections.ConfigDict) -> None:
  """`config.sample`; the classes' range is checked in gans_jax.export once K is known."""
  sample = config.sample
  for field in ("num", "batch_size"):
    require(sample[field] >= 1, f"sample.{field}", f"must be >= 1, got {sample[field]}")
  require(sample.truncation is None or sample.truncation > 0, "sample.truncation",
          f"must be > 0 or None, got {sample.truncation}")
  require(all(isinstance(c, int) and c >= 0 for c in sample.classes), "sample.classes",
          f"must be class indices >= 0, e.g. (3,) or (0, 7), got {sample.classes!r}")


def _check_edit(config: ml_collections.ConfigDict) -> None:
  """`config.edit`; the target's range is checked in gans_jax.edit once K is known."""
  edit = config.edit
  require(isinstance(edit.target, int) and edit.target >= 0, "edit.target",
           f"must be a class index >= 0, got {edit.target!r}")
  for field in ("num_samples", "batch_size", "num_steps", "num_interpolations"):
    require(edit[field] >= 1, f"edit.{field}", f"must be >= 1, got {edit[field]}")
  require(edit.interpolation_steps >= 2, "edit.interpolation_steps",
           f"must be >= 2 (both ends), got {edit.interpolation_steps}")
  require(edit.step_size > 0, "edit.step_size", f"must be > 0, got {edit.step_size}")
  for field in ("keep_others", "prior_weight"):
    require(edit[field] >= 0, f"edit.{field}", f"must be >= 0, got {edit[field]}")
  require_one_of(config, "edit.objective", ("logit", "log_softmax"))
  require_one_of(config, "edit.space", ("z", "input"))
  require(len(edit.direction_scales) >= 1, "edit.direction_scales",
           "must list at least one scale, e.g. (25.0, 50.0)")


# Fields whose change makes a saved state mean something else (or not fit the
# networks at all): resuming or evaluating a checkpoint with another value is refused.
# model.conv_impl is not one: every form computes the same function with the same
# parameters ('auto' on a CPU saves 'winograd', and may resume on a GPU as 'xla'); nor is
# model.dtype: the parameters are float32 under either (gans_jax/nets/precision.py).
# A learning-rate schedule and the generator EMA add state (a step count, the
# average), so turning them on or off is such a change.
STATE_FIELDS = re.compile(r"family$|model\.(?!(conv_impl|dtype)$)"
                          r"|loss\.(name|likelihood|historical_averaging)$"
                          r"|dataset\.(name|resolution|num_labeled)$"
                          r"|optimizer\.(.+\.)?(name|schedule|warmup_steps)$|train\.num_seeds$"
                          r"|ema\.decay$")


def _flatten(tree, prefix: str = "") -> dict:
  if not isinstance(tree, dict):
    return {prefix[:-1]: tree}
  flat = {}
  for key, value in tree.items():
    flat.update(_flatten(value, f"{prefix}{key}."))
  return flat


def as_json(config: ml_collections.ConfigDict) -> dict:
  """The config as it is saved in a run's config.json (tuples as lists, None as null)."""
  return json.loads(config.to_json_best_effort())


def config_changes(saved: dict, config: ml_collections.ConfigDict) -> dict:
  """``{dotted field: [saved value, new value]}`` for the fields present in both that differ."""
  old, new = _flatten(saved), _flatten(as_json(config))
  if "family" not in old:  # runs from before config.family saved no family: the GAN
    old["family"] = "gan"
  new.setdefault("family", "gan")
  return {k: [old[k], new[k]] for k in new if k in old and old[k] != new[k]}


def check_resumable(changes: dict, config_path: str) -> None:
  """Raises `UserError` naming the changed fields that change what the saved state means."""
  bad = {k: v for k, v in changes.items() if STATE_FIELDS.match(k)}
  if bad:
    raise UserError(f"--config: changes what the saved state means, from the run that wrote "
                    f"the checkpoints ({config_path}): {describe_changes(bad)}. Use that "
                    "run's values, or another --workdir for the new config")


CONFIG_FILE = "config.json"  # a run's config, written by the trainer once it has restored


def resume_changes(workdir: str, config: ml_collections.ConfigDict) -> dict:
  """The fields `config` changes from the config.json of the run in `workdir` ({} if none).

  Raises `UserError` if one of them changes what the run's checkpoints mean
  (`STATE_FIELDS`); the others (steps, intervals, learning rates, ...) may change.
  """
  path = os.path.join(workdir, CONFIG_FILE)
  try:
    with open(path) as f:
      saved = json.load(f)
  except FileNotFoundError:
    return {}
  except (OSError, ValueError) as err:
    raise UserError(f"--workdir: cannot read {path} ({type(err).__name__}: {err}); restore it "
                    "or delete it to resume without the config check") from None
  changes = config_changes(saved, config)
  check_resumable(changes, path)
  return changes


def describe_changes(changes: dict) -> str:
  """``'a.b (1 -> 2), c (...)'`` for a message."""
  return ", ".join(f"{k} ({json.dumps(a)} -> {json.dumps(b)})" for k, (a, b) in changes.items())
