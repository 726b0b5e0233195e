"""launch.py end to end, as a user runs it: outputs, resume, and one-line errors with status 2."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from xla_flags import with_host_devices

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--config.train.num_steps=4", "--config.train.batch_size=8", "--config.log_every=2",
        "--config.sample_every=2", "--config.checkpoint_every=2", "--config.dataset.resolution=8",
        "--config.model.g_width=8", "--config.model.d_width=8", "--config.num_sample_images=4",
        "--progress=false"]


def launch(*args, env=None):
  return subprocess.run([sys.executable, os.path.join(ROOT, "launch.py"), *args],
                        capture_output=True, text=True, cwd=ROOT,
                        env={**os.environ, **(env or {})}, timeout=600)


def test_launch_trains_wgan_gp_end_to_end(data_dir, tmp_path):
  """The README command, shrunk. (Resume equality is proven in test_train.py.)"""
  workdir = str(tmp_path / "run")
  cache = str(tmp_path / "xla_cache")
  first = launch("--config", "experiments/wgan_gp.py", "--workdir", workdir,
                 f"--config.dataset.data_dir={data_dir}", f"--compilation_cache_dir={cache}",
                 *TINY)
  assert first.returncode == 0, first.stderr
  assert "done: 4 steps" in first.stdout
  rows = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [r["step"] for r in rows] == [2, 4] and "gp" in rows[0]
  assert {"2", "4"} <= set(os.listdir(os.path.join(workdir, "checkpoints")))
  assert sorted(os.listdir(os.path.join(workdir, "samples"))) == [
      "step_0000002.png", "step_0000004.png"]
  assert os.path.exists(os.path.join(workdir, "losses.png"))
  assert os.listdir(cache)  # the compiled programs were kept there


@pytest.mark.parametrize("override,field", [
    ("--config.loss.name=wasserstain", "loss.name"),
    ("--config.model.arch=vit", "model.arch"),
    ("--config.train.n_critic=0", "train.n_critic"),
    ("--config.dataset.name=no_such_dataset", "dataset.name"),
    ("--config.train.no_such_field=3", "no_such_field"),
])
def test_bad_config_is_one_line_naming_the_field_and_exit_2(override, field, data_dir, tmp_path):
  result = launch("--config", "experiments/wgan_gp.py", "--workdir", str(tmp_path),
                  f"--config.dataset.data_dir={data_dir}", override, *TINY)
  assert result.returncode == 2, result.stderr
  lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(lines) == 1 and field in lines[0], result.stderr
  assert "Traceback" not in result.stderr


def test_batch_not_divisible_by_devices_is_exit_2(data_dir, tmp_path):
  result = launch("--config", "experiments/wgan_gp.py", "--workdir", str(tmp_path),
                  f"--config.dataset.data_dir={data_dir}", *TINY, "--config.train.batch_size=6",
                  env=with_host_devices(4))
  assert result.returncode == 2
  assert "train.batch_size" in result.stderr and "divisible" in result.stderr


def test_missing_config_file_is_exit_2(tmp_path):
  result = launch("--config", "experiments/nope.py", "--workdir", str(tmp_path))
  assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize("config,extra,named", [
    ("experiments/wgan_gp.py", ["--mode=eval"], "--mode=eval"),
    ("experiments/wgan_gp.py", ["--mode=edit"], "--mode=edit"),
    ("experiments/wgan_gp.py", ["--num_processes=2"], "--distributed"),
])
def test_distributed_only_for_training_is_exit_2(config, extra, named, tmp_path):
  """Checked before jax.distributed.initialize, which would wait for the other processes."""
  args = ["--distributed"] if named != "--distributed" else []
  result = launch("--config", config, "--workdir", str(tmp_path), *args, *extra)
  assert result.returncode == 2, result.stderr
  lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(lines) == 1 and named in lines[0], result.stderr


MLP_TINY = ["--config.model.g_hidden=(16,)", "--config.model.d_hidden=(16,)",
            "--config.train.batch_size=16", "--config.num_sample_points=32", "--progress=false"]


def test_divergence_through_the_command_line_exits_1_keeping_the_last_good_checkpoint(
    data_dir, tmp_path):
  """SGD at a 1e10 learning rate overflows within a few steps: one `error:` line naming the
  non-finite metric and the kept checkpoint, status 1, and only finite checkpoints on disk."""
  workdir = tmp_path / "run"
  result = launch("--config", "experiments/gan_mlp.py", "--workdir", str(workdir),
                  f"--config.dataset.data_dir={data_dir}", *MLP_TINY,
                  "--config.train.num_steps=50", "--config.log_every=1",
                  "--config.checkpoint_every=1", "--config.sample_every=1000",
                  "--config.optimizer.d.name=sgd", "--config.optimizer.d.learning_rate=1e10",
                  "--config.optimizer.g.name=sgd", "--config.optimizer.g.learning_rate=1e10")
  assert result.returncode == 1, result.stderr
  lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(lines) == 1 and "non-finite" in lines[0] and "checkpoint" in lines[0], result.stderr
  assert "Traceback" not in result.stderr
  steps = sorted(int(s) for s in os.listdir(workdir / "checkpoints") if s.isdigit())
  rows = [json.loads(l) for l in open(workdir / "metrics.jsonl")]
  assert steps and steps[-1] < 50
  assert all(np.isfinite(r["d_loss"]) for r in rows)


def test_rows_logged_after_the_last_checkpoint_are_dropped_on_resume(data_dir, tmp_path):
  """A crash after logging step 6 but before its checkpoint leaves a row no checkpoint
  backs; the resumed run drops it and logs step 6 again, from the restored step 4."""
  workdir = str(tmp_path / "run")
  args = ["--config", "experiments/gan_mlp.py", "--workdir", workdir,
          f"--config.dataset.data_dir={data_dir}", *MLP_TINY, "--config.log_every=2",
          "--config.checkpoint_every=4", "--config.sample_every=1000"]
  assert launch(*args, "--config.train.num_steps=4").returncode == 0
  with open(os.path.join(workdir, "metrics.jsonl"), "a") as f:
    f.write(json.dumps({"step": 6, "d_loss": 123.0}) + "\n")  # the crashed run's row
  resumed = launch(*args, "--config.train.num_steps=6")
  assert resumed.returncode == 0, resumed.stderr
  rows = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [r["step"] for r in rows] == [2, 4, 6]
  assert rows[-1]["d_loss"] != 123.0
