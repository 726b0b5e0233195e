"""The VAE-GAN family: a VAE whose reconstruction error is measured in a discriminator's features.

Larsen, Sønderby, Larochelle & Winther, "Autoencoding beyond pixels using a
learned similarity metric", 2016, arXiv:1512.09300, Algorithm 1. Per batch x,
with z ~ q(z | x) (reparameterised), x~ = Dec(z), z_p ~ N(0, I), x_p = Dec(z_p)
and Dis_l the discriminator's last conv layer (its `features`):

  L_prior = KL(q(z | x) || N(0, I))                         (mean over the batch)
  L_llike = -E log N(Dis_l(x); Dis_l(x~), I)                 (`losses.vae_gan_feature_log_likelihood`)
  L_GAN   = log D(x) + log(1 - D(x~)) + log(1 - D(x_p))      (the discriminator maximises it)

and three parameter groups, each updated on its own loss from the same
forward pass (simultaneous updates, as in Algorithm 1):

  encoder:        L_prior + L_llike       (`loss.beta` weighs L_prior; 1 in the paper)
  decoder:        gamma * L_llike - L_GAN (the GAN term in its non-saturating form,
                                           -log D(x~) - log D(x_p), as the paper's code)
  discriminator:  -L_GAN

`loss.gamma` is the paper's gamma. `model.d_spectral_norm` divides each of the
discriminator's weight matrices by its largest singular value (Miyato et al. 2018,
arXiv:1802.05957) in all three losses, as in the GAN family; `ema.decay` > 0 keeps a moving
average of the decoder (gans_jax/ema.py) which, unless `eval.use_ema` is False, is the model
that samples, reconstructs and is evaluated (the bounds are then those of the averaged decoder
with the trained encoder as q: still lower bounds on its log-likelihood). Evaluation is the VAE's (sample metrics,
test ELBO and importance-weighted bound under a Gaussian pixel likelihood of
fixed scale `loss.log_scale`, reconstructions), so the two families compare in
the same numbers.
"""

from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections

from gans_jax import ema, losses, nets
from gans_jax.configs import check_ema, ema_config, require, require_one_of
from gans_jax.errors import UserError
from gans_jax.families import base, vae
from gans_jax.families.gan_parts import GeneratorEMA, SpectralNorm
from gans_jax.nets import dcgan, spectral_norm
from gans_jax.optim import check_optimizer_config, make_optimizer, optimizer_config


@flax.struct.dataclass
class VAEGANState:
  step: jnp.ndarray
  encoder: base.TrainState
  decoder: base.TrainState
  d: base.TrainState
  likelihood: base.TrainState  # fixed log_scale of the evaluation's pixel likelihood
  # D's spectral-norm vectors (model.d_spectral_norm); empty when off.
  d_sn: Any = flax.core.FrozenDict()
  # The decoder's moving average {'params', 'batch_stats'} (ema.decay > 0); empty when off.
  decoder_ema: Any = flax.core.FrozenDict()


base.register_optional_fields(VAEGANState, ("d_sn", "decoder_ema"))


def default_config() -> ml_collections.ConfigDict:
  """The VAE's sections plus a DCGAN discriminator and Larsen et al.'s weights."""
  config = vae.default_config()
  config.family = "vae_gan"
  config.model.d_width = 32
  config.model.d_norm = "batch"
  config.model.d_spectral_norm = False
  config.model.sn_iterations = 1  # power iterations per pass (as the GAN family)
  config.loss = ml_collections.ConfigDict()
  config.loss.gamma = 1.0      # weight of L_llike in the decoder's loss
  config.loss.beta = 1.0       # weight of L_prior in the encoder's loss
  config.loss.likelihood = "gaussian"  # evaluation's pixel likelihood (not trained on)
  config.loss.log_scale = -1.0
  config.loss.learn_scale = False
  config.ema = ema_config()   # the decoder's moving average
  config.eval.use_ema = True
  config.optimizer = ml_collections.ConfigDict()
  for name in ("encoder", "decoder", "d"):
    config.optimizer[name] = optimizer_config("adam", 3e-4, b1=0.5, b2=0.999)
  return config


