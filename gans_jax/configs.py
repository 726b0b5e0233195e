"""The shared config skeleton every experiment starts from, and its validation.

Experiments (`experiments/*.py`) call `base_config()` and set what differs.
`check_config` turns every mistake a user can make in a config into one
`UserError` naming the field, before anything is built.
"""

import ml_collections
from ml_collections import config_dict

from gans_jax.errors import UserError

ARCHS = ("mlp", "dcgan")
LOSS_NAMES = ("minimax", "non_saturating", "wasserstein", "hinge", "least_squares")
D_NORMS = ("batch", "layer", "none")
CONV_IMPLS = ("winograd", "gemm", "xla")
D_ACTIVATIONS = ("leaky_relu", "relu", "maxout")
OPTIMIZER_NAMES = ("adam", "rmsprop", "sgd")
RESOLUTIONS = (8, 16, 32, 64)


def optimizer_config(name="adam", learning_rate=2e-4, b1=0.5, b2=0.999, decay=0.99):
  return ml_collections.ConfigDict(dict(
      name=name, learning_rate=learning_rate, b1=b1, b2=b2, decay=decay))


def base_config() -> ml_collections.ConfigDict:
  """Defaults shared by all experiments: WGAN-GP-free DCGAN on digits."""
  config = ml_collections.ConfigDict()
  config.seed = 0

  # Data
  config.dataset = ml_collections.ConfigDict()
  config.dataset.name = "digits"
  config.dataset.data_dir = config_dict.placeholder(str)  # None: ~/tensorflow_datasets
  config.dataset.resolution = 16
  # Datasets up to this size (float32 bytes) live on the device and batches are
  # drawn inside the compiled step; larger ones stream from the host.
  config.dataset.max_resident_mb = 512

  # Networks
  config.model = ml_collections.ConfigDict()
  config.model.arch = "dcgan"
  config.model.z_dim = 64
  config.model.g_width = 64           # dcgan: channels of the last generator stage
  config.model.d_width = 64           # dcgan: channels of the first discriminator stage
  config.model.d_norm = "batch"       # batch | layer | none
  # dcgan: how 4x4 stride-2 (transposed) convs run: winograd (F(2x2, 2x2):
  # 9/16 of gemm's multiply-adds, fastest on XLA:CPU) | gemm (im2col /
  # sub-pixel matrix products) | xla (lax convolutions). Same function.
  config.model.conv_impl = "winograd"
  config.model.g_hidden = (256, 256)  # mlp
  config.model.d_hidden = (256, 256)  # mlp
  config.model.g_batch_norm = False   # mlp
  config.model.d_activation = "leaky_relu"  # mlp: leaky_relu | relu | maxout
  config.model.maxout_pieces = 5
  config.model.conditional = "none"  # none | concat (one-hot channels) | projection (Miyato 2018)

  # Objective
  config.loss = ml_collections.ConfigDict()
  config.loss.name = "non_saturating"
  config.loss.gp_weight = 0.0         # WGAN-GP lambda
  config.loss.gp_target = 1.0
  config.loss.gp_one_sided = False
  config.loss.clip = 0.0              # WGAN weight clipping c (0: off)
  config.loss.real_label = 1.0        # 0.9: one-sided label smoothing (minimax family)
  config.loss.feature_matching = 0.0  # weight of feature matching in the G loss
  config.loss.adversarial_weight = 1.0  # weight of the adversarial G loss (0 + FM: pure FM)
  # Supervised disentanglement (labelled images): z[:, :K] carries the class
  # y = argmax z[:, :K], and G pays this weight times the domain classifier's
  # cross-entropy of G(z) against y (classifier from eval.classifier_dir).
  config.loss.disentangle = 0.0

  # Optimizers
  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.g = optimizer_config()
  config.optimizer.d = optimizer_config()

  # Schedule
  config.train = ml_collections.ConfigDict()
  config.train.num_steps = 2000
  config.train.batch_size = 64
  config.train.n_critic = 1
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


def _require(cond: bool, field: str, message: str) -> None:
  if not cond:
    raise UserError(f"{field}: {message}")


def _one_of(config, field: str, allowed) -> None:
  value = config
  for part in field.split("."):
    value = value[part]
  _require(value in allowed, field, f"{value!r} is not one of {', '.join(allowed)}")


def parse_compiler_options(spec: str) -> dict[str, str]:
  """``'xla_a=1;xla_b=X,Y'`` -> ``{'xla_a': '1', 'xla_b': 'X,Y'}``.

  The names are XLA DebugOptions fields, passed to `jax.jit(compiler_options=)`
  (repeated enum fields take comma-separated enum names). Raises `UserError`
  naming `parallel.cpu_compiler_options` for a malformed item.
  """
  options = {}
  for item in filter(None, (part.strip() for part in spec.split(";"))):
    name, sep, value = item.partition("=")
    _require(bool(sep) and name.strip().startswith("xla_"),
             "parallel.cpu_compiler_options",
             f"expected 'xla_name=value' items separated by ';', got {item!r}")
    options[name.strip()] = value.strip()
  return options


