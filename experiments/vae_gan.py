"""VAE-GAN on the embedded digits (Larsen et al. 2016, arXiv:1512.09300).

The VAE of experiments/vae.py (same encoder and decoder) plus a DCGAN
discriminator; reconstructions are scored in the discriminator's last conv
features, and encoder, decoder and discriminator each step on their own loss
(Algorithm 1; gans_jax/families/vae_gan.py). gamma = 0.01 and beta = 10
balance the feature likelihood, which sums ~1,000 discriminator features,
against the GAN term and the KL.

Measured (2-core CPU, seed 0): 3,000 steps in ~70 s; --mode=eval: FID 313.5
against a train-vs-test floor of 51.2 (classifier features), precision 0.52,
recall 0.86, recon_mse 0.031, fid_recon 112.6 (the zoo, idle, 2026-12-03: FID
306.7, 5.99x). That was below the 3,000-step VAE's FID (395.9) as Larsen et al.
claim, but not below experiments/vae.py's 25,000 steps (244.7); 15,000 steps
of this VAE-GAN plateau near 290 (docs/quality.md). gamma = beta = 1 gave
FID 766; gamma 0.01 with beta 1 / 30 / 100: 587 / 261 / 265, but beta >= 30
gives up reconstructions (fid_recon 380 / 1900) (docs/benchmarks.md).

  python launch.py --config experiments/vae_gan.py
  python launch.py --config experiments/vae_gan.py --mode=eval   # needs runs/classifier_digits
"""

from gans_jax.families.vae_gan import default_config


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
  config.model.d_norm = "batch"

  # Objective
  config.loss.gamma = 0.01
  config.loss.beta = 10.0

  # Schedule
  config.train.num_steps = 3000
  config.train.batch_size = 64
  config.log_every = 50
  config.sample_every = 500
  config.checkpoint_every = 500
  return config
