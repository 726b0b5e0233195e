"""gans_jax against PyTorch on the CPU speed table's workloads, in one run, alternating.

  python benchmarks/vs_pytorch.py --torch_python /path/to/venv-with-torch/bin/python
  python benchmarks/vs_pytorch.py --torch_python ... --workload pacgan_mlp --steps 500 --rounds 7

PyTorch is not a dependency of the project: give the interpreter of an environment that has it
(``python -m venv T && T/bin/pip install torch numpy``). For each workload, gans_jax's compiled
step (`benchmarks/throughput.py`'s `_Timed`, the same code path as training) and the PyTorch
program of `benchmarks/torch_reference.py` (a child process, warmed up) are timed in alternating
blocks of ``--steps`` steps, ``--rounds`` times, so that this machine's drift (±20 % within
minutes on the 2-core CPU) slows both alike. Printed per workload: the median s/step and steps/s
of each side over the rounds, the ratio gans_jax over PyTorch (steps/s; > 1: gans_jax faster),
the ratio of every round, and, for gans_jax, XLA's FLOP count per step and the fraction of one
2048x2048 float32 matrix product's rate measured in the same process. One JSON line per
workload ends its output.

Both sides use every core by default (PyTorch: ``torch.set_num_threads(os.cpu_count())``). Time
with nothing else running: PyTorch's OpenMP threads spin, and on a busy 2-core machine it runs
several times slower than gans_jax does under the same load.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import throughput  # noqa: E402  (benchmarks/throughput.py)

WORKLOADS = ("dcgan_wgan_gp_32", "pacgan_mlp")
DEFAULT_STEPS = {"dcgan_wgan_gp_32": 3, "pacgan_mlp": 500}


def fail(message: str):
  """A usage error: one line on stderr, exit status 2, before any timing."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


class TorchChild:
  """benchmarks/torch_reference.py --serve in `python`: `time(n)` is the seconds of n steps."""

  def __init__(self, python: str, workload: str, threads: int | None):
    cmd = [python, os.path.join(ROOT, "benchmarks", "torch_reference.py"), "--workload",
           workload, "--serve"] + ([f"--threads={threads}"] if threads else [])
    self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = self.proc.stdout.readline().strip()
    if line != "ready":
      fail(f"--torch_python: {' '.join(cmd)} did not start (said {line!r})")

  def time(self, n: int) -> float:
    self.proc.stdin.write(f"{n}\n")
    self.proc.stdin.flush()
    return float(self.proc.stdout.readline())

  def close(self) -> None:
    self.proc.stdin.close()
    self.proc.wait()


def compare(workload: str, torch_python: str, steps: int, rounds: int,
            threads: int | None) -> dict:
  import jax
  config = throughput.workload_config(workload)
  timed = throughput._Timed(config, jax.local_devices()[:1], False, steps * rounds)
  torch_side = TorchChild(torch_python, workload, threads)
  jax_s, torch_s = [], []
  try:
    for r in range(rounds):
      jax_s.append(timed.run(1 + r * steps, steps) / steps)
      torch_s.append(torch_side.time(steps) / steps)
  finally:
    timed.feed.close()
    torch_side.close()
  jax_med, torch_med = statistics.median(jax_s), statistics.median(torch_s)
  matmul = throughput.matmul_gflop_per_s("float32", jax.local_devices()[0])
  return {
      "workload": workload, "steps_per_round": steps, "rounds": rounds,
      "gans_jax_s_per_step": round(jax_med, 5), "torch_s_per_step": round(torch_med, 5),
      "gans_jax_steps_per_s": round(1 / jax_med, 2), "torch_steps_per_s": round(1 / torch_med, 2),
      "ratio": round(torch_med / jax_med, 3),
      "ratio_per_round": [round(t / j, 3) for j, t in zip(jax_s, torch_s)],
      "gflop_per_step": round(timed.flops / 1e9, 3),
      "gans_jax_gflop_per_s": round(timed.flops / 1e9 / jax_med, 1),
      "matmul_2048_gflop_per_s": round(matmul, 1),
      "matmul_fraction": round(timed.flops / 1e9 / jax_med / matmul, 3),
  }


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--torch_python", required=True,
                 help="python interpreter of an environment with PyTorch")
  p.add_argument("--workload", nargs="*", default=list(WORKLOADS), choices=WORKLOADS)
  p.add_argument("--steps", type=int, default=None,
                 help="steps per timed block (default: 3 conv, 500 MLP)")
  p.add_argument("--rounds", type=int, default=5)
  p.add_argument("--torch_threads", type=int, default=None,
                 help="PyTorch's intra-op threads (default: every core)")
  args = p.parse_args()
  if not os.path.exists(args.torch_python):
    fail(f"--torch_python: {args.torch_python} does not exist")
  if args.rounds < 1:
    fail(f"--rounds: must be >= 1, got {args.rounds}")
  for w in args.workload:
    r = compare(w, args.torch_python, args.steps or DEFAULT_STEPS[w], args.rounds,
                args.torch_threads)
    print(f"{w}: gans_jax {r['gans_jax_s_per_step']:.4f} s/step ({r['gans_jax_steps_per_s']} "
          f"steps/s), PyTorch {r['torch_s_per_step']:.4f} s/step ({r['torch_steps_per_s']} "
          f"steps/s): {r['ratio']:.2f}x (rounds {r['ratio_per_round']}); "
          f"{r['gans_jax_gflop_per_s']} GFLOP/s = {r['matmul_fraction']:.0%} of the 2048^2 "
          f"matmul's {r['matmul_2048_gflop_per_s']}", flush=True)
    print(json.dumps(r), flush=True)


if __name__ == "__main__":
  main()
