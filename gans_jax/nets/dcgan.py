"""DCGAN generator and discriminator (Radford, Metz & Chintala 2016, arXiv:1511.06434).

Generator: Dense -> 4x4 map -> [ConvTranspose(4, stride 2) -> BatchNorm -> ReLU]
  ... -> ConvTranspose to the image channels -> tanh.
Discriminator: strided Conv(4, stride 2) -> LeakyReLU(0.2), a normalisation on
  every layer but the first, no pooling, then one linear score. With
  ``norm='layer'`` or ``'none'`` it is a critic fit for a gradient penalty
  (Gulrajani et al. 2017, arXiv:1704.00028, sec. 4: no BatchNorm in the critic).

Both are sized from the resolution: log2(resolution / 4) up/down-sampling
stages, so 8x8 has one stage and 64x64 four. Widths double towards the 4x4
end: ``width * 2**i`` channels at stage i.

How the 4x4 stride-2 convolutions are computed (`conv_impl`; the function,
the parameters and their names are the same either way):

* ``'xla'``: `flax.linen.Conv` / `ConvTranspose`, i.e. `lax.conv_general_dilated`
  with window strides, and with ``lhs_dilation=2`` for the transposed one.
* ``'gemm'``: each layer as matrix products XLA:CPU runs at GEMM
  speed. A strided conv is im2col (16 strided slices of the padded input)
  times the [16 C, O] kernel. A transposed conv is four sub-pixel phases
  (output pixel (2m + r, 2n + s) sees only 2x2 of the 4x4 taps), each a
  2x2 im2col times a [4 C, O] slice of the kernel, interleaved
  (depth-to-space). On XLA:CPU, the input-dilated convolutions of the 'xla'
  form (the transposed conv, and the input gradient of every strided conv,
  which WGAN-GP's penalty differentiates again) run far below GEMM speed, and
  the dilated form also multiplies 3 zeros for every useful tap; in the 'gemm'
  form every derivative is again slices, pads and matrix products.
* ``'winograd'``: the 'gemm' form's matrix products with 9/16 of
  the multiply-adds, by Winograd's F(2x2, 2x2) (`gans_jax.nets.winograd`), for
  strided convs whose input has H, W multiples of 4 and at least 8 channels
  and for transposed convs with at least 8 output channels; other layers (the
  image-channel ones) take the 'gemm' or 'xla' form as before. Equal to the
  others up to float32 rounding (not bit-equal). Reverse mode of any order;
  no forward mode (`jax.jvp`): use 'gemm' for that.
* ``'auto'`` (default): 'winograd' on CPUs, 'xla' on GPUs and TPUs
  (`resolve_conv_impl`). The rewrites above answer XLA:CPU's slow dilated
  convolutions; on GPUs and TPUs cuDNN and the TPU compiler implement
  convolutions directly (the rewrites were measured on CPUs only).

See benchmarks/throughput.py and docs/benchmarks.md for the measured effect.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans_jax.nets import improved, precision, winograd

NORMS = ("batch", "layer", "none")
CONV_IMPLS = ("gemm", "winograd", "xla")
CONV_IMPL_CHOICES = ("auto",) + CONV_IMPLS  # 'auto': one of CONV_IMPLS by platform
_DN = ("NHWC", "HWIO", "NHWC")

# Sub-pixel phases of a 4x4, stride-2, SAME transposed convolution (flax's
# ConvTranspose, kernel not flipped): with the input padded by 1, output row
# 2m + r sums input rows m + offset times kernel row index, for
# r = 0: (offset 0, index 0), (1, 2); r = 1: (1, 1), (2, 3).
_PHASE_TAPS = {0: ((0, 0), (1, 2)), 1: ((1, 1), (2, 3))}


def conv4x4s2(x: jnp.ndarray, kernel: jnp.ndarray, dtype=None) -> jnp.ndarray:
  """``lax.conv_general_dilated(x, kernel, (2, 2), 'SAME')`` for even H, W as one GEMM
  (`dtype`: see `gans_jax.nets.precision`).

  x [B, H, W, C], kernel [4, 4, C, O] (HWIO) -> [B, H/2, W/2, O]. SAME padding
  is 1 on each side here; output (i, j) takes padded rows 2i..2i+3 and
  columns 2j..2j+3.
  """
  b, h, w, c = x.shape
  ho, wo = h // 2, w // 2
  xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  patches = jnp.concatenate([xp[:, i:i + 2 * ho:2, j:j + 2 * wo:2, :]
                             for i in range(4) for j in range(4)], axis=-1)
  out = precision.matmul(patches.reshape(b * ho * wo, 16 * c), kernel.reshape(16 * c, -1),
                         dtype)
  return out.reshape(b, ho, wo, -1)


def conv_transpose4x4s2(x: jnp.ndarray, kernel: jnp.ndarray, dtype=None) -> jnp.ndarray:
  """``lax.conv_transpose(x, kernel, (2, 2), 'SAME')`` as four sub-pixel GEMMs (`dtype` as
  `conv4x4s2`'s).

  x [B, H, W, C], kernel [4, 4, C, O] -> [B, 2H, 2W, O].
  """
  b, h, w, c = x.shape
  xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  rows = []
  for r in (0, 1):
    cols = []
    for s in (0, 1):
      taps = [(oi, oj, ki, kj) for oi, ki in _PHASE_TAPS[r] for oj, kj in _PHASE_TAPS[s]]
      patches = jnp.concatenate([xp[:, oi:oi + h, oj:oj + w, :] for oi, oj, _, _ in taps], -1)
      k = jnp.concatenate([kernel[ki, kj] for _, _, ki, kj in taps], axis=0)  # [4 C, O]
      cols.append(precision.matmul(patches.reshape(b * h * w, 4 * c), k, dtype)
                  .reshape(b, h, w, -1))
    rows.append(jnp.stack(cols, axis=3))     # [B, H, W, 2 (s), O]
  out = jnp.stack(rows, axis=2)              # [B, H, 2 (r), W, 2 (s), O]
  return out.reshape(b, 2 * h, 2 * w, -1)


def resolve_conv_impl(impl: str, platform: str | None = None) -> str:
  """The form `impl` names on `platform`: 'auto' is 'winograd' on 'cpu' and 'xla' elsewhere
  ('gpu', 'tpu'); 'gemm', 'winograd' and 'xla' are themselves.

  Args:
    impl: one of CONV_IMPL_CHOICES.
    platform: a JAX platform name; None: `jax.default_backend()`, where the networks run.
  """
  if impl != "auto":
    return impl
  platform = jax.default_backend() if platform is None else platform
  return "winograd" if platform == "cpu" else "xla"


class _Conv4x4s2Base(nn.Module):
  """Kernel [4, 4, C, O] (lecun_normal) and optional bias (zeros): flax's Conv/ConvTranspose params."""
  features: int
  use_bias: bool = True
  impl: str = "auto"
  dtype: str = "float32"  # the products' operands (gans_jax.nets.precision)

  def _conv(self, x: jnp.ndarray, kernel: jnp.ndarray) -> jnp.ndarray:
    raise NotImplementedError

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        (4, 4, x.shape[-1], self.features), x.dtype)
    y = self._conv(x, kernel)
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros_init(), (self.features,), x.dtype)
    return y


