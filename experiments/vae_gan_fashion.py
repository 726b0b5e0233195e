"""VAE-GAN on Fashion-MNIST at 32x32 (Larsen et al. 2016, arXiv:1512.09300).

The VAE of experiments/vae_fashion.py (same encoder and decoder) plus a DCGAN discriminator;
reconstructions are scored in the discriminator's last conv features and encoder, decoder and
discriminator each step on their own loss (Algorithm 1), with experiments/vae_gan.py's balance
(gamma = 0.01, beta = 10). --mode=eval reports the sample FID in
experiments/classifier_fashion.py's features, the ELBO and the importance-weighted bound.

Measured (seed 0, 5,000 samples; docs/real_data.md): FID 180.9, precision 0.604, recall 0.565 —
not below the VAE's 178.5, which the real-data issue asks for; test ELBO -378.0 and bound -159.6 nats
at this family's pixel scale sigma = e^-1 (not the VAE's e^-0.5, so not comparable with its numbers);
recon_mse 0.068; 4,000 steps in 544 s on the 2-core CPU.

  python launch.py --config experiments/vae_gan_fashion.py
  python launch.py --config experiments/vae_gan_fashion.py --mode=eval   # needs runs/classifier_fashion
"""

from gans_jax.data.idx import FASHION_MNIST
from gans_jax.families.vae_gan import default_config


def get_config():
  config = default_config()

  # Data
  config.dataset.name = FASHION_MNIST
  config.dataset.resolution = 32

  # Networks (encoder and decoder as experiments/vae_fashion.py)
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
  config.train.num_steps = 4000
  config.train.batch_size = 64
  config.log_every = 100
  config.sample_every = 1000
  config.checkpoint_every = 1000

  # Evaluation: in the Fashion-MNIST classifier's features
  config.eval.classifier_dir = "runs/classifier_fashion"
  return config
