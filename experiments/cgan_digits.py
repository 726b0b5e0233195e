"""Class-conditional DCGAN on the embedded digits.

Generator input: z concatenated with the one-hot class (Mirza & Osindero 2014,
arXiv:1411.1784). Discriminator: the image with the class as one-hot channels
(model.conditional='concat'), or a projection discriminator (Miyato & Koyama
2018, arXiv:1802.05637) with --config.model.conditional=projection. WGAN-GP
objective as experiments/wgan_gp.py. The sample grid has one row per class;
--mode=eval reports conditional_accuracy (the digits classifier's accuracy on
samples against the requested labels).

  python launch.py --config experiments/cgan_digits.py
"""

from gans_jax.configs import base_config, optimizer_config


def get_config():
  config = base_config()

  # Data
  config.dataset.name = "digits"
  config.dataset.resolution = 16

  # Networks
  config.model.arch = "dcgan"
  config.model.conditional = "concat"
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
  config.sample_every = 250
  config.checkpoint_every = 250
  return config
