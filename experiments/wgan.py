"""WGAN with weight clipping on the embedded digits.

Arjovsky, Chintala & Bottou, "Wasserstein GAN", 2017, arXiv:1701.07875,
Algorithm 1: RMSProp(5e-5), clipping c = 0.01, n_critic = 5. The critic keeps
BatchNorm as in the paper's DCGAN critic (clipping, unlike a gradient penalty,
does not need per-example gradients).

Measured (the zoo issue's run of these defaults on a 2-core CPU, seed 0, 5,000 samples in the digits
classifier's features, floor 51.2): FID 438.3 (8.6x the floor), precision 0.51, recall 0.70;
training 201 s.

  python launch.py --config experiments/wgan.py
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
  config.loss.name = "wasserstein"
  config.loss.clip = 0.01

  # Optimizers
  config.optimizer.g = optimizer_config("rmsprop", 5e-5)
  config.optimizer.d = optimizer_config("rmsprop", 5e-5)

  # Schedule
  config.train.num_steps = 3000
  config.train.batch_size = 64
  config.train.n_critic = 5
  return config
