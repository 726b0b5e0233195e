"""The ResNet image-to-image generator of CycleGAN (Johnson et al.'s transformation network).

Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution", 2016, arXiv:1603.08155; as used by Zhu, Park, Isola & Efros,
"Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks", 2017, arXiv:1703.10593 (Appendix 7.2):

  c7s1-k, d2k, d4k, R4k x num_blocks, u2k, uk, c7s1-C, tanh

c7s1-k: reflect-pad 3, 7x7 conv, k filters, stride 1, instance norm, ReLU;
dk: 3x3 conv stride 2, instance norm, ReLU; Rk: two reflect-padded 3x3 convs
with instance norm and a skip; uk: 3x3 transposed conv stride 2 (output twice
the input side), instance norm, ReLU. Instance normalisation has no running
statistics, so the module is the same function in training and inference.
"""

import flax.linen as nn
import jax.numpy as jnp


def reflect_pad(x, p: int):
  return jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")


def instance_norm():
  # Per example and channel over H, W (Ulyanov et al. 2016, arXiv:1607.08022), with a learned affine.
  return nn.InstanceNorm(epsilon=1e-5)


class ResidualBlock(nn.Module):
  """Rk: x + IN(conv3x3(relu(IN(conv3x3(x)))))."""
  width: int

  @nn.compact
  def __call__(self, x):
    h = nn.Conv(self.width, (3, 3), padding="VALID")(reflect_pad(x, 1))
    h = nn.relu(instance_norm()(h))
    h = nn.Conv(self.width, (3, 3), padding="VALID")(reflect_pad(h, 1))
    return x + instance_norm()(h)


class ResnetGenerator(nn.Module):
  """Image [B, H, W, C_in] in [-1, 1] -> image [B, H, W, channels] in [-1, 1].

  Attributes:
    channels: output channels C.
    width: k, the channels of the first layer (the paper: 64).
    num_blocks: residual blocks at 1/4 resolution (the paper: 6 at 128px, 9 at 256px).
    num_downsampling: d stride-2 convs before the blocks and d transposed convs after them.
  H and W must be divisible by 2^num_downsampling.
  """
  channels: int
  width: int = 64
  num_blocks: int = 6
  num_downsampling: int = 2  # stride-2 stages (the paper: 2); 0 keeps every block at full size

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train  # instance norm: the same computation in both modes
    k = self.width
    h = nn.Conv(k, (7, 7), padding="VALID")(reflect_pad(x, 3))
    h = nn.relu(instance_norm()(h))
    mults = [2 ** i for i in range(1, self.num_downsampling + 1)]  # d2k, d4k, ...
    for mult in mults:
      h = nn.Conv(k * mult, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))(h)
      h = nn.relu(instance_norm()(h))
    for _ in range(self.num_blocks):
      h = ResidualBlock(k * (mults[-1] if mults else 1))(h)
    for mult in [m // 2 for m in reversed(mults)]:  # u2k, uk
      # padding 'SAME' with stride 2 doubles the side (PyTorch: padding=1, output_padding=1).
      h = nn.ConvTranspose(k * mult, (3, 3), strides=(2, 2), padding="SAME")(h)
      h = nn.relu(instance_norm()(h))
    h = nn.Conv(self.channels, (7, 7), padding="VALID")(reflect_pad(h, 3))
    return jnp.tanh(h)
