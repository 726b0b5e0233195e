"""4x4 stride-2 (transposed) convolutions by Winograd's minimal filtering F(2x2, 2x2).

Both DCGAN convolutions reduce to 2x2 stride-1 correlations:

* a 4x4 stride-2 SAME convolution of x [B, H, W, C] is a 2x2 VALID correlation
  of its space-to-depth input (pad 1, then 2x2 pixel blocks to channels:
  [B, H/2 + 1, W/2 + 1, 4C]) with the kernel rearranged to [2, 2, 4C, O];
* a 4x4 stride-2 SAME transposed convolution is four sub-pixel phases, phase
  (r, s) a 2x2 VALID correlation of the input padded by 1, starting at (r, s),
  with kernel rows (0, 2) or (1, 3) and columns likewise.

F(2, 2) computes two outputs of a 2-tap correlation, y0 = d0 g0 + d1 g1 and
y1 = d1 g0 + d2 g1, with three products instead of four (Lavin & Gray 2016,
arXiv:1509.09308, the Toom-Cook points 0, -1, infinity):

    m0 = (d0 - d1) g0,   m1 = d1 (g0 + g1),   m2 = (d2 - d1) g1,
    y0 = m0 + m1,        y1 = m1 + m2.

Nested over rows and columns, a 2x2 output tile takes 9 products instead of
16. Over channels each of the 9 products is a matrix product
([tiles, C_in] x [C_in, C_out]), so the layer is 9 GEMMs with 9/16 of the
multiply-adds of im2col's one GEMM. Every derivative is again 9 GEMMs of that
size: the input gradient, the weight gradient and the products of
differentiating them once more (WGAN-GP's penalty). The transforms only add
and subtract (no division), so the result differs from a direct convolution
by float32 rounding alone (relative error ~2e-6, tested).

The input and output transforms carry hand-written VJPs: autodiff would
transpose each strided slice into a padded copy and sum them; the rules below
write each gradient in one pass. The rules are themselves plain jnp code, so
these functions can be differentiated to any order in reverse mode (the
penalty's gradient of a gradient). Forward mode (`jax.jvp`) is not defined for
them; use ``conv_impl='gemm'`` for that.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from gans_jax.nets import precision


def _pad_axis(x: jnp.ndarray, axis: int, lo: int, hi: int) -> jnp.ndarray:
  config = [(0, 0, 0)] * x.ndim
  config[axis] = (lo, hi, 0)
  return lax.pad(x, jnp.zeros((), x.dtype), config)


def _interleave(even: jnp.ndarray, odd: jnp.ndarray, axis: int, n: int) -> jnp.ndarray:
  """Rows even[0], odd[0], even[1], odd[1], ... along `axis`, the first n."""
  shape = list(even.shape)
  shape[axis] *= 2
  y = jnp.stack([even, odd], axis + 1).reshape(shape)
  return lax.slice_in_dim(y, 0, n, axis=axis)


def _filter_t(k: jnp.ndarray, axis: int) -> jnp.ndarray:
  """F(2, 2) filter transform along `axis` (length 2 -> 3): [g0, g0 + g1, g1]."""
  g0 = lax.index_in_dim(k, 0, axis, keepdims=False)
  g1 = lax.index_in_dim(k, 1, axis, keepdims=False)
  return jnp.stack([g0, g0 + g1, g1], axis)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _output_t(m: jnp.ndarray, axis: int) -> jnp.ndarray:
  """F(2, 2) output transform along `axis` (length 3 -> 2): [m0 + m1, m1 + m2]."""
  m0, m1, m2 = (lax.index_in_dim(m, i, axis, keepdims=False) for i in range(3))
  return jnp.stack([m0 + m1, m1 + m2], axis)


def _output_t_fwd(m, axis):
  return _output_t(m, axis), None


def _output_t_bwd(axis, _, g):
  return (_filter_t(g, axis),)  # the transpose of [[1, 1, 0], [0, 1, 1]]


_output_t.defvjp(_output_t_fwd, _output_t_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _input_t(x: jnp.ndarray, axis: int) -> jnp.ndarray:
  """F(2, 2) input transform of the tiles (rows 2t, 2t+1, 2t+2) along `axis`.

  x has 2T + 1 rows along `axis`; returns [3, ...] with T rows there:
  [d0 - d1, d1, d2 - d1] of every tile.
  """
  n = x.shape[axis]
  d0 = lax.slice_in_dim(x, 0, n - 1, 2, axis)
  d1 = lax.slice_in_dim(x, 1, n, 2, axis)
  d2 = lax.slice_in_dim(x, 2, n, 2, axis)
  return jnp.stack([d0 - d1, d1, d2 - d1])


def _input_t_fwd(x, axis):
  return _input_t(x, axis), x.shape[axis]


def _input_t_bwd(axis, n, g):
  # Row 2t receives g0[t] and g2[t-1]; row 2t+1 receives g1[t] - g0[t] - g2[t].
  g0, g1, g2 = g[0], g[1], g[2]
  even = _pad_axis(g0, axis, 0, 1) + _pad_axis(g2, axis, 1, 0)
  odd = _pad_axis(g1 - g0 - g2, axis, 0, 1)
  return (_interleave(even, odd, axis, n),)


_input_t.defvjp(_input_t_fwd, _input_t_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _phase_input_t(x: jnp.ndarray, axis: int) -> jnp.ndarray:
  """`_input_t` of both sub-pixel phases: phase r's tiles start at row r.

  x has 2T + 2 rows along `axis`; returns [2 (phase), 3, ...] with T rows there.
  """
  n = x.shape[axis]
  s = [lax.slice_in_dim(x, k, k + n - 3, 2, axis) for k in range(4)]
  return jnp.stack([jnp.stack([s[r] - s[r + 1], s[r + 1], s[r + 2] - s[r + 1]])
                    for r in (0, 1)])


def _phase_input_t_fwd(x, axis):
  return _phase_input_t(x, axis), x.shape[axis]


def _phase_input_t_bwd(axis, n, g):
  # Gradients of the four strided slices s_k (rows k, k + 2, ...), then
  # row 2t receives ds0[t] + ds2[t-1] and row 2t+1 receives ds1[t] + ds3[t-1].
  (a0, a1, a2), (b0, b1, b2) = g[0], g[1]
  ds0, ds1 = a0, a1 - a0 - a2 + b0
  ds2, ds3 = a2 - b0 + b1 - b2, b2
  even = _pad_axis(ds0, axis, 0, 1) + _pad_axis(ds2, axis, 1, 0)
  odd = _pad_axis(ds1, axis, 0, 1) + _pad_axis(ds3, axis, 1, 0)
  return (_interleave(even, odd, axis, n),)


_phase_input_t.defvjp(_phase_input_t_fwd, _phase_input_t_bwd)


def conv4x4s2(x: jnp.ndarray, kernel: jnp.ndarray, dtype=None) -> jnp.ndarray:
  """``lax.conv_general_dilated(x, kernel, (2, 2), 'SAME')``, H and W multiples of 4.

  x [B, H, W, C], kernel [4, 4, C, O] (HWIO) -> [B, H/2, W/2, O]. `dtype`: the product's
  operands in that type, accumulated in float32 (`gans_jax.nets.precision`).
  """
  b, h, w, c = x.shape
  o = kernel.shape[-1]
  ho, wo = h // 2, w // 2
  th, tw = ho // 2, wo // 2
  # Space-to-depth of the padded input: X[m, n, (u, v, c)] = xp[2m + u, 2n + v, c].
  xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  xs = xp.reshape(b, ho + 1, 2, wo + 1, 2, c).transpose(0, 1, 3, 2, 4, 5)
  xs = xs.reshape(b, ho + 1, wo + 1, 4 * c)
  # The kernel likewise: K[p, q, (u, v, c)] = kernel[2p + u, 2q + v, c].
  k = kernel.reshape(2, 2, 2, 2, c, o).transpose(0, 2, 1, 3, 4, 5).reshape(2, 2, 4 * c, o)
  v = _filter_t(_filter_t(k, 0), 1).transpose(1, 0, 2, 3)  # [3 (cols), 3 (rows), 4C, O]
  u = _input_t(_input_t(xs, 1), 3)                         # [3 (cols), 3 (rows), B, th, tw, 4C]
  u = u.reshape(3, 3, b * th * tw, 4 * c)
  m = precision.dot_general(u, v, (((3,), (2,)), ((0, 1), (0, 1))), dtype)  # [3, 3, B th tw, O]
  y = _output_t(_output_t(m.reshape(3, 3, b, th, tw, o), 1), 0)  # [2 (col), 2 (row), B, th, tw, O]
  return y.transpose(2, 3, 1, 4, 0, 5).reshape(b, ho, wo, o)


def conv_transpose4x4s2(x: jnp.ndarray, kernel: jnp.ndarray, dtype=None) -> jnp.ndarray:
  """``lax.conv_transpose(x, kernel, (2, 2), 'SAME')`` (flax's ConvTranspose), H and W even.

  x [B, H, W, C], kernel [4, 4, C, O] -> [B, 2H, 2W, O]; `dtype` as `conv4x4s2`'s. Output pixel
  (2(2t + a) + r, 2(2s + a') + q) is tile (t, s), position (a, a'), phase (r, q).
  """
  b, h, w, c = x.shape
  o = kernel.shape[-1]
  th, tw = h // 2, w // 2
  xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  u = _phase_input_t(_phase_input_t(xp, 1), 4)   # [2 q, 3 j, 2 r, 3 i, B, th, tw, C]
  u = u.reshape(2, 3, 2, 3, b * th * tw, c)
  # Phase r takes kernel rows 2a + r (a = 0, 1); columns likewise.
  k = kernel.reshape(2, 2, 2, 2, c, o).transpose(1, 0, 3, 2, 4, 5)  # [r, a, q, a', C, O]
  v = _filter_t(_filter_t(k, 1), 3).transpose(2, 3, 0, 1, 4, 5)  # [2 q, 3 j, 2 r, 3 i, C, O]
  m = precision.dot_general(u, v, (((5,), (4,)), ((0, 1, 2, 3), (0, 1, 2, 3))), dtype)
  y = _output_t(_output_t(m.reshape(2, 3, 2, 3, b, th, tw, o), 3), 1)  # [q, a', r, a, B, th, tw, O]
  return y.transpose(4, 5, 3, 2, 6, 1, 0, 7).reshape(b, 2 * h, 2 * w, o)
