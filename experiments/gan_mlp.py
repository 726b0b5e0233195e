"""Goodfellow et al.'s GAN with MLPs on ring8, the 8-Gaussian ring (PacGAN setup).

Goodfellow et al. 2014, arXiv:1406.2661: the minimax discriminator loss and a
maxout discriminator; the generator uses the non-saturating loss the paper
recommends in practice (set loss.name=minimax for the saturating original).
Data: 8 Gaussians on the unit circle, sigma = 0.01 (Lin et al. 2018,
arXiv:1712.04086). Generator 4 x 400 ReLU + BatchNorm, z 2-D; discriminator
3 x 200 maxout (5 pieces); Adam(1e-4, 0.8) as in PacGAN.

Expected: samples in runs/gan_mlp/samples on the ring; plain GANs often miss
modes here, which is the point of the benchmark.

  python launch.py --config experiments/gan_mlp.py
"""

from gans_jax.families.gan import default_config
from gans_jax.optim import optimizer_config


def get_config():
  config = default_config()

  # Data
  config.dataset.name = "ring8"
  config.dataset.resolution = None  # points, not images

  # Networks
  config.model.arch = "mlp"
  config.model.z_dim = 2
  config.model.g_hidden = (400, 400, 400, 400)
  config.model.g_batch_norm = True
  config.model.d_hidden = (200, 200, 200)
  config.model.d_activation = "maxout"
  config.model.maxout_pieces = 5
  config.model.d_norm = "none"

  # Objective
  config.loss.name = "non_saturating"

  # Optimizers
  config.optimizer.g = optimizer_config("adam", 1e-4, b1=0.8, b2=0.999)
  config.optimizer.d = optimizer_config("adam", 1e-4, b1=0.8, b2=0.999)

  # XLA:CPU: keep YNNPACK's dot fusions but not its reduce fusions, which
  # otherwise take the maxout's max (and its gradient's tie count) into the
  # dots. Measured on the 2-core CPU, `--workload pacgan_mlp`: ~16 -> ~11 ms per
  # step (docs/benchmarks.md, "Speed"). Ignored on GPU/TPU.
  config.parallel.cpu_compiler_options = (
      "xla_cpu_experimental_ynn_fusion_type="
      "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION")

  # Schedule
  config.train.num_steps = 5000
  config.train.batch_size = 100
  config.log_every = 100
  config.sample_every = 1000
  config.checkpoint_every = 1000
  config.eval.num_samples = 2500  # PacGAN scores 2,500 samples
  return config