class Conv4x4s2(_Conv4x4s2Base):
  """A 4x4 stride-2 SAME convolution with `flax.linen.Conv`'s parameters and init."""

  def _conv(self, x, kernel):
    impl, dtype = resolve_conv_impl(self.impl), precision.compute_dtype(self.dtype)
    if impl == "xla" or x.shape[1] % 2 or x.shape[2] % 2:
      return precision.conv(x, kernel, (2, 2), "SAME", _DN, dtype)
    if impl == "winograd" and x.shape[1] % 4 == 0 and x.shape[2] % 4 == 0 and x.shape[3] >= 8:
      return winograd.conv4x4s2(x, kernel, dtype)
    return conv4x4s2(x, kernel, dtype)


class ConvTranspose4x4s2(_Conv4x4s2Base):
  """A 4x4 stride-2 SAME transposed convolution with `flax.linen.ConvTranspose`'s
  parameters and init. Outputs with few channels (the image layer) keep XLA's
  form, which is faster there (measured)."""

  def _conv(self, x, kernel):
    impl, dtype = resolve_conv_impl(self.impl), precision.compute_dtype(self.dtype)
    if impl == "xla" or self.features < 8:
      return precision.conv_transpose(x, kernel, (2, 2), "SAME", _DN, dtype)
    if impl == "winograd" and x.shape[1] % 2 == 0 and x.shape[2] % 2 == 0:
      return winograd.conv_transpose4x4s2(x, kernel, dtype)
    return conv_transpose4x4s2(x, kernel, dtype)


def num_stages(resolution: int) -> int:
  """Number of stride-2 stages between 4x4 and `resolution` (8 -> 1, 64 -> 4)."""
  stages = int(round(math.log2(resolution / 4)))
  if resolution not in (8, 16, 32, 64) or 4 * 2**stages != resolution:
    raise ValueError(f"resolution must be 8, 16, 32 or 64, got {resolution}")
  return stages


