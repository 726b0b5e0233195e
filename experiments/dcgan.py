"""DCGAN on the embedded digits (Radford, Metz & Chintala 2016, arXiv:1511.06434).

BatchNorm in both networks, LeakyReLU(0.2) discriminator, Adam(2e-4, 0.5), the
non-saturating generator loss (Goodfellow et al. 2014, arXiv:1406.2661).

Measured (the zoo issue's run of these defaults on a 2-core CPU, seed 0, 5,000 samples in the digits
classifier's features, floor 51.2): FID 262.0 (5.1x the floor), precision 0.49, recall 0.89;
training 124 s. Far from the 2x goal of that issue: these defaults are not tuned for the digits.

  python launch.py --config experiments/dcgan.py
"""

from gans_jax.families.gan import default_config
from gans_jax.optim import optimizer_config


def get_config():
  config = default_config()

  # Data
  config.dataset.name = "digits"
  config.dataset.resolution = 16

  # Networks
  config.model.arch = "dcgan"
  config.model.z_dim = 64
  config.model.g_width = 32
  config.model.d_width = 32
  config.model.d_norm = "batch"

  # Objective
  config.loss.name = "non_saturating"

  # Optimizers
  config.optimizer.g = optimizer_config("adam", 2e-4, b1=0.5, b2=0.999)
  config.optimizer.d = optimizer_config("adam", 2e-4, b1=0.5, b2=0.999)

  # Schedule
  config.train.num_steps = 3000
  config.train.batch_size = 64
  config.train.n_critic = 1
  return config
