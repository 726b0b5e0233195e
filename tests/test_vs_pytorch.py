"""benchmarks/vs_pytorch.py's bookkeeping: the child protocol, the ratio's direction, bad input."""

import os
import stat
import subprocess
import sys
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import vs_pytorch  # noqa: E402


def _fake_python(tmp_path, seconds_per_block: float) -> str:
  """An 'interpreter' that ignores its arguments and speaks torch_reference.py's --serve
  protocol: 'ready', then `seconds_per_block` for every line it reads."""
  path = tmp_path / "python"
  path.write_text("#!/bin/sh\necho ready\nwhile read n; do echo %s; done\n" % seconds_per_block)
  path.chmod(path.stat().st_mode | stat.S_IEXEC)
  return str(path)


class _FakeTimed:
  """Stands in for throughput._Timed: each block of n steps takes 0.25 s per step."""

  def __init__(self, config, devices, streamed, num_calls):
    self.flops = 4e9
    self.feed = mock.Mock()
    self.calls = []

  def run(self, first, n):
    self.calls.append((first, n))
    return 0.25 * n


def test_ratio_is_gans_jax_steps_per_second_over_pytorchs(tmp_path):
  # PyTorch: 3 steps in 1.5 s (0.5 s/step); gans_jax 0.25 s/step: gans_jax is 2x faster.
  python = _fake_python(tmp_path, 1.5)
  with mock.patch.object(vs_pytorch.throughput, "_Timed", _FakeTimed), \
       mock.patch.object(vs_pytorch.throughput, "workload_config", lambda name: None), \
       mock.patch.object(vs_pytorch.throughput, "matmul_gflop_per_s", lambda d, dev: 32.0):
    r = vs_pytorch.compare("dcgan_wgan_gp_32", python, steps=3, rounds=4, threads=None)
  assert r["gans_jax_s_per_step"] == 0.25 and r["torch_s_per_step"] == 0.5
  assert r["gans_jax_steps_per_s"] == 4.0 and r["torch_steps_per_s"] == 2.0
  assert r["ratio"] == 2.0 and r["ratio_per_round"] == [2.0] * 4
  # 4 GFLOP per step at 4 steps/s = 16 GFLOP/s, half of the (fake) 32 GFLOP/s matmul.
  assert r["gans_jax_gflop_per_s"] == 16.0 and r["matmul_fraction"] == 0.5


def test_a_missing_interpreter_is_one_error_line_and_status_2(tmp_path):
  missing = str(tmp_path / "no_python")
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "vs_pytorch.py"),
                         "--torch_python", missing], capture_output=True, text=True, cwd=ROOT)
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines() == [f"error: --torch_python: {missing} does not exist"]


def test_a_child_that_does_not_start_is_reported(tmp_path):
  path = tmp_path / "python"
  path.write_text("#!/bin/sh\necho 'No module named torch'\n")
  path.chmod(path.stat().st_mode | stat.S_IEXEC)
  try:
    vs_pytorch.TorchChild(str(path), "pacgan_mlp", None)
  except SystemExit as e:
    assert e.code == 2
  else:
    raise AssertionError("a child that does not say 'ready' must stop the run")
