"""Differentiable augmentation (DiffAugment) of the images a discriminator sees.

Zhao, Liu, Lin, Zhu & Han, "Differentiable Augmentation for Data-Efficient GAN
Training", 2020, arXiv:2006.10738. Every image the discriminator scores, real
or generated, in its update and in the generator's, passes through the same
random transform family T; T is differentiable, so the generator's gradient
flows through it. With limited data this keeps D from memorising the training
set. The transforms follow the reference implementation (images in [-1, 1],
per example):

* ``color``: brightness ``x + (b - 0.5)``; saturation ``m + (x - m) 2s`` with m
  the channel mean of each pixel; contrast ``m + (x - m)(c + 0.5)`` with m the
  mean of the image; b, s, c ~ U[0, 1).
* ``translation``: a shift by integers (dy, dx) uniform in [-r, r], r =
  ``int(ratio * H + 0.5)`` (and W), filling with zeros.
* ``cutout``: zeros in a square of side ``int(ratio * H + 0.5)`` centred at a
  uniform pixel (clipped at the borders).
* ``flip``: a left-right mirror with probability 1/2 (not in the reference; the
  x-flip of Karras et al. 2020's ADA, and the usual augmentation of a
  classifier on images without a handedness).

Semantics here: `augment` is a pure function of (image, key, policy); the
caller draws one key per example (``fold_in`` of the example's key, so the
draws do not depend on how the batch is split over devices) and uses
different keys for the real and the generated batch. Real and fake images thus
get independent draws of the same transforms, as in the paper.
"""

from typing import Sequence

import jax
import jax.numpy as jnp

POLICIES = ("color", "translation", "cutout", "flip")


def parse_policy(spec: str) -> tuple:
  """``'color,translation'`` -> ``('color', 'translation')``; ValueError naming an unknown one."""
  names = tuple(p.strip() for p in spec.split(",") if p.strip())
  unknown = [p for p in names if p not in POLICIES]
  if unknown:
    raise ValueError(f"unknown augmentation {unknown[0]!r}; choose from {', '.join(POLICIES)}")
  return names


def color(x: jax.Array, key: jax.Array) -> jax.Array:
  """Brightness, saturation, contrast of one image x [H, W, C] (see the module docstring)."""
  kb, ks, kc = jax.random.split(key, 3)
  x = x + (jax.random.uniform(kb) - 0.5)
  m = jnp.mean(x, axis=-1, keepdims=True)
  x = (x - m) * (jax.random.uniform(ks) * 2.0) + m
  m = jnp.mean(x)
  return (x - m) * (jax.random.uniform(kc) + 0.5) + m


def translation(x: jax.Array, key: jax.Array, ratio: float = 0.125) -> jax.Array:
  """One image x [H, W, C] shifted by integers (dy, dx) in [-r, r], zero-filled:
  ``out[i, j] = x[i + dy, j + dx]`` where that pixel exists."""
  h, w, _ = x.shape
  sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(key)
  dy = jax.random.randint(ky, (), -sh, sh + 1)
  dx = jax.random.randint(kx, (), -sw, sw + 1)
  padded = jnp.pad(x, ((sh, sh), (sw, sw), (0, 0)))
  return jax.lax.dynamic_slice(padded, (sh + dy, sw + dx, 0), x.shape)


def cutout(x: jax.Array, key: jax.Array, ratio: float = 0.5) -> jax.Array:
  """One image x [H, W, C] with a square of side ``int(ratio * H + 0.5)`` set to 0.

  As the reference: the square's centre (cy, cx) is uniform in [0, H + (1 - s % 2))
  and it covers rows ``cy - s // 2`` to ``cy - s // 2 + s - 1`` (clipped).
  """
  h, w, _ = x.shape
  sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(key)
  top = jax.random.randint(ky, (), 0, h + (1 - sh % 2)) - sh // 2
  left = jax.random.randint(kx, (), 0, w + (1 - sw % 2)) - sw // 2
  rows = jnp.arange(h)[:, None]
  cols = jnp.arange(w)[None, :]
  inside = (rows >= top) & (rows < top + sh) & (cols >= left) & (cols < left + sw)
  return jnp.where(inside[..., None], 0.0, x).astype(x.dtype)


def flip(x: jax.Array, key: jax.Array) -> jax.Array:
  """One image x [H, W, C] mirrored left-right (``out[i, j] = x[i, W - 1 - j]``) with
  probability 1/2."""
  return jnp.where(jax.random.bernoulli(key), x[:, ::-1], x)


def augment(x: jax.Array, key: jax.Array, policy: Sequence[str], *,
            translation_ratio: float = 0.125, cutout_ratio: float = 0.5) -> jax.Array:
  """One image x [H, W, C] through the transforms of `policy`, in the order given.

  Transform i draws from ``fold_in(key, i)``. Deterministic given (x, key).
  """
  for i, name in enumerate(policy):
    k = jax.random.fold_in(key, i)
    if name == "color":
      x = color(x, k)
    elif name == "translation":
      x = translation(x, k, translation_ratio)
    elif name == "cutout":
      x = cutout(x, k, cutout_ratio)
    elif name == "flip":
      x = flip(x, k)
    else:
      raise ValueError(f"unknown augmentation {name!r}; choose from {', '.join(POLICIES)}")
  return x


def augment_batch(x: jax.Array, keys: jax.Array, policy: Sequence[str], **kwargs) -> jax.Array:
  """`augment` of each image of x [B, H, W, C] with its own key (keys [B])."""
  if not policy:
    return x
  return jax.vmap(lambda xi, ki: augment(xi, ki, policy, **kwargs))(x, keys)
