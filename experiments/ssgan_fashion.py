"""Semi-supervised K+1 GAN on Fashion-MNIST with 100 labels (Salimans et al. 2016, arXiv:1606.03498).

Section 5 of "Improved Techniques for Training GANs" with their CIFAR-10 / SVHN style discriminator
(model.arch 'conv', gans_jax/nets/semi_supervised.py): dropout 0.2 on the input and 0.5 after each
stride-2 block, Gaussian noise (std 0.15) on the input, weight-normalised 3x3 convolutions of 32 and
64 channels (theirs 96 and 192) with leaky ReLU(0.2), global average pooling, a 10-way head whose
11th (fake) class has logit 0. Cross-entropy on 100 labelled training images (10 per class, chosen
from the seed) plus the real/fake loss on the other 59,900; the generator (the DCGAN generator,
BatchNorm, 32 channels in its last stage) trains by feature matching on the pooled features.
Adam(5e-4, b1 0.5), decaying linearly to 0 over the second half of 2,000 steps; 64 labelled + 64
unlabelled + 64 generated images per step (theirs 100 each); 32x32.

--mode=eval reports test_accuracy on the 10,000 test images and supervised_baseline_accuracy, the
same network, initial parameters, optimizer and steps trained on the 100 labels alone (the issue
asks for >= 5 points above it). Measured (seed 0, docs/real_data.md): test accuracy 0.620 against
the baseline's 0.645, 2.5 points below it: the goal is not met. 1.28-1.30 steps/s alone (about
26 min of training).

  python launch.py --config experiments/ssgan_fashion.py
  python benchmarks/ssgan_accuracy.py --config experiments/ssgan_fashion.py --seeds 3
"""

from gans_jax.data.idx import FASHION_MNIST
from gans_jax.families.ssgan import default_config
from gans_jax.optim import optimizer_config


def get_config():
  config = default_config()

  # Data
  config.dataset.name = FASHION_MNIST
  config.dataset.resolution = 32
  config.dataset.num_labeled = 100

  # Networks
  config.model.arch = "conv"
  config.model.z_dim = 100
  config.model.d_width = 32
  config.model.g_width = 32
  config.model.input_noise = 0.15
  config.model.hidden_noise = 0.0
  config.model.input_dropout = 0.2
  config.model.hidden_dropout = 0.5
  config.model.weight_norm = True

  # Objective
  config.loss.unsupervised_weight = 1.0

  # Optimizers
  config.optimizer.g = optimizer_config("adam", 5e-4, b1=0.5, b2=0.999)
  config.optimizer.d = optimizer_config("adam", 5e-4, b1=0.5, b2=0.999)
  config.optimizer.decay_start = 0.5  # then linear decay to 0 at the last step

  # Schedule
  config.train.num_steps = 2000
  config.train.batch_size = 64
  config.train.labeled_batch_size = 64
  config.log_every = 50
  config.sample_every = 500
  config.checkpoint_every = 500

  # Evaluation: in the Fashion-MNIST classifier's features
  config.eval.classifier_dir = "runs/classifier_fashion"
  return config
