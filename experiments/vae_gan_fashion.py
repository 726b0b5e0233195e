"""VAE-GAN on Fashion-MNIST at 32x32 (Larsen et al. 2016, arXiv:1512.09300).

The VAE of experiments/vae_fashion.py (same encoder and decoder) plus a DCGAN discriminator;
reconstructions are scored in the discriminator's last conv features and encoder, decoder and
discriminator each step on their own loss (Algorithm 1) with the paper's weights gamma = beta = 1.
The discriminator is spectrally normalised (no BatchNorm), the decoder's moving average (0.999)
samples and is evaluated, and all three networks train with Adam(6e-4, 0.5). --mode=eval reports
the sample FID in experiments/classifier_fashion.py's features, the ELBO and the importance-weighted
bound at the VAE's pixel scale sigma = e^-0.5 (`loss.log_scale`), so the bounds compare with it.

Why gamma = beta = 1: with a spectrally normalised D the feature likelihood L_llike is small, and
with experiments/vae_gan.py's gamma = 0.01, beta = 10 the encoder gives up (training KL 1.1 nats,
reconstructions lost); at gamma = beta = 1 the KL grows to 10.9 nats and the reconstructions stay.
Of gamma 0.1, 1, 3 and 10 (seed 0, mixture prior) gamma = 1 scores best: FID 49.7, 32.3, 43.2, 51.1
(docs/real_data.md).

The samples scored come from a mixture of 10 Gaussians fitted after training to the aggregate
posterior (eval.latent_prior 'gmm', gans_jax/latent_prior.py), and the bounds are that model's.

Measured (seeds 0-2, 5,000 samples each; docs/real_data.md): FID 32.3 / 37.2 / 45.3 (mean 38.3)
against experiments/vae_fashion.py's 38.0 with the same prior: a tie, so the real-data issue's
"VAE-GAN below the VAE" is not met with it (with N(0, I) for both it is: 103.4 +- 3.0 against
187.1 +- 9.2); precision 0.832, recall 0.394 (the VAE: 0.779, 0.603); test ELBO -545.4 and IW
bound (k = 100) -510.7 nats (the VAE: -494.9, -488.0); recon_mse 0.054-0.062; 4,000 steps in
585 s and 592 s alone (seeds 1, 2).

In the zoo (`python benchmarks/zoo.py --only vae_gan_fashion --seeds 1`, 2026-12-07, seed 0, alone;
the zoo classifier's features, floor 0.342): FID 35.4 against vae_fashion's 34.3 (goal: below it,
missed), precision 0.834, recall 0.395, test ELBO -542.7, IW bound -509.2 nats, 719 s.

  python launch.py --config experiments/vae_gan_fashion.py
  python launch.py --config experiments/vae_gan_fashion.py --mode=eval   # needs runs/classifier_fashion
"""

from gans_jax.data.idx import FASHION_MNIST
from gans_jax.families.vae_gan import default_config
from gans_jax.optim import optimizer_config


def get_config():
  config = default_config()

  # Data
  config.dataset.name = FASHION_MNIST
  config.dataset.resolution = 32

  # Networks (encoder and decoder as experiments/vae_fashion.py)
  config.model.arch = "dcgan"
  config.model.z_dim = 32
  config.model.e_width = 32
  config.model.g_width = 32
  config.model.d_width = 32
  config.model.e_norm = "batch"
  config.model.d_norm = "none"
  config.model.d_spectral_norm = True

  # Objective: the paper's weights; the evaluation's pixel scale is the VAE's
  config.loss.gamma = 1.0
  config.loss.beta = 1.0
  config.loss.log_scale = -0.5

  # Optimizers and the decoder's moving average
  for name in ("encoder", "decoder", "d"):
    config.optimizer[name] = optimizer_config("adam", 6e-4, b1=0.5, b2=0.999)
  config.ema.decay = 0.999

  # Schedule
  config.train.num_steps = 4000
  config.train.batch_size = 64
  config.log_every = 100
  config.sample_every = 1000
  config.checkpoint_every = 1000

  # Evaluation: in the Fashion-MNIST classifier's features
  config.eval.classifier_dir = "runs/classifier_fashion"
  # z for --mode=eval and --mode=sample from a mixture of 10 Gaussians fitted after training to
  # the aggregate posterior (gans_jax/latent_prior.py; docs/real_data.md).
  config.eval.latent_prior = "gmm"
  return config