def check_config(config: ml_collections.ConfigDict, *, num_devices: int = 1) -> None:
  """Raises `UserError` naming the first bad field of `config`."""
  for field in ("seed", "dataset", "model", "loss", "optimizer", "train"):
    _require(field in config, field, "missing from the config")
  _one_of(config, "model.arch", ARCHS)
  _one_of(config, "loss.name", LOSS_NAMES)
  _one_of(config, "model.d_norm", D_NORMS)
  _one_of(config, "model.d_activation", D_ACTIVATIONS)
  _one_of(config, "optimizer.g.name", OPTIMIZER_NAMES)
  _one_of(config, "parallel.backend", ("pmap", "shard_map"))
  parse_compiler_options(config.parallel.get("cpu_compiler_options", ""))
  _one_of(config, "model.conditional", ("none", "concat", "projection"))
  _one_of(config, "model.conv_impl", CONV_IMPLS)
  _one_of(config, "optimizer.d.name", OPTIMIZER_NAMES)
  _require(isinstance(config.dataset.name, str) and config.dataset.name, "dataset.name",
           "must name a dataset (digits, ring8, grid25 or a prepared TFDS dataset)")
  train = config.train
  _require(train.n_critic >= 1, "train.n_critic", f"must be >= 1, got {train.n_critic}")
  _require(train.num_steps >= 1, "train.num_steps", f"must be >= 1, got {train.num_steps}")
  _require(train.num_seeds >= 1, "train.num_seeds", f"must be >= 1, got {train.num_seeds}")
  _require(train.num_seeds == 1 or num_devices == 1, "train.num_seeds",
           "several seeds run vmapped on one device; use one device (or num_seeds=1)")
  _require(train.steps_per_call >= 1, "train.steps_per_call",
           f"must be >= 1, got {train.steps_per_call}")
  _require(train.batch_size >= 1, "train.batch_size", f"must be >= 1, got {train.batch_size}")
  _require(train.batch_size % num_devices == 0, "train.batch_size",
           f"{train.batch_size} is not divisible by the {num_devices} devices")
  for field in ("log_every", "sample_every", "checkpoint_every", "keep_checkpoints"):
    _require(config[field] >= 1, field, f"must be >= 1, got {config[field]}")
  _require(config.model.z_dim >= 1, "model.z_dim", f"must be >= 1, got {config.model.z_dim}")
  if config.model.arch == "dcgan":
    _require(config.dataset.resolution in RESOLUTIONS, "dataset.resolution",
             f"{config.dataset.resolution} is not one of {RESOLUTIONS} (dcgan)")
  loss = config.loss
  _require(loss.gp_weight >= 0, "loss.gp_weight", f"must be >= 0, got {loss.gp_weight}")
  _require(loss.clip >= 0, "loss.clip", f"must be >= 0, got {loss.clip}")
  _require(not (loss.gp_weight > 0 and config.model.d_norm == "batch"), "model.d_norm",
           "'batch' couples examples, which breaks the per-example gradient penalty; "
           "use 'layer' or 'none' with loss.gp_weight > 0")
  _require(0 < loss.real_label <= 1, "loss.real_label",
           f"must be in (0, 1], got {loss.real_label}")
  _require(loss.real_label == 1 or loss.name in ("minimax", "non_saturating"),
           "loss.real_label", f"label smoothing applies to the minimax family, not {loss.name!r}")
  _require(config.eval_every >= 0, "eval_every", f"must be >= 0, got {config.eval_every}")
  _require(config.eval.num_samples >= 2, "eval.num_samples",
           f"must be >= 2, got {config.eval.num_samples}")
  _require(config.eval.truncation is None or config.eval.truncation > 0, "eval.truncation",
           f"must be > 0 or None, got {config.eval.truncation}")
  _require(loss.disentangle >= 0, "loss.disentangle",
           f"must be >= 0, got {loss.disentangle}")
  _require(loss.disentangle == 0 or config.model.conditional == "none", "loss.disentangle",
           "ties z coordinates to the class, which a conditional generator takes as input; "
           "use model.conditional='none'")
  _require(loss.feature_matching >= 0, "loss.feature_matching",
           f"must be >= 0, got {loss.feature_matching}")
  if "edit" in config:
    _check_edit(config)


def _check_edit(config: ml_collections.ConfigDict) -> None:
  """`config.edit`; the target's range is checked in gans_jax.edit once K is known."""
  edit = config.edit
  _require(isinstance(edit.target, int) and edit.target >= 0, "edit.target",
           f"must be a class index >= 0, got {edit.target!r}")
  for field in ("num_samples", "batch_size", "num_steps", "num_interpolations"):
    _require(edit[field] >= 1, f"edit.{field}", f"must be >= 1, got {edit[field]}")
  _require(edit.interpolation_steps >= 2, "edit.interpolation_steps",
           f"must be >= 2 (both ends), got {edit.interpolation_steps}")
  _require(edit.step_size > 0, "edit.step_size", f"must be > 0, got {edit.step_size}")
  for field in ("keep_others", "prior_weight"):
    _require(edit[field] >= 0, f"edit.{field}", f"must be >= 0, got {edit[field]}")
  _one_of(config, "edit.objective", ("logit", "log_softmax"))
  _one_of(config, "edit.space", ("z", "input"))
  _require(len(edit.direction_scales) >= 1, "edit.direction_scales",
           "must list at least one scale, e.g. (25.0, 50.0)")
