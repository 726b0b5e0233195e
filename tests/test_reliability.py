"""Runs that are stopped, collide, cannot write, resume damaged or changed checkpoints,
or are started wrongly: each ends in a checkpoint to resume from or one `error:` line.

The command-line tests start launch.py on a shrunk experiments/gan_mlp.py (16-unit
MLPs on ring8), which compiles in seconds; the rest call the trainer in-process.
"""

import fcntl
import glob
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from gans_jax import checkpoint, trainer
from gans_jax.edit import _load_direction
from gans_jax.errors import UserError
from gans_jax.evaluate import restore_latest
from gans_jax.families.base import step_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MLP = ["--config", "experiments/gan_mlp.py", "--config.model.g_hidden=(16,)",
       "--config.model.d_hidden=(16,)", "--config.sample_every=100000",
       "--config.checkpoint_every=100000", "--config.num_sample_points=64"]
ENV = {**os.environ, "PYTHONPATH": ROOT}


def launch_argv(*args) -> list:
  return [sys.executable, os.path.join(ROOT, "launch.py"), *args]


def launch(*args, script=None, timeout=300):
  argv = [sys.executable, script, *args] if script else launch_argv(*args)
  return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=ENV,
                        timeout=timeout)


def error_line(result) -> str:
  """The one `error:` line of a run that exited 2 without a traceback."""
  assert result.returncode == 2, result.stderr
  assert "Traceback" not in result.stderr, result.stderr
  lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(lines) == 1, result.stderr
  return lines[0]


def metric_steps(workdir) -> list:
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line)["step"] for line in f if line.strip()]


def checkpoint_steps(workdir) -> list:
  return sorted(int(s) for s in os.listdir(os.path.join(workdir, "checkpoints")) if s.isdigit())


def interrupt(argv, workdir, signum, *, after_step: int):
  """Starts launch.py, sends `signum` once metrics.jsonl has a row past `after_step`."""
  with open(os.path.join(workdir, os.pardir, f"stderr_{signum}"), "w+") as err:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT,
                            env=ENV)
    deadline = time.monotonic() + 240
    while not any(s > after_step for s in metric_steps(workdir)):
      assert proc.poll() is None, f"launch.py ended ({proc.returncode}) before logging a row"
      assert time.monotonic() < deadline, "no metrics row within 240 s"
      time.sleep(0.05)
    proc.send_signal(signum)
    stdout, _ = proc.communicate(timeout=120)
    err.seek(0)
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, err.read())


def tmp_checkpoints(workdir) -> list:
  return glob.glob(os.path.join(workdir, "checkpoints", "*orbax-checkpoint-tmp*"))


# -- 1. SIGTERM and SIGINT


