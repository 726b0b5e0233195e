"""The GAN family: generator and discriminator, every loss, penalty and conditioning.

Covers Goodfellow et al.'s minimax GAN and its non-saturating fix, DCGAN, WGAN
(weight clipping) and WGAN-GP, least-squares and hinge losses, one-sided label
smoothing and feature matching (Salimans et al. 2016), class-conditional
networks (concat, projection) and supervised disentanglement of z.

The step runs ``train.n_critic`` discriminator updates and one generator
update. Randomness: step s uses ``fold_in(key, s)`` split into one key per
update; within an update every example draws its data index, z, label and
penalty point from ``fold_in(key_part, global example index)``, so a resumed
run and an N-device run draw exactly the numbers of an uninterrupted
one-device run.
"""

from typing import Any, Callable, Optional

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gans_jax import ema, nets
from gans_jax.configs import (augment_config, base_config, check_augment, check_ema, ema_config,
                              require, require_one_of, require_sections)
from gans_jax.errors import UserError
from gans_jax.families import base, gan_step, techniques
from gans_jax.families.gan_parts import LOSSES, GeneratorEMA
from gans_jax.families.interface import Family
from gans_jax.families.classifier import classifier_dir, classifier_logits, load_classifier
from gans_jax.latents import coordinate_control, sample_latents
from gans_jax.nets import dcgan, improved, mlp, precision, spectral_norm
from gans_jax.optim import check_optimizer_config, make_optimizer, optimizer_config

ARCHS = ("mlp", "dcgan", "resnet")
IMAGE_ARCHS = ("dcgan", "resnet")
CONDITIONINGS = ("none", "concat", "projection")


@flax.struct.dataclass
class GANState:
  """Everything a run needs to continue: the step and one TrainState per network.

  `history`: with loss.historical_averaging > 0, each player's running parameter
  mean and count, ``{'g': {'mean', 'count'}, 'd': ...}`` (families.techniques); else None.
  """
  step: jnp.ndarray
  g: base.TrainState
  d: base.TrainState
  # Historical averaging: each player's running parameter mean and count (None when off).
  history: Any = None
  # Quality options: the generator's moving average {'params', 'batch_stats'}
  # (ema.decay > 0) and D's spectral-norm vectors (model.d_spectral_norm); empty when off.
  g_ema: Any = flax.core.FrozenDict()
  d_sn: Any = flax.core.FrozenDict()


base.register_optional_fields(GANState, ("history", "g_ema", "d_sn"))


# ----------------------------------------------------------------------------- config


def default_config() -> ml_collections.ConfigDict:
  """The shared skeleton plus the GAN's sections: a non-saturating DCGAN on digits."""
  config = base_config()
  config.family = "gan"

  # Networks
  config.model = ml_collections.ConfigDict()
  config.model.arch = "dcgan"        # mlp | dcgan | resnet (SNGAN's ResNet, gans_jax/nets/sngan.py)
  config.model.z_dim = 64
  config.model.g_width = 64           # dcgan: channels of the last generator stage
  config.model.d_width = 64           # dcgan: channels of the first discriminator stage
  config.model.d_norm = "batch"       # batch | layer | none
  # dcgan: how 4x4 stride-2 (transposed) convs run: auto (winograd on CPUs,
  # xla on GPUs/TPUs; config.json records the choice) | winograd (F(2x2, 2x2):
  # 9/16 of gemm's multiply-adds, fastest on XLA:CPU) | gemm (im2col /
  # sub-pixel matrix products) | xla (lax convolutions). Same function.
  config.model.conv_impl = "auto"
  # dcgan: float32 | bfloat16 (the convs' and dense layers' products on bfloat16 operands,
  # accumulated in float32; parameters, state, losses in float32: gans_jax/nets/precision.py)
  config.model.dtype = "float32"
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

  # Improved techniques (Salimans et al. 2016) and PacGAN (Lin et al. 2018): see
  # gans_jax/families/techniques.py. All off by default.
  config.model.minibatch_kernels = 0      # minibatch discrimination: B kernels (0: off)
  config.model.minibatch_kernel_dim = 5   # ... of C entries each
  config.model.vbn_reference = 0          # virtual BN in G: R reference latents (0: BatchNorm)
  config.model.pack = 1                   # PacGAN: D judges m samples concatenated
  config.loss.historical_averaging = 0.0  # lambda of ||theta - running mean||^2, both players

  # Quality options, off by default and measured side by side in docs/quality.md.
  # Generator EMA (gans_jax/ema.py): decay 0 is off; samples, --mode=eval and
  # --mode=edit use the average unless eval.use_ema is False (scores the raw G).
  config.ema = ema_config()
  config.eval.use_ema = True
  # Spectral normalisation of every D weight matrix (Miyato et al. 2018).
  config.model.d_spectral_norm = False
  config.model.sn_iterations = 1      # power iterations per pass
  # Where loss.gp_weight's penalty is taken: interpolate (WGAN-GP, with
  # gp_target / gp_one_sided) | real (R1) | fake (R2): gp_weight * 1/2 E|grad D|^2.
  config.loss.gp_point = "interpolate"
  # DiffAugment (gans_jax/augment.py) of every image D sees.
  config.augment = augment_config()
  return config


