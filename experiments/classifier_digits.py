"""The digits domain classifier: the feature extractor for evaluating digit generators.

A small CNN (gans_jax/nets/classifier.py) trained on the digits train split at
the resolution the GAN configs use (16x16). Its penultimate features feed
FID/KID/precision-recall/density-coverage and its softmax the Inception Score.
Expected test accuracy >= 97 % on the 360 held-out digits. Evaluation finds it
in runs/classifier_digits (config.eval.classifier_dir).

  python launch.py --config experiments/classifier_digits.py
"""

import ml_collections
from ml_collections import config_dict


def get_config():
  config = ml_collections.ConfigDict()
  config.task = "classifier"
  config.seed = 0

  # Data
  config.dataset = ml_collections.ConfigDict()
  config.dataset.name = "digits"
  config.dataset.data_dir = config_dict.placeholder(str)
  config.dataset.resolution = 16

  # Network
  config.model = ml_collections.ConfigDict()
  config.model.width = 32
  config.model.feature_dim = 128
  config.model.dropout = 0.3

  # Optimizer
  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.learning_rate = 1e-3
  config.optimizer.weight_decay = 1e-4

  # Schedule
  config.train = ml_collections.ConfigDict()
  config.train.num_steps = 1500
  config.train.batch_size = 128
  return config
