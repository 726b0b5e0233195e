"""What logging every `--log-every` steps costs the README's training command.

  python benchmarks/loop_overhead.py                   # wgan_gp, 1,000 steps, 2 pairs of runs
  python benchmarks/loop_overhead.py --steps 500 --pairs 3 --config experiments/dcgan.py

Runs ``python launch.py --config CONFIG --config.train.num_steps=STEPS`` (sampling and
checkpoints as the config has them) twice per pair, once with ``log_every = --log-every`` and
once logging only at the last step, alternating which goes first, each in a fresh workdir, and
prints each run's wall time, the medians and the cost of logging: (median with logging / median
without) - 1. Run it with nothing else on the machine.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(config: str, steps: int, log_every: int) -> float:
  """Wall seconds of one training command in a fresh workdir."""
  with tempfile.TemporaryDirectory() as workdir:
    command = [sys.executable, "launch.py", "--config", config, "--workdir", workdir,
               "--progress=false", f"--config.train.num_steps={steps}",
               f"--config.log_every={log_every}"]
    t0 = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="experiments/wgan_gp.py")
  parser.add_argument("--steps", type=int, default=1000)
  parser.add_argument("--log-every", type=int, default=50)
  parser.add_argument("--pairs", type=int, default=2)
  args = parser.parse_args()
  times = {args.log_every: [], args.steps: []}
  for pair in range(args.pairs):
    order = [args.log_every, args.steps][::1 if pair % 2 == 0 else -1]
    for every in order:
      times[every].append(run(args.config, args.steps, every))
      print(f"pair {pair}: log_every {every}: {times[every][-1]:.1f} s", flush=True)
  logged, once = statistics.median(times[args.log_every]), statistics.median(times[args.steps])
  print(f"median: log_every {args.log_every} {logged:.1f} s, once {once:.1f} s; "
        f"logging costs {100 * (logged / once - 1):+.1f} %")


if __name__ == "__main__":
  main()
