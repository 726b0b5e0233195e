"""Training throughput per experiment config: compile time, steps/s, images/s, GFLOP/s.

  python benchmarks/throughput.py                       # every experiments/*.py
  python benchmarks/throughput.py --configs wgan_gp dcgan --steps 50

images/s counts the real images the critic sees: steps/s x batch_size x n_critic.
GFLOP/s is XLA's cost-analysis FLOP count of one compiled step divided by its
measured time. Each config ends with one JSON line.
"""

import argparse
import glob
import importlib
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jax  # noqa: E402
import numpy as np  # noqa: E402

from gans_jax import train  # noqa: E402
from gans_jax.data import load_dataset  # noqa: E402


def measure(name: str, steps: int, data_dir=None) -> dict:
  config = importlib.import_module(f"experiments.{name}").get_config()
  if data_dir:
    config.dataset.data_dir = data_dir
  dataset = load_dataset(config.dataset.name, data_dir=config.dataset.data_dir,
                         resolution=config.dataset.resolution)
  models = train.build_models(config, dataset)
  init_key, train_key, _ = jax.random.split(jax.random.PRNGKey(config.seed), 3)
  state = train.create_train_state(config, models, dataset.example_shape, init_key)
  data = {"x": jax.device_put(dataset.all()["x"])}
  step = train.make_train_step(config, models, resident=True)

  t0 = time.perf_counter()
  compiled = step.lower(state, data, train_key).compile()
  compile_s = time.perf_counter() - t0
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get("flops", np.nan)) if cost else np.nan

  state, metrics = compiled(state, data, train_key)  # warm-up
  jax.block_until_ready(metrics)
  t0 = time.perf_counter()
  for _ in range(steps):
    state, metrics = compiled(state, data, train_key)
  jax.block_until_ready(metrics)
  elapsed = time.perf_counter() - t0
  steps_per_s = steps / elapsed
  return {
      "config": name, "devices": 1, "backend": jax.default_backend(),
      "compile_s": round(compile_s, 2), "steps_per_s": round(steps_per_s, 3),
      "images_per_s": round(steps_per_s * config.train.batch_size * config.train.n_critic, 1),
      "gflop_per_step": round(flops / 1e9, 3),
      "gflop_per_s": round(flops / 1e9 * steps_per_s, 2),
  }


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  all_configs = sorted(os.path.basename(p)[:-3]
                       for p in glob.glob(os.path.join(ROOT, "experiments", "*.py")))
  parser.add_argument("--configs", nargs="*", default=all_configs)
  parser.add_argument("--steps", type=int, default=20, help="timed steps per config")
  parser.add_argument("--data_dir", default=None)
  args = parser.parse_args()
  print(f"{'config':<10} {'compile s':>9} {'steps/s':>9} {'images/s':>10} {'GFLOP/step':>10} "
        f"{'GFLOP/s':>8}")
  for name in args.configs:
    r = measure(name, args.steps, args.data_dir)
    print(f"{r['config']:<10} {r['compile_s']:>9.2f} {r['steps_per_s']:>9.2f} "
          f"{r['images_per_s']:>10.0f} {r['gflop_per_step']:>10.3f} {r['gflop_per_s']:>8.2f}")
    print(json.dumps(r), flush=True)


if __name__ == "__main__":
  main()
