"""The named parts the GAN step is made of: the objective, the penalty and each technique.

`gans_jax.families.gan_step` composes them; each is built from the config by `step_parts` and
does nothing when its option is off, so the step reads as the algorithm:

* `Objective`: the adversarial losses of `loss.name` (`LOSSES`), with one-sided label smoothing
  (`loss.real_label`) for the minimax family and `loss.adversarial_weight` on the G side.
* `Penalty`: `loss.gp_weight` times the WGAN-GP penalty at interpolates, R1 at real or R2 at fake
  points (`loss.gp_point`), taken on the discriminator as a function of its input.
* `Augmentation` (DiffAugment, `augment.*`), `Packing` (PacGAN, `model.pack`), `SpectralNorm`
  (`model.d_spectral_norm`), `HistoricalAveraging` (`loss.historical_averaging`),
  `GeneratorEMA` (`ema.*`), `FeatureMatching` (`loss.feature_matching`), `Disentanglement`
  (`loss.disentangle`).

The loss terms share one form: ``add(total, aux, ...) -> total`` returns the objective with the
term's weighted value added, and records the term's value in the metrics dict `aux` under its
name; off, it returns `total` untouched. A new technique is a new part here and one call in the
step.
"""

import dataclasses
import functools
from typing import Callable, NamedTuple, Optional

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax

from gans_jax import augment, ema, losses
from gans_jax.families import techniques
from gans_jax.nets import improved, spectral_norm

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


class Objective(NamedTuple):
  """``d_loss(real_scores, fake_scores)``, ``g_loss(fake_scores)`` and the G loss's weight."""
  d_loss: Callable
  g_loss: Callable
  g_weight: float = 1.0

  @classmethod
  def from_config(cls, loss: ml_collections.ConfigDict) -> "Objective":
    d_loss, g_loss = LOSSES[loss.name]
    if d_loss is losses.minimax_discriminator_loss:
      d_loss = functools.partial(d_loss, real_label=float(loss.real_label))
    return cls(d_loss, g_loss, float(loss.adversarial_weight))


@dataclasses.dataclass(frozen=True)
class Penalty:
  """``weight * penalty`` on the critic, at interpolates (WGAN-GP), real (R1) or fake (R2) points.

  Interpolation weights epsilon are drawn per example from that example's key, so the penalty
  does not depend on how the batch is split over devices. A conditional critic is penalised at
  the fake labels (Gulrajani et al.'s conditional CIFAR-10 model interpolates the images only);
  R1 at the real labels, R2 at the fake ones. Inputs are unpacked; the critic sees packs.
  """
  weight: float = 0.0
  point: str = "interpolate"
  target: float = 1.0
  one_sided: bool = False

  def value(self, critic: Callable, real_in: tuple, fake_in: tuple, keys, pack: Callable):
    """`critic(labels)` is ``x -> scores`` at those labels (a tuple, empty if unconditional)."""
    if self.point == "real":
      return losses.r1_penalty(critic(real_in[1:]), pack(real_in[0]))
    if self.point == "fake":
      return losses.r2_penalty(critic(fake_in[1:]), pack(fake_in[0]))
    real, fake = real_in[0], fake_in[0]
    eps = jax.vmap(lambda k: jax.random.uniform(k, (1,) * (real.ndim - 1)))(keys)
    return losses.gradient_norm_penalty(critic(fake_in[1:]), pack(eps * real + (1 - eps) * fake),
                                        target=self.target, one_sided=self.one_sided)

  def add(self, total, aux: dict, *args):
    if self.weight <= 0:
      return total
    aux["gp"] = self.value(*args)
    return total + self.weight * aux["gp"]


@dataclasses.dataclass(frozen=True)
class Augmentation:
  """DiffAugment of images x [B, ...]: example i from ``fold_in(keys[i], salt)`` (salt 1: real,
  2: fake), so real and fake draw independently from the same transforms."""
  policy: tuple = ()
  translation_ratio: float = 0.125
  cutout_ratio: float = 0.5

  def __call__(self, x, keys, salt: int):
    if not self.policy:
      return x
    keys = jax.vmap(lambda k: jax.random.fold_in(k, salt))(keys)
    return augment.augment_batch(x, keys, self.policy, translation_ratio=self.translation_ratio,
                                 cutout_ratio=self.cutout_ratio)


@dataclasses.dataclass(frozen=True)
class Packing:
  """PacGAN: the discriminator judges `m` samples concatenated (m = 1: the samples as they are)."""
  m: int = 1

  def __call__(self, x):
    return improved.pack(x, self.m)


