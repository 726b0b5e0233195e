"""FID end to end on random features: streamed statistics, then the distance.

  python benchmarks/fid_speed.py                        # 10,000 x 2,048, float32 and float64
  python benchmarks/fid_speed.py --n 50000 --batch 1000 --dtypes float64
  python benchmarks/fid_speed.py --scipy                # also the float64 SciPy sqrtm reference

Two sets of N features of dimension D ("real" and "fake", drawn with a decaying
spectrum and a small mean shift, non-negative like Inception pool features) are
fed batch by batch to `feature_stats_update`; `feature_stats_finalize` gives
(mu, sigma) and `frechet_distance` the FID. Every phase is timed with compile
(`jit(...).lower(...).compile()`) separated from run (best of `--repeats`
runs of the compiled function). Ends with one JSON line.
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # float64 must be possible; float32 runs pass float32 explicitly

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from gans_jax import metrics  # noqa: E402


def make_features(n: int, dim: int, seed: int, shift: float) -> np.ndarray:
  rng = np.random.default_rng(seed)
  scales = 1.0 / np.sqrt(1.0 + np.arange(dim) / 16.0)  # decaying spectrum
  z = rng.standard_normal((n, dim), dtype=np.float32) * scales.astype(np.float32)
  return np.abs(z + np.float32(shift))


def timed(fn, *args, repeats=1):
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - t0)
  return out, best


def run(dtype_name: str, real: np.ndarray, fake: np.ndarray, batch: int, repeats: int) -> dict:
  dtype = jnp.dtype(dtype_name)
  dim = real.shape[1]
  result = {"dtype": dtype_name}

  # Compile: one update per distinct batch shape (full batches and the last one).
  stats0 = metrics.feature_stats_init(dim, dtype)
  shapes = sorted({min(batch, len(real) - i) for i in range(0, len(real), batch)})
  t0 = time.perf_counter()
  update = {}
  for b in shapes:
    update[b] = jax.jit(metrics.feature_stats_update).lower(
        stats0, jax.ShapeDtypeStruct((b, dim), jnp.float32)).compile()
  finalize = jax.jit(metrics.feature_stats_finalize).lower(stats0).compile()
  result["compile_stats_s"] = time.perf_counter() - t0

  def accumulate(features):
    stats = stats0
    for i in range(0, len(features), batch):
      chunk = jax.device_put(features[i:i + batch])
      stats = update[chunk.shape[0]](stats, chunk)
    return finalize(stats)

  (mu1, sigma1), t_real = timed(accumulate, real, repeats=repeats)
  (mu2, sigma2), t_fake = timed(accumulate, fake, repeats=repeats)
  result["stats_s_per_set"] = (t_real + t_fake) / 2
  result["stats_features_per_s"] = len(real) / result["stats_s_per_set"]

  t0 = time.perf_counter()
  fid_fn = jax.jit(metrics.frechet_distance).lower(mu1, sigma1, mu2, sigma2).compile()
  result["compile_fid_s"] = time.perf_counter() - t0
  fid, result["fid_s"] = timed(fid_fn, mu1, sigma1, mu2, sigma2, repeats=repeats)
  result["fid"] = float(fid)
  result["end_to_end_run_s"] = 2 * result["stats_s_per_set"] + result["fid_s"]
  result["sigma"] = (np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64),
                     np.asarray(mu1, np.float64), np.asarray(mu2, np.float64))
  return result


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--n", type=int, default=10_000, help="features per set")
  parser.add_argument("--dim", type=int, default=2048)
  parser.add_argument("--batch", type=int, default=500)
  parser.add_argument("--repeats", type=int, default=1, help="runs per phase; best is reported")
  parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
  parser.add_argument("--scipy", action="store_true",
                      help="also time the pytorch-fid formula (scipy.linalg.sqrtm, float64)")
  args = parser.parse_args()

  t0 = time.perf_counter()
  real = make_features(args.n, args.dim, seed=0, shift=0.0)
  fake = make_features(args.n, args.dim, seed=1, shift=0.1)
  print(f"data: 2 x {args.n} x {args.dim} float32 features in {time.perf_counter() - t0:.1f} s "
        f"({jax.default_backend()}, {jax.device_count()} device(s), {os.cpu_count()} CPUs)")

  summary = {"benchmark": "fid_speed", "n": args.n, "dim": args.dim, "batch": args.batch,
             "backend": jax.default_backend(), "results": []}
  reference = None
  for dtype_name in args.dtypes:
    r = run(dtype_name, real, fake, args.batch, args.repeats)
    sigma1, sigma2, mu1, mu2 = r.pop("sigma")
    if dtype_name == "float64":
      reference = (mu1, sigma1, mu2, sigma2)
    print(f"[{dtype_name}] compile stats {r['compile_stats_s']:.2f} s | accumulate {r['stats_s_per_set']:.2f} s "
          f"per set ({r['stats_features_per_s']:.0f} features/s) | compile fid {r['compile_fid_s']:.2f} s | "
          f"fid {r['fid_s']:.2f} s | run end to end {r['end_to_end_run_s']:.2f} s | FID {r['fid']:.6f}")
    summary["results"].append({k: (round(v, 4) if isinstance(v, float) and k != "fid" else v)
                               for k, v in r.items()})

  if args.scipy and reference is not None:
    from scipy import linalg  # only here: the library itself does not need SciPy
    mu1, sigma1, mu2, sigma2 = reference
    t0 = time.perf_counter()
    covmean = linalg.sqrtm(sigma1 @ sigma2).real
    diff = mu1 - mu2
    fid = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
    elapsed = time.perf_counter() - t0
    print(f"[scipy sqrtm float64, same statistics] {elapsed:.2f} s | FID {fid:.6f}")
    summary["scipy_reference"] = {"fid": fid, "s": round(elapsed, 4)}

  print(json.dumps(summary))


if __name__ == "__main__":
  main()
