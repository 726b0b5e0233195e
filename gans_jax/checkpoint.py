"""Orbax checkpoints of a training state, and the workdir they live in.

`Checkpointer` saves, restores, and finds the newest checkpoint that restores
(`restore_newest`): a damaged one (truncated files, a half-copied directory)
is skipped with one warning line. Writes are atomic (orbax commits a step
directory by renaming it), keep the last `keep` steps and are synchronous: a
failed write raises at the `save` that made it (`SaveError`), while an
asynchronous one would surface a step later, and a failed asynchronous
directory creation leaves orbax threads that hold the process for minutes. The
state is saved as its Flax state dict, so any family's state (a
`flax.struct.dataclass` of TrainStates and arrays) round-trips.

`prepare_workdir` creates a training run's directories, checks they can be
written, and takes `WorkdirLock`, so two runs never write one workdir.
"""

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
import socket
import sys
import tempfile

import flax
import orbax.checkpoint as ocp

from gans_jax import parallel
from gans_jax.errors import UserError
from gans_jax.logs import silence_misleading_library_warnings
from gans_jax.families.base import step_of

silence_misleading_library_warnings()

LOCK_FILE = ".lock"
DAMAGED_PREFIX = "damaged_"  # a checkpoint that did not restore, set aside by training
BEST_DIR = "checkpoints_best"  # the best-evaluated checkpoint of a workdir (eval.keep_best)


def os_error_text(err: BaseException) -> str:
  """The OS's words for an I/O failure: ``'No space left on device'``, or the error itself.

  Tensorstore (orbax's array writer) reports OS errors as a ValueError whose
  message ends in ``[os_error_code='28']``.
  """
  if isinstance(err, OSError) and err.strerror:
    return f"{err.strerror}: {err.filename}" if err.filename else err.strerror
  code = re.search(r"os_error_code='?(\d+)", str(err))
  if code:
    return os.strerror(int(code.group(1)))
  return f"{type(err).__name__}: {' '.join(str(err).split())[:200]}"


class SaveError(OSError):
  """A checkpoint could not be written; `step` is the step that was being saved."""

  def __init__(self, step: int, directory: str, cause: BaseException):
    super().__init__(f"could not save the checkpoint of step {step} in {directory} "
                     f"({os_error_text(cause)})")
    self.step = step


@contextlib.contextmanager
def _quiet_orbax():
  """Silences absl logging (orbax logs each failed read as an ERROR with a traceback,
  and read-only managers warn that they are read-only); our callers report failures."""
  logger = logging.getLogger("absl")
  level = logger.level
  logger.setLevel(logging.CRITICAL)
  try:
    yield
  finally:
    logger.setLevel(level)