def check_config(config: ml_collections.ConfigDict, *, num_devices: int = 1) -> None:
  del num_devices
  vae.check_model_config(config)
  require(config.model.arch == "dcgan", "model.arch",
          "the VAE-GAN's discriminator features need images: use 'dcgan'")
  require_one_of(config, "model.d_norm", dcgan.NORMS)
  require(isinstance(config.model.d_spectral_norm, bool), "model.d_spectral_norm",
          f"must be True or False, got {config.model.d_spectral_norm!r}")
  require(config.model.sn_iterations >= 1, "model.sn_iterations",
          f"must be >= 1, got {config.model.sn_iterations}")
  check_ema(config)
  require(config.loss.gamma >= 0, "loss.gamma", f"must be >= 0, got {config.loss.gamma}")
  require(config.loss.beta >= 0, "loss.beta", f"must be >= 0, got {config.loss.beta}")
  require(config.loss.likelihood == "gaussian" and not config.loss.learn_scale,
          "loss.likelihood", "the VAE-GAN evaluates a fixed-scale 'gaussian' pixel likelihood")
  for name in ("encoder", "decoder", "d"):
    check_optimizer_config(config.optimizer[name], f"optimizer.{name}")
  vae.check_latent_prior_config(config)


class VAEGAN(vae.EncoderDecoderFamily):
  """The VAE's encoder and decoder (the generator) plus a discriminator (module docstring)."""
  name = "vae_gan"
  progress_keys = ("d_loss", "llike", "kl")

  def __init__(self, config, dataset, axis_name=None):
    if dataset.kind != "image":
      raise UserError(f"dataset.name: the VAE-GAN needs images; {dataset.name!r} holds "
                      f"{dataset.kind}")
    super().__init__(config, dataset, axis_name)
    m = config.model
    self.discriminator = nets.DCGANDiscriminator(
        resolution=dataset.example_shape[0], width=m.d_width, norm=m.d_norm,
        axis_name=axis_name, conv_impl=m.conv_impl)
    self.spectral_norm = SpectralNorm(bool(m.d_spectral_norm), int(m.sn_iterations))
    e = config.ema
    self.decoder_ema = GeneratorEMA(float(e.decay), int(e.start_step), bool(e.warmup))

  def init_fn(self):
    c = self.config
    txs = {name: make_optimizer(c.optimizer[name], field=f"optimizer.{name}")
           for name in ("encoder", "decoder", "d")}

    def init(key):
      k_ed, k_d = jax.random.split(key)
      e_vars, g_vars = self.init_networks(k_ed)
      x = jnp.zeros((2,) + tuple(self.dataset.example_shape), jnp.float32)
      d_vars = self.discriminator.init(k_d, x, train=False)
      decoder = base.new_train_state(self.decoder, g_vars, txs["decoder"])
      d_sn = (spectral_norm.init_vectors(d_vars["params"], jax.random.fold_in(k_d, 0x5))
              if self.spectral_norm.enabled else flax.core.FrozenDict())
      return VAEGANState(
          step=jnp.zeros((), jnp.int32),
          encoder=base.new_train_state(self.encoder, e_vars, txs["encoder"]),
          decoder=decoder,
          d=base.new_train_state(self.discriminator, d_vars, txs["d"]),
          likelihood=self.likelihood_state(txs["decoder"]),
          d_sn=d_sn,
          decoder_ema=self.decoder_ema.start(decoder))

    return init

  def group_losses(self, state: VAEGANState, params: tuple, x, labels, eps, z_prior):
    """((encoder loss, decoder loss, discriminator loss),
    (metrics, new BatchNorm stats, new spectral-norm vectors)).

    `params` = (encoder, decoder, discriminator) parameters; the losses are
    those of the module docstring, each to be differentiated by its own group.
    """
    enc_p, dec_p, d_p = params
    d_p, d_sn = self.spectral_norm(d_p, state.d_sn)
    c = self.config
    mean, log_var, z, e_stats = self.posterior(state, enc_p, x, eps)
    x_tilde, g_stats = base.apply_train(self.decoder, state.decoder, (z,) + labels, dec_p)
    x_prior, g_stats = base.apply_train(self.decoder, state.decoder.replace(batch_stats=g_stats),
                                        (z_prior,) + labels, dec_p)
    d = state.d
    (s_real, f_real), d_stats = base.apply_train(self.discriminator, d, (x,), d_p)
    (s_tilde, f_tilde), d_stats = base.apply_train(
        self.discriminator, d.replace(batch_stats=d_stats), (x_tilde,), d_p)
    (s_prior, _), d_stats = base.apply_train(
        self.discriminator, d.replace(batch_stats=d_stats), (x_prior,), d_p)
    prior = jnp.mean(losses.gaussian_kl_to_standard_normal(mean, log_var))
    llike = -jnp.mean(losses.vae_gan_feature_log_likelihood(f_real, f_tilde))
    # -L_GAN = -log D(x) - log(1 - D(x~)) - log(1 - D(x_p)).
    d_loss = (losses.minimax_discriminator_loss(s_real, s_tilde)
              - losses.minimax_generator_loss(s_prior))
    dec_gan = (losses.non_saturating_generator_loss(s_tilde)
               + losses.non_saturating_generator_loss(s_prior))
    enc_loss = float(c.loss.beta) * prior + llike
    dec_loss = float(c.loss.gamma) * llike + dec_gan
    aux = {"kl": prior, "llike": llike, "d_loss": d_loss, "g_gan": dec_gan,
           "d_real": jnp.mean(s_real), "d_fake": jnp.mean(s_prior),
           "recon_mse": jnp.mean((x_tilde - x) ** 2)}
    return (enc_loss, dec_loss, d_loss), (aux, (e_stats, g_stats, d_stats), d_sn)

  def step_fn(self, *, resident, num_shards=1):
    batch = int(self.config.train.batch_size) // num_shards
    mean = base.device_mean(self.axis_name)

    def step(state: VAEGANState, data, key):
      offset = base.device_offset(self.axis_name, batch)
      k_data, k_eps, k_prior = jax.random.split(base.step_key(key, state.step), 3)
      x, labels, eps = self.draw_inputs(data, k_data, k_eps, offset, batch, resident)
      z_prior = base.normal_per_example(k_prior, offset, batch, self.z_dim)
      params = (state.encoder.params, state.decoder.params, state.d.params)
      fn = lambda p: self.group_losses(state, p, x, labels, eps, z_prior)
      _, vjp, (aux, (e_stats, g_stats, d_stats), d_sn) = jax.vjp(fn, params, has_aux=True)
      one, zero = jnp.ones(()), jnp.zeros(())
      # Each group's gradient of its own loss only (Algorithm 1).
      g_enc = vjp((one, zero, zero))[0][0]
      g_dec = vjp((zero, one, zero))[0][1]
      g_d = vjp((zero, zero, one))[0][2]
      decoder = state.decoder.apply_gradients(grads=mean(g_dec), batch_stats=g_stats)
      new = state.replace(
          step=state.step + 1,
          encoder=state.encoder.apply_gradients(grads=mean(g_enc), batch_stats=e_stats),
          decoder=decoder,
          d=state.d.apply_gradients(grads=mean(g_d), batch_stats=d_stats),
          d_sn=d_sn,
          decoder_ema=self.decoder_ema.update(state.decoder_ema, decoder, state.step))
      return new, mean(aux)

    return step

  def decoder_variables(self, state: VAEGANState):
    """The decoder's moving average when ema.decay > 0 and eval.use_ema; else the decoder."""
    if self.decoder_ema.decay > 0 and self.config.eval.use_ema:
      return ema.average_variables(state.decoder_ema)
    return super().decoder_variables(state)