@dataclasses.dataclass(frozen=True)
class SpectralNorm:
  """``(params, vectors) -> (params D runs with, advanced vectors)``; identity when off."""
  enabled: bool = False
  iterations: int = 1

  def __call__(self, params, vectors):
    if not self.enabled:
      return params, vectors
    return spectral_norm.normalize(params, vectors, num_iterations=self.iterations)


@dataclasses.dataclass(frozen=True)
class HistoricalAveraging:
  """``weight * ||theta - running mean of theta||^2`` for each player (Salimans et al. 2016)."""
  weight: float = 0.0

  def add(self, total, aux: dict, params, history: dict, player: str):
    """On the parameters themselves, before any normalisation."""
    if self.weight <= 0:
      return total
    aux[f"{player}_historical"] = self.weight * losses.historical_averaging_penalty(
        params, history[player]["mean"])
    return total + aux[f"{player}_historical"]

  def update(self, history, player: str, params):
    if self.weight <= 0:
      return history
    return {**history, player: techniques.update_history(history[player], params)}


@dataclasses.dataclass(frozen=True)
class GeneratorEMA:
  """The generator's moving average after update `step` (gans_jax/ema.py); decay 0 is off."""
  decay: float = 0.0
  start_step: int = 0
  warmup: bool = True

  def start(self, g):
    """The average before the first update: a copy of `g` (empty when off)."""
    if self.decay <= 0:
      return flax.core.FrozenDict()
    return {"params": g.params, "batch_stats": g.batch_stats}

  def update(self, average, g, step):
    if self.decay <= 0:
      return average
    new = {"params": g.params, "batch_stats": g.batch_stats}
    return ema.ema_update(average, new, step, self.decay, start_step=self.start_step,
                          warmup=self.warmup)


@dataclasses.dataclass(frozen=True)
class FeatureMatching:
  """``weight * ||E f(x) - E f(G(z))||^2`` on D's last features (Salimans et al. 2016).

  Feature means are per device: exact across devices only on one.
  """
  weight: float = 0.0

  def add(self, total, aux: dict, real_features, fake_features):
    if self.weight <= 0:
      return total
    aux["feature_matching"] = losses.feature_matching_loss(real_features, fake_features)
    return total + self.weight * aux["feature_matching"]


@dataclasses.dataclass(frozen=True)
class Disentanglement:
  """``weight * CE(classifier(G(z)), argmax z[:, :K])``: raising coordinate k makes a class-k
  image; the class is a function of z, so the prior stays N(0, I)."""
  weight: float = 0.0
  classifier: Optional[Callable] = None  # images -> logits [B, K], frozen

  def add(self, total, aux: dict, fake, z):
    if self.weight <= 0:
      return total
    logits = self.classifier(fake)
    labels = jnp.argmax(z[:, :logits.shape[-1]], axis=-1)
    aux["disentangle"] = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
    return total + self.weight * aux["disentangle"]


class StepParts(NamedTuple):
  objective: Objective
  penalty: Penalty
  augmentation: Augmentation
  packing: Packing
  spectral_norm: SpectralNorm
  historical_averaging: HistoricalAveraging
  generator_ema: GeneratorEMA
  feature_matching: FeatureMatching
  disentanglement: Disentanglement


def step_parts(config: ml_collections.ConfigDict,
               label_classifier: Callable[[], Callable]) -> StepParts:
  """Every part from a GAN config; `label_classifier()` is called only when disentangling."""
  loss, aug = config.loss, config.augment
  dis_weight = float(loss.get("disentangle", 0.0))
  return StepParts(
      objective=Objective.from_config(loss),
      penalty=Penalty(float(loss.gp_weight), loss.gp_point, loss.gp_target, loss.gp_one_sided),
      augmentation=Augmentation(augment.parse_policy(aug.policy), float(aug.translation_ratio),
                                float(aug.cutout_ratio)),
      packing=Packing(int(config.model.pack)),
      spectral_norm=SpectralNorm(bool(config.model.d_spectral_norm),
                                 int(config.model.sn_iterations)),
      historical_averaging=HistoricalAveraging(float(loss.get("historical_averaging", 0.0))),
      generator_ema=GeneratorEMA(float(config.ema.decay), int(config.ema.start_step),
                                 bool(config.ema.warmup)),
      feature_matching=FeatureMatching(float(loss.feature_matching)),
      disentanglement=Disentanglement(dis_weight,
                                      label_classifier() if dis_weight > 0 else None))
