"""Mixed precision for the convolutional networks: `model.dtype`.

'float32' (the default) computes everything in float32. 'bfloat16' rounds the two operands of each
matrix product and convolution to bfloat16 and accumulates in float32 (``preferred_element_type``):
the products run at the bfloat16 rate of the hardware (GPU tensor cores, TPU MXUs, the AVX-512 BF16
of recent x86 CPUs), while parameters, optimizer state, BatchNorm statistics, activations between
layers, losses, penalties and metrics stay float32. Parameters are float32 in both, so a checkpoint
restores under either setting. JAX differentiates the products as written: their backward products
take the float32 cotangent with the bfloat16 operand (XLA promotes it), so the backward pass
computes in float32.
"""

import jax.numpy as jnp
from jax import lax

DTYPES = ("float32", "bfloat16")


def compute_dtype(name: str):
  """None for 'float32' (products as written); jnp.bfloat16 for 'bfloat16'."""
  if name not in DTYPES:
    raise ValueError(f"dtype must be one of {DTYPES}, got {name!r}")
  return None if name == "float32" else jnp.bfloat16


def dot_general(a, b, dimension_numbers, dtype=None, precision=None):
  """`lax.dot_general`; with `dtype`, of the operands rounded to it, accumulated in float32."""
  if dtype is None:
    return lax.dot_general(a, b, dimension_numbers, precision=precision)
  return lax.dot_general(a.astype(dtype), b.astype(dtype), dimension_numbers,
                         precision=precision, preferred_element_type=jnp.float32)


def matmul(a, b, dtype=None):
  """``a @ b`` over the last axis of `a` and the first of `b` (2-D `b`), as `dot_general`."""
  return dot_general(a, b, (((a.ndim - 1,), (0,)), ((), ())), dtype)


def dense_dot_general(dtype):
  """The `dot_general` argument of `flax.linen.Dense` that computes in `dtype` (None: flax's)."""
  if dtype is None:
    return None
  return lambda a, b, dims, precision=None, **_: dot_general(a, b, dims, dtype, precision)


def conv(x, kernel, strides, padding, dimension_numbers, dtype=None):
  """`lax.conv_general_dilated`; with `dtype`, of the operands rounded to it, accumulated in
  float32."""
  if dtype is None:
    return lax.conv_general_dilated(x, kernel, strides, padding,
                                    dimension_numbers=dimension_numbers)
  return lax.conv_general_dilated(x.astype(dtype), kernel.astype(dtype), strides, padding,
                                  dimension_numbers=dimension_numbers,
                                  preferred_element_type=jnp.float32)


def conv_transpose(x, kernel, strides, padding, dimension_numbers, dtype=None):
  """`lax.conv_transpose`, as `conv` for `dtype`."""
  if dtype is None:
    return lax.conv_transpose(x, kernel, strides, padding, dimension_numbers=dimension_numbers)
  return lax.conv_transpose(x.astype(dtype), kernel.astype(dtype), strides, padding,
                            dimension_numbers=dimension_numbers,
                            preferred_element_type=jnp.float32)
