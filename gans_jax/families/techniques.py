"""Salimans et al.'s improved techniques and PacGAN packing as options of the GAN family.

The checks of their fields (`check_config`; the fields are in `gan.default_config`), the network
options they become (`generator_options`, `discriminator_options`) and the
historical-averaging state (`init_history`, `update_history`). The network
pieces are in `gans_jax.nets.improved`; the GAN step's parts (`families.gan_parts`) use them.

* Minibatch discrimination (`model.minibatch_kernels`, Salimans et al. 2016,
  arXiv:1606.03498, sec. 3.2). An example's score depends on its whole batch.
  Across devices it stays exact: the features compare each example with the
  global batch (an ``all_gather`` over the device axis), so N devices compute
  the one-device step. A per-example gradient penalty would differentiate
  through the other examples' rows too, so it is refused with
  `loss.gp_weight > 0` (as BatchNorm is).
* Historical averaging (`loss.historical_averaging` = lambda, sec. 3.3): both
  players pay ``lambda * ||theta - mean of their past parameters||^2``; the
  running means and counts are `GANState.history`, checkpointed, so a resume is
  exact.
* Virtual batch normalisation (`model.vbn_reference` = R, sec. 3.4): the
  generator's BatchNorm layers become VirtualBatchNorm over R reference latents
  drawn at init and kept in the generator's `batch_stats` (checkpointed).
  Samples then do not depend on their batch (training and inference alike).
* PacGAN (`model.pack` = m, Lin et al. 2018, arXiv:1712.04086): the
  discriminator judges m samples concatenated (`nets.improved.pack`), all real
  or all generated. Packs are consecutive examples of a device's batch, so a
  split over devices keeps them whole (batch divisible by m * devices).
"""

import jax
import jax.numpy as jnp
import ml_collections

from gans_jax.configs import require


def check_config(config: ml_collections.ConfigDict, num_devices: int) -> None:
  """Raises `UserError` naming the first technique field that is bad or does not apply."""
  m, loss = config.model, config.loss
  conditional = m.get("conditional", "none") != "none"
  require(m.minibatch_kernels >= 0, "model.minibatch_kernels",
          f"must be >= 0, got {m.minibatch_kernels}")
  require(m.minibatch_kernel_dim >= 1, "model.minibatch_kernel_dim",
          f"must be >= 1, got {m.minibatch_kernel_dim}")
  if m.minibatch_kernels:
    require(not conditional, "model.minibatch_kernels",
            "applies to the mlp and dcgan discriminators, not to conditional ones; "
            "use model.conditional='none'")
    require(loss.gp_weight == 0, "model.minibatch_kernels",
            "makes a score depend on the whole batch, which breaks the per-example "
            "gradient penalty; use loss.gp_weight=0 or model.minibatch_kernels=0")
  require(m.vbn_reference >= 0, "model.vbn_reference", f"must be >= 0, got {m.vbn_reference}")
  if m.vbn_reference:
    require(not conditional, "model.vbn_reference",
            "replaces BatchNorm in the mlp and dcgan generators, not in conditional ones; "
            "use model.conditional='none'")
    require(m.arch != "mlp" or m.g_batch_norm, "model.vbn_reference",
            "replaces the generator's BatchNorm, which this mlp generator does not have; "
            "set model.g_batch_norm=True")
  require(isinstance(m.pack, int) and m.pack >= 1, "model.pack",
          f"must be an integer >= 1, got {m.pack!r}")
  if m.pack > 1:
    require(not conditional, "model.pack",
            "packs unconditional samples; use model.conditional='none'")
    require(config.train.batch_size % (m.pack * num_devices) == 0, "model.pack",
            f"train.batch_size {config.train.batch_size} is not divisible into packs of "
            f"{m.pack} on each of the {num_devices} devices")
  require(loss.historical_averaging >= 0, "loss.historical_averaging",
          f"must be >= 0, got {loss.historical_averaging}")


def generator_options(m: ml_collections.ConfigDict) -> dict:
  """Keyword arguments of the mlp / dcgan generator for the techniques."""
  return {"vbn_reference": int(m.vbn_reference)}


def discriminator_options(m: ml_collections.ConfigDict) -> dict:
  """Keyword arguments of the mlp / dcgan discriminator for the techniques."""
  return {"minibatch_kernels": int(m.minibatch_kernels),
          "minibatch_kernel_dim": int(m.minibatch_kernel_dim)}


def init_history(params) -> dict:
  """The running mean of a player's parameters after its first one: theta_0, count 1."""
  return {"mean": jax.tree.map(jnp.asarray, params), "count": jnp.ones((), jnp.int32)}


def update_history(history: dict, params) -> dict:
  """Folds the new parameters into the running mean: ``mean += (theta - mean) / (count + 1)``."""
  count = history["count"] + 1
  w = 1.0 / count.astype(jnp.float32)
  mean = jax.tree.map(lambda a, p: a + (p - a) * w.astype(a.dtype), history["mean"], params)
  return {"mean": mean, "count": count}
