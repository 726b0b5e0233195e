"""One helper to apply a function over arrays in fixed-size batches (host loop, NumPy out)."""

import jax
import numpy as np


def batched(fn, batch_size: int, *arrays):
  """``fn(*chunks)`` over the leading axis of `arrays` in batches of exactly `batch_size`, outputs
  (any pytree of [B, ...] arrays) concatenated as NumPy.

  The last batch is padded with copies of its last row and the padding dropped, so one compiled
  function serves every batch; `fn` must treat rows independently. None arrays pass through as None.
  """
  arrays = [None if a is None else np.asarray(a) for a in arrays]
  n = next(a for a in arrays if a is not None).shape[0]
  outs = []
  for start in range(0, n, batch_size):
    chunk = []
    for a in arrays:
      part = None if a is None else a[start:start + batch_size]
      if part is not None and len(part) < batch_size:
        part = np.concatenate([part, np.repeat(part[-1:], batch_size - len(part), axis=0)])
      chunk.append(part)
    outs.append(jax.tree.map(np.asarray, fn(*chunk)))
  return jax.tree.map(lambda *parts: np.concatenate(parts, axis=0)[:n], *outs)
