"""DiffAugment: determinism, each transform against an independent NumPy description."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import augment


def _image(seed=0, shape=(8, 8, 3)):
  return jnp.asarray(np.random.default_rng(seed).uniform(-1, 1, size=shape), jnp.float32)


def _shift(x, dy, dx):
  """NumPy: out[i, j] = x[i + dy, j + dx] where it exists, else 0."""
  h, w = x.shape[:2]
  out = np.zeros_like(x)
  for i in range(h):
    for j in range(w):
      if 0 <= i + dy < h and 0 <= j + dx < w:
        out[i, j] = x[i + dy, j + dx]
  return out


def test_augment_is_deterministic_given_the_key_and_differs_between_keys():
  x = _image()
  policy = augment.parse_policy("color,translation,cutout")
  a = augment.augment(x, jax.random.PRNGKey(3), policy)
  b = augment.augment(x, jax.random.PRNGKey(3), policy)
  c = augment.augment(x, jax.random.PRNGKey(4), policy)
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, c)


def test_translation_is_a_zero_filled_integer_shift_within_the_ratio():
  x = np.asarray(_image(1))
  seen = set()
  for k in range(40):
    out = np.asarray(augment.translation(jnp.asarray(x), jax.random.PRNGKey(k), 0.125))
    shifts = [(dy, dx) for dy in range(-1, 2) for dx in range(-1, 2)
              if np.array_equal(_shift(x, dy, dx), out)]
    assert len(shifts) == 1, k  # r = int(8 * 0.125 + 0.5) = 1
    seen.add(shifts[0])
  assert len(seen) == 9  # every shift in [-1, 1]^2 is drawn


def test_cutout_zeroes_one_square_of_the_ratio_clipped_at_the_border():
  x = jnp.ones((8, 8, 1))
  sizes = set()
  for k in range(60):
    out = np.asarray(augment.cutout(x, jax.random.PRNGKey(k), 0.5))[..., 0]
    assert set(np.unique(out)) <= {0.0, 1.0}
    rows, cols = np.nonzero(out == 0)
    # The zeros form one full rectangle of at most 4 x 4 (side int(8 * 0.5 + 0.5)).
    h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert len(rows) == h * w and h <= 4 and w <= 4
    # Clipped only where it touches the border.
    assert h == 4 or rows.min() == 0 or rows.max() == 7
    assert w == 4 or cols.min() == 0 or cols.max() == 7
    sizes.add((h, w))
  assert (4, 4) in sizes and len(sizes) > 1


def test_color_is_brightness_saturation_contrast_of_the_reference():
  x = _image(2)
  key = jax.random.PRNGKey(7)
  kb, ks, kc = jax.random.split(key, 3)
  b, s, c = (float(jax.random.uniform(k)) for k in (kb, ks, kc))
  ref = np.asarray(x, np.float64) + (b - 0.5)
  m = ref.mean(axis=-1, keepdims=True)
  ref = (ref - m) * (2 * s) + m
  m = ref.mean()
  ref = (ref - m) * (c + 0.5) + m
  np.testing.assert_allclose(augment.color(x, key), ref, rtol=1e-5, atol=1e-5)


def test_real_and_fake_get_independent_draws_of_the_same_transforms():
  # The GAN step augments real images with fold_in(key_i, 1) and fake ones with
  # fold_in(key_i, 2): the same family (here translation), different draws.
  from gans_jax.families import gan, gan_parts
  config = gan.default_config()
  config.augment.policy = "translation"
  aug = gan_parts.step_parts(config, lambda: None).augmentation
  x = jnp.stack([_image(3)] * 16)
  keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(0), i))(jnp.arange(16))
  real, fake = np.asarray(aug(x, keys, 1)), np.asarray(aug(x, keys, 2))
  expected_real = augment.augment_batch(
      x, jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys), ("translation",))
  np.testing.assert_array_equal(real, expected_real)
  for out in (real, fake):
    for i in range(16):
      assert any(np.array_equal(_shift(np.asarray(x[i]), dy, dx), out[i])
                 for dy in range(-1, 2) for dx in range(-1, 2))
  assert not np.array_equal(real, fake)


def test_augmentation_passes_gradients_to_the_images():
  x = _image(4)
  policy = ("color", "translation", "cutout")
  g = jax.grad(lambda v: jnp.sum(augment.augment(v, jax.random.PRNGKey(1), policy) ** 2))(x)
  assert np.all(np.isfinite(g)) and np.any(g != 0)


def test_unknown_policy_names_it():
  with pytest.raises(ValueError, match="'zoom'"):
    augment.parse_policy("color, zoom")


def test_flip_mirrors_columns_or_leaves_the_image_for_each_key_about_half_the_time():
  x = _image(5, shape=(4, 6, 2))
  mirrored = np.asarray(x)[:, [5, 4, 3, 2, 1, 0]]
  flipped = 0
  for seed in range(64):
    out = np.asarray(augment.augment(x, jax.random.PRNGKey(seed), ("flip",)))
    if np.array_equal(out, mirrored):
      flipped += 1
    else:
      np.testing.assert_array_equal(out, np.asarray(x))
  # Binomial(64, 1/2): P(outside [18, 46]) < 1e-3.
  assert 18 <= flipped <= 46
