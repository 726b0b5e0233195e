"""WGAN with weight clipping on the embedded digits.

Arjovsky, Chintala & Bottou, "Wasserstein GAN", 2017, arXiv:1701.07875,
Algorithm 1: clipping c = 0.01, n_critic = 5, RMSProp at 5e-4 instead of the paper's 5e-5 (which
leaves this short run far from trained: FID 438.3, 8.6x, at 3,000 steps), 10,000 steps and the
generator's moving average (ema.decay 0.999), the best of the measured sweeps (docs/quality.md). The
critic keeps BatchNorm as in the paper's DCGAN critic (clipping, unlike a gradient penalty, does not
need per-example gradients).

Measured (benchmarks/zoo.py, seed 0, idle 2-core CPU, 2026-12-06; 5,000 samples in the digits
classifier's features, floor 51.19): FID 230.0 (4.49x the floor), precision 0.483, recall 0.906;
training 323 s (RMSprop 2e-4 and 7,500 steps gave 305.3, 5.96x). The zoo issue's goal (2x) is not
met.

  python launch.py --config experiments/wgan.py
  python benchmarks/zoo.py --only wgan --seeds 1     # the same run, scored into docs/results.md
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
  # RMSprop at 10x the paper's 5e-5 and the generator's moving average: the best of the zoo
  # issue's sweeps (docs/quality.md): FID 238.5 at 10,000 steps against 298.0 at 2e-4 and
  # 7,500 steps; at 5e-5 this short run is far from trained.
  config.optimizer.g = optimizer_config("rmsprop", 5e-4)
  config.optimizer.d = optimizer_config("rmsprop", 5e-4)
  config.ema.decay = 0.999

  # Schedule
  config.train.num_steps = 10000
  config.train.batch_size = 64
  config.train.n_critic = 5
  return config
