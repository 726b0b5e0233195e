"""The PatchGAN discriminator: one realness score per overlapping image patch.

Isola, Zhu, Zhou & Efros, "Image-to-Image Translation with Conditional
Adversarial Networks", 2017, arXiv:1611.07004; CycleGAN's discriminator
(Zhu et al. 2017, arXiv:1703.10593, Appendix 7.2):

  C64 - C128 - C256 - C512 - conv to 1 channel

Ck: 4x4 conv (padding 1) with k filters, instance norm (not on the first),
LeakyReLU 0.2. The first `num_layers` stages have stride 2, then one stride-1
stage and the stride-1 output conv; each stride-1 4x4 conv with padding 1
shrinks the side by 1, so a 16x16 input with num_layers=2 gives a 2x2 score map.
The losses (`gans_jax.losses.least_squares_*`) average over any score shape.
"""

import flax.linen as nn

from gans_jax.nets.resnet import instance_norm

_PAD = ((1, 1), (1, 1))


class PatchGANDiscriminator(nn.Module):
  """Image [B, H, W, C] -> scores [B, h, w] (one per receptive-field patch).

  Attributes:
    width: channels of the first stage (the paper: 64); doubled per stage, at most 8x.
    num_layers: stages after the first; all but the last have stride 2 (the paper: 3, 70x70
      patches; 0: the first stage and the output conv only, 10x10 patches).
  """
  width: int = 64
  num_layers: int = 3

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train  # instance norm: the same computation in both modes
    h = nn.leaky_relu(nn.Conv(self.width, (4, 4), strides=(2, 2), padding=_PAD)(x), 0.2)
    for i in range(1, self.num_layers + 1):
      stride = 2 if i < self.num_layers else 1
      h = nn.Conv(self.width * min(2 ** i, 8), (4, 4), strides=(stride, stride), padding=_PAD)(h)
      h = nn.leaky_relu(instance_norm()(h), 0.2)
    return nn.Conv(1, (4, 4), padding=_PAD)(h)[..., 0]


def score_map_side(resolution: int, num_layers: int) -> int:
  """The side h = w of the score map for a resolution x resolution input (<= 0: too small)."""
  side = (resolution - 2) // 2 + 1  # the first stage
  for i in range(1, num_layers + 1):
    side = (side - 2) // 2 + 1 if i < num_layers else side - 1
  return side - 1  # the output conv
