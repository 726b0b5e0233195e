"""Least-squares GAN on the embedded digits (Mao et al. 2017, arXiv:1611.04076).

The a-b-c = 0-1-1 coding of the paper: D pushes real to 1 and fake to 0, G
pushes fake to 1. DCGAN networks, Adam(2e-4, 0.5).

Measured (the zoo issue's run of these defaults on a 2-core CPU, seed 0, 5,000 samples in the digits
classifier's features, floor 51.2): FID 332.3 (6.5x the floor), precision 0.53, recall 0.78;
training 97 s.

  python launch.py --config experiments/lsgan.py
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
  config.model.g_width = 32
  config.model.d_width = 32
  config.model.d_norm = "batch"

  # Objective
  config.loss.name = "least_squares"

  # Optimizers
  config.optimizer.g = optimizer_config("adam", 2e-4, b1=0.5, b2=0.999)
  config.optimizer.d = optimizer_config("adam", 2e-4, b1=0.5, b2=0.999)

  # Schedule
  config.train.num_steps = 3000
  config.train.batch_size = 64
  return config