def test_sigterm_and_sigint_save_a_checkpoint_exit_128_plus_signum_and_resume(data_dir,
                                                                              tmp_path):
  workdir = str(tmp_path / "run")
  os.makedirs(workdir)
  common = [*MLP, f"--workdir={workdir}", f"--config.dataset.data_dir={data_dir}",
            "--config.log_every=10"]
  endless = ["--config.train.num_steps=100000000"]

  # SIGTERM (what cluster schedulers send), without the progress bar.
  first = interrupt(launch_argv(*common, *endless, "--progress=false"), workdir,
                    signal.SIGTERM, after_step=0)
  assert first.returncode == 143, first.stderr
  assert (f"SIGTERM: checkpoint saved in {workdir}/checkpoints; re-run the same command to "
          "resume") in first.stderr
  assert "Traceback" not in first.stderr
  rows1 = metric_steps(workdir)
  [saved1] = checkpoint_steps(workdir)  # checkpoint_every is far away: the signal's save
  assert rows1 and rows1[-1] <= saved1 < rows1[-1] + 10, (rows1, saved1)
  assert not tmp_checkpoints(workdir)

  # The same command resumes from that step; SIGINT (Ctrl-C), with the progress bar.
  second = interrupt(launch_argv(*common, *endless, "--progress=true"), workdir,
                     signal.SIGINT, after_step=saved1)
  assert second.returncode == 130, second.stderr
  assert f"interrupt: checkpoint saved in {workdir}/checkpoints" in second.stderr
  assert "step/s" in second.stderr  # the bar was drawn
  assert "Traceback" not in second.stderr
  rows2 = metric_steps(workdir)
  saved2 = checkpoint_steps(workdir)[-1]
  assert rows2[:len(rows1)] == rows1  # kept, not restarted from step 0
  assert rows2[len(rows1)] == (saved1 // 10 + 1) * 10  # continued after the saved step
  assert rows2 == sorted(set(rows2)) and rows2[-1] <= saved2 < rows2[-1] + 10
  assert not tmp_checkpoints(workdir)

  # A num_steps a little above the saved step: resumes there and finishes.
  end = saved2 + 25
  third = launch(*common, f"--config.train.num_steps={end}", "--progress=false")
  assert third.returncode == 0, third.stderr
  assert f"done: {end} steps" in third.stdout
  rows3 = metric_steps(workdir)
  assert rows3[:len(rows2)] == rows2
  assert rows3[len(rows2):] == [s for s in range(10, end, 10) if s > saved2] + [end]
  assert checkpoint_steps(workdir)[-1] == end


# -- 2. One run per workdir


def test_a_second_run_on_a_workdir_in_use_exits_2_naming_the_holder(data_dir, tmp_path):
  workdir = tmp_path / "run"
  workdir.mkdir()
  with open(workdir / ".lock", "a+") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    lock.write(f"{os.getpid()} {socket.gethostname()}\n")
    lock.flush()
    result = launch(*MLP, f"--workdir={workdir}", f"--config.dataset.data_dir={data_dir}",
                    "--progress=false")
  line = error_line(result)
  assert f"--workdir: {workdir} is in use by process {os.getpid()}" in line
  assert os.listdir(workdir) == [".lock"]  # stopped before writing anything


def test_workdir_lock_is_exclusive_and_freed_when_its_holder_dies(tmp_path):
  held = checkpoint.WorkdirLock(str(tmp_path))
  with pytest.raises(UserError, match=rf"is in use by process {os.getpid()} "):
    checkpoint.WorkdirLock(str(tmp_path))
  held.release()
  checkpoint.WorkdirLock(str(tmp_path)).release()

  # A holder killed outright (no clean-up) leaves its pid in the file, but the
  # OS dropped its lock with the process.
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time; from gans_jax.checkpoint import WorkdirLock; "
       f"lock = WorkdirLock({str(tmp_path)!r}); print('locked', flush=True); time.sleep(120)"],
      stdout=subprocess.PIPE, text=True, cwd=ROOT, env=ENV)
  assert holder.stdout.readline().strip() == "locked"
  with pytest.raises(UserError, match=rf"in use by process {holder.pid} "):
    checkpoint.WorkdirLock(str(tmp_path))
  holder.kill()
  holder.wait()
  holder.stdout.close()
  assert open(tmp_path / ".lock").read().split()[0] == str(holder.pid)
  checkpoint.WorkdirLock(str(tmp_path)).release()


# -- 3. Directories that cannot be written


def shrunk_mlp(data_dir, num_steps=2, **overrides):
  config = importlib.import_module("experiments.gan_mlp").get_config()
  config.dataset.data_dir = data_dir
  config.model.g_hidden = config.model.d_hidden = (16,)
  config.train.num_steps = num_steps
  config.train.batch_size = 16
  config.log_every = config.checkpoint_every = 2
  config.sample_every = 1000
  config.num_sample_points = 64
  for field, value in overrides.items():  # section__key; the section may be dotted
    section, _, key = field.rpartition("__")
    target = config
    for part in filter(None, section.split(".")):
      target = target[part]
    target[key] = value
  return config


def test_a_workdir_or_checkpoint_dir_that_cannot_be_written_is_a_user_error(data_dir, tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  under_file = str(blocker / "run")
  with pytest.raises(UserError, match=rf"--workdir: .*{under_file}.*Not a directory"):
    trainer.train_and_evaluate(shrunk_mlp(data_dir), under_file, progress=False)
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "checkpoints").write_text("")
  with pytest.raises(UserError, match=rf"--workdir: .*{workdir}/checkpoints"):
    trainer.train_and_evaluate(shrunk_mlp(data_dir), str(workdir), progress=False)
  assert os.listdir(workdir) == ["checkpoints"]  # the lock is gone with the run


@pytest.mark.parametrize("kind,os_error", [("notadir", "Not a directory"),
                                           ("tensorstore", "No space left on device")])
def test_a_failed_checkpoint_save_is_one_error_line_and_keeps_rows_up_to_the_last_one(
    kind, os_error, data_dir, tmp_path):
  workdir = str(tmp_path / "run")
  # The timeout is the "within seconds": an asynchronous orbax save that fails to
  # create its directory leaves threads that keep the process alive for 5 minutes.
  result = launch("2", kind, *MLP, f"--workdir={workdir}", f"--config.dataset.data_dir={data_dir}",
                  "--config.train.num_steps=200", "--config.log_every=10",
                  "--config.checkpoint_every=40", "--progress=false",
                  script=os.path.join(ROOT, "tests", "launch_with_failing_save.py"), timeout=150)
  line = error_line(result)
  assert os_error in line and "step 80" in line, line
  assert "step 40" in line  # the checkpoint a re-run resumes from
  assert checkpoint_steps(workdir) == [40]
  assert metric_steps(workdir) == [10, 20, 30, 40]
  assert not tmp_checkpoints(workdir)


