"""DCGAN on the embedded digits (Radford, Metz & Chintala 2016, arXiv:1511.06434).

The paper's networks (BatchNorm in G, LeakyReLU(0.2) discriminator) and Adam betas (0.5, 0.999),
the non-saturating generator loss (Goodfellow et al. 2014, arXiv:1406.2661). Here D is spectrally
normalised (Miyato et al. 2018) instead of the paper's BatchNorm, with Adam(4e-4, 0.5), 25,000 steps
and the generator's moving average (ema.decay 0.999), the best of the measured sweeps
(docs/quality.md): the paper's D, 2e-4 and 3,000 steps gave FID 262.0 (5.1x); with BatchNorm in D,
FID stayed near 200 (3.7-4x) from 10,000 to 25,000 steps.

Measured (benchmarks/zoo.py, seeds 0-2, idle 2-core CPU, 2026-12-06; 5,000 samples in the digits
classifier's features, floor 51.19): FID 85.0 / 90.3 / 85.6 (1.66x / 1.76x / 1.67x the floor),
precision 0.669 / 0.678 / 0.678, recall 0.919 / 0.933 / 0.897; training 285 / 268 / 268 s. The zoo
issue's goal (2x, every seed) is met.

  python launch.py --config experiments/dcgan.py
  python benchmarks/zoo.py --only dcgan --seeds 3       # the same runs, scored into docs/results.md
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
  # Spectral normalisation instead of BatchNorm in D (Miyato et al. 2018): at 12,500 steps
  # FID 109.4 against 195.3 with BatchNorm (docs/quality.md), and it keeps improving.
  config.model.d_norm = "none"
  config.model.d_spectral_norm = True

  # Objective
  config.loss.name = "non_saturating"

  # Optimizers
  # The paper's Adam(2e-4, 0.5) at twice the rate, and the generator's moving average for
  # samples and evaluation: the best of the zoo issue's sweep (docs/quality.md).
  config.optimizer.g = optimizer_config("adam", 4e-4, b1=0.5, b2=0.999)
  config.optimizer.d = optimizer_config("adam", 4e-4, b1=0.5, b2=0.999)
  config.ema.decay = 0.999

  # Schedule
  config.train.num_steps = 25000
  config.train.batch_size = 64
  config.train.n_critic = 1
  return config
