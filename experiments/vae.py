"""VAE on the embedded digits (Kingma & Welling 2014, arXiv:1312.6114).

Conv encoder (DCGAN-discriminator-shaped) to a diagonal Gaussian over 32
latents, DCGAN-generator decoder, Gaussian likelihood on [-1, 1] pixels with a
learned scale, Adam(1e-3). Samples and reconstructions are written to
runs/vae/samples (step_*.png, recon_step_*.png).

  python launch.py --config experiments/vae.py
  python launch.py --config experiments/vae.py --mode=eval   # needs runs/classifier_digits
"""

from gans_jax.families.vae import default_config


def get_config():
  config = default_config()

  # Data
  config.dataset.name = "digits"
  config.dataset.resolution = 16

  # Networks
  config.model.arch = "dcgan"
  config.model.z_dim = 32
  config.model.e_width = 32
  config.model.g_width = 32
  config.model.e_norm = "batch"

  # Objective
  config.loss.likelihood = "gaussian"
  config.loss.log_scale = -1.0
  config.loss.learn_scale = True
  config.loss.beta = 1.0

  # Schedule
  config.train.num_steps = 3000
  config.train.batch_size = 64
  config.log_every = 50
  config.sample_every = 500
  config.checkpoint_every = 500
  return config