class Checkpointer:
  """Orbax CheckpointManager over `directory` (atomic writes, keeps the last `keep`).

  `read_only`: never creates or changes anything (evaluation, editing).
  `best_metric`: keep instead the `keep` checkpoints with the best value of
  that metric (`save(state, metrics)`; `best_mode` 'min' or 'max'), with
  orbax's best-checkpoint options (`best_fn`, `best_mode`).
  """

  def __init__(self, directory: str, keep: int, *, read_only: bool = False,
               best_metric: str | None = None, best_mode: str = "min"):
    self.directory = os.path.abspath(directory)
    self.read_only, self.best_metric = read_only, best_metric
    best = {} if best_metric is None else dict(
        best_fn=lambda metrics: float(metrics[best_metric]), best_mode=best_mode,
        keep_checkpoints_without_metrics=False)
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, create=not read_only, read_only=read_only,
        save_interval_steps=0 if read_only else 1,
        # Removes step directories a killed save left uncommitted.
        cleanup_tmp_directories=not read_only, enable_async_checkpointing=False, **best)
    with _quiet_orbax():
      self.manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self):
    return self.manager.latest_step()

  def all_steps(self) -> list:
    return sorted(self.manager.all_steps())

  def save(self, state, metrics: dict | None = None) -> None:
    """Saves `state` at its step (a no-op when that step exists); `SaveError` if it cannot.

    `metrics`: the values `best_metric` is read from (a best-checkpoint manager)."""
    step = step_of(state)
    if step in self.manager.all_steps():
      return
    tree = flax.serialization.to_state_dict(state)
    if parallel.multi_process():
      # Every process holds the same state on its own devices; orbax saves
      # global arrays (each process writes its share, process 0 commits).
      tree = parallel.to_global(tree)
    try:
      self.manager.save(step, args=ocp.args.StandardSave(tree), metrics=metrics)
    except (OSError, ValueError) as err:  # tensorstore's I/O errors are ValueErrors
      self._remove_uncommitted(step)
      raise SaveError(step, self.directory, err) from err

  def _remove_uncommitted(self, step: int) -> None:
    for path in os.listdir(self.directory) if os.path.isdir(self.directory) else ():
      if path.startswith(f"{step}.orbax-checkpoint-tmp"):
        shutil.rmtree(os.path.join(self.directory, path), ignore_errors=True)
    with contextlib.suppress(Exception):
      self.manager.reload()

  def restore(self, template, step=None):
    """The state saved at `step` (default: the latest), shaped like `template`."""
    step = self.manager.latest_step() if step is None else step
    # Explicit placements: a checkpoint saved by N processes restores in one
    # (e.g. --mode=eval after a multi-host run) and the other way round.
    abstract = parallel.restore_target(flax.serialization.to_state_dict(template))
    with _quiet_orbax():
      restored = self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
    if parallel.multi_process():
      restored = parallel.to_local(restored)
    return flax.serialization.from_state_dict(template, restored)

  def restore_newest(self, template, *, set_aside: bool = False, hint: str = ""):
    """The newest checkpoint that restores, shaped like `template`; None if there is none.

    Each newer one that fails to restore is skipped with one ``warning:`` line
    on stderr; `set_aside` renames those to ``damaged_<step>`` (training does,
    so that it can save that step again). Raises `UserError` when checkpoints
    exist but none restores; `hint` is added to its message (what may explain it).
    """
    steps = self.all_steps()
    failed = []
    for step in reversed(steps):
      try:
        state = self.restore(template, step)
      except Exception as err:  # pylint: disable=broad-except  # any damage: try an older one
        failed.append((step, err))
        continue
      for bad, err in failed:
        where = f"moved it to {self._set_aside(bad)}" if set_aside else "skipped it"
        print(f"warning: checkpoint step {bad} in {self.directory} does not restore "
              f"({os_error_text(err)}); {where} and used step {step}", file=sys.stderr)
      return state
    if failed:
      listed = "; ".join(f"step {s}: {os_error_text(e)}" for s, e in failed)
      raise UserError(f"--workdir: no checkpoint in {self.directory} restores ({listed})"
                      + (f"; {hint}" if hint else "")
                      + "; restore a copy of the directory, or start again in another --workdir")
    return None

  def _set_aside(self, step: int) -> str:
    target = os.path.join(self.directory, f"{DAMAGED_PREFIX}{step}")
    n = 1
    while os.path.exists(target):
      n += 1
      target = os.path.join(self.directory, f"{DAMAGED_PREFIX}{step}_{n}")
    os.rename(os.path.join(self.directory, str(step)), target)
    self.manager.reload()
    return target

  def describe(self) -> str:
    """What a stopped run leaves behind, for its error message."""
    step = self.latest_step()
    if step is None:
      return "no checkpoint was written before it"
    return f"the last good checkpoint, step {step}, is kept in {self.directory}"

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


def committed_steps(directory: str) -> list:
  """The steps saved in `directory` (none if it does not exist); creates nothing."""
  if not os.path.isdir(directory):
    return []
  with _quiet_orbax():
    manager = ocp.CheckpointManager(
        os.path.abspath(directory),
        options=ocp.CheckpointManagerOptions(read_only=True, create=False,
                                             save_interval_steps=0))
  try:
    return sorted(manager.all_steps())
  finally:
    manager.close()


