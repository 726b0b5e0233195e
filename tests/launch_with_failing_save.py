"""launch.py with the checkpoint writes failing from the N-th save on (see test_reliability.py).

  python tests/launch_with_failing_save.py N ERROR <launch.py flags>

The first N-1 saves go through; from then on orbax's save fails, as ERROR says:
`notadir`: the checkpoint directory is swapped for a file during the save, so
orbax itself fails to create the step directory (NotADirectoryError; it fails
for root too, which chmod does not); `tensorstore`: raises the ValueError
tensorstore gives orbax for a full disk.
Run with PYTHONPATH at the repository root.
"""

import os
import runpy
import sys

import orbax.checkpoint as ocp


def main() -> None:
  fail_from, kind = int(sys.argv[1]), sys.argv[2]
  save = ocp.CheckpointManager.save
  calls = []

  def failing_save(self, step, *args, **kwargs):
    calls.append(step)
    if len(calls) < fail_from:
      return save(self, step, *args, **kwargs)
    if kind == "notadir":
      directory = str(self.directory)
      os.rename(directory, directory + ".aside")
      open(directory, "w").close()
      try:
        return save(self, step, *args, **kwargs)
      finally:
        os.remove(directory)
        os.rename(directory + ".aside", directory)
    raise ValueError(f'RESOURCE_EXHAUSTED: Error writing "g/params" in OCDBT database at local '
                     f'file "{self.directory}/{step}.orbax-checkpoint-tmp/": Failed to write '
                     "4096 bytes to file 7: No space left on device [os_error_code='28']")

  ocp.CheckpointManager.save = failing_save
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  sys.argv = [os.path.join(root, "launch.py"), *sys.argv[3:]]
  runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
  main()
