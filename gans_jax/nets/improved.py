"""Network pieces of Salimans et al.'s improved techniques and of PacGAN.

* `minibatch_features` / `MinibatchDiscrimination` (Salimans et al. 2016,
  arXiv:1606.03498, section 3.2): features that compare each example with the
  rest of its batch, appended to the discriminator's last features.
* `VirtualBatchNorm` and `reference_batch` (section 3.4): normalisation by the
  statistics of a reference batch fixed at the start of training plus the
  example itself, so an example's output does not depend on its batch.
* `pack` (Lin, Khetan, Fanti & Oh 2018, arXiv:1712.04086): m samples
  concatenated into one discriminator input.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


def minibatch_features(m_local: jnp.ndarray, axis_name: str | None = None) -> jnp.ndarray:
  r"""Minibatch discrimination's closeness features.

  .. math::
    o(x_i)_b = \sum_{j} \exp\big(-\lVert M_{i,b} - M_{j,b} \rVert_1\big),

  the sum over every example j of the batch, i itself included (it adds
  exp(0) = 1), the L1 norm over the C entries of row b.

  Args:
    m_local: :math:`M = f(x) T` reshaped, shape ``[B, num_kernels, kernel_dim]``.
    axis_name: a device axis the batch is split over: j then runs over the
      whole (global) batch, gathered with ``all_gather``, so N devices compute
      what one device computes on the same global batch (gradients included:
      the transpose of the gather returns each example's share).

  Returns:
    ``[B, num_kernels]`` for the local examples.
  """
  m_all = jax.lax.all_gather(m_local, axis_name, tiled=True) if axis_name else m_local
  l1 = jnp.sum(jnp.abs(m_local[:, None, :, :] - m_all[None, :, :, :]), axis=-1)  # [B, B_all, K]
  return jnp.sum(jnp.exp(-l1), axis=1)


class MinibatchDiscrimination(nn.Module):
  """features f [B, A] -> concat(f, o(f)) [B, A + num_kernels] (see `minibatch_features`).

  T ∈ R^{A × num_kernels × kernel_dim} is the layer's kernel (Salimans et al.
  initialise it with N(0, 0.05²), as here). `axis_name` gathers the batch over
  devices in training; without training (`train=False`, e.g. at init, outside
  the device map) the local batch is compared only.
  """
  num_kernels: int
  kernel_dim: int = 5
  axis_name: str | None = None

  @nn.compact
  def __call__(self, f: jnp.ndarray, train: bool = True) -> jnp.ndarray:
    t = self.param("T", nn.initializers.normal(0.05),
                   (f.shape[-1], self.num_kernels * self.kernel_dim), f.dtype)
    m = jnp.dot(f, t).reshape((f.shape[0], self.num_kernels, self.kernel_dim))
    o = minibatch_features(m, self.axis_name if train else None)
    return jnp.concatenate([f, o.astype(f.dtype)], axis=-1)


def with_minibatch_features(module: nn.Module, features: jnp.ndarray, train: bool) -> jnp.ndarray:
  """`features`, with minibatch discrimination's appended when `module.minibatch_kernels` > 0
  (`module` gives minibatch_kernels, minibatch_kernel_dim and axis_name)."""
  if not getattr(module, "minibatch_kernels", 0):
    return features
  return MinibatchDiscrimination(module.minibatch_kernels, module.minibatch_kernel_dim,
                                 module.axis_name)(features, train)


def reference_batch(module: nn.Module, z: jnp.ndarray, num_reference: int) -> jnp.ndarray:
  """``concat(z_ref, z)``: the reference latents, fixed at init, in front of the batch.

  z_ref [num_reference, Z] ~ N(0, I) is drawn once from the ``'params'`` RNG at
  init and kept in the ``'batch_stats'`` collection: the non-trained state a
  TrainState carries, replicates and checkpoints, so training, sampling and a
  resumed run all use the same reference batch.
  """
  z_ref = module.variable(
      "batch_stats", "vbn_reference_z",
      lambda: jax.random.normal(module.make_rng("params"), (num_reference,) + z.shape[1:],
                                z.dtype)).value
  return jnp.concatenate([z_ref, z], axis=0)


class VirtualBatchNorm(nn.Module):
  r"""Virtual batch normalisation of ``h [R + B, ..., F]`` whose first R rows are the reference batch.

  Per feature, with :math:`\mu_r, s_r` the mean and mean square of the R
  reference rows (over the batch and every spatial axis), and :math:`m_i, q_i`
  example i's own mean and mean square over its spatial axes (the values
  themselves for a vector),

  .. math::
    \mu_i = \frac{R \mu_r + m_i}{R + 1}, \quad
    \sigma_i^2 = \frac{R s_r + q_i}{R + 1} - \mu_i^2, \quad
    y_i = \gamma \frac{h_i - \mu_i}{\sqrt{\sigma_i^2 + \epsilon}} + \beta,

  the example weighted as one of R + 1 (Salimans et al.'s code,
  openai/improved-gan imagenet/vbn). The reference rows are normalised with
  :math:`\mu_r, s_r` alone. Example i's output depends only on itself and the
  reference batch.
  """
  num_reference: int
  epsilon: float = 1e-5

  @nn.compact
  def __call__(self, h: jnp.ndarray) -> jnp.ndarray:
    r = self.num_reference
    spatial = tuple(range(1, h.ndim - 1))
    ref = h[:r]
    mu_r = jnp.mean(ref, axis=(0,) + spatial)
    sq_r = jnp.mean(jnp.square(ref), axis=(0,) + spatial)
    m_i = jnp.mean(h[r:], axis=spatial, keepdims=True) if spatial else h[r:]
    q_i = jnp.mean(jnp.square(h[r:]), axis=spatial, keepdims=True) if spatial else jnp.square(h[r:])
    mu_i = (r * mu_r + m_i) / (r + 1)
    var_i = (r * sq_r + q_i) / (r + 1) - jnp.square(mu_i)
    ref_out = (ref - mu_r) * jax.lax.rsqrt(sq_r - jnp.square(mu_r) + self.epsilon)
    out = (h[r:] - mu_i) * jax.lax.rsqrt(var_i + self.epsilon)
    scale = self.param("scale", nn.initializers.ones_init(), (h.shape[-1],), h.dtype)
    bias = self.param("bias", nn.initializers.zeros_init(), (h.shape[-1],), h.dtype)
    return jnp.concatenate([ref_out, out], axis=0) * scale + bias


def generator_norm(module: nn.Module, train: bool) -> nn.Module:
  """The normalisation layer of a generator: VirtualBatchNorm when `module.vbn_reference`
  > 0, else BatchNorm (running averages in inference, statistics over `module.axis_name`)."""
  if module.vbn_reference:
    return VirtualBatchNorm(module.vbn_reference)
  return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                      axis_name=module.axis_name if train else None)


def pack(x: jnp.ndarray, m: int) -> jnp.ndarray:
  """PacGAN packing: examples ``[B, ...]`` -> ``[B / m, ...]``, m consecutive ones concatenated.

  Vectors ``[B, D]`` become ``[B / m, m D]`` (example k of a pack at columns
  k D .. (k + 1) D); images ``[B, H, W, C]`` become ``[B / m, H, W, m C]``
  (example k at channels k C .. (k + 1) C). ``m = 1`` returns x unchanged.
  """
  if m == 1:
    return x
  b = x.shape[0]
  if b % m:
    raise ValueError(f"batch {b} is not divisible by the pack size {m}")
  if x.ndim == 2:
    return x.reshape((b // m, m * x.shape[1]))
  grouped = x.reshape((b // m, m) + x.shape[1:])               # [B/m, m, H, W, C]
  moved = jnp.moveaxis(grouped, 1, -2)                          # [B/m, H, W, m, C]
  return moved.reshape(moved.shape[:-2] + (m * x.shape[-1],))
