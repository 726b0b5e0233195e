"""The digits domain classifier: the feature extractor for evaluating digit generators.

A small CNN (gans_jax/nets/classifier.py) trained on the digits train split at
the resolution the GAN configs use (16x16), on the shared trainer (resume,
devices, metrics.jsonl, Ctrl-C). Its penultimate features feed
FID/KID/precision-recall/density-coverage and its softmax the classifier score.
Evaluation finds it in runs/classifier_digits (config.eval.classifier_dir).

Measured (seed 0, these defaults, 2-core CPU): test accuracy 0.9889 on the 360 held-out digits (train
1.0000); the whole command took 62 s.

  python launch.py --config experiments/classifier_digits.py
"""

from gans_jax.families import classifier


def get_config():
  config = classifier.default_config()

  # Data
  config.dataset.name = "digits"
  config.dataset.resolution = 16

  # Network
  config.model.width = 32
  config.model.feature_dim = 128
  config.model.dropout = 0.3

  # Optimizer (AdamW)
  config.optimizer.learning_rate = 1e-3
  config.optimizer.weight_decay = 1e-4

  # Schedule
  config.train.num_steps = 1500
  config.train.batch_size = 128
  config.log_every = 100
  config.sample_every = 1500
  config.checkpoint_every = 500
  return config
