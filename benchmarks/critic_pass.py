"""The critic update's two forms, paired: real and fake scored in two passes, or in one over both.

  python benchmarks/critic_pass.py                                  # both workloads
  python benchmarks/critic_pass.py --workload pacgan_mlp --steps 300 --rounds 8
  python benchmarks/critic_pass.py --workload --configs dcgan_fashion --steps 20  # experiments

For each of `throughput.py`'s CPU workloads (and each `--configs` experiment at its defaults),
compiles the training step twice in one process, once with the critic forced to two passes (what
BatchNorm critics do) and once as the step does it (one pass over [real; fake] for a
batch-independent critic, `gan_step._critic_scores`), then times them in alternating blocks of
`--steps` steps and prints each form's per-round ms/step,
the medians and the median of the per-round ratios (two passes over one: above 1 means the one
pass is faster). Run it with nothing else on the machine.
"""

import argparse
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import throughput  # noqa: E402  (benchmarks/throughput.py)
from benchmarks.experiment_configs import experiment_config  # noqa: E402

DEFAULT_STEPS = {"dcgan_wgan_gp_32": 3, "pacgan_mlp": 300}
CONFIG_STEPS = 20  # per block for a --configs experiment without --steps


def step_config(name: str):
  """The config of a throughput.py workload, or of experiments/<name>.py at its defaults."""
  if name in throughput.WORKLOADS:
    return throughput.workload_config(name)
  return experiment_config(name)


def compiled_step(workload: str, num_calls: int, two_passes: bool):
  """`workload`'s step (throughput._Timed), compiled with the critic in two passes or as is."""
  import jax

  from gans_jax.families import gan_step
  as_is = gan_step._critic_is_batch_independent
  if two_passes:
    gan_step._critic_is_batch_independent = lambda config: False
  try:
    jax.clear_caches()
    return throughput._Timed(step_config(workload), jax.local_devices()[:1],
                             False, num_calls)
  finally:
    gan_step._critic_is_batch_independent = as_is


def compare(workload: str, steps: int, rounds: int) -> dict:
  """ms/step of both forms per round, alternating, and the median ratio."""
  forms = {name: compiled_step(workload, steps * rounds + 1, name == "two_passes")
           for name in ("two_passes", "one_pass")}
  times = {name: [] for name in forms}
  for r in range(rounds):
    for name, timed in forms.items():
      times[name].append(timed.run(1 + r * steps, steps) / steps * 1e3)
  for timed in forms.values():
    timed.feed.close()
  ratios = [a / b for a, b in zip(times["two_passes"], times["one_pass"])]
  return {"workload": workload, "steps_per_round": steps, "rounds": rounds,
          **{f"{name}_ms_per_step": [round(t, 3) for t in ts] for name, ts in times.items()},
          **{f"{name}_median_ms": round(statistics.median(ts), 3) for name, ts in times.items()},
          "ratio": round(statistics.median(ratios), 3)}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workload", nargs="*", choices=sorted(DEFAULT_STEPS),
                      default=sorted(DEFAULT_STEPS))
  parser.add_argument("--steps", type=int, default=0,
                      help="steps per block (default: 3 conv, 300 MLP)")
  parser.add_argument("--configs", nargs="*", default=[], metavar="NAME",
                      help="experiments/NAME.py at its defaults, after the workloads")
  parser.add_argument("--rounds", type=int, default=6)
  args = parser.parse_args()
  if args.steps < 0 or args.rounds < 1:
    parser.error("--steps must be >= 0 and --rounds >= 1")
  experiments = os.path.join(ROOT, "experiments")
  missing = [n for n in args.configs if not os.path.exists(os.path.join(experiments, f"{n}.py"))]
  if missing:
    parser.error(f"--configs: no experiments/{missing[0]}.py")
  for workload in args.workload + args.configs:
    row = compare(workload, args.steps or DEFAULT_STEPS.get(workload, CONFIG_STEPS), args.rounds)
    print(f"{workload}: two passes {row['two_passes_median_ms']} ms/step, one pass "
          f"{row['one_pass_median_ms']} ms/step: {row['ratio']}x", flush=True)
    print(row, flush=True)


if __name__ == "__main__":
  main()
