"""Hinge-loss GAN on the embedded digits (Lim & Ye 2017, arXiv:1705.02894;
Miyato et al. 2018, arXiv:1802.05957).

D: mean relu(1 - D(x)) + mean relu(1 + D(G(z))); G: -mean D(G(z)). DCGAN
networks with a LayerNorm discriminator, Adam(2e-4, 0.5).

Measured (the zoo issue's run of these defaults on a 2-core CPU, seed 0, 5,000 samples in the digits
classifier's features, floor 51.2): FID 347.9 (6.8x the floor), precision 0.57, recall 0.75;
training 105 s.

  python launch.py --config experiments/hinge.py
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
  config.model.d_norm = "layer"

  # Objective
  config.loss.name = "hinge"

  # Optimizers
  config.optimizer.g = optimizer_config("adam", 2e-4, b1=0.5, b2=0.999)
  config.optimizer.d = optimizer_config("adam", 2e-4, b1=0.5, b2=0.999)

  # Schedule
  config.train.num_steps = 3000
  config.train.batch_size = 64
  return config
