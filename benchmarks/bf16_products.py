"""Matrix products in float32 against bfloat16 operands accumulated in float32, on this device.

  python benchmarks/bf16_products.py                 # dcgan_wgan_gp_32's Winograd products + 2048^2
  python benchmarks/bf16_products.py --batch 128 --rounds 9

`model.dtype='bfloat16'` (gans_jax/nets/precision.py) rounds the forward products' operands to
bfloat16; whether a backward pass in bfloat16 too (a custom VJP rounding the cotangent) could make
a training step faster depends on how fast the device runs these products. For each batched
product of the `dcgan_wgan_gp_32` workload's Winograd convolutions (benchmarks/throughput.py:
32x32x1, width 64; `nets.winograd.conv4x4s2` and `conv_transpose4x4s2` multiply [n, M, K] by
[n, K, N]) and for one 2048^2 product, this compiles the three products of a layer's forward and
backward pass (y = u v, du = g v^T, dv = u^T g) once with float32 operands and once with
bfloat16 operands and `preferred_element_type=float32`, times the two in alternating blocks of
10 calls and prints the medians, GFLOP/s and the speed-up (float32 time over bfloat16 time).
Run it with nothing else on the machine.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# (forward, input gradient, weight gradient) dimension numbers: batched [n, M, K] x [n, K, N], and
# plain [M, K] x [K, N]. du = g [M, N] x v [K, N] -> [M, K]; dv = u [M, K] x g [M, N] -> [K, N].
BATCHED = ((((2,), (1,)), ((0,), (0,))), (((2,), (2,)), ((0,), (0,))), (((1,), (1,)), ((0,), (0,))))
PLAIN = ((((1,), (0,)), ((), ())), (((1,), (1,)), ((), ())), (((0,), (0,)), ((), ())))


def winograd_products(batch: int, width: int = 64):
  """(name, n, M, K, N) of the 32x32x1 DCGAN critic's and generator's Winograd products."""
  shapes = []
  side, channels = 32, 1
  for out in (width, 2 * width, 4 * width):  # critic: 4x4 stride-2 convolutions
    tiles = batch * (side // 4) ** 2
    shapes.append((f"D {side}x{side}x{channels}->{out}", 9, tiles, 4 * channels, out))
    side, channels = side // 2, out
  side, channels = 4, 4 * width
  for out in (2 * width, width, 1):  # generator: 4x4 stride-2 transposed convolutions
    tiles = batch * side * side // 4
    shapes.append((f"G {side}x{side}x{channels}->{out}", 36, tiles, channels, out))
    side, channels = 2 * side, out
  return shapes


def three_products(dtype, dims):
  """The forward and both backward products of one layer (`dims`: BATCHED or PLAIN), with
  operands in `dtype` (None: float32 as given)."""
  def run(u, v, g):
    if dtype is None:
      kw = {}
    else:
      u, v, g = u.astype(dtype), v.astype(dtype), g.astype(dtype)
      kw = {"preferred_element_type": jnp.float32}
    y = lax.dot_general(u, v, dims[0], **kw)
    du = lax.dot_general(g, v, dims[1], **kw)
    dv = lax.dot_general(u, g, dims[2], **kw)
    return y.sum() + du.sum() + dv.sum()
  return jax.jit(run)


def time_pair(n, m, k, nn, rounds: int, calls: int = 10):
  """Median seconds per call of the float32 and bfloat16 forms, timed alternately (n = 0: one
  plain product)."""
  rng = np.random.default_rng(0)
  lead, dims = ((n,), BATCHED) if n else ((), PLAIN)
  u, v, g = (jnp.asarray(rng.normal(size=lead + s), jnp.float32)
             for s in ((m, k), (k, nn), (m, nn)))
  forms = {"float32": three_products(None, dims),
           "bfloat16": three_products(jnp.bfloat16, dims)}
  for f in forms.values():
    f(u, v, g).block_until_ready()
  times = {name: [] for name in forms}
  for _ in range(rounds):
    for name, f in forms.items():
      start = time.perf_counter()
      for _ in range(calls):
        f(u, v, g).block_until_ready()
      times[name].append((time.perf_counter() - start) / calls)
  return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch", type=int, default=64, help="the workload's batch size")
  parser.add_argument("--rounds", type=int, default=7, help="alternating blocks per form")
  args = parser.parse_args()
  print(f"device: {jax.devices()[0].device_kind}; three products per row (forward, input and "
        "weight gradient); medians")
  print("| product | n x [M, K] x [K, N] | float32 | bfloat16 operands | speed-up |")
  print("|---|---|---|---|---|")
  rows = winograd_products(args.batch) + [("2048^2 matmul", 0, 2048, 2048, 2048)]
  for name, n, m, k, nn in rows:
    t = time_pair(n, m, k, nn, args.rounds)
    gflop = 3 * 2 * max(n, 1) * m * k * nn / 1e9
    cell = lambda s: f"{s * 1e3:.2f} ms ({gflop / s:.0f} GFLOP/s)"
    print(f"| {name} | {f'{n} x ' if n else ''}[{m}, {k}] x [{k}, {nn}] | {cell(t['float32'])} | "
          f"{cell(t['bfloat16'])} | {t['float32'] / t['bfloat16']:.2f}x |", flush=True)


if __name__ == "__main__":
  main()