# -- 4. Damaged checkpoints


def damage(workdir, step: int) -> None:
  """Truncates every file of a checkpoint (what a full disk or a killed copy leaves)."""
  for root, _, files in os.walk(os.path.join(workdir, "checkpoints", str(step))):
    for name in files:
      open(os.path.join(root, name), "w").close()


def test_a_damaged_latest_checkpoint_falls_back_to_the_newest_that_restores(
    data_dir, tmp_path, capfd, monkeypatch):
  workdir = str(tmp_path)
  trainer.train_and_evaluate(shrunk_mlp(data_dir, num_steps=4), workdir, progress=False)
  damage(workdir, 4)
  capfd.readouterr()

  # Evaluation and editing read the newest good one and leave the directory alone.
  _, _, state = restore_latest(shrunk_mlp(data_dir, num_steps=4), workdir)
  assert step_of(state) == 2
  err = capfd.readouterr().err
  warnings = [l for l in err.splitlines() if l.startswith("warning:")]
  assert len(warnings) == 1 and "step 4" in warnings[0], err
  assert "ERROR" not in err and "Traceback" not in err, err
  assert checkpoint_steps(workdir) == [2, 4]

  # Training resumes from it, and sets the damaged one aside.
  restored = []
  original = checkpoint.Checkpointer.restore
  monkeypatch.setattr(checkpoint.Checkpointer, "restore",
                      lambda self, t, step=None: restored.append(step) or original(self, t, step))
  state = trainer.train_and_evaluate(shrunk_mlp(data_dir, num_steps=6), workdir, progress=False)
  assert step_of(state) == 6
  assert restored == [4, 2]
  warnings = [l for l in capfd.readouterr().err.splitlines() if l.startswith("warning:")]
  assert len(warnings) == 1 and "step 4" in warnings[0]
  assert checkpoint_steps(workdir) == [2, 4, 6]
  assert os.path.isdir(os.path.join(workdir, "checkpoints", "damaged_4"))
  assert metric_steps(workdir) == [2, 4, 6]


def test_no_checkpoint_that_restores_is_a_user_error(data_dir, tmp_path):
  workdir = str(tmp_path)
  trainer.train_and_evaluate(shrunk_mlp(data_dir, num_steps=2), workdir, progress=False)
  damage(workdir, 2)
  with open(os.path.join(workdir, "config.json")) as f:
    saved = f.read()
  with pytest.raises(UserError, match=r"--workdir: no checkpoint in .* restores.*step 2"):
    trainer.train_and_evaluate(shrunk_mlp(data_dir, num_steps=4), workdir, progress=False)
  with pytest.raises(UserError, match=r"--workdir: no checkpoint in .* restores"):
    restore_latest(shrunk_mlp(data_dir), workdir)
  assert checkpoint_steps(workdir) == [2]  # nothing set aside: nothing newer restored
  with open(os.path.join(workdir, "config.json")) as f:
    assert f.read() == saved


# -- 5. Resuming with another config


def test_resuming_with_a_different_model_loss_or_optimizer_is_a_user_error_naming_them(
    data_dir, tmp_path):
  workdir = str(tmp_path)
  trainer.train_and_evaluate(shrunk_mlp(data_dir), workdir, progress=False)
  with open(os.path.join(workdir, "config.json")) as f:
    saved = f.read()
  changed = shrunk_mlp(data_dir, num_steps=4, model__g_hidden=(8,), loss__name="minimax",
                       **{"optimizer.g__name": "sgd"})
  with pytest.raises(UserError) as info:
    trainer.train_and_evaluate(changed, workdir, progress=False)
  message = str(info.value)
  for field in ("model.g_hidden", "loss.name", "optimizer.g.name"):
    assert field in message, message
  assert "train.num_steps" not in message  # allowed to change
  with open(os.path.join(workdir, "config.json")) as f:
    assert f.read() == saved
  assert metric_steps(workdir) == [2] and checkpoint_steps(workdir) == [2]
  with pytest.raises(UserError, match="model.g_hidden"):
    restore_latest(changed, workdir)


def test_resuming_with_other_steps_intervals_and_learning_rates_is_allowed_and_recorded(
    data_dir, tmp_path):
  workdir = str(tmp_path)
  trainer.train_and_evaluate(shrunk_mlp(data_dir), workdir, progress=False)
  changed = shrunk_mlp(data_dir, num_steps=4, log_every=1,
                       **{"optimizer.g__learning_rate": 5e-5})
  state = trainer.train_and_evaluate(changed, workdir, progress=False)
  assert step_of(state) == 4
  with open(os.path.join(workdir, "config.json")) as f:
    saved = json.load(f)
  assert saved["train"]["num_steps"] == 4 and saved["optimizer"]["g"]["learning_rate"] == 5e-5
  with open(os.path.join(workdir, "config_changes.jsonl")) as f:
    [row] = [json.loads(line) for line in f]
  assert row == {"step": 2, "changes": {"log_every": [2, 1], "train.num_steps": [2, 4],
                                        "optimizer.g.learning_rate": [1e-4, 5e-5]}}


