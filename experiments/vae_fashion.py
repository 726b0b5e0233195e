"""VAE on Fashion-MNIST at 32x32 (Kingma & Welling 2014, arXiv:1312.6114).

experiments/vae.py's model at 32x32: a conv encoder to a diagonal Gaussian over 32 latents, a
DCGAN-generator decoder, a Gaussian likelihood on [-1, 1] pixels with a fixed sigma = exp(-0.5),
Adam(1e-3), 4,000 steps of 64. --mode=eval reports the sample FID in
experiments/classifier_fashion.py's features, the test ELBO and the importance-weighted bound
(Burda et al. 2016).

The samples scored come from a mixture of 10 Gaussians fitted after training to the aggregate
posterior (eval.latent_prior 'gmm', gans_jax/latent_prior.py), and the bounds are that model's.

Measured (seeds 0-2, 5,000 samples each; docs/real_data.md): FID 34.4 / 40.2 / 39.5 (mean 38.0)
against a train-vs-test floor of 0.319 in those features, precision 0.779, recall 0.603, test ELBO
-494.9 nats, importance-weighted bound -488.0 (k = 100), recon_mse 0.025; 4,000 steps in 224-235 s
alone on the 2-core CPU. With samples from N(0, I): FID 187.1 +- 9.2, ELBO -500.4, IW -493.1.

In the zoo (`python benchmarks/zoo.py --only vae_fashion --seeds 3`, 2026-12-08, each run alone, in
the features of runs/classifier_fashion retrained 2026-12-07, test accuracy 0.9232, floor 0.319): the
same three runs to the digit, trained in 305 s (seed 0, 2026-12-07), 280 s and 291 s.

  python launch.py --config experiments/vae_fashion.py
  python launch.py --config experiments/vae_fashion.py --mode=eval   # needs runs/classifier_fashion
"""

from gans_jax.data.idx import FASHION_MNIST
from gans_jax.families.vae import default_config


def get_config():
  config = default_config()

  # Data
  config.dataset.name = FASHION_MNIST
  config.dataset.resolution = 32

  # Networks
  config.model.arch = "dcgan"
  config.model.z_dim = 32
  config.model.e_width = 32
  config.model.g_width = 32
  config.model.e_norm = "batch"

  # Objective
  config.loss.likelihood = "gaussian"
  config.loss.log_scale = -0.5
  config.loss.learn_scale = False
  config.loss.beta = 1.0

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