GP_POINTS = ("interpolate", "real", "fake")


def _check_quality_options(config: ml_collections.ConfigDict) -> None:
  require_sections(config, "augment")
  check_ema(config)
  require(config.model.sn_iterations >= 1, "model.sn_iterations",
          f"must be >= 1, got {config.model.sn_iterations}")
  require_one_of(config, "loss.gp_point", GP_POINTS)
  require(not check_augment(config) or config.model.arch in IMAGE_ARCHS,
          "augment.policy", "augments images; use model.arch='dcgan' or 'resnet' (or policy='')")


def check_config(config: ml_collections.ConfigDict, *, num_devices: int = 1) -> None:
  """Raises `UserError` naming the first bad GAN field of `config`."""
  require_sections(config, "model", "loss", "optimizer")
  m, loss = config.model, config.loss
  require_one_of(config, "model.arch", ARCHS)
  require_one_of(config, "loss.name", tuple(LOSSES))
  require_one_of(config, "model.d_norm", dcgan.NORMS)
  require_one_of(config, "model.d_activation", mlp.D_ACTIVATIONS)
  require_one_of(config, "model.conditional", CONDITIONINGS)
  require_one_of(config, "model.conv_impl", dcgan.CONV_IMPL_CHOICES)
  require_one_of(config, "model.dtype", precision.DTYPES)
  check_optimizer_config(config.optimizer.g, "optimizer.g")
  check_optimizer_config(config.optimizer.d, "optimizer.d")
  require(config.train.n_critic >= 1, "train.n_critic", f"must be >= 1, got {config.train.n_critic}")
  require(m.z_dim >= 1, "model.z_dim", f"must be >= 1, got {m.z_dim}")
  if m.arch in IMAGE_ARCHS:
    base.require_dcgan_resolution(config)
  require(loss.gp_weight >= 0, "loss.gp_weight", f"must be >= 0, got {loss.gp_weight}")
  require(loss.clip >= 0, "loss.clip", f"must be >= 0, got {loss.clip}")
  require(not (loss.gp_weight > 0 and m.d_norm == "batch"), "model.d_norm",
          "'batch' couples examples, which breaks the per-example gradient penalty; "
          "use 'layer' or 'none' with loss.gp_weight > 0")
  require(0 < loss.real_label <= 1, "loss.real_label",
          f"must be in (0, 1], got {loss.real_label}")
  require(loss.real_label == 1 or loss.name in ("minimax", "non_saturating"),
          "loss.real_label", f"label smoothing applies to the minimax family, not {loss.name!r}")
  require(loss.disentangle >= 0, "loss.disentangle", f"must be >= 0, got {loss.disentangle}")
  require(loss.disentangle == 0 or m.conditional == "none", "loss.disentangle",
          "ties z coordinates to the class, which a conditional generator takes as input; "
          "use model.conditional='none'")
  require(loss.feature_matching >= 0, "loss.feature_matching",
          f"must be >= 0, got {loss.feature_matching}")
  techniques.check_config(config, num_devices)
  _check_quality_options(config)


# ----------------------------------------------------------------------------- networks


