"""Semi-supervised GAN: test accuracy vs the supervised baseline, over seeds.

  python benchmarks/ssgan_accuracy.py                       # 5 seeds of experiments/ssgan_digits.py
  python benchmarks/ssgan_accuracy.py --seeds 2 --steps 1000 --out /tmp/ssgan
  python benchmarks/ssgan_accuracy.py --config experiments/ssgan_fashion.py --seeds 3

Each seed is the default run, `python launch.py --config
experiments/ssgan_digits.py --config.seed=S` (or `--config`'s experiment; the trainer, with its
checkpoints and samples, in `--out`/seed_S), timed; then the discriminator's
test accuracy and the supervised baseline (the same network, initial
parameters, optimizer, labelled batches and steps, trained on the labelled
subset alone: `SSGAN.supervised_baseline`) on the test split, as
`--mode=eval` writes them (without the sample metrics, which need the domain
classifier). Prints one JSON line per seed and a summary line with means and
standard deviations (ddof 1). Goals: on digits with 50 labels, a mean test accuracy >= 0.93 and
>= 5 points above the baseline; on Fashion-MNIST with 100 labels, >= 5 points above it.
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from gans_jax import trainer  # noqa: E402
from gans_jax.families import base, ssgan  # noqa: E402
from benchmarks.experiment_configs import experiment_config  # noqa: E402


def run_seed(seed: int, args) -> dict:
  name = os.path.splitext(os.path.basename(args.config))[0]
  config = experiment_config(name)
  config.seed = seed
  if args.steps:
    config.train.num_steps = args.steps
  if args.num_labeled:
    config.dataset.num_labeled = args.num_labeled
  t0 = time.perf_counter()
  state = trainer.train_and_evaluate(config, os.path.join(args.out, f"seed_{seed}"),
                                     progress=False)
  train_s = time.perf_counter() - t0
  family = ssgan.SSGAN(config, base.load_config_dataset(config))
  t1 = time.perf_counter()
  metrics = family.eval_metrics(state, None, None)
  return {"seed": seed, **metrics, "steps": int(config.train.num_steps),
          "train_seconds": round(train_s, 1),
          "eval_seconds": round(time.perf_counter() - t1, 1)}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="experiments/ssgan_digits.py",
                      help="an ssgan experiment of experiments/")
  parser.add_argument("--seeds", type=int, default=5, help="seeds 0..n-1 (after --seed)")
  parser.add_argument("--seed", type=int, default=0, help="first seed")
  parser.add_argument("--steps", type=int, default=0, help="train.num_steps (0: the config's)")
  parser.add_argument("--num_labeled", type=int, default=0, help="0: the config's")
  parser.add_argument("--out", default="", help="default runs/ssgan_accuracy (digits) or "
                      "runs/ssgan_accuracy_<experiment>")
  args = parser.parse_args()
  name = os.path.splitext(os.path.basename(args.config))[0]
  if not args.out:
    suffix = "" if name == "ssgan_digits" else f"_{name}"
    args.out = os.path.join("runs", f"ssgan_accuracy{suffix}")
  rows = []
  for seed in range(args.seed, args.seed + args.seeds):
    rows.append(run_seed(seed, args))
    print(json.dumps(rows[-1]), flush=True)
  summary = {"seeds": len(rows), "num_labeled": rows[0]["num_labeled"]}
  for key in ("test_accuracy", "supervised_baseline_accuracy", "train_seconds"):
    v = np.array([r[key] for r in rows], np.float64)
    summary[key] = {"mean": round(float(v.mean()), 4),
                    "std": round(float(v.std(ddof=1)), 4) if len(v) > 1 else None}
  summary["gain_points"] = round(100 * (summary["test_accuracy"]["mean"]
                                        - summary["supervised_baseline_accuracy"]["mean"]), 2)
  print(json.dumps(summary))


if __name__ == "__main__":
  main()