# -- 6. One error line instead of a traceback


def _config_file(tmp_path, name, text) -> str:
  path = tmp_path / name
  path.write_text(text)
  return str(path)


LAUNCH_ERRORS = {
    # id: (arguments (formatted with tmp, data_dir, file, workdir), workdir exists, fragments)
    "config_syntax_error": (["--config", "{tmp}/syntax.py"], False,
                            ["--config {tmp}/syntax.py", "SyntaxError"]),
    "get_config_raises": (["--config", "{tmp}/raises.py"], False,
                          ["--config {tmp}/raises.py", "RuntimeError: no such dataset here"]),
    "missing_config_with_override": (["--config", "{tmp}/nope.py", "--config.train.num_steps=3"],
                                     False, ["--config {tmp}/nope.py", "no such file"]),
    "unknown_override": ([*MLP, "--config.train.no_such_field=3"], False,
                         ["--config.train.no_such_field=3", "train.no_such_field"]),
    "misspelt_override": ([*MLP, "--config.train.num_step=3"], False,
                          ["--config.train.num_step=3", "did you mean train.num_steps?"]),
    "data_dir_is_a_file": ([*MLP, "--config.dataset.data_dir={file}"], False,
                           ["dataset.data_dir", "{file}"]),
    "data_dir_cannot_be_created": ([*MLP, "--config.dataset.data_dir={file}/tfds"], False,
                                   ["dataset.data_dir", "{file}/tfds"]),
    "workdir_cannot_be_created": ([*MLP, "--workdir={file}/run"], False,
                                  ["--workdir", "{file}/run", "Not a directory"]),
    "eval_without_checkpoint": ([*MLP, "--mode=eval"], True, ["--mode=eval", "{workdir}"]),
    "edit_without_checkpoint": ([*MLP, "--mode=edit"], True, ["--mode=edit", "{workdir}"]),
    "negative_learning_rate": ([*MLP, "--config.optimizer.g.learning_rate=-0.0001"], False,
                               ["optimizer.g.learning_rate", "-0.0001"]),
    "beta_outside_0_1": ([*MLP, "--config.optimizer.d.b1=1.0"], False,
                         ["optimizer.d.b1", "[0, 1)"]),
}


@pytest.mark.parametrize("case", list(LAUNCH_ERRORS))
def test_launch_mistakes_are_one_error_line_exit_2_and_write_nothing(case, data_dir, tmp_path):
  args, workdir_exists, fragments = LAUNCH_ERRORS[case]
  _config_file(tmp_path, "syntax.py", "def get_config(:\n  pass\n")
  _config_file(tmp_path, "raises.py",
               "def get_config():\n  raise RuntimeError('no such dataset here')\n")
  blocker = _config_file(tmp_path, "a_file", "")
  workdir = tmp_path / "run"
  if workdir_exists:
    workdir.mkdir()
  names = dict(tmp=tmp_path, data_dir=data_dir, file=blocker, workdir=workdir)
  args = [a.format(**names) for a in args]
  if not any(a.startswith("--config.dataset.data_dir") for a in args):
    args.append(f"--config.dataset.data_dir={data_dir}")
  if not any(a.startswith("--workdir") for a in args):
    args.append(f"--workdir={workdir}")
  before = sorted(os.listdir(tmp_path))
  line = error_line(launch(*args, "--progress=false"))
  for fragment in fragments:
    assert fragment.format(**names) in line, line
  assert sorted(os.listdir(tmp_path)) == before  # nothing written
  if workdir_exists:
    assert os.listdir(workdir) == []  # not even an empty checkpoints/
  if case == "unknown_override":  # only the bad override, quoted plainly
    assert "data_dir" not in line and "\"'" not in line, line
  assert open(blocker).read() == ""


def test_an_npz_edit_direction_is_a_user_error(tmp_path):
  path = str(tmp_path / "direction.npz")
  np.savez(path, direction=np.zeros(2, np.float32))
  with pytest.raises(UserError, match=r"edit\.direction_path: .*direction\.npz.*\.npy"):
    _load_direction(path, 2)
  good = str(tmp_path / "direction.npy")
  np.save(good, np.ones(2, np.float32))
  np.testing.assert_array_equal(_load_direction(good, 2), np.ones(2, np.float32))