def build_networks(config: ml_collections.ConfigDict, dataset,
                   axis_name: str | None = None) -> tuple[nn.Module, nn.Module, int]:
  """(generator, discriminator, num_classes) named by `config.model` for `dataset`'s shape.

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
                                       conv_impl=m.conv_impl, dtype=m.dtype)
    d_cls = (nets.ProjectionDCGANDiscriminator if m.conditional == "projection"
             else nets.ConcatDCGANDiscriminator)
    d = d_cls(resolution=shape[0], width=m.d_width, norm=m.d_norm, num_classes=k,
              axis_name=axis_name, conv_impl=m.conv_impl, dtype=m.dtype)
    return g, d, k
  if m.arch in IMAGE_ARCHS and dataset.kind != "image":
    raise UserError(f"model.arch: {m.arch!r} needs images, but {dataset.name!r} holds "
                    f"{dataset.kind}; use model.arch='mlp'")
  if m.arch == "resnet":
    g = nets.ResNetGenerator(resolution=shape[0], channels=shape[-1], width=m.g_width,
                             axis_name=axis_name, dtype=m.dtype,
                             **techniques.generator_options(m))
    d = nets.ResNetDiscriminator(resolution=shape[0], width=m.d_width, norm=m.d_norm,
                                 axis_name=axis_name, dtype=m.dtype,
                                 **techniques.discriminator_options(m))
    return g, d, 0
  if m.arch == "dcgan":
    g = nets.DCGANGenerator(resolution=shape[0], channels=shape[-1], width=m.g_width,
                            axis_name=axis_name, conv_impl=m.conv_impl, dtype=m.dtype,
                            **techniques.generator_options(m))
    d = nets.DCGANDiscriminator(resolution=shape[0], width=m.d_width, norm=m.d_norm,
                                axis_name=axis_name, conv_impl=m.conv_impl, dtype=m.dtype,
                                **techniques.discriminator_options(m))
    return g, d, 0
  g = nets.MLPGenerator(out_shape=shape, hidden=tuple(m.g_hidden),
                        batch_norm=m.g_batch_norm, axis_name=axis_name,
                        output_activation="tanh" if dataset.kind == "image" else "none",
                        **techniques.generator_options(m))
  d = nets.MLPDiscriminator(hidden=tuple(m.d_hidden), activation=m.d_activation,
                            maxout_pieces=m.maxout_pieces,
                            layer_norm=(m.d_norm == "layer"), axis_name=axis_name,
                            **techniques.discriminator_options(m))
  return g, d, 0


def _label_classifier(config: ml_collections.ConfigDict, dataset) -> Callable:
  """The frozen domain classifier as ``images -> logits`` for `loss.disentangle`."""
  if dataset.kind != "image" or not dataset.num_classes:
    raise UserError(f"loss.disentangle: needs a labelled image dataset; {dataset.name!r} "
                    "has no class labels")
  clf = load_classifier(classifier_dir(config), config.dataset.name,
                        resolution=config.dataset.resolution)
  if config.model.z_dim < clf.num_classes:
    raise UserError(f"loss.disentangle: ties z[:, :{clf.num_classes}] to the classes, so "
                    f"model.z_dim must be >= {clf.num_classes}, got {config.model.z_dim}")
  return classifier_logits(clf)


# ----------------------------------------------------------------------------- the family


class GAN(Family):
  """Generator G and discriminator D (see the module docstring)."""
  name = "gan"
  progress_keys = ("d_loss", "g_loss", "gp")

  def __init__(self, config, dataset, axis_name=None, *,
               label_classifier: Optional[Callable] = None):
    super().__init__(config, dataset, axis_name)
    self.generator, self.discriminator, self.num_classes = build_networks(
        config, dataset, axis_name)
    self.z_dim = int(config.model.z_dim)
    # ``images -> logits [B, K]`` (frozen) for `loss.disentangle`; loaded on
    # first use from eval.classifier_dir unless given.
    self._label_classifier = label_classifier

  @property
  def data_keys(self) -> tuple:
    return ("x", "y") if self.num_classes else ("x",)

  @property
  def draws_per_step(self) -> int:
    return int(self.config.train.n_critic)

  def label_classifier(self) -> Callable:
    if self._label_classifier is None:
      self._label_classifier = _label_classifier(self.config, self.dataset)
    return self._label_classifier

  def init_fn(self) -> Callable[[jax.Array], GANState]:
    """Initial parameters, optimizer states and BatchNorm statistics."""
    config = self.config
    steps = int(config.train.num_steps)
    g_tx = make_optimizer(config.optimizer.g, field="optimizer.g", num_steps=steps)
    d_tx = make_optimizer(config.optimizer.d, clip=config.loss.clip, field="optimizer.d",
                          num_steps=steps, updates_per_step=int(config.train.n_critic))
    shape = tuple(self.dataset.example_shape)

    def init(key):
      g_key, d_key = jax.random.split(key)
      batch = 2 * int(config.model.pack)
      z = jnp.zeros((batch, self.z_dim), jnp.float32)
      x = improved.pack(jnp.zeros((batch,) + shape, jnp.float32), int(config.model.pack))
      labels = (jnp.zeros((batch,), jnp.int32),) if self.num_classes else ()
      g_vars = self.generator.init(g_key, z, *labels, train=False)
      d_vars = self.discriminator.init(d_key, x, *labels, train=False)
      g, d = (base.new_train_state(self.generator, g_vars, g_tx),
              base.new_train_state(self.discriminator, d_vars, d_tx))
      history = None
      if config.loss.historical_averaging > 0:
        history = {"g": techniques.init_history(g.params),
                   "d": techniques.init_history(d.params)}
      g_ema = GeneratorEMA(float(config.ema.decay)).start(g)
      d_sn = (spectral_norm.init_vectors(d_vars["params"], jax.random.fold_in(d_key, 0x5)
                                         ) if config.model.d_spectral_norm
              else flax.core.FrozenDict())
      return GANState(step=jnp.zeros((), jnp.int32), g=g, d=d, history=history,
                      g_ema=g_ema, d_sn=d_sn)

    return init

  def generate(self, state: GANState, z: jax.Array, labels: jax.Array | None = None):
    """Samples from the generator in inference mode (BatchNorm running statistics).

    `labels` [B] int: the requested classes of a conditional generator.
    """
    inputs = (z,) if labels is None else (z, labels)
    return self.generator.apply(self.generator_variables(state), *inputs, train=False)

  def generator_variables(self, state: GANState) -> dict:
    """The generator's variables that sample: the moving average when ema.decay > 0 and
    eval.use_ema (the default then), else the trained weights."""
    if self.config.ema.decay > 0 and self.config.eval.use_ema:
      return ema.average_variables(state.g_ema)
    return base.variables(state.g)

  def eval_metrics(self, state, evaluator, key):
    if self.config.loss.disentangle > 0 and self.dataset.kind == "image":
      return disentanglement(self, state, evaluator.classifier, jax.random.fold_in(key, 0xD15),
                             min(int(self.config.eval.num_samples), 1000))
    return {}

  def step_fn(self, *, resident: bool, num_shards: int = 1) -> Callable:
    """The pure per-device step ``(state, data, key) -> (state, metrics)`` (not compiled).

    Resident data is the whole dataset ``{'x': [N, ...]}`` on the device and each
    critic update draws its batch inside the step (uniform indices, with
    replacement); streamed data is this device's ``{'x': [n_critic, B /
    num_shards, ...]}``. With ``loss.disentangle > 0`` the G loss adds
    ``loss.disentangle * CE(label_classifier(G(z)), argmax z[:, :K])``: raising
    coordinate k makes a class-k image; y is a function of z, so the prior
    stays N(0, I).

    The step and its parts: gans_jax/families/gan_step.py and gan_parts.py.
    """
    return gan_step.make_step(self, resident=resident, num_shards=num_shards)


def disentanglement(fam: "GAN", state: GANState, classifier, key: jax.Array,
                    num: int, value: float = 3.0) -> dict:
  """How well z[:, k] controls class k after supervised disentanglement (`loss.disentangle`).

  With P(v) the mean classifier probabilities when coordinate k of `num` prior
  latents is set to v (`latents.coordinate_control`):
  ``coordinate_control_k = P(+value)[k] - P(-value)[k]`` (1: the coordinate
  alone decides class k, 0: no control); ``coordinate_accuracy``: how often the
  classifier's class of G(z) equals ``argmax z[:, :K]``, the class the
  training term ties to z (chance: 1/K).
  """
  z = sample_latents(key, num, fam.z_dim)
  gen = lambda zz: fam.generate(state, zz)
  logits_fn = classifier_logits(classifier)
  k = int(jax.eval_shape(logits_fn, jax.eval_shape(gen, z[:1])).shape[-1])
  out = {}
  values = jnp.array([-value, value])
  control_fn = jax.jit(lambda dim: coordinate_control(gen, logits_fn, z, dim, values),
                       static_argnums=0)
  for dim in range(k):
    probs = np.asarray(control_fn(dim))
    out[f"coordinate_control_{dim}"] = float(probs[1, dim] - probs[0, dim])
  out["coordinate_control_mean"] = float(np.mean([out[f"coordinate_control_{d}"]
                                                  for d in range(k)]))
  pred = np.argmax(np.asarray(jax.jit(lambda zz: logits_fn(gen(zz)))(z)), -1)
  out["coordinate_accuracy"] = float(np.mean(pred == np.argmax(np.asarray(z[:, :k]), -1)))
  return out
