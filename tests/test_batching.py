"""The one batched-apply helper: fixed batch shape, padding dropped, pytrees and None pass through."""

import numpy as np

from gans_jax.batching import batched


def test_batched_pads_the_last_batch_to_one_shape_and_drops_the_padding():
  shapes = []

  def fn(x):
    shapes.append(x.shape)
    return x.sum(axis=(1, 2, 3)), x[:, 0, 0, :]

  x = np.random.default_rng(0).normal(size=(7, 2, 2, 1)).astype(np.float32)
  total, corner = batched(fn, 3, x)
  assert shapes == [(3, 2, 2, 1)] * 3
  np.testing.assert_allclose(total, x.sum(axis=(1, 2, 3)), rtol=1e-6)
  np.testing.assert_array_equal(corner, x[:, 0, 0, :])


def test_batched_takes_several_arrays_passes_none_through_and_returns_the_pytree():
  seen = []

  def fn(a, b, c):
    seen.append((a.shape, b, c.shape))
    return {"sum": a + c, "first": a[:, :1]}

  a = np.arange(10.0).reshape(5, 2)
  c = 10 * a
  out = batched(fn, 2, a, None, c)
  assert seen == [((2, 2), None, (2, 2))] * 3
  np.testing.assert_array_equal(out["sum"], 11 * a)
  np.testing.assert_array_equal(out["first"], a[:, :1])
