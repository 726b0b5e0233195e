"""Image preprocessing shared by every image source: scale to [−1, 1], centre-crop, resize.

Deterministic: x / (max/2) − 1; with a `resolution`, a non-square image is centre-cropped to its
largest central square and resized to resolution × resolution with `jax.image.resize(...,
'bilinear', antialias=True)` on the host CPU (half-pixel centres, edges clamped; a triangle filter
widened by the scale factor when shrinking).
"""

import functools

import jax
import numpy as np


@functools.partial(jax.jit, static_argnums=1)
def _resize_square(images: jax.Array, size: int) -> jax.Array:
  n, _, _, c = images.shape
  return jax.image.resize(images, (n, size, size, c), method='bilinear', antialias=True)


def preprocess_images(images: np.ndarray, *, max_value: float, resolution: int | None) -> np.ndarray:
  """Scales integer images to [−1, 1] and makes them resolution × resolution.

  x ↦ x / (max_value / 2) − 1; then, if `resolution` is set and differs, a centre crop to the largest
  square followed by an antialiased bilinear resize (computed on the host CPU, deterministic).

  Args:
    images: [N, H, W, C] integer images with values in [0, max_value].
    max_value: the largest possible pixel value (16 for digits, 255 for uint8).
    resolution: output side, or None to keep H × W.

  Returns:
    float32 [N, resolution, resolution, C] (or [N, H, W, C]) in [−1, 1].
  """
  x = images.astype(np.float32) / np.float32(max_value / 2) - np.float32(1)
  if resolution is None:
    return x
  _, h, w, _ = x.shape
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  x = x[:, top:top + side, left:left + side, :]
  if side != resolution:
    # Committed to the CPU so a trainer on an accelerator does not ship each batch there and back.
    x_cpu = jax.device_put(x, jax.devices('cpu')[0])
    # A bilinear / triangle kernel has non-negative weights summing to 1; the clip only removes rounding.
    x = np.clip(np.asarray(_resize_square(x_cpu, resolution)), -1.0, 1.0)
  return np.ascontiguousarray(x)