def require_checkpoint(workdir: str, purpose: str, subdir: str = "checkpoints") -> None:
  """Raises `UserError` unless `workdir/subdir` holds a checkpoint; creates nothing.

  `purpose` is what needs it, e.g. ``'--mode=edit'``.
  """
  directory = os.path.join(workdir, subdir)
  if not committed_steps(directory):
    how = " with eval_every > 0" if subdir == BEST_DIR else ""
    raise UserError(f"--workdir: no checkpoint in {directory}, and {purpose} needs one; train "
                    f"first with the same --config and --workdir (without --mode){how}")


class WorkdirLock:
  """An exclusive lock on a workdir: ``flock`` of ``<workdir>/.lock``, which names its holder.

  The OS drops a flock when its holder exits, however it ends, so a lock left
  by a killed run is simply taken again. Raises `UserError` naming the holder's
  pid and host while another process holds it. On a filesystem without flock
  (some network mounts) a warning is printed and the run goes on unlocked.
  """

  def __init__(self, workdir: str):
    self.path = os.path.join(os.path.abspath(workdir), LOCK_FILE)
    self.file = None
    while self.file is None:
      try:
        f = open(self.path, "a+")  # pylint: disable=consider-using-with  # held until release
      except OSError as err:
        raise UserError(f"--workdir: cannot write to {os.path.dirname(self.path)} "
                        f"({os_error_text(err)}); give a --workdir on a writable disk") from None
      try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        f.seek(0)
        holder = f.read().split()
        f.close()
        who = (f"process {holder[0]} on {holder[1]}" if len(holder) >= 2
               else "another process")
        raise UserError(f"--workdir: {os.path.dirname(self.path)} is in use by {who} (it "
                        f"holds {self.path}); wait for that run to end or stop it, or give "
                        "another --workdir") from None
      except OSError as err:
        f.close()
        if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
          raise
        print(f"warning: cannot lock {self.path} ({err.strerror}); make sure no other run "
              "uses this --workdir", file=sys.stderr)
        return
      # A releasing holder unlinks the file: a lock on an unlinked file is no lock.
      try:
        same = os.path.samestat(os.fstat(f.fileno()), os.stat(self.path))
      except FileNotFoundError:
        same = False
      if not same:
        f.close()
        continue
      f.seek(0)
      f.truncate()
      f.write(f"{os.getpid()} {socket.gethostname()}\n")
      f.flush()
      self.file = f

  def release(self) -> None:
    if self.file is not None:
      with contextlib.suppress(OSError):
        os.unlink(self.path)
      self.file.close()  # closing drops the flock
      self.file = None


def _check_writable(directory: str) -> None:
  """Creates `directory` if needed and writes a file in it; UserError naming it otherwise."""
  try:
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryFile(dir=directory, prefix=".write_test"):
      pass
  except OSError as err:
    raise UserError(f"--workdir: cannot write to {directory} ({os_error_text(err)}); give a "
                    "--workdir on a writable disk") from None


def prepare_workdir(workdir: str, *, lock: bool = True):
  """Creates `workdir` and `workdir/checkpoints`, checks both can be written, locks it.

  Returns ``(lock or None, created)``; `created` is the outermost directory
  this call made (the workdir, or its checkpoints/ directory; None if both
  existed), so a run that fails to start can remove it again. Raises
  `UserError` naming the path and the OS error, or the run that holds the lock.
  """
  workdir = os.path.abspath(workdir)
  checkpoints = os.path.join(workdir, "checkpoints")
  created = (workdir if not os.path.exists(workdir)
             else checkpoints if not os.path.exists(checkpoints) else None)
  _check_writable(workdir)
  held = WorkdirLock(workdir) if lock else None
  try:
    _check_writable(checkpoints)
  except BaseException:
    if held is not None:
      held.release()
    if created:
      shutil.rmtree(created, ignore_errors=True)
    raise
  return held, created
