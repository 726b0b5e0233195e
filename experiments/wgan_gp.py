"""WGAN-GP: a DCGAN-style critic with a gradient penalty on the embedded digits.

Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, "Improved Training of
Wasserstein GANs", 2017, arXiv:1704.00028: Adam(1e-4, 0, 0.9), lambda = 10,
n_critic = 5, no BatchNorm in the critic (LayerNorm here).

Expected: recognisable digits in runs/wgan_gp/samples within the default
schedule, on a 2-core CPU in under 10 minutes.

  python launch.py --config experiments/wgan_gp.py
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
  config.model.d_norm = "layer"

  # Objective
  config.loss.name = "wasserstein"
  config.loss.gp_weight = 10.0

  # Optimizers
  config.optimizer.g = optimizer_config("adam", 1e-4, b1=0.0, b2=0.9)
  config.optimizer.d = optimizer_config("adam", 1e-4, b1=0.0, b2=0.9)

  # Schedule
  config.train.num_steps = 2000
  config.train.batch_size = 64
  config.train.n_critic = 5
  config.log_every = 50
  config.sample_every = 250
  config.checkpoint_every = 250
  return config
