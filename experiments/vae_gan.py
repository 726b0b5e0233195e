"""VAE-GAN on the embedded digits (Larsen et al. 2016, arXiv:1512.09300).

The VAE of experiments/vae.py (same encoder and decoder) plus a DCGAN
discriminator; reconstructions are scored in the discriminator's last conv
features, and encoder, decoder and discriminator each step on their own loss
(Algorithm 1; gans_jax/families/vae_gan.py). gamma = 0.01 and beta = 10
balance the feature likelihood, which sums ~1,000 discriminator features,
against the GAN term and the KL.

The discriminator is spectrally normalised (Miyato et al. 2018) instead of
BatchNorm'd, the decoder's moving average (decay 0.999) samples and is
evaluated, and the three Adam rates are 1e-3: the zoo issue's sweep (seed 0,
in-training evaluation, docs/quality.md) took FID from a plateau near 290
(BatchNorm, 3e-4) to 130.3 at 12,500 steps with spectral norm, 115.8 with the
average too, and 93.7 (1.83x the floor of 51.19) with the rates at 1e-3.

Measured: benchmarks/zoo.py (docs/results.md). Before spectral norm (3,000
steps, BatchNorm, 3e-4): FID 306.7 (5.99x). gamma = beta = 1 gave FID 766;
gamma 0.01 with beta 1 / 30 / 100: 587 / 261 / 265, but beta >= 30 gives up
reconstructions (fid_recon 380 / 1900) (docs/benchmarks.md).

  python launch.py --config experiments/vae_gan.py
  python launch.py --config experiments/vae_gan.py --mode=eval   # needs runs/classifier_digits
"""

from gans_jax.families.vae_gan import default_config
from gans_jax.optim import optimizer_config


def get_config():
  config = default_config()

  # Data
  config.dataset.name = "digits"
  config.dataset.resolution = 16

  # Networks (encoder and decoder as experiments/vae.py)
  config.model.arch = "dcgan"
  config.model.z_dim = 32
  config.model.e_width = 32
  config.model.g_width = 32
  config.model.d_width = 32
  config.model.e_norm = "batch"
  config.model.d_norm = "none"
  config.model.d_spectral_norm = True

  # Objective
  config.loss.gamma = 0.01
  config.loss.beta = 10.0

  # Optimizers and the decoder's moving average
  for name in ("encoder", "decoder", "d"):
    config.optimizer[name] = optimizer_config("adam", 1e-3, b1=0.5, b2=0.999)
  config.ema.decay = 0.999

  # Schedule
  config.train.num_steps = 12500
  config.train.batch_size = 64
  config.log_every = 50
  config.sample_every = 2500
  config.checkpoint_every = 2500
  return config
