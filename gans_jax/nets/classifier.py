"""A small CNN domain classifier: the feature extractor for evaluating generators.

Inception features suit natural images, not 8x8 digits (seed 000), so each
dataset gets its own classifier trained on its labels; its penultimate
features feed FID/KID/precision-recall/density-coverage and its softmax feeds
the Inception Score (the recipe of e.g. Lucic et al. 2018, arXiv:1711.10337,
for MNIST-like data).
"""

import flax.linen as nn
import jax.numpy as jnp


class Classifier(nn.Module):
  """images [B, R, R, C] in [-1, 1] -> (logits [B, num_classes], features [B, feature_dim]).

  Conv(3x3) blocks with stride-2 downsampling to 4x4, then a Dense feature layer.
  No BatchNorm, so features of an example do not depend on its batch.
  """
  num_classes: int = 10
  width: int = 32
  feature_dim: int = 128
  dropout: float = 0.3

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False):
    h = x
    channels = self.width
    while h.shape[1] > 4:
      h = nn.relu(nn.Conv(channels, (3, 3), padding="SAME")(h))
      h = nn.relu(nn.Conv(channels, (3, 3), strides=(2, 2), padding="SAME")(h))
      channels *= 2
    h = h.reshape((h.shape[0], -1))
    features = nn.relu(nn.Dense(self.feature_dim)(h))
    h = nn.Dropout(self.dropout, deterministic=not train)(features)
    logits = nn.Dense(self.num_classes)(h)
    return logits, features