class DCGANGenerator(nn.Module):
  """z [B, Z] -> images [B, R, R, C] in [-1, 1]."""
  resolution: int = 32
  channels: int = 1
  width: int = 64
  axis_name: str | None = None  # BatchNorm statistics across replicas (pmap/shard_map)
  conv_impl: str = "auto"   # auto | winograd | gemm | xla (same function and parameters; see above)
  dtype: str = "float32"    # float32 | bfloat16: the products' operands (gans_jax.nets.precision)
  # > 0: VirtualBatchNorm with this many fixed reference latents instead of
  # BatchNorm (Salimans et al. 2016; gans_jax.nets.improved).
  vbn_reference: int = 0

  @nn.compact
  def __call__(self, z: jnp.ndarray, train: bool = True) -> jnp.ndarray:
    stages = num_stages(self.resolution)
    bn = lambda: improved.generator_norm(self, train)
    top = self.width * 2 ** (stages - 1)
    zr = improved.reference_batch(self, z, self.vbn_reference) if self.vbn_reference else z
    x = nn.Dense(4 * 4 * top, use_bias=False,
                 dot_general=precision.dense_dot_general(precision.compute_dtype(self.dtype)))(zr)
    x = nn.relu(bn()(x.reshape((zr.shape[0], 4, 4, top))))
    # Names as flax.linen.ConvTranspose's, so both conv_impl share checkpoints.
    for n, i in enumerate(reversed(range(stages - 1))):
      x = ConvTranspose4x4s2(self.width * 2**i, use_bias=False, impl=self.conv_impl,
                             dtype=self.dtype, name=f"ConvTranspose_{n}")(x)
      x = nn.relu(bn()(x))
    x = ConvTranspose4x4s2(self.channels, impl=self.conv_impl, dtype=self.dtype,
                           name=f"ConvTranspose_{stages - 1}")(x[x.shape[0] - z.shape[0]:])
    return jnp.tanh(x)


def discriminator_norm(x: jnp.ndarray, norm: str, axis_name: str | None,
                       train: bool) -> jnp.ndarray:
  """`norm` (one of NORMS) of a discriminator's activations x [B, H, W, C], created in the
  calling module's compact scope: BatchNorm (statistics over `axis_name` in training),
  LayerNorm over (H, W, C) of each example (no coupling across the batch, fit for a gradient
  penalty), or none."""
  if norm == "batch":
    return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                        axis_name=axis_name if train else None)(x)
  if norm == "layer":
    return nn.LayerNorm(reduction_axes=(-3, -2, -1), feature_axes=-1)(x)
  return x


def discriminator_trunk(module: nn.Module, x: jnp.ndarray, train: bool) -> jnp.ndarray:
  """The DCGAN discriminator's conv stack, built inside `module`'s compact call.

  Strided 4x4 convs with LeakyReLU(0.2) and `module.norm` after every conv but
  the first; returns the flattened last-stage features [B, F]. `module` gives
  resolution, width, norm, axis_name and conv_impl. The layers are created in
  the caller's scope, so every module that uses the trunk (the discriminator,
  the VAE encoder) has the same parameter names: Conv_i, BatchNorm_j / LayerNorm_j.
  A `module` without a `dtype` computes in float32.
  """
  dtype = getattr(module, "dtype", "float32")
  for i in range(num_stages(module.resolution)):
    # Named as flax.linen.Conv's, so both conv_impl share checkpoints.
    x = Conv4x4s2(module.width * 2**i, use_bias=(i == 0 or module.norm == "none"),
                  impl=module.conv_impl, dtype=dtype, name=f"Conv_{i}")(x)
    if i > 0:
      x = discriminator_norm(x, module.norm, module.axis_name, train)
    x = nn.leaky_relu(x, negative_slope=0.2)
  return x.reshape((x.shape[0], -1))


class DCGANDiscriminator(nn.Module):
  """images [B, R, R, C] -> (scores [B], features [B, F])."""
  resolution: int = 32
  width: int = 64
  norm: str = "batch"
  axis_name: str | None = None  # BatchNorm statistics across replicas (pmap/shard_map)
  conv_impl: str = "auto"   # auto | winograd | gemm | xla (same function and parameters; see above)
  dtype: str = "float32"    # float32 | bfloat16: the products' operands (gans_jax.nets.precision)
  # > 0: minibatch discrimination features appended before the score (nets.improved).
  minibatch_kernels: int = 0
  minibatch_kernel_dim: int = 5

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True):
    if self.norm not in NORMS:
      raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
    features = discriminator_trunk(self, x, train)
    dense = nn.Dense(1, dot_general=precision.dense_dot_general(
        precision.compute_dtype(self.dtype)))
    scores = dense(improved.with_minibatch_features(self, features, train))[:, 0]
    return scores, features
